package segment

import (
	"encoding/binary"
	"hash/crc32"
	"math"

	"robustmq/shard"
)

// Batch header field offsets; the layout is drawn in doc.go and frozen.
const (
	hdrLen        = 0  // uint32 total batch length, header included
	hdrCRC        = 4  // uint32 CRC32C of bytes [8, len)
	hdrMagic      = 8  // uint8 batchMagic
	hdrVersion    = 9  // uint8 batchVersion
	hdrAttrs      = 10 // uint16 attributes
	hdrCount      = 12 // uint32 record count
	hdrBase       = 16 // int64 base offset
	hdrLastDelta  = 24 // uint32 offset delta of the last record
	hdrEpoch      = 28 // int16 producer epoch (-1: none)
	hdrReserved1  = 30 // uint16 zero
	hdrFirstTS    = 32 // int64 first timestamp, ms
	hdrMaxTS      = 40 // int64 max timestamp, ms
	hdrTerm       = 48 // uint64 raft term (0: not replicated)
	hdrProducerID = 56 // int64 producer id (-1: none)
	hdrSequence   = 64 // int32 base sequence (-1: none)
	hdrReserved2  = 68 // uint32 zero

	// BatchHeaderSize is the fixed size of a batch header.
	BatchHeaderSize = 72

	batchMagic   = 0xB5
	batchVersion = 1

	// FormatNative is attribute format 0: the records are robustmq record
	// frames. FormatKafkaV2 (1, shard.BatchKafkaV2) is a Kafka v2 record
	// batch stored verbatim after the header (AppendOpaque).
	FormatNative  = 0
	FormatKafkaV2 = 1
	formatMask    = 0x0007

	// maxFrameLen bounds one record frame body so a corrupt length cannot
	// make the decoder look far past its input.
	maxFrameLen = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the decoded fixed header of one batch.
type BatchHeader struct {
	Len           uint32
	CRC           uint32
	Attrs         uint16
	Count         uint32
	BaseOffset    int64
	LastDelta     uint32
	ProducerEpoch int16
	FirstTS       int64
	MaxTS         int64
	Term          uint64
	ProducerID    int64
	Sequence      int32
}

// Format is the batch's payload format (attribute bits 0-2).
func (h *BatchHeader) Format() shard.BatchFormat { return shard.BatchFormat(h.Attrs & formatMask) }

// LastOffset is the offset of the last record of the batch.
func (h *BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastDelta) }

// NextOffset is one past the last record of the batch.
func (h *BatchHeader) NextOffset() int64 { return h.BaseOffset + int64(h.LastDelta) + 1 }

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func varintLen(v int64) int { return uvarintLen(uint64(v<<1) ^ uint64(v>>63)) }

// bytesLen is the encoded size of a nullable byte string (varint length, -1 = nil).
func bytesLen(b []byte) int {
	if b == nil {
		return varintLen(-1)
	}
	return varintLen(int64(len(b))) + len(b)
}

func appendNullable(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// recordBodyLen is the size of a record frame body: everything after the
// frame's length and CRC.
func recordBodyLen(r *shard.Record, offDelta uint32, tsDelta int64) int {
	n := 1 + uvarintLen(uint64(offDelta)) + varintLen(tsDelta) + bytesLen(r.Key)
	n += uvarintLen(uint64(len(r.Headers)))
	for i := range r.Headers {
		h := &r.Headers[i]
		n += uvarintLen(uint64(len(h.Name))) + len(h.Name) + bytesLen(h.Value)
	}
	n += uvarintLen(uint64(len(r.Tags)))
	for _, t := range r.Tags {
		n += uvarintLen(uint64(len(t))) + len(t)
	}
	return n + bytesLen(r.Value)
}

func frameLen(body int) int { return uvarintLen(uint64(body)) + 4 + body }

// BatchSize is the encoded size of recs as one batch. ts is the timestamp
// given to records whose Timestamp is zero.
func BatchSize(recs []shard.Record, ts int64) int {
	n := BatchHeaderSize
	first := recTS(&recs[0], ts)
	for i := range recs {
		n += frameLen(recordBodyLen(&recs[i], uint32(i), recTS(&recs[i], ts)-first))
	}
	return n
}

func recTS(r *shard.Record, now int64) int64 {
	if r.Timestamp == 0 {
		return now
	}
	return r.Timestamp
}

// BatchMeta carries the header fields the caller chooses.
type BatchMeta struct {
	BaseOffset int64
	Term       uint64
	// Now replaces zero record timestamps.
	Now int64
}

// AppendBatch appends recs encoded as one batch to dst and returns it with
// the batch header. REQUIRES: len(recs) > 0.
func AppendBatch(dst []byte, recs []shard.Record, m BatchMeta) ([]byte, BatchHeader) {
	start := len(dst)
	dst = append(dst, make([]byte, BatchHeaderSize)...) // no alloc: constant-size make in append is elided
	first := recTS(&recs[0], m.Now)
	maxTS := int64(math.MinInt64)
	for i := range recs {
		r := &recs[i]
		ts := recTS(r, m.Now)
		maxTS = max(maxTS, ts)
		tsDelta := ts - first
		body := recordBodyLen(r, uint32(i), tsDelta)
		dst = binary.AppendUvarint(dst, uint64(body))
		crcAt := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		bodyAt := len(dst)
		dst = append(dst, 0) // record attributes
		dst = binary.AppendUvarint(dst, uint64(i))
		dst = binary.AppendVarint(dst, tsDelta)
		dst = appendNullable(dst, r.Key)
		dst = binary.AppendUvarint(dst, uint64(len(r.Headers)))
		for j := range r.Headers {
			h := &r.Headers[j]
			dst = binary.AppendUvarint(dst, uint64(len(h.Name)))
			dst = append(dst, h.Name...)
			dst = appendNullable(dst, h.Value)
		}
		dst = binary.AppendUvarint(dst, uint64(len(r.Tags)))
		for _, t := range r.Tags {
			dst = binary.AppendUvarint(dst, uint64(len(t)))
			dst = append(dst, t...)
		}
		dst = appendNullable(dst, r.Value)
		binary.LittleEndian.PutUint32(dst[crcAt:], crc32.Checksum(dst[bodyAt:], castagnoli))
	}
	return seal(dst, start, FormatNative, len(recs), first, maxTS, m)
}

// seal writes the header of the dense batch of count records at
// dst[start:] (its payload already appended) and returns dst and the header.
func seal(dst []byte, start int, format uint16, count int, firstTS, maxTS int64, m BatchMeta) ([]byte, BatchHeader) {
	h := BatchHeader{
		Len:           uint32(len(dst) - start),
		Attrs:         format,
		Count:         uint32(count),
		BaseOffset:    m.BaseOffset,
		LastDelta:     uint32(count - 1),
		ProducerEpoch: -1,
		FirstTS:       firstTS,
		MaxTS:         maxTS,
		Term:          m.Term,
		ProducerID:    -1,
		Sequence:      -1,
	}
	putHeader(dst[start:], &h)
	h.CRC = binary.LittleEndian.Uint32(dst[start+hdrCRC:])
	return dst, h
}

// putHeader writes h into b[:BatchHeaderSize] and seals b[:h.Len] with its CRC.
func putHeader(b []byte, h *BatchHeader) {
	le := binary.LittleEndian
	le.PutUint32(b[hdrLen:], h.Len)
	b[hdrMagic] = batchMagic
	b[hdrVersion] = batchVersion
	le.PutUint16(b[hdrAttrs:], h.Attrs)
	le.PutUint32(b[hdrCount:], h.Count)
	le.PutUint64(b[hdrBase:], uint64(h.BaseOffset))
	le.PutUint32(b[hdrLastDelta:], h.LastDelta)
	le.PutUint16(b[hdrEpoch:], uint16(h.ProducerEpoch))
	le.PutUint16(b[hdrReserved1:], 0)
	le.PutUint64(b[hdrFirstTS:], uint64(h.FirstTS))
	le.PutUint64(b[hdrMaxTS:], uint64(h.MaxTS))
	le.PutUint64(b[hdrTerm:], h.Term)
	le.PutUint64(b[hdrProducerID:], uint64(h.ProducerID))
	le.PutUint32(b[hdrSequence:], uint32(h.Sequence))
	le.PutUint32(b[hdrReserved2:], 0)
	le.PutUint32(b[hdrCRC:], crc32.Checksum(b[hdrMagic:h.Len], castagnoli))
}

// Frame decoding outcomes. errTorn means the input ends inside a batch: at
// the tail of the active segment that is a short write, anywhere else it is
// corruption. errBadBatch covers everything else that fails validation.
var (
	errTorn     = corruptf("segment: batch extends past the end of the data")
	errBadBatch = corruptf("segment: invalid batch")
)

// DecodeHeader decodes the fixed header at the start of b and checks what
// can be checked without the payload: magic, version, lengths and counts.
func DecodeHeader(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, errTorn
	}
	le := binary.LittleEndian
	h := BatchHeader{
		Len:           le.Uint32(b[hdrLen:]),
		CRC:           le.Uint32(b[hdrCRC:]),
		Attrs:         le.Uint16(b[hdrAttrs:]),
		Count:         le.Uint32(b[hdrCount:]),
		BaseOffset:    int64(le.Uint64(b[hdrBase:])),
		LastDelta:     le.Uint32(b[hdrLastDelta:]),
		ProducerEpoch: int16(le.Uint16(b[hdrEpoch:])),
		FirstTS:       int64(le.Uint64(b[hdrFirstTS:])),
		MaxTS:         int64(le.Uint64(b[hdrMaxTS:])),
		Term:          le.Uint64(b[hdrTerm:]),
		ProducerID:    int64(le.Uint64(b[hdrProducerID:])),
		Sequence:      int32(le.Uint32(b[hdrSequence:])),
	}
	switch {
	case b[hdrMagic] != batchMagic, b[hdrVersion] != batchVersion:
		return h, errBadBatch
	case h.Len < BatchHeaderSize, h.Count == 0, h.LastDelta < h.Count-1:
		return h, errBadBatch
	case h.Attrs&^formatMask != 0, h.BaseOffset < 0, h.BaseOffset > math.MaxInt64-int64(h.LastDelta)-1:
		return h, errBadBatch
	}
	switch h.Attrs & formatMask {
	case FormatNative:
		if uint64(h.Count)*5 > uint64(h.Len) { // every frame is at least 5 bytes
			return h, errBadBatch
		}
	case FormatKafkaV2: // dense offsets, a payload that holds its base offset
		if h.LastDelta != h.Count-1 || h.Len < BatchHeaderSize+shard.BatchBaseBytes {
			return h, errBadBatch
		}
	default:
		return h, errBadBatch
	}
	return h, nil
}

// OpaqueSize is the encoded size of an opaque batch of n payload bytes.
func OpaqueSize(n int) int { return BatchHeaderSize + n }

// AppendOpaque appends the opaque batch b (shard.ValidateBatch passed) to
// dst: a header with b's format, count and timestamp (first = max =
// b.MaxTimestamp, or m.Now when 0), then b.Bytes with their base-offset
// field set to m.BaseOffset (shard.PutBatchBase).
func AppendOpaque(dst []byte, b *shard.Batch, m BatchMeta) ([]byte, BatchHeader) {
	start := len(dst)
	dst = append(dst, make([]byte, BatchHeaderSize)...)
	dst = append(dst, b.Bytes...)
	shard.PutBatchBase(dst[start+BatchHeaderSize:], m.BaseOffset)
	ts := b.MaxTimestamp
	if ts == 0 {
		ts = m.Now
	}
	return seal(dst, start, uint16(b.Format), b.Count, ts, ts, m)
}

// CheckBatch decodes the header at the start of b and verifies the batch
// CRC. It returns errTorn if b is shorter than the batch.
func CheckBatch(b []byte) (BatchHeader, error) {
	h, err := DecodeHeader(b)
	if err != nil {
		return h, err
	}
	if uint64(h.Len) > uint64(len(b)) {
		return h, errTorn
	}
	if crc32.Checksum(b[hdrMagic:h.Len], castagnoli) != h.CRC {
		return h, errBadBatch
	}
	return h, nil
}

// RecordIter walks the record frames of one batch without copying. Views it
// returns alias the batch bytes.
type RecordIter struct {
	h       BatchHeader
	b       []byte // remaining frames
	n       uint32 // records returned so far
	prev    int64  // offset delta of the previous record, -1 before the first
	err     error
	trusted bool // the batch CRC, which covers every record, was checked
}

// Iter returns an iterator over the records of the batch b, whose header h
// was returned by CheckBatch(b).
func Iter(b []byte, h BatchHeader) RecordIter {
	return RecordIter{h: h, b: b[BatchHeaderSize:h.Len], prev: -1}
}

// iterChecked is Iter for a batch whose CRC the caller has just checked
// (CheckBatch): the record CRCs, which cover bytes the batch CRC already
// covered, are not checked again. Reads use it; recovery and the fuzzer
// check both.
func iterChecked(b []byte, h BatchHeader) RecordIter {
	it := Iter(b, h)
	it.trusted = true
	return it
}

// Err reports why Next returned false early; nil after a clean end.
func (it *RecordIter) Err() error { return it.err }

// Next decodes the next record into r; headers and tags are appended to
// hdrs and tags, whose grown slices are returned. r's slices alias the batch.
func (it *RecordIter) Next(r *shard.Record, hdrs []shard.Header, tags [][]byte) (bool, []shard.Header, [][]byte) {
	if it.err != nil {
		return false, hdrs, tags
	}
	if it.n == it.h.Count {
		if len(it.b) != 0 {
			it.err = errBadBatch
		}
		return false, hdrs, tags
	}
	d := decoder{b: it.b}
	body := d.uvarint()
	if d.bad || body > maxFrameLen || len(d.b) < 4 || uint64(len(d.b)-4) < body {
		it.err = errBadBatch
		return false, hdrs, tags
	}
	crc := binary.LittleEndian.Uint32(d.b)
	frame := d.b[4 : 4+body]
	it.b = d.b[4+body:]
	if !it.trusted && crc32.Checksum(frame, castagnoli) != crc {
		it.err = errBadBatch
		return false, hdrs, tags
	}
	d = decoder{b: frame}
	d.byte() // record attributes: none defined yet
	delta := d.uvarint()
	tsDelta := d.varint()
	r.Key = d.nullable()
	hn := d.uvarint()
	if hn > uint64(len(d.b)) { // each header takes at least one byte
		d.bad = true
	}
	h0 := len(hdrs)
	for i := uint64(0); i < hn && !d.bad; i++ {
		name := d.bytes(d.uvarint())
		hdrs = append(hdrs, shard.Header{Name: name, Value: d.nullable()})
	}
	tn := d.uvarint()
	if tn > uint64(len(d.b)) {
		d.bad = true
	}
	t0 := len(tags)
	for i := uint64(0); i < tn && !d.bad; i++ {
		tags = append(tags, d.bytes(d.uvarint()))
	}
	r.Value = d.nullable()
	if d.bad || len(d.b) != 0 || int64(delta) <= it.prev || delta > uint64(it.h.LastDelta) ||
		(it.n+1 == it.h.Count && uint32(delta) != it.h.LastDelta) {
		it.err = errBadBatch
		return false, hdrs[:h0], tags[:t0]
	}
	it.prev = int64(delta)
	it.n++
	r.Offset = it.h.BaseOffset + int64(delta)
	r.Timestamp = it.h.FirstTS + tsDelta
	r.Term = it.h.Term
	r.Headers, r.Tags = nil, nil
	if len(hdrs) > h0 {
		r.Headers = hdrs[h0:len(hdrs):len(hdrs)]
	}
	if len(tags) > t0 {
		r.Tags = tags[t0:len(tags):len(tags)]
	}
	return true, hdrs, tags
}

// decoder reads primitives from b; after the first failure it stays bad and
// returns zero values, so callers check bad once.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// nullable reads a varint length (-1 = nil) and that many bytes.
func (d *decoder) nullable() []byte {
	n := d.varint()
	if n == -1 {
		return nil
	}
	if n < 0 {
		d.bad = true
		return nil
	}
	return d.bytes(uint64(n))
}
