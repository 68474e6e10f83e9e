package mqtt

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// MaxRemainingLength is the largest value a 4-byte Variable Byte Integer
// holds (spec 1.5.5): 268,435,455 bytes, 256 MiB.
const MaxRemainingLength = 268_435_455

// reader walks one packet body. Failures are sticky, as in franz-go's
// kbin.Reader: the first one is kept in err, later reads return zero
// values, so a decoder may check err once after a run of reads. Slices it
// returns alias b.
type reader struct {
	b   []byte
	err *Error
	pkt Type
	v   Version
}

// fail records the first failure.
func (r *reader) fail(field, msg, rule string, reason ReasonCode) {
	if r.err == nil {
		r.err = &Error{Packet: r.pkt, Field: field, Msg: msg, Rule: rule, Reason: reason, Version: r.v,
			connect: r.pkt == CONNECT}
	}
	r.b = nil
}

func (r *reader) short(field string) { r.fail(field, "truncated", "", ReasonMalformedPacket) }

// take returns the next n bytes, or nil after failing r when fewer are left.
func (r *reader) take(field string, n int) []byte {
	if len(r.b) < n {
		r.short(field)
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) u8(field string) byte {
	if s := r.take(field, 1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u16(field string) uint16 {
	if s := r.take(field, 2); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

func (r *reader) u32(field string) uint32 {
	if s := r.take(field, 4); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

// vbi reads a Variable Byte Integer (spec 1.5.5).
func (r *reader) vbi(field string) uint32 {
	v, n := readVBI(r.b)
	switch {
	case n == 0:
		r.short(field)
		return 0
	case n < 0:
		r.fail(field, "bad variable byte integer", "MQTT-1.5.5-1", ReasonMalformedPacket)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bin reads Binary Data: a 2-byte length and that many bytes (spec 1.5.6).
func (r *reader) bin(field string) []byte {
	if len(r.b) < 2 {
		r.short(field)
		return nil
	}
	n := int(binary.BigEndian.Uint16(r.b))
	r.b = r.b[2:]
	return r.take(field, n)
}

// str reads a UTF-8 Encoded String (spec 1.5.4) and validates it.
func (r *reader) str(field string) []byte {
	s := r.bin(field)
	if !ValidUTF8(s) {
		r.fail(field, "not well-formed UTF-8 or contains U+0000", "MQTT-1.5.4-1", ReasonMalformedPacket)
		return nil
	}
	return s
}

// readVBI decodes a Variable Byte Integer at the start of b. n is the
// number of bytes used; 0 means b ends inside the integer; -1 means the
// encoding is bad: a fifth byte would be needed, or the value is not in its
// shortest form ([MQTT-1.5.5-1]: "MUST use the minimum number of bytes").
func readVBI(b []byte) (v uint32, n int) {
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0
		}
		c := b[i]
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if c == 0 && i > 0 {
				return 0, -1 // non-minimal: trailing 0x00 after a continuation
			}
			return v, i + 1
		}
	}
	return 0, -1
}

// appendVBI appends v as a Variable Byte Integer.
// REQUIRES: v <= MaxRemainingLength.
func appendVBI(dst []byte, v uint32) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// vbiLen is the encoded size of v.
func vbiLen(v uint32) int {
	switch {
	case v < 1<<7:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<21:
		return 3
	}
	return 4
}

func appendU16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

func appendU32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendBin appends Binary Data or a UTF-8 string: 2-byte length, bytes.
// REQUIRES: len(b) <= 65535.
func appendBin(dst, b []byte) []byte {
	dst = append(dst, byte(len(b)>>8), byte(len(b)))
	return append(dst, b...)
}

const (
	hi8   = 0x8080808080808080
	ones8 = 0x0101010101010101
)

// ValidUTF8 reports whether b is a valid MQTT UTF-8 string: well-formed
// UTF-8 without surrogates or overlong forms [MQTT-1.5.4-1] and without
// U+0000 [MQTT-1.5.4-2]. Control characters (U+0001..U+001F,
// U+007F..U+009F) and non-characters are accepted: the spec only says they
// SHOULD NOT be sent and a receiver MAY close (1.5.4), and refusing them
// would break JSON-ish user properties with tabs and newlines. ASCII is
// checked eight bytes at a time.
func ValidUTF8(b []byte) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		// high bit set in some byte, or some byte zero (exact test)
		if w&hi8 != 0 || (w-ones8)&^w&hi8 != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		c := b[i]
		if c == 0 {
			return false
		}
		if c >= 0x80 {
			rest := b[i:]
			return utf8.Valid(rest) && bytes.IndexByte(rest, 0) < 0
		}
	}
	return true
}
