package message

import (
	"container/heap"
	"errors"
	"time"
)

// ErrDelayFull refuses a delayed publish when Options.MaxDelayed messages
// already wait.
var ErrDelayFull = errors.New("message: delayed publish queue full")

// delayed is one message waiting for its time, in the hub's heap.
type delayed struct {
	at  int64 // ms since the Unix epoch
	seq uint64
	m   *Message
}

// delayHeap orders by time, then by arrival (FIFO for equal times).
type delayHeap []delayed

func (h delayHeap) Len() int { return len(h) }
func (h delayHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || (h[i].at == h[j].at && h[i].seq < h[j].seq)
}
func (h delayHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)   { *h = append(*h, x.(delayed)) }
func (h *delayHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = delayed{}
	*h = old[:len(old)-1]
	return d
}

// PublishAt holds m until atMs (ms since the Unix epoch), then publishes
// it as Publish does (stored if persistent, fanned out). done (may be nil)
// runs at once: nil when m was queued, ErrDelayFull when Options.MaxDelayed
// messages already wait (full policy: refuse the newest). A delayed message
// is held in memory only until it is due: a restart loses it. One timer
// serves the whole queue.
func (h *Hub) PublishAt(m *Message, atMs int64, done func(error)) {
	h.delayMu.Lock()
	if h.closed || len(h.delays) >= h.opts.MaxDelayed {
		h.delayMu.Unlock()
		h.delayFull.Inc()
		if done != nil {
			done(ErrDelayFull)
		}
		return
	}
	h.delaySeq++
	heap.Push(&h.delays, delayed{at: atMs, seq: h.delaySeq, m: m})
	if h.delays[0].seq == h.delaySeq { // the new one is the earliest
		h.armLocked()
	}
	h.delayMu.Unlock()
	if done != nil {
		done(nil)
	}
}

// Delayed is the number of messages waiting in PublishAt's queue.
func (h *Hub) Delayed() int {
	h.delayMu.Lock()
	defer h.delayMu.Unlock()
	return len(h.delays)
}

// armLocked sets the timer for the earliest delayed message.
// REQUIRES: delayMu, len(delays) > 0.
func (h *Hub) armLocked() {
	d := time.Duration(h.delays[0].at-h.opts.Now()) * time.Millisecond
	if h.timer == nil {
		h.timer = time.AfterFunc(max(d, 0), h.fire)
	} else {
		h.timer.Reset(max(d, 0))
	}
}

// fire publishes every due message (timer goroutine) and re-arms.
func (h *Hub) fire() {
	now := h.opts.Now()
	var due []*Message
	h.delayMu.Lock()
	for len(h.delays) > 0 && h.delays[0].at <= now {
		due = append(due, heap.Pop(&h.delays).(delayed).m)
	}
	if len(h.delays) > 0 && !h.closed {
		h.armLocked()
	}
	h.delayMu.Unlock()
	for _, m := range due {
		h.Publish(m, nil)
	}
}

// Close stops the delayed-publish timer and drops the messages still
// waiting; later PublishAt calls fail with ErrDelayFull.
func (h *Hub) Close() {
	h.delayMu.Lock()
	h.closed = true
	if h.timer != nil {
		h.timer.Stop()
	}
	h.delays = nil
	h.delayMu.Unlock()
}
