package mqtt

import (
	"bytes"
	"testing"

	paho5 "github.com/eclipse/paho.golang/packets"
	paho3 "github.com/eclipse/paho.mqtt.golang/packets"
)

// viaLibrary parses p with a client library's packet code and writes it
// back: paho.golang for 5.0, paho.mqtt.golang for 3.1/3.1.1.
func viaLibrary(t *testing.T, v Version, p []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if v == V5 {
		cp, err := paho5.ReadPacket(bytes.NewReader(p))
		if err != nil {
			t.Fatalf("paho.golang cannot read % x: %v", p, err)
		}
		if _, err := cp.WriteTo(&out); err != nil {
			t.Fatalf("paho.golang write: %v", err)
		}
		return out.Bytes()
	}
	cp, err := paho3.ReadPacket(bytes.NewReader(p))
	if err != nil {
		t.Fatalf("paho.mqtt.golang cannot read % x: %v", p, err)
	}
	if err := cp.Write(&out); err != nil {
		t.Fatalf("paho.mqtt.golang write: %v", err)
	}
	return out.Bytes()
}

// TestInterop cross-checks the codec with the packet code of two client
// libraries. Every sample packet must parse in the library. What the
// library writes back must decode here, and re-encoding it must carry
// everything the library keeps: passing our encoding through the library
// again gives the library's bytes unchanged. (A plain byte comparison is
// impossible: the codec writes properties in id order, and paho.golang
// keeps only some Will Properties.)
func TestInterop(t *testing.T) {
	for _, s := range streams() {
		d := s.newDecoder()
		for i, p := range s.packets {
			v := d.Version
			if v == 0 { // a CONNECT: learn its version from a scratch decoder
				var probe Decoder
				if _, _, err := probe.Decode(p); err != nil {
					t.Fatal(err)
				}
				v = probe.Version
			}
			lib := viaLibrary(t, v, p)
			typ, n, err := d.Decode(lib)
			if err != nil || n != len(lib) {
				t.Fatalf("%s #%d: library bytes % x (from % x) do not decode: %v", s.name, i, lib, p, err)
			}
			ours := reencode(nil, d, typ)
			if again := viaLibrary(t, v, ours); !bytes.Equal(again, lib) {
				t.Fatalf("%s #%d %v: library wrote\n% x\nwe re-encoded\n% x\nwhich the library writes as\n% x",
					s.name, i, typ, lib, ours, again)
			}
		}
	}
}
