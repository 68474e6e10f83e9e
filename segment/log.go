package segment

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"robustmq/shard"
)

// MaxBatchBytes bounds one encoded batch. A batch larger than the shard's
// segment size gets a segment of its own; segment positions stay below
// 4 GiB because segment sizes are capped at MaxSegmentBytes.
const (
	MaxBatchBytes   = 1 << 30
	MaxSegmentBytes = 2 << 30
)

// waiter is one queued append (or, with count 0, a flush marker).
type waiter struct {
	end   int   // end of its batch in the pending buffer
	base  int64 // first offset
	count int64 // records; 0 for a flush marker
	maxTS int64
	bytes int64 // reserved in the worker's queue
	sync  bool
	done  shard.AppendFunc
}

// shardLog is one shard: a directory of segments.
//
// Locks, in order: ioMu -> mu -> worker.mu. ioMu serializes everything that
// writes files (the worker's round, TruncateTo, retention, delete, close);
// mu guards what appenders and readers share. Readers take mu only to find
// a segment and take a reference, then decode without locks.
type shardLog struct {
	e    *EngineSegment
	name string
	dir  string
	root int // index of dir's root in e.roots; guarded by e.mu
	w    *worker
	wl   shard.WaitList

	ioMu sync.Mutex

	mu       sync.Mutex
	cfg      shard.ShardConfig // guarded by mu
	segBytes int64             // guarded by mu; set at create/mount
	segs     []*segment        // ascending base; guarded by mu, changed only under ioMu too
	next     int64             // next offset to assign; guarded by mu
	logStart int64             // persisted DeleteRecords point; guarded by mu
	pend     []byte            // encoded batches not yet taken by the worker; guarded by mu
	waits    []waiter          // their appends, in order; guarded by mu
	queued   bool              // in the worker's queue; guarded by mu
	queuedAt time.Time         // when it was queued (its round's oldest append); guarded by mu
	gone     error             // ErrShardNotFound / ErrClosed once deleted or closed; guarded by mu
	failed   error             // sticky fsync failure; guarded by mu
	aborted  []waiter          // appends failed while the worker held the round; guarded by mu
	latest   atomic.Int64      // high-water mark; stored under mu, loaded anywhere

	// Owned by the holder of ioMu (the worker during a round).
	cur        []byte
	curWaits   []waiter
	curAborted []waiter
	needSync   bool
	failAt     int // first waiter of curWaits that fails
	failErr    error
	roundSegs  []*segment
	maxRound   int        // biggest round since the last trim
	unsynced   []*segment // sealed, awaiting fsync, oldest first
	scratch    []byte
	now        time.Time
}

func (sl *shardLog) active() *segment {
	if len(sl.segs) == 0 {
		return nil
	}
	return sl.segs[len(sl.segs)-1]
}

// earliest is the first readable offset. REQUIRES: mu held.
func (sl *shardLog) earliest() int64 {
	if len(sl.segs) > 0 {
		return max(sl.logStart, sl.segs[0].base)
	}
	return sl.logStart
}

// append encodes recs into the pending buffer and queues the shard on its
// worker. It never blocks on I/O; with FailFast unset it may wait for room.
func (sl *shardLog) append(recs []shard.Record, opt shard.AppendOptions, done shard.AppendFunc) {
	var now int64 // the clock is read once per batch, and only for records without a timestamp
	for i := range recs {
		if recs[i].Timestamp == 0 {
			now = time.Now().UnixMilli()
			break
		}
	}
	sl.enqueue(unit{recs: recs, now: now}, int64(BatchSize(recs, now)), opt, done)
}

// appendBatch is append for one opaque batch (shard.ValidateBatch passed).
func (sl *shardLog) appendBatch(b *shard.Batch, opt shard.AppendOptions, done shard.AppendFunc) {
	var now int64
	if b.MaxTimestamp == 0 {
		now = time.Now().UnixMilli()
	}
	sl.enqueue(unit{batch: b, now: now}, int64(OpaqueSize(len(b.Bytes))), opt, done)
}

// unit is what one append encodes as one batch: records or an opaque batch.
type unit struct {
	recs  []shard.Record
	batch *shard.Batch
	now   int64 // clock for zero timestamps
}

func (u *unit) encode(dst []byte, m BatchMeta) ([]byte, BatchHeader) {
	if u.batch != nil {
		return AppendOpaque(dst, u.batch, m)
	}
	return AppendBatch(dst, u.recs, m)
}

// enqueue reserves size bytes in the worker's queue, encodes u into the
// pending buffer at the next offsets and queues the shard on its worker.
func (sl *shardLog) enqueue(u unit, size int64, opt shard.AppendOptions, done shard.AppendFunc) {
	if size > MaxBatchBytes {
		done(0, fmt.Errorf("%w: shard %s: batch of %d bytes, limit %d", shard.ErrRecordTooLarge, sl.name, size, MaxBatchBytes))
		return
	}
	if err := sl.w.reserve(size, opt.FailFast); err != nil {
		done(0, err)
		return
	}
	sl.mu.Lock()
	if err := sl.refuse(); err != nil {
		sl.mu.Unlock()
		sl.w.unreserve(size)
		done(0, err)
		return
	}
	base := sl.next
	var h BatchHeader
	if len(sl.pend)+int(size) > cap(sl.pend) {
		// Double, up to QueueBytes: append's 1.25x steps for big slices
		// would copy a burst's buffer many times over on its way there,
		// and doubling past it would hold memory the queue never fills.
		sl.pend = slices.Grow(sl.pend, max(int(size), min(cap(sl.pend), int(sl.e.opts.QueueBytes)-len(sl.pend))))
	}
	sl.pend, h = u.encode(sl.pend, BatchMeta{BaseOffset: base, Term: opt.Term, Now: u.now})
	sl.next += int64(h.Count)
	sl.waits = append(sl.waits, waiter{end: len(sl.pend), base: base, count: int64(h.Count), maxTS: h.MaxTS,
		bytes: size, sync: opt.Durability == shard.DurabilitySync, done: done})
	push := sl.markQueued()
	sl.mu.Unlock()
	if push {
		sl.w.push(sl)
	}
}

// keepBufBytes is the pending-buffer capacity a shard keeps regardless of
// use; above it a buffer survives a trim only while rounds fill a quarter.
const keepBufBytes = 1 << 20

// trim drops the shard's write buffers when recent rounds used much less
// than they hold, so a burst's memory does not stay with a shard that went
// quiet. The background tick calls it; a busy shard is skipped.
func (sl *shardLog) trim() {
	if !sl.ioMu.TryLock() {
		return
	}
	defer sl.ioMu.Unlock()
	small := func(c int) bool { return c > keepBufBytes && sl.maxRound < c/4 }
	if small(cap(sl.cur)) {
		sl.cur, sl.curWaits = nil, nil
	}
	sl.mu.Lock()
	if len(sl.pend) == 0 && small(cap(sl.pend)) {
		sl.pend, sl.waits = nil, nil
	}
	sl.mu.Unlock()
	sl.maxRound = 0
}

// flushMarker queues a marker that completes once everything queued before
// it is written and fsynced.
func (sl *shardLog) flushMarker(done shard.AppendFunc) {
	sl.mu.Lock()
	if err := sl.refuse(); err != nil {
		sl.mu.Unlock()
		done(0, err)
		return
	}
	sl.waits = append(sl.waits, waiter{end: len(sl.pend), base: sl.next, sync: true, done: done})
	push := sl.markQueued()
	sl.mu.Unlock()
	if push {
		sl.w.push(sl)
	}
}

// markQueued marks the shard queued on its worker and reports whether the
// caller must push it (the first append since the worker took it: one
// clock read per round, for robustmq_storage_segment_queue_wait_seconds).
// REQUIRES: mu.
func (sl *shardLog) markQueued() bool {
	if sl.queued {
		return false
	}
	sl.queued, sl.queuedAt = true, time.Now()
	return true
}

// refuse says why the shard takes no appends, if it does not. REQUIRES: mu.
func (sl *shardLog) refuse() error {
	if sl.gone != nil {
		return sl.gone
	}
	return sl.failed
}

// writePending takes the pending buffer and writes it (worker, ioMu held).
func (sl *shardLog) writePending() {
	sl.mu.Lock()
	sl.cur, sl.pend = sl.pend, sl.cur[:0]
	sl.curWaits, sl.waits = sl.waits, sl.curWaits[:0]
	sl.queued = false
	queuedAt := sl.queuedAt
	sl.mu.Unlock()
	// The taken bytes leave the queue now, so appenders fill the next
	// buffer while this one is written (double buffering).
	var taken int64
	for i := range sl.curWaits {
		taken += sl.curWaits[i].bytes
	}
	sl.w.unreserve(taken)
	sl.roundSegs = sl.roundSegs[:0]
	sl.needSync, sl.failAt, sl.failErr = false, len(sl.curWaits), nil
	sl.now = time.Now()
	mQueueWait.Update(sl.now.Sub(queuedAt).Seconds())

	buf, ws := sl.cur, sl.curWaits
	sl.maxRound = max(sl.maxRound, len(buf))
	seg := sl.active()
	runStart, runFirst, prev := 0, 0, 0
	var off int64 = -1 // offset expected next in seg
	if seg != nil && !seg.sealed {
		off = seg.endOff
	}
	for i := range ws {
		wt := &ws[i]
		sl.needSync = sl.needSync || wt.sync
		if wt.count == 0 {
			continue
		}
		blen := int64(wt.end - prev)
		pos := int64(-1)
		if off == wt.base {
			pos = seg.size + int64(prev-runStart)
		}
		if pos < 0 || pos > 0 && (pos+blen > sl.segBytes || sl.aged(seg)) {
			if off >= 0 {
				if err := sl.writeRun(seg, buf[runStart:prev], ws[runFirst:i], runStart); err != nil {
					sl.fail(runFirst, err)
					return
				}
				if seg.size > 0 {
					sl.seal(seg) // an empty one is dropped by roll
				}
			}
			var err error
			if seg, err = sl.roll(wt.base); err != nil {
				sl.fail(i, err)
				return
			}
			runStart, runFirst = prev, i
		}
		off = wt.base + wt.count
		prev = wt.end
	}
	if off >= 0 {
		if err := sl.writeRun(seg, buf[runStart:prev], ws[runFirst:], runStart); err != nil {
			sl.fail(runFirst, err)
		}
	}
}

func (sl *shardLog) aged(seg *segment) bool {
	return sl.e.opts.SegmentMaxAge > 0 && sl.now.Sub(seg.created) >= sl.e.opts.SegmentMaxAge
}

// writeRun writes b, the batches of ws, at the end of seg; bufAt is where
// b starts in the round's buffer. On error nothing of b is left in the file.
func (sl *shardLog) writeRun(seg *segment, b []byte, ws []waiter, bufAt int) error {
	if len(b) == 0 {
		return nil
	}
	ops := sl.e.ops
	if err := sl.openFile(seg); err != nil {
		return sl.writeErr(seg, "open", err)
	}
	end := seg.size + int64(len(b))
	if end > seg.alloc && sl.e.prealloc.Load() {
		n := max(sl.e.opts.PreallocBytes, end-seg.alloc)
		if err := ops.allocate(seg.f, seg.alloc, n); err == nil {
			seg.alloc += n
		} else if errNoPrealloc(err) {
			sl.e.prealloc.Store(false)
		} else {
			return sl.writeErr(seg, "fallocate", err)
		}
	}
	n, err := ops.writeAt(seg.f, b, seg.size)
	if err != nil || n != len(b) {
		if n > 0 {
			_ = ops.truncate(seg.f, seg.size) // a short write leaves a torn tail; cut it now
		}
		if err == nil {
			err = unix.EIO
		}
		return sl.writeErr(seg, "write", err)
	}
	pos, prev := seg.size, bufAt
	sl.mu.Lock()
	for i := range ws {
		wt := &ws[i]
		if wt.count == 0 {
			continue
		}
		h := BatchHeader{Len: uint32(wt.end - prev), Count: uint32(wt.count), BaseOffset: wt.base, MaxTS: wt.maxTS}
		seg.addIndex(&seg.ix, pos, &h)
		pos += int64(h.Len)
		prev = wt.end
		seg.endOff = wt.base + wt.count
	}
	sl.mu.Unlock()
	seg.size = end
	seg.dirty = true
	seg.dirtyBytes += int64(len(b))
	if n := len(sl.roundSegs); n == 0 || sl.roundSegs[n-1] != seg {
		sl.roundSegs = append(sl.roundSegs, seg)
	}
	mAppends.Add(len(ws))
	mAppendBytes.Add(len(b))
	return nil
}

func (sl *shardLog) writeErr(seg *segment, op string, err error) error {
	mWriteErrors.Inc()
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		err = fmt.Errorf("%w: shard %s: %s %s: %w", ErrDiskFull, sl.name, op, seg.path(logSuffix), err)
	} else {
		err = fmt.Errorf("segment: shard %s: %s %s: %w", sl.name, op, seg.path(logSuffix), err)
	}
	sl.e.log.Warn("segment: write failed; batch not acknowledged", "shard", sl.name, "err", err)
	return err
}

// fail fails the round's appends from index i on, and every append queued
// behind them (their offsets follow the failed ones), and gives their
// offsets back. Earlier appends of the round stay written. ioMu held.
func (sl *shardLog) fail(i int, err error) {
	sl.failAt, sl.failErr = i, err
	sl.mu.Lock()
	if i < len(sl.curWaits) {
		sl.next = sl.curWaits[i].base
	}
	sl.abortPendingLocked()
	sl.mu.Unlock()
}

// abortPendingLocked moves queued appends to aborted; complete fails them.
// REQUIRES: mu held.
func (sl *shardLog) abortPendingLocked() {
	sl.aborted = append(sl.aborted, sl.waits...)
	clear(sl.waits)
	sl.waits, sl.pend = sl.waits[:0], sl.pend[:0]
}

// fatal handles a failed fsync in a worker round: the shard takes no more
// appends and acknowledges nothing of this round. ioMu held.
func (sl *shardLog) fatal(err error) {
	err = sl.markFailed(err)
	sl.fail(0, err)
	sl.roundSegs = sl.roundSegs[:0] // nothing of the round becomes visible
}

// markFailed makes a failed fsync sticky: later appends fail with ErrFailed.
// ioMu held.
func (sl *shardLog) markFailed(err error) error {
	mFsyncErrors.Inc()
	err = fmt.Errorf("%w: shard %s: %w", ErrFailed, sl.name, err)
	sl.e.log.Error("segment: fsync failed; shard stops accepting appends", "shard", sl.name, "err", err)
	sl.mu.Lock()
	sl.failed = err
	sl.mu.Unlock()
	return err
}

// syncPending fsyncs the active segment once if a Sync append or a flush
// is in the round (worker, ioMu held).
func (sl *shardLog) syncPending() {
	if !sl.needSync || sl.failAt == 0 {
		return
	}
	if err := sl.syncUnsynced(); err != nil {
		sl.fatal(err)
		return
	}
	if seg := sl.active(); seg != nil && seg.dirty && !seg.sealed {
		if err := sl.syncSeg(seg); err != nil {
			sl.fatal(err)
		}
	}
}

// openFile opens seg's log file for the worker (readers may race to it).
func (sl *shardLog) openFile(seg *segment) error {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return seg.openFile()
}

func (sl *shardLog) syncSeg(seg *segment) error {
	if err := sl.openFile(seg); err != nil {
		return err
	}
	t := time.Now()
	if err := sl.e.ops.sync(seg.f); err != nil {
		return fmt.Errorf("fdatasync %s: %w", seg.path(logSuffix), err)
	}
	mFsyncSeconds.UpdateDuration(t)
	mFsyncs.Inc()
	mBatchBytes.Update(float64(seg.dirtyBytes))
	seg.dirty, seg.dirtyBytes = false, 0
	if len(seg.idx)-seg.idxDone >= indexPersistEntries {
		sl.persistIndex(seg)
	}
	return nil
}

// indexPersistEntries batches index writes: the active segment's entries
// reach its index files in groups this big (and at seal and close), which
// keeps index writes off most group commits and bounds the tail a
// recovery rescans to this many index intervals.
const indexPersistEntries = 32

// persistIndex appends the index entries not yet in the index files. It
// runs right after an fsync, or at close after the flush, so persisted
// entries never point past durable data.
// Index writes are not synced: a lost or torn entry is rebuilt on mount.
func (sl *shardLog) persistIndex(seg *segment) {
	if len(seg.idx) == seg.idxDone && len(seg.tidx) == seg.tidxDone || seg.openIndexFiles() != nil {
		return
	}
	b := sl.scratch[:0]
	for _, e := range seg.idx[seg.idxDone:] {
		b = appendOffEntry(b, e)
	}
	if len(b) > 0 {
		if _, err := seg.idxF.WriteAt(b, int64(seg.idxDone)*offEntrySize); err == nil {
			seg.idxDone = len(seg.idx)
		}
	}
	b = b[:0]
	for _, e := range seg.tidx[seg.tidxDone:] {
		b = appendTimeEntry(b, e)
	}
	if len(b) > 0 {
		if _, err := seg.tidxF.WriteAt(b, int64(seg.tidxDone)*timeEntrySize); err == nil {
			seg.tidxDone = len(seg.tidx)
		}
	}
	sl.scratch = b[:0]
}

// seal stops writes to seg at a roll. Its fsync, final index entries and
// the release of its preallocated space (finishSeal) happen off the write
// path: on the engine's syncer goroutine, or sooner in a round that needs
// durability (syncPending). Either way segments become durable in order,
// so a durable byte never follows a hole. ioMu held.
func (sl *shardLog) seal(seg *segment) {
	sl.mu.Lock()
	seg.sealed = true
	sl.mu.Unlock()
	if !seg.dirty && len(sl.unsynced) == 0 {
		sl.finishSeal(seg)
		return
	}
	seg.sealPending = true
	sl.unsynced = append(sl.unsynced, seg)
	seg.acquire() // the syncer's; refs > 0: the shard's own reference is only dropped under ioMu
	select {
	case sl.e.sealq <- sealJob{sl, seg}:
	default:
		seg.release() // queue full: the next durable round or flush tick syncs it
	}
}

// finishSeal completes a sealed segment whose data is durable: the rest of
// its index and the final time entry, index fsync, preallocated blocks
// released. ioMu held.
func (sl *shardLog) finishSeal(seg *segment) {
	sl.mu.Lock()
	seg.tidx = append(seg.tidx, timeEntry{ts: seg.ix.maxTS, rel: uint32(seg.endOff - seg.base)})
	sl.mu.Unlock()
	sl.persistIndex(seg)
	if seg.idxF != nil {
		_ = seg.idxF.Sync() // best effort: a damaged index is rebuilt from the log
		_ = seg.tidxF.Sync()
	}
	seg.closeIndexFiles()
	if seg.alloc > seg.size {
		_ = sl.e.ops.truncate(seg.f, seg.size) // frees the preallocated blocks; readers stop at visible <= size
		seg.alloc = seg.size
	}
	seg.sealPending = false
}

// syncUnsynced makes the sealed segments awaiting their fsync durable, in
// order. ioMu held.
func (sl *shardLog) syncUnsynced() error {
	for len(sl.unsynced) > 0 {
		seg := sl.unsynced[0]
		if seg.dirty {
			if err := sl.syncSeg(seg); err != nil {
				return err
			}
		}
		sl.finishSeal(seg)
		sl.unsynced[0] = nil
		sl.unsynced = sl.unsynced[1:]
	}
	return nil
}

// sealJob asks the syncer to fsync a sealed segment of sl.
type sealJob struct {
	sl  *shardLog
	seg *segment
}

// syncSealed is the syncer's half of seal: fsync without ioMu (the shard's
// rounds go on meanwhile), then, under ioMu, finish the segment if every
// earlier one is finished. It owns one reference to seg.
func (sl *shardLog) syncSealed(seg *segment) {
	defer seg.release()
	sl.mu.Lock()
	err := seg.openFile() // a segment mounted and rolled unwritten has none yet
	f := seg.f
	sl.mu.Unlock()
	if err == nil {
		err = sl.e.ops.sync(f)
	}
	sl.ioMu.Lock()
	defer sl.ioMu.Unlock()
	if !seg.sealPending || len(sl.unsynced) == 0 {
		return // a durable round finished it first, or the shard is gone
	}
	if err != nil {
		sl.markFailed(fmt.Errorf("fdatasync %s: %w", seg.path(logSuffix), err))
		return
	}
	mFsyncs.Inc()
	seg.dirty, seg.dirtyBytes = false, 0
	if sl.unsynced[0] == seg {
		_ = sl.syncUnsynced() // seg is clean: nothing left to fail
	}
}

// roll starts a new active segment at base. An empty unsealed segment at
// the end (its base no longer fits) is dropped. ioMu held.
func (sl *shardLog) roll(base int64) (*segment, error) {
	seg := newSegment(sl.dir, base, &sl.e.opts)
	if err := seg.createFiles(); err != nil {
		seg.release()
		seg.removeFiles()
		return nil, fmt.Errorf("segment: shard %s: roll: %w", sl.name, err)
	}
	sl.mu.Lock()
	var drop *segment
	if a := sl.active(); a != nil && !a.sealed && a.size == 0 {
		drop = a
		sl.segs = sl.segs[:len(sl.segs)-1]
	}
	sl.segs = append(sl.segs, seg)
	sl.mu.Unlock()
	if drop != nil && drop.base != base {
		drop.removeFiles()
	}
	if drop != nil {
		drop.release()
	}
	return seg, nil
}

// publish makes the round's writes visible and moves the appends failed
// outside the round into it (worker, ioMu held).
func (sl *shardLog) publish() {
	ws := sl.curWaits
	sl.mu.Lock()
	for _, seg := range sl.roundSegs {
		// This process encoded and CRC'd these bytes and the write
		// returned them whole: as good as verified (doc.go, Verification).
		seg.markVerified(seg.visible, seg.size)
		seg.visible = seg.size
		seg.maxTS = seg.ix.maxTS
	}
	hw := sl.latest.Load()
	for i := range ws[:sl.failAt] {
		if ws[i].count > 0 {
			hw = ws[i].base + ws[i].count
		}
	}
	sl.latest.Store(hw)
	sl.curAborted, sl.aborted = sl.aborted, sl.curAborted[:0]
	sl.mu.Unlock()
}

// callbacks completes ws, the round's appends, in order and fires the
// waiters, with no lock held (worker goroutine, after publish). It returns
// the bytes completed and, of those, the bytes still reserved (appends
// aborted from the pending buffer; the round's own were unreserved when
// writePending took them). ws is passed in, not read from curWaits, which
// trim may reset once ioMu is free.
func (sl *shardLog) callbacks(ws []waiter) (n, reserved int64) {
	mRoundSeconds.Update(time.Since(sl.now).Seconds())
	for i := range ws {
		wt := &ws[i]
		n += wt.bytes
		if i < sl.failAt {
			wt.done(wt.base, nil)
		} else {
			wt.done(0, sl.failErr)
		}
	}
	clear(ws)
	for i := range sl.curAborted {
		reserved += sl.curAborted[i].bytes
		sl.curAborted[i].done(0, sl.failErr)
	}
	clear(sl.curAborted)
	sl.curAborted = sl.curAborted[:0]
	sl.wl.Notify(sl.latest.Load())
	return n + reserved, reserved
}

// readResult is a pooled shard.ReadResult with the segment references its
// views depend on.
type readResult struct {
	shard.ReadResult
	segs    []*segment
	hdrs    []shard.Header
	tags    [][]byte
	dec     []shard.Record // records of an opaque batch being decoded
	release func(*shard.ReadResult)
}

var resultPool sync.Pool // of *readResult

func getResult() *readResult {
	r, _ := resultPool.Get().(*readResult)
	if r == nil {
		r = &readResult{}
		r.release = func(*shard.ReadResult) { r.put() }
	}
	r.ReleaseFunc = r.release
	return r
}

func (r *readResult) put() {
	for _, s := range r.segs {
		s.release()
	}
	clear(r.segs)
	clear(r.Records)
	clear(r.hdrs)
	clear(r.tags)
	clear(r.dec)
	clear(r.Batches)
	r.segs, r.Records, r.hdrs, r.tags, r.dec, r.Batches = r.segs[:0], r.Records[:0], r.hdrs[:0], r.tags[:0], r.dec[:0], r.Batches[:0]
	r.Next, r.Earliest, r.Latest, r.Bytes = 0, 0, 0, 0
	resultPool.Put(r)
}

// filterKind says what a scan looks for.
type filterKind uint8

const (
	filterRead    filterKind = iota // every record, up to maxRecords/maxBytes
	filterKey                       // records whose key equals match
	filterTag                       // records carrying the tag match
	filterTime                      // the first record with a timestamp >= ts
	filterBatches                   // ReadBatches: records and opaque batches, up to maxBytes
)

// filter sees each record a scan meets: keep adds it to the result,
// more=false ends the scan after it. It is a struct rather than a closure
// so reads do not allocate.
type filter struct {
	kind       filterKind
	match      []byte
	ts         int64
	maxRecords int
	maxBytes   int
	found      int64 // filterTime: offset of the match, -1 if none
}

func (f *filter) visit(res *readResult, r *shard.Record) (keep, more bool) {
	switch f.kind {
	case filterRead:
		if len(res.Records) > 0 && res.Bytes+r.Size() > f.maxBytes {
			return false, false
		}
		return true, len(res.Records)+1 < f.maxRecords
	case filterBatches:
		if len(res.Batches) > 0 && res.Bytes+r.Size() > f.maxBytes {
			return false, false
		}
		res.AddToRun(r.Offset)
		return true, len(res.Records)+1 < shard.MaxRunRecords
	case filterKey:
		if r.Key == nil || string(r.Key) != string(f.match) {
			return false, true
		}
	case filterTag:
		i := 0
		for i < len(r.Tags) && string(r.Tags[i]) != string(f.match) {
			i++
		}
		if i == len(r.Tags) {
			return false, true
		}
	case filterTime:
		if r.Timestamp < f.ts {
			return false, true
		}
		f.found = r.Offset
		return false, false
	}
	return true, len(res.Records)+1 < f.maxRecords
}

// scan walks records from off on, segment by segment, calling fn, until fn
// says stop, the high-water mark is reached, or maxScan bytes of log were
// examined (0: no limit). res.Next is set one past the last record examined.
func (sl *shardLog) scan(res *readResult, off int64, maxScan int64, f *filter) error {
	res.Next = off
	var scanned int64
	for {
		sl.mu.Lock()
		hw := sl.latest.Load()
		if off >= hw || (maxScan > 0 && scanned >= maxScan) {
			sl.mu.Unlock()
			return nil
		}
		i := sort.Search(len(sl.segs), func(i int) bool { return sl.segs[i].base > off }) - 1
		if i < 0 {
			sl.mu.Unlock()
			return nil
		}
		seg := sl.segs[i]
		endOff := hw
		if i+1 < len(sl.segs) {
			endOff = min(hw, sl.segs[i+1].base)
		}
		start, err := sl.prepareRead(seg, off, endOff)
		if err != nil {
			sl.mu.Unlock()
			return err
		}
		seg.acquire()
		data := seg.data[:seg.visible]
		sl.mu.Unlock()

		kept := len(res.Records) + len(res.Batches)
		more, n, err := sl.scanSeg(res, seg, data, start, off, endOff, f)
		scanned += n
		if len(res.Records)+len(res.Batches) > kept {
			res.segs = append(res.segs, seg)
		} else {
			seg.release()
		}
		if err != nil && len(res.Records)+len(res.Batches) > 0 && errors.Is(err, ErrCorrupt) {
			return nil // return what precedes the damage; a read starting there fails
		}
		if err != nil || !more {
			return err
		}
		if endOff >= hw {
			res.Next = max(res.Next, endOff)
			return nil
		}
		off = endOff
		res.Next = max(res.Next, off)
	}
}

// prepareRead maps seg, loads its indexes and returns the position to
// start reading at for off. REQUIRES: mu held.
func (sl *shardLog) prepareRead(seg *segment, off, endOff int64) (int64, error) {
	// Map the whole segment size limit: a segment sealed by a roll may
	// still grow its visible length at the round's publish. Only a
	// segment's first batch can pass the limit, and a segment is mapped
	// only once something is visible.
	if err := seg.ensureMapped(sl.segBytes); err != nil {
		return 0, fmt.Errorf("segment: shard %s: %w", sl.name, err)
	}
	if seg.visible == 0 {
		return 0, nil
	}
	if int64(len(seg.data)) < seg.visible { // invariant; a panic here would take the broker down
		return 0, fmt.Errorf("segment: shard %s: %s: mapping of %d bytes shorter than its %d visible bytes", sl.name, seg.path(logSuffix), len(seg.data), seg.visible)
	}
	if err := seg.loadSealed(&sl.e.opts, endOff); err != nil {
		return 0, err
	}
	e := floorEntry(seg.idx, uint32(off-seg.base))
	if e.pos == 0 {
		return 0, nil
	}
	// The index is a hint: check the entry against the log and rebuild the
	// index when they disagree.
	if h, err := seg.batchAt(seg.data[:seg.visible], int64(e.pos)); err == nil && h.BaseOffset == seg.base+int64(e.rel) {
		return int64(e.pos), nil
	}
	if !seg.sealed {
		return 0, nil
	}
	sl.e.log.Warn("segment: index disagrees with log; rebuilding", "shard", sl.name, "segment", seg.path(idxSuffix))
	if err := seg.rebuildIndex(&sl.e.opts, endOff); err != nil {
		return 0, err
	}
	return int64(floorEntry(seg.idx, uint32(off-seg.base)).pos), nil
}

// scanSeg decodes the batches of data from start, calling fn for records in
// [off, endOff). It returns whether the scan goes on and bytes examined.
func (sl *shardLog) scanSeg(res *readResult, seg *segment, data []byte, start, off, endOff int64, f *filter) (bool, int64, error) {
	var rec shard.Record
	pos, expect := start, int64(-1) // expect: base offset the next batch must have
	// [runFrom, runTo): the batches this scan found intact, contiguous;
	// they join the segment's verified range when the scan ends.
	runFrom, runTo := int64(-1), int64(-1)
	defer func() {
		if runFrom >= 0 {
			seg.markVerified(runFrom, runTo)
		}
	}()
	for pos < int64(len(data)) {
		// Batches before off are skipped by their header alone; the CRC
		// is checked for the batches records are returned from, unless
		// an earlier read, the write or recovery verified them.
		h, err := DecodeHeader(data[pos:])
		if err == nil && expect >= 0 && h.BaseOffset != expect {
			err = corruptf("batch base offset " + strconv.FormatInt(h.BaseOffset, 10) + ", want " + strconv.FormatInt(expect, 10))
		}
		if err == nil && h.BaseOffset < endOff && h.NextOffset() <= off && int64(h.Len) <= int64(len(data))-pos {
			pos += int64(h.Len)
			expect = h.NextOffset()
			continue
		}
		if err == nil && !seg.isVerified(pos, pos+int64(h.Len)) {
			h, err = CheckBatch(data[pos:])
		}
		if err != nil {
			mCorrupt.Inc()
			return false, pos - start, fmt.Errorf("segment: shard %s: %s at byte %d: %w", sl.name, seg.path(logSuffix), pos, err)
		}
		if runFrom < 0 {
			runFrom = pos
		}
		runTo = pos + int64(h.Len)
		if h.BaseOffset >= endOff {
			break
		}
		expect = h.NextOffset()
		if h.Format() != FormatNative {
			more, err := sl.scanOpaque(res, data[pos:pos+int64(h.Len)], &h, off, f)
			if err != nil {
				return false, pos - start, fmt.Errorf("segment: shard %s: %s at byte %d: %w", sl.name, seg.path(logSuffix), pos, err)
			}
			if !more {
				return false, pos - start, nil
			}
			pos += int64(h.Len)
			continue
		}
		it := iterChecked(data[pos:], h)
		for {
			ok, hdrs, tags := it.Next(&rec, res.hdrs, res.tags)
			if !ok {
				break
			}
			if rec.Offset < off {
				continue
			}
			if rec.Offset >= endOff {
				return true, pos - start, nil
			}
			keep, more := f.visit(res, &rec)
			res.Next = rec.Offset + 1
			if keep {
				res.hdrs, res.tags = hdrs, tags
				res.Records = append(res.Records, rec)
				res.Bytes += rec.Size()
			}
			if !more {
				return false, pos - start, nil
			}
		}
		if err := it.Err(); err != nil {
			mCorrupt.Inc()
			return false, pos - start, fmt.Errorf("segment: shard %s: %s at byte %d: %w", sl.name, seg.path(logSuffix), pos, err)
		}
		pos += int64(h.Len)
	}
	return true, pos - start, nil
}

// scanOpaque is scanSeg for one opaque batch b (CRC checked, header h)
// whose records reach off: ReadBatches takes it whole, Read decodes it
// (Options.Decoder), time lookups see every record at h.MaxTS and key and
// tag lookups skip it. It returns whether the scan goes on.
func (sl *shardLog) scanOpaque(res *readResult, b []byte, h *BatchHeader, off int64, f *filter) (bool, error) {
	switch f.kind {
	case filterKey, filterTag:
		res.Next = h.NextOffset()
		return true, nil
	case filterTime:
		if h.MaxTS < f.ts {
			return true, nil
		}
		f.found = max(off, h.BaseOffset)
		return false, nil
	case filterBatches:
		payload := b[BatchHeaderSize:]
		if len(res.Batches) > 0 && res.Bytes+len(payload) > f.maxBytes {
			return false, nil
		}
		res.Batches = append(res.Batches, shard.Batch{Format: h.Format(), Base: h.BaseOffset, Count: int(h.Count),
			MaxTimestamp: h.MaxTS, Bytes: payload})
		res.Bytes += len(payload)
		res.Next = h.NextOffset()
		return true, nil
	}
	var err error
	res.dec, err = shard.DecodeBatch(sl.e.opts.Decoder, res.dec[:0], h.Format(), b[BatchHeaderSize:], h.BaseOffset, int(h.Count))
	if err != nil {
		return false, err
	}
	for i := range res.dec {
		r := &res.dec[i]
		if r.Offset < off {
			continue
		}
		r.Term = h.Term
		keep, more := f.visit(res, r)
		res.Next = r.Offset + 1
		if keep {
			res.Records = append(res.Records, *r)
			res.Bytes += r.Size()
		}
		if !more {
			return false, nil
		}
	}
	return true, nil
}

// offsetForTime implements OffsetForTimestamp.
func (sl *shardLog) offsetForTime(ts int64) (int64, error) {
	sl.mu.Lock()
	earliest, hw := sl.earliest(), sl.latest.Load()
	start := int64(-1)
	for i, seg := range sl.segs {
		endOff := hw
		if i+1 < len(sl.segs) {
			endOff = min(hw, sl.segs[i+1].base)
		}
		if endOff <= earliest || seg.visible == 0 {
			continue
		}
		if _, err := sl.prepareRead(seg, seg.base, endOff); err != nil {
			sl.mu.Unlock()
			return 0, err
		}
		if seg.maxTS >= ts {
			start = max(earliest, seg.base+int64(timeFloor(seg.tidx, ts)))
			break
		}
	}
	sl.mu.Unlock()
	if start < 0 {
		return hw, nil
	}
	res := getResult()
	defer res.put()
	f := filter{kind: filterTime, ts: ts, found: -1}
	if err := sl.scan(res, start, 0, &f); err != nil {
		return 0, err
	}
	if f.found < 0 {
		return hw, nil
	}
	return f.found, nil
}

func anyPending(segs []*segment) bool {
	for _, s := range segs {
		if s.sealPending {
			return true
		}
	}
	return false
}

// retire removes segs[i:j] from the list and unlinks their files, oldest
// first or, for a suffix, newest first, so a crash in between never leaves
// a gap. REQUIRES: ioMu and mu held. The caller releases the segments after
// unlocking.
func (sl *shardLog) retire(i, j int, newestFirst bool) []*segment {
	gone := append([]*segment(nil), sl.segs[i:j]...)
	sl.segs = append(sl.segs[:i], sl.segs[j:]...)
	for k := range gone {
		if newestFirst {
			k = len(gone) - 1 - k
		}
		gone[k].removeFiles()
		mSegmentsGone.Inc()
	}
	return gone
}

// enforceRetention deletes whole sealed segments from the front that are
// below the log start, past RetentionBytes or (byTime) older than
// RetentionMs as of nowMs.
func (sl *shardLog) enforceRetention(nowMs int64, byTime bool) error {
	sl.ioMu.Lock()
	defer sl.ioMu.Unlock()
	sl.mu.Lock()
	var total int64
	for _, s := range sl.segs {
		total += s.visible
	}
	n := 0
	var err error
	for ; n+1 < len(sl.segs); n++ {
		seg, endOff := sl.segs[n], sl.segs[n+1].base
		if endOff <= sl.logStart {
			total -= seg.visible
			continue
		}
		if sl.cfg.RetentionBytes > 0 && total-seg.visible >= sl.cfg.RetentionBytes {
			total -= seg.visible
			continue
		}
		if byTime && sl.cfg.RetentionMs > 0 {
			if _, err = sl.prepareRead(seg, seg.base, endOff); err != nil {
				break
			}
			if seg.maxTS < nowMs-sl.cfg.RetentionMs {
				total -= seg.visible
				continue
			}
		}
		break
	}
	if anyPending(sl.segs[:n]) {
		// A segment to delete still awaits its seal's fsync. Seals finish
		// in order (deleting one first could leave a durable segment behind
		// a hole after a crash): finish them now; ioMu keeps the list as is.
		sl.mu.Unlock()
		if serr := sl.syncUnsynced(); serr != nil {
			return sl.markFailed(serr)
		}
		sl.mu.Lock()
	}
	gone := sl.retire(0, n, false)
	sl.mu.Unlock()
	for _, s := range gone {
		s.release()
	}
	if len(gone) > 0 {
		if serr := syncDir(sl.dir); serr != nil && err == nil {
			err = fmt.Errorf("segment: shard %s: sync dir: %w", sl.name, serr)
		}
	}
	return err
}

// deleteRecords advances the log start to before (persisted first), then
// drops the segments wholly below it.
func (sl *shardLog) deleteRecords(before int64) error {
	sl.ioMu.Lock()
	sl.mu.Lock()
	before = min(before, sl.latest.Load())
	if before <= sl.earliest() {
		sl.mu.Unlock()
		sl.ioMu.Unlock()
		return nil
	}
	cfg := sl.cfg
	sl.mu.Unlock()
	err := writeMeta(sl.dir, &cfg, before)
	if err == nil {
		sl.mu.Lock()
		sl.logStart = before
		sl.mu.Unlock()
	}
	sl.ioMu.Unlock()
	if err != nil {
		return fmt.Errorf("segment: shard %s: delete records: %w", sl.name, err)
	}
	return sl.enforceRetention(0, false)
}

// truncateTo removes every record at or after off (raft: drop an
// uncommitted suffix). The segment holding off keeps its bytes below the
// batch containing off; the records of that batch below off are copied
// into a fresh segment that becomes the active one. Bytes above the cut
// stay mapped until their readers release them (then the file is cut);
// readers and recovery stop at the next segment's base, so stale bytes are
// never returned.
//
// Crash safety: the new segment is durable under a temp name before
// anything is removed; later segments are unlinked newest first; the
// rename that publishes the new segment comes last. A crash before the
// rename leaves the log as it was before the call, never a gap.
func (sl *shardLog) truncateTo(off int64) error {
	var (
		aborted  []waiter
		abortErr error
	)
	defer func() { sl.failAborted(aborted, abortErr) }() // after ioMu is released
	sl.ioMu.Lock()
	defer sl.ioMu.Unlock()
	if err := sl.syncUnsynced(); err != nil {
		return sl.markFailed(err)
	}
	sl.mu.Lock()
	hw := sl.latest.Load()
	if off < sl.earliest() || off > hw {
		sl.mu.Unlock()
		return fmt.Errorf("%w: shard %s: truncate to %d, log is [%d, %d)", shard.ErrOffsetOutOfRange, sl.name, off, sl.earliest(), hw)
	}
	if err := sl.refuse(); err != nil {
		sl.mu.Unlock()
		return err
	}
	// Queued appends were given offsets above hw: fail them.
	abortErr = fmt.Errorf("%w: shard %s: truncated to %d", ErrTruncated, sl.name, off)
	sl.abortPendingLocked()
	aborted = sl.aborted
	sl.aborted = nil
	sl.next = hw
	var (
		i       int
		seg     *segment
		cut     int64
		partial []byte
		err     error
	)
	if off < hw {
		i = sort.Search(len(sl.segs), func(i int) bool { return sl.segs[i].base > off }) - 1
		seg = sl.segs[i]
		var start int64
		if start, err = sl.prepareRead(seg, off, hw); err == nil {
			cut, partial, err = sl.splitBatch(seg, start, off)
		}
	}
	sl.mu.Unlock()
	if off == hw || err != nil {
		return err
	}
	newBase := off
	var ph BatchHeader
	if len(partial) > 0 {
		ph, _ = DecodeHeader(partial)
		newBase = ph.BaseOffset
	}
	final := filepath.Join(sl.dir, segName(newBase, logSuffix))
	if err := writeFileSynced(final+tmpSuffix, partial); err != nil {
		return err
	}
	if !seg.sealed && seg.dirty {
		if err := sl.syncSeg(seg); err != nil {
			return sl.markFailed(err)
		}
	}
	ns := newSegment(sl.dir, newBase, &sl.e.opts)
	sl.mu.Lock()
	gone := sl.retire(i+1, len(sl.segs), true)
	seg.closeIndexFiles()
	seg.removeIndexFiles()
	if cut == 0 {
		sl.segs = sl.segs[:i] // its .log is replaced by the rename below
		gone = append(gone, seg)
	} else {
		seg.visible, seg.size = cut, cut
		seg.sealed, seg.loaded = true, false
		if seg.refs.Load() == 1 && seg.openFile() == nil {
			// No reader holds views past the cut (readers take references
			// under mu): cut the file now.
			_ = sl.e.ops.truncate(seg.f, cut)
		} else {
			seg.shrinkTo = cut
		}
		seg.idx, seg.tidx = nil, nil
	}
	sl.mu.Unlock()
	for _, s := range gone {
		s.release()
	}
	if err := os.Rename(final+tmpSuffix, final); err != nil {
		ns.release()
		return fmt.Errorf("segment: shard %s: truncate to %d: %w", sl.name, off, err)
	}
	ns.removeIndexFiles()
	err = syncDir(sl.dir)
	if err == nil {
		ns.f, err = os.OpenFile(final, os.O_RDWR, 0)
	}
	if err != nil {
		ns.release()
		return fmt.Errorf("segment: shard %s: truncate to %d: %w", sl.name, off, err)
	}
	sl.mu.Lock()
	ns.loaded = true
	if len(partial) > 0 {
		ns.size, ns.visible, ns.alloc = int64(len(partial)), int64(len(partial)), int64(len(partial))
		ns.addIndex(&ns.ix, 0, &ph)
		ns.maxTS, ns.endOff = ns.ix.maxTS, ph.NextOffset()
	}
	sl.segs = append(sl.segs, ns)
	sl.next = off
	sl.latest.Store(off)
	sl.mu.Unlock()
	return nil
}

func (sl *shardLog) failAborted(ws []waiter, err error) {
	var n int64
	for i := range ws {
		n += ws[i].bytes
		ws[i].done(0, err)
	}
	sl.w.unreserve(n)
}

// splitBatch finds the batch of seg containing off, starting the search at
// byte start. It returns the batch's position (where seg is cut) and, if
// off is inside the batch, a copy of the batch holding only its records
// below off. REQUIRES: mu held, seg mapped.
func (sl *shardLog) splitBatch(seg *segment, start, off int64) (int64, []byte, error) {
	data := seg.data[:seg.visible]
	var cut int64 = -1
	var hb BatchHeader
	_, _, err := scanBatches(data, start, -1, math.MaxInt64, func(pos int64, h *BatchHeader) error {
		if h.NextOffset() > off {
			cut, hb = pos, *h
			return errStop
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	if cut < 0 {
		return 0, nil, fmt.Errorf("segment: offset %d not found in %s", off, seg.path(logSuffix))
	}
	if hb.BaseOffset == off {
		return cut, nil, nil
	}
	if hb.Format() != FormatNative {
		return 0, nil, fmt.Errorf("%w: shard %s: offset %d is inside the opaque batch [%d, %d], which cannot be split", shard.ErrInvalidArgument, sl.name, off, hb.BaseOffset, hb.LastOffset())
	}
	src := data[cut : cut+int64(hb.Len)]
	it := Iter(src, hb)
	var rec shard.Record
	var hdrs []shard.Header
	var tags [][]byte
	keep, maxTS := uint32(0), int64(math.MinInt64)
	var lastDelta uint32
	for {
		before := it.b
		var ok bool
		if ok, hdrs, tags = it.Next(&rec, hdrs[:0], tags[:0]); !ok || rec.Offset >= off {
			n := len(src) - len(before)
			out := append([]byte(nil), src[:n]...)
			h := hb
			h.Len, h.Count, h.LastDelta, h.MaxTS = uint32(n), keep, lastDelta, maxTS
			putHeader(out, &h)
			return cut, out, it.Err()
		}
		keep++
		lastDelta = uint32(rec.Offset - hb.BaseOffset)
		maxTS = max(maxTS, rec.Timestamp)
	}
}

// logTruncation records a torn or corrupt tail cut during recovery.
func logTruncation(l *slog.Logger, name, path string, at, size int64, cause error) {
	mTruncated.Add(int(size - at))
	l.Warn("segment: truncated torn or corrupt tail", "shard", name, "file", path,
		"at", at, "bytes", size-at, "cause", cause)
}
