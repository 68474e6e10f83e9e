package message

// Queue is a bounded FIFO ring of T, the per-subscriber queue of the hub
// (see the package doc). It is not safe for concurrent use: the subscriber
// guards it with its own lock. Memory grows with use up to the capacity
// and is given back when the queue empties after a burst.
type Queue[T any] struct {
	buf        []T
	head, size int
	max        int
}

// NewQueue returns an empty queue holding at most max items (max >= 1).
func NewQueue[T any](max int) Queue[T] {
	if max < 1 {
		max = 1
	}
	return Queue[T]{max: max}
}

// Len is the number of queued items.
func (q *Queue[T]) Len() int { return q.size }

// Cap is the bound given to NewQueue.
func (q *Queue[T]) Cap() int { return q.max }

// Full reports whether the queue holds its capacity or more (see PushOver).
func (q *Queue[T]) Full() bool { return q.size >= q.max }

// Push appends v. When the queue is full it first drops the oldest item,
// returns it and reports dropped: full policy "drop oldest".
func (q *Queue[T]) Push(v T) (old T, dropped bool) {
	if q.size >= q.max {
		old, _ = q.Pop()
		dropped = true
	}
	q.PushOver(v)
	return old, dropped
}

// PushOver appends v even past the capacity: for a caller that bounds the
// excess itself (a subscriber holding its publishers' acknowledgements,
// see Gate, or one re-queueing what it just popped).
func (q *Queue[T]) PushOver(v T) {
	if q.size == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.size)%len(q.buf)] = v
	q.size++
}

func (q *Queue[T]) grow() {
	n := max(8, 2*len(q.buf))
	if len(q.buf) < q.max {
		n = min(n, q.max)
	}
	nb := make([]T, n)
	for i := 0; i < q.size; i++ {
		nb[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = nb, 0
}

// Peek returns the oldest item without removing it.
func (q *Queue[T]) Peek() (v T, ok bool) {
	if q.size == 0 {
		return v, false
	}
	return q.buf[q.head], true
}

// Pop removes and returns the oldest item.
func (q *Queue[T]) Pop() (v T, ok bool) {
	if q.size == 0 {
		return v, false
	}
	var zero T
	v = q.buf[q.head]
	q.buf[q.head] = zero
	q.head = (q.head + 1) % len(q.buf)
	q.size--
	if q.size == 0 && len(q.buf) > 64 {
		q.buf, q.head = nil, 0 // give a burst's memory back
	}
	return v, true
}

// Clear drops every item.
func (q *Queue[T]) Clear() { q.buf, q.head, q.size = nil, 0, 0 }
