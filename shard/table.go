package shard

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Table maps shard (or topic) names to values in lock stripes chosen by a
// hash of the name. Lookups take no lock at all: each stripe publishes an
// immutable map through an atomic pointer, and writers (create, delete:
// rare) copy their stripe's map under the stripe mutex. So appends to
// different shards share no written memory in the table, and a create costs
// O(entries/stripes).
//
// Engines in other packages (memory, pebble, segment) use it for their
// own shard tables; the Router uses it for shards and topics.
type Table[V any] struct {
	seed    maphash.Seed
	mask    uint64
	stripes []tableStripe[V]
}

type tableStripe[V any] struct {
	mu sync.Mutex                   // serializes writers of m
	m  atomic.Pointer[map[string]V] // immutable once published
	_  [40]byte                     // keep stripes on separate cache lines
}

// DefaultStripes is the stripe count used when NewTable gets n <= 0.
const DefaultStripes = 256

// NewTable returns a table with n stripes, rounded up to a power of two.
func NewTable[V any](n int) *Table[V] {
	if n <= 0 {
		n = DefaultStripes
	}
	p := 1
	for p < n {
		p <<= 1
	}
	return &Table[V]{seed: maphash.MakeSeed(), mask: uint64(p - 1), stripes: make([]tableStripe[V], p)}
}

func (t *Table[V]) stripe(name string) *tableStripe[V] {
	return &t.stripes[maphash.String(t.seed, name)&t.mask]
}

// Get returns the value stored under name. It does not allocate or lock.
func (t *Table[V]) Get(name string) (V, bool) {
	m := t.stripe(name).m.Load()
	if m == nil {
		var zero V
		return zero, false
	}
	v, ok := (*m)[name]
	return v, ok
}

// Insert stores v under name unless name is present; it reports whether it
// stored.
func (t *Table[V]) Insert(name string, v V) bool {
	s := t.stripe(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m.Load()
	if old != nil {
		if _, ok := (*old)[name]; ok {
			return false
		}
	}
	n := make(map[string]V, mapLen(old)+1)
	if old != nil {
		for k, x := range *old {
			n[k] = x
		}
	}
	n[name] = v
	s.m.Store(&n)
	return true
}

// Delete removes name and returns what was stored.
func (t *Table[V]) Delete(name string) (V, bool) {
	s := t.stripe(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m.Load()
	var zero V
	if old == nil {
		return zero, false
	}
	v, ok := (*old)[name]
	if !ok {
		return zero, false
	}
	n := make(map[string]V, len(*old)-1)
	for k, x := range *old {
		if k != name {
			n[k] = x
		}
	}
	s.m.Store(&n)
	return v, true
}

// Range calls fn for every entry until fn returns false. It sees each
// stripe as of one moment; entries added or removed meanwhile may or may not
// be seen.
func (t *Table[V]) Range(fn func(name string, v V) bool) {
	for i := range t.stripes {
		m := t.stripes[i].m.Load()
		if m == nil {
			continue
		}
		for k, v := range *m {
			if !fn(k, v) {
				return
			}
		}
	}
}

// Len counts the entries.
func (t *Table[V]) Len() int {
	n := 0
	for i := range t.stripes {
		n += mapLen(t.stripes[i].m.Load())
	}
	return n
}

func mapLen[V any](m *map[string]V) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
