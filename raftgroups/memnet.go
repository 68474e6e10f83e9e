package raftgroups

import (
	"sync"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// MemNetwork is an in-process Transport for tests and benchmarks, with fault
// injection. Every directed link (from, to) has a bounded queue (linkQueue
// messages; full drops and reports the peer unreachable) drained by its own
// goroutine, so a slow or dead peer never delays the others. Messages are
// marshalled and unmarshalled on the way, as on a real wire.
//
// The network owns the link goroutines; Close stops and waits for them.
type MemNetwork struct {
	mu      sync.Mutex
	nodes   map[uint64]Receiver
	cut     map[[2]uint64]bool // directed links that drop everything
	delay   time.Duration
	links   map[[2]uint64]chan memEnvelope
	closed  bool
	stopc   chan struct{}
	wg      sync.WaitGroup
	dropped uint64 // messages lost to cuts, detached nodes or full queues
}

const linkQueue = 4096

type memEnvelope struct {
	group GroupID
	msg   *pb.Message
	sent  time.Time
}

// NewMemNetwork returns an empty network.
func NewMemNetwork() *MemNetwork {
	return &MemNetwork{
		nodes: make(map[uint64]Receiver),
		cut:   make(map[[2]uint64]bool),
		links: make(map[[2]uint64]chan memEnvelope),
		stopc: make(chan struct{}),
	}
}

// Endpoint returns node id's Transport.
func (n *MemNetwork) Endpoint(id uint64) Transport { return memEndpoint{n: n, from: id} }

// Attach delivers messages for node id to r (e.g. a *Manager).
func (n *MemNetwork) Attach(id uint64, r Receiver) {
	n.mu.Lock()
	n.nodes[id] = r
	n.mu.Unlock()
}

// Detach makes node id unreachable, as if it crashed.
func (n *MemNetwork) Detach(id uint64) {
	n.mu.Lock()
	delete(n.nodes, id)
	n.mu.Unlock()
}

// Partition cuts every link between a node of side a and one of side b, in
// both directions. Links within a side keep working.
func (n *MemNetwork) Partition(a, b []uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			n.cut[[2]uint64{x, y}] = true
			n.cut[[2]uint64{y, x}] = true
		}
	}
}

// Heal removes every cut.
func (n *MemNetwork) Heal() {
	n.mu.Lock()
	clear(n.cut)
	n.mu.Unlock()
}

// SetDelay makes every message arrive d after it was sent.
func (n *MemNetwork) SetDelay(d time.Duration) {
	n.mu.Lock()
	n.delay = d
	n.mu.Unlock()
}

// Dropped returns how many messages the network lost so far.
func (n *MemNetwork) Dropped() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dropped
}

// Close stops the link goroutines and waits for them.
func (n *MemNetwork) Close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	close(n.stopc)
	n.mu.Unlock()
	n.wg.Wait()
}

type memEndpoint struct {
	n    *MemNetwork
	from uint64
}

func (e memEndpoint) Send(g GroupID, msgs []*pb.Message) {
	for _, m := range msgs {
		e.n.send(e.from, g, m)
	}
}

func (n *MemNetwork) send(from uint64, g GroupID, m *pb.Message) {
	key := [2]uint64{from, m.GetTo()}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	q, ok := n.links[key]
	if !ok {
		q = make(chan memEnvelope, linkQueue)
		n.links[key] = q
		n.wg.Go(func() { n.deliver(key, q) })
	}
	n.mu.Unlock()
	select {
	case q <- memEnvelope{g, m, time.Now()}:
	default:
		n.lost(key, g, m)
	}
}

// lost counts a dropped message and tells the sender it was never
// delivered, as a real transport would after a failed connect.
func (n *MemNetwork) lost(key [2]uint64, g GroupID, m *pb.Message) {
	n.mu.Lock()
	n.dropped++
	sender := n.nodes[key[0]]
	n.mu.Unlock()
	if sender != nil {
		sender.ReportUndelivered(g, m)
	}
}

// deliver is link key's goroutine.
func (n *MemNetwork) deliver(key [2]uint64, q chan memEnvelope) {
	var buf []byte
	for {
		var env memEnvelope
		select {
		case <-n.stopc:
			return
		case env = <-q:
		}
		n.mu.Lock()
		delay := n.delay
		n.mu.Unlock()
		// Latency, not a rate limit: each message arrives delay after it was
		// sent, so messages in flight overlap.
		if wait := time.Until(env.sent.Add(delay)); delay > 0 && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-n.stopc:
				t.Stop()
				return
			case <-t.C:
			}
		}
		n.mu.Lock()
		to, sender, cut := n.nodes[key[1]], n.nodes[key[0]], n.cut[key]
		n.mu.Unlock()
		if to == nil || cut {
			n.lost(key, env.group, env.msg)
			continue
		}
		var err error
		buf, err = proto.MarshalOptions{}.MarshalAppend(buf[:0], env.msg)
		m := &pb.Message{}
		if err == nil {
			err = proto.Unmarshal(buf, m)
		}
		if err != nil {
			n.lost(key, env.group, env.msg)
			continue
		}
		to.Receive(env.group, m)
		if m.GetType() == pb.MsgSnap && sender != nil {
			sender.ReportSnapshot(env.group, key[1], false)
		}
	}
}
