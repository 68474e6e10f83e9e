package raftgroups

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"robustmq/raftgroups/internal/harness"
)

type testNode struct {
	id   uint64
	dir  string
	db   *pebble.DB
	m    *Manager
	meta Meta
}

// testCluster runs n nodes in-process over a MemNetwork, with fast ticks.
type testCluster struct {
	t     testing.TB
	net   *MemNetwork
	peers []uint64
	nodes map[uint64]*testNode
	mod   func(*Config)
}

func newCluster(t testing.TB, n int, mod func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, net: NewMemNetwork(), nodes: make(map[uint64]*testNode), mod: mod}
	for i := 1; i <= n; i++ {
		c.peers = append(c.peers, uint64(i))
	}
	for _, id := range c.peers {
		c.nodes[id] = &testNode{id: id, dir: t.TempDir()}
		c.start(id)
	}
	t.Cleanup(func() {
		for _, id := range c.peers {
			c.stop(id)
		}
		c.net.Close()
	})
	return c
}

// testConfig: 10ms ticks, heartbeat 20ms, election 150-300ms.
func testConfig() Config {
	return Config{
		TickInterval: 10 * time.Millisecond, HeartbeatTick: 2, ElectionTick: 15,
		ProposeTimeout: 5 * time.Second,
	}
}

func (c *testCluster) start(id uint64) {
	c.t.Helper()
	tn := c.nodes[id]
	db, err := OpenDB(tn.dir, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	cfg := testConfig()
	cfg.NodeID, cfg.Peers, cfg.DB, cfg.Transport = id, c.peers, db, c.net.Endpoint(id)
	if len(c.peers) == 1 {
		cfg.Transport = nil
	}
	if c.mod != nil {
		c.mod(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	tn.db, tn.m, tn.meta = db, m, NewMeta(m)
	c.net.Attach(id, m)
	m.Start()
}

// stop crashes node id: it leaves the network, its loops end, its DB closes.
func (c *testCluster) stop(id uint64) {
	tn := c.nodes[id]
	if tn.m == nil {
		return
	}
	c.net.Detach(id)
	tn.m.Stop()
	if err := tn.db.Close(); err != nil {
		c.t.Errorf("node %d: close db: %v", id, err)
	}
	tn.m, tn.db = nil, nil
}

// leader waits until the live nodes agree on a leader for g and returns it.
func (c *testCluster) leader(g GroupID) uint64 {
	c.t.Helper()
	var lead uint64
	harness.WaitFor(c.t, 10*time.Second, fmt.Sprintf("a %s leader", g), func() bool {
		lead = 0
		for _, tn := range c.nodes {
			if tn.m == nil {
				continue
			}
			s := tn.m.Group(g).Status()
			if s.Leader == 0 || (lead != 0 && s.Leader != lead) {
				return false
			}
			lead = s.Leader
		}
		return lead != 0 && c.nodes[lead].m != nil
	})
	return lead
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// putRetry writes through node id, retrying proposals lost to a leader
// change (a timeout leaves the outcome unknown; Put is idempotent).
func putRetry(t testing.TB, tn *testNode, key, val string) {
	t.Helper()
	for range 5 {
		err := tn.meta.Put(ctxT(t), "test", []byte(key), []byte(val))
		if err == nil {
			return
		}
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("node %d: Put(%s) = %v", tn.id, key, err)
		}
	}
	t.Fatalf("node %d: Put(%s) kept timing out", tn.id, key)
}

func requireGet(t testing.TB, tn *testNode, key, want string) {
	t.Helper()
	v, ok, err := tn.meta.Get(ctxT(t), "test", []byte(key))
	if err != nil || !ok || string(v) != want {
		t.Fatalf("node %d: Get(%s) = %q, %v, %v; want %q", tn.id, key, v, ok, err, want)
	}
}

func TestClusterReplicatesThroughAnyNode(t *testing.T) {
	c := newCluster(t, 3, nil)
	for _, id := range c.peers {
		if err := c.nodes[id].m.WaitLeaders(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	// Writes through every node (followers forward to the leader), then
	// linearizable reads on every node see all of them.
	for _, id := range c.peers {
		putRetry(t, c.nodes[id], fmt.Sprintf("k%d", id), fmt.Sprintf("v%d", id))
	}
	for _, id := range c.peers {
		for _, w := range c.peers {
			requireGet(t, c.nodes[id], fmt.Sprintf("k%d", w), fmt.Sprintf("v%d", w))
		}
	}
	// Typed APIs on the other groups, written on one node, read on another.
	ctx := ctxT(t)
	n1, n2, n3 := c.nodes[1].meta, c.nodes[2].meta, c.nodes[3].meta
	if err := n1.CommitOffsets(ctx, "g1", []OffsetCommit{{"orders", 0, 42, "m0"}, {"orders", 1, 7, ""}}); err != nil {
		t.Fatal(err)
	}
	got, err := n2.FetchOffsets(ctx, "g1", []OffsetCommit{{Topic: "orders", Partition: 1}, {Topic: "orders", Partition: 0}, {Topic: "orders", Partition: 9}})
	want := []OffsetCommit{{"orders", 1, 7, ""}, {"orders", 0, 42, "m0"}, {"orders", 9, -1, ""}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("FetchOffsets = %v, %v; want %v", got, err, want)
	}
	if err := n3.MQTTPut(ctx, MQTTRetained, []byte("a/b"), []byte("payload")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := n1.MQTTGet(ctx, MQTTRetained, []byte("a/b")); err != nil || !ok || string(v) != "payload" {
		t.Fatalf("MQTTGet = %q, %v, %v; want payload", v, ok, err)
	}
	if err := n2.CreateTopic(ctx, Topic{Name: "orders", Partitions: 3, Engine: "segment"}); err != nil {
		t.Fatal(err)
	}
	if err := n3.CreateTopic(ctx, Topic{Name: "orders", Partitions: 1}); !errors.Is(err, ErrExists) || err.Error() != "raftgroups: metadata: create topic orders: already exists" {
		t.Fatalf("second CreateTopic = %v; want ErrExists naming the topic", err)
	}
	// Status reports all three groups with the same members.
	for _, id := range c.peers {
		st := c.nodes[id].m.Status()
		if len(st) != 3 || st[0].Group != "metadata" || st[1].Group != "offset" || st[2].Group != "mqtt" {
			t.Fatalf("node %d: status groups %+v", id, st)
		}
		for _, s := range st {
			if !slices.Equal(s.Members, c.peers) || s.Leader == 0 || s.Commit == 0 {
				t.Fatalf("node %d: status %+v; want members %v, a leader, commit > 0", id, s, c.peers)
			}
		}
	}
}

func TestClusterLeaderFailover(t *testing.T) {
	c := newCluster(t, 3, nil)
	old := c.leader(GroupMetadata)
	putRetry(t, c.nodes[old], "before", "1")
	c.stop(old)
	start := time.Now()
	// A write through a follower right away is forwarded to the dead leader;
	// the transport reports it undelivered, so it is proposed again once a
	// new leader is known, and succeeds without the caller retrying.
	follower := old%3 + 1
	if err := c.nodes[follower].meta.Put(ctxT(t), "test", []byte("during"), []byte("3")); err != nil {
		t.Fatalf("Put through follower %d during failover = %v; want success", follower, err)
	}
	lead := c.leader(GroupMetadata)
	if lead == old {
		t.Fatalf("leader still %d after it stopped", old)
	}
	t.Logf("leader %d stopped; new leader %d and the write committed within %s", old, lead, time.Since(start))
	for _, id := range c.peers {
		if id != old {
			putRetry(t, c.nodes[id], fmt.Sprintf("after%d", id), "2")
			requireGet(t, c.nodes[id], "before", "1")
			requireGet(t, c.nodes[id], "during", "3")
		}
	}
	// The old leader comes back with its disk and catches up.
	c.start(old)
	for _, id := range c.peers {
		if id != old {
			requireGet(t, c.nodes[old], fmt.Sprintf("after%d", id), "2")
		}
	}
}

func TestClusterMinorityCannotCommit(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) { cfg.ProposeTimeout = time.Second })
	for _, g := range Groups {
		c.leader(g)
	}
	putRetry(t, c.nodes[1], "k", "before")
	c.net.Partition([]uint64{1}, []uint64{2, 3})

	err := c.nodes[1].meta.Put(context.Background(), "test", []byte("k"), []byte("minority"))
	if !errors.Is(err, ErrTimeout) || err.Error() != "raftgroups: metadata: propose: timed out after 1s" {
		t.Fatalf("minority Put = %v; want ErrTimeout saying %q", err, "raftgroups: metadata: propose: timed out after 1s")
	}
	if err := c.nodes[1].meta.CommitOffsets(context.Background(), "g", []OffsetCommit{{"t", 0, 1, ""}}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("minority CommitOffsets = %v; want ErrTimeout", err)
	}
	// The majority elects (if needed) and commits.
	putRetry(t, c.nodes[2], "k", "majority")
	requireGet(t, c.nodes[3], "k", "majority")
	// A linearizable read on the minority cannot be served either.
	if _, _, err := c.nodes[1].meta.Get(context.Background(), "test", []byte("k")); !errors.Is(err, ErrTimeout) {
		t.Fatalf("minority Get = %v; want ErrTimeout", err)
	}

	if c.net.Dropped() == 0 {
		t.Fatalf("the partition dropped no message")
	}
	c.net.Heal()
	// The minority's uncommitted write never surfaces; node 1 catches up.
	harness.WaitFor(t, 10*time.Second, "node 1 to see the majority's write", func() bool {
		v, ok, err := c.nodes[1].meta.Get(context.Background(), "test", []byte("k"))
		return err == nil && ok && string(v) == "majority"
	})
}

func TestClusterCatchUpBySnapshot(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotEntries = 20
		cfg.CompactKeepEntries = 5
	})
	c.leader(GroupMetadata)
	c.stop(3)
	for i := range 100 {
		putRetry(t, c.nodes[1+uint64(i%2)], fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	// The live nodes compacted past what node 3 has.
	first, _ := c.nodes[1].m.Group(GroupMetadata).st.FirstIndex()
	if first < 50 {
		t.Fatalf("node 1 first index %d after 100 writes with snapshots every 20; want compaction", first)
	}
	c.start(3)
	requireGet(t, c.nodes[3], "k099", "99")
	kvs, err := c.nodes[3].meta.List(ctxT(t), "test", []byte("k"))
	if err != nil || len(kvs) != 100 {
		t.Fatalf("node 3 List = %d keys, %v; want 100", len(kvs), err)
	}
	snap, _ := c.nodes[3].m.Group(GroupMetadata).st.Snapshot()
	if snap.GetMetadata().GetIndex() == 0 {
		t.Fatalf("node 3 has no snapshot: it did not catch up by snapshot")
	}
}

func TestStandaloneRestartKeepsState(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) { cfg.SnapshotEntries = 8 })
	tn := c.nodes[1]
	ctx := ctxT(t)
	for i := range 30 { // crosses several snapshots, then leaves a log tail
		putRetry(t, tn, fmt.Sprintf("k%02d", i), fmt.Sprint(i))
	}
	if err := tn.meta.CreateTopic(ctx, Topic{Name: "t1", Partitions: 4, Engine: "memory", RetentionMs: 3600000, Options: map[string]string{"a": "1", "b": "2"}}); err != nil {
		t.Fatal(err)
	}
	if err := tn.meta.RegisterNode(ctx, Node{ID: 1, Addr: "127.0.0.1:1228", Roles: []string{"meta", "broker"}, StartedAt: 99}); err != nil {
		t.Fatal(err)
	}
	if err := tn.meta.PutShard(ctx, Shard{Name: "t1_0", Node: 7, Data: []byte("shard")}); err != nil {
		t.Fatal(err)
	}
	if err := tn.meta.CommitOffsets(ctx, "g", []OffsetCommit{{"t1", 3, 1000, "meta"}}); err != nil {
		t.Fatal(err)
	}
	if err := tn.meta.MQTTPut(ctx, MQTTSession, []byte("client-1"), []byte("session")); err != nil {
		t.Fatal(err)
	}
	if err := tn.meta.Delete(ctx, "test", []byte("k00")); err != nil {
		t.Fatal(err)
	}

	c.stop(1)
	c.start(1)
	tn = c.nodes[1]
	ctx = ctxT(t)
	kvs, err := tn.meta.List(ctx, "test", nil)
	if err != nil || len(kvs) != 29 || string(kvs[0].Key) != "k01" || string(kvs[28].Value) != "29" {
		t.Fatalf("List after restart = %d keys (%v), err %v; want k01..k29", len(kvs), kvs, err)
	}
	tp, err := tn.meta.Topic(ctx, "t1")
	if err != nil || tp.Partitions != 4 || tp.Engine != "memory" || tp.RetentionMs != 3600000 || tp.Options["b"] != "2" {
		t.Fatalf("Topic after restart = %+v, %v", tp, err)
	}
	nodes, err := tn.meta.Nodes(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].Addr != "127.0.0.1:1228" || !slices.Equal(nodes[0].Roles, []string{"meta", "broker"}) || nodes[0].StartedAt != 99 {
		t.Fatalf("Nodes after restart = %+v, %v", nodes, err)
	}
	shards, err := tn.meta.Shards(ctx, "")
	if err != nil || len(shards) != 1 || shards[0].Name != "t1_0" || shards[0].Node != 7 || string(shards[0].Data) != "shard" {
		t.Fatalf("Shards after restart = %v, %v", shards, err)
	}
	offs, err := tn.meta.FetchOffsets(ctx, "g", []OffsetCommit{{Topic: "t1", Partition: 3}})
	if err != nil || offs[0].Offset != 1000 || offs[0].Metadata != "meta" {
		t.Fatalf("FetchOffsets after restart = %v, %v", offs, err)
	}
	if v, ok, err := tn.meta.MQTTGet(ctx, MQTTSession, []byte("client-1")); err != nil || !ok || string(v) != "session" {
		t.Fatalf("MQTTGet after restart = %q, %v, %v", v, ok, err)
	}
	// And it keeps accepting writes.
	putRetry(t, tn, "after", "restart")
}

func TestWaitLeadersWithoutQuorum(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.stop(2)
	c.stop(3)
	// A leader elected before the stops steps down (CheckQuorum); none can
	// be elected after.
	harness.WaitFor(t, 5*time.Second, "node 1 to have no metadata leader", func() bool {
		return c.nodes[1].m.Group(GroupMetadata).Status().Leader == 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := c.nodes[1].m.WaitLeaders(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "raftgroups: wait for leaders: metadata has none: context deadline exceeded" {
		t.Fatalf("WaitLeaders alone of 3 = %v; want a deadline error naming the metadata group", err)
	}
}

func TestManagerStopFailsWaiters(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.leader(GroupMetadata)
	// Cut node 1 off so its proposal waits, then stop it.
	c.net.Partition([]uint64{1}, []uint64{2, 3})
	errc := make(chan error, 1)
	go func() { errc <- c.nodes[1].meta.Put(context.Background(), "test", []byte("k"), []byte("v")) }()
	harness.WaitFor(t, 5*time.Second, "the proposal to be queued", func() bool {
		g := c.nodes[1].m.Group(GroupMetadata)
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.pending) == 1
	})
	c.stop(1)
	if err := <-errc; !errors.Is(err, ErrStopped) {
		t.Fatalf("Put during Stop = %v; want ErrStopped", err)
	}
}

// TestClusterMembershipChange adds a fourth node to a running cluster (it
// joins empty and is caught up by snapshot), then removes two founders and
// shows the new member's vote is needed to commit.
func TestClusterMembershipChange(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) { cfg.SnapshotEntries, cfg.CompactKeepEntries = 10, 2 })
	c.leader(GroupMetadata)
	for i := range 30 {
		putRetry(t, c.nodes[1], fmt.Sprintf("k%02d", i), fmt.Sprint(i))
	}
	c.nodes[4] = &testNode{id: 4, dir: t.TempDir()}
	c.peers = append(c.peers, 4)
	prev := c.mod
	c.mod = func(cfg *Config) {
		prev(cfg)
		cfg.Join = cfg.NodeID == 4
	}
	c.start(4)
	if err := c.nodes[2].m.AddMember(ctxT(t), 4); err != nil {
		t.Fatal(err)
	}
	all := []uint64{1, 2, 3, 4}
	harness.WaitFor(t, 10*time.Second, "node 4 to learn the membership", func() bool {
		for _, s := range c.nodes[4].m.Status() {
			if !slices.Equal(s.Members, all) {
				return false
			}
		}
		return true
	})
	requireGet(t, c.nodes[4], "k29", "29")

	c.stop(1)
	if err := c.nodes[2].m.RemoveMember(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	c.stop(2)
	// Voters are now {2, 3, 4} with 2 down: 3 and 4 are a quorum only
	// because 4 votes.
	putRetry(t, c.nodes[3], "after", "removal")
	requireGet(t, c.nodes[4], "after", "removal")
}

// TestClusterSlowNetwork delays every message by 30ms (longer than a
// heartbeat): elections settle and writes and reads still complete.
func TestClusterSlowNetwork(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.net.SetDelay(30 * time.Millisecond)
	for _, g := range Groups {
		c.leader(g)
	}
	for id := uint64(1); id <= 3; id++ {
		putRetry(t, c.nodes[id], fmt.Sprint("slow", id), "v")
	}
	requireGet(t, c.nodes[2], "slow3", "v")
}

func TestProposeRefusesHugeCommand(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) { cfg.MaxCommandBytes = 1000 })
	err := c.nodes[1].meta.Put(ctxT(t), "test", []byte("k"), make([]byte, 1000))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Put of a 1000-byte value with a 1000-byte command limit = %v; want ErrTooLarge", err)
	}
	putRetry(t, c.nodes[1], "k", "small")
}

// TestProposeBackpressure fills a group's bounded proposal queue (its node
// is cut off, so nothing completes) and requires ErrBusy past the bound.
func TestProposeBackpressure(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) { cfg.MaxPendingProposals, cfg.ProposeTimeout = 4, time.Second })
	c.leader(GroupMetadata)
	c.net.Partition([]uint64{1}, []uint64{2, 3})
	g := c.nodes[1].m.Group(GroupMetadata)
	errc := make(chan error, 4)
	for i := range 4 {
		go func() { errc <- c.nodes[1].meta.Put(context.Background(), "test", []byte(fmt.Sprint(i)), nil) }()
	}
	harness.WaitFor(t, 5*time.Second, "4 pending proposals", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.pending) == 4
	})
	if err := c.nodes[1].meta.Put(context.Background(), "test", []byte("one more"), nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("fifth Put with 4 pending = %v; want ErrBusy", err)
	}
	for range 4 {
		if err := <-errc; !errors.Is(err, ErrTimeout) {
			t.Fatalf("cut-off Put = %v; want ErrTimeout", err)
		}
	}
}

// TestCommitOffsetsBatch: each commit of a batch succeeds or fails on its own (one refused for
// its group name, one too large), across a 3-node cluster through a follower; the others are
// readable after.
func TestCommitOffsetsBatch(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) { cfg.MaxCommandBytes = 1000 })
	leader := c.leader(GroupOffset)
	via := c.nodes[leader%3+1] // a follower: raft forwards the batch's entries
	cs := []GroupCommit{
		{Group: "a", Commits: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 10}}},
		{Group: "bad\x00", Commits: []OffsetCommit{{Topic: "t", Offset: 1}}},
		{Group: "b", Commits: []OffsetCommit{{Topic: "t", Partition: 1, Offset: 20, Metadata: "m"}}},
		{Group: "huge", Commits: []OffsetCommit{{Topic: "t", Metadata: string(make([]byte, 1000))}}},
	}
	errs := make([]error, len(cs))
	via.meta.CommitOffsetsBatch(ctxT(t), cs, errs)
	if errs[0] != nil || errs[1] == nil || errs[2] != nil || !errors.Is(errs[3], ErrTooLarge) {
		t.Fatalf("CommitOffsetsBatch errors = %v; want nil, group refused, nil, ErrTooLarge", errs)
	}
	for _, c := range []struct {
		group string
		part  int32
		want  int64
	}{{"a", 0, 10}, {"b", 1, 20}} {
		got, err := via.meta.FetchOffsets(ctxT(t), c.group, []OffsetCommit{{Topic: "t", Partition: c.part}})
		if err != nil || got[0].Offset != c.want {
			t.Fatalf("FetchOffsets(%s) = %v, %v; want offset %d", c.group, got, err, c.want)
		}
	}
}
