package segment

import (
	"encoding/binary"
	"math"
	"sort"
)

// Index entry sizes; layouts drawn in doc.go, frozen.
const (
	offEntrySize  = 8  // relOffset uint32, position uint32
	timeEntrySize = 12 // maxTsBefore int64, relOffset uint32
)

// offEntry says: the batch whose base offset is segment base + rel starts
// at byte pos of the segment file.
type offEntry struct {
	rel uint32
	pos uint32
}

// timeEntry says: every record of the segment with relative offset below
// rel has a timestamp <= ts. Entries are taken at the same batches as the
// offset index (ts = running max before that batch); a sealed segment's last
// time entry has rel = record count and ts = the segment's max timestamp.
type timeEntry struct {
	ts  int64
	rel uint32
}

func appendOffEntry(dst []byte, e offEntry) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, e.rel)
	return binary.LittleEndian.AppendUint32(dst, e.pos)
}

func appendTimeEntry(dst []byte, e timeEntry) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.ts))
	return binary.LittleEndian.AppendUint32(dst, e.rel)
}

// loadOffIndex decodes an offset index file and keeps its longest valid
// prefix: the first entry is (0, 0), rel and pos strictly increase and pos
// stays below size (the segment's data length). A torn trailing entry and
// everything after the first bad entry are dropped; the caller rebuilds the
// rest from the log. dst is reused.
func loadOffIndex(dst []offEntry, b []byte, size int64) []offEntry {
	dst = dst[:0]
	for len(b) >= offEntrySize {
		e := offEntry{rel: binary.LittleEndian.Uint32(b), pos: binary.LittleEndian.Uint32(b[4:])}
		b = b[offEntrySize:]
		if int64(e.pos) >= size {
			break
		}
		if n := len(dst); n == 0 && (e.rel != 0 || e.pos != 0) || n > 0 && (e.rel <= dst[n-1].rel || e.pos <= dst[n-1].pos) {
			break
		}
		dst = append(dst, e)
	}
	return dst
}

// loadTimeIndex decodes a time index file and keeps its longest valid
// prefix: rel strictly increases and ts never decreases. dst is reused.
func loadTimeIndex(dst []timeEntry, b []byte) []timeEntry {
	dst = dst[:0]
	for len(b) >= timeEntrySize {
		e := timeEntry{ts: int64(binary.LittleEndian.Uint64(b)), rel: binary.LittleEndian.Uint32(b[8:])}
		b = b[timeEntrySize:]
		if n := len(dst); n > 0 && (e.rel <= dst[n-1].rel || e.ts < dst[n-1].ts) {
			break
		}
		dst = append(dst, e)
	}
	return dst
}

// floorEntry returns the last entry with rel <= rel (entries start at rel 0).
func floorEntry(idx []offEntry, rel uint32) offEntry {
	i := sort.Search(len(idx), func(i int) bool { return idx[i].rel > rel })
	if i == 0 {
		return offEntry{}
	}
	return idx[i-1]
}

// timeFloor returns the largest rel whose time entry says every record
// before it is older than ts: a lookup for ts may start there.
func timeFloor(tidx []timeEntry, ts int64) uint32 {
	i := sort.Search(len(tidx), func(i int) bool { return tidx[i].ts >= ts })
	if i == 0 {
		return 0
	}
	return tidx[i-1].rel
}

// indexer decides where index entries go while batches are appended to a
// segment: one entry when intervalBytes of log or intervalRecs records have
// passed since the last one, and always for the segment's first batch.
type indexer struct {
	intervalBytes int64
	intervalRecs  int64
	lastPos       int64 // position of the last entry, -1 if none
	bytesSince    int64
	recsSince     int64
	maxTS         int64 // running max timestamp of the segment so far
}

func newIndexer(intervalBytes, intervalRecs int64) indexer {
	return indexer{intervalBytes: intervalBytes, intervalRecs: intervalRecs, lastPos: -1, maxTS: math.MinInt64}
}

// add reports whether the batch at pos needs an index entry and returns the
// time entry value (the running max before it), then accounts the batch.
func (x *indexer) add(pos int64, h *BatchHeader) (bool, int64) {
	need := x.lastPos < 0 || x.bytesSince >= x.intervalBytes || x.recsSince >= x.intervalRecs
	before := x.maxTS
	if need {
		x.lastPos, x.bytesSince, x.recsSince = pos, 0, 0
	}
	x.bytesSince += int64(h.Len)
	x.recsSince += int64(h.Count)
	x.maxTS = max(x.maxTS, h.MaxTS)
	return need, before
}
