package memory

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"

	"robustmq/shard"
	"robustmq/shard/shardtest"
)

func TestConformance(t *testing.T) {
	shardtest.Run(t, func(t *testing.T, dir string) shard.Engine {
		return New(Options{Decoder: shardtest.Decoder})
	}, shardtest.Caps{ExactRetention: true})
}

// appendN appends n records of size bytes; record i is filled with seed+i.
func appendN(t *testing.T, e *Engine, name string, n, size int, seed byte) {
	t.Helper()
	recs := make([]shard.Record, n)
	for i := range recs {
		recs[i] = shard.Record{Timestamp: 1, Value: bytes.Repeat([]byte{seed + byte(i)}, size)}
	}
	if _, err := e.Append(context.Background(), name, recs, shard.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestLimits(t *testing.T) {
	f := func(opts Options, shards, batches int, wantMaxShard, wantMaxTotal int64) {
		t.Helper()
		e := New(opts)
		defer e.Close()
		for s := 0; s < shards; s++ {
			if err := e.CreateShard(shard.ShardConfig{Name: shard.Name("lim", int32(s))}); err != nil {
				t.Fatal(err)
			}
		}
		for b := 0; b < batches; b++ {
			appendN(t, e, shard.Name("lim", int32(b%shards)), 10, 1000, 0)
		}
		infos, err := e.ListShards()
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, in := range infos {
			if in.Bytes > wantMaxShard {
				t.Fatalf("%+v: shard %s holds %d bytes; want <= %d", opts, in.Config.Name, in.Bytes, wantMaxShard)
			}
			if in.Latest != int64(batches/shards*10) {
				t.Fatalf("%+v: shard %s Latest %d; want %d (drops never lose offsets)", opts, in.Config.Name, in.Latest, batches/shards*10)
			}
			total += in.Bytes
		}
		if total > wantMaxTotal {
			t.Fatalf("%+v: engine holds %d bytes; want <= %d", opts, total, wantMaxTotal)
		}
		if e.Dropped() == 0 {
			t.Fatalf("%+v: nothing counted in dropped_records_total", opts)
		}
	}
	// Per-shard limit: 4 shards x 100 batches of 10 KB, 50 KB each.
	f(Options{MaxShardBytes: 50_000}, 4, 400, 50_000, 4*50_000)
	// Global limit: 4 shards may hold 1 MB each, the engine 300 KB
	// (+ the per-shard settling slack).
	f(Options{MaxShardBytes: 1 << 20, MaxBytes: 300_000}, 4, 400, 1<<20, 300_000+4*accountStep)
}

func TestBatchTooLarge(t *testing.T) {
	e := New(Options{MaxShardBytes: 5000})
	defer e.Close()
	if err := e.CreateShard(shard.ShardConfig{Name: "big_0"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Append(context.Background(), "big_0", []shard.Record{{Value: make([]byte, 6000)}}, shard.AppendOptions{})
	if !errors.Is(err, shard.ErrRecordTooLarge) {
		t.Fatalf("append over MaxShardBytes: %v; want ErrRecordTooLarge", err)
	}
}

// TestChunkRecycling holds a read result while retention drops and recycles
// chunks under it: the held views must not change until Release, and after
// Release the chunks are reused.
func TestChunkRecycling(t *testing.T) {
	e := New(Options{ChunkBytes: 4096, MaxShardBytes: 3 * 4096})
	defer e.Close()
	if err := e.CreateShard(shard.ShardConfig{Name: "rc_0"}); err != nil {
		t.Fatal(err)
	}
	appendN(t, e, "rc_0", 4, 900, 0)
	res, err := e.Read("rc_0", 0, 4, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 50; b++ { // many chunks' worth: the pinned chunk is retired
		appendN(t, e, "rc_0", 4, 900, byte(100+b))
	}
	if start, _ := e.EarliestOffset("rc_0"); start < 4 {
		t.Fatalf("log start %d: retention did not drop the read records", start)
	}
	for i, r := range res.Records {
		if want := bytes.Repeat([]byte{byte(i)}, 900); !bytes.Equal(r.Value, want) {
			t.Fatalf("held record %d changed under a pin", i)
		}
	}
	res.Release()
	e.freeMu.Lock()
	n := len(e.free)
	e.freeMu.Unlock()
	if n == 0 {
		t.Fatal("no chunk recycled after Release")
	}
}

// BenchmarkAppend is the engine alone (no router), one record per op: the
// allocation proof for the append path (0 allocs/op in steady state: chunks
// are recycled, index rings reused), against memcpy into a ring buffer.
//
//	go test -run '^$' -bench . -benchmem ./shard/memory/
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{128, 1024, 16384} {
		rec := []shard.Record{{Timestamp: 1, Key: []byte("key-0001"), Tags: [][]byte{[]byte("t")}, Value: make([]byte, size)}}
		b.Run("baseline=memcpy/size="+strconv.Itoa(size), func(b *testing.B) {
			ring := make([]byte, 8<<20)
			pos := 0
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if pos+size > len(ring) {
					pos = 0
				}
				pos += copy(ring[pos:], rec[0].Value)
			}
		})
		b.Run("engine=memory/size="+strconv.Itoa(size), func(b *testing.B) {
			e := New(Options{MaxShardBytes: 8 << 20})
			defer e.Close()
			if err := e.CreateShard(shard.ShardConfig{Name: "b_0"}); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for n := 0; n < 16<<20; n += size { // past the limit: steady state
				if _, err := e.Append(ctx, "b_0", rec, shard.AppendOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := e.Append(ctx, "b_0", rec, shard.AppendOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
