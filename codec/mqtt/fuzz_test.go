package mqtt

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fuzzDecoder maps a fuzz byte to a decoder setup: role and version in the
// low bits, a small MaxPacketSize when bit 7 is set.
func fuzzDecoder(cfg byte) *Decoder {
	var d *Decoder
	switch cfg & 0x7f % 6 {
	case 0:
		d = &Decoder{}
	case 1:
		d = &Decoder{Version: V31}
	case 2:
		d = &Decoder{Version: V311}
	case 3:
		d = &Decoder{Version: V5}
	case 4:
		d = &Decoder{Role: Client, Version: V311}
	default:
		d = &Decoder{Role: Client, Version: V5}
	}
	if cfg&0x80 != 0 {
		d.MaxPacketSize = 64
	}
	return d
}

// decodeAll runs data through d in the given reads and returns the
// re-encoded packets and the final error text. Each decoded packet is
// checked to be canonical: its encoding decodes again to the same bytes.
func decodeAll(t *testing.T, d *Decoder, reads ...[]byte) (out [][]byte, errText string) {
	f := &feeder{d: d}
	for _, r := range reads {
		buf := append(f.kept, r...)
		in := buf
		for {
			before := *d // version and role before this packet
			typ, n, err := d.Decode(in)
			if err == ErrIncomplete {
				break
			}
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("Decode error %v (%T) is not *Error", err, err)
				}
				_ = err.(*Error).AppendReply(nil)
				return out, err.Error()
			}
			if n <= 0 || n > len(in) {
				t.Fatalf("Decode consumed %d of %d", n, len(in))
			}
			enc := reencode(nil, d, typ)
			d2 := &Decoder{Role: before.Role, Version: before.Version}
			typ2, n2, err2 := d2.Decode(enc)
			if err2 != nil || typ2 != typ || n2 != len(enc) {
				t.Fatalf("re-encoded %v % x (from % x) does not decode: %v, %v, %d", typ, enc, in[:n], typ2, err2, n2)
			}
			if enc2 := reencode(nil, d2, typ2); !bytes.Equal(enc, enc2) {
				t.Fatalf("encoding not canonical: % x then % x", enc, enc2)
			}
			out = append(out, enc)
			in = in[n:]
		}
		f.kept = append([]byte(nil), in...)
	}
	return out, ""
}

// FuzzDecode feeds arbitrary bytes to a Decoder, whole and in halves
// (style rule 23): no panic, the same packets and error either way, and
// every decoded packet re-encodes canonically.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, cfg byte) {
		whole, errWhole := decodeAll(t, fuzzDecoder(cfg), data)
		h := len(data) / 2
		halves, errHalves := decodeAll(t, fuzzDecoder(cfg), data[:h:h], data[h:])
		if errWhole != errHalves || len(whole) != len(halves) {
			t.Fatalf("whole: %d packets, %q; halves: %d packets, %q", len(whole), errWhole, len(halves), errHalves)
		}
		for i := range whole {
			if !bytes.Equal(whole[i], halves[i]) {
				t.Fatalf("packet %d: % x whole, % x in halves", i, whole[i], halves[i])
			}
		}
	})
}

// FuzzPacket reaches every packet decoder directly: the fuzzer picks the
// first byte (type and flags) and the body, the harness writes a correct
// remaining length.
func FuzzPacket(f *testing.F) {
	f.Fuzz(func(t *testing.T, b0 byte, cfg byte, body []byte) {
		frame := append(appendHeader(nil, Type(b0>>4), b0&0x0f, len(body)), body...)
		decodeAll(t, fuzzDecoder(cfg), frame)
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz from the sample streams
// and the error cases: MQTT_WRITE_CORPUS=1 go test -run WriteFuzzCorpus.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("MQTT_WRITE_CORPUS") == "" {
		t.Skip("set MQTT_WRITE_CORPUS=1 to regenerate testdata/fuzz")
	}
	cfgOf := func(s *stream) byte {
		switch {
		case s.role == Server:
			return 0
		case s.version == V5:
			return 5
		}
		return 4
	}
	write := func(target string, i int, args ...any) {
		var buf bytes.Buffer
		buf.WriteString("go test fuzz v1\n")
		for _, a := range args {
			switch a := a.(type) {
			case []byte:
				fmt.Fprintf(&buf, "[]byte(%q)\n", a)
			case byte:
				fmt.Fprintf(&buf, "byte('\\x%02x')\n", a)
			}
		}
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", i)), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nd, np := 0, 0
	for _, s := range streams() {
		all := bytes.Join(s.packets, nil)
		write("FuzzDecode", nd, all, cfgOf(&s))
		nd++
		write("FuzzDecode", nd, all, cfgOf(&s)|0x80)
		nd++
		d := s.newDecoder()
		for _, p := range s.packets {
			cfg := cfgOf(&s)
			if d.Version != 0 && s.role == Server {
				cfg = map[Version]byte{V31: 1, V311: 2, V5: 3}[d.Version]
			}
			if _, _, err := d.Decode(p); err != nil {
				t.Fatal(err)
			}
			_, k := readVBI(p[1:])
			write("FuzzPacket", np, p[0], cfg, p[1+k:])
			np++
		}
	}
}
