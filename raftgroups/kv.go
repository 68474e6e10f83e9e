package raftgroups

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/google/btree"
)

// Command op codes (doc.go, frozen).
const (
	opPut          = 0x01
	opPutIfAbsent  = 0x02
	opDelete       = 0x03
	opDeletePrefix = 0x04
	opMultiPut     = 0x05
	opTxn          = 0x06
)

const imageVersion = 0x01

// kv is the deterministic state machine every group runs: an in-memory map
// changed only by Apply, with its keys also in a B-tree so that a prefix
// listing costs the keys it returns, not the whole state (a broker polls a
// few keys among every session's). The three groups differ in the key
// spaces their typed APIs (meta.go) write, not in the machine.
//
// Apply, Restore and Image are called by the group loop only; Get and List by
// readers after a ReadIndex. mu guards m and keys; keys holds exactly m's keys.
type kv struct {
	mu   sync.RWMutex
	m    map[string][]byte // values are owned copies, never mutated
	keys *btree.BTreeG[string]
	ixs  []*kvIndex // the group's secondary indexes (index.go), kept with m
}

// keysDegree is the B-tree's degree: nodes of up to 63 keys.
const keysDegree = 32

func newKV(ixs ...*kvIndex) *kv { return &kv{m: make(map[string][]byte), keys: newKeys(), ixs: ixs} }

func newKeys() *btree.BTreeG[string] { return btree.NewOrderedG[string](keysDegree) }

// set puts k = v (v is owned from now on). REQUIRES: mu held for writing.
func (s *kv) set(k string, v []byte) {
	old, ok := s.m[k]
	if !ok {
		s.keys.ReplaceOrInsert(k)
	}
	s.m[k] = v
	for _, x := range s.ixs {
		x.update(k, old, v)
	}
}

// del removes k if present. REQUIRES: mu held for writing.
func (s *kv) del(k string) {
	if old, ok := s.m[k]; ok {
		delete(s.m, k)
		s.keys.Delete(k)
		for _, x := range s.ixs {
			x.update(k, old, nil)
		}
	}
}

// under calls fn for every key under prefix, ascending, until fn returns
// false. REQUIRES: mu held.
func (s *kv) under(prefix string, fn func(k string) bool) {
	s.keys.AscendGreaterOrEqual(prefix, func(k string) bool {
		return strings.HasPrefix(k, prefix) && fn(k)
	})
}

// AppendPut and friends encode commands (doc.go). They append to dst.
func AppendPut(dst, key, value []byte) []byte {
	return appendBytes(appendBytes(append(dst, opPut), key), value)
}

// AppendPutIfAbsent encodes a put that fails with ErrExists if key exists.
func AppendPutIfAbsent(dst, key, value []byte) []byte {
	return appendBytes(appendBytes(append(dst, opPutIfAbsent), key), value)
}

// AppendDelete encodes a delete that fails with ErrNotFound if key is absent.
func AppendDelete(dst, key []byte) []byte { return appendBytes(append(dst, opDelete), key) }

// AppendDeletePrefix encodes the deletion of every key under prefix; the
// result is the uvarint count deleted.
func AppendDeletePrefix(dst, prefix []byte) []byte {
	return appendBytes(append(dst, opDeletePrefix), prefix)
}

// AppendMultiPut encodes n puts applied atomically; kvs alternates key, value.
func AppendMultiPut(dst []byte, kvs ...[]byte) []byte {
	dst = binary.AppendUvarint(append(dst, opMultiPut), uint64(len(kvs)/2))
	for i := 0; i+1 < len(kvs); i += 2 {
		dst = appendBytes(appendBytes(dst, kvs[i]), kvs[i+1])
	}
	return dst
}

// Compare is one condition of a transaction (AppendTxn): Key absent, or
// present with exactly Value.
type Compare struct {
	Key, Value []byte
	Absent     bool
}

// Op is one change of a transaction: put Key = Value, or delete Key
// (absent is fine).
type Op struct {
	Key, Value []byte
	Delete     bool
}

// AppendTxn encodes a transaction: when every compare holds, the ops are
// applied in order, atomically; otherwise nothing changes and the result is
// ErrConflict.
func AppendTxn(dst []byte, cmps []Compare, ops []Op) []byte {
	dst = binary.AppendUvarint(append(dst, opTxn), uint64(len(cmps)))
	for _, c := range cmps {
		dst = appendBytes(dst, c.Key)
		if c.Absent {
			dst = append(dst, 1)
		} else {
			dst = appendBytes(append(dst, 0), c.Value)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(ops)))
	for _, o := range ops {
		if o.Delete {
			dst = appendBytes(append(dst, 1), o.Key)
		} else {
			dst = appendBytes(appendBytes(append(dst, 0), o.Key), o.Value)
		}
	}
	return dst
}

// Apply executes one command. Its outcome depends only on the state and cmd.
// A malformed command changes nothing and returns ErrCorrupt; a command's
// own failure (ErrExists, ErrNotFound) is a result, not a fault.
func (s *kv) Apply(cmd []byte) ([]byte, error) {
	r := reader{b: cmd}
	op := r.byte()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch op {
	case opPut, opPutIfAbsent:
		k, v := r.bytes(), r.bytes()
		if !r.done() {
			break
		}
		if _, ok := s.m[string(k)]; ok && op == opPutIfAbsent {
			return nil, ErrExists
		}
		s.set(string(k), slices.Clone(v))
		return nil, nil
	case opDelete:
		k := r.bytes()
		if !r.done() {
			break
		}
		if _, ok := s.m[string(k)]; !ok {
			return nil, ErrNotFound
		}
		s.del(string(k))
		return nil, nil
	case opDeletePrefix:
		p := r.bytes()
		if !r.done() {
			break
		}
		var gone []string
		s.under(string(p), func(k string) bool { gone = append(gone, k); return true })
		for _, k := range gone {
			s.del(k)
		}
		return binary.AppendUvarint(nil, uint64(len(gone))), nil
	case opMultiPut:
		n := r.uvarint()
		if n > uint64(len(r.b)/2) { // every pair takes at least 2 bytes
			break
		}
		// Decode everything before changing anything: all or nothing.
		pairs := make([][]byte, 0, 2*n)
		for i := uint64(0); i < n; i++ {
			pairs = append(pairs, r.bytes(), r.bytes())
		}
		if !r.done() {
			break
		}
		for i := 0; i < len(pairs); i += 2 {
			s.set(string(pairs[i]), slices.Clone(pairs[i+1]))
		}
		return nil, nil
	case opTxn:
		cmps, ops, ok := decodeTxn(&r)
		if !ok {
			break
		}
		for _, c := range cmps {
			v, found := s.m[string(c.Key)]
			if found == c.Absent || found && !bytes.Equal(v, c.Value) {
				return nil, ErrConflict
			}
		}
		for _, o := range ops {
			if o.Delete {
				s.del(string(o.Key))
			} else {
				s.set(string(o.Key), slices.Clone(o.Value))
			}
		}
		return nil, nil
	}
	return nil, fmt.Errorf("raftgroups: command op 0x%02x (%d bytes): %w", op, len(cmd), ErrCorrupt)
}

// decodeTxn reads a whole transaction before anything changes: all or
// nothing.
func decodeTxn(r *reader) (cmps []Compare, ops []Op, ok bool) {
	n := r.uvarint()
	if n > uint64(len(r.b)/2) { // a compare takes at least 2 bytes
		return nil, nil, false
	}
	cmps = make([]Compare, 0, n)
	for range n {
		c := Compare{Key: r.bytes()}
		switch r.byte() {
		case 0:
			c.Value = r.bytes()
		case 1:
			c.Absent = true
		default:
			return nil, nil, false
		}
		cmps = append(cmps, c)
	}
	n = r.uvarint()
	if n > uint64(len(r.b)/2) { // an op takes at least 2 bytes
		return nil, nil, false
	}
	ops = make([]Op, 0, n)
	for range n {
		var o Op
		switch r.byte() {
		case 0:
			o.Key, o.Value = r.bytes(), r.bytes()
		case 1:
			o.Key, o.Delete = r.bytes(), true
		default:
			return nil, nil, false
		}
		ops = append(ops, o)
	}
	return cmps, ops, r.done()
}

// Image serializes the whole state, keys ascending (doc.go).
func (s *kv) Image() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	size := 1 + binary.MaxVarintLen64
	for k, v := range s.m {
		size += len(k) + len(v) + 2*binary.MaxVarintLen32
	}
	dst := binary.AppendUvarint(append(make([]byte, 0, size), imageVersion), uint64(len(s.m)))
	s.keys.Ascend(func(k string) bool {
		dst = appendBytes(appendString(dst, k), s.m[k])
		return true
	})
	return dst
}

// Restore replaces the state with image. On error the state is unchanged.
func (s *kv) Restore(image []byte) error {
	m, keys := make(map[string][]byte), newKeys()
	if len(image) > 0 { // the bootstrap snapshot has no image: empty state
		r := reader{b: image}
		if r.byte() != imageVersion {
			return fmt.Errorf("raftgroups: snapshot image version: %w", ErrCorrupt)
		}
		n := r.uvarint()
		for i := uint64(0); i < n && !r.bad; i++ {
			k, v := r.bytes(), r.bytes()
			if _, dup := m[string(k)]; !dup {
				keys.ReplaceOrInsert(string(k))
			}
			m[string(k)] = slices.Clone(v)
		}
		if !r.done() {
			return fmt.Errorf("raftgroups: snapshot image (%d bytes): %w", len(image), ErrCorrupt)
		}
	}
	s.mu.Lock()
	s.m, s.keys = m, keys
	for _, x := range s.ixs {
		x.rebuild(m)
	}
	s.mu.Unlock()
	return nil
}

// Get returns a copy of key's value.
func (s *kv) Get(key []byte) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[string(key)]
	return slices.Clone(v), ok
}

// KV is one key and value returned by a listing; both are copies.
type KV struct {
	Key, Value []byte
}

// List returns every key under prefix with its value, keys ascending, in
// O(log keys + listed).
func (s *kv) List(prefix []byte) []KV {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []KV
	s.under(string(prefix), func(k string) bool {
		out = append(out, KV{Key: []byte(k), Value: slices.Clone(s.m[k])})
		return true
	})
	return out
}
