package meta_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"robustmq/raftgroups"
	"robustmq/server/meta"
	"robustmq/server/meta/client"
	"robustmq/server/pb"
)

// acked is every write a node acknowledged; none may be lost.
type acked struct {
	topics  []string
	offsets map[int32]int64 // partition of topic "t" of group "g" -> committed offset
	mqtt    []string        // session keys
}

const ackGroup, ackTopic = "g", "t"

// write makes n acknowledged writes on each group through c; round names them.
func (a *acked) write(t *testing.T, c *client.Client, round string, n int) {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	for i := range n {
		name := fmt.Sprintf("%s-%d", round, i)
		if err := c.CreateTopic(ctx, &pb.MetaTopic{Name: name, Partitions: 2, Engine: "memory"}); err != nil {
			t.Fatalf("create topic %s: %v", name, err)
		}
		a.topics = append(a.topics, name)
		p := int32(len(a.offsets))
		if err := c.CommitOffsets(ctx, ackGroup, []*pb.OffsetEntry{{Topic: ackTopic, Partition: p, Offset: int64(p) * 10}}); err != nil {
			t.Fatalf("commit offset of partition %d: %v", p, err)
		}
		a.offsets[p] = int64(p) * 10
		err := c.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) error {
			_, err := api.Put(ctx, &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: "s", Key: []byte(name), Value: []byte("session")})
			return err
		})
		if err != nil {
			t.Fatalf("mqtt put %s: %v", name, err)
		}
		a.mqtt = append(a.mqtt, name)
	}
}

// verify reads every acknowledged write back through nd alone.
func (a *acked) verify(t *testing.T, nd *node) {
	t.Helper()
	c := dial(t, nd)
	ctx := ctxFor(t, 10*time.Second)
	ts, err := c.Topics(ctx)
	if err != nil {
		t.Fatalf("node %d: list topics: %v", nd.id, err)
	}
	var names []string
	for _, tp := range ts {
		names = append(names, tp.GetName())
	}
	for _, want := range a.topics {
		if !slices.Contains(names, want) {
			t.Fatalf("node %d: acknowledged topic %q lost; topics %v", nd.id, want, names)
		}
	}
	var parts []*pb.OffsetEntry
	for p := range a.offsets {
		parts = append(parts, &pb.OffsetEntry{Topic: ackTopic, Partition: p})
	}
	got, err := c.FetchOffsets(ctx, ackGroup, parts)
	if err != nil {
		t.Fatalf("node %d: fetch offsets: %v", nd.id, err)
	}
	for _, o := range got {
		if want := a.offsets[o.GetPartition()]; o.GetOffset() != want {
			t.Fatalf("node %d: partition %d offset %d; want acknowledged %d", nd.id, o.GetPartition(), o.GetOffset(), want)
		}
	}
	var kvs *pb.KVList
	err = c.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) (err error) {
		kvs, err = api.List(ctx, &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: "s"})
		return err
	})
	if err != nil {
		t.Fatalf("node %d: mqtt list: %v", nd.id, err)
	}
	if len(kvs.GetItems()) != len(a.mqtt) {
		t.Fatalf("node %d: %d mqtt sessions; want the %d acknowledged", nd.id, len(kvs.GetItems()), len(a.mqtt))
	}
}

// nodeStatus polls nd's /api/cluster/nodes until node id has status want.
func nodeStatus(t *testing.T, nd *node, id uint64, want string) {
	t.Helper()
	poll(t, 5*time.Second, fmt.Sprintf("node %d listed %s by node %d", id, want, nd.id), func() error {
		var page struct {
			Data []meta.NodeInfo `json:"data"`
		}
		if err := getJSON(nd, "/api/cluster/nodes", &page); err != nil {
			return err
		}
		for _, n := range page.Data {
			if n.ID == id && n.Status == want {
				return nil
			}
		}
		return fmt.Errorf("nodes %+v", page.Data)
	})
}

// TestCluster runs three real processes: leaders per group, writes through any node, SIGKILL of
// each group's leader in turn with re-election under 5 s and writes succeeding again, restart and
// catch-up by snapshot (snapshots every 20 entries), no acknowledged write lost, liveness marking,
// and a minority that cannot commit (with the others killed; TestPartition cuts the network instead).
func TestCluster(t *testing.T) {
	c := newCluster(t, 3, 20)
	for _, nd := range c.nodes {
		c.start(nd)
	}
	poll(t, 20*time.Second, "a leader per group agreed by all nodes", func() error { _, err := leaders(c.nodes); return err })

	a := &acked{offsets: map[int32]int64{}}
	for _, nd := range c.nodes { // writes through every node
		a.write(t, dial(t, nd), fmt.Sprintf("n%d", nd.id), 3)
	}
	for _, nd := range c.nodes {
		a.verify(t, nd)
	}

	for _, g := range raftgroups.Groups {
		ls, err := leaders(c.nodes)
		if err != nil {
			t.Fatal(err)
		}
		var victim *node
		var survivors []*node
		for _, nd := range c.nodes {
			if nd.id == ls[g.String()] {
				victim = nd
			} else {
				survivors = append(survivors, nd)
			}
		}
		c.kill(victim)
		took := poll(t, 5*time.Second, fmt.Sprintf("new leaders (%s and any other group node %d led) after its SIGKILL", g, victim.id), func() error {
			ls, err := leaders(survivors)
			if err != nil {
				return err
			}
			for grp, l := range ls { // the victim may have led other groups too
				if l == victim.id {
					return fmt.Errorf("survivors still name killed node %d leader of %s", victim.id, grp)
				}
			}
			return nil
		})
		t.Logf("group %s: leader %d killed, new leader within %v", g, victim.id, took)
		// Writes succeed again (well past a snapshot and compaction in every group) within 5 s.
		start := time.Now()
		a.write(t, dial(t, survivors...), "k"+g.String(), 1)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("first write after the %s leader was killed took %v; want < 5s", g, d)
		}
		a.write(t, dial(t, survivors...), "after-"+g.String(), 40)
		nodeStatus(t, survivors[0], victim.id, "down")

		chunks := func() float64 {
			sum := 0.0
			for _, s := range survivors {
				sum += metric(s, `robustmq_raft_transport_snapshot_chunks_total{peer="`+strconv.FormatUint(victim.id, 10)+`"}`)
			}
			return sum
		}
		before := chunks()
		c.start(victim)
		poll(t, 20*time.Second, fmt.Sprintf("node %d catches up", victim.id), func() error {
			want, err := raft(survivors[0])
			if err != nil {
				return err
			}
			got, err := raft(victim)
			if err != nil {
				return err
			}
			for _, g := range raftgroups.Groups {
				if got[g.String()].Applied < want[g.String()].Commit {
					return fmt.Errorf("group %s: applied %d < commit %d", g, got[g.String()].Applied, want[g.String()].Commit)
				}
			}
			return nil
		})
		if after := chunks(); after <= before {
			t.Fatalf("node %d caught up without a snapshot (chunks sent to it %v -> %v)", victim.id, before, after)
		}
		a.verify(t, victim)
		nodeStatus(t, survivors[0], victim.id, "alive")
	}
	for _, nd := range c.nodes {
		a.verify(t, nd)
	}

	// Minority: with two of three nodes killed, the third cannot commit; the write fails with the
	// timeout (raft_write_timeout_sec = 1), not later.
	last := c.nodes[2]
	c.kill(c.nodes[0])
	c.kill(c.nodes[1])
	cl := dial(t, last)
	start := time.Now()
	err := cl.CommitOffsets(ctxFor(t, 10*time.Second), ackGroup, []*pb.OffsetEntry{{Topic: ackTopic, Partition: 9999, Offset: 1}})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("minority commit: err %v; want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("minority commit failed after %v; want within the 1 s write timeout (+ slack)", d)
	}
}

// TestStandaloneRestart: a single-member node keeps every kind of metadata across a clean stop and
// a SIGKILL; watch events follow writes and a watch resyncs after the node restarts; bad input is
// refused with the right codes.
func TestStandaloneRestart(t *testing.T) {
	c := newCluster(t, 1, 10000)
	nd := c.nodes[0]
	c.start(nd)
	poll(t, 20*time.Second, "leaders", func() error { _, err := leaders(c.nodes); return err })
	if err := postJSON(nd, "/api/cluster/topic/create", `{"topic_name":"orders","partition":4,"storage_type":"pebble","retention_ms":60000,"options":{"kafka.compact":"true"}}`); err != nil {
		t.Fatal(err)
	}
	a := &acked{offsets: map[int32]int64{}, topics: []string{"orders"}}
	a.write(t, dial(t, nd), "s", 5)

	f := func(body string, want int) {
		t.Helper()
		err := postJSON(nd, "/api/cluster/topic/create", body)
		if err == nil || !strings.HasPrefix(err.Error(), "HTTP "+strconv.Itoa(want)) {
			t.Fatalf("create %s: err %v; want HTTP %d", body, err, want)
		}
	}
	f(`{"topic_name":"a/b","partition":1}`, 400)
	f(`{"topic_name":"x","partition":0}`, 400)
	f(`{"topic_name":"orders","partition":1}`, 409)
	f(`{"topic_name":`, 400)

	// Watch: a resync first, then an event after a write.
	cl := dial(t, nd)
	events := make(chan bool, 16)
	wctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cl.Watch(wctx, "metadata", func(_ uint64, resync bool) { events <- resync }) }()
	expect := func(want bool) {
		t.Helper()
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("watch event resync=%v; want %v", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no watch event within 5s")
		}
	}
	expect(true)
	if err := cl.Put(ctxFor(t, 5*time.Second), "proto", []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	expect(false)
	err := cl.Call(ctxFor(t, 5*time.Second), func(ctx context.Context, api pb.MetaServiceClient) error {
		_, err := api.Put(ctx, &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: "z", Key: []byte("k")})
		return err
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("mqtt put to table z: %v; want InvalidArgument", err)
	}

	c.stop(nd)
	c.start(nd)
	a.verify(t, nd)
	// The watch outlived the restart: it reconnected and was told to resync (the restart applied
	// entries past its revision).
	deadline := time.After(10 * time.Second)
	for resynced := false; !resynced; {
		select {
		case resynced = <-events:
		case <-deadline:
			t.Fatal("no resync event within 10s of the node's restart")
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("watch ended with %v", err)
	}
	c.kill(nd)
	c.start(nd)
	a.verify(t, nd)
	var tp meta.Topic
	for _, path := range []string{"/api/cluster/topic/detail", "/api/cluster/topic/describe"} {
		if err := getJSON(nd, path+"?topic_name=orders", &tp); err != nil {
			t.Fatal(err)
		}
		if tp.Partitions != 4 || tp.Engine != "pebble" || tp.RetentionMs != 60000 || tp.Options["kafka.compact"] != "true" {
			t.Fatalf("%s after restart: %+v", path, tp)
		}
	}
	nodeStatus(t, nd, nd.id, "alive")

	if err := postJSON(nd, "/api/cluster/topic/delete", `{"topic_name":"orders"}`); err != nil {
		t.Fatal(err)
	}
	if err := postJSON(nd, "/api/cluster/topic/delete", `{"topic_name":"orders"}`); err == nil || !strings.HasPrefix(err.Error(), "HTTP 404") {
		t.Fatalf("second delete of orders: %v; want HTTP 404", err)
	}
	var page struct {
		Data  []meta.Topic `json:"data"`
		Total int          `json:"total_count"`
	}
	if err := getJSON(nd, "/api/cluster/topic/list?filter_field=topic_name&filter_values=orders", &page); err != nil {
		t.Fatal(err)
	}
	if page.Total != 0 {
		t.Fatalf("topic list after deleting orders: %+v", page)
	}
	if err := getJSON(nd, "/api/cluster/topic/list", &page); err != nil {
		t.Fatal(err)
	}
	if page.Total != len(a.topics)-1 {
		t.Fatalf("topic list: %d topics; want %d", page.Total, len(a.topics)-1)
	}
}
