package mqtt

import (
	"sync"
	"sync/atomic"
	"time"
)

// wheel enforces keepalive with one goroutine for every connection: a
// ring of wheelSlots buckets, one per second. A connection sits in the
// bucket of its deadline (modulo the ring); activity only stores the
// coarse clock in conn.seen, so no connection moves on a packet. Each
// tick the wheel empties the current bucket: a connection past its
// deadline is timed out, the others go to the bucket of their new
// deadline (a deadline more than wheelSlots seconds away is looked at
// again after one turn). Dead connections are dropped lazily.
//
// The wheel also is the server's list of live connections (Server.Close
// sends each one a DISCONNECT) and its coarse clock (seconds since start).
type wheel struct {
	now     atomic.Int64 // seconds since start; written by the tick goroutine only
	mu      sync.Mutex
	buckets [wheelSlots][]*conn // guarded by mu
	stop    chan struct{}
	wg      sync.WaitGroup
}

const wheelSlots = 64

// start runs the tick goroutine: each tick advances the wheel, calling
// timeout for each connection past its deadline, then calls every.
func (w *wheel) start(tick time.Duration, timeout func(*conn), every func()) {
	w.stop = make(chan struct{})
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.advance(timeout)
				every()
			}
		}
	}()
}

func (w *wheel) close() {
	close(w.stop)
	w.wg.Wait()
}

// add places c by its current deadline; call it again when the timeout
// shrinks (the entry in the old bucket is then dropped when reached).
func (w *wheel) add(c *conn) {
	w.mu.Lock()
	w.put(c, w.now.Load())
	w.mu.Unlock()
}

// put REQUIRES mu.
func (w *wheel) put(c *conn, now int64) {
	dl := c.deadline()
	if dl <= now { // no timeout (0) or already due: look again next turn / next tick
		dl = now + 1
		if c.timeoutSec.Load() == 0 {
			dl = now + wheelSlots
		}
	}
	c.slot = int(dl % wheelSlots)
	w.buckets[c.slot] = append(w.buckets[c.slot], c)
}

// advance moves the clock one second and handles the bucket it enters.
func (w *wheel) advance(timeout func(*conn)) {
	now := w.now.Add(1)
	w.mu.Lock()
	b := &w.buckets[now%wheelSlots]
	due := *b
	*b = nil
	var expired []*conn
	for _, c := range due {
		switch {
		case c.dead.Load() || c.slot != int(now%wheelSlots): // dead, or moved by a later add
		case c.timeoutSec.Load() != 0 && c.deadline() <= now:
			expired = append(expired, c)
		default:
			w.put(c, now)
		}
	}
	w.mu.Unlock()
	for _, c := range expired {
		timeout(c)
	}
}

// each calls fn for every live connection in the wheel.
func (w *wheel) each(fn func(*conn)) {
	w.mu.Lock()
	var all []*conn
	for i := range w.buckets {
		for _, c := range w.buckets[i] {
			if !c.dead.Load() && c.slot == i {
				all = append(all, c)
			}
		}
	}
	w.mu.Unlock()
	for _, c := range all {
		fn(c)
	}
}
