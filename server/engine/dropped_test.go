package engine

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"robustmq/server/meta/client"
	"robustmq/server/node/component"
	"robustmq/server/pb"
	"robustmq/shard"
	"robustmq/shard/memory"
)

// fakeMeta is a droppedSource: tombstones in memory, a watch fed by the test.
type fakeMeta struct {
	mu     sync.Mutex
	tombs  []string // guarded by mu
	fail   bool     // guarded by mu: List fails
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

func (f *fakeMeta) List(_ context.Context, ns string, _ []byte) ([]*pb.KVPair, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ns != client.NSDropped {
		return nil, errors.New("list of " + ns)
	}
	if f.fail {
		return nil, errors.New("meta down")
	}
	var out []*pb.KVPair
	for _, t := range f.tombs {
		out = append(out, &pb.KVPair{Key: []byte(t)})
	}
	return out, nil
}

func (f *fakeMeta) set(fail bool, tombs ...string) {
	f.mu.Lock()
	f.fail, f.tombs = fail, tombs
	f.mu.Unlock()
	f.events <- struct{}{}
}

// TestDropper: on a watch event the dropper deletes the local shards of tombstoned topics (and
// unregisters them from the router), sparing a topic whose name only starts with a deleted one's;
// a pass that failed is retried on the next event.
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
	src := &fakeMeta{events: make(chan struct{})}
	d := &Dropper{env: component.Env{Storage: st}, log: slog.New(slog.DiscardHandler), src: src}
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
	src.set(true, "gone") // this pass fails; the next event's succeeds
	src.set(false, "gone", "old")
	wait("gone_1_0", "kept_0")
	if _, _, err := r.Partition("gone", nil, 0); !errors.Is(err, shard.ErrTopicNotFound) {
		t.Fatalf("topic gone still routed: %v; want ErrTopicNotFound", err)
	}
	src.set(false, "gone", "old", "kept")
	wait("gone_1_0")
}
