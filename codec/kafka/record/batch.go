package record

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strconv"

	"robustmq/codec/kafka"
)

// HeaderSize is the size of a v2 batch header, before the first record.
const HeaderSize = 61

// Byte offsets of the batch header fields (frozen: see the package doc).
const (
	offBaseOffset    = 0
	offLength        = 8
	offLeaderEpoch   = 12
	offMagic         = 16
	offCRC           = 17
	offAttributes    = 21 // the CRC covers from here to the end of the batch
	offLastDelta     = 23
	offFirstTime     = 27
	offMaxTime       = 35
	offProducerID    = 43
	offProducerEpoch = 51
	offBaseSequence  = 53
	offCount         = 57
)

// lengthOverhead is what the batch length field does not count: base offset
// and the length itself.
const lengthOverhead = 12

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Sentinel errors; returned errors wrap one of them with detail.
var (
	// ErrTruncated: the input ends inside a batch. In a Fetch response a
	// partial last batch is normal; in a Produce request it is an error.
	ErrTruncated = errors.New("record: truncated batch")
	// ErrCorrupt: a length, count or varint is impossible.
	ErrCorrupt = errors.New("record: corrupt batch")
	// ErrCRC: the CRC32C does not match.
	ErrCRC = errors.New("record: crc mismatch")
	// ErrLegacyFormat: a message set v0/v1 (magic 0 or 1). This broker
	// stores only v2 batches and refuses them (Produce v0-v2, which carry
	// them, are not advertised; inside a newer Produce the partition gets
	// CORRUPT_MESSAGE).
	ErrLegacyFormat = errors.New("record: message set v0/v1 not supported")
	// ErrCompression: a compression codec this package does not know (a
	// stream that does not decompress is ErrCorrupt).
	ErrCompression = errors.New("record: unknown compression codec")
	// ErrTooLarge: decompressed records over the decompressor's limit.
	ErrTooLarge = errors.New("record: decompressed batch too large")
)

// detailed adds detail to a sentinel and keeps errors.Is working.
type detailed struct {
	sentinel error
	detail   string
}

func (e *detailed) Error() string { return e.sentinel.Error() + ": " + e.detail }
func (e *detailed) Unwrap() error { return e.sentinel }

func fail(sentinel error, detail string) error { return &detailed{sentinel, detail} }

// Compression is the codec in attribute bits 0-2.
type Compression int8

const (
	None   Compression = 0
	Gzip   Compression = 1
	Snappy Compression = 2
	LZ4    Compression = 3
	Zstd   Compression = 4
)

func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return "compression(" + strconv.Itoa(int(c)) + ")"
}

// Attribute bits.
const (
	AttrCompressionMask int16 = 0x07
	AttrLogAppendTime   int16 = 0x08 // timestamp type: 0 CreateTime, 1 LogAppendTime
	AttrTransactional   int16 = 0x10
	AttrControl         int16 = 0x20
	AttrDeleteHorizon   int16 = 0x40 // FirstTimestamp is the delete horizon (compaction)
)

// Header is a decoded v2 batch header.
type Header struct {
	BaseOffset           int64
	Length               int32 // bytes after the Length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

func (h *Header) Compression() Compression { return Compression(h.Attributes & AttrCompressionMask) }
func (h *Header) Transactional() bool      { return h.Attributes&AttrTransactional != 0 }
func (h *Header) Control() bool            { return h.Attributes&AttrControl != 0 }
func (h *Header) LogAppendTime() bool      { return h.Attributes&AttrLogAppendTime != 0 }

// Batch is one v2 batch: its header and its bytes as they arrived.
type Batch struct {
	Header
	Raw []byte // the whole batch, aliasing the input
}

// Records returns the records section as stored: compressed when the
// batch's compression is not None.
func (b *Batch) Records() []byte { return b.Raw[HeaderSize:] }

// Next splits the first batch off in (a Produce partition's Records or a
// stored run of batches): it checks the length, the magic and the CRC and
// decodes the header. Nothing is copied: b.Raw and rest alias in.
func Next(in []byte) (b Batch, rest []byte, err error) {
	if len(in) < offMagic+1 {
		return b, in, fail(ErrTruncated, "need "+strconv.Itoa(offMagic+1)+" bytes for a batch header, have "+
			strconv.Itoa(len(in)))
	}
	if m := int8(in[offMagic]); m != 2 {
		if m == 0 || m == 1 {
			return b, in, fail(ErrLegacyFormat, "magic "+strconv.Itoa(int(m)))
		}
		return b, in, fail(ErrCorrupt, "magic "+strconv.Itoa(int(m)))
	}
	length := int32(binary.BigEndian.Uint32(in[offLength:]))
	if length < HeaderSize-lengthOverhead {
		return b, in, fail(ErrCorrupt, "batch length "+strconv.Itoa(int(length)))
	}
	end := lengthOverhead + int64(length)
	if end > int64(len(in)) {
		return b, in, fail(ErrTruncated, "batch of "+strconv.FormatInt(end, 10)+" bytes, have "+
			strconv.Itoa(len(in)))
	}
	raw := in[:end:end]
	b = Batch{Raw: raw, Header: Header{
		BaseOffset:           int64(binary.BigEndian.Uint64(raw[offBaseOffset:])),
		Length:               length,
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(raw[offLeaderEpoch:])),
		Magic:                2,
		CRC:                  binary.BigEndian.Uint32(raw[offCRC:]),
		Attributes:           int16(binary.BigEndian.Uint16(raw[offAttributes:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(raw[offLastDelta:])),
		FirstTimestamp:       int64(binary.BigEndian.Uint64(raw[offFirstTime:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(raw[offMaxTime:])),
		ProducerID:           int64(binary.BigEndian.Uint64(raw[offProducerID:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(raw[offProducerEpoch:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(raw[offBaseSequence:])),
		NumRecords:           int32(binary.BigEndian.Uint32(raw[offCount:])),
	}}
	if got := crc32.Checksum(raw[offAttributes:], castagnoli); got != b.CRC {
		return Batch{}, in, fail(ErrCRC, "batch at offset "+strconv.FormatInt(b.BaseOffset, 10)+" has crc "+
			strconv.FormatUint(uint64(b.CRC), 16)+", computed "+strconv.FormatUint(uint64(got), 16))
	}
	if b.NumRecords < 0 || b.LastOffsetDelta < 0 {
		return Batch{}, in, fail(ErrCorrupt, "record count "+strconv.Itoa(int(b.NumRecords))+
			", last offset delta "+strconv.Itoa(int(b.LastOffsetDelta)))
	}
	if c := b.Compression(); c > Zstd {
		return Batch{}, in, fail(ErrCompression, "codec "+strconv.Itoa(int(c)))
	}
	return b, in[end:], nil
}

// ErrorCode maps an error from this package to the Kafka error code a
// Produce partition is answered with.
func ErrorCode(err error) kafka.ErrorCode {
	switch {
	case err == nil:
		return kafka.None
	case errors.Is(err, ErrCompression):
		return kafka.UnsupportedCompressionType
	case errors.Is(err, ErrTooLarge):
		return kafka.MessageTooLarge
	case errors.Is(err, ErrTruncated), errors.Is(err, ErrCorrupt), errors.Is(err, ErrCRC),
		errors.Is(err, ErrLegacyFormat):
		return kafka.CorruptMessage
	}
	return kafka.UnknownServerError
}

// SetBaseOffset rewrites the base offset of a batch in place. The CRC does
// not cover the base offset, so the batch stays valid: this is how the
// broker assigns offsets without re-encoding. REQUIRES: len(raw) >= 8.
func SetBaseOffset(raw []byte, offset int64) {
	binary.BigEndian.PutUint64(raw[offBaseOffset:], uint64(offset))
}

// SetPartitionLeaderEpoch rewrites the leader epoch in place (also outside
// the CRC). REQUIRES: len(raw) >= 16.
func SetPartitionLeaderEpoch(raw []byte, epoch int32) {
	binary.BigEndian.PutUint32(raw[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime stamps a batch with the broker's append time, for topics
// with message.timestamp.type=LogAppendTime: it sets the timestamp-type bit
// and the max timestamp (consumers read every record's timestamp as that
// value) and recomputes the CRC, which covers both. REQUIRES: raw is a
// whole batch that Next accepted.
func SetLogAppendTime(raw []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(raw[offAttributes:]) | uint16(AttrLogAppendTime)
	binary.BigEndian.PutUint16(raw[offAttributes:], attrs)
	binary.BigEndian.PutUint64(raw[offMaxTime:], uint64(ts))
	binary.BigEndian.PutUint32(raw[offCRC:], crc32.Checksum(raw[offAttributes:], castagnoli))
}

// Record is one record, its slices aliasing the (decompressed) records
// section.
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	Key            []byte // nil: null
	Value          []byte // nil: null
	NumHeaders     int32
	Headers        []byte // the encoded headers, walked with Headers
}

// Iter walks the records of a batch. Failures are sticky: Next returns false
// and Err says why.
type Iter struct {
	data []byte
	left int32
	err  error
}

// NewIter returns an iterator over count records in data (a batch's
// uncompressed records section).
func NewIter(data []byte, count int32) Iter { return Iter{data: data, left: count} }

// Err returns why iteration stopped early, or nil; it also reports bytes
// left over after the last record.
func (it *Iter) Err() error {
	if it.err == nil && it.left == 0 && len(it.data) != 0 {
		return fail(ErrCorrupt, strconv.Itoa(len(it.data))+" bytes after the last record")
	}
	return it.err
}

// varint reads a zigzag varint that must fit in 32 bits.
func varint(b []byte) (int32, int) {
	v, n := binary.Varint(b)
	if n <= 0 || v != int64(int32(v)) {
		return 0, -1
	}
	return int32(v), n
}

// Next decodes the next record into r and reports whether there was one.
func (it *Iter) Next(r *Record) bool {
	if it.err != nil || it.left <= 0 {
		if it.err == nil && it.left < 0 {
			it.err = fail(ErrCorrupt, "negative record count")
		}
		return false
	}
	length, n := varint(it.data)
	if n < 0 || length < 0 || int(length) > len(it.data)-n {
		it.err = fail(ErrCorrupt, "record length "+strconv.Itoa(int(length))+" with "+
			strconv.Itoa(len(it.data))+" bytes left")
		return false
	}
	body := it.data[n : n+int(length)]
	if !parseRecord(body, r) {
		it.err = fail(ErrCorrupt, "record "+strconv.Itoa(int(it.left))+" from the end is malformed")
		return false
	}
	it.data = it.data[n+int(length):]
	it.left--
	return true
}

// parseRecord decodes one record body (after its length); every field must
// be inside b and b must be used up exactly.
func parseRecord(b []byte, r *Record) bool {
	if len(b) < 1 {
		return false
	}
	r.Attributes = int8(b[0])
	b = b[1:]
	ts, n := binary.Varint(b)
	if n <= 0 {
		return false
	}
	r.TimestampDelta = ts
	b = b[n:]
	if r.OffsetDelta, n = varint(b); n < 0 {
		return false
	}
	b = b[n:]
	var ok bool
	if r.Key, b, ok = lenBytes(b); !ok {
		return false
	}
	if r.Value, b, ok = lenBytes(b); !ok {
		return false
	}
	if r.NumHeaders, n = varint(b); n < 0 || r.NumHeaders < 0 {
		return false
	}
	r.Headers = b[n:]
	h := Headers{data: r.Headers, left: r.NumHeaders}
	for h.Next() {
	}
	return h.err == false && len(h.data) == 0
}

// lenBytes reads a varint length (-1: null) and that many bytes.
func lenBytes(b []byte) (v, rest []byte, ok bool) {
	l, n := varint(b)
	switch {
	case n < 0 || l < -1 || int(l) > len(b)-n:
		return nil, nil, false
	case l == -1:
		return nil, b[n:], true
	}
	return b[n : n+int(l) : n+int(l)], b[n+int(l):], true
}

// Headers walks a record's headers; Key and Value alias the record.
type Headers struct {
	data  []byte
	left  int32
	err   bool
	Key   []byte
	Value []byte // nil: null
}

// HeaderIter returns an iterator over r's headers. The record was checked
// when it was decoded, so Next fails only on a Record built by hand.
func (r *Record) HeaderIter() Headers { return Headers{data: r.Headers, left: r.NumHeaders} }

// Next moves to the next header and reports whether there was one.
func (h *Headers) Next() bool {
	if h.left <= 0 || h.err {
		return false
	}
	var ok bool
	if h.Key, h.data, ok = lenBytes(h.data); !ok || h.Key == nil {
		h.err = true
		return false
	}
	if h.Value, h.data, ok = lenBytes(h.data); !ok {
		h.err = true
		return false
	}
	h.left--
	return true
}
