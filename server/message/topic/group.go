package topic

import (
	"sync"
	"sync/atomic"
)

// Pick is how a group chooses the member that gets a message.
type Pick uint8

const (
	// RoundRobin cycles through the members in order (the default).
	RoundRobin Pick = iota
	// Random picks a member uniformly from a counter-based generator seeded
	// by Config.Seed: lock-free, and reproducible for one seed.
	Random
)

// Group is one shared subscription ("$share/{group}/{filter}") or NATS
// queue group: the members subscribed with one group name on one filter
// (same canonical path and wildcard kind). Each matching message goes to
// exactly one member, chosen by the index's Pick.
//
// A *Group stays valid after its last member leaves; it is then empty and
// PickOther fails. A later member creates a new Group.
type Group struct {
	name    string
	mu      *sync.RWMutex // the lock of the shard holding the group; guards members
	members set
	seq     atomic.Uint64 // picks so far; round-robin position or generator counter
	pick    Pick
	seed    uint64
}

// Name is the group name.
func (g *Group) Name() string { return g.name }

// Len is the current member count.
func (g *Group) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.members.e)
}

// index returns a position in [0, n) for the next pick.
// REQUIRES: n > 0.
func (g *Group) index(n int) int {
	k := g.seq.Add(1) - 1
	if g.pick == Random {
		k = splitmix64(g.seed + k*0x9e3779b97f4a7c15)
	}
	return int(k % uint64(n))
}

// choose returns the next member.
// REQUIRES: g.mu held (read or write), at least one member.
func (g *Group) choose() Entry { return g.members.e[g.index(len(g.members.e))] }

// PickOther picks a member other than subscriber excluding, for the
// session layer to hand a leaving member's in-flight messages to. It fails
// when no other member is left. It takes the group's shard read lock.
func (g *Group) PickOther(excluding uint64) (Entry, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	m := g.members.e
	p := g.members.find(excluding)
	n := len(m)
	if p >= 0 {
		n--
	}
	if n == 0 {
		return Entry{}, false
	}
	i := g.index(n)
	if p >= 0 && i >= p {
		i++ // skip the excluded member's slot
	}
	return m[i], true
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
