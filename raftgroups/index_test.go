package raftgroups

import (
	"slices"
	"strings"
	"testing"
)

// byValue indexes keys under "d/" by their value (empty values are not
// indexed), then the key.
var byValue = Index{Group: GroupMQTT, Name: "v", Prefix: []byte("d/"), Key: func(k, v []byte) ([]byte, bool) {
	return append(slices.Clone(v), k...), len(v) > 0
}}

func indexedKV() *kv { return newKV(newIndexes([]Index{byValue}, GroupMQTT)...) }

// rangeKeys lists index v's state keys in [from, to).
func rangeKeys(t *testing.T, s *kv, from, to string, limit int) string {
	t.Helper()
	var end []byte
	if to != "" {
		end = []byte(to)
	}
	kvs, err := s.indexRange("v", []byte(from), end, limit)
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, kv := range kvs {
		ks = append(ks, string(kv.Key)+"="+string(kv.Value))
	}
	return strings.Join(ks, " ")
}

// TestIndex: an index follows every kind of change, orders by its key,
// bounds ranges and limits, and is rebuilt by a restore.
func TestIndex(t *testing.T) {
	s := indexedKV()
	apply := func(cmd []byte) {
		t.Helper()
		if _, err := s.Apply(cmd); err != nil {
			t.Fatal(err)
		}
	}
	apply(AppendPut(nil, []byte("d/a"), []byte("3")))
	apply(AppendPut(nil, []byte("d/b"), []byte("1")))
	apply(AppendPut(nil, []byte("d/c"), []byte("2")))
	apply(AppendPut(nil, []byte("x/z"), []byte("0"))) // not covered
	apply(AppendPut(nil, []byte("d/e"), nil))         // not indexed
	f := func(from, to string, limit int, want string) {
		t.Helper()
		if got := rangeKeys(t, s, from, to, limit); got != want {
			t.Errorf("range [%q, %q) limit %d = %q; want %q", from, to, limit, got, want)
		}
	}
	f("", "", 0, "d/b=1 d/c=2 d/a=3")
	f("2", "", 0, "d/c=2 d/a=3")
	f("", "3", 0, "d/b=1 d/c=2")
	f("", "", 2, "d/b=1 d/c=2")

	apply(AppendPut(nil, []byte("d/b"), []byte("9"))) // moves
	apply(AppendDelete(nil, []byte("d/c")))
	f("", "", 0, "d/a=3 d/b=9")
	apply(AppendTxn(nil, nil, []Op{{Key: []byte("d/a"), Delete: true}, {Key: []byte("d/f"), Value: []byte("0")}}))
	apply(AppendMultiPut(nil, []byte("d/g"), []byte("5")))
	f("", "", 0, "d/f=0 d/g=5 d/b=9")
	apply(AppendDeletePrefix(nil, []byte("d/g")))
	f("", "", 0, "d/f=0 d/b=9")

	r := indexedKV()
	if err := r.Restore(s.Image()); err != nil {
		t.Fatal(err)
	}
	if got := rangeKeys(t, r, "", "", 0); got != "d/f=0 d/b=9" {
		t.Fatalf("restored index %q; want d/f=0 d/b=9", got)
	}
	if _, err := s.indexRange("nope", nil, nil, 0); err == nil {
		t.Fatal("an unknown index answered")
	}
}
