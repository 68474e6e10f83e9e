package memory

// ring is a FIFO: appends at the back, drops at the front, in one
// power-of-two array reused in place. A slice resliced from the front would
// reallocate (and fault in fresh pages) every so often; a ring does not in
// steady state. It grows by doubling when full and halves when a quarter
// full. The index of records (ring[entry]) and every key and tag posting list
// (ring[int64]) are rings.
type ring[T any] struct {
	buf  []T // len is zero or a power of two
	head int
	n    int
}

const minRing = 4

func (r *ring[T]) len() int { return r.n }

// at returns the i-th element from the front. REQUIRES: 0 <= i < r.n.
func (r *ring[T]) at(i int) *T { return &r.buf[(r.head+i)&(len(r.buf)-1)] }

// last returns the back element. REQUIRES: r.n > 0.
func (r *ring[T]) last() *T { return r.at(r.n - 1) }

func (r *ring[T]) push(x T) {
	if r.n == len(r.buf) {
		r.resize(max(minRing, 2*len(r.buf)))
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = x
	r.n++
}

// pop drops the front element. REQUIRES: r.n > 0.
func (r *ring[T]) pop() {
	var zero T
	r.buf[r.head] = zero
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	if len(r.buf) > minRing && r.n < len(r.buf)/4 {
		r.resize(len(r.buf) / 2)
	}
}

func (r *ring[T]) resize(size int) {
	buf := make([]T, size)
	for i := 0; i < r.n; i++ {
		buf[i] = *r.at(i)
	}
	r.buf, r.head = buf, 0
}

// search returns the first i in [0, n) with f(at(i)) true, or n; f must be
// false then true along the ring (sort.Search).
func (r *ring[T]) search(f func(*T) bool) int {
	lo, hi := 0, r.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !f(r.at(m)) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}
