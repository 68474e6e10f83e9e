package message

import "sync/atomic"

// Gate is a publisher's pending acknowledgement that subscribers may hold
// back: publisher flow control. The publishing protocol makes one per
// message it must acknowledge (MQTT QoS 1/2), sets Message.Gate, and opens
// it with references of its own (typically one for the store append and
// one for the fan-out, released when Publish returns). A subscriber whose
// bounded queue is full takes one more with Hold instead of dropping the
// message, and Releases it when the message leaves its queue. When the
// last reference goes, the Opener runs once: the publisher acknowledges,
// and only then may it send more (its in-flight window bounds what it can
// have waiting). So a slow subscriber slows the publishers that feed it
// rather than losing messages they were told were taken.
//
// A Gate that has opened cannot be held again (Hold reports false): a
// message delivered again later (retained, delayed, handed over) is queued
// under the subscriber's normal full policy.
type Gate struct {
	refs atomic.Int32
	to   Opener
}

// Opener is told when a Gate opens.
type Opener interface {
	GateOpened()
}

// Init arms g with refs references and the Opener to tell. Call it once,
// before anyone else can see g.
func (g *Gate) Init(refs int32, to Opener) {
	g.to = to
	g.refs.Store(refs)
}

// Hold takes a reference unless the gate already opened.
func (g *Gate) Hold() bool {
	for {
		n := g.refs.Load()
		if n <= 0 {
			return false
		}
		if g.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release drops a reference; the last one tells the Opener.
func (g *Gate) Release() {
	if g.refs.Add(-1) == 0 {
		g.to.GateOpened()
	}
}
