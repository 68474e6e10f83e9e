package topic

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"
)

// Index errors.
var (
	ErrExclusiveTaken = errors.New("topic: exclusive filter is held by another subscriber") // MQTT reason 0x97
	ErrNotSubscribed  = errors.New("topic: no such subscription")                         // MQTT reason 0x11
)

// Subscriber is the delivery handle a protocol owner supplies. ID is the
// identity (one subscription per ID and Filter); Target is opaque here
// (a session, a connection) and handed back by Match.
type Subscriber struct {
	ID     uint64
	Target any
}

// Entry is one delivery Match appends: the subscriber, the options it
// subscribed with (opaque: QoS, no-local, retain-as-published,
// subscription identifier...) and, for a member picked from a shared
// subscription or queue group, that Group (nil otherwise).
type Entry struct {
	Subscriber
	Opts  any
	Group *Group
}

// Config configures an Index. Zero values take the defaults.
type Config struct {
	// Shards is the number of literal shards, rounded up to a power of two;
	// default DefaultShards.
	Shards int
	// Pick is how groups choose a member; default RoundRobin.
	Pick Pick
	// Seed seeds Random picks; 0 takes a random seed.
	Seed uint64
	// Name labels the index's metrics (index="Name"). When set, New
	// registers them in the default metrics set and Close unregisters them;
	// when empty the index exports nothing.
	Name string
}

// DefaultShards is the default literal shard count.
const DefaultShards = 64

// Index is the subscription index. All methods are safe for concurrent use.
// See doc.go for the structure, the lock order and the contracts.
type Index struct {
	shards []shard // literal shards, by hash of the first level
	mask   uint64
	wild   shard // filters whose first level is '+' or '#'
	cfg    Config
	set    *metrics.Set

	wildN  atomic.Int64 // subscriptions in wild; Match skips its lock at 0
	subs   atomic.Int64 // subscriptions, group members and exclusive holders
	groups atomic.Int64
}

// shard is one trie with its lock, padded to its own cache lines so that
// the reader counts of neighbouring RWMutexes do not share a line.
type shard struct {
	mu   sync.RWMutex
	root node // guarded by mu
	_    [128 - unsafe.Sizeof(sync.RWMutex{}) - unsafe.Sizeof(node{})]byte
}

type leafKind uint8

const (
	kindExact       leafKind = iota // filter ends with a literal or '+'
	kindMultiParent                 // ends with MQTT '#': matches the parent level too
	kindMulti                       // ends with NATS '>': one or more levels only
	numKinds
)

// node is one trie level. lits keys are substrings of the owned Filter
// path that created them (one copy per filter, made by ParseFilter).
type node struct {
	lits   map[string]*node
	plus   *node
	leaves [numKinds]*leaf
}

// leaf is what ends at a node for one leafKind.
type leaf struct {
	subs   set
	groups []*Group
	excl   *Entry // the $exclusive holder, delivered like a plain subscription
}

var hashSeed = maphash.MakeSeed()

// New returns an empty Index.
func New(cfg Config) *Index {
	if cfg.Shards <= 0 {
		cfg.Shards = DefaultShards
	}
	n := 1 << bits.Len(uint(cfg.Shards-1))
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	ix := &Index{shards: make([]shard, n), mask: uint64(n - 1), cfg: cfg}
	if cfg.Name != "" {
		l := `{index="` + cfg.Name + `"}`
		ix.set = metrics.NewSet()
		ix.set.NewGauge("robustmq_topic_subscriptions"+l, func() float64 { return float64(ix.subs.Load()) })
		ix.set.NewGauge("robustmq_topic_groups"+l, func() float64 { return float64(ix.groups.Load()) })
		metrics.RegisterSet(ix.set)
	}
	return ix
}

// Close unregisters the index's metrics. The index stays usable.
func (ix *Index) Close() {
	if ix.set != nil {
		metrics.UnregisterSet(ix.set, true)
		ix.set = nil
	}
}

// Count is the number of subscriptions: plain ones, group members and
// exclusive holders.
func (ix *Index) Count() int64 { return ix.subs.Load() }

// Groups is the number of non-empty groups.
func (ix *Index) Groups() int64 { return ix.groups.Load() }

// cut splits off the first level of a canonical topic; more reports that
// levels follow (rest may then be empty: "a/" has the levels "a" and "").
func cut(t []byte) (lvl, rest []byte, more bool) {
	if i := bytes.IndexByte(t, '/'); i >= 0 {
		return t[:i], t[i+1:], true
	}
	return t, nil, false
}

func cutString(t string) (lvl, rest string, more bool) {
	if i := strings.IndexByte(t, '/'); i >= 0 {
		return t[:i], t[i+1:], true
	}
	return t, "", false
}

func (ix *Index) shardOf(path string) *shard {
	lvl, _, _ := cutString(path)
	if lvl == "+" || lvl == "#" {
		return &ix.wild
	}
	return &ix.shards[maphash.String(hashSeed, lvl)&ix.mask]
}

// Subscribe adds s's subscription to f with the opaque options opts. A
// second Subscribe of the same subscriber ID to the same Filter replaces
// the options (and Target). An exclusive Filter held by another subscriber
// fails with ErrExclusiveTaken.
func (ix *Index) Subscribe(f Filter, s Subscriber, opts any) error {
	if f.dialect == 0 {
		return fmt.Errorf("topic: subscribe %d: %w (Filter not from ParseFilter)", s.ID, ErrDialect)
	}
	sh := ix.shardOf(f.path)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := &sh.root
	for rest, more := f.path, true; more; {
		var lvl string
		lvl, rest, more = cutString(rest)
		switch lvl {
		case "#":
			// last level (validated): the leaf kind carries it
		case "+":
			if n.plus == nil {
				n.plus = new(node)
			}
			n = n.plus
		default:
			c := n.lits[lvl]
			if c == nil {
				if n.lits == nil {
					n.lits = make(map[string]*node, 1)
				}
				c = new(node)
				n.lits[lvl] = c
			}
			n = c
		}
	}
	k := f.kind()
	l := n.leaves[k]
	if l == nil {
		l = new(leaf)
		n.leaves[k] = l
	}
	e := Entry{Subscriber: s, Opts: opts}
	added := false
	switch {
	case f.exclusive:
		if l.excl != nil && l.excl.ID != s.ID {
			return fmt.Errorf("%w: %q held by subscriber %d, wanted by %d", ErrExclusiveTaken, f.String(), l.excl.ID, s.ID)
		}
		added = l.excl == nil
		l.excl = &e
	case f.group != "":
		var g *Group
		for _, x := range l.groups {
			if x.name == f.group {
				g = x
				break
			}
		}
		if g == nil {
			g = &Group{name: f.group, sh: sh, pick: ix.cfg.Pick, seed: ix.cfg.Seed}
			l.groups = append(l.groups, g)
			ix.groups.Add(1)
		}
		e.Group = g
		added = g.members.put(e)
	default:
		added = l.subs.put(e)
	}
	if added {
		ix.subs.Add(1)
		if sh == &ix.wild {
			ix.wildN.Add(1)
		}
	}
	return nil
}

// Unsubscribe removes subscriber id's subscription to f, or fails with
// ErrNotSubscribed. Nodes left empty are removed.
func (ix *Index) Unsubscribe(f Filter, id uint64) error {
	sh := ix.shardOf(f.path)
	sh.mu.Lock()
	ok := ix.unsub(&sh.root, f.path, f, id)
	sh.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q for subscriber %d", ErrNotSubscribed, f.String(), id)
	}
	ix.subs.Add(-1)
	if sh == &ix.wild {
		ix.wildN.Add(-1)
	}
	return nil
}

// RemoveAll removes subscriber id's subscriptions to every filter in fs
// (the session's own list, so no reverse index is kept here) and returns
// how many existed. For a disconnect: one shard lock per filter, no scan.
func (ix *Index) RemoveAll(id uint64, fs []Filter) int {
	n := 0
	for _, f := range fs {
		if ix.Unsubscribe(f, id) == nil {
			n++
		}
	}
	return n
}

// unsub removes the subscription below n for the remaining path rest and
// prunes the child it went through when that child is left empty.
// REQUIRES: the shard's mu held for writing.
func (ix *Index) unsub(n *node, rest string, f Filter, id uint64) bool {
	lvl, next, more := cutString(rest)
	if lvl == "#" {
		return ix.leafUnsub(n, f, id)
	}
	c := n.plus
	if lvl != "+" {
		c = n.lits[lvl]
	}
	if c == nil {
		return false
	}
	var ok bool
	if more {
		ok = ix.unsub(c, next, f, id)
	} else {
		ok = ix.leafUnsub(c, f, id)
	}
	if ok && c.empty() {
		if lvl == "+" {
			n.plus = nil
		} else {
			delete(n.lits, lvl)
		}
	}
	return ok
}

// REQUIRES: the shard's mu held for writing.
func (ix *Index) leafUnsub(n *node, f Filter, id uint64) bool {
	k := f.kind()
	l := n.leaves[k]
	if l == nil {
		return false
	}
	ok := false
	switch {
	case f.exclusive:
		ok = l.excl != nil && l.excl.ID == id
		if ok {
			l.excl = nil
		}
	case f.group != "":
		for i, g := range l.groups {
			if g.name != f.group {
				continue
			}
			ok = g.members.del(id)
			if len(g.members.e) == 0 {
				last := len(l.groups) - 1
				l.groups[i] = l.groups[last]
				l.groups[last] = nil
				l.groups = l.groups[:last]
				ix.groups.Add(-1)
			}
			break
		}
	default:
		ok = l.subs.del(id)
	}
	if len(l.subs.e) == 0 && len(l.groups) == 0 && l.excl == nil {
		n.leaves[k] = nil
	}
	return ok
}

func (n *node) empty() bool {
	return len(n.lits) == 0 && n.plus == nil && n.leaves == [numKinds]*leaf{}
}

// Match appends to dst every subscription whose filter matches the
// canonical topic name t (one chosen member per group) and returns the
// extended slice. It does not allocate when dst has room, and keeps no
// reference to t. A subscriber with overlapping filters appears once per
// filter; folding them is the session layer's job (MQTT 4.7.2 permits both).
func (ix *Index) Match(t []byte, dst []Entry) []Entry {
	if len(t) == 0 {
		return dst
	}
	lvl, _, _ := cut(t)
	sh := &ix.shards[maphash.Bytes(hashSeed, lvl)&ix.mask]
	sh.mu.RLock()
	dst = sh.root.match(t, false, dst)
	sh.mu.RUnlock()
	// [MQTT-4.7.2-1]: no wildcard at the first level matches a '$' topic.
	if t[0] != '$' && ix.wildN.Load() > 0 {
		ix.wild.mu.RLock()
		dst = ix.wild.root.match(t, false, dst)
		ix.wild.mu.RUnlock()
	}
	return dst
}

// match appends the matches below n for the unconsumed levels rest; done
// reports that every level is consumed (n is the topic's last level).
// REQUIRES: the shard's mu held (read or write).
func (n *node) match(rest []byte, done bool, dst []Entry) []Entry {
	if done {
		dst = n.leaves[kindExact].appendTo(dst)
		return n.leaves[kindMultiParent].appendTo(dst) // "a/#" matches "a"
	}
	dst = n.leaves[kindMultiParent].appendTo(dst)
	dst = n.leaves[kindMulti].appendTo(dst)
	lvl, next, more := cut(rest)
	if n.plus != nil {
		dst = n.plus.match(next, !more, dst)
	}
	if c := n.lits[string(lvl)]; c != nil {
		dst = c.match(next, !more, dst)
	}
	return dst
}

// appendTo appends l's deliveries; l may be nil.
func (l *leaf) appendTo(dst []Entry) []Entry {
	if l == nil {
		return dst
	}
	dst = append(dst, l.subs.e...)
	if l.excl != nil {
		dst = append(dst, *l.excl)
	}
	for _, g := range l.groups {
		dst = append(dst, g.choose())
	}
	return dst
}
