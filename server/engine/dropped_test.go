package engine

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"robustmq/server/config"
	"robustmq/server/meta/client"
	"robustmq/server/node/component"
	"robustmq/server/pb"
	"robustmq/shard"
	"robustmq/shard/memory"
)

// fakeMeta is a droppedSource: tombstones and acknowledgements in memory, a watch fed by the test.
type fakeMeta struct {
	mu     sync.Mutex
	tombs  map[string]string // guarded by mu: topic -> deletion id
	acks   map[string]string // guarded by mu: "<node>/<topic>" -> deletion id
	fail   bool              // guarded by mu: List fails
	events chan struct{}
}

func (f *fakeMeta) Watch(ctx context.Context, group string, onEvent func(uint64, bool)) error {
	if group != "metadata" {
		return errors.New("watch of " + group)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-f.events:
			onEvent(1, true)
		}
	}
}

func (f *fakeMeta) List(_ context.Context, ns string, prefix []byte) ([]*pb.KVPair, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return nil, errors.New("meta down")
	}
	m := map[string]map[string]string{client.NSDropped: f.tombs, client.NSDroppedAck: f.acks}[ns]
	var out []*pb.KVPair
	for k, v := range m {
		if strings.HasPrefix(k, string(prefix)) {
			out = append(out, &pb.KVPair{Key: []byte(k), Value: []byte(v)})
		}
	}
	return out, nil
}

func (f *fakeMeta) Put(_ context.Context, ns string, key, value []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ns != client.NSDroppedAck {
		return errors.New("put in " + ns)
	}
	f.acks[string(key)] = string(value)
	return nil
}

// set replaces the tombstones (topic, deletion id, ...) and sends a watch event.
func (f *fakeMeta) set(fail bool, tombs ...string) {
	f.mu.Lock()
	f.fail, f.tombs = fail, map[string]string{}
	for i := 0; i+1 < len(tombs); i += 2 {
		f.tombs[tombs[i]] = tombs[i+1]
	}
	f.mu.Unlock()
	f.events <- struct{}{}
}

// TestDropper: on a watch event the dropper deletes the local shards of tombstoned topics (and
// unregisters them from the router), sparing a topic whose name only starts with a deleted one's;
// a pass that failed is retried on the next event; a deletion is handled once, so a topic created
// again locally keeps its shards until it is deleted again.
func TestDropper(t *testing.T) {
	r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{Logger: slog.New(slog.DiscardHandler)})},
		shard.RouterOptions{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, tc := range []shard.TopicConfig{{Name: "gone", Partitions: 2}, {Name: "gone_1", Partitions: 1}, {Name: "kept", Partitions: 1}} {
		if err := r.CreateTopic(tc); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.CreateShard(shard.ShardConfig{Name: "old_0"}); err != nil { // a shard with no topic registered
		t.Fatal(err)
	}
	st := new(component.Storage)
	st.Provide(component.StorageHandles{Router: r, Engine: shard.EngineMemory})
	src := &fakeMeta{acks: map[string]string{}, events: make(chan struct{})}
	cfg := config.Default()
	cfg.BrokerID = 5
	d := &Dropper{env: component.Env{Config: cfg, Storage: st}, log: slog.New(slog.DiscardHandler), src: src}
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer d.Stop(context.Background())

	names := func() []string {
		infos, err := r.ListShards()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, in := range infos {
			out = append(out, in.Config.Name)
		}
		slices.Sort(out)
		return out
	}
	wait := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !slices.Equal(names(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("local shards %q; want %q", names(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	src.set(true, "gone", "d1") // this pass fails; the next event's succeeds
	src.set(false, "gone", "d1", "old", "d2")
	wait("gone_1_0", "kept_0")
	if _, _, err := r.Partition("gone", nil, 0); !errors.Is(err, shard.ErrTopicNotFound) {
		t.Fatalf("topic gone still routed: %v; want ErrTopicNotFound", err)
	}
	if err := r.CreateTopic(shard.TopicConfig{Name: "gone", Partitions: 1}); err != nil { // a broker creates it again
		t.Fatal(err)
	}
	src.set(false, "gone", "d1", "old", "d2", "kept", "d3")
	wait("gone_0", "gone_1_0")
	src.mu.Lock()
	acks := maps.Clone(src.acks)
	src.mu.Unlock()
	if want := map[string]string{"5/gone": "d1", "5/old": "d2", "5/kept": "d3"}; !maps.Equal(acks, want) {
		t.Fatalf("acknowledgements %v; want %v", acks, want)
	}
	src.set(false, "gone", "d4") // deleted again
	wait("gone_1_0")
}
