package raftgroups

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzApply feeds arbitrary commands (whole, then each half) to the state
// machine: it must never panic, a command that fails leaves the state as it
// was, and the image always restores to the same state.
func FuzzApply(f *testing.F) {
	f.Add(AppendPut(nil, []byte("k"), []byte("v")))
	f.Add(AppendMultiPut(nil, []byte("a"), []byte("1"), []byte("b"), []byte("2")))
	f.Add(AppendDeletePrefix(nil, []byte("k")))
	f.Add([]byte{opMultiPut, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(AppendMultiPut(nil, []byte("d/x"), []byte("1"), []byte("d/y"), nil, []byte("d/x"), []byte("0")))
	f.Add(AppendTxn(nil, []Compare{{Key: []byte("k"), Value: []byte("v")}, {Key: []byte("x"), Absent: true}},
		[]Op{{Key: []byte("x"), Value: []byte("1")}, {Key: []byte("k"), Delete: true}}))
	f.Fuzz(func(t *testing.T, cmd []byte) {
		s := indexedKV()
		if _, err := s.Apply(AppendPut(nil, []byte("k"), []byte("v"))); err != nil {
			t.Fatal(err)
		}
		for _, in := range [][]byte{cmd[:len(cmd)/2], cmd[len(cmd)/2:], cmd} {
			before := s.Image()
			if _, err := s.Apply(in); err != nil && !bytes.Equal(s.Image(), before) {
				t.Fatalf("failed command %x changed the state", in)
			}
			if s.keys.Len() != len(s.m) {
				t.Fatalf("key index holds %d keys, the map %d", s.keys.Len(), len(s.m))
			}
			for k := range s.m {
				if !s.keys.Has(k) {
					t.Fatalf("key %q missing from the index", k)
				}
			}
			fresh := indexedKV().ixs[0]
			fresh.rebuild(s.m)
			if got, want := rangeKeys(t, s, "", "", 0), rangeKeys(t, &kv{m: s.m, ixs: []*kvIndex{fresh}}, "", "", 0); got != want {
				t.Fatalf("index after %x: %q; rebuilt: %q", in, got, want)
			}
			r := newKV()
			if err := r.Restore(s.Image()); err != nil || !bytes.Equal(r.Image(), s.Image()) {
				t.Fatalf("image does not round trip: %v", err)
			}
		}
	})
}

// FuzzDecode runs every other decoder of this package over arbitrary input
// and its halves: entry batches, snapshot images, topic and node records.
func FuzzDecode(f *testing.F) {
	b := appendBatchHeader(nil, 7)
	b = appendRecord(b, 1, AppendPut(nil, []byte("k"), []byte("v")))
	setBatchCount(b, 1)
	f.Add(b)
	f.Add(newKV().Image())
	f.Add(Topic{Name: "t", Partitions: 3, Engine: "memory", Options: map[string]string{"a": "b"}}.appendTo(nil))
	f.Add(Node{ID: 1, Addr: "127.0.0.1:1", Roles: []string{"meta"}}.appendTo(nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, part := range [][]byte{in[:len(in)/2], in[len(in)/2:], in} {
			n := 0
			_, err := decodeBatch(part, func(id uint64, cmd []byte) { n++ })
			if err == nil && n > len(part) {
				t.Fatalf("batch of %d bytes yielded %d records", len(part), n)
			}
			_ = newKV().Restore(part)
			// Decoded records survive a re-encode (input varints may be
			// non-minimal, so compare values, not bytes).
			if tp, err := decodeTopic("t", part); err == nil {
				if again, err := decodeTopic("t", tp.appendTo(nil)); err != nil || !reflect.DeepEqual(again, tp) {
					t.Fatalf("topic %+v re-decodes as %+v, %v", tp, again, err)
				}
			}
			key := append([]byte(pfxNode), 0, 0, 0, 0, 0, 0, 0, 1)
			if nd, err := decodeNode(key, part); err == nil {
				if again, err := decodeNode(key, nd.appendTo(nil)); err != nil || !reflect.DeepEqual(again, nd) {
					t.Fatalf("node %+v re-decodes as %+v, %v", nd, again, err)
				}
			}
		}
	})
}
