package auth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// Records are the values kept in the backend (formats frozen, drawn in
// doc.go). They are written by append helpers into a fresh slice and read
// by reader, which stays bad after the first short or malformed field
// (franz-go's kbin idea): callers check r.err once at the end.

const recordVersion = 1

// ErrCorrupt marks a stored record that cannot be decoded.
var ErrCorrupt = errors.New("auth: corrupt record")

func appendUvarint(dst []byte, v uint64) []byte { return binary.AppendUvarint(dst, v) }

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// reader decodes one record; the slices it returns are copies (records
// outlive the backend's buffers).
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("auth: record: %s (%d bytes left): %w", what, len(r.b), ErrCorrupt)
	}
	r.b = nil
}

func (r *reader) byte(what string) byte {
	if len(r.b) < 1 {
		r.fail(what)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint(what string) uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// maxField bounds one string or byte field (names, topics, keys).
const maxField = 64 << 10

func (r *reader) bytes(what string) []byte {
	n := r.uvarint(what)
	if r.err != nil {
		return nil
	}
	if n > maxField || n > uint64(len(r.b)) {
		r.fail(what)
		return nil
	}
	out := append([]byte(nil), r.b[:n]...)
	r.b = r.b[n:]
	return out
}

func (r *reader) string(what string) string { return string(r.bytes(what)) }

// version reads the leading version byte.
func (r *reader) version() {
	if v := r.byte("version"); r.err == nil && v != recordVersion {
		r.fail("version " + strconv.Itoa(int(v)))
	}
}

// end checks that nothing is left and returns the first error.
func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail(strconv.Itoa(len(r.b)) + " trailing bytes")
	}
	return r.err
}
