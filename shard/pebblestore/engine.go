package pebblestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2"

	"robustmq/shard"
	"robustmq/shard/internal/every"
	"robustmq/shard/internal/pebblelog"
	"robustmq/shard/internal/rec"
)

// Options configure an Engine. Zero values take the defaults.
type Options struct {
	// SyncQueue bounds the AppendAsync Sync batches waiting for fsync;
	// default 4096. See the package doc for the full policy.
	SyncQueue int
	// FlushInterval is how often the WAL is synced when DurabilityNone
	// appends happened; default 200ms, negative disables the flusher.
	FlushInterval time.Duration
	Now           func() int64    // clock in ms for records with Timestamp 0
	Logger        *slog.Logger    // default slog.Default()
	Pebble        *pebble.Options // base pebble options (cache, memtable); Logger is overridden
	// Decoder lets Read return the records of opaque batches
	// (AppendBatch); without one such a Read fails with shard.ErrNoDecoder.
	Decoder shard.BatchDecoder
}

const (
	defaultSyncQueue     = 4096
	defaultFlushInterval = 200 * time.Millisecond
	markEvery            = 64   // records between time marks
	dropBatch            = 4096 // records deleted per pebble batch by retention
	maxPooledBuf         = 4 << 20
)

var (
	queued = atomic.Int64{} // AppendAsync batches waiting for fsync, all engines
	_      = metrics.GetOrCreateGauge(`robustmq_storage_pebble_sync_queue`, func() float64 { return float64(queued.Load()) })
)

// Engine is the pebble engine. Open it with Open.
type Engine struct {
	opts    Options
	db      *pebble.DB
	shards  *shard.Table[*log]
	pool    sync.Pool // *result
	release func(*shard.ReadResult)

	closeMu sync.RWMutex // read-held by every operation, write-held by Close
	closed  bool         // guarded by closeMu

	createMu sync.Mutex // serializes CreateShard and DeleteShard
	nextID   uint64     // guarded by createMu

	syncQ    chan pending  // owned by the syncer; closed by Close
	slots    chan struct{} // one token per queued batch: bounds syncQ
	stop     chan struct{} // closed by Close to stop the flusher
	wg       sync.WaitGroup
	unsynced atomic.Bool // a DurabilityNone append happened since the last WAL sync
}

// pending is an AppendAsync Sync batch waiting for its fsync.
type pending struct {
	b          *pebble.Batch
	l          *log
	first, end int64
	done       shard.AppendFunc
}

type log struct {
	id  uint64
	cfg shard.ShardConfig

	hw      atomic.Int64 // acknowledged high-water mark
	start   atomic.Int64 // log start, for lock-free readers; written under mu
	waiters shard.WaitList

	mu      sync.Mutex
	deleted bool   // guarded by mu
	next    int64  // next offset to assign (>= hw); guarded by mu
	st      state  // persisted state; guarded by mu
	key     []byte // scratch; guarded by mu
	val     []byte // scratch; guarded by mu
}

var _ shard.Engine = (*Engine)(nil)

// Open opens (or creates) the engine's pebble DB in dir and recovers every
// shard.
func Open(dir string, opts Options) (*Engine, error) {
	if opts.SyncQueue <= 0 {
		opts.SyncQueue = defaultSyncQueue
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = defaultFlushInterval
	}
	if opts.Now == nil {
		opts.Now = func() int64 { return time.Now().UnixMilli() }
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	po := defaultPebbleOptions()
	if opts.Pebble != nil {
		po = opts.Pebble.Clone()
	}
	po.Logger = pebblelog.Logger{L: opts.Logger}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: open %s: %w", dir, err)
	}
	e := &Engine{opts: opts, db: db, shards: shard.NewTable[*log](0),
		syncQ: make(chan pending, opts.SyncQueue), slots: make(chan struct{}, opts.SyncQueue), stop: make(chan struct{})}
	e.pool.New = func() any { return new(result) }
	e.release = e.releaseResult
	if err := e.recover(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("pebblestore: recover %s: %w", dir, err)
	}
	e.wg.Add(1)
	go e.syncer()
	if opts.FlushInterval > 0 {
		e.wg.Add(1)
		go e.flusher()
	}
	return e, nil
}

// defaultPebbleOptions tune pebble for an append-mostly log: a larger
// memtable and L0 budget (fewer, larger flushes; less write amplification
// from interleaved shards) and no block compression (message payloads are
// often compressed by producers already, and the CPU is better spent on
// protocol work).
func defaultPebbleOptions() *pebble.Options {
	po := &pebble.Options{
		MemTableSize:                64 << 20,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       8,
		L0StopWritesThreshold:       32,
		LBaseMaxBytes:               512 << 20,
	}
	po.EnsureDefaults()
	po.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	return po
}

// recover loads every shard's meta and state and finds its next offset.
func (e *Engine) recover() error {
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindName}, UpperBound: []byte{kindName + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		name := string(it.Key()[1:])
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		m, err := decodeMeta(name, v)
		if err != nil {
			return err
		}
		l := &log{id: m.id, cfg: m.cfg}
		sv, closer, err := e.db.Get(idKey(nil, kindState, m.id))
		if err != nil {
			return fmt.Errorf("shard %q state: %w", name, err)
		}
		l.st, err = decodeState(name, sv)
		closer.Close()
		if err != nil {
			return err
		}
		l.next = l.st.start
		last, found, err := e.lastRecord(m.id)
		if err != nil {
			return err
		}
		if found {
			l.next = max(l.next, last+1)
		}
		l.hw.Store(l.next)
		l.start.Store(l.st.start)
		e.shards.Insert(name, l)
		e.nextID = max(e.nextID, m.id+1)
	}
	return it.Error()
}

func (e *Engine) lastRecord(id uint64) (int64, bool, error) {
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: idKey(nil, kindRecord, id), UpperBound: idKey(nil, kindRecord, id+1)})
	if err != nil {
		return 0, false, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, false, it.Error()
	}
	return tailOffset(it.Key()), true, nil
}

// Type returns shard.EnginePebble.
func (e *Engine) Type() shard.EngineType { return shard.EnginePebble }

// enter read-locks closeMu and finds the shard. On success the caller must
// call e.closeMu.RUnlock.
func (e *Engine) enter(name string) (*log, error) {
	e.closeMu.RLock()
	if e.closed {
		e.closeMu.RUnlock()
		return nil, shard.ErrClosed
	}
	l, ok := e.shards.Get(name)
	if !ok {
		e.closeMu.RUnlock()
		return nil, fmt.Errorf("%w: pebblestore: %q", shard.ErrShardNotFound, name)
	}
	return l, nil
}

// CreateShard implements shard.Adapter.
func (e *Engine) CreateShard(cfg shard.ShardConfig) error {
	if err := shard.ValidateConfig(&cfg); err != nil {
		return err
	}
	cfg.Engine = shard.EnginePebble
	e.closeMu.RLock()
	defer e.closeMu.RUnlock()
	if e.closed {
		return shard.ErrClosed
	}
	e.createMu.Lock()
	defer e.createMu.Unlock()
	if _, ok := e.shards.Get(cfg.Name); ok {
		return fmt.Errorf("%w: pebblestore: %q", shard.ErrShardExists, cfg.Name)
	}
	l := &log{id: e.nextID, cfg: cfg, st: state{maxTs: -1 << 63}}
	b := e.db.NewBatch()
	defer b.Close()
	_ = b.Set(nameKey(cfg.Name), encodeMeta(meta{id: l.id, cfg: cfg}), nil)
	_ = b.Set(idKey(nil, kindState, l.id), appendState(nil, &l.st), nil)
	if err := e.db.Apply(b, pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: create %q: %w", cfg.Name, err)
	}
	e.nextID++
	e.shards.Insert(cfg.Name, l)
	return nil
}

// DeleteShard implements shard.Adapter.
func (e *Engine) DeleteShard(name string) error {
	e.closeMu.RLock()
	defer e.closeMu.RUnlock()
	if e.closed {
		return shard.ErrClosed
	}
	e.createMu.Lock()
	defer e.createMu.Unlock()
	l, ok := e.shards.Get(name)
	if !ok {
		return fmt.Errorf("%w: pebblestore: %q", shard.ErrShardNotFound, name)
	}
	l.mu.Lock()
	b := e.db.NewBatch()
	defer b.Close()
	_ = b.Delete(nameKey(name), nil)
	for _, kind := range []byte{kindState, kindRecord, kindKey, kindTag, kindMark} {
		_ = b.DeleteRange(idKey(nil, kind, l.id), idKey(nil, kind, l.id+1), nil)
	}
	err := e.db.Apply(b, pebble.Sync)
	if err == nil {
		l.deleted = true
		e.shards.Delete(name)
	}
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("pebblestore: delete %q: %w", name, err)
	}
	l.waiters.Close()
	return nil
}

// ListShards implements shard.Adapter.
func (e *Engine) ListShards() ([]shard.ShardInfo, error) {
	e.closeMu.RLock()
	defer e.closeMu.RUnlock()
	if e.closed {
		return nil, shard.ErrClosed
	}
	var out []shard.ShardInfo
	e.shards.Range(func(_ string, l *log) bool {
		l.mu.Lock()
		out = append(out, shard.ShardInfo{Config: l.cfg, Earliest: l.st.start, Latest: l.hw.Load(), Bytes: l.st.bytes})
		l.mu.Unlock()
		return true
	})
	return out, nil
}

// apply writes recs as one pebble batch under l.mu. For Sync it returns the
// batch, applied but not yet synced, for the caller to SyncWait and Close;
// for None the batch is done and the high-water mark moved.
func (e *Engine) apply(l *log, name string, u unit, d shard.Durability) (*pebble.Batch, int64, error) {
	l.mu.Lock()
	b, first, err := e.applyLocked(l, name, u, d)
	l.mu.Unlock()
	if err != nil || d == shard.DurabilitySync {
		return b, first, err
	}
	l.publish(first + int64(u.count())) // waiters run with no lock held
	return nil, first, nil
}

// unit is what one append writes: records, or one opaque batch.
type unit struct {
	recs  []shard.Record
	batch *shard.Batch // set for AppendBatch
	now   int64        // clock for zero timestamps
}

func (e *Engine) records(recs []shard.Record) unit {
	u := unit{recs: recs}
	for i := range recs {
		if recs[i].Timestamp == 0 {
			u.now = e.opts.Now()
			break
		}
	}
	return u
}

func (u *unit) count() int {
	if u.batch != nil {
		return u.batch.Count
	}
	return len(u.recs)
}

// applyLocked is apply's part under the shard lock. REQUIRES: l.mu held.
func (e *Engine) applyLocked(l *log, name string, u unit, d shard.Durability) (*pebble.Batch, int64, error) {
	if l.deleted {
		return nil, 0, fmt.Errorf("%w: pebblestore: %q", shard.ErrShardNotFound, name)
	}
	first := l.next
	b := e.db.NewBatch()
	if u.batch != nil {
		e.encodeBatchLocked(l, b, u.batch, first)
	}
	for i := range u.recs {
		e.encodeLocked(l, b, &u.recs[i], first+int64(i), u.now)
	}
	l.key = idKey(l.key[:0], kindState, l.id)
	l.val = appendState(l.val[:0], &l.st)
	_ = b.Set(l.key, l.val, nil)
	var err error
	if d == shard.DurabilitySync {
		err = e.db.ApplyNoSyncWait(b, pebble.Sync)
	} else {
		err = e.db.Apply(b, pebble.NoSync)
		e.unsynced.Store(true)
	}
	if err != nil {
		_ = b.Close()
		return nil, 0, fmt.Errorf("pebblestore: append to %q: %w", name, err)
	}
	l.next = first + int64(u.count())
	if d == shard.DurabilitySync {
		return b, first, nil
	}
	_ = b.Close()
	return nil, first, nil
}

// encodeLocked adds record r at offset off and its index entries to b.
// REQUIRES: l.mu held.
func (e *Engine) encodeLocked(l *log, b *pebble.Batch, r *shard.Record, off, now int64) {
	ts := r.Timestamp
	if ts == 0 {
		ts = now
	}
	n := rec.Len(r)
	l.key = recordKey(l.key[:0], l.id, off)
	op := b.SetDeferred(len(l.key), n)
	copy(op.Key, l.key)
	rec.Append(op.Value[:0], r, ts)
	_ = op.Finish()
	l.st.bytes += int64(n)
	if r.Key != nil {
		l.key = indexPrefix(l.key[:0], kindKey, l.id, r.Key)
		_ = b.Set(binaryOff(l.key, off), nil, nil)
	}
	for _, t := range r.Tags {
		l.key = indexPrefix(l.key[:0], kindTag, l.id, t)
		_ = b.Set(binaryOff(l.key, off), nil, nil)
	}
	e.markLocked(l, b, off, ts)
}

// encodeBatchLocked adds the opaque batch bt at offsets first.. to b: its
// head at the last offset, references before it (see shard/internal/rec).
// REQUIRES: l.mu held.
func (e *Engine) encodeBatchLocked(l *log, b *pebble.Batch, bt *shard.Batch, first int64) {
	last := first + int64(bt.Count) - 1
	for off := first; off <= last; off++ {
		l.key = recordKey(l.key[:0], l.id, off)
		if off < last {
			l.val = rec.AppendBatchRef(l.val[:0], bt.MaxTimestamp, last-off)
			_ = b.Set(l.key, l.val, nil)
			l.st.bytes += int64(len(l.val))
		} else {
			n := rec.BatchHeadLen(bt.Count, len(bt.Bytes))
			op := b.SetDeferred(len(l.key), n)
			copy(op.Key, l.key)
			v := rec.AppendBatchHead(op.Value[:0], bt.MaxTimestamp, bt.Format, bt.Count, bt.Bytes)
			shard.PutBatchBase(v[n-len(bt.Bytes):], first)
			_ = op.Finish()
			l.st.bytes += int64(n)
		}
		e.markLocked(l, b, off, bt.MaxTimestamp)
	}
}

// markLocked adds the record at off with timestamp ts to the time marks.
// REQUIRES: l.mu held.
func (e *Engine) markLocked(l *log, b *pebble.Batch, off, ts int64) {
	if l.st.sinceMark == 0 {
		l.key = markKey(l.key[:0], l.id, l.st.maxTs, off)
		_ = b.Set(l.key, nil, nil)
	}
	if l.st.sinceMark++; l.st.sinceMark == markEvery {
		l.st.sinceMark = 0
	}
	l.st.maxTs = max(l.st.maxTs, ts)
}

func binaryOff(dst []byte, off int64) []byte {
	return append(dst, byte(off>>56), byte(off>>48), byte(off>>40), byte(off>>32), byte(off>>24), byte(off>>16), byte(off>>8), byte(off))
}

// publish moves the high-water mark up to end (never down) and wakes
// waiters. Sync batches finish in WAL order, and a later batch's fsync covers
// every earlier one, so the max is always a fully written prefix.
func (l *log) publish(end int64) {
	for {
		hw := l.hw.Load()
		if end <= hw {
			return
		}
		if l.hw.CompareAndSwap(hw, end) {
			l.waiters.Notify(end)
			return
		}
	}
}

// Append implements shard.Adapter. A Sync append waits for its fsync in the
// caller's goroutine; ctx is not consulted (an fsync cannot be abandoned).
func (e *Engine) Append(_ context.Context, name string, recs []shard.Record, opt shard.AppendOptions) (int64, error) {
	return e.append(name, e.records(recs), opt)
}

// AppendBatch implements shard.Adapter (see Append).
func (e *Engine) AppendBatch(_ context.Context, name string, b shard.Batch, opt shard.AppendOptions) (int64, error) {
	u, err := e.batch(name, &b)
	if err != nil {
		return 0, err
	}
	return e.append(name, u, opt)
}

// batch checks b and gives it a timestamp.
func (e *Engine) batch(name string, b *shard.Batch) (unit, error) {
	if err := shard.ValidateBatch(name, b); err != nil {
		return unit{}, err
	}
	if b.MaxTimestamp == 0 {
		b.MaxTimestamp = e.opts.Now()
	}
	return unit{batch: b}, nil
}

func (e *Engine) append(name string, u unit, opt shard.AppendOptions) (int64, error) {
	l, err := e.enter(name)
	if err != nil {
		return 0, err
	}
	defer e.closeMu.RUnlock()
	n := u.count()
	if n == 0 {
		return l.hw.Load(), nil
	}
	b, first, err := e.apply(l, name, u, opt.Durability)
	if err != nil || b == nil {
		return first, err
	}
	err = b.SyncWait()
	_ = b.Close()
	if err != nil {
		return 0, fmt.Errorf("pebblestore: sync append to %q: %w", name, err)
	}
	l.publish(first + int64(n))
	return first, nil
}

// AppendAsync implements shard.Adapter. None batches complete inside the
// call; Sync batches are applied inside the call and completed by the syncer
// goroutine after fsync.
func (e *Engine) AppendAsync(name string, recs []shard.Record, opt shard.AppendOptions, done shard.AppendFunc) {
	e.appendAsync(name, e.records(recs), opt, done)
}

// AppendBatchAsync implements shard.Adapter (see AppendAsync).
func (e *Engine) AppendBatchAsync(name string, b shard.Batch, opt shard.AppendOptions, done shard.AppendFunc) {
	u, err := e.batch(name, &b)
	if err != nil {
		done(0, err)
		return
	}
	e.appendAsync(name, u, opt, done)
}

func (e *Engine) appendAsync(name string, u unit, opt shard.AppendOptions, done shard.AppendFunc) {
	if opt.Durability != shard.DurabilitySync || u.count() == 0 {
		done(e.append(name, u, opt))
		return
	}
	l, err := e.enter(name)
	if err != nil {
		done(0, err)
		return
	}
	defer e.closeMu.RUnlock()
	if opt.FailFast {
		select {
		case e.slots <- struct{}{}:
		default:
			done(0, fmt.Errorf("%w: pebblestore: %q: %d sync batches queued", shard.ErrQueueFull, name, cap(e.slots)))
			return
		}
	} else {
		e.slots <- struct{}{} // backpressure: the syncer frees slots
	}
	b, first, err := e.apply(l, name, u, opt.Durability)
	if err != nil {
		<-e.slots
		done(0, err)
		return
	}
	queued.Add(1)
	e.syncQ <- pending{b: b, l: l, first: first, end: first + int64(u.count()), done: done} // cannot block: slot held
}

// syncer completes queued Sync batches in order. It exits when Close closes
// syncQ, after draining it.
func (e *Engine) syncer() {
	defer e.wg.Done()
	for p := range e.syncQ {
		err := p.b.SyncWait()
		_ = p.b.Close()
		queued.Add(-1)
		<-e.slots
		if err != nil {
			p.done(0, fmt.Errorf("pebblestore: sync append to %q: %w", p.l.cfg.Name, err))
			continue
		}
		p.l.publish(p.end)
		p.done(p.first, nil)
	}
}

// flusher syncs the WAL every FlushInterval while None appends happen.
func (e *Engine) flusher() {
	defer e.wg.Done()
	every.Run(e.stop, e.opts.FlushInterval, func() {
		if e.unsynced.Swap(false) {
			if err := e.db.LogData(nil, pebble.Sync); err != nil {
				e.opts.Logger.Error("pebblestore: periodic WAL sync", "err", err)
			}
		}
	})
}

// result is a pooled ReadResult with the buffer its records point into.
type result struct {
	res    shard.ReadResult
	buf    []byte
	tags   [][]byte
	hdrs   []shard.Header
	lo, hi []byte
}

func (e *Engine) newResult(l *log, start, hw int64) *result {
	r := e.pool.Get().(*result)
	r.res.ReleaseFunc = e.release
	r.res.Earliest, r.res.Latest, r.res.Next = start, hw, hw
	return r
}

func (e *Engine) releaseResult(res *shard.ReadResult) {
	// res is the first field of a *result from our pool: ReleaseFunc is
	// only ever set by newResult.
	r := (*result)(unsafe.Pointer(res))
	clear(r.res.Records)
	clear(r.res.Batches)
	clear(r.tags)
	clear(r.hdrs)
	r.res = shard.ReadResult{Records: r.res.Records[:0], Batches: r.res.Batches[:0]}
	r.tags, r.hdrs = r.tags[:0], r.hdrs[:0]
	r.buf = r.buf[:0]
	if cap(r.buf) > maxPooledBuf {
		r.buf = nil
	}
	e.pool.Put(r)
}

// add copies the encoded record v at offset off into r and decodes it. It
// undoes itself and reports false when the record would push r past
// maxBytes, unless always.
func (r *result) add(v []byte, off int64, maxBytes int, always bool) (bool, error) {
	nb, nt, nh := len(r.buf), len(r.tags), len(r.hdrs)
	r.buf = append(r.buf, v...)
	r.res.Records = append(r.res.Records, shard.Record{Offset: off})
	x := &r.res.Records[len(r.res.Records)-1]
	var err error
	r.tags, r.hdrs, err = rec.Decode(r.buf[nb:len(r.buf):len(r.buf)], x, r.tags, r.hdrs)
	if err != nil {
		return false, fmt.Errorf("offset %d: %w", off, err)
	}
	size := x.Size()
	if !always && r.res.Bytes+size > maxBytes {
		r.res.Records = r.res.Records[:len(r.res.Records)-1]
		r.buf, r.tags, r.hdrs = r.buf[:nb], r.tags[:nt], r.hdrs[:nh]
		return false, nil
	}
	r.res.Bytes += size
	return true, nil
}

// startRead checks offset against the shard's bounds and returns a result
// for it with Next = offset. Unless it fails or offset is the high-water
// mark (nothing to read: done), it returns with closeMu read-held.
func (e *Engine) startRead(name string, offset int64) (*log, *result, error) {
	l, err := e.enter(name)
	if err != nil {
		return nil, nil, err
	}
	start, hw := l.start.Load(), l.hw.Load()
	if offset < start || offset > hw {
		e.closeMu.RUnlock()
		return nil, nil, fmt.Errorf("%w: pebblestore: %q: offset %d outside [%d, %d]", shard.ErrOffsetOutOfRange, name, offset, start, hw)
	}
	r := e.newResult(l, start, hw)
	r.res.Next = offset
	if offset == hw {
		e.closeMu.RUnlock()
	}
	return l, r, nil
}

func resultOrNil(r *result) *shard.ReadResult {
	if r == nil {
		return nil
	}
	return &r.res
}

// Read implements shard.Adapter.
func (e *Engine) Read(name string, offset int64, maxRecords, maxBytes int) (*shard.ReadResult, error) {
	l, r, err := e.startRead(name, offset)
	if err != nil || r.res.Next == r.res.Latest {
		return resultOrNil(r), err
	}
	defer e.closeMu.RUnlock()
	maxRecords = max(maxRecords, 1)
	hw := r.res.Latest
	r.lo, r.hi = recordKey(r.lo[:0], l.id, offset), recordKey(r.hi[:0], l.id, hw)
	fail := func(err error) (*shard.ReadResult, error) {
		r.res.Release()
		if errors.Is(err, shard.ErrOffsetOutOfRange) {
			return nil, err
		}
		return nil, fmt.Errorf("pebblestore: read %q: %w", name, err)
	}
	// Only the front of a log is ever deleted: a hole means retention ran
	// after we checked start.
	gone := func(off int64) error {
		return fmt.Errorf("%w: pebblestore: %q: offset %d deleted meanwhile", shard.ErrOffsetOutOfRange, name, off)
	}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: r.lo, UpperBound: r.hi})
	if err != nil {
		return fail(err)
	}
	defer it.Close()
	for ok := it.First(); ok && len(r.res.Records) < maxRecords; ok = it.Next() {
		off := tailOffset(it.Key())
		if want := offset + int64(len(r.res.Records)); off != want {
			return fail(gone(want))
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fail(err)
		}
		if k := rec.Kind(v); k == rec.KindBatch || k == rec.KindBatchRef {
			h, err := e.head(it, l.id, off, v)
			if err != nil {
				return fail(err)
			}
			n := len(r.res.Records)
			r.res.Records, err = shard.DecodeBatch(e.opts.Decoder, r.res.Records, h.format, r.keep(h.batch), h.base, h.count)
			if err != nil {
				return fail(err)
			}
			if r.res.KeepDecoded(n, off, maxRecords, maxBytes) < int(h.last-off+1) {
				break // limits reached inside the batch
			}
			continue
		}
		added, err := r.add(v, off, maxBytes, len(r.res.Records) == 0)
		if err != nil {
			return fail(err)
		}
		if !added {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fail(err)
	}
	if len(r.res.Records) == 0 {
		return fail(gone(offset))
	}
	r.res.Next = offset + int64(len(r.res.Records))
	return &r.res, nil
}

// batchHead is the head entry of an opaque batch, found from any of its
// records. batch aliases the iterator's value: valid until it moves.
type batchHead struct {
	format     shard.BatchFormat
	base, last int64
	count      int
	maxTs      int64
	batch      []byte
}

// head returns the opaque batch holding the record at off, whose entry v
// the iterator is on; it leaves the iterator on the head (the batch's last
// record).
func (e *Engine) head(it *pebble.Iterator, id uint64, off int64, v []byte) (batchHead, error) {
	last := off
	if rec.Kind(v) == rec.KindBatchRef {
		dist, err := rec.DecodeBatchRef(v)
		if err != nil {
			return batchHead{}, fmt.Errorf("offset %d: %w", off, err)
		}
		last = off + dist
		if !it.SeekGE(recordKey(nil, id, last)) || tailOffset(it.Key()) != last {
			return batchHead{}, fmt.Errorf("%w: offset %d refers to batch head %d, which is missing", shard.ErrCorrupt, off, last)
		}
		if v, err = it.ValueAndErr(); err != nil {
			return batchHead{}, err
		}
	}
	format, count, batch, err := rec.DecodeBatchHead(v)
	if err != nil || int64(count)-1 < last-off {
		return batchHead{}, fmt.Errorf("offset %d: batch head %d: %w", off, last, rec.ErrCorrupt)
	}
	ts, _ := rec.Timestamp(v)
	return batchHead{format: format, base: last - int64(count) + 1, last: last, count: count, maxTs: ts, batch: batch}, nil
}

// keep copies b (an iterator value) into r's buffer and returns the copy.
func (r *result) keep(b []byte) []byte {
	n := len(r.buf)
	r.buf = append(r.buf, b...)
	return r.buf[n:len(r.buf):len(r.buf)]
}

// ReadBatches implements shard.Adapter.
func (e *Engine) ReadBatches(name string, offset int64, maxBytes int) (*shard.ReadResult, error) {
	l, r, err := e.startRead(name, offset)
	if err != nil || r.res.Next == r.res.Latest {
		return resultOrNil(r), err
	}
	defer e.closeMu.RUnlock()
	hw := r.res.Latest
	fail := func(err error) (*shard.ReadResult, error) {
		r.res.Release()
		return nil, fmt.Errorf("pebblestore: read %q: %w", name, err)
	}
	r.lo, r.hi = recordKey(r.lo[:0], l.id, offset), recordKey(r.hi[:0], l.id, hw)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: r.lo, UpperBound: r.hi})
	if err != nil {
		return fail(err)
	}
	defer it.Close()
	next := offset
	for ok := it.First(); ok && len(r.res.Records) < shard.MaxRunRecords; ok = it.Next() {
		off := tailOffset(it.Key())
		if off != next {
			return fail(fmt.Errorf("%w: pebblestore: %q: offset %d deleted meanwhile", shard.ErrOffsetOutOfRange, name, next))
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fail(err)
		}
		first := len(r.res.Batches) == 0
		if k := rec.Kind(v); k == rec.KindBatch || k == rec.KindBatchRef {
			h, err := e.head(it, l.id, off, v)
			if err != nil {
				return fail(err)
			}
			if !first && r.res.Bytes+len(h.batch) > maxBytes {
				break
			}
			r.res.Batches = append(r.res.Batches, shard.Batch{Format: h.format, Base: h.base, Count: h.count,
				MaxTimestamp: h.maxTs, Bytes: r.keep(h.batch)})
			r.res.Bytes += len(h.batch)
			next = h.last + 1
			continue
		}
		added, err := r.add(v, off, maxBytes, first)
		if err != nil {
			return fail(err)
		}
		if !added {
			break
		}
		r.res.AddToRun(off)
		next = off + 1
	}
	if err := it.Error(); err != nil {
		return fail(err)
	}
	if next == offset {
		return fail(fmt.Errorf("%w: pebblestore: %q: offset %d deleted meanwhile", shard.ErrOffsetOutOfRange, name, offset))
	}
	r.res.LinkRuns()
	r.res.Next = next
	return &r.res, nil
}

// ReadByKey implements shard.Adapter.
func (e *Engine) ReadByKey(name string, key []byte, from int64, maxRecords int) (*shard.ReadResult, error) {
	return e.lookup(name, kindKey, key, from, maxRecords)
}

// ReadByTag implements shard.Adapter.
func (e *Engine) ReadByTag(name string, tag []byte, from int64, maxRecords int) (*shard.ReadResult, error) {
	return e.lookup(name, kindTag, tag, from, maxRecords)
}

func (e *Engine) lookup(name string, kind byte, what []byte, from int64, maxRecords int) (*shard.ReadResult, error) {
	l, err := e.enter(name)
	if err != nil {
		return nil, err
	}
	defer e.closeMu.RUnlock()
	maxRecords = max(maxRecords, 1)
	start, hw := l.start.Load(), l.hw.Load()
	from = max(from, start)
	r := e.newResult(l, start, hw)
	prefix := indexPrefix(r.lo[:0], kind, l.id, what)
	r.hi = append(r.hi[:0], successor(prefix)...)
	r.lo = binaryOff(prefix, from)
	fail := func(err error) (*shard.ReadResult, error) {
		r.res.Release()
		return nil, fmt.Errorf("pebblestore: lookup %q: %w", name, err)
	}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: r.lo, UpperBound: r.hi})
	if err != nil {
		return fail(err)
	}
	defer it.Close()
	var key []byte
	for ok := it.First(); ok; ok = it.Next() {
		off := tailOffset(it.Key())
		if off >= hw {
			break // not acknowledged yet
		}
		if len(r.res.Records) == maxRecords {
			r.res.Next = off
			break
		}
		key = recordKey(key[:0], l.id, off)
		v, closer, err := e.db.Get(key)
		if errors.Is(err, pebble.ErrNotFound) {
			continue // deleted by retention after we read start
		}
		if err != nil {
			return fail(err)
		}
		_, err = r.add(v, off, 0, true)
		closer.Close()
		if err != nil {
			return fail(err)
		}
	}
	if err := it.Error(); err != nil {
		return fail(err)
	}
	return &r.res, nil
}

// OffsetForTimestamp implements shard.Adapter.
func (e *Engine) OffsetForTimestamp(name string, tsMs int64) (int64, error) {
	l, err := e.enter(name)
	if err != nil {
		return 0, err
	}
	defer e.closeMu.RUnlock()
	start, hw := l.start.Load(), l.hw.Load()
	lo := idKey(nil, kindMark, l.id)
	mit, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: idKey(nil, kindMark, l.id+1)})
	if err != nil {
		return 0, fmt.Errorf("pebblestore: time lookup %q: %w", name, err)
	}
	// The last mark whose maxBefore is below tsMs: records before its
	// offset are all older than tsMs.
	if mit.SeekLT(binaryOff(lo, int64(flip(tsMs)))) {
		start = max(start, tailOffset(mit.Key()))
	}
	err = errors.Join(mit.Error(), mit.Close())
	if err != nil {
		return 0, fmt.Errorf("pebblestore: time lookup %q: %w", name, err)
	}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: recordKey(nil, l.id, start), UpperBound: recordKey(nil, l.id, hw)})
	if err != nil {
		return 0, fmt.Errorf("pebblestore: time lookup %q: %w", name, err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return 0, fmt.Errorf("pebblestore: time lookup %q: %w", name, err)
		}
		ts, err := rec.Timestamp(v)
		if err != nil {
			return 0, fmt.Errorf("pebblestore: time lookup %q offset %d: %w", name, tailOffset(it.Key()), err)
		}
		if ts >= tsMs {
			return tailOffset(it.Key()), nil
		}
	}
	return hw, it.Error()
}

// EarliestOffset implements shard.Adapter.
func (e *Engine) EarliestOffset(name string) (int64, error) {
	l, err := e.enter(name)
	if err != nil {
		return 0, err
	}
	e.closeMu.RUnlock()
	return l.start.Load(), nil
}

// LatestOffset implements shard.Adapter.
func (e *Engine) LatestOffset(name string) (int64, error) {
	l, err := e.enter(name)
	if err != nil {
		return 0, err
	}
	e.closeMu.RUnlock()
	return l.hw.Load(), nil
}

// DeleteRecords implements shard.Adapter.
func (e *Engine) DeleteRecords(name string, before int64) error {
	l, err := e.enter(name)
	if err != nil {
		return err
	}
	defer e.closeMu.RUnlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	before = min(before, l.hw.Load())
	return e.dropFrontLocked(l, func(off int64, _ []byte, _ int64) bool { return off < before })
}

// EnforceRetention implements shard.Adapter.
func (e *Engine) EnforceRetention(nowMs int64) error {
	e.closeMu.RLock()
	defer e.closeMu.RUnlock()
	if e.closed {
		return shard.ErrClosed
	}
	var errs []error
	e.shards.Range(func(_ string, l *log) bool {
		rb, rms := l.cfg.RetentionBytes, l.cfg.RetentionMs
		if rb <= 0 && rms <= 0 {
			return true
		}
		cutoff := nowMs - rms
		l.mu.Lock()
		err := e.dropFrontLocked(l, func(_ int64, v []byte, held int64) bool {
			if rb > 0 && held > rb {
				return true
			}
			ts, err := rec.Timestamp(v)
			return rms > 0 && err == nil && ts < cutoff
		})
		l.mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		}
		return true
	})
	return errors.Join(errs...)
}

// dropFrontLocked deletes records from the log start while more(offset,
// encoded record, bytes still held) is true, with their index entries and
// the time marks below the new start, in batches of dropBatch records.
// REQUIRES: l.mu held.
func (e *Engine) dropFrontLocked(l *log, more func(int64, []byte, int64) bool) error {
	if l.deleted {
		return nil
	}
	for {
		n, err := e.dropSome(l, more)
		if err != nil {
			return fmt.Errorf("pebblestore: drop from %q: %w", l.cfg.Name, err)
		}
		if n < dropBatch {
			return nil
		}
	}
}

func (e *Engine) dropSome(l *log, more func(int64, []byte, int64) bool) (int, error) {
	start, hw := l.st.start, l.hw.Load()
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: recordKey(nil, l.id, start), UpperBound: recordKey(nil, l.id, hw)})
	if err != nil {
		return 0, err
	}
	b := e.db.NewBatch()
	defer b.Close()
	held, n, newStart := l.st.bytes, 0, start
	var key []byte
	for ok := it.First(); ok && n < dropBatch; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return 0, err
		}
		off := tailOffset(it.Key())
		if !more(off, v, held) {
			break
		}
		if err := rec.KeyTags(v,
			func(k []byte) { key = indexPrefix(key[:0], kindKey, l.id, k); _ = b.Delete(binaryOff(key, off), nil) },
			func(t []byte) { key = indexPrefix(key[:0], kindTag, l.id, t); _ = b.Delete(binaryOff(key, off), nil) },
		); err != nil {
			_ = it.Close()
			return 0, fmt.Errorf("offset %d: %w", off, err)
		}
		held -= int64(len(v))
		n++
		newStart = off + 1
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil || n == 0 {
		return 0, err
	}
	_ = b.DeleteRange(recordKey(nil, l.id, start), recordKey(nil, l.id, newStart), nil)
	if err := e.dropMarks(b, l.id, newStart); err != nil {
		return 0, err
	}
	st := l.st
	st.start, st.bytes = newStart, held
	_ = b.Set(idKey(nil, kindState, l.id), appendState(nil, &st), nil)
	if err := e.db.Apply(b, pebble.Sync); err != nil {
		return 0, err
	}
	l.st = st
	l.start.Store(newStart)
	return n, nil
}

// dropMarks adds deletes for the time marks below start to b. Marks sort by
// offset too (see the package doc), so they are a prefix of the mark range.
func (e *Engine) dropMarks(b *pebble.Batch, id uint64, start int64) error {
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: idKey(nil, kindMark, id), UpperBound: idKey(nil, kindMark, id+1)})
	if err != nil {
		return err
	}
	for ok := it.First(); ok && tailOffset(it.Key()) < start; ok = it.Next() {
		_ = b.Delete(it.Key(), nil)
	}
	return errors.Join(it.Error(), it.Close())
}

// Wait implements shard.Adapter.
func (e *Engine) Wait(name string, offset int64, fn func()) (func() bool, error) {
	l, err := e.enter(name)
	if err != nil {
		return nil, err
	}
	e.closeMu.RUnlock()
	return l.waiters.Add(offset, fn, &l.hw), nil
}

// Flush implements shard.Adapter: it syncs the WAL.
func (e *Engine) Flush() error {
	e.closeMu.RLock()
	defer e.closeMu.RUnlock()
	if e.closed {
		return shard.ErrClosed
	}
	return e.flushWAL()
}

func (e *Engine) flushWAL() error {
	e.unsynced.Store(false)
	if err := e.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: sync WAL: %w", err)
	}
	return nil
}

// Close implements shard.Adapter. It completes queued Sync appends, syncs the
// WAL, fires every waiter and closes the DB.
func (e *Engine) Close() error {
	e.closeMu.Lock()
	if e.closed {
		e.closeMu.Unlock()
		return shard.ErrClosed
	}
	e.closed = true
	e.closeMu.Unlock()
	// No operation is in flight now: all of them hold closeMu.RLock.
	close(e.stop)
	close(e.syncQ)
	e.wg.Wait()
	err := e.flushWAL()
	e.shards.Range(func(_ string, l *log) bool {
		l.waiters.Close()
		return true
	})
	return errors.Join(err, e.db.Close())
}
