package offsetstore

import (
	"bytes"
	"encoding/binary"
	"testing"

	"robustmq/shard"
	"robustmq/shard/shardtest"
)

func TestConformance(t *testing.T) {
	shardtest.RunOffsetStore(t, func(t *testing.T, dir string) shard.OffsetStore {
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, shardtest.OffsetCaps{Persistent: true})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("g\x01a\x01t\x00\x00\x00\x01"), []byte("\x01\x05\x00\x00\x00\x00\x00\x00\x00meta"))
	f.Add([]byte("g\x00\x00\x00\x00\x00\x00"), []byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		// Whole and in halves: never panics; what decodes re-encodes.
		for _, in := range [][2][]byte{{k, v}, {k[:len(k)/2], v}, {k, v[:len(v)/2]}} {
			group, o, err := decode(in[0], in[1])
			if err != nil {
				continue
			}
			key := binary.BigEndian.AppendUint32(appendString(groupPrefix(group), o.Topic), uint32(o.Partition))
			if !bytes.Equal(key, in[0]) && canonical(in[0]) {
				t.Fatalf("key %x decodes to %q %+v, which encodes to %x", in[0], group, o, key)
			}
		}
	})
}

// canonical reports whether the uvarint lengths in k are minimal (the
// decoder accepts longer ones; the encoder never writes them).
func canonical(k []byte) bool {
	rest := k[1:]
	for i := 0; i < 2; i++ {
		n, m := binary.Uvarint(rest)
		if m <= 0 || m != len(binary.AppendUvarint(nil, n)) {
			return false
		}
		rest = rest[m+int(n):]
	}
	return true
}
