package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"robustmq/shard"
)

const (
	metaFile    = "shard.meta"
	metaMagic   = "RMQS"
	metaVersion = 1
	metaFixed   = 42 // bytes before the name
)

// writeMeta atomically writes the shard's meta file.
func writeMeta(dir string, cfg *shard.ShardConfig, logStart int64) error {
	return writeFileAtomic(filepath.Join(dir, metaFile), encodeMeta(cfg, logStart))
}

// encodeMeta encodes a meta file (layout in doc.go).
func encodeMeta(cfg *shard.ShardConfig, logStart int64) []byte {
	b := make([]byte, 0, metaFixed+len(cfg.Name)+4)
	b = append(b, metaMagic...)
	b = binary.LittleEndian.AppendUint32(b, metaVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(cfg.RetentionBytes))
	b = binary.LittleEndian.AppendUint64(b, uint64(cfg.RetentionMs))
	b = binary.LittleEndian.AppendUint64(b, uint64(cfg.SegmentBytes))
	b = binary.LittleEndian.AppendUint64(b, uint64(logStart))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(cfg.Name)))
	b = append(b, cfg.Name...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeMeta parses a meta file; errors name what is wrong.
func decodeMeta(b []byte) (cfg shard.ShardConfig, logStart int64, err error) {
	le := binary.LittleEndian
	switch {
	case len(b) < metaFixed+4:
		return cfg, 0, errors.New("meta file too short")
	case string(b[:4]) != metaMagic || le.Uint32(b[4:]) != metaVersion:
		return cfg, 0, errors.New("meta file: bad magic or version")
	case crc32.Checksum(b[:len(b)-4], castagnoli) != le.Uint32(b[len(b)-4:]):
		return cfg, 0, errors.New("meta file: CRC mismatch")
	case int(le.Uint16(b[40:])) != len(b)-metaFixed-4:
		return cfg, 0, errors.New("meta file: name length mismatch")
	}
	cfg = shard.ShardConfig{
		Name:           string(b[metaFixed : len(b)-4]),
		Engine:         shard.EngineSegment,
		RetentionBytes: int64(le.Uint64(b[8:])),
		RetentionMs:    int64(le.Uint64(b[16:])),
		SegmentBytes:   int64(le.Uint64(b[24:])),
	}
	logStart = int64(le.Uint64(b[32:]))
	if logStart < 0 {
		return cfg, 0, errors.New("meta file: negative log start")
	}
	return cfg, logStart, shard.ValidateConfig(&cfg)
}

// dirName maps a shard name to a directory name: safe bytes kept, others
// %XX-escaped; long names are cut and suffixed with a hash. The real name
// lives in the meta file, so the mapping need not be reversible.
func dirName(name string) string {
	var sb strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' && i > 0 {
			sb.WriteByte(c)
		} else {
			sb.WriteString("%" + strconv.FormatUint(uint64(c)>>4, 16) + strconv.FormatUint(uint64(c)&15, 16))
		}
	}
	s := sb.String()
	if len(s) > 200 {
		s = s[:160] + "~" + strconv.FormatUint(uint64(crc32.Checksum([]byte(name), castagnoli)), 16) +
			strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(name))), 16)
	}
	return s
}

// mountShard opens the shard in dir: its meta, its sealed segments (lazily:
// name and size only) and its active segment (recovered now).
func (e *EngineSegment) mountShard(dir string) (*shardLog, error) {
	mb, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return nil, err
	}
	cfg, logStart, err := decodeMeta(mb)
	if err != nil {
		return nil, fmt.Errorf("segment: %s: %w", filepath.Join(dir, metaFile), err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	sl := e.newShardLog(cfg, dir, logStart)
	type logFile struct {
		base int64
		size int64
	}
	var logs []logFile
	names := map[string]bool{}
	for _, de := range ents {
		n := de.Name()
		names[n] = true
		switch {
		case strings.HasSuffix(n, tmpSuffix):
			_ = os.Remove(filepath.Join(dir, n)) // an unfinished atomic write
		case strings.HasSuffix(n, logSuffix):
			base, perr := strconv.ParseInt(strings.TrimSuffix(n, logSuffix), 10, 64)
			if perr != nil || base < 0 {
				continue
			}
			fi, ierr := de.Info()
			if ierr != nil {
				return nil, ierr
			}
			logs = append(logs, logFile{base, fi.Size()})
		}
	}
	sort.Slice(logs, func(i, j int) bool { return logs[i].base < logs[j].base })
	// Segments wholly below the log start (a crash between DeleteRecords'
	// meta write and the unlink) go now.
	for len(logs) > 1 && logs[1].base <= logStart {
		s := newSegment(dir, logs[0].base, &e.opts)
		s.removeFiles()
		s.release()
		logs = logs[1:]
	}
	for i, lf := range logs {
		s := newSegment(dir, lf.base, &e.opts)
		if i < len(logs)-1 {
			s.size, s.visible, s.alloc, s.sealed, s.loaded, s.endOff = lf.size, lf.size, lf.size, true, false, -1
			sl.segs = append(sl.segs, s)
			continue
		}
		if _, err := sl.recoverTail(s, math.MaxInt64); err != nil {
			s.release()
			sl.closeSegs()
			return nil, err
		}
		sl.segs = append(sl.segs, s)
	}
	if err := sl.recoverSealed(); err != nil {
		sl.closeSegs()
		return nil, err
	}
	sl.next = logStart
	if a := sl.active(); a != nil {
		sl.next = max(a.endOff, logStart)
	}
	sl.latest.Store(sl.next)
	return sl, nil
}

// recoverSealed finds the sealed segments whose seal never finished (a
// crash between a roll and the segment's fsync). Seals finish in order, so
// only the newest can be unfinished: it walks back from the newest until
// one is finished, recovering the others like the active segment. A torn
// one ends the log: what followed it was never made durable (segments are
// made durable in order), so the later segments are dropped.
func (sl *shardLog) recoverSealed() error {
	for i := len(sl.segs) - 2; i >= 0; i-- {
		s, next := sl.segs[i], sl.segs[i+1].base
		if sealFinished(s, next) {
			return nil
		}
		torn, err := sl.recoverTail(s, next)
		if err != nil {
			return err
		}
		// Not torn but short of next: a gap below the log start (the
		// next segment starts at it), not lost data.
		if torn {
			sl.e.log.Warn("segment: sealed segment torn by a crash; dropping the segments after it",
				"shard", sl.name, "file", s.path(logSuffix), "end", s.endOff, "next", next)
			for _, d := range sl.segs[i+1:] {
				d.removeFiles()
				d.release()
			}
			sl.segs = sl.segs[:i+1]
			s.sealed = false // it is the active segment now
			continue
		}
		s.tidx = append(s.tidx, timeEntry{ts: s.ix.maxTS, rel: uint32(next - s.base)})
		if err := s.writeSealedIndex(); err != nil {
			return err
		}
		s.sealed, s.dirty = true, false
	}
	return nil
}

// sealFinished reports whether s's time index ends with the final entry a
// finished seal writes (rel = the record count up to next).
func sealFinished(s *segment, next int64) bool {
	f, err := os.Open(s.path(tidxSuffix))
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() < timeEntrySize {
		return false
	}
	var b [timeEntrySize]byte
	if _, err := f.ReadAt(b[:], fi.Size()/timeEntrySize*timeEntrySize-timeEntrySize); err != nil {
		return false
	}
	return binary.LittleEndian.Uint32(b[8:]) == uint32(next-s.base)
}

// recoverTail opens a segment that may have a torn tail (the active one,
// or a sealed one whose seal did not finish), checks its indexes against
// the log, scans the log from the last good index entry up to stopOff and
// cuts a torn or corrupt tail (torn reports that) or stale records at and
// past stopOff.
func (sl *shardLog) recoverTail(s *segment, stopOff int64) (torn bool, err error) {
	f, err := os.OpenFile(s.path(logSuffix), os.O_RDWR, 0)
	if err != nil {
		return false, fmt.Errorf("segment: shard %s: %w", sl.name, err)
	}
	s.f = f
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("segment: shard %s: %w", sl.name, err)
	}
	size := fi.Size()
	defer func() { // mounted shards hold no descriptors until used
		if stopOff != math.MaxInt64 {
			// A sealed segment is about to be marked finished, after which
			// mounts never scan it: make what the scan kept durable first.
			_ = f.Sync()
		}
		f.Close()
		s.f = nil
	}()
	ib, _ := os.ReadFile(s.path(idxSuffix))
	tb, _ := os.ReadFile(s.path(tidxSuffix))
	idx := loadOffIndex(nil, ib, size)
	tidx := loadTimeIndex(nil, tb)
	k := 0
	for k < len(idx) && k < len(tidx) && idx[k].rel == tidx[k].rel {
		k++
	}
	var data []byte
	if size > 0 {
		if data, err = mmap(f, size); err != nil {
			return false, fmt.Errorf("segment: shard %s: mmap %s: %w", sl.name, s.path(logSuffix), err)
		}
		defer munmap(data)
	}
	// The last entry must point at an intact batch with the offset it
	// names; walk back until one does.
	for ; k > 0; k-- {
		e := idx[k-1]
		if h, err := CheckBatch(data[e.pos:]); err == nil && h.BaseOffset == s.base+int64(e.rel) {
			break
		}
	}
	start, next := int64(0), s.base
	if k > 0 {
		start, next = int64(idx[k-1].pos), s.base+int64(idx[k-1].rel)
		s.ix.maxTS = tidx[k-1].ts
		k-- // the entry is re-added by the scan
	}
	s.idx, s.tidx = idx[:k], tidx[:k]
	end, next, serr := scanBatches(data, start, next, stopOff, func(pos int64, h *BatchHeader) error {
		s.addIndex(&s.ix, pos, h)
		return nil
	})
	if end < size {
		if err := f.Truncate(end); err != nil {
			return false, fmt.Errorf("segment: shard %s: truncate %s: %w", sl.name, s.path(logSuffix), err)
		}
		logTruncation(sl.e.log, sl.name, s.path(logSuffix), end, size, serr)
	}
	// Entries past the verified prefix are rewritten after the next fsync.
	if len(ib) > k*offEntrySize {
		_ = os.Truncate(s.path(idxSuffix), int64(k)*offEntrySize)
	}
	if len(tb) > k*timeEntrySize {
		_ = os.Truncate(s.path(tidxSuffix), int64(k)*timeEntrySize)
	}
	s.markVerified(start, end)
	s.idxDone, s.tidxDone = k, k
	s.size, s.visible, s.alloc, s.endOff = end, end, end, next
	s.maxTS, s.loaded = s.ix.maxTS, true
	s.dirty = end > start // what the scan found may predate the crash's last fsync
	return serr != nil, nil
}

// closeSegs drops the shard's references to its segments.
func (sl *shardLog) closeSegs() {
	for _, s := range sl.segs {
		s.release()
	}
	sl.segs = nil
}

// isNotExist reports a missing file or directory.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
