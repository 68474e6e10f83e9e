package topic

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"
)

// Index errors.
var (
	ErrExclusiveTaken = errors.New("topic: exclusive filter is held by another subscriber") // MQTT reason 0x97
	ErrNotSubscribed  = errors.New("topic: no such subscription")                           // MQTT reason 0x11
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
	// Shards is the number of shards of each kind (literal, trie), rounded
	// up to a power of two; default DefaultShards.
	Shards int
	// Pick is how groups choose a member; default RoundRobin.
	Pick Pick
	// Seed seeds Random picks; 0 takes a random seed.
	Seed uint64
	// CacheSize bounds each trie shard's match cache (entries); 0 takes
	// DefaultCacheSize, negative disables the cache.
	CacheSize int
	// Name labels the index's metrics (index="Name"). When set, New
	// registers them in the default metrics set and Close unregisters them;
	// when empty the index exports nothing.
	Name string
}

// Defaults.
const (
	DefaultShards    = 64
	DefaultCacheSize = 1024
)

// doorWordsPerEntry sizes a trie shard's doorkeeper, a bit set of topic
// hashes (64 bits per word): a topic is cached on its second miss, so
// one-off topics do not allocate a cache entry (but for a bit another
// topic set: the cache bound still holds).
const doorWordsPerEntry = 1

// Index is the subscription index. All methods are safe for concurrent use.
// See doc.go for the structure, the lock order and the contracts.
type Index struct {
	lits     []litShard // filters without wildcards, by hash of the whole path
	tries    []shard    // wildcard filters, by hash of their literal first level
	wild     shard      // wildcard filters whose first level is '+' or '#'
	mask     uint64
	cfg      Config
	cacheMax int // entries per trie shard cache; 0 when disabled
	set      *metrics.Set

	subs   atomic.Int64 // subscriptions, group members and exclusive holders
	groups atomic.Int64
}

// litShard is a hash map of literal filters, padded to its own cache lines
// so that neighbouring shards' reader counts do not share a line.
type litShard struct {
	litState
	_ [128 - unsafe.Sizeof(litState{})%128]byte
}

type litState struct {
	mu sync.RWMutex
	m  map[string]*leaf // guarded by mu; key: the Filter path (its owned copy)
}

// shard is one trie with its lock and match cache, padded likewise.
type shard struct {
	shardState
	_ [128 - unsafe.Sizeof(shardState{})%128]byte
}

type shardState struct {
	mu   sync.RWMutex
	root node // guarded by mu
	// gen counts changes to the trie (the nats sublist genid idea). The
	// cache holds entries of generation cacheGen only: it answers while
	// cacheGen == gen and is cleared by the first insert of a newer one.
	gen      uint64                          // guarded by mu
	cacheGen uint64                          // guarded by mu
	cache    map[string][]*leaf              // guarded by mu; at most Index.cacheMax entries
	door     atomic.Pointer[[]atomic.Uint64] // doorkeeper bits, made on the first miss, cleared with the cache
	n        atomic.Int64                    // subscriptions in the trie; written under mu, Match skips an empty trie
	fullGen  atomic.Uint64                   // gen+1 once the cache of generation gen is full: remember returns early
	hits     atomic.Uint64
	miss     atomic.Uint64
}

type leafKind uint8

const (
	kindExact       leafKind = iota // filter ends with a literal or '+'
	kindMultiParent                 // ends with MQTT '#': matches the parent level too
	kindMulti                       // ends with NATS '>': one or more levels only
	numKinds
)

// node is one trie level. Literal children: the first sits inline (key,
// child), because most nodes of a deep trie have one child and a map costs
// ~200 bytes; from the second on all of them are in lits. Keys are
// substrings of the owned Filter path that created them (one copy per
// filter, made by ParseFilter).
type node struct {
	key    string // the only literal child's level; used while lits == nil
	child  *node
	lits   map[string]*node
	plus   *node
	leaves [numKinds]*leaf
}

// lit returns the literal child for level lvl, or nil.
func lit[L string | []byte](n *node, lvl L) *node {
	if n.lits != nil {
		return n.lits[string(lvl)]
	}
	if n.child != nil && n.key == string(lvl) {
		return n.child
	}
	return nil
}

// addLit returns the literal child for lvl, creating it.
func (n *node) addLit(lvl string) *node {
	if c := lit(n, lvl); c != nil {
		return c
	}
	c := new(node)
	switch {
	case n.lits != nil:
		n.lits[lvl] = c
	case n.child == nil:
		n.key, n.child = lvl, c
	default:
		n.lits = map[string]*node{n.key: n.child, lvl: c}
		n.key, n.child = "", nil
	}
	return c
}

// delLit removes the literal child for lvl.
func (n *node) delLit(lvl string) {
	if n.lits == nil {
		n.key, n.child = "", nil
		return
	}
	delete(n.lits, lvl)
	if len(n.lits) == 0 {
		n.lits = nil
	}
}

// leaf is what ends at a node for one leafKind, or at one literal path.
// Groups and exclusive holders are rare, so they sit behind one pointer
// (a leaf is 40 bytes, not 64: it is allocated once per distinct filter).
type leaf struct {
	subs set
	more *leafMore // nil unless a group or an exclusive holder exists
}

type leafMore struct {
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
	ix := &Index{lits: make([]litShard, n), tries: make([]shard, n), mask: uint64(n - 1), cfg: cfg, cacheMax: cfg.CacheSize}
	switch {
	case cfg.CacheSize == 0:
		ix.cacheMax = DefaultCacheSize
	case cfg.CacheSize < 0:
		ix.cacheMax = 0
	}
	if cfg.Name != "" {
		l := `{index="` + cfg.Name + `"}`
		ix.set = metrics.NewSet()
		for _, m := range []struct {
			name string
			get  func(*Stats) float64
		}{
			{"robustmq_topic_subscriptions", func(s *Stats) float64 { return float64(s.Subscriptions) }},
			{"robustmq_topic_groups", func(s *Stats) float64 { return float64(s.Groups) }},
			{"robustmq_topic_match_cache_hits_total", func(s *Stats) float64 { return float64(s.CacheHits) }},
			{"robustmq_topic_match_cache_misses_total", func(s *Stats) float64 { return float64(s.CacheMisses) }},
		} {
			ix.set.NewGauge(m.name+l, func() float64 { s := ix.Stats(); return m.get(&s) })
		}
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

// Stats is a snapshot of the index's counters.
type Stats struct {
	Subscriptions int64  // plain subscriptions, group members, exclusive holders
	Groups        int64  // non-empty groups
	CacheHits     uint64 // trie lookups answered by the match cache
	CacheMisses   uint64 // trie lookups that walked the trie
}

// Stats sums the per-shard counters (no lock taken).
func (ix *Index) Stats() Stats {
	s := Stats{Subscriptions: ix.subs.Load(), Groups: ix.groups.Load()}
	for i := -1; i < len(ix.tries); i++ {
		sh := &ix.wild
		if i >= 0 {
			sh = &ix.tries[i]
		}
		s.CacheHits += sh.hits.Load()
		s.CacheMisses += sh.miss.Load()
	}
	return s
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

// trieOf is the trie of a wildcard filter.
func (ix *Index) trieOf(path string) *shard {
	lvl, _, _ := cutString(path)
	if lvl == "+" || lvl == "#" {
		return &ix.wild
	}
	return &ix.tries[maphash.String(hashSeed, lvl)&ix.mask]
}

// Subscribe adds s's subscription to f with the opaque options opts. A
// second Subscribe of the same subscriber ID to the same Filter replaces
// the options (and Target). An exclusive Filter held by another subscriber
// fails with ErrExclusiveTaken.
func (ix *Index) Subscribe(f Filter, s Subscriber, opts any) error {
	if f.dialect == 0 {
		return fmt.Errorf("topic: subscribe %d: %w (Filter not from ParseFilter)", s.ID, ErrDialect)
	}
	e := Entry{Subscriber: s, Opts: opts}
	if !f.wild {
		ls := &ix.lits[maphash.String(hashSeed, f.path)&ix.mask]
		ls.mu.Lock()
		defer ls.mu.Unlock()
		l := ls.m[f.path]
		if l == nil {
			l = new(leaf)
			if ls.m == nil {
				ls.m = make(map[string]*leaf)
			}
			ls.m[f.path] = l
		}
		_, err := ix.put(l, f, e, &ls.mu)
		return err
	}
	sh := ix.trieOf(f.path)
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
			n = n.addLit(lvl)
		}
	}
	k := f.kind()
	l := n.leaves[k]
	if l == nil {
		l = new(leaf)
		n.leaves[k] = l
	}
	sh.gen++
	added, err := ix.put(l, f, e, &sh.mu)
	if added {
		sh.n.Add(1)
	}
	return err
}

// put adds e to leaf l as f says (exclusive holder, group member or plain)
// and reports whether it was new.
// REQUIRES: mu, the lock guarding l, held for writing.
func (ix *Index) put(l *leaf, f Filter, e Entry, mu *sync.RWMutex) (bool, error) {
	added := false
	switch {
	case f.exclusive:
		if l.more != nil && l.more.excl != nil && l.more.excl.ID != e.ID {
			return false, fmt.Errorf("%w: %q held by subscriber %d, wanted by %d", ErrExclusiveTaken, f.String(), l.more.excl.ID, e.ID)
		}
		if l.more == nil {
			l.more = new(leafMore)
		}
		added = l.more.excl == nil
		l.more.excl = &e
	case f.group != "":
		if l.more == nil {
			l.more = new(leafMore)
		}
		var g *Group
		for _, x := range l.more.groups {
			if x.name == f.group {
				g = x
				break
			}
		}
		if g == nil {
			g = &Group{name: f.group, mu: mu, pick: ix.cfg.Pick, seed: ix.cfg.Seed}
			l.more.groups = append(l.more.groups, g)
			ix.groups.Add(1)
		}
		e.Group = g
		added = g.members.put(e)
	default:
		added = l.subs.put(e)
	}
	if added {
		ix.subs.Add(1)
	}
	return added, nil
}

// Unsubscribe removes subscriber id's subscription to f, or fails with
// ErrNotSubscribed. Leaves and nodes left empty are removed.
func (ix *Index) Unsubscribe(f Filter, id uint64) error {
	var ok bool
	if !f.wild {
		ls := &ix.lits[maphash.String(hashSeed, f.path)&ix.mask]
		ls.mu.Lock()
		if l := ls.m[f.path]; l != nil {
			ok = ix.del(l, f, id)
			if l.empty() {
				delete(ls.m, f.path)
			}
		}
		ls.mu.Unlock()
	} else {
		sh := ix.trieOf(f.path)
		sh.mu.Lock()
		ok = ix.unsub(&sh.root, f.path, f, id)
		if ok {
			sh.gen++
			sh.n.Add(-1)
		}
		sh.mu.Unlock()
	}
	if !ok {
		return fmt.Errorf("%w: %q for subscriber %d", ErrNotSubscribed, f.String(), id)
	}
	ix.subs.Add(-1)
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
		c = lit(n, lvl)
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
			n.delLit(lvl)
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
	ok := ix.del(l, f, id)
	if l.empty() {
		n.leaves[k] = nil
	}
	return ok
}

// del removes id's entry of kind f (exclusive, group or plain) from l.
// REQUIRES: the lock guarding l held for writing.
func (ix *Index) del(l *leaf, f Filter, id uint64) bool {
	if !f.exclusive && f.group == "" {
		return l.subs.del(id)
	}
	m := l.more
	if m == nil {
		return false
	}
	ok := false
	if f.exclusive {
		ok = m.excl != nil && m.excl.ID == id
		if ok {
			m.excl = nil
		}
	}
	for i, g := range m.groups {
		if f.exclusive || g.name != f.group {
			continue
		}
		ok = g.members.del(id)
		if len(g.members.e) == 0 {
			last := len(m.groups) - 1
			m.groups[i] = m.groups[last]
			m.groups[last] = nil
			m.groups = m.groups[:last]
			ix.groups.Add(-1)
		}
		break
	}
	if m.excl == nil && len(m.groups) == 0 {
		l.more = nil
	}
	return ok
}

func (l *leaf) empty() bool { return len(l.subs.e) == 0 && l.more == nil }

func (n *node) empty() bool {
	return n.child == nil && n.lits == nil && n.plus == nil && n.leaves == [numKinds]*leaf{}
}

// Match appends to dst every subscription whose filter matches the
// canonical topic name t (one chosen member per group) and returns the
// extended slice. It keeps no reference to t and does not allocate when dst
// has room (a topic missing a trie's cache twice in a row allocates its
// cache entry once). A subscriber with overlapping filters appears once per
// filter; folding them is the session layer's job (MQTT 4.7.2 permits
// both).
//
// Match takes at most three read locks, one at a time: t's literal shard,
// the trie of t's first level (skipped when empty) and the trie of
// wildcard-rooted filters (skipped when empty or when t starts with '$').
func (ix *Index) Match(t []byte, dst []Entry) []Entry {
	if len(t) == 0 {
		return dst
	}
	ls := &ix.lits[maphash.Bytes(hashSeed, t)&ix.mask]
	ls.mu.RLock()
	if l := ls.m[string(t)]; l != nil {
		dst = l.appendTo(dst)
	}
	ls.mu.RUnlock()
	lvl, _, _ := cut(t)
	if sh := &ix.tries[maphash.Bytes(hashSeed, lvl)&ix.mask]; sh.n.Load() > 0 {
		dst = sh.match(t, dst, ix.cacheMax)
	}
	// [MQTT-4.7.2-1]: no wildcard at the first level matches a '$' topic.
	if t[0] != '$' && ix.wild.n.Load() > 0 {
		dst = ix.wild.match(t, dst, ix.cacheMax)
	}
	return dst
}

// match appends sh's matches for t, from the cache when it holds t in the
// current generation.
func (sh *shard) match(t []byte, dst []Entry, cacheMax int) []Entry {
	sh.mu.RLock()
	if cacheMax > 0 {
		// The cache holds leaves, not entries: their subscriptions are read
		// live under the read lock, and groups pick a member per message.
		if c, ok := sh.cache[string(t)]; ok && sh.cacheGen == sh.gen {
			for _, l := range c {
				dst = l.appendTo(dst)
			}
			sh.mu.RUnlock()
			sh.hits.Add(1)
			return dst
		}
	}
	// A topic of L levels matches at most 2^L exact and 2*(2^(L+1)-1) '#'
	// filter shapes; 32 covers every 3-level topic without allocating.
	var buf [32]*leaf
	ls := sh.root.collect(t, false, buf[:0])
	for _, l := range ls {
		dst = l.appendTo(dst)
	}
	gen := sh.gen
	sh.mu.RUnlock()
	if cacheMax > 0 {
		sh.miss.Add(1)
		sh.remember(t, gen, ls, cacheMax)
	}
	return dst
}

// remember caches ls as t's leaves of generation gen, on t's second miss
// in a row (doorkeeper), and only if the write lock is free at once: a
// publisher never waits to fill the cache. A full cache takes no more
// entries until the generation changes (no eviction), so once it is warm
// and subscriptions do not change, publishers take read locks only.
func (sh *shard) remember(t []byte, gen uint64, ls []*leaf, cacheMax int) {
	if sh.fullGen.Load() == gen+1 {
		return
	}
	door := sh.door.Load()
	if door == nil {
		s := make([]atomic.Uint64, 1<<bits.Len(uint(cacheMax*doorWordsPerEntry-1)))
		sh.door.CompareAndSwap(nil, &s)
		door = sh.door.Load()
	}
	h := maphash.Bytes(hashSeed, t)
	w, bit := &(*door)[(h>>6)&uint64(len(*door)-1)], uint64(1)<<(h&63)
	if w.Load()&bit == 0 {
		w.Or(bit)
		return
	}
	if !sh.mu.TryLock() {
		return
	}
	if sh.gen == gen {
		if sh.cacheGen != gen {
			clear(sh.cache)
			for i := range *door {
				(*door)[i].Store(0)
			}
			sh.cacheGen = gen
		}
		if len(sh.cache) < cacheMax {
			if sh.cache == nil {
				sh.cache = make(map[string][]*leaf)
			}
			sh.cache[string(t)] = slices.Clone(ls)
		}
		if len(sh.cache) >= cacheMax {
			sh.fullGen.Store(gen + 1)
		}
	}
	sh.mu.Unlock()
}

// collect appends the leaves below n that match the unconsumed levels
// rest; done reports that every level is consumed (n is the topic's last
// level).
// REQUIRES: the shard's mu held (read or write).
func (n *node) collect(rest []byte, done bool, ls []*leaf) []*leaf {
	if done {
		ls = addLeaf(ls, n.leaves[kindExact])
		return addLeaf(ls, n.leaves[kindMultiParent]) // "a/#" matches "a"
	}
	ls = addLeaf(ls, n.leaves[kindMultiParent])
	ls = addLeaf(ls, n.leaves[kindMulti])
	lvl, next, more := cut(rest)
	if n.plus != nil {
		ls = n.plus.collect(next, !more, ls)
	}
	if c := lit(n, lvl); c != nil {
		ls = c.collect(next, !more, ls)
	}
	return ls
}

func addLeaf(ls []*leaf, l *leaf) []*leaf {
	if l == nil {
		return ls
	}
	return append(ls, l)
}

// appendTo appends l's deliveries, one chosen member per group.
// REQUIRES: the lock guarding l held (read or write).
func (l *leaf) appendTo(dst []Entry) []Entry {
	dst = append(dst, l.subs.e...)
	if m := l.more; m != nil {
		if m.excl != nil {
			dst = append(dst, *m.excl)
		}
		for _, g := range m.groups {
			dst = append(dst, g.choose())
		}
	}
	return dst
}
