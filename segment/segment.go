package segment

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"robustmq/shard"
)

// File name suffixes; a segment is three files named by its zero-padded
// base offset: 00000000000000000000.log, .index and .timeindex.
const (
	logSuffix  = ".log"
	idxSuffix  = ".index"
	tidxSuffix = ".timeindex"
	tmpSuffix  = ".tmp"
)

func segName(base int64, suffix string) string {
	s := strconv.FormatInt(base, 10)
	return strings.Repeat("0", max(0, 20-len(s))) + s + suffix
}

// segment is one log file with its two indexes. A segment is shared by the
// shard and its readers through a reference count: the shard holds one
// reference while the segment is in its list, each reader one while it uses
// views of the mapping. The mapping and file are released with the last
// reference, so a reader can never touch unmapped memory.
type segment struct {
	base int64
	dir  string
	refs atomic.Int32

	// f and data are set once, under the shard's mu (by the creator, the
	// worker or the first reader), and released by destroy after the last
	// reference. idxF and tidxF are opened lazily by the holder of ioMu
	// and closed when the segment is sealed.
	f           *os.File
	data        []byte // read-only MAP_SHARED mapping, nil until first read
	idxF, tidxF *os.File

	// Guarded by shardLog.mu; written only by the holder of shardLog.ioMu.
	visible int64       // bytes readers may look at
	maxTS   int64       // max record timestamp of the visible batches
	idx     []offEntry  // sparse offset index
	tidx    []timeEntry // time index, parallel to idx (+ final entry when sealed)
	sealed  bool        // no more writes (idxF/tidxF close when the seal finishes)
	loaded  bool        // idx, tidx and maxTS are valid (sealed segments load lazily)

	// Guarded by shardLog.ioMu.
	size        int64 // bytes of log data in the file
	alloc       int64 // file space reserved by fallocate
	endOff      int64 // offset after the last batch written; -1 if unknown (sealed, unloaded)
	ix          indexer
	idxDone     int   // idx entries already written to idxF
	tidxDone    int   // tidx entries already written to tidxF
	dirty       bool  // written since the last fsync
	dirtyBytes  int64 // bytes written since the last fsync
	sealPending bool  // sealed, its fsync and finishSeal still to come
	created     time.Time
	shrinkTo    int64 // cut the file to this size at the last release; -1: keep

	// verified packs the byte range [lo, hi) of the log known to pass its
	// batch CRCs as lo<<32 | hi (segments are < 4 GiB: index positions are
	// uint32). Readers skip the CRC of batches inside it. Any goroutine
	// may widen it (markVerified); it never covers bytes past visible
	// that a later write could change (see doc.go, Verification).
	verified atomic.Uint64
}

func newSegment(dir string, base int64, o *Options) *segment {
	s := &segment{base: base, dir: dir, maxTS: math.MinInt64, endOff: base, shrinkTo: -1,
		ix: newIndexer(o.IndexIntervalBytes, o.IndexIntervalRecords), created: time.Now()}
	s.refs.Store(1)
	mOpenSegments.Inc()
	return s
}

// isVerified reports whether [pos, end) lies in the verified range.
func (s *segment) isVerified(pos, end int64) bool {
	v := s.verified.Load()
	return pos >= int64(v>>32) && end <= int64(uint32(v))
}

// batchAt decodes the batch at data[pos:] (data: the visible mapping) and
// checks its CRC unless it lies in the verified range.
func (s *segment) batchAt(data []byte, pos int64) (BatchHeader, error) {
	h, err := DecodeHeader(data[pos:])
	if err == nil && s.isVerified(pos, pos+int64(h.Len)) {
		return h, nil
	}
	return CheckBatch(data[pos:])
}

// markVerified merges [from, to), batches that just passed their CRC (or
// were written by this process), into the verified range. A range that
// neither touches nor overlaps it is dropped, unless there is none yet:
// one interval keeps the check free, and a region read for the first time
// joins it once its reader reaches it.
func (s *segment) markVerified(from, to int64) {
	if from >= to || from < 0 || to > math.MaxUint32 {
		return
	}
	for {
		v := s.verified.Load()
		lo, hi := int64(v>>32), int64(uint32(v))
		switch {
		case lo == hi:
			lo, hi = from, to
		case from <= hi && to >= lo:
			lo, hi = min(lo, from), max(hi, to)
		default:
			return
		}
		if n := uint64(lo)<<32 | uint64(hi); n == v || s.verified.CompareAndSwap(v, n) {
			return
		}
	}
}

func (s *segment) path(suffix string) string { return filepath.Join(s.dir, segName(s.base, suffix)) }

// createFiles creates the segment's log file, removes index files left by
// an earlier segment of the same base, and makes the entries durable.
func (s *segment) createFiles() error {
	var err error
	if s.f, err = os.OpenFile(s.path(logSuffix), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
		return fmt.Errorf("segment: create %s: %w", s.path(logSuffix), err)
	}
	s.removeIndexFiles()
	if err = syncDir(s.dir); err != nil {
		return fmt.Errorf("segment: sync dir %s: %w", s.dir, err)
	}
	s.loaded = true
	return nil
}

// openFile opens the log file if it is not open: mounted segments hold no
// descriptor until first read or write. REQUIRES: shardLog.mu held.
func (s *segment) openFile() error {
	if s.f != nil {
		return nil
	}
	f, err := os.OpenFile(s.path(logSuffix), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("segment: open %s: %w", s.path(logSuffix), err)
	}
	s.f = f
	return nil
}

// openIndexFiles opens the index files for appending entries; the active
// segment keeps them open until its seal finishes. REQUIRES: shardLog.ioMu held.
func (s *segment) openIndexFiles() error {
	if s.idxF != nil {
		return nil
	}
	idx, err := os.OpenFile(s.path(idxSuffix), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	tidx, err := os.OpenFile(s.path(tidxSuffix), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		idx.Close()
		return err
	}
	s.idxF, s.tidxF = idx, tidx
	return nil
}

// acquire takes a reference. REQUIRES: shardLog.mu (a reader) or ioMu (the
// syncer's, taken by seal) held, and s in the shard's list, so the shard's
// own reference keeps refs above zero.
func (s *segment) acquire() { s.refs.Add(1) }

// release drops a reference; the last one unmaps and closes the segment.
func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		s.destroy()
	}
}

func (s *segment) destroy() {
	if s.data != nil {
		_ = munmap(s.data)
		s.data = nil
	}
	if s.f != nil {
		if s.shrinkTo >= 0 {
			_ = s.f.Truncate(s.shrinkTo) // best effort: readers bound the data by the next segment anyway
		}
		_ = s.f.Close()
	}
	s.closeIndexFiles()
	mOpenSegments.Dec()
}

func (s *segment) closeIndexFiles() {
	if s.idxF != nil {
		_ = s.idxF.Close()
		_ = s.tidxF.Close()
		s.idxF, s.tidxF = nil, nil
	}
}

// removeFiles unlinks the segment's files; open descriptors and mappings
// stay valid until destroy.
func (s *segment) removeFiles() {
	_ = os.Remove(s.path(logSuffix)) // a failure leaves a file the next mount removes or bounds
	s.removeIndexFiles()
}

func (s *segment) removeIndexFiles() {
	_ = os.Remove(s.path(idxSuffix))
	_ = os.Remove(s.path(tidxSuffix))
}

// ensureMapped opens and maps the segment for reading. mapLen is the
// virtual size to map (the segment size limit for a segment that still
// grows). REQUIRES: shardLog.mu held.
func (s *segment) ensureMapped(mapLen int64) error {
	if s.data != nil || s.visible == 0 {
		return nil
	}
	if err := s.openFile(); err != nil {
		return err
	}
	data, err := mmap(s.f, max(mapLen, s.visible))
	if err != nil {
		return fmt.Errorf("segment: mmap %s: %w", s.path(logSuffix), err)
	}
	s.data = data
	return nil
}

// errStop ends a scan early without error.
var errStop = errors.New("stop")

// scanBatches walks the batches of data from pos, expecting the first at
// offset next (-1: any). Every batch must pass its CRC, decode cleanly and
// continue the offsets. It stops at the end of data, before a batch whose
// base is >= stopOff, when fn returns errStop, or at the first bad batch
// (returned error wraps ErrCorrupt; errTorn if the data ends mid-batch).
// It returns where it stopped: byte position and next offset.
func scanBatches(data []byte, pos, next, stopOff int64, fn func(pos int64, h *BatchHeader) error) (int64, int64, error) {
	var (
		rec  shard.Record
		hdrs []shard.Header
		tags [][]byte
	)
	for pos < int64(len(data)) {
		h, err := CheckBatch(data[pos:])
		if err != nil {
			return pos, next, err
		}
		if next >= 0 && h.BaseOffset != next {
			return pos, next, corruptf("batch base offset " + strconv.FormatInt(h.BaseOffset, 10) + ", want " + strconv.FormatInt(next, 10))
		}
		if h.BaseOffset >= stopOff {
			return pos, next, nil
		}
		if h.Format() == FormatNative { // an opaque payload is covered by the batch CRC alone
			it := Iter(data[pos:], h)
			for {
				var ok bool
				if ok, hdrs, tags = it.Next(&rec, hdrs[:0], tags[:0]); !ok {
					break
				}
			}
			if it.Err() != nil {
				return pos, next, it.Err()
			}
		}
		if fn != nil {
			if err := fn(pos, &h); err != nil {
				if err == errStop {
					return pos, next, nil
				}
				return pos, next, err
			}
		}
		pos += int64(h.Len)
		next = h.NextOffset()
	}
	return pos, next, nil
}

// rebuildIndex recomputes the indexes of a sealed segment from its mapped
// data up to endOff and rewrites the index files. REQUIRES: shardLog.mu
// held, s mapped.
func (s *segment) rebuildIndex(o *Options, endOff int64) error {
	mIndexRebuilds.Inc()
	ix := newIndexer(o.IndexIntervalBytes, o.IndexIntervalRecords)
	s.idx, s.tidx = s.idx[:0], s.tidx[:0]
	end, next, err := scanBatches(s.data[:s.visible], 0, s.base, endOff, func(pos int64, h *BatchHeader) error {
		s.addIndex(&ix, pos, h)
		return nil
	})
	if err != nil {
		mCorrupt.Inc()
		return fmt.Errorf("segment: %s: rebuild index: %w", s.path(logSuffix), err)
	}
	s.markVerified(0, end)
	s.maxTS = ix.maxTS
	s.tidx = append(s.tidx, timeEntry{ts: ix.maxTS, rel: uint32(next - s.base)})
	s.loaded = true
	return s.writeSealedIndex()
}

// addIndex adds the entries for the batch at pos, if ix says it needs them.
func (s *segment) addIndex(ix *indexer, pos int64, h *BatchHeader) {
	if need, before := ix.add(pos, h); need {
		rel := uint32(h.BaseOffset - s.base)
		s.idx = append(s.idx, offEntry{rel: rel, pos: uint32(pos)})
		s.tidx = append(s.tidx, timeEntry{ts: before, rel: rel})
	}
}

// writeSealedIndex rewrites both index files of a sealed segment from
// memory, atomically (temp file, fsync, rename).
func (s *segment) writeSealedIndex() error {
	buf := make([]byte, 0, len(s.idx)*offEntrySize)
	for _, e := range s.idx {
		buf = appendOffEntry(buf, e)
	}
	if err := writeFileAtomic(s.path(idxSuffix), buf); err != nil {
		return err
	}
	buf = make([]byte, 0, len(s.tidx)*timeEntrySize)
	for _, e := range s.tidx {
		buf = appendTimeEntry(buf, e)
	}
	return writeFileAtomic(s.path(tidxSuffix), buf)
}

// loadSealed loads the indexes of a sealed segment whose records end
// before endOff, rebuilding them from the log when they are missing or do
// not agree with each other. REQUIRES: shardLog.mu held, s mapped.
func (s *segment) loadSealed(o *Options, endOff int64) error {
	if s.loaded {
		return nil
	}
	ib, _ := os.ReadFile(s.path(idxSuffix))
	tb, _ := os.ReadFile(s.path(tidxSuffix))
	s.idx = loadOffIndex(s.idx, ib, s.visible)
	s.tidx = loadTimeIndex(s.tidx, tb)
	ok := len(s.idx) > 0 && len(s.tidx) == len(s.idx)+1 && s.tidx[len(s.idx)].rel == uint32(endOff-s.base)
	for i := 0; ok && i < len(s.idx); i++ {
		ok = s.idx[i].rel == s.tidx[i].rel
	}
	if ok {
		s.maxTS = s.tidx[len(s.idx)].ts
		s.loaded = true
		return nil
	}
	if s.visible == 0 {
		s.loaded = true
		return nil
	}
	return s.rebuildIndex(o, endOff)
}

// writeFileSynced creates path holding data, durably (but not its
// directory entry).
func writeFileSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("segment: create %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("segment: write %s: %w", path, err)
	}
	return nil
}

// writeFileAtomic replaces path with data: temp file, fsync, rename, dir fsync.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + tmpSuffix
	err := writeFileSynced(tmp, data)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("segment: write %s: %w", path, err)
	}
	return nil
}
