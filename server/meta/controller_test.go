package meta_test

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"maps"
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

// TestController: on a standalone node (its own metadata leader) deleting a topic collects its
// shard records but not another topic's and leaves a tombstone, which creating the topic again
// removes.
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

// beat registers node id with role through cl and heartbeats it every 100 ms until stop; it
// returns once nd lists the node alive.
func beat(t *testing.T, nd *node, cl *client.Client, id uint64, role string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		cl.Beat(ctx, &pb.MetaNode{Id: id, Addr: "127.0.0.1:1", Roles: []string{role}}, 100*time.Millisecond, nil)
	}()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	nodeStatus(t, nd, id, "alive")
	return stop
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
	beat := func(id uint64, role string) (stop func()) { return beat(t, nd, cl, id, role) }
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

// TestDue: the controller fires due MQTT entries to their owner while it is an alive broker, else
// to the substitute broker FNV-1a(client id) picks among the alive brokers 10 and 12 (for a lost
// owner 11 and for a non-broker owner 13); it leaves entries not yet due, never-expiring ones and
// those of an attached owner; it starts the clock of an entry whose owner is lost and fires it
// once due; it moves fired entries off the lost node 11 and leaves those of alive brokers; and it
// skips malformed entries, counting them, without stopping.
func TestDue(t *testing.T) {
	c := newCluster(t, 1, 10000)
	nd := c.nodes[0]
	c.start(nd)
	poll(t, 20*time.Second, "leaders", func() error { _, err := leaders(c.nodes); return err })
	cl := dial(t, nd)
	stop11 := beat(t, nd, cl, 11, "broker")
	beat(t, nd, cl, 10, "broker")
	beat(t, nd, cl, 12, "broker")
	beat(t, nd, cl, 13, "engine")
	stop11()
	nodeStatus(t, nd, 11, "down")

	ctx := ctxFor(t, 20*time.Second)
	put := func(table string, key, value []byte) {
		t.Helper()
		err := cl.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) error {
			_, err := api.Put(ctx, &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: table, Key: key, Value: value})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	list := func(table string) (map[string][]byte, error) {
		var l *pb.KVList
		err := cl.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) (err error) {
			l, err = api.List(ctx, &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: table})
			return err
		})
		out := map[string][]byte{}
		for _, kv := range l.GetItems() {
			out[string(kv.GetKey())] = kv.GetValue()
		}
		return out, err
	}
	due := func(at int64, owner uint64, lost int64) []byte {
		return client.AppendDue(nil, client.Due{At: at, Owner: owner, Lost: lost})
	}
	sub := func(clientID string) uint64 { // the substitute rule, as doc.go states it
		h := fnv.New32a()
		h.Write([]byte(clientID))
		return []uint64{10, 12}[h.Sum32()%2]
	}
	errs0 := metric(nd, "robustmq_meta_controller_errors_total")

	now := time.Now().UnixMilli()
	stay := map[string][]byte{ // TableDue entries the controller must leave as they are
		string(client.DueKey(client.DueExpiry, "future")): due(now+3_600_000, 11, 0),
		string(client.DueKey(client.DueExpiry, "never")):  due(0, 11, -1),
		string(client.DueKey(client.DueWill, "attached")): due(0, 10, 0),
		"xbad": due(now-1, 10, 0), // unknown kind
		string(client.DueKey(client.DueExpiry, "short")): {1, 2, 3},
	}
	for k, v := range stay {
		put(client.TableDue, []byte(k), v)
	}
	fired := map[string][]byte{ // TableFired as it must end
		string(client.FiredKey(10, client.DueExpiry, "mine")):                client.AppendFired(nil, 7),        // alive broker's: stays
		string(client.FiredKey(10, client.DueExpiry, "past10")):              client.AppendFired(nil, now-1000), // owner alive
		string(client.FiredKey(sub("lost11"), client.DueExpiry, "lost11")):   client.AppendFired(nil, now-1),
		string(client.FiredKey(sub("lost11"), client.DueWill, "lost11")):     client.AppendFired(nil, now-2),
		string(client.FiredKey(sub("engine13"), client.DueWill, "engine13")): client.AppendFired(nil, now-1),
		string(client.FiredKey(sub("moved"), client.DueWill, "moved")):       client.AppendFired(nil, 42),
		"zz": client.AppendFired(nil, 1), // too short
	}
	put(client.TableFired, client.FiredKey(10, client.DueExpiry, "mine"), client.AppendFired(nil, 7))
	put(client.TableFired, client.FiredKey(11, client.DueWill, "moved"), client.AppendFired(nil, 42))
	put(client.TableFired, client.FiredKey(11, client.DueRelease, "gone"), client.AppendFired(nil, 9)) // a lost broker's notice: deleted
	put(client.TableFired, []byte("zz"), client.AppendFired(nil, 1))
	put(client.TableDue, client.DueKey(client.DueExpiry, "past10"), due(now-1000, 10, 0))
	put(client.TableDue, client.DueKey(client.DueExpiry, "lost11"), due(now-1, 11, 0))
	put(client.TableDue, client.DueKey(client.DueWill, "lost11"), due(now-2, 11, 0))
	put(client.TableDue, client.DueKey(client.DueWill, "engine13"), due(now-1, 13, 0))
	put(client.TableDue, client.DueKey(client.DueExpiry, "start"), due(0, 11, 500))

	startKey := string(client.FiredKey(sub("start"), client.DueExpiry, "start"))
	poll(t, 10*time.Second, "due entries handled", func() error {
		d, err := list(client.TableDue)
		if err != nil {
			return err
		}
		f, err := list(client.TableFired)
		if err != nil {
			return err
		}
		v, ok := f[startKey]
		if !ok {
			return fmt.Errorf("fired %q: the entry whose clock started has not fired yet", f)
		}
		// The clock started at a round after the entry was written, once: at = then + 500.
		if _, _, _, at, err := client.ParseFired([]byte(startKey), v); err != nil || at < now+500 || at > now+5500 {
			t.Fatalf("entry with lost 500 fired at %d (%v); want within [%d, %d] (written at %d)", at, err, now+500, now+5500, now)
		}
		delete(f, startKey)
		if !maps.EqualFunc(d, stay, bytes.Equal) || !maps.EqualFunc(f, fired, bytes.Equal) {
			return fmt.Errorf("due %q\nfired %q\nwant due %q\nfired %q", d, f, stay, fired)
		}
		return nil
	})
	poll(t, 5*time.Second, "metrics", func() error {
		h, r, s := metric(nd, "robustmq_meta_due_handled_total"), metric(nd, "robustmq_meta_due_rerouted_total"), metric(nd, "robustmq_meta_due_clock_started_total")
		if e := metric(nd, "robustmq_meta_controller_errors_total"); h != 5 || r != 1 || s != 1 || e <= errs0 {
			return fmt.Errorf("handled %v, rerouted %v, clock started %v, errors %v (%v before); want 5, 1, 1, more", h, r, s, e, errs0)
		}
		return nil
	})
}
