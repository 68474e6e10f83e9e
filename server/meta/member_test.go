package meta_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"robustmq/server/meta"
	"robustmq/server/pb"
)

// TestMemberNodes: a broker-only and an engine-only process join a 1-node meta through
// meta_addrs: both are listed alive with their roles and address, and the broker is marked down
// after heartbeat_timeout_ms once SIGKILLed while the engine stays alive.
func TestMemberNodes(t *testing.T) {
	c := newCluster(t, 1, 10000)
	m := c.nodes[0]
	c.start(m)
	poll(t, 20*time.Second, "leaders", func() error { _, err := leaders(c.nodes); return err })
	b := c.addNode(11, `["broker"]`)
	e := c.addNode(12, `["engine"]`)
	c.start(b)
	c.start(e)
	poll(t, 20*time.Second, "both members listed alive", func() error {
		var page struct {
			Data []meta.NodeInfo `json:"data"`
		}
		if err := getJSON(m, "/api/cluster/nodes", &page); err != nil {
			return err
		}
		want := map[uint64]meta.NodeInfo{
			11: {ID: 11, Addr: b.addr(), Roles: []string{"broker"}, Status: "alive"},
			12: {ID: 12, Addr: e.addr(), Roles: []string{"engine"}, Status: "alive"},
		}
		for _, n := range page.Data {
			if w, ok := want[n.ID]; ok && n.Addr == w.Addr && slices.Equal(n.Roles, w.Roles) && n.Status == w.Status && n.StartedAt > 0 {
				delete(want, n.ID)
			}
		}
		if len(want) > 0 {
			return fmt.Errorf("nodes %+v; missing %+v", page.Data, want)
		}
		return nil
	})
	c.kill(b)
	nodeStatus(t, m, 11, "down")
	nodeStatus(t, m, 12, "alive")
}

// TestDroppedTopicShards: a broker+engine process (no meta role) holds the shards of two topics
// created through Kafka; deleting one topic in the Meta Service makes that node drop its shards
// (through its dropper's watch) and keep the other's.
func TestDroppedTopicShards(t *testing.T) {
	c := newCluster(t, 1, 10000)
	m := c.nodes[0]
	c.start(m)
	poll(t, 20*time.Second, "leaders", func() error { _, err := leaders(c.nodes); return err })
	kafka := freePorts(t, 1)[0]
	n := c.addNode(13, `["broker", "engine"]`)
	c.writeConfig(n, `["broker", "engine"]`, sections(n, kafka))
	c.start(n)
	ctx := ctxFor(t, 30*time.Second)
	kc, err := kgo.NewClient(kgo.SeedBrokers(fmt.Sprintf("127.0.0.1:%d", kafka)))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	cl := dial(t, m)
	for _, name := range []string{"gone", "gone_1"} {
		if err := cl.CreateTopic(ctx, &pb.MetaTopic{Name: name, Partitions: 2}); err != nil {
			t.Fatal(err)
		}
		req := kmsg.NewPtrCreateTopicsRequest()
		tp := kmsg.NewCreateTopicsRequestTopic()
		tp.Topic, tp.NumPartitions, tp.ReplicationFactor = name, 2, 1
		req.Topics = append(req.Topics, tp)
		poll(t, 20*time.Second, "kafka create topic "+name, func() error {
			resp, err := req.RequestWith(ctx, kc)
			if err != nil {
				return err
			}
			if code := resp.Topics[0].ErrorCode; code != 0 && code != 36 { // 36: already exists
				return fmt.Errorf("error code %d", code)
			}
			return nil
		})
	}
	shards := func() ([]string, error) {
		var page struct {
			Data []struct {
				Name string `json:"name"`
			} `json:"data"`
		}
		if err := getJSON(n, "/api/storage-engine/shard/list", &page); err != nil {
			return nil, err
		}
		var out []string
		for _, s := range page.Data {
			out = append(out, s.Name)
		}
		slices.Sort(out)
		return out, nil
	}
	want := func(names ...string) func() error {
		return func() error {
			got, err := shards()
			if err == nil && !slices.Equal(got, names) {
				err = fmt.Errorf("local shards %q; want %q", got, names)
			}
			return err
		}
	}
	poll(t, 5*time.Second, "shards created", want("gone_0", "gone_1", "gone_1_0", "gone_1_1"))
	if err := postJSON(m, "/api/cluster/topic/delete", `{"topic_name":"gone"}`); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "deleted topic's shards dropped", want("gone_1_0", "gone_1_1"))
}
