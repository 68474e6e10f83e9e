package kafka

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
)

func TestUvarint(t *testing.T) {
	f := func(v uint32, want []byte) {
		t.Helper()
		if got := AppendUvarint(nil, v); !bytes.Equal(got, want) || UvarintLen(v) != len(want) {
			t.Fatalf("AppendUvarint(%d) = % x (len %d); want % x", v, got, UvarintLen(v), want)
		}
		r := NewReader(want)
		if got := r.Uvarint(); got != v || r.Err() != nil || len(r.Remaining()) != 0 {
			t.Fatalf("Uvarint(% x) = %d, %v; want %d", want, got, r.Err(), v)
		}
	}
	f(0, []byte{0})
	f(127, []byte{0x7f})
	f(128, []byte{0x80, 0x01})
	f(300, []byte{0xac, 0x02})
	f(1<<32-1, []byte{0xff, 0xff, 0xff, 0xff, 0x0f})

	bad := func(in []byte, want error) {
		t.Helper()
		r := NewReader(in)
		if got := r.Uvarint(); got != 0 || !errors.Is(r.Err(), want) {
			t.Fatalf("Uvarint(% x) = %d, %v; want 0, %v", in, got, r.Err(), want)
		}
	}
	bad([]byte{0xff, 0xff, 0xff, 0xff, 0x10}, ErrMalformed) // 33 bits
	bad([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, ErrMalformed)
	bad([]byte{0x80}, ErrTruncated)
	bad(nil, ErrTruncated)
}

// TestReaderSticky: after the first failure every read returns zero and the
// first error stays.
func TestReaderSticky(t *testing.T) {
	r := NewReader([]byte{0, 1, 0xff})
	if r.Int16() != 1 {
		t.Fatal("first read")
	}
	if r.Int32() != 0 || !errors.Is(r.Err(), ErrTruncated) {
		t.Fatalf("short read: err %v", r.Err())
	}
	if r.Int8() != 0 || r.Bool() || r.Str(false, true) != nil || r.UUID() != [16]byte{} || r.Remaining() != nil {
		t.Fatal("reads after a failure return non-zero values")
	}
	r = NewReader([]byte{0xff, 0xfe, 1, 2})
	if r.Str(false, true) != nil || !errors.Is(r.Err(), ErrMalformed) || r.Int16() != 0 || !errors.Is(r.Err(), ErrMalformed) {
		t.Fatalf("length -2: err %v; want ErrMalformed kept", r.Err())
	}
}

// TestStrings: every string/bytes form, null and empty kept apart.
func TestStrings(t *testing.T) {
	f := func(s []byte, compact, nullable, isBytes bool, want []byte) {
		t.Helper()
		var got []byte
		if isBytes {
			got = AppendBytes(nil, s, compact, nullable)
		} else {
			got = AppendStr(nil, s, compact, nullable)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("append %q compact=%v nullable=%v bytes=%v: % x; want % x", s, compact, nullable, isBytes, got, want)
		}
		r := NewReader(want)
		var back []byte
		if isBytes {
			back = r.Bytes(compact, nullable)
		} else {
			back = r.Str(compact, nullable)
		}
		wantBack := s
		if s == nil && !nullable {
			wantBack = []byte{}
		}
		if r.Err() != nil || !bytes.Equal(back, wantBack) || (back == nil) != (wantBack == nil) {
			t.Fatalf("read % x: %q (nil %v), %v; want %q (nil %v)", want, back, back == nil, r.Err(), wantBack, wantBack == nil)
		}
	}
	f([]byte("ab"), false, false, false, []byte{0, 2, 'a', 'b'})
	f(nil, false, true, false, []byte{0xff, 0xff})
	f(nil, false, false, false, []byte{0, 0})
	f([]byte{}, false, true, false, []byte{0, 0})
	f([]byte("ab"), true, false, false, []byte{3, 'a', 'b'})
	f(nil, true, true, false, []byte{0})
	f([]byte{}, true, true, false, []byte{1})
	f([]byte("ab"), false, false, true, []byte{0, 0, 0, 2, 'a', 'b'})
	f(nil, false, true, true, []byte{0xff, 0xff, 0xff, 0xff})
	f(nil, true, true, true, []byte{0})
	f([]byte("ab"), true, false, true, []byte{3, 'a', 'b'})
}

func TestAppendTag(t *testing.T) {
	dst := []byte{9}
	start := len(dst)
	dst = append(dst, bytes.Repeat([]byte{7}, 200)...)
	dst = AppendTag(dst, start, 300)
	want := append([]byte{9, 0xac, 0x02, 0xc8, 0x01}, bytes.Repeat([]byte{7}, 200)...)
	if !bytes.Equal(dst, want) {
		t.Fatalf("AppendTag: % x; want % x", dst[:8], want[:8])
	}
}

// TestDecodeErrorWhere: the error names the message, version, offset and the
// innermost struct that was being decoded.
func TestDecodeErrorWhere(t *testing.T) {
	body := produceBody(100, 3)
	err := (&ProduceRequest{}).ReadFrom(body[:len(body)-10], 3)
	want := "kafka: truncated: ProduceRequest v3 at byte " + strconv.Itoa(len(body)-100) + " in ProduceRequestTopicPartition" // the records, after their length
	if err == nil || err.Error() != want {
		t.Fatalf("got %v; want %s", err, want)
	}
	err = (&ProduceRequest{}).ReadFrom(body[:3], 3)
	if want := "kafka: truncated: ProduceRequest v3 at byte 2"; err == nil || err.Error() != want {
		t.Fatalf("got %v; want %s", err, want)
	}
}

// TestAppendBytesParts: a value given in parts encodes as the whole would.
func TestAppendBytesParts(t *testing.T) {
	f := func(parts ...string) {
		t.Helper()
		var ps [][]byte
		var whole []byte
		for _, p := range parts {
			ps = append(ps, []byte(p))
			whole = append(whole, p...)
		}
		if whole == nil {
			whole = []byte{}
		}
		for _, compact := range []bool{false, true} {
			got, want := AppendBytesParts([]byte{9}, ps, compact), AppendBytes([]byte{9}, whole, compact, true)
			if !bytes.Equal(got, want) {
				t.Errorf("parts %q compact %v: % x; want % x", parts, compact, got, want)
			}
		}
	}
	f()
	f("")
	f("abc")
	f("a", "", "bc", string(make([]byte, 300)))
}
