package shard

import (
	"sync"
	"sync/atomic"
)

// WaitList is one shard's set of Wait callbacks: the "wait for data past an
// offset" primitive, with no goroutine per waiter. Engines keep one per shard
// next to an atomic high-water mark and call Notify after every append that
// moved it, and Close when the shard goes away.
//
// Lost wake-ups are impossible by the store/load order: Notify's caller
// stores the new high-water mark before Notify loads the waiter count, and
// Add increments the count before it loads the mark. Both are sequentially
// consistent atomics, so at least one side sees the other.
//
// The zero value is ready to use. A WaitList must not be copied.
type WaitList struct {
	n      atomic.Int32 // len(ws) + adds in progress; lets Notify skip mu
	mu     sync.Mutex
	ws     []*waiter // guarded by mu
	closed bool      // guarded by mu
}

type waiter struct {
	offset int64
	fn     func()
	idx    int // position in ws, -1 once removed; guarded by WaitList.mu
}

// Add registers fn to run once hw > offset, or at Close. hw is the shard's
// high-water mark (next offset to be written), stored by the appender before
// it calls Notify. If the condition already holds, fn runs before Add returns.
// See Adapter.Wait for the contract of fn and cancel.
func (l *WaitList) Add(offset int64, fn func(), hw *atomic.Int64) (cancel func() bool) {
	w := &waiter{offset: offset, fn: fn, idx: -1}
	l.n.Add(1)
	l.mu.Lock()
	if l.closed || hw.Load() > offset {
		l.mu.Unlock()
		l.n.Add(-1)
		fn()
		return func() bool { return false }
	}
	w.idx = len(l.ws)
	l.ws = append(l.ws, w)
	l.mu.Unlock()
	return func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		if w.idx < 0 {
			return false
		}
		l.remove(w)
		return true
	}
}

// remove takes w out of ws. REQUIRES: l.mu held, w.idx >= 0.
func (l *WaitList) remove(w *waiter) {
	last := len(l.ws) - 1
	moved := l.ws[last]
	l.ws[w.idx] = moved
	moved.idx = w.idx
	l.ws[last] = nil
	l.ws = l.ws[:last]
	w.idx = -1
	l.n.Add(-1)
}

// Notify runs every waiter whose offset is below hw. It costs one atomic
// load when nobody waits. Callers hold no engine lock.
func (l *WaitList) Notify(hw int64) {
	if l.n.Load() == 0 {
		return
	}
	var buf [8]func()
	fire := buf[:0]
	l.mu.Lock()
	for i := 0; i < len(l.ws); {
		w := l.ws[i]
		if w.offset < hw {
			fire = append(fire, w.fn)
			l.remove(w) // moves the last waiter to i: look at i again
			continue
		}
		i++
	}
	l.mu.Unlock()
	for _, fn := range fire {
		fn()
	}
}

// Close runs every waiter and makes later Adds run at once. Engines call it
// when the shard is deleted or the engine closes.
func (l *WaitList) Close() {
	l.mu.Lock()
	l.closed = true
	ws := l.ws
	l.ws = nil
	for _, w := range ws {
		w.idx = -1
		l.n.Add(-1)
	}
	l.mu.Unlock()
	for _, w := range ws {
		w.fn()
	}
}

// Len reports how many waiters are registered (for metrics and tests).
func (l *WaitList) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ws)
}
