package segment

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"robustmq/bench/rawdisk"
	"robustmq/shard"
)

// Benchmarks print the engine next to the raw baseline (bench/rawdisk)
// measured in the same run with the same batch sizes, and the ratio:
//
//	go test -run '^$' -bench . -benchmem ./segment/

func benchOptions(dir string) Options {
	return Options{Dir: dir, FlushInterval: -1, RetentionInterval: -1, Logger: quiet, SegmentBytes: 256 << 20}
}

func benchEngine(b *testing.B) *EngineSegment {
	b.Helper()
	e := openTest(b, benchOptions(b.TempDir()))
	b.Cleanup(func() { e.Close() })
	mustCreateShard(b, e, "bench_0")
	return e
}

func benchRecord(size int) []shard.Record {
	v := make([]byte, size)
	for i := range v {
		v[i] = byte(i)
	}
	return []shard.Record{{Timestamp: 1, Key: []byte("key"), Value: v}}
}

// mbps is the throughput of n bytes over d.
func mbps(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 }

// BenchmarkAppendSync: 1 KiB records, DurabilitySync, 1 and 64 concurrent
// producers, against a raw write+fdatasync loop whose batch is what group
// commit can at best gather: one record per producer.
func BenchmarkAppendSync(b *testing.B) {
	const recBytes = 1024
	for _, producers := range []int{1, 64} {
		var raw float64
		b.Run("producers="+strconv.Itoa(producers)+"/raw", func(b *testing.B) {
			f, err := rawdisk.Create(b.TempDir(), producers*recBytes, true)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			b.SetBytes(int64(producers * recBytes))
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if err := f.WriteBatch(); err != nil {
					b.Fatal(err)
				}
			}
			raw = mbps(int64(b.N*producers*recBytes), time.Since(start))
		})
		b.Run("producers="+strconv.Itoa(producers)+"/segment", func(b *testing.B) {
			e := benchEngine(b)
			recs := benchRecord(recBytes - 32) // ~1 KiB encoded
			b.SetBytes(recBytes)
			b.ReportAllocs()
			opt := shard.AppendOptions{Durability: shard.DurabilitySync}
			fsyncs := mFsyncs.Get()
			start := time.Now()
			if producers == 1 {
				for b.Loop() {
					if _, err := e.Append(context.Background(), "bench_0", recs, opt); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(producers / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := e.Append(context.Background(), "bench_0", recs, opt); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			d := time.Since(start)
			got := mbps(int64(b.N*recBytes), d)
			b.ReportMetric(got/raw, "x_raw")
			b.ReportMetric(float64(b.N)/d.Seconds(), "records/s")
			b.ReportMetric(float64(b.N)/float64(max(1, mFsyncs.Get()-fsyncs)), "records/fsync")
		})
	}
}

// noneFootprint bounds the bytes on disk in BenchmarkAppendNone, for the
// engine (1 GiB segments, retention) and the baseline (wrap) alike, so
// both measure the page-cache write path rather than the kernel throttling
// writers to the disk's speed once dirty pages pile up (the Sync
// benchmarks measure the disk). A roll hands the sealed segment to the
// syncer, whose fsync runs beside the writes; retention never drops a
// segment before that fsync.
const noneFootprint = 2 << 30

// BenchmarkAppendNone: DurabilityNone from one producer with AppendAsync
// (bounded queue), against raw pwrites of the same record size. The engine
// is shared by the b.N rounds, so allocations show the steady state.
func BenchmarkAppendNone(b *testing.B) {
	for _, size := range []int{128, 1024, 16 << 10} {
		var raw float64
		b.Run("size="+strconv.Itoa(size)+"/raw", func(b *testing.B) {
			f, err := rawdisk.Create(b.TempDir(), size, false)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			f.Wrap = noneFootprint
			b.SetBytes(int64(size))
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if err := f.WriteBatch(); err != nil {
					b.Fatal(err)
				}
			}
			raw = mbps(int64(b.N*size), time.Since(start))
		})
		o := benchOptions(b.TempDir())
		o.SegmentBytes = noneFootprint / 2
		e := openTest(b, o)
		if err := e.CreateShard(shard.ShardConfig{Name: "none_0", Engine: shard.EngineSegment, RetentionBytes: noneFootprint / 2}); err != nil {
			b.Fatal(err)
		}
		recs := benchRecord(size - 32)
		var done atomic.Int64
		var failed atomic.Value
		cb := func(_ int64, err error) {
			if err != nil {
				failed.Store(err)
			}
			done.Add(1)
		}
		var issued int64
		perSegment := o.SegmentBytes / int64(size)
		b.Run("size="+strconv.Itoa(size)+"/segment", func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			start, n := time.Now(), issued
			for b.Loop() {
				e.AppendAsync("none_0", recs, shard.AppendOptions{}, cb)
				if issued++; issued%perSegment == 0 {
					if err := e.EnforceRetention(0); err != nil {
						b.Fatal(err)
					}
				}
			}
			for done.Load() < issued {
				runtime.Gosched()
			}
			d := time.Since(start)
			if err := failed.Load(); err != nil {
				b.Fatal(err)
			}
			got := mbps((issued-n)*int64(size), d)
			b.ReportMetric(got/raw, "x_raw")
			b.ReportMetric(float64(issued-n)/d.Seconds(), "records/s")
		})
		e.Close()
	}
}

// BenchmarkReadCached reads 1 KiB records from the page cache (mapped
// segments: views, no copy) against pread of the same file into a buffer.
func BenchmarkReadCached(b *testing.B) {
	const (
		recBytes = 1024
		total    = 64 << 20
		perRead  = 1024
	)
	e := benchEngine(b)
	recs := benchRecord(recBytes - 32)
	for range total / recBytes {
		e.AppendAsync("bench_0", recs, shard.AppendOptions{}, func(int64, error) {})
	}
	if err := e.Flush(); err != nil {
		b.Fatal(err)
	}
	latest, _ := e.LatestOffset("bench_0")
	// Mapped segments are not Go heap: the heap stays small however much
	// data is stored and read (reported next to the data size).
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	var raw float64
	b.Run("raw", func(b *testing.B) {
		logs := segFiles(b, e.opts.Dir, logSuffix)
		fi, _ := os.Stat(logs[0])
		b.SetBytes(fi.Size())
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			if _, err := rawdisk.ReadFile(logs[0], 1<<20); err != nil {
				b.Fatal(err)
			}
		}
		raw = mbps(int64(b.N)*fi.Size(), time.Since(start))
	})
	b.Run("segment", func(b *testing.B) {
		var off, bytes int64
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			res, err := e.Read("bench_0", off, perRead, 4<<20)
			if err != nil {
				b.Fatal(err)
			}
			for i := range res.Records {
				bytes += int64(len(res.Records[i].Value) + len(res.Records[i].Key))
			}
			off = res.Next
			if off >= latest {
				off = 0
			}
			res.Release()
		}
		d := time.Since(start)
		b.SetBytes(bytes / int64(b.N))
		b.ReportMetric(mbps(bytes, d)/raw, "x_raw")
		b.ReportMetric(float64(bytes/recBytes)/d.Seconds(), "records/s")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heapMiB")
		b.ReportMetric(total/(1<<20), "dataMiB")
	})
}

// BenchmarkOpen10kShards mounts a root of 10,000 shards, each with an
// active segment of 16 batches and its indexes (recovery scans each tail).
func BenchmarkOpen10kShards(b *testing.B) {
	const shards = 10000
	dir := b.TempDir()
	o := benchOptions(dir)
	o.setDefaults()
	recs := benchRecord(200)
	for i := range shards {
		buildShard(b, &o, filepath.Join(dir, "s"+strconv.Itoa(i)), "s_"+strconv.Itoa(i), recs, 16)
	}
	b.ReportAllocs()
	for b.Loop() {
		e, err := Open(o)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if infos, _ := e.ListShards(); len(infos) != shards || infos[0].Latest != 16 {
			b.Fatalf("mounted %d shards, first with Latest %d; want %d with 16", len(infos), infos[0].Latest, shards)
		}
		e.Close()
		b.StartTimer()
	}
}

// buildShard writes a shard directory as the engine leaves it after a
// clean run (meta, one segment of n batches, its indexes), without fsyncs.
func buildShard(b *testing.B, o *Options, dir, name string, recs []shard.Record, n int) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	cfg := shard.ShardConfig{Name: name, Engine: shard.EngineSegment}
	if err := os.WriteFile(filepath.Join(dir, metaFile), encodeMeta(&cfg, 0), 0o644); err != nil {
		b.Fatal(err)
	}
	s := newSegment(dir, 0, o)
	defer s.release()
	var data []byte
	for i := range n {
		pos := int64(len(data))
		var h BatchHeader
		data, h = AppendBatch(data, recs, BatchMeta{BaseOffset: int64(i * len(recs)), Now: 1})
		s.addIndex(&s.ix, pos, &h)
	}
	var idx, tidx []byte
	for i := range s.idx {
		idx = appendOffEntry(idx, s.idx[i])
		tidx = appendTimeEntry(tidx, s.tidx[i])
	}
	for suf, content := range map[string][]byte{logSuffix: data, idxSuffix: idx, tidxSuffix: tidx} {
		if err := os.WriteFile(s.path(suf), content, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
