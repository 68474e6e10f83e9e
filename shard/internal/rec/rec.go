package rec

import (
	"encoding/binary"
	"errors"
	"math"

	"robustmq/shard"
)

// Version is the first byte of every encoded record; KindBatch and
// KindBatchRef open the entries of opaque batches (see the package doc).
const (
	Version      = 0x01
	KindBatch    = 0x02
	KindBatchRef = 0x03
)

// Kind returns the first byte of an encoding (Version, KindBatch or
// KindBatchRef), or 0 if b is too short to be one.
func Kind(b []byte) byte {
	if len(b) < 9 {
		return 0
	}
	return b[0]
}

// AppendBatchHead appends the head entry of an opaque batch.
func AppendBatchHead(dst []byte, ts int64, format shard.BatchFormat, count int, batch []byte) []byte {
	dst = append(dst, KindBatch)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ts))
	dst = append(dst, byte(format))
	dst = binary.AppendUvarint(dst, uint64(count))
	return append(dst, batch...)
}

// BatchHeadLen is the encoded length of a head entry.
func BatchHeadLen(count, batchLen int) int { return 10 + uvarintLen(uint64(count)) + batchLen }

// AppendBatchRef appends a reference entry: the head is dist offsets later.
func AppendBatchRef(dst []byte, ts int64, dist int64) []byte {
	dst = append(dst, KindBatchRef)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ts))
	return binary.AppendUvarint(dst, uint64(dist))
}

// DecodeBatchHead decodes a head entry; batch is a view into b.
func DecodeBatchHead(b []byte) (format shard.BatchFormat, count int, batch []byte, err error) {
	if Kind(b) != KindBatch || len(b) < 10 {
		return 0, 0, nil, ErrCorrupt
	}
	format = shard.BatchFormat(b[9])
	d := reader{b: b[10:]}
	n := d.uvarint()
	if d.bad || n == 0 || n > math.MaxInt32 || !format.Valid() || format == shard.BatchRecords || len(d.b) < shard.BatchBaseBytes {
		return 0, 0, nil, ErrCorrupt
	}
	return format, int(n), d.b, nil
}

// DecodeBatchRef decodes a reference entry: its head is dist offsets later.
func DecodeBatchRef(b []byte) (dist int64, err error) {
	if Kind(b) != KindBatchRef {
		return 0, ErrCorrupt
	}
	d := reader{b: b[9:]}
	n := d.uvarint()
	if d.bad || len(d.b) != 0 || n == 0 || n > math.MaxInt32 {
		return 0, ErrCorrupt
	}
	return int64(n), nil
}

// ErrCorrupt wraps shard.ErrCorrupt for records that do not decode.
var ErrCorrupt = errors.Join(shard.ErrCorrupt, errors.New("shard/internal/rec: bad record encoding"))

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func nullableLen(b []byte) int {
	if b == nil {
		return uvarintLen(0)
	}
	return uvarintLen(uint64(len(b))+1) + len(b)
}

// Len returns the encoded length of r.
func Len(r *shard.Record) int {
	n := 1 + 8 + nullableLen(r.Key) + uvarintLen(uint64(len(r.Tags))) + uvarintLen(uint64(len(r.Headers))) + nullableLen(r.Value)
	for _, t := range r.Tags {
		n += uvarintLen(uint64(len(t))) + len(t)
	}
	for i := range r.Headers {
		h := &r.Headers[i]
		n += uvarintLen(uint64(len(h.Name))) + len(h.Name) + nullableLen(h.Value)
	}
	return n
}

func appendNullable(dst, b []byte) []byte {
	if b == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b))+1)
	return append(dst, b...)
}

// Append appends the encoding of r with timestamp ts to dst.
func Append(dst []byte, r *shard.Record, ts int64) []byte {
	dst = append(dst, Version)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ts))
	dst = appendNullable(dst, r.Key)
	dst = binary.AppendUvarint(dst, uint64(len(r.Tags)))
	for _, t := range r.Tags {
		dst = binary.AppendUvarint(dst, uint64(len(t)))
		dst = append(dst, t...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Headers)))
	for i := range r.Headers {
		h := &r.Headers[i]
		dst = binary.AppendUvarint(dst, uint64(len(h.Name)))
		dst = append(dst, h.Name...)
		dst = appendNullable(dst, h.Value)
	}
	return appendNullable(dst, r.Value)
}

// reader walks an encoded record; after the first error every call returns
// zero values and bad stays set (check once at the end).
type reader struct {
	b   []byte
	bad bool
}

func (d *reader) uvarint() uint64 {
	if d.bad {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(x) { // non-minimal encodings are corrupt: one encoding per value
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *reader) bytes(n uint64) []byte {
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *reader) nullable() []byte {
	n := d.uvarint()
	if n == 0 {
		return nil
	}
	return d.bytes(n - 1)
}

// count reads a list length that must fit in what is left (each element takes
// at least min bytes), so lying lengths cannot make us allocate.
func (d *reader) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/min) || n > math.MaxInt32 {
		d.bad = true
		return 0
	}
	return int(n)
}

// Decode decodes b into r (Offset untouched). r's slices are views into b.
// Tags and headers are appended to tags and hdrs, which the caller reuses
// across records, and r.Tags/r.Headers are sub-slices of the returned ones
// (nil when the record has none).
func Decode(b []byte, r *shard.Record, tags [][]byte, hdrs []shard.Header) ([][]byte, []shard.Header, error) {
	if len(b) < 9 || b[0] != Version {
		return tags, hdrs, ErrCorrupt
	}
	r.Timestamp = int64(binary.LittleEndian.Uint64(b[1:9]))
	d := reader{b: b[9:]}
	r.Key = d.nullable()
	r.Tags = nil
	if n := d.count(1); n > 0 {
		start := len(tags)
		for i := 0; i < n && !d.bad; i++ {
			tags = append(tags, d.bytes(d.uvarint()))
		}
		r.Tags = tags[start:len(tags):len(tags)]
	}
	r.Headers = nil
	if n := d.count(2); n > 0 {
		start := len(hdrs)
		for i := 0; i < n && !d.bad; i++ {
			name := d.bytes(d.uvarint())
			hdrs = append(hdrs, shard.Header{Name: name, Value: d.nullable()})
		}
		r.Headers = hdrs[start:len(hdrs):len(hdrs)]
	}
	r.Value = d.nullable()
	if d.bad || len(d.b) != 0 {
		return tags, hdrs, ErrCorrupt
	}
	return tags, hdrs, nil
}

// Timestamp returns the timestamp of an encoded record without decoding it.
func Timestamp(b []byte) (int64, error) {
	if k := Kind(b); k != Version && k != KindBatch && k != KindBatchRef {
		return 0, ErrCorrupt
	}
	return int64(binary.LittleEndian.Uint64(b[1:9])), nil
}

// KeyTags calls fn for the key (if not nil) and each tag of an encoded
// record, without allocating. Engines use it to prune their indexes.
func KeyTags(b []byte, key func([]byte), tag func([]byte)) error {
	switch Kind(b) {
	case KindBatch, KindBatchRef:
		return nil
	case Version:
	default:
		return ErrCorrupt
	}
	d := reader{b: b[9:]}
	if k := d.nullable(); k != nil {
		key(k)
	}
	n := d.count(1)
	for i := 0; i < n && !d.bad; i++ {
		tag(d.bytes(d.uvarint()))
	}
	if d.bad {
		return ErrCorrupt
	}
	return nil
}
