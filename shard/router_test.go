package shard_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kgo"

	"robustmq/shard"
	"robustmq/shard/memory"
	"robustmq/shard/pebblestore"
	"robustmq/shard/shardtest"
)

// routed lets the conformance suite drive a Router over one engine.
type routed struct {
	*shard.Router
	t shard.EngineType
}

func (r routed) Type() shard.EngineType { return r.t }

func newRouter(t *testing.T, engines ...shard.Engine) *shard.Router {
	t.Helper()
	r, err := shard.NewRouter(engines, shard.RouterOptions{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRouterConformanceMemory(t *testing.T) {
	shardtest.Run(t, func(t *testing.T, dir string) shard.Engine {
		return routed{newRouter(t, memory.New(memory.Options{Decoder: shardtest.Decoder})), shard.EngineMemory}
	}, shardtest.Caps{ExactRetention: true})
}

// With pebble the suite's reopen check also proves that NewRouter loads the
// shards a persistent engine recovered.
func TestRouterConformancePebble(t *testing.T) {
	shardtest.Run(t, func(t *testing.T, dir string) shard.Engine {
		p, err := pebblestore.Open(dir, pebblestore.Options{Decoder: shardtest.Decoder})
		if err != nil {
			t.Fatal(err)
		}
		return routed{newRouter(t, p, memory.New(memory.Options{})), shard.EnginePebble}
	}, shardtest.Caps{Persistent: true, ExactRetention: true})
}

func TestRouterDispatch(t *testing.T) {
	dir := t.TempDir()
	p, err := pebblestore.Open(dir, pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New(memory.Options{})
	r := newRouter(t, mem, p)
	defer r.Close()
	for _, c := range []shard.ShardConfig{{Name: "m_0", Engine: shard.EngineMemory}, {Name: "p_0", Engine: shard.EnginePebble}} {
		if err := r.CreateShard(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.CreateShard(shard.ShardConfig{Name: "x_0", Engine: "tape"}); !errors.Is(err, shard.ErrUnknownEngine) {
		t.Fatalf("CreateShard(engine tape): %v; want ErrUnknownEngine", err)
	}
	if err := r.CreateShard(shard.ShardConfig{Name: "m_0", Engine: shard.EnginePebble}); !errors.Is(err, shard.ErrShardExists) {
		t.Fatalf("CreateShard(m_0 in pebble too): %v; want ErrShardExists", err)
	}
	// Each shard lives in the engine its config named, and only there.
	for _, c := range []struct {
		name      string
		in, notIn shard.Engine
	}{{"m_0", mem, p}, {"p_0", p, mem}} {
		if _, err := r.Append(context.Background(), c.name, []shard.Record{{Value: []byte("v")}}, shard.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
		if got, err := c.in.LatestOffset(c.name); err != nil || got != 1 {
			t.Fatalf("%s in %s: Latest %d, %v; want 1", c.name, c.in.Type(), got, err)
		}
		if _, err := c.notIn.LatestOffset(c.name); !errors.Is(err, shard.ErrShardNotFound) {
			t.Fatalf("%s in %s: %v; want ErrShardNotFound", c.name, c.notIn.Type(), err)
		}
	}
	if _, err := r.Append(context.Background(), "m_0", []shard.Record{{Value: []byte("abc")}, {Key: []byte("k")}}, shard.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := r.Read("m_0", 0, 10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	res.Release()
	// m_0 holds v, abc, k: 3 records of 5 bytes, all read once.
	want := shard.Stats{AppendRecords: 3, AppendBytes: 5, ReadRecords: 3, ReadBytes: 5, Shards: 1}
	if got := r.Stats(shard.EngineMemory); got != want {
		t.Fatalf("Stats(memory) = %+v; want %+v", got, want)
	}
	var buf bytes.Buffer
	metrics.WritePrometheus(&buf, false)
	for _, line := range []string{
		`robustmq_storage_append_records_total{engine="memory"} 3`,
		`robustmq_storage_read_bytes_total{engine="memory"} 5`,
		`robustmq_storage_shards{engine="pebble"} 1`,
	} {
		if !strings.Contains(buf.String(), line+"\n") {
			t.Fatalf("metrics output lacks %q:\n%s", line, buf.String())
		}
	}
	// A deleted shard's counts stay in the sums.
	if err := r.DeleteShard("m_0"); err != nil {
		t.Fatal(err)
	}
	want.Shards = 0
	if got := r.Stats(shard.EngineMemory); got != want {
		t.Fatalf("Stats(memory) after DeleteShard = %+v; want %+v", got, want)
	}
	if err := r.CreateShard(shard.ShardConfig{Name: "m_0", Engine: shard.EngineMemory}); err != nil {
		t.Fatal(err)
	}
	nf := metrics.GetOrCreateCounter(`robustmq_storage_errors_total{engine="memory",reason="out_of_range"}`)
	before := nf.Get()
	if _, err := r.Read("m_0", 99, 1, 1); !errors.Is(err, shard.ErrOffsetOutOfRange) {
		t.Fatalf("Read(99): %v", err)
	}
	if got := nf.Get() - before; got != 1 {
		t.Fatalf("errors_total{reason=out_of_range} grew by %d; want 1", got)
	}
}

func TestRouterDefaultEngine(t *testing.T) {
	r := newRouter(t, memory.New(memory.Options{})) // the only engine is the default
	defer r.Close()
	if err := r.CreateShard(shard.ShardConfig{Name: "d_0"}); err != nil {
		t.Fatalf("CreateShard without engine: %v", err)
	}
	infos, err := r.ListShards()
	if err != nil || len(infos) != 1 || infos[0].Config.Engine != shard.EngineMemory {
		t.Fatalf("ListShards = %+v, %v; want d_0 in memory", infos, err)
	}
}

func TestRouterDuplicateAcrossEngines(t *testing.T) {
	p, err := pebblestore.Open(t.TempDir(), pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	mem := memory.New(memory.Options{})
	for _, e := range []shard.Engine{p, mem} {
		if err := e.CreateShard(shard.ShardConfig{Name: "both_0"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := shard.NewRouter([]shard.Engine{p, mem}, shard.RouterOptions{RetentionInterval: -1}); !errors.Is(err, shard.ErrShardExists) {
		t.Fatalf("NewRouter with both_0 in two engines: %v; want ErrShardExists", err)
	}
}

func TestMurmur2(t *testing.T) {
	// Vectors from Kafka's UtilsTest.testMurmur2 (signed Java ints).
	f := func(in string, want int32) {
		t.Helper()
		if got := int32(shard.Murmur2([]byte(in))); got != want {
			t.Errorf("Murmur2(%q) = %d; want %d", in, got, want)
		}
	}
	f("21", -973932308)
	f("foobar", -790332482)
	f("a-little-bit-long-string", -985981536)
	f("a-little-bit-longer-string", -1486304829)
	f("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971)
	f("abc", 479470107)
}

// TestPartitionMatchesKafkaClients checks key placement against franz-go's
// Kafka-compatible key partitioner, for random keys of every length 0..40.
func TestPartitionMatchesKafkaClients(t *testing.T) {
	r := newRouter(t, memory.New(memory.Options{}))
	defer r.Close()
	const parts = 13
	if err := r.CreateTopic(shard.TopicConfig{Name: "orders", Partitions: parts, Shard: shard.ShardConfig{Engine: shard.EngineMemory}}); err != nil {
		t.Fatal(err)
	}
	kp := kgo.StickyKeyPartitioner(nil).ForTopic("orders")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		key := make([]byte, i%41)
		for j := range key {
			key[j] = byte(rng.Uint32())
		}
		p, name, err := r.Partition("orders", key, -1)
		if err != nil {
			t.Fatal(err)
		}
		if want := kp.Partition(&kgo.Record{Key: key}, parts); int(p) != want {
			t.Fatalf("Partition(key %x) = %d; franz-go says %d", key, p, want)
		}
		if want := shard.Name("orders", p); name != want {
			t.Fatalf("Partition shard name %q; want %q", name, want)
		}
	}
}

func TestPartition(t *testing.T) {
	r := newRouter(t, memory.New(memory.Options{}))
	defer r.Close()
	if err := r.CreateTopic(shard.TopicConfig{Name: "t", Partitions: 4, Shard: shard.ShardConfig{Engine: shard.EngineMemory}}); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateTopic(shard.TopicConfig{Name: "t", Partitions: 4, Shard: shard.ShardConfig{Engine: shard.EngineMemory}}); !errors.Is(err, shard.ErrTopicExists) {
		t.Fatalf("CreateTopic twice: %v; want ErrTopicExists", err)
	}
	f := func(key []byte, explicit int32, want int32, wantErr error) {
		t.Helper()
		p, name, err := r.Partition("t", key, explicit)
		if !errors.Is(err, wantErr) || (err == nil && (p != want || name != fmt.Sprintf("t_%d", want))) {
			t.Fatalf("Partition(%q, %d) = %d %q %v; want %d %v", key, explicit, p, name, err, want, wantErr)
		}
	}
	f(nil, 2, 2, nil)
	f([]byte("k"), 3, 3, nil) // explicit wins over the key
	f(nil, 4, 0, shard.ErrInvalidConfig)
	f([]byte("21"), -1, int32((shard.Murmur2([]byte("21"))&0x7fffffff)%4), nil)
	if _, _, err := r.Partition("nope", nil, -1); !errors.Is(err, shard.ErrTopicNotFound) {
		t.Fatalf("Partition(unknown topic): %v", err)
	}
	// Round-robin spreads evenly, also under concurrency.
	counts := make([]int, 4)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				p, _, err := r.Partition("t", nil, -1)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				counts[p]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for p, c := range counts {
		if c != 100 {
			t.Fatalf("round-robin counts %v; want 100 each (partition %d)", counts, p)
		}
	}
	if err := r.DeleteTopic("t"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.LatestOffset("t_0"); !errors.Is(err, shard.ErrShardNotFound) {
		t.Fatalf("shard after DeleteTopic: %v; want ErrShardNotFound", err)
	}
}
