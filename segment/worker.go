package segment

import (
	"runtime"
	"sync"
	"sync/atomic"

	"robustmq/shard"
)

// worker is one I/O goroutine of the bounded pool. A shard always maps to
// the same worker, so its batches are written in order. The queue holds
// shards with pending appends, each at most once (shardLog.queued), so its
// length is bounded by the shards of this worker; the bytes behind it are
// bounded by limit (reserve), whose full policy is the caller's choice:
// wait, or fail fast with shard.ErrQueueFull.
type worker struct {
	mu    sync.Mutex
	q     []*shardLog // guarded by mu
	spare []*shardLog // owned by the worker goroutine
	// roundWaits holds each round shard's appends for its callbacks;
	// worker goroutine only.
	roundWaits [][]waiter
	signal     chan struct{}
	stop       chan struct{}
	done       chan struct{}

	lastRound int64 // bytes completed by the last round; worker goroutine only

	limit   int64        // max bytes reserved by queued appends
	queued  atomic.Int64 // bytes reserved
	waiting atomic.Int32 // appenders blocked in reserve
	spaceMu sync.Mutex
	space   *sync.Cond // broadcast under spaceMu when queued shrinks and someone waits
}

func newWorker(limit int64) *worker {
	w := &worker{signal: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), limit: limit}
	w.space = sync.NewCond(&w.spaceMu)
	return w
}

// reserve accounts n bytes of queued appends. A batch larger than the whole
// limit is admitted when the queue is empty, so it cannot wait forever.
func (w *worker) reserve(n int64, failFast bool) error {
	for {
		cur := w.queued.Load()
		if cur == 0 || cur+n <= w.limit {
			if w.queued.CompareAndSwap(cur, cur+n) {
				return nil
			}
			continue
		}
		if failFast {
			mQueueFull.Inc()
			return shard.ErrQueueFull
		}
		w.spaceMu.Lock()
		w.waiting.Add(1)
		for c := w.queued.Load(); c != 0 && c+n > w.limit; c = w.queued.Load() {
			w.space.Wait()
		}
		w.waiting.Add(-1)
		w.spaceMu.Unlock()
	}
}

// unreserve returns n bytes and wakes blocked appenders. The store to
// queued precedes the load of waiting, and reserve increments waiting
// before it loads queued, so no wake-up is lost.
func (w *worker) unreserve(n int64) {
	if n == 0 {
		return
	}
	w.queued.Add(-n)
	if w.waiting.Load() > 0 {
		w.spaceMu.Lock()
		w.space.Broadcast()
		w.spaceMu.Unlock()
	}
}

// push queues sl. REQUIRES: the caller set sl.queued (under sl.mu), so sl
// is queued at most once.
func (w *worker) push(sl *shardLog) {
	w.mu.Lock()
	w.q = append(w.q, sl)
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// run is the worker goroutine, owned by the engine (started in Open,
// stopped by Close). Each round: take every queued shard, write each one's
// pending batches, fsync each file that a Sync append touched (one fsync per
// file per round: group commit), then complete every append of the round.
func (w *worker) run() {
	defer close(w.done)
	for {
		select {
		case <-w.signal:
		case <-w.stop:
			w.round() // Close waits for appends queued before it
			return
		}
		// Let appenders woken by the last round's callbacks enqueue before
		// we take the queue, so a group is as big as the last one: yield
		// (bounded) while less is queued than the last round wrote. With
		// nothing else runnable a yield returns at once.
		for i := 0; i < maxYields && w.queued.Load() < w.lastRound; i++ {
			runtime.Gosched()
		}
		w.lastRound = w.round()
	}
}

// maxYields bounds how long a worker waits for a group to fill.
const maxYields = 16

// round runs one group commit and returns the bytes it completed.
func (w *worker) round() int64 {
	w.mu.Lock()
	q := w.q
	w.q = w.spare[:0]
	w.mu.Unlock()
	if len(q) == 0 {
		w.spare = q
		return 0
	}
	for _, sl := range q {
		sl.ioMu.Lock()
		sl.writePending()
	}
	for _, sl := range q {
		sl.syncPending()
	}
	ws := w.roundWaits[:0]
	for _, sl := range q {
		sl.publish()
		ws = append(ws, sl.curWaits)
		sl.ioMu.Unlock()
	}
	var n int64
	for i, sl := range q {
		b, reserved := sl.callbacks(ws[i])
		ws[i] = nil
		w.unreserve(reserved)
		n += b
		q[i] = nil
	}
	w.spare, w.roundWaits = q[:0], ws[:0]
	return n
}
