package kafka

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// Sentinel decode errors; a *DecodeError wraps one of them.
var (
	// ErrTruncated: the input ended inside a field.
	ErrTruncated = errors.New("kafka: truncated")
	// ErrMalformed: a length, varint or null marker is impossible.
	ErrMalformed = errors.New("kafka: malformed")
)

// detailed adds detail to a sentinel error and keeps errors.Is working.
type detailed struct {
	sentinel error
	detail   string
}

func (e *detailed) Error() string { return e.sentinel.Error() + ": " + e.detail }
func (e *detailed) Unwrap() error { return e.sentinel }

// DecodeError says which message failed to decode, at which version and
// where. Err is ErrTruncated or ErrMalformed.
type DecodeError struct {
	Msg     string // message name, e.g. "ProduceRequest"
	Version int16
	Offset  int    // byte offset in the message body where the failing read started
	In      string // the innermost struct being decoded, e.g. "ProduceRequestTopicPartition"
	Err     error
}

func (e *DecodeError) Error() string {
	s := e.Err.Error() + ": " + e.Msg + " v" + strconv.Itoa(int(e.Version)) + " at byte " + strconv.Itoa(e.Offset)
	if e.In != "" && e.In != e.Msg {
		s += " in " + e.In
	}
	return s
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Reader walks a message body. Failures are sticky: the first one is kept,
// the reader then stays bad and every later call returns a zero value, so a
// decoder reads a run of fields and checks Err once. Byte slices it returns
// alias the input (views, no copy).
type Reader struct {
	src    []byte
	off    int
	errOff int
	err    error
	in     string // set by generated code: the innermost struct at the first failure
}

// NewReader returns a Reader over src.
func NewReader(src []byte) Reader { return Reader{src: src} }

// Err returns ErrTruncated or ErrMalformed after a failed read, else nil.
func (r *Reader) Err() error { return r.err }

// Remaining returns the bytes not read yet (nil once the reader is bad).
func (r *Reader) Remaining() []byte {
	if r.err != nil {
		return nil
	}
	return r.src[r.off:]
}

func (r *Reader) fail(err error) {
	if r.err == nil {
		r.err = err
		r.errOff = r.off
	}
	r.off = len(r.src)
}

// take returns the next n bytes, or nil and a failure.
func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.src)-r.off {
		r.fail(ErrTruncated)
		return nil
	}
	b := r.src[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

func (r *Reader) Bool() bool {
	b := r.take(1)
	return b != nil && b[0] != 0
}

func (r *Reader) Int8() int8 {
	if b := r.take(1); b != nil {
		return int8(b[0])
	}
	return 0
}

func (r *Reader) Int16() int16 {
	if b := r.take(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *Reader) Int32() int32 {
	if b := r.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (r *Reader) Int64() int64 {
	if b := r.take(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

func (r *Reader) UUID() (u [16]byte) {
	if b := r.take(16); b != nil {
		copy(u[:], b)
	}
	return u
}

// Uvarint reads an unsigned LEB128 varint of at most 5 bytes (Kafka's
// unsigned varints are 32-bit).
func (r *Reader) Uvarint() uint32 {
	if r.err != nil {
		return 0
	}
	var v uint32
	for i := 0; i < 5; i++ {
		if r.off >= len(r.src) {
			r.fail(ErrTruncated)
			return 0
		}
		c := r.src[r.off]
		r.off++
		if i == 4 && c > 0x0f {
			r.off--
			r.fail(ErrMalformed)
			return 0
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v
		}
	}
	r.fail(ErrMalformed)
	return 0
}

// length validates a decoded length: -1 is null when nullable, anything else
// must fit in what is left (each element takes at least minElem bytes).
func (r *Reader) length(n int64, nullable bool, minElem int) (int, bool) {
	if r.err != nil {
		return 0, false
	}
	if n < 0 {
		if n == -1 && nullable {
			return 0, true
		}
		r.fail(ErrMalformed)
		return 0, false
	}
	if n*int64(minElem) > int64(len(r.src)-r.off) {
		r.fail(ErrTruncated)
		return 0, false
	}
	return int(n), false
}

// Str reads a string as a view: int16 length, or uvarint(length+1) when
// compact. With nullable, null (-1, or 0 when compact) returns nil and an
// empty string a non-nil empty view; without, null is malformed.
func (r *Reader) Str(compact, nullable bool) []byte {
	if compact {
		return r.view(int64(r.Uvarint())-1, nullable)
	}
	return r.view(int64(r.Int16()), nullable)
}

// Bytes reads bytes as a view: int32 length, or uvarint(length+1) when
// compact; null as for Str.
func (r *Reader) Bytes(compact, nullable bool) []byte {
	if compact {
		return r.view(int64(r.Uvarint())-1, nullable)
	}
	return r.view(int64(r.Int32()), nullable)
}

func (r *Reader) view(n int64, nullable bool) []byte {
	l, null := r.length(n, nullable, 1)
	if null {
		return nil
	}
	return r.take(l)
}

// ArrayLen reads an array length: int32, or uvarint(n+1) when compact.
// It returns -1 for a null array when nullable, and fails if n elements of
// at least minElem bytes cannot fit in the rest of the input, so a lying
// length never makes the caller allocate.
func (r *Reader) ArrayLen(compact, nullable bool, minElem int) int {
	var n int64
	if compact {
		n = int64(r.Uvarint()) - 1
	} else {
		n = int64(r.Int32())
	}
	l, null := r.length(n, nullable, minElem)
	if null {
		return -1
	}
	return l
}

// Span returns the next n bytes as a view (a tagged field's value).
func (r *Reader) Span(n int) []byte { return r.take(n) }

// Append primitives. Every one appends to dst and returns it.

func AppendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func AppendInt8(dst []byte, v int8) []byte     { return append(dst, byte(v)) }
func AppendInt16(dst []byte, v int16) []byte   { return binary.BigEndian.AppendUint16(dst, uint16(v)) }
func AppendInt32(dst []byte, v int32) []byte   { return binary.BigEndian.AppendUint32(dst, uint32(v)) }
func AppendInt64(dst []byte, v int64) []byte   { return binary.BigEndian.AppendUint64(dst, uint64(v)) }
func AppendUUID(dst []byte, v [16]byte) []byte { return append(dst, v[:]...) }

func AppendUvarint(dst []byte, v uint32) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// UvarintLen returns how many bytes AppendUvarint writes for v.
func UvarintLen(v uint32) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// AppendStr appends a string: int16 length, or uvarint(length+1) when
// compact. With nullable, nil is null (-1, or 0 when compact); without, nil
// is the empty string.
func AppendStr(dst, s []byte, compact, nullable bool) []byte {
	switch {
	case s == nil && nullable && compact:
		return append(dst, 0)
	case s == nil && nullable:
		return AppendInt16(dst, -1)
	case compact:
		return append(AppendUvarint(dst, uint32(len(s))+1), s...)
	}
	return append(AppendInt16(dst, int16(len(s))), s...)
}

// AppendBytes appends bytes: int32 length, or uvarint(length+1) when
// compact; nil as for AppendStr.
func AppendBytes(dst, b []byte, compact, nullable bool) []byte {
	switch {
	case compact:
		return AppendStr(dst, b, true, nullable)
	case b == nil && nullable:
		return AppendInt32(dst, -1)
	}
	return append(AppendInt32(dst, int32(len(b))), b...)
}

// AppendBytesParts appends one bytes field whose value is parts
// concatenated, copying each part once (a Fetch answer's records straight
// from storage views). Never null.
func AppendBytesParts(dst []byte, parts [][]byte, compact bool) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if compact {
		dst = AppendUvarint(dst, uint32(n)+1)
	} else {
		dst = AppendInt32(dst, int32(n))
	}
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

// AppendArrayLen appends an array length: int32, or uvarint(n+1) when
// compact; null (nullable and nil) as -1 or 0.
func AppendArrayLen(dst []byte, n int, null, compact bool) []byte {
	switch {
	case compact && null:
		return append(dst, 0)
	case compact:
		return AppendUvarint(dst, uint32(n)+1)
	case null:
		return AppendInt32(dst, -1)
	}
	return AppendInt32(dst, int32(n))
}

// AppendTag appends one tagged field whose value was appended at
// dst[start:]: it inserts uvarint(tag) and uvarint(size) before the value.
func AppendTag(dst []byte, start int, tag uint32) []byte {
	size := uint32(len(dst) - start)
	hdr := UvarintLen(tag) + UvarintLen(size)
	dst = append(dst, make([]byte, hdr)...)
	copy(dst[start+hdr:], dst[start:start+int(size)])
	AppendUvarint(AppendUvarint(dst[start:start], tag), size) // writes in place: capacity is there
	return dst
}

// tagCount reads the number of tagged fields; each takes at least 2 bytes.
func (r *Reader) tagCount() int {
	n, _ := r.length(int64(r.Uvarint()), false, 2)
	return n
}

// skipTags reads a tagged-field section and skips every field.
func (r *Reader) skipTags() {
	for n := r.tagCount(); n > 0 && r.err == nil; n-- {
		r.Uvarint()
		r.take(int(r.Uvarint()))
	}
}

// failWith makes r bad if sub, a reader over one tagged field, went bad.
func (r *Reader) failWith(sub *Reader) {
	if sub.err != nil && r.err == nil {
		r.err, r.errOff, r.in = sub.err, r.off, sub.in
	}
}

// failedIn records the struct being decoded when the reader went bad,
// unless an inner struct already did.
func (r *Reader) failedIn(name string) {
	if r.err != nil && r.in == "" {
		r.in = name
	}
}

// resize returns s with length n, reusing its backing array (and the
// elements' own slices) when it is big enough. The result is never nil.
func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		if s == nil {
			return []T{}
		}
		return s[:n]
	}
	return append(s[:cap(s)], make([]T, n-cap(s))...)
}
