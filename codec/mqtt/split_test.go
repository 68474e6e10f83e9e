package mqtt

import (
	"bytes"
	"testing"
)

// feeder plays netpoll: it keeps unconsumed bytes and presents them again
// followed by the next read; decoded packets are re-encoded at once, while
// their input is alive.
type feeder struct {
	d    *Decoder
	kept []byte
	out  [][]byte
}

// read delivers one chunk and decodes every whole frame.
func (f *feeder) read(chunk []byte) error {
	buf := append(f.kept, chunk...)
	in := buf
	for {
		t, n, err := f.d.Decode(in)
		if err == ErrIncomplete {
			break
		}
		if err != nil {
			return err
		}
		f.out = append(f.out, reencode(nil, f.d, t))
		in = in[n:]
	}
	// Keep the rest, then scribble over the buffer as a reused read
	// buffer would: nothing decoded later may depend on it.
	f.kept = append([]byte(nil), in...)
	for i := range buf {
		buf[i] = 0xEE
	}
	return nil
}

func checkStream(t *testing.T, s *stream, f *feeder, how string) {
	t.Helper()
	if len(f.kept) != 0 || len(f.out) != len(s.packets) {
		t.Fatalf("%s %s: decoded %d packets, kept %d bytes; want %d, 0", s.name, how, len(f.out), len(f.kept), len(s.packets))
	}
	for i := range s.packets {
		if !bytes.Equal(f.out[i], s.packets[i]) {
			t.Fatalf("%s %s: packet %d = % x; want % x", s.name, how, i, f.out[i], s.packets[i])
		}
	}
}

// TestSplit feeds every stream cut at every byte into two reads, then one
// byte per read, then all at once: the packets must come out the same.
func TestSplit(t *testing.T) {
	for _, s := range streams() {
		all := bytes.Join(s.packets, nil)
		for i := 0; i <= len(all); i++ {
			f := &feeder{d: s.newDecoder()}
			// Copies, so the decoder never sees beyond the chunk's end.
			if err := f.read(append([]byte(nil), all[:i]...)); err != nil {
				t.Fatalf("%s split at %d: %v", s.name, i, err)
			}
			if err := f.read(append([]byte(nil), all[i:]...)); err != nil {
				t.Fatalf("%s split at %d: %v", s.name, i, err)
			}
			checkStream(t, &s, f, "split")
		}
		f := &feeder{d: s.newDecoder()}
		for i := range all {
			if err := f.read(all[i : i+1 : i+1]); err != nil {
				t.Fatalf("%s byte %d: %v", s.name, i, err)
			}
		}
		checkStream(t, &s, f, "byte by byte")
		f = &feeder{d: s.newDecoder()}
		if err := f.read(all); err != nil {
			t.Fatalf("%s in one read: %v", s.name, err)
		}
		checkStream(t, &s, f, "one read")
	}
}
