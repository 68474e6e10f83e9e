package raftgroups

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/btree"
)

// Index orders some keys of one group's state machine by a key derived
// from their values, so that a reader finds, say, the entries due before
// a time without reading the others. It is derived state: kept by every
// replica as it applies, rebuilt from the state at a restore, never in a
// snapshot.
type Index struct {
	Group  GroupID
	Name   string
	Prefix []byte // the state machine keys it covers (for the mqtt group, MQTTKey(kind, nil))
	// Key names a covered entry in the index (ok false: not indexed). It
	// must depend on key and value only, must not retain them, and should
	// end with key so that index keys are unique.
	Key func(key, value []byte) (indexKey []byte, ok bool)
}

// kvIndex is an Index kept by one state machine. REQUIRES: the kv's mu.
type kvIndex struct {
	Index
	tree *btree.BTreeG[indexItem]
}

// indexItem is one indexed entry: its index key and state machine key.
type indexItem struct{ ik, k string }

func indexLess(a, b indexItem) bool { return a.ik < b.ik }

func newIndexes(ixs []Index, g GroupID) []*kvIndex {
	var out []*kvIndex
	for _, ix := range ixs {
		if ix.Group == g {
			out = append(out, &kvIndex{Index: ix, tree: btree.NewG(keysDegree, indexLess)})
		}
	}
	return out
}

// update moves k from its entry for old (nil: none) to its entry for
// value (nil: none). REQUIRES: the kv's mu held for writing.
func (x *kvIndex) update(k string, old, value []byte) {
	if !strings.HasPrefix(k, string(x.Prefix)) {
		return
	}
	if old != nil {
		if ik, ok := x.Key([]byte(k), old); ok {
			x.tree.Delete(indexItem{ik: string(ik)})
		}
	}
	if value != nil {
		if ik, ok := x.Key([]byte(k), value); ok {
			x.tree.ReplaceOrInsert(indexItem{string(ik), k})
		}
	}
}

// rebuild indexes every entry of m. REQUIRES: the kv's mu held for writing.
func (x *kvIndex) rebuild(m map[string][]byte) {
	x.tree.Clear(false)
	for k, v := range m {
		x.update(k, nil, v)
	}
}

// indexRange returns the entries of index name whose index keys are in
// [from, to) (to nil: no end), at most limit (<= 0: all), ascending, with
// copies of their state machine keys and values.
func (s *kv) indexRange(name string, from, to []byte, limit int) ([]KV, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := slices.IndexFunc(s.ixs, func(x *kvIndex) bool { return x.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("raftgroups: no index %q", name)
	}
	var out []KV
	s.ixs[i].tree.AscendGreaterOrEqual(indexItem{ik: string(from)}, func(it indexItem) bool {
		if to != nil && it.ik >= string(to) || limit > 0 && len(out) == limit {
			return false
		}
		out = append(out, KV{Key: []byte(it.k), Value: slices.Clone(s.m[it.k])})
		return true
	})
	return out, nil
}

// IndexRange returns, after a linearizable read, the entries of group g's
// index name whose index keys are in [from, to) (to nil: no end), at most
// limit (<= 0: all), in index order: each entry's state machine key (its
// table prefix kept) and value.
func (a Meta) IndexRange(ctx context.Context, g GroupID, name string, from, to []byte, limit int) ([]KV, error) {
	grp := a.m.Group(g)
	if err := grp.ReadIndex(ctx); err != nil {
		return nil, err
	}
	return grp.sm.indexRange(name, from, to, limit)
}
