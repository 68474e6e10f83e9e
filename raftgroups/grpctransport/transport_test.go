package grpctransport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"

	"robustmq/raftgroups"
	"robustmq/raftgroups/internal/harness"
)

// node is one meta node: pebble, manager, transport and a gRPC server on a
// real loopback socket.
type node struct {
	id   uint64
	addr string
	dir  string
	db   *pebble.DB
	m    *raftgroups.Manager
	tr   *Transport
	srv  *grpc.Server
	meta raftgroups.Meta
	join bool // started with raftgroups.Config.Join
}

type cluster struct {
	t     testing.TB
	addrs map[uint64]string
	nodes map[uint64]*node
	mod   func(*raftgroups.Config, *Config)
}

func newCluster(t testing.TB, n int, mod func(*raftgroups.Config, *Config)) *cluster {
	c := &cluster{t: t, addrs: make(map[uint64]string), nodes: make(map[uint64]*node), mod: mod}
	lns := make(map[uint64]net.Listener)
	for id := uint64(1); id <= uint64(n); id++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[id], c.addrs[id] = ln, ln.Addr().String()
		c.nodes[id] = &node{id: id, addr: ln.Addr().String(), dir: t.TempDir()}
	}
	for id, ln := range lns {
		c.start(id, ln)
	}
	t.Cleanup(func() {
		for id := range c.nodes {
			c.stop(id)
		}
	})
	return c
}

func (c *cluster) start(id uint64, ln net.Listener) {
	c.t.Helper()
	nd := c.nodes[id]
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", nd.addr); err != nil {
			c.t.Fatal(err)
		}
	}
	tcfg := Config{NodeID: id, Peers: c.addrs, RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond}
	rcfgJoin := nd.join
	rcfg := raftgroups.Config{
		NodeID: id, TickInterval: 10 * time.Millisecond, HeartbeatTick: 2, ElectionTick: 15,
		ProposeTimeout: 5 * time.Second,
	}
	for p := range c.addrs {
		rcfg.Peers = append(rcfg.Peers, p)
	}
	rcfg.Join = rcfgJoin
	if c.mod != nil {
		c.mod(&rcfg, &tcfg)
	}
	tr, err := New(tcfg)
	if err != nil {
		c.t.Fatal(err)
	}
	db, err := raftgroups.OpenDB(nd.dir, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	rcfg.DB, rcfg.Transport = db, tr
	m, err := raftgroups.New(rcfg)
	if err != nil {
		c.t.Fatal(err)
	}
	tr.SetReceiver(m)
	srv := grpc.NewServer()
	tr.Register(srv)
	go func() { _ = srv.Serve(ln) }() // ends with srv.Stop in c.stop
	m.Start()
	nd.db, nd.m, nd.tr, nd.srv, nd.meta = db, m, tr, srv, raftgroups.NewMeta(m)
}

func (c *cluster) stop(id uint64) {
	nd := c.nodes[id]
	if nd.m == nil {
		return
	}
	nd.srv.Stop()
	nd.m.Stop()
	nd.tr.Close()
	if err := nd.db.Close(); err != nil {
		c.t.Errorf("node %d: close db: %v", id, err)
	}
	nd.m = nil
}

func (c *cluster) leader(g raftgroups.GroupID) uint64 {
	c.t.Helper()
	var lead uint64
	harness.WaitFor(c.t, 10*time.Second, "a leader", func() bool {
		lead = 0
		for _, nd := range c.nodes {
			if nd.m == nil {
				continue
			}
			l := nd.m.Group(g).Status().Leader
			if l == 0 || (lead != 0 && l != lead) {
				return false
			}
			lead = l
		}
		return lead != 0 && c.nodes[lead].m != nil
	})
	return lead
}

func put(t testing.TB, nd *node, key, val string) {
	t.Helper()
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := nd.meta.Put(ctx, "test", []byte(key), []byte(val))
		cancel()
		if err == nil {
			return
		}
		if !errors.Is(err, raftgroups.ErrTimeout) {
			t.Fatalf("node %d: Put(%s) = %v", nd.id, key, err)
		}
	}
	t.Fatalf("node %d: Put(%s) kept timing out", nd.id, key)
}

func get(t testing.TB, nd *node, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, _, err := nd.meta.Get(ctx, "test", []byte(key))
	if err != nil {
		t.Fatalf("node %d: Get(%s) = %v", nd.id, key, err)
	}
	return string(v)
}

func TestClusterOverGRPC(t *testing.T) {
	c := newCluster(t, 3, nil)
	for _, g := range raftgroups.Groups {
		c.leader(g)
	}
	for id := uint64(1); id <= 3; id++ {
		put(t, c.nodes[id], fmt.Sprint("k", id), fmt.Sprint("v", id))
	}
	for id := uint64(1); id <= 3; id++ {
		for w := uint64(1); w <= 3; w++ {
			if got, want := get(t, c.nodes[id], fmt.Sprint("k", w)), fmt.Sprint("v", w); got != want {
				t.Fatalf("node %d: k%d = %q; want %q", id, w, got, want)
			}
		}
	}
	// A peer that is down does not stop the others: they keep committing
	// while their queues to it drop and report.
	lead := c.leader(raftgroups.GroupMetadata)
	down := lead%3 + 1
	c.stop(down)
	for i := range 50 {
		put(t, c.nodes[lead], fmt.Sprint("d", i), "x")
	}
	// It comes back on the same address and catches up.
	c.start(down, nil)
	harness.WaitFor(t, 10*time.Second, "the restarted node to catch up", func() bool { return get(t, c.nodes[down], "d49") == "x" })
}

func TestSnapshotInChunks(t *testing.T) {
	c := newCluster(t, 3, func(r *raftgroups.Config, tc *Config) {
		r.SnapshotEntries, r.CompactKeepEntries = 20, 5
		tc.SnapshotChunkBytes = 64
	})
	lead := c.leader(raftgroups.GroupMetadata)
	behind := lead%3 + 1
	c.stop(behind)
	for i := range 100 {
		put(t, c.nodes[lead], fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	c.start(behind, nil)
	harness.WaitFor(t, 10*time.Second, "catch-up by snapshot", func() bool { return get(t, c.nodes[behind], "k099") == "99" })
	var chunks uint64
	for _, nd := range c.nodes {
		for _, p := range *nd.tr.peers.Load() {
			chunks += p.mChunks.Get()
		}
	}
	if chunks < 2 {
		t.Fatalf("%d snapshot chunks sent; want a snapshot split into several 64-byte chunks", chunks)
	}
}

// recorder is a Receiver that records what it gets.
type recorder struct {
	mu          sync.Mutex
	got         []*pb.Message
	unreachable int
}

func (r *recorder) Receive(_ raftgroups.GroupID, m *pb.Message) {
	r.mu.Lock()
	r.got = append(r.got, m)
	r.mu.Unlock()
}

func (r *recorder) ReportUnreachable(raftgroups.GroupID, uint64) {
	r.mu.Lock()
	r.unreachable++
	r.mu.Unlock()
}

func (r *recorder) ReportUndelivered(raftgroups.GroupID, *pb.Message) {
	r.mu.Lock()
	r.unreachable++
	r.mu.Unlock()
}

func (r *recorder) ReportSnapshot(raftgroups.GroupID, uint64, bool) {}

func (r *recorder) counts() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got), r.unreachable
}

// TestDownPeerDoesNotBlockOthers sends to a blackhole (accepts TCP, never
// speaks HTTP/2) and to a live peer at once: Send never blocks, the live
// peer gets everything, the blackhole's queue overflows into reports.
func TestDownPeerDoesNotBlockOthers(t *testing.T) {
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	live, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	liveTr, err := New(Config{NodeID: 3, Peers: map[uint64]string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer liveTr.Close()
	liveRec := &recorder{}
	liveTr.SetReceiver(liveRec)
	srv := grpc.NewServer()
	liveTr.Register(srv)
	go func() { _ = srv.Serve(live) }()
	defer srv.Stop()

	tr, err := New(Config{NodeID: 1, Peers: map[uint64]string{2: hole.Addr().String(), 3: live.Addr().String()}, QueueMessages: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	rec := &recorder{}
	tr.SetReceiver(rec)
	// Rounds smaller than the queue, each delivered before the next: the live
	// queue never overflows while the blackhole's does.
	const n, round = 1000, 50
	for i := 0; i < n; i += round {
		for j := i; j < i+round; j++ {
			for _, to := range []uint64{2, 3} {
				tr.Send(raftgroups.GroupOffset, []*pb.Message{{Type: pb.MsgHeartbeat.Enum(), To: new(to), From: new(uint64(1)), Commit: new(uint64(j))}})
			}
		}
		harness.WaitFor(t, 10*time.Second, "the live peer to receive the round", func() bool {
			got, _ := liveRec.counts()
			return got == i+round
		})
	}
	// At most one queue's worth sits in the blocked goroutine's hands and one
	// more in the queue; every other message was reported.
	if _, unreachable := rec.counts(); unreachable < n-200 {
		t.Fatalf("%d unreachable reports for %d messages to a blackhole with a 100-message queue; want >= %d", unreachable, n, n-200)
	}
	liveRec.mu.Lock()
	defer liveRec.mu.Unlock()
	for i, m := range liveRec.got {
		if m.GetCommit() != uint64(i) {
			t.Fatalf("message %d has commit %d: order lost", i, m.GetCommit())
		}
	}
}

// TestAddMemberOverGRPC grows a running 3-node cluster to 4: every
// transport learns the new address, the new node joins empty, a member adds
// it, and it catches up (by snapshot) and serves linearizable reads.
func TestAddMemberOverGRPC(t *testing.T) {
	c := newCluster(t, 3, func(r *raftgroups.Config, _ *Config) { r.SnapshotEntries, r.CompactKeepEntries = 10, 2 })
	c.leader(raftgroups.GroupMetadata)
	for i := range 20 {
		put(t, c.nodes[1], fmt.Sprintf("k%02d", i), fmt.Sprint(i))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.addrs[4] = ln.Addr().String()
	c.nodes[4] = &node{id: 4, addr: ln.Addr().String(), dir: t.TempDir(), join: true}
	for id := uint64(1); id <= 3; id++ {
		if err := c.nodes[id].tr.AddPeer(4, c.addrs[4]); err != nil {
			t.Fatal(err)
		}
	}
	c.start(4, ln)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.nodes[3].m.AddMember(ctx, 4); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 10*time.Second, "node 4 to learn the membership of every group", func() bool {
		for _, s := range c.nodes[4].m.Status() {
			if len(s.Members) != 4 {
				return false
			}
		}
		return true
	})
	if got := get(t, c.nodes[4], "k19"); got != "19" {
		t.Fatalf("node 4: k19 = %q; want 19", got)
	}
}
