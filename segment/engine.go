package segment

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"robustmq/shard"
)

// Options configure an EngineSegment. Zero fields take the defaults shown.
type Options struct {
	Dir                  string        // root; one directory per shard under it
	Workers              int           // I/O workers; default 2 x GOMAXPROCS
	SegmentBytes         int64         // default segment size when a shard has none; 1 GiB
	SegmentMaxAge        time.Duration // roll a non-empty active segment this old (since created or mounted); 7 days; <0: never
	PreallocBytes        int64         // fallocate step; 16 MiB
	IndexIntervalBytes   int64         // an index entry every this many log bytes; 4 KiB
	IndexIntervalRecords int64         // ... or this many records; 1024
	QueueBytes           int64         // encoded bytes queued per worker before appends wait; 8 MiB
	FlushInterval        time.Duration // background fsync of DurabilityNone data; 1 s; <0: off
	RetentionInterval    time.Duration // background EnforceRetention; 1 min; <0: off
	Logger               *slog.Logger  // default slog.Default()
	// Dirs are more roots beside Dir (other disks: storage_runtime.data_path[1:]).
	// A new shard goes to the root holding the fewest shards (the first
	// on ties); Open finds each shard in whichever root holds it.
	Dirs []string
	// Decoder lets Read return the records of opaque batches
	// (AppendBatch); without one such a Read fails with shard.ErrNoDecoder.
	Decoder shard.BatchDecoder

	ops fileOps // tests inject faults; default osOps
}

func (o *Options) setDefaults() {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.Workers <= 0 {
		o.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	def(&o.SegmentBytes, 1<<30)
	def(&o.PreallocBytes, 16<<20)
	def(&o.IndexIntervalBytes, 4<<10)
	def(&o.IndexIntervalRecords, 1024)
	def(&o.QueueBytes, 8<<20)
	if o.SegmentMaxAge == 0 {
		o.SegmentMaxAge = 7 * 24 * time.Hour
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = time.Second
	}
	if o.RetentionInterval == 0 {
		o.RetentionInterval = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ops == nil {
		o.ops = osOps{}
	}
}

// EngineSegment is the file-segment storage engine (shard.EngineSegment).
// It owns its workers and one background goroutine (flush and retention
// ticks), all stopped by Close.
type EngineSegment struct {
	opts     Options
	ops      fileOps
	log      *slog.Logger
	prealloc atomic.Bool // false once the file system refused fallocate
	seed     maphash.Seed
	workers  []*worker
	roots    []string // Dir, then Dirs; immutable

	// adminMu serializes CreateShard and DeleteShard, so a shard's
	// directory is never created and removed at once; it is held across
	// file system work, mu only around map changes (appends look up under
	// mu.RLock).
	adminMu  sync.Mutex
	trashSeq atomic.Uint64
	mu       sync.RWMutex
	shards   map[string]*shardLog // guarded by mu
	perRoot  []int                // shards held per root; guarded by mu
	closed   bool                 // guarded by mu

	sealq chan sealJob // sealed segments for the syncer; bounded, full: left to the next durable round

	stop chan struct{}
	bg   sync.WaitGroup
}

var _ shard.Engine = (*EngineSegment)(nil)

// Open mounts every shard under o.Dir and o.Dirs, recovering each active
// segment, and starts the workers.
func Open(o Options) (*EngineSegment, error) {
	o.setDefaults()
	if o.Dir == "" {
		return nil, errors.New("segment: Options.Dir is empty")
	}
	if o.SegmentBytes > MaxSegmentBytes {
		return nil, fmt.Errorf("segment: Options.SegmentBytes %d > %d", o.SegmentBytes, int64(MaxSegmentBytes))
	}
	roots := append([]string{filepath.Clean(o.Dir)}, o.Dirs...)
	for i, r := range roots {
		roots[i] = filepath.Clean(r)
		if slices.Contains(roots[:i], roots[i]) {
			return nil, fmt.Errorf("segment: directory %s given twice", r)
		}
		if err := os.MkdirAll(r, 0o755); err != nil {
			return nil, fmt.Errorf("segment: %w", err)
		}
	}
	e := &EngineSegment{opts: o, ops: o.ops, log: o.Logger, seed: maphash.MakeSeed(), roots: roots, perRoot: make([]int, len(roots)),
		shards: map[string]*shardLog{}, stop: make(chan struct{}), sealq: make(chan sealJob, 1024)}
	e.prealloc.Store(true)
	for range o.Workers {
		e.workers = append(e.workers, newWorker(o.QueueBytes))
	}
	if err := e.mountAll(); err != nil {
		for _, sl := range e.shards {
			sl.closeSegs()
		}
		return nil, err
	}
	for _, w := range e.workers {
		go w.run()
	}
	e.bg.Add(2)
	go e.background()
	go e.syncer()
	return e, nil
}

// mountAll mounts the shard directories of every root in parallel. A
// directory without a meta file is an interrupted CreateShard and is
// removed; a shard found in two roots is an error.
func (e *EngineSegment) mountAll() error {
	type entry struct {
		root int
		ent  os.DirEntry
	}
	var ents []entry
	for i, r := range e.roots {
		des, err := os.ReadDir(r)
		if err != nil {
			return fmt.Errorf("segment: %w", err)
		}
		for _, d := range des {
			ents = append(ents, entry{i, d})
		}
	}
	var (
		next atomic.Int64
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range min(len(ents), 4*runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(ents)) {
					return
				}
				en := ents[i]
				dir := filepath.Join(e.roots[en.root], en.ent.Name())
				if strings.HasPrefix(en.ent.Name(), trashPrefix) {
					_ = os.RemoveAll(dir) // a DeleteShard cut short
					continue
				}
				if !en.ent.IsDir() {
					continue
				}
				sl, err := e.mountShard(dir)
				mu.Lock()
				switch {
				case err == nil && e.shards[sl.name] != nil:
					errs = append(errs, fmt.Errorf("segment: shard %s is in both %s and %s", sl.name, e.shards[sl.name].dir, dir))
					sl.closeSegs()
				case err == nil:
					sl.root = en.root
					e.perRoot[en.root]++
					e.shards[sl.name] = sl
				case isNotExist(err):
					e.log.Warn("segment: removing shard directory without meta (interrupted create)", "dir", dir)
					_ = os.RemoveAll(dir)
				default:
					errs = append(errs, fmt.Errorf("segment: mount %s: %w", dir, err))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (e *EngineSegment) newShardLog(cfg shard.ShardConfig, dir string, logStart int64) *shardLog {
	cfg.Engine = shard.EngineSegment
	sb := cfg.SegmentBytes
	if sb <= 0 {
		sb = e.opts.SegmentBytes
	}
	w := e.workers[maphash.String(e.seed, cfg.Name)%uint64(len(e.workers))]
	return &shardLog{e: e, name: cfg.Name, dir: dir, w: w, cfg: cfg, segBytes: sb, logStart: logStart, next: logStart}
}

// background runs the flush and retention ticks until Close.
func (e *EngineSegment) background() {
	defer e.bg.Done()
	tick := func(d time.Duration) <-chan time.Time {
		if d < 0 {
			return nil
		}
		return time.NewTicker(d).C
	}
	flush, retain := tick(e.opts.FlushInterval), tick(e.opts.RetentionInterval)
	for {
		select {
		case <-e.stop:
			return
		case <-flush:
			if err := e.flush(true); err != nil && !errors.Is(err, shard.ErrClosed) {
				e.log.Error("segment: background flush failed", "err", err)
			}
			for _, sl := range e.snapshot() {
				sl.trim()
			}
		case now := <-retain:
			if err := e.EnforceRetention(now.UnixMilli()); err != nil && !errors.Is(err, shard.ErrClosed) {
				e.log.Error("segment: retention failed", "err", err)
			}
		}
	}
}

// syncer fsyncs segments sealed by a roll, off the workers' write path,
// until Close.
func (e *EngineSegment) syncer() {
	defer e.bg.Done()
	for {
		select {
		case <-e.stop:
			for {
				select {
				case j := <-e.sealq:
					j.seg.release() // Close flushed: syncPending finished it
				default:
					return
				}
			}
		case j := <-e.sealq:
			j.sl.syncSealed(j.seg)
		}
	}
}

// Type reports shard.EngineSegment.
func (e *EngineSegment) Type() shard.EngineType { return shard.EngineSegment }

func (e *EngineSegment) get(name string) (*shardLog, error) {
	e.mu.RLock()
	sl, closed := e.shards[name], e.closed
	e.mu.RUnlock()
	switch {
	case closed:
		return nil, shard.ErrClosed
	case sl == nil:
		return nil, fmt.Errorf("%w: %s", shard.ErrShardNotFound, name)
	}
	return sl, nil
}

// CreateShard creates the shard's directory and meta file.
func (e *EngineSegment) CreateShard(cfg shard.ShardConfig) error {
	if err := shard.ValidateConfig(&cfg); err != nil {
		return err
	}
	if cfg.SegmentBytes > MaxSegmentBytes {
		return fmt.Errorf("%w: %s: segment_bytes %d > %d", shard.ErrInvalidConfig, cfg.Name, cfg.SegmentBytes, int64(MaxSegmentBytes))
	}
	e.adminMu.Lock()
	defer e.adminMu.Unlock()
	e.mu.RLock()
	closed, exists := e.closed, e.shards[cfg.Name] != nil
	e.mu.RUnlock()
	switch {
	case closed:
		return shard.ErrClosed
	case exists:
		return fmt.Errorf("%w: %s", shard.ErrShardExists, cfg.Name)
	}
	e.mu.RLock()
	root := 0
	for i, n := range e.perRoot {
		if n < e.perRoot[root] {
			root = i
		}
	}
	e.mu.RUnlock()
	dir := filepath.Join(e.roots[root], dirName(cfg.Name))
	err := os.RemoveAll(dir) // leftovers of a shard this engine does not hold
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = writeMeta(dir, &cfg, 0)
	}
	if err == nil {
		err = syncDir(e.roots[root])
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return fmt.Errorf("segment: create shard %s: %w", cfg.Name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return shard.ErrClosed
	}
	sl := e.newShardLog(cfg, dir, 0)
	sl.root = root
	e.perRoot[root]++
	e.shards[cfg.Name] = sl
	return nil
}

// trashPrefix names directories of deleted shards on their way out; mount
// removes leftovers. Shard directory names never start with a dot.
const trashPrefix = ".trash-"

// DeleteShard removes the shard, fails its queued appends and fires its
// waiters. Readers keep their views until they release them. The directory
// is renamed away at once (a new shard of the same name may follow) and
// removed after.
func (e *EngineSegment) DeleteShard(name string) error {
	e.adminMu.Lock()
	e.mu.Lock()
	sl := e.shards[name]
	closed := e.closed
	if sl != nil && !closed {
		delete(e.shards, name)
		e.perRoot[sl.root]--
	}
	e.mu.Unlock()
	switch {
	case closed:
		e.adminMu.Unlock()
		return shard.ErrClosed
	case sl == nil:
		e.adminMu.Unlock()
		return fmt.Errorf("%w: %s", shard.ErrShardNotFound, name)
	}
	sl.shutdown(fmt.Errorf("%w: %s (deleted)", shard.ErrShardNotFound, name))
	root := e.roots[sl.root] // rename within the shard's own file system
	trash := filepath.Join(root, trashPrefix+strconv.FormatUint(e.trashSeq.Add(1), 10)+"-"+filepath.Base(sl.dir))
	err := os.Rename(sl.dir, trash)
	if err == nil {
		err = syncDir(root)
	}
	e.adminMu.Unlock()
	if err != nil {
		return fmt.Errorf("segment: delete shard %s: %w", name, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("segment: delete shard %s: %w", name, err)
	}
	return nil
}

// shutdown stops the shard: queued appends fail with why, waiters fire,
// the shard's segment references are dropped.
func (sl *shardLog) shutdown(why error) {
	sl.ioMu.Lock()
	sl.mu.Lock()
	sl.gone = why
	sl.abortPendingLocked()
	aborted := sl.aborted
	sl.aborted = nil
	segs := sl.segs
	sl.segs = nil
	sl.mu.Unlock()
	clear(sl.unsynced)
	sl.unsynced = nil
	for _, s := range segs {
		if s.f != nil && !s.sealed && !s.dirty {
			sl.persistIndex(s) // Close flushed first: the entries point at durable data
		}
		s.release()
	}
	sl.ioMu.Unlock()
	sl.failAborted(aborted, why)
	sl.wl.Close()
}

// ListShards reports every shard.
func (e *EngineSegment) ListShards() ([]shard.ShardInfo, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, shard.ErrClosed
	}
	out := make([]shard.ShardInfo, 0, len(e.shards))
	for _, sl := range e.shards {
		sl.mu.Lock()
		info := shard.ShardInfo{Config: sl.cfg, Earliest: sl.earliest(), Latest: sl.latest.Load()}
		for _, s := range sl.segs {
			info.Bytes += s.visible
		}
		sl.mu.Unlock()
		out = append(out, info)
	}
	return out, nil
}

// AppendAsync encodes recs into the shard's pending buffer before it
// returns; done runs on the shard's worker after the write (None) or the
// fsync (Sync). See shard.Adapter.
func (e *EngineSegment) AppendAsync(name string, recs []shard.Record, opt shard.AppendOptions, done shard.AppendFunc) {
	sl, err := e.get(name)
	if err != nil {
		done(0, err)
		return
	}
	if len(recs) == 0 {
		done(sl.latest.Load(), nil)
		return
	}
	sl.append(recs, opt, done)
}

// AppendBatchAsync stores the opaque batch b as one segment batch (format
// bits = b.Format, payload = b.Bytes with the base offset written into its
// first 8 bytes); otherwise like AppendAsync. See shard.Adapter.
func (e *EngineSegment) AppendBatchAsync(name string, b shard.Batch, opt shard.AppendOptions, done shard.AppendFunc) {
	if err := shard.ValidateBatch(name, &b); err != nil {
		done(0, err)
		return
	}
	sl, err := e.get(name)
	if err != nil {
		done(0, err)
		return
	}
	sl.appendBatch(&b, opt, done)
}

// AppendBatch is the blocking form of AppendBatchAsync.
func (e *EngineSegment) AppendBatch(ctx context.Context, name string, b shard.Batch, opt shard.AppendOptions) (int64, error) {
	s := syncPool.Get().(*syncAppend)
	e.AppendBatchAsync(name, b, opt, s.done)
	return s.wait(ctx)
}

// syncAppend is a pooled completion for Append; done is bound once.
type syncAppend struct {
	ch   chan struct{}
	off  int64
	err  error
	done shard.AppendFunc
}

var syncPool = sync.Pool{New: func() any {
	s := &syncAppend{ch: make(chan struct{}, 1)}
	s.done = func(off int64, err error) {
		s.off, s.err = off, err
		s.ch <- struct{}{}
	}
	return s
}}

// Append is the blocking form of AppendAsync.
func (e *EngineSegment) Append(ctx context.Context, name string, recs []shard.Record, opt shard.AppendOptions) (int64, error) {
	s := syncPool.Get().(*syncAppend)
	e.AppendAsync(name, recs, opt, s.done)
	return s.wait(ctx)
}

// wait returns the outcome once done ran, or ctx's error first.
func (s *syncAppend) wait(ctx context.Context) (int64, error) {
	select {
	case <-s.ch:
		off, err := s.off, s.err
		syncPool.Put(s)
		return off, err
	case <-ctx.Done():
		return 0, ctx.Err() // s is abandoned: its late completion must not reach a reused s
	}
}

func (e *EngineSegment) rangeErr(sl *shardLog, off, earliest, latest int64) error {
	return fmt.Errorf("%w: shard %s: offset %d not in [%d, %d]", shard.ErrOffsetOutOfRange, sl.name, off, earliest, latest)
}

// Read returns views into the mapped segments; see shard.Adapter.
func (e *EngineSegment) Read(name string, offset int64, maxRecords, maxBytes int) (*shard.ReadResult, error) {
	sl, res, err := e.startRead(name, offset)
	if err != nil {
		return nil, err
	}
	f := filter{kind: filterRead, maxRecords: max(maxRecords, 1), maxBytes: maxBytes}
	err = sl.scan(res, offset, 0, &f)
	return finish(res, err, offset)
}

// startRead checks offset against the shard's bounds and returns a result
// carrying them.
func (e *EngineSegment) startRead(name string, offset int64) (*shardLog, *readResult, error) {
	sl, err := e.get(name)
	if err != nil {
		return nil, nil, err
	}
	sl.mu.Lock()
	earliest, latest := sl.earliest(), sl.latest.Load()
	sl.mu.Unlock()
	if offset < earliest || offset > latest {
		return nil, nil, e.rangeErr(sl, offset, earliest, latest)
	}
	res := getResult()
	res.Earliest, res.Latest = earliest, latest
	return sl, res, nil
}

// ReadBatches returns records and opaque batches as views into the mapped
// segments (an opaque batch's Bytes are its stored payload: zero copy).
// See shard.Adapter.
func (e *EngineSegment) ReadBatches(name string, offset int64, maxBytes int) (*shard.ReadResult, error) {
	sl, res, err := e.startRead(name, offset)
	if err != nil {
		return nil, err
	}
	f := filter{kind: filterBatches, maxBytes: maxBytes}
	if err := sl.scan(res, offset, 0, &f); err != nil {
		res.put()
		return nil, err
	}
	res.Next = offset
	if n := len(res.Batches); n > 0 {
		b := &res.Batches[n-1]
		res.Next = b.Base + int64(b.Count)
	}
	res.LinkRuns()
	return &res.ReadResult, nil
}

// finish sets Next one past the last record returned (scan counts the
// record it stopped at) and turns a failed read into an error.
func finish(res *readResult, err error, from int64) (*shard.ReadResult, error) {
	if err != nil {
		res.put()
		return nil, err
	}
	res.Next = from
	if n := len(res.Records); n > 0 {
		res.Next = res.Records[n-1].Offset + 1
	}
	return &res.ReadResult, nil
}

// maxLookupScan bounds the log bytes one ReadByKey/ReadByTag examines;
// Next says where to continue.
const maxLookupScan = 64 << 20

// ReadByKey scans for records whose key equals key.
func (e *EngineSegment) ReadByKey(name string, key []byte, from int64, maxRecords int) (*shard.ReadResult, error) {
	return e.lookup(name, from, filter{kind: filterKey, match: key, maxRecords: max(maxRecords, 1)})
}

// ReadByTag scans for records carrying tag.
func (e *EngineSegment) ReadByTag(name string, tag []byte, from int64, maxRecords int) (*shard.ReadResult, error) {
	return e.lookup(name, from, filter{kind: filterTag, match: tag, maxRecords: max(maxRecords, 1)})
}

func (e *EngineSegment) lookup(name string, from int64, f filter) (*shard.ReadResult, error) {
	sl, err := e.get(name)
	if err != nil {
		return nil, err
	}
	sl.mu.Lock()
	earliest, latest := sl.earliest(), sl.latest.Load()
	sl.mu.Unlock()
	from = max(from, earliest)
	res := getResult()
	res.Earliest, res.Latest = earliest, latest
	if from >= latest {
		res.Next = max(from, latest)
		return &res.ReadResult, nil
	}
	if err := sl.scan(res, from, maxLookupScan, &f); err != nil {
		res.put()
		return nil, err
	}
	res.Next = max(res.Next, from)
	return &res.ReadResult, nil
}

// OffsetForTimestamp uses the time indexes, then scans; see shard.Adapter.
func (e *EngineSegment) OffsetForTimestamp(name string, tsMs int64) (int64, error) {
	sl, err := e.get(name)
	if err != nil {
		return 0, err
	}
	return sl.offsetForTime(tsMs)
}

// EarliestOffset returns the log start.
func (e *EngineSegment) EarliestOffset(name string) (int64, error) {
	sl, err := e.get(name)
	if err != nil {
		return 0, err
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.earliest(), nil
}

// LatestOffset returns the high-water mark.
func (e *EngineSegment) LatestOffset(name string) (int64, error) {
	sl, err := e.get(name)
	if err != nil {
		return 0, err
	}
	return sl.latest.Load(), nil
}

// DeleteRecords persists the new log start, then deletes whole segments
// below it.
func (e *EngineSegment) DeleteRecords(name string, before int64) error {
	sl, err := e.get(name)
	if err != nil {
		return err
	}
	return sl.deleteRecords(before)
}

// TruncateTo removes the records at and after offset (raft: an uncommitted
// suffix), indexes included; appends queued at the time fail with
// ErrTruncated. Readers holding views of the removed records keep them
// until they release their results. offset must be in [Earliest, Latest].
func (e *EngineSegment) TruncateTo(name string, offset int64) error {
	sl, err := e.get(name)
	if err != nil {
		return err
	}
	return sl.truncateTo(offset)
}

// EnforceRetention applies every shard's retention limits as of nowMs.
func (e *EngineSegment) EnforceRetention(nowMs int64) error {
	var errs []error
	for _, sl := range e.snapshot() {
		if err := sl.enforceRetention(nowMs, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (e *EngineSegment) snapshot() []*shardLog {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]*shardLog, 0, len(e.shards))
	for _, sl := range e.shards {
		out = append(out, sl)
	}
	return out
}

// Wait registers fn on the shard's wait list; see shard.Adapter.
func (e *EngineSegment) Wait(name string, offset int64, fn func()) (func() bool, error) {
	sl, err := e.get(name)
	if err != nil {
		return nil, err
	}
	return sl.wl.Add(offset, fn, &sl.latest), nil
}

// Flush makes every acknowledged append durable.
func (e *EngineSegment) Flush() error {
	e.mu.RLock()
	closed := e.closed
	e.mu.RUnlock()
	if closed {
		return shard.ErrClosed
	}
	return e.flush(false)
}

// flush queues a flush marker on every shard (only on shards with unsynced
// data if dirtyOnly) and waits for them.
func (e *EngineSegment) flush(dirtyOnly bool) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, sl := range e.snapshot() {
		if dirtyOnly && !sl.maybeDirty() {
			continue
		}
		wg.Add(1)
		sl.flushMarker(func(_ int64, err error) {
			if err != nil && !errors.Is(err, shard.ErrClosed) && !errors.Is(err, shard.ErrShardNotFound) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// maybeDirty reports whether the shard may hold unsynced data. It reads the
// worker-owned dirty flag under ioMu; a stale answer only delays a flush to
// the next tick.
func (sl *shardLog) maybeDirty() bool {
	if !sl.ioMu.TryLock() {
		return true
	}
	defer sl.ioMu.Unlock()
	a := sl.active()
	return len(sl.unsynced) > 0 || a != nil && a.dirty
}

// Close flushes, stops the workers and the background goroutine, fires
// all waiters and releases every segment. Readers holding results keep
// their mappings until they release them.
func (e *EngineSegment) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return shard.ErrClosed
	}
	e.mu.Unlock()
	err := e.flush(false)
	e.mu.Lock()
	e.closed = true
	shards := e.shards
	e.shards = map[string]*shardLog{}
	e.mu.Unlock()
	close(e.stop)
	e.bg.Wait()
	for _, w := range e.workers {
		close(w.stop)
		<-w.done
	}
	for _, sl := range shards {
		sl.shutdown(shard.ErrClosed)
	}
	return err
}
