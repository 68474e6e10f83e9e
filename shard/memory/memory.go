package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/shard"
	"robustmq/shard/internal/rec"
)

// Options configure an Engine. Zero values take the defaults.
type Options struct {
	MaxBytes      int64        // engine-wide byte limit; default 1 GiB
	MaxShardBytes int64        // per-shard byte limit; default 256 MiB
	ChunkBytes    int          // arena chunk size; default 1 MiB (a shard's SegmentBytes overrides)
	Now           func() int64 // clock in ms for records with Timestamp 0; default wall clock
	Logger        *slog.Logger // default slog.Default(); warns once when limits start dropping
	// Decoder lets Read return the records of opaque batches
	// (AppendBatch); without one such a Read fails with shard.ErrNoDecoder.
	Decoder shard.BatchDecoder
}

const (
	defaultMaxBytes      = 1 << 30
	defaultMaxShardBytes = 256 << 20
	defaultChunkBytes    = 1 << 20
	markEvery            = 64 // records between time marks
	maxFreeChunks        = 64 // recycled chunks kept per engine
	accountStep          = 64 << 10
	retiredBit           = 1 << 40
)

// Metrics sum over the open engines at scrape time: the counts live per
// engine (bytes) and per shard (drops), so appends share no atomic.
var (
	live = sync.Map{} // *Engine -> struct{}
	_    = metrics.GetOrCreateGauge(`robustmq_storage_memory_bytes`, func() float64 { return sumLive((*Engine).Bytes) })
	_    = metrics.GetOrCreateGauge(`robustmq_storage_memory_dropped_records_total`, func() float64 { return sumLive((*Engine).Dropped) })
)

func sumLive(f func(*Engine) int64) float64 {
	var n int64
	live.Range(func(k, _ any) bool { n += f(k.(*Engine)); return true })
	return float64(n)
}

// Bytes returns the encoded bytes the engine holds (settled, see the
// package doc).
func (e *Engine) Bytes() int64 { return e.bytes.Load() }

// Dropped returns how many records the byte limits dropped so far.
func (e *Engine) Dropped() int64 {
	n := e.droppedGone.Load()
	e.shards.Range(func(_ string, l *log) bool { n += l.dropped.Load(); return true })
	return n
}

// Engine is the memory engine. Create it with New.
type Engine struct {
	opts   Options
	seed   maphash.Seed
	shards *shard.Table[*log]
	bytes  atomic.Int64 // encoded bytes held by all shards, settled per accountStep
	closed atomic.Bool
	pool   sync.Pool // *result

	droppedGone  atomic.Int64 // Dropped of deleted shards
	globalWarned atomic.Bool  // MaxBytes drops were logged (once per engine)
	release      func(*shard.ReadResult)

	freeMu sync.Mutex
	free   [][]byte // recycled chunk buffers of cap opts.ChunkBytes; guarded by freeMu
}

// chunk is one arena; see the package doc for state.
type chunk struct {
	buf   []byte // written under the shard's write lock, append-only
	state atomic.Int64
}

// New returns an empty engine.
func New(opts Options) *Engine {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = defaultMaxBytes
	}
	if opts.MaxShardBytes <= 0 {
		opts.MaxShardBytes = defaultMaxShardBytes
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = defaultChunkBytes
	}
	if opts.Now == nil {
		opts.Now = func() int64 { return time.Now().UnixMilli() }
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	e := &Engine{opts: opts, seed: maphash.MakeSeed(), shards: shard.NewTable[*log](0)}
	e.pool.New = func() any { return new(result) }
	e.release = e.releaseResult
	live.Store(e, struct{}{})
	return e
}

// newChunk returns an empty chunk buffer with room for n bytes.
func (e *Engine) newChunk(size, n int) *chunk {
	if n <= size && size == e.opts.ChunkBytes {
		e.freeMu.Lock()
		if k := len(e.free); k > 0 {
			buf := e.free[k-1]
			e.free[k-1] = nil
			e.free = e.free[:k-1]
			e.freeMu.Unlock()
			return &chunk{buf: buf}
		}
		e.freeMu.Unlock()
	}
	return &chunk{buf: make([]byte, 0, max(size, n))}
}

// retire marks c dropped by its log and recycles it if nobody pins it.
func (e *Engine) retire(c *chunk) {
	if c.state.Add(retiredBit) == retiredBit {
		e.recycle(c)
	}
}

// unpin drops a reader's pin and recycles c if it was the last one of a
// retired chunk.
func (e *Engine) unpin(c *chunk) {
	if c.state.Add(-1) == retiredBit {
		e.recycle(c)
	}
}

func (e *Engine) recycle(c *chunk) {
	if cap(c.buf) != e.opts.ChunkBytes {
		return
	}
	e.freeMu.Lock()
	if len(e.free) < maxFreeChunks {
		e.free = append(e.free, c.buf[:0])
	}
	e.freeMu.Unlock()
	c.buf = nil
}

var _ shard.Engine = (*Engine)(nil)

// Type returns shard.EngineMemory.
func (e *Engine) Type() shard.EngineType { return shard.EngineMemory }

// entry locates one record. Offset is implied: ents[i] is start+i.
type entry struct {
	chunk   uint32 // chunk sequence number
	pos     uint32 // byte position in the chunk
	n       uint32 // encoded length
	size    uint32 // Record.Size
	ts      int64
	keyHash uint64 // maphash of the key, if flags has hasKey: pruned without decoding; see opaque
	flags   uint8
}

const (
	hasKey  = 1 << iota // the record has a non-nil key
	hasTags             // the record has tags
	// opaque: the record is one of an opaque batch. Every record of the
	// batch has an entry locating the whole batch (stored once, raw);
	// keyHash holds count<<32 | index of the record in the batch, and
	// flags>>formatShift the batch format.
	opaque
	formatShift = 4
)

// batchPos returns the index of an opaque entry's record in its batch and
// the batch's record count.
func (en *entry) batchPos() (idx, count int) {
	return int(uint32(en.keyHash)), int(en.keyHash >> 32)
}

// mark says every record below off has a timestamp <= maxBefore.
type mark struct {
	maxBefore int64
	off       int64
}

type log struct {
	cfg        shard.ShardConfig
	limit      int64 // byte limit: min(MaxShardBytes, RetentionBytes)
	chunkBytes int

	hw      atomic.Int64 // next offset; stored under mu, read anywhere
	dropped atomic.Int64 // records dropped by byte limits (not retention)
	waiters shard.WaitList

	mu        sync.RWMutex
	deleted   bool        // guarded by mu
	start     int64       // log start; guarded by mu
	ents      ring[entry] // ents.at(i) is offset start+i; guarded by mu
	chunks    []*chunk    // chunks[i] has sequence chunkBase+i; guarded by mu
	chunkBase uint32      // guarded by mu
	bytes     int64       // encoded bytes held; guarded by mu
	settled   int64       // part of bytes counted in Engine.bytes; guarded by mu
	keys      postings    // guarded by mu
	tags      postings    // guarded by mu
	marks     []mark      // guarded by mu
	maxTs     int64       // max timestamp ever appended; guarded by mu
	sinceMark int         // records since the last mark; guarded by mu
}

func (e *Engine) get(name string) (*log, error) {
	if e.closed.Load() {
		return nil, shard.ErrClosed
	}
	l, ok := e.shards.Get(name)
	if !ok {
		return nil, fmt.Errorf("%w: memory: %q", shard.ErrShardNotFound, name)
	}
	return l, nil
}

// CreateShard implements shard.Adapter.
func (e *Engine) CreateShard(cfg shard.ShardConfig) error {
	if e.closed.Load() {
		return shard.ErrClosed
	}
	if err := shard.ValidateConfig(&cfg); err != nil {
		return err
	}
	cfg.Engine = shard.EngineMemory
	l := &log{cfg: cfg, limit: e.opts.MaxShardBytes, chunkBytes: e.opts.ChunkBytes, maxTs: -1 << 63,
		keys: postings{}, tags: postings{}}
	if cfg.RetentionBytes > 0 && cfg.RetentionBytes < l.limit {
		l.limit = cfg.RetentionBytes
	}
	if cfg.SegmentBytes > 0 {
		l.chunkBytes = int(min(cfg.SegmentBytes, 1<<30))
	}
	if !e.shards.Insert(cfg.Name, l) {
		return fmt.Errorf("%w: memory: %q", shard.ErrShardExists, cfg.Name)
	}
	return nil
}

// DeleteShard implements shard.Adapter.
func (e *Engine) DeleteShard(name string) error {
	if e.closed.Load() {
		return shard.ErrClosed
	}
	l, ok := e.shards.Delete(name)
	if !ok {
		return fmt.Errorf("%w: memory: %q", shard.ErrShardNotFound, name)
	}
	e.drop(l)
	return nil
}

// drop empties a log removed from the table and fires its waiters.
func (e *Engine) drop(l *log) {
	l.mu.Lock()
	l.deleted = true
	e.droppedGone.Add(l.dropped.Load())
	e.bytes.Add(-l.settled)
	for _, c := range l.chunks {
		e.retire(c)
	}
	l.bytes, l.settled, l.ents, l.chunks, l.keys, l.tags, l.marks = 0, 0, ring[entry]{}, nil, nil, nil, nil
	l.mu.Unlock()
	l.waiters.Close()
}

// settle moves l's byte count into the engine's once it drifted by
// accountStep, or always when force. REQUIRES: l.mu held for writing.
func (e *Engine) settle(l *log, force bool) {
	if d := l.bytes - l.settled; force || d >= accountStep || d <= -accountStep {
		e.bytes.Add(d)
		l.settled = l.bytes
	}
}

// ListShards implements shard.Adapter.
func (e *Engine) ListShards() ([]shard.ShardInfo, error) {
	if e.closed.Load() {
		return nil, shard.ErrClosed
	}
	var out []shard.ShardInfo
	e.shards.Range(func(_ string, l *log) bool {
		l.mu.RLock()
		out = append(out, shard.ShardInfo{Config: l.cfg, Earliest: l.start, Latest: l.hw.Load(), Bytes: l.bytes})
		l.mu.RUnlock()
		return true
	})
	return out, nil
}

// AppendAsync implements shard.Adapter. The memory engine has no queue: the
// append happens and done runs before AppendAsync returns.
func (e *Engine) AppendAsync(name string, recs []shard.Record, opt shard.AppendOptions, done shard.AppendFunc) {
	done(e.Append(context.Background(), name, recs, opt))
}

// Append implements shard.Adapter. It never blocks; ctx is not consulted.
func (e *Engine) Append(_ context.Context, name string, recs []shard.Record, _ shard.AppendOptions) (int64, error) {
	var now int64
	total := 0
	for i := range recs {
		if recs[i].Timestamp == 0 && now == 0 {
			now = e.opts.Now()
		}
		total += rec.Len(&recs[i])
	}
	return e.commit(name, total, len(recs), func(l *log, first int64) {
		for i := range recs {
			e.appendLocked(l, &recs[i], first+int64(i), now)
		}
	})
}

// AppendBatchAsync implements shard.Adapter; like AppendAsync it completes
// inside the call.
func (e *Engine) AppendBatchAsync(name string, b shard.Batch, opt shard.AppendOptions, done shard.AppendFunc) {
	done(e.AppendBatch(context.Background(), name, b, opt))
}

// AppendBatch implements shard.Adapter: the batch is copied once into the
// chunk and every one of its records gets an entry pointing at it.
func (e *Engine) AppendBatch(_ context.Context, name string, b shard.Batch, _ shard.AppendOptions) (int64, error) {
	if err := shard.ValidateBatch(name, &b); err != nil {
		return 0, err
	}
	ts := b.MaxTimestamp
	if ts == 0 {
		ts = e.opts.Now()
	}
	n := len(b.Bytes)
	return e.commit(name, n, b.Count, func(l *log, first int64) {
		cur, seq := e.room(l, n)
		pos := len(cur.buf)
		cur.buf = append(cur.buf, b.Bytes...)
		shard.PutBatchBase(cur.buf[pos:], first)
		l.bytes += int64(n)
		for i := range b.Count {
			l.ents.push(entry{chunk: seq, pos: uint32(pos), n: uint32(n), ts: ts,
				keyHash: uint64(b.Count)<<32 | uint64(i), flags: opaque | uint8(b.Format)<<formatShift})
			l.markLocked(first+int64(i), ts)
		}
	})
}

// commit runs write under l's lock to add n records of total encoded bytes
// at the next offset, then applies the byte limits, publishes the new
// high-water mark and wakes waiters.
func (e *Engine) commit(name string, total, n int, write func(l *log, first int64)) (int64, error) {
	l, err := e.get(name)
	if err != nil {
		return 0, err
	}
	if int64(total) > l.limit || int64(total) > e.opts.MaxBytes {
		return 0, fmt.Errorf("%w: memory: %q: batch of %d encoded bytes over limit %d", shard.ErrRecordTooLarge, name, total, min(l.limit, e.opts.MaxBytes))
	}
	l.mu.Lock()
	if l.deleted {
		l.mu.Unlock()
		return 0, fmt.Errorf("%w: memory: %q", shard.ErrShardNotFound, name)
	}
	first := l.hw.Load()
	write(l, first)
	dropped := 0
	if l.bytes > l.limit {
		dropped = e.dropLocked(l, func(l *log) bool { return l.bytes > l.limit })
		if l.limit == l.cfg.RetentionBytes {
			dropped = 0 // retention, not memory pressure
		}
	}
	e.settle(l, false)
	hw := first + int64(n)
	l.hw.Store(hw)
	l.mu.Unlock()
	if dropped > 0 && l.dropped.Add(int64(dropped)) == int64(dropped) {
		e.opts.Logger.Warn("memory: shard over its byte limit, dropping its oldest records", "shard", name, "limit", l.limit)
	}
	if n > 0 {
		l.waiters.Notify(hw)
	}
	if e.bytes.Load() > e.opts.MaxBytes {
		e.evictGlobal(l)
	}
	return first, nil
}

// appendLocked encodes r at offset off. REQUIRES: l.mu held for writing.
func (e *Engine) appendLocked(l *log, r *shard.Record, off, now int64) {
	ts := r.Timestamp
	if ts == 0 {
		ts = now
	}
	n := rec.Len(r)
	cur, seq := e.room(l, n)
	pos := len(cur.buf)
	cur.buf = rec.Append(cur.buf, r, ts)
	en := entry{chunk: seq, pos: uint32(pos), n: uint32(n), size: uint32(r.Size()), ts: ts}
	l.bytes += int64(n)
	if r.Key != nil {
		en.keyHash, en.flags = maphash.Bytes(e.seed, r.Key), hasKey
		l.keys.add(en.keyHash, off)
	}
	if len(r.Tags) > 0 {
		en.flags |= hasTags
	}
	l.ents.push(en)
	for _, t := range r.Tags {
		l.tags.add(maphash.Bytes(e.seed, t), off) // a tag repeated in one record is indexed once
	}
	l.markLocked(off, ts)
}

// markLocked adds the record at off with timestamp ts to the time marks.
// REQUIRES: l.mu held for writing.
func (l *log) markLocked(off, ts int64) {
	if l.sinceMark == 0 {
		l.marks = append(l.marks, mark{maxBefore: l.maxTs, off: off})
	}
	if l.sinceMark++; l.sinceMark == markEvery {
		l.sinceMark = 0
	}
	l.maxTs = max(l.maxTs, ts)
}

// room returns the current chunk, or a new one, with room for n more
// bytes, and its sequence number. REQUIRES: l.mu held for writing.
func (e *Engine) room(l *log, n int) (*chunk, uint32) {
	var cur *chunk
	if len(l.chunks) > 0 {
		cur = l.chunks[len(l.chunks)-1]
	}
	if cur == nil || len(cur.buf)+n > cap(cur.buf) {
		cur = e.newChunk(l.chunkBytes, n)
		l.chunks = append(l.chunks, cur)
	}
	return cur, l.chunkBase + uint32(len(l.chunks)-1)
}

// bytesOf returns the encoding of ents[i] and its chunk. REQUIRES: l.mu held.
func (l *log) bytesOf(i int) ([]byte, *chunk) {
	en := l.ents.at(i)
	c := l.chunks[en.chunk-l.chunkBase]
	return c.buf[en.pos : en.pos+en.n : en.pos+en.n], c
}

// dropLocked drops the oldest records while more returns true and some
// remain, and returns how many it dropped. It does not touch the global
// counter; callers account. REQUIRES: l.mu held for writing.
func (e *Engine) dropLocked(l *log, more func(*log) bool) int {
	n := 0
	for l.ents.len() > 0 && more(l) {
		e.dropOneLocked(l)
		n++
	}
	e.trimLocked(l)
	return n
}

func (e *Engine) dropOneLocked(l *log) {
	off, en := l.start, l.ents.at(0)
	if en.flags&hasKey != 0 {
		l.keys.prune(en.keyHash, off)
	}
	if en.flags&hasTags != 0 {
		b, _ := l.bytesOf(0)
		// A record we encoded always decodes; an error here would be a
		// bug in rec, and the entries are then left for lookups to skip.
		_ = rec.KeyTags(b, func([]byte) {}, func(t []byte) { l.tags.prune(maphash.Bytes(e.seed, t), off) })
	}
	if idx, _ := en.batchPos(); en.flags&opaque == 0 || idx == 0 {
		l.bytes -= int64(en.n) // an opaque batch is counted once, at its first record
	}
	e.settle(l, false)
	l.ents.pop()
	l.start++
}

// postings maps the hash of a key or tag to the ascending offsets of the
// records carrying it. Each list is a ring: appended at the back, pruned
// from the front as the oldest records are dropped.
type postings map[uint64]*ring[int64]

// add appends off to h's list unless it is already its last entry.
func (m postings) add(h uint64, off int64) {
	p := m[h]
	if p == nil {
		p = &ring[int64]{}
		m[h] = p
	}
	if p.n == 0 || *p.last() != off {
		p.push(off)
	}
}

// prune removes off from the front of h's list.
func (m postings) prune(h uint64, off int64) {
	p := m[h]
	if p == nil || p.n == 0 || *p.at(0) != off {
		return
	}
	p.pop()
	if p.n == 0 {
		delete(m, h)
	}
}

// trimLocked frees chunks and marks below the log start. REQUIRES: l.mu
// held for writing.
func (e *Engine) trimLocked(l *log) {
	keep := len(l.chunks) - 1 // the current chunk always stays
	if l.ents.len() > 0 {
		keep = int(l.ents.at(0).chunk - l.chunkBase)
	}
	if keep > 0 {
		for _, c := range l.chunks[:keep] {
			e.retire(c)
		}
		clear(l.chunks[:keep])
		l.chunks = l.chunks[keep:]
		l.chunkBase += uint32(keep)
	}
	i := sort.Search(len(l.marks), func(i int) bool { return l.marks[i].off > l.start })
	if i > 1 {
		l.marks = l.marks[i-1:] // keep the last mark at or below start
	}
}

// evictGlobal drops the oldest records until the engine is under MaxBytes:
// first from the shard that just grew, then from the others. Called with no
// lock held.
func (e *Engine) evictGlobal(first *log) {
	over := func(*log) bool { return e.bytes.Load() > e.opts.MaxBytes }
	evict := func(l *log) bool {
		l.mu.Lock()
		n := e.dropLocked(l, over)
		e.settle(l, true)
		l.mu.Unlock()
		l.dropped.Add(int64(n))
		if n > 0 && !e.globalWarned.Swap(true) {
			e.opts.Logger.Warn("memory: engine over its byte limit, dropping oldest records", "limit", e.opts.MaxBytes)
		}
		return over(nil)
	}
	if !evict(first) {
		return
	}
	e.shards.Range(func(_ string, l *log) bool { return evict(l) })
}

// result is a pooled ReadResult with its backing arrays and the chunks
// its records point into.
type result struct {
	res    shard.ReadResult
	tags   [][]byte
	hdrs   []shard.Header
	pinned []*chunk
}

func (e *Engine) newResult(l *log) *result {
	r := e.pool.Get().(*result)
	r.res.ReleaseFunc = e.release
	r.res.Earliest, r.res.Latest = l.start, l.hw.Load()
	return r
}

func (e *Engine) releaseResult(res *shard.ReadResult) {
	// res is the first field of a *result from our pool: ReleaseFunc is
	// only ever set by newResult.
	r := (*result)(unsafe.Pointer(res))
	clear(r.res.Records) // drop references to chunks
	clear(r.res.Batches)
	clear(r.tags)
	clear(r.hdrs)
	for _, c := range r.pinned {
		e.unpin(c)
	}
	clear(r.pinned)
	r.pinned = r.pinned[:0]
	r.res = shard.ReadResult{Records: r.res.Records[:0], Batches: r.res.Batches[:0]}
	r.tags, r.hdrs = r.tags[:0], r.hdrs[:0]
	e.pool.Put(r)
}

// pin keeps c alive until r is released.
func (r *result) pin(c *chunk) {
	if k := len(r.pinned); k == 0 || r.pinned[k-1] != c {
		c.state.Add(1)
		r.pinned = append(r.pinned, c)
	}
}

// add decodes ents[i] into r. REQUIRES: l.mu held.
func (r *result) add(l *log, i int) error {
	r.res.Records = append(r.res.Records, shard.Record{Offset: l.start + int64(i)})
	x := &r.res.Records[len(r.res.Records)-1]
	b, c := l.bytesOf(i)
	r.pin(c)
	var err error
	r.tags, r.hdrs, err = rec.Decode(b, x, r.tags, r.hdrs)
	r.res.Bytes += int(l.ents.at(i).size)
	return err
}

// startRead checks offset against the shard's bounds and returns a result
// for it, with l.mu read-held (on success only).
func (e *Engine) startRead(name string, offset int64) (*log, *result, error) {
	l, err := e.get(name)
	if err != nil {
		return nil, nil, err
	}
	l.mu.RLock()
	if hw := l.hw.Load(); offset < l.start || offset > hw {
		l.mu.RUnlock()
		return nil, nil, fmt.Errorf("%w: memory: %q: offset %d outside [%d, %d]", shard.ErrOffsetOutOfRange, name, offset, l.start, hw)
	}
	return l, e.newResult(l), nil
}

// Read implements shard.Adapter.
func (e *Engine) Read(name string, offset int64, maxRecords, maxBytes int) (*shard.ReadResult, error) {
	l, r, err := e.startRead(name, offset)
	if err != nil {
		return nil, err
	}
	defer l.mu.RUnlock()
	maxRecords = max(maxRecords, 1)
	i := int(offset - l.start)
	for i < l.ents.len() && len(r.res.Records) < maxRecords {
		en := l.ents.at(i)
		if en.flags&opaque != 0 {
			kept, err := e.addDecoded(r, l, i, maxRecords, maxBytes)
			if err != nil {
				r.res.Release()
				return nil, fmt.Errorf("memory: %q offset %d: %w", name, l.start+int64(i), err)
			}
			if i += kept; kept == 0 {
				break
			}
			continue
		}
		if len(r.res.Records) > 0 && r.res.Bytes+int(en.size) > maxBytes {
			break
		}
		if err := r.add(l, i); err != nil {
			r.res.Release()
			return nil, fmt.Errorf("memory: %q offset %d: %w", name, l.start+int64(i), err)
		}
		i++
	}
	r.res.Next = l.start + int64(i)
	return &r.res, nil
}

// addDecoded decodes the opaque batch holding ents[i] into r and keeps its
// records from ents[i] on, within the limits; it returns how many it kept.
// REQUIRES: l.mu held.
func (e *Engine) addDecoded(r *result, l *log, i, maxRecords, maxBytes int) (int, error) {
	en := l.ents.at(i)
	idx, count := en.batchPos()
	b, c := l.bytesOf(i)
	r.pin(c)
	n := len(r.res.Records)
	recs, err := shard.DecodeBatch(e.opts.Decoder, r.res.Records, shard.BatchFormat(en.flags>>formatShift), b, l.start+int64(i-idx), count)
	if err != nil {
		return 0, err
	}
	r.res.Records = recs
	return r.res.KeepDecoded(n, l.start+int64(i), maxRecords, maxBytes), nil
}

// ReadBatches implements shard.Adapter.
func (e *Engine) ReadBatches(name string, offset int64, maxBytes int) (*shard.ReadResult, error) {
	l, r, err := e.startRead(name, offset)
	if err != nil {
		return nil, err
	}
	defer l.mu.RUnlock()
	i := int(offset - l.start)
	for i < l.ents.len() && len(r.res.Records) < shard.MaxRunRecords {
		en := l.ents.at(i)
		size := int(en.size)
		if en.flags&opaque != 0 {
			size = int(en.n)
		}
		if len(r.res.Batches) > 0 && r.res.Bytes+size > maxBytes {
			break
		}
		if en.flags&opaque == 0 {
			if err := r.add(l, i); err != nil {
				r.res.Release()
				return nil, fmt.Errorf("memory: %q offset %d: %w", name, l.start+int64(i), err)
			}
			r.res.AddToRun(l.start + int64(i))
			i++
			continue
		}
		idx, count := en.batchPos()
		b, c := l.bytesOf(i)
		r.pin(c)
		r.res.Batches = append(r.res.Batches, shard.Batch{Format: shard.BatchFormat(en.flags >> formatShift),
			Base: l.start + int64(i-idx), Count: count, MaxTimestamp: en.ts, Bytes: b})
		r.res.Bytes += size
		i += count - idx
	}
	r.res.LinkRuns()
	r.res.Next = l.start + int64(i)
	return &r.res, nil
}

// ReadByKey implements shard.Adapter.
func (e *Engine) ReadByKey(name string, key []byte, from int64, maxRecords int) (*shard.ReadResult, error) {
	return e.lookup(name, key, from, maxRecords, false)
}

// ReadByTag implements shard.Adapter.
func (e *Engine) ReadByTag(name string, tag []byte, from int64, maxRecords int) (*shard.ReadResult, error) {
	return e.lookup(name, tag, from, maxRecords, true)
}

func (e *Engine) lookup(name string, what []byte, from int64, maxRecords int, byTag bool) (*shard.ReadResult, error) {
	l, err := e.get(name)
	if err != nil {
		return nil, err
	}
	maxRecords = max(maxRecords, 1)
	h := maphash.Bytes(e.seed, what)
	l.mu.RLock()
	defer l.mu.RUnlock()
	idx := l.keys
	if byTag {
		idx = l.tags
	}
	p := idx[h]
	from = max(from, l.start)
	r := e.newResult(l)
	r.res.Next = l.hw.Load()
	if p == nil {
		return &r.res, nil
	}
	for j := p.search(func(o *int64) bool { return *o >= from }); j < p.len(); j++ {
		o := *p.at(j)
		i := int(o - l.start)
		if b, _ := l.bytesOf(i); !matches(b, what, byTag) {
			continue // hash collision
		}
		if len(r.res.Records) == maxRecords {
			r.res.Next = o
			break
		}
		if err := r.add(l, i); err != nil {
			r.res.Release()
			return nil, fmt.Errorf("memory: %q offset %d: %w", name, o, err)
		}
	}
	return &r.res, nil
}

func matches(b, what []byte, byTag bool) bool {
	found := false
	_ = rec.KeyTags(b,
		func(k []byte) { found = found || !byTag && string(k) == string(what) },
		func(t []byte) { found = found || byTag && string(t) == string(what) })
	return found
}

// OffsetForTimestamp implements shard.Adapter.
func (e *Engine) OffsetForTimestamp(name string, tsMs int64) (int64, error) {
	l, err := e.get(name)
	if err != nil {
		return 0, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	// marks are ordered by maxBefore: take the last one below tsMs.
	j := sort.Search(len(l.marks), func(j int) bool { return l.marks[j].maxBefore >= tsMs }) - 1
	start := l.start
	if j >= 0 {
		start = max(start, l.marks[j].off)
	}
	for i := int(start - l.start); i < l.ents.len(); i++ {
		if l.ents.at(i).ts >= tsMs {
			return l.start + int64(i), nil
		}
	}
	return l.hw.Load(), nil
}

// EarliestOffset implements shard.Adapter.
func (e *Engine) EarliestOffset(name string) (int64, error) {
	l, err := e.get(name)
	if err != nil {
		return 0, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.start, nil
}

// LatestOffset implements shard.Adapter.
func (e *Engine) LatestOffset(name string) (int64, error) {
	l, err := e.get(name)
	if err != nil {
		return 0, err
	}
	return l.hw.Load(), nil
}

// DeleteRecords implements shard.Adapter.
func (e *Engine) DeleteRecords(name string, before int64) error {
	l, err := e.get(name)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e.dropLocked(l, func(l *log) bool { return l.start < before })
	return nil
}

// EnforceRetention implements shard.Adapter.
func (e *Engine) EnforceRetention(nowMs int64) error {
	if e.closed.Load() {
		return shard.ErrClosed
	}
	e.shards.Range(func(_ string, l *log) bool {
		ms := l.cfg.RetentionMs
		if ms <= 0 {
			return true // byte limits are applied on append
		}
		cutoff := nowMs - ms
		l.mu.Lock()
		e.dropLocked(l, func(l *log) bool { return l.ents.at(0).ts < cutoff })
		l.mu.Unlock()
		return true
	})
	return nil
}

// Wait implements shard.Adapter.
func (e *Engine) Wait(name string, offset int64, fn func()) (func() bool, error) {
	l, err := e.get(name)
	if err != nil {
		return nil, err
	}
	return l.waiters.Add(offset, fn, &l.hw), nil
}

// Flush implements shard.Adapter: nothing to make durable.
func (e *Engine) Flush() error {
	if e.closed.Load() {
		return shard.ErrClosed
	}
	return nil
}

// Close implements shard.Adapter: it drops every shard and fires waiters.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return shard.ErrClosed
	}
	e.shards.Range(func(name string, l *log) bool {
		e.shards.Delete(name)
		e.drop(l)
		return true
	})
	live.Delete(e)
	return nil
}
