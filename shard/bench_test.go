package shard_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"robustmq/bench/rawdisk"
	"robustmq/shard"
	"robustmq/shard/memory"
	"robustmq/shard/pebblestore"
)

// Benchmarks for the storage adapter. Each group has a baseline measured in
// the same run:
//
//	go test -run '^$' -bench . -benchmem -cpu 1,2 ./shard/
//
// BenchmarkAppend:               Router.Append, durability none, per engine, vs memcpy and raw file write
// BenchmarkRead:                 Router.Read pages of 100, per engine, vs memcpy
// BenchmarkRouterAppendParallel: 64 shards, memory engine, RunParallel; run with -cpu 1,2 to see scaling,
//                                vs the same appends behind one global mutex
// BenchmarkSyncAppend64:         64 producers, durability sync, pebble vs rawdisk serial and group commit

const benchShards = 64

func benchRecords(size, batch int) []shard.Record {
	recs := make([]shard.Record, batch)
	for i := range recs {
		v := make([]byte, size)
		for j := range v {
			v[j] = byte(i + j)
		}
		recs[i] = shard.Record{Timestamp: 1, Key: fmt.Appendf(nil, "key-%04d", i%100), Value: v}
	}
	return recs
}

// newBenchRouter returns a router over one engine of type t (memory bounded
// to memShardBytes per shard and prefilled; pebble in a temp dir) with a topic named t of
// benchShards partitions. The router closes when b ends, so one engine's
// background work (pebble compactions) does not run into, or count allocations
// against, another's benchmark.
func newBenchRouter(b *testing.B, t shard.EngineType) *shard.Router {
	b.Helper()
	var e shard.Engine
	if t == shard.EnginePebble {
		p, err := pebblestore.Open(b.TempDir(), pebblestore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		e = p
	} else {
		e = memory.New(memory.Options{MaxShardBytes: memShardBytes, ChunkBytes: 256 << 10, MaxBytes: 1 << 30})
	}
	r, err := shard.NewRouter([]shard.Engine{e}, shard.RouterOptions{RetentionInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.Close() })
	if err := r.CreateTopic(shard.TopicConfig{Name: string(t), Partitions: benchShards, Shard: shard.ShardConfig{Engine: t}}); err != nil {
		b.Fatal(err)
	}
	if t == shard.EngineMemory {
		// Fill every shard past its limit so the timed loop measures the
		// steady state: records dropped, chunks recycled, rings full.
		recs := benchRecords(1024, 64)
		for _, name := range shardNames(string(t)) {
			for n := 0; n < 2*memShardBytes; n += 64 * 1024 {
				if _, err := r.Append(context.Background(), name, recs, shard.AppendOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	return r
}

// memShardBytes is the memory engine's per-shard limit in benchmarks:
// 64 shards x 2 MiB stay in a small machine's memory and reach the steady
// state fast.
const memShardBytes = 2 << 20

func shardNames(topic string) []string {
	names := make([]string, benchShards)
	for i := range names {
		names[i] = shard.Name(topic, int32(i))
	}
	return names
}

func reportRecords(b *testing.B, perOp int) {
	b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	for _, size := range []int{128, 1024, 16384} {
		for _, batch := range []int{1, 64} {
			recs := benchRecords(size, batch)
			bytes := int64(size * batch)
			name := fmt.Sprintf("size=%d/batch=%d", size, batch)
			b.Run(name+"/baseline=memcpy", func(b *testing.B) {
				ring := make([]byte, 64<<20)
				pos := 0
				b.ReportAllocs()
				b.SetBytes(bytes)
				for b.Loop() {
					for i := range recs {
						if pos+size > len(ring) {
							pos = 0
						}
						pos += copy(ring[pos:], recs[i].Value)
					}
				}
				reportRecords(b, batch)
			})
			b.Run(name+"/baseline=write", func(b *testing.B) {
				w, err := rawdisk.NewWriter(b.TempDir(), "raw")
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				buf := make([]byte, 0, bytes)
				for i := range recs {
					buf = append(buf, recs[i].Value...)
				}
				b.ReportAllocs()
				b.SetBytes(bytes)
				for b.Loop() {
					if err := w.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				reportRecords(b, batch)
			})
			for _, t := range []shard.EngineType{shard.EngineMemory, shard.EnginePebble} {
				names := shardNames(string(t))
				b.Run(name+"/engine="+string(t), func(b *testing.B) {
					r := newBenchRouter(b, t)
					b.ReportAllocs()
					b.SetBytes(bytes)
					i := 0
					for b.Loop() {
						if _, err := r.Append(ctx, names[i%benchShards], recs, shard.AppendOptions{}); err != nil {
							b.Fatal(err)
						}
						i++
					}
					reportRecords(b, batch)
				})
			}
		}
	}
}

func BenchmarkRead(b *testing.B) {
	ctx := context.Background()
	const size, page, total = 1024, 100, 1000 // total fits memShardBytes
	recs := benchRecords(size, page)
	b.Run("baseline=memcpy", func(b *testing.B) {
		dst := make([]byte, size*page)
		b.ReportAllocs()
		b.SetBytes(size * page)
		for b.Loop() {
			for i := range recs {
				copy(dst[i*size:], recs[i].Value)
			}
		}
		reportRecords(b, page)
	})
	for _, t := range []shard.EngineType{shard.EngineMemory, shard.EnginePebble} {
		name := shard.Name(string(t), 0)
		b.Run("engine="+string(t), func(b *testing.B) {
			r := newBenchRouter(b, t)
			for n := 0; n < total; n += page {
				if _, err := r.Append(ctx, name, recs, shard.AppendOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			latest, err := r.LatestOffset(name)
			if err != nil {
				b.Fatal(err)
			}
			start := latest - total // the records just appended
			b.ReportAllocs()
			b.SetBytes(size * page)
			off := start
			for b.Loop() {
				res, err := r.Read(name, off, page, 1<<30)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Records) != page {
					b.Fatalf("read %d records at %d; want %d", len(res.Records), off, page)
				}
				res.Release()
				if off += page; off == latest {
					off = start
				}
			}
			reportRecords(b, page)
		})
	}
}

// BenchmarkRouterAppendParallel appends 1 KiB records to 64 memory shards
// from GOMAXPROCS goroutines, each cycling over its own 64/GOMAXPROCS
// shards (producers on different partitions). With -cpu 1,2 the router line
// should gain with the second core; the globallock line, which does the same
// appends behind one mutex, shows what a global lock would give. On a busy
// machine, -mutexprofile shows the difference where wall time cannot: the
// router line has no lock contention at all.
func BenchmarkRouterAppendParallel(b *testing.B) {
	r := newBenchRouter(b, shard.EngineMemory)
	names := shardNames(string(shard.EngineMemory))
	recs := benchRecords(1024, 1)
	var global sync.Mutex
	for _, mode := range []string{"router", "globallock"} {
		b.Run(mode, func(b *testing.B) {
			var next atomic.Int32
			procs := runtime.GOMAXPROCS(0)
			b.ReportAllocs()
			b.SetBytes(1024)
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1)) - 1 // shards i, i+procs, i+2*procs, ...
				ctx := context.Background()
				for pb.Next() {
					if mode == "globallock" {
						global.Lock()
					}
					_, err := r.Append(ctx, names[i%benchShards], recs, shard.AppendOptions{})
					if mode == "globallock" {
						global.Unlock()
					}
					if err != nil {
						b.Error(err)
						return
					}
					i += procs
				}
			})
			reportRecords(b, 1)
		})
	}
}

// BenchmarkSyncAppend64 runs 64 producers doing DurabilitySync appends of
// one batch each, against rawdisk with the same batch bytes: serial
// write+fsync and group commit.
func BenchmarkSyncAppend64(b *testing.B) {
	const producers = 64
	for _, batch := range []int{1, 16} {
		recs := benchRecords(1024, batch)
		raw := make([]byte, 0, 1024*batch)
		for i := range recs {
			raw = append(raw, recs[i].Value...)
		}
		run := func(b *testing.B, fn func(i int) error) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			b.SetParallelism(max(1, producers/runtime.GOMAXPROCS(0)))
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(n.Add(1))
				for pb.Next() {
					if err := fn(i); err != nil {
						b.Error(err)
						return
					}
					i += producers
				}
			})
			reportRecords(b, batch)
		}
		name := fmt.Sprintf("batch=%d", batch)
		for _, mode := range []string{"serial", "group"} {
			b.Run(name+"/baseline=rawdisk-"+mode, func(b *testing.B) {
				w, err := rawdisk.NewWriter(b.TempDir(), "raw")
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				if mode == "serial" {
					run(b, func(int) error { return w.AppendSerial(raw) })
				} else {
					run(b, func(int) error { return w.Append(raw) })
				}
			})
		}
		b.Run(name+"/engine=pebble", func(b *testing.B) {
			r := newBenchRouter(b, shard.EnginePebble)
			names := shardNames(string(shard.EnginePebble))
			ctx := context.Background()
			run(b, func(i int) error {
				_, err := r.Append(ctx, names[i%benchShards], recs, shard.AppendOptions{Durability: shard.DurabilitySync})
				return err
			})
		})
	}
}

// BenchmarkRouterAppendAsync is the event-loop path: AppendAsync with a
// callback, memory engine, one 1 KiB record per op; 0 allocs/op.
func BenchmarkRouterAppendAsync(b *testing.B) {
	r := newBenchRouter(b, shard.EngineMemory)
	names := shardNames(string(shard.EngineMemory))
	recs := benchRecords(1024, 1)
	var acked int64
	done := func(int64, error) { acked++ }
	b.ReportAllocs()
	b.SetBytes(1024)
	i := 0
	for b.Loop() {
		r.AppendAsync(names[i%benchShards], recs, shard.AppendOptions{FailFast: true}, done)
		i++
	}
	if acked != int64(i) {
		b.Fatalf("%d of %d appends acknowledged", acked, i)
	}
	reportRecords(b, 1)
}
