package meta_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	benchmeta "robustmq/bench/meta"
	"robustmq/raftgroups"
	"robustmq/server/meta"
	"robustmq/server/pb"
)

// TestController: on a standalone node (its own metadata leader) a due session record is deleted
// with its due entry, a will due later stays until its time, and deleting a topic collects its
// shard records but not another topic's.
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

	for _, name := range []string{"gone", "kept"} {
		if err := cl.CreateTopic(ctx, &pb.MetaTopic{Name: name, Partitions: 1}); err != nil {
			t.Fatal(err)
		}
		call(func(api pb.MetaServiceClient) error {
			_, err := api.PutShard(ctx, &pb.KVPair{Key: []byte(name + "/0"), Value: []byte("engine=1")})
			return err
		})
	}
	call(func(api pb.MetaServiceClient) error {
		_, err := api.DeleteTopic(ctx, &pb.TopicRef{Name: "gone"})
		return err
	})
	poll(t, 5*time.Second, "shards of the deleted topic collected", func() error {
		var l *pb.KVList
		err := cl.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) (err error) {
			l, err = api.ListShards(ctx, &pb.MetaEmpty{})
			return err
		})
		if err != nil {
			return err
		}
		if len(l.GetItems()) != 1 || string(l.GetItems()[0].GetKey()) != "kept/0" {
			return fmt.Errorf("shards %v; want only kept/0", l.GetItems())
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
