package meta_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	benchmeta "robustmq/bench/meta"
	"robustmq/raftgroups"
	"robustmq/server/meta"
	"robustmq/server/meta/client"
	"robustmq/server/pb"
	"robustmq/shard"
)

// TestController: on a standalone node (its own metadata leader) a due session record is deleted
// with its due entry, a will due later stays until its time; deleting a topic collects its shard
// records but not another topic's and leaves a tombstone, which creating the topic again removes.
func TestController(t *testing.T) {
	c := newCluster(t, 1, 10000)
	nd := c.nodes[0]
	c.start(nd)
	poll(t, 20*time.Second, "leaders", func() error { _, err := leaders(c.nodes); return err })
	cl := dial(t, nd)
	ctx := ctxFor(t, 20*time.Second)
	call := func(f func(api pb.MetaServiceClient) error) {
		t.Helper()
		if err := cl.Call(ctx, func(_ context.Context, api pb.MetaServiceClient) error { return f(api) }); err != nil {
			t.Fatal(err)
		}
	}
	mqttPut := func(table string, key []byte) {
		t.Helper()
		call(func(api pb.MetaServiceClient) error {
			_, err := api.Put(ctx, &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: table, Key: key, Value: []byte("v")})
			return err
		})
	}
	mqttKeys := func(table string) (n int) {
		t.Helper()
		call(func(api pb.MetaServiceClient) error {
			l, err := api.List(ctx, &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: table})
			n = len(l.GetItems())
			return err
		})
		return n
	}
	now := time.Now().UnixMilli()
	mqttPut("s", []byte("expired"))
	mqttPut("w", []byte("later"))
	mqttPut("d", meta.DueKey(now-1, raftgroups.MQTTSession, []byte("expired")))
	mqttPut("d", meta.DueKey(now+3_600_000, raftgroups.MQTTWill, []byte("later")))
	poll(t, 5*time.Second, "due session expired", func() error {
		if s, d := mqttKeys("s"), mqttKeys("d"); s != 0 || d != 1 {
			return fmt.Errorf("%d sessions, %d due entries; want 0 and 1", s, d)
		}
		return nil
	})
	if w := mqttKeys("w"); w != 1 {
		t.Fatalf("%d wills after the controller ran; want the one not yet due", w)
	}

	// "gone_1" is another topic whose shard names start with "gone_": collection must spare it.
	for _, name := range []string{"gone", "gone_1"} {
		if err := cl.CreateTopic(ctx, &pb.MetaTopic{Name: name, Partitions: 1}); err != nil {
			t.Fatal(err)
		}
		putShard(t, cl, shard.Name(name, 0), 1)
	}
	call(func(api pb.MetaServiceClient) error {
		_, err := api.DeleteTopic(ctx, &pb.TopicRef{Name: "gone"})
		return err
	})
	poll(t, 5*time.Second, "shards of the deleted topic collected", func() error {
		if got := shardHolders(t, cl); len(got) != 1 || got["gone_1_0"] != 1 {
			return fmt.Errorf("shards %v; want only gone_1_0", got)
		}
		return nil
	})
	tombstones := func() []string {
		t.Helper()
		l, err := cl.List(ctx, meta.NSDropped, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, kv := range l {
			out = append(out, string(kv.GetKey()))
		}
		return out
	}
	if got := tombstones(); !slices.Equal(got, []string{"gone"}) {
		t.Fatalf("tombstones after deleting gone: %q; want [gone]", got)
	}
	if err := cl.CreateTopic(ctx, &pb.MetaTopic{Name: "gone", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if got := tombstones(); len(got) != 0 {
		t.Fatalf("tombstones after creating gone again: %q; want none", got)
	}
}

// putShard records shard name as held by node holder.
func putShard(t *testing.T, cl *client.Client, name string, holder uint64) {
	t.Helper()
	err := cl.Call(ctxFor(t, 5*time.Second), func(ctx context.Context, api pb.MetaServiceClient) error {
		_, err := api.PutShard(ctx, &pb.KVPair{Key: []byte(name), Value: raftgroups.AppendShardRecord(nil, raftgroups.Shard{Node: holder})})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// shardHolders lists the shard records: name -> holder node.
func shardHolders(t *testing.T, cl *client.Client) map[string]uint64 {
	t.Helper()
	var l *pb.KVList
	err := cl.Call(ctxFor(t, 5*time.Second), func(ctx context.Context, api pb.MetaServiceClient) (err error) {
		l, err = api.ListShards(ctx, &pb.MetaEmpty{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, kv := range l.GetItems() {
		sh, err := raftgroups.DecodeShardRecord(string(kv.GetKey()), kv.GetValue())
		if err != nil {
			t.Fatal(err)
		}
		out[sh.Name] = sh.Node
	}
	return out
}

// TestReassign: the shards of an engine node that stops heart-beating move to the alive engine
// node with the fewest shards; a broker-only node never receives any, and keeps the one it holds
// while alive.
func TestReassign(t *testing.T) {
	c := newCluster(t, 1, 10000)
	nd := c.nodes[0]
	c.start(nd)
	poll(t, 20*time.Second, "leaders", func() error { _, err := leaders(c.nodes); return err })
	cl := dial(t, nd)
	beat := func(id uint64, role string) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			cl.Beat(ctx, &pb.MetaNode{Id: id, Addr: "127.0.0.1:1", Roles: []string{role}}, 100*time.Millisecond, nil)
		}()
		nodeStatus(t, nd, id, "alive")
		return func() { cancel(); <-done }
	}
	stop7 := beat(7, "engine")
	defer beat(8, "engine")()
	defer beat(9, "engine")()
	defer beat(10, "broker")()
	for p := range int32(4) {
		putShard(t, cl, shard.Name("t", p), 7)
	}
	putShard(t, cl, shard.Name("u", 0), 8)  // 8 holds one already: the first move goes to 9
	putShard(t, cl, shard.Name("v", 0), 10) // alive (not an engine): stays
	stop7()
	nodeStatus(t, nd, 7, "down")
	poll(t, 5*time.Second, "node 7's shards reassigned", func() error {
		got := shardHolders(t, cl)
		n := map[uint64]int{}
		for _, h := range got {
			n[h]++
		}
		if len(got) != 6 || n[7] != 0 || n[8] != 3 || n[9] != 2 || got["v_0"] != 10 {
			return fmt.Errorf("holders %v; want t_0..t_3 split over 8 and 9 (u_0 stays on 8, v_0 on 10), none on 7", got)
		}
		return nil
	})
}

// TestBeat: a node that is not a meta member (a broker) registers and heartbeats through the
// client; it is listed alive, and down once it stops beating for heartbeat_timeout_ms.
func TestBeat(t *testing.T) {
	c := newCluster(t, 1, 10000)
	nd := c.nodes[0]
	c.start(nd)
	poll(t, 20*time.Second, "leaders", func() error { _, err := leaders(c.nodes); return err })
	bctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		dial(t, nd).Beat(bctx, &pb.MetaNode{Id: 7, Addr: "127.0.0.1:1", Roles: []string{"broker"}}, 100*time.Millisecond, nil)
	}()
	nodeStatus(t, nd, 7, "alive")
	stop()
	<-done
	nodeStatus(t, nd, 7, "down")

	err := dial(t, nd).Call(ctxFor(t, 5*time.Second), func(ctx context.Context, api pb.MetaServiceClient) error {
		_, err := api.UnregisterNode(ctx, &pb.NodeRef{Id: 7})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Data []meta.NodeInfo `json:"data"`
	}
	if err := getJSON(nd, "/api/cluster/nodes", &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != nd.id {
		t.Fatalf("nodes after unregistering 7: %+v; want only node %d", page.Data, nd.id)
	}
}

// TestBench runs the load generator briefly against a standalone node: every request is
// acknowledged and the percentiles are ordered.
func TestBench(t *testing.T) {
	c := newCluster(t, 1, 10000)
	nd := c.nodes[0]
	c.start(nd)
	poll(t, 20*time.Second, "leaders", func() error { _, err := leaders(c.nodes); return err })
	for _, op := range []string{"put", "commit"} {
		var rs []benchmeta.Result
		err := benchmeta.Run(t.Context(), benchmeta.Options{Addrs: []string{nd.addr()}, Op: op, Clients: []int{1, 4}, Duration: 200 * time.Millisecond},
			func(r benchmeta.Result) { rs = append(rs, r) })
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Ops == 0 || r.Errors != 0 || r.P50 > r.P99 || r.P99 > r.Max {
				t.Fatalf("%s", r)
			}
		}
	}
}
