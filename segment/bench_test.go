package segment

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"robustmq/bench/rawdisk"
	"robustmq/shard"
	"robustmq/shard/shardtest"
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

// BenchmarkAppendSync: 1 KiB records, DurabilitySync.
//
// producers=1 is one producer against a raw write+fdatasync loop of the
// same record size.
//
// producers=64 is 64 concurrent producers against bench/rawdisk.Writer's
// group commit (64 goroutines appending 1 KiB, one fsync for every write
// that landed before it: the ceiling for an engine with group commit), in
// paired rounds: each b.Loop iteration runs one phase of each (order
// alternating) of syncPhaseAppends appends, at least syncMinRounds rounds,
// and the benchmark reports the median of the per-round ratios (x_raw)
// with their min and max, so one noisy moment on a shared machine moves
// one ratio, not the result.
func BenchmarkAppendSync(b *testing.B) {
	const recBytes = 1024
	var raw float64
	b.Run("producers=1/raw", func(b *testing.B) {
		f, err := rawdisk.Create(b.TempDir(), recBytes, true)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.SetBytes(recBytes)
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			if err := f.WriteBatch(); err != nil {
				b.Fatal(err)
			}
		}
		raw = mbps(int64(b.N*recBytes), time.Since(start))
	})
	recs := benchRecord(recBytes - 32) // ~1 KiB encoded
	opt := shard.AppendOptions{Durability: shard.DurabilitySync}
	b.Run("producers=1/segment", func(b *testing.B) {
		e := benchEngine(b)
		b.SetBytes(recBytes)
		b.ReportAllocs()
		fsyncs := mFsyncs.Get()
		start := time.Now()
		for b.Loop() {
			if _, err := e.Append(context.Background(), "bench_0", recs, opt); err != nil {
				b.Fatal(err)
			}
		}
		d := time.Since(start)
		b.ReportMetric(mbps(int64(b.N*recBytes), d)/raw, "x_raw")
		b.ReportMetric(float64(b.N)/d.Seconds(), "records/s")
		b.ReportMetric(float64(b.N)/float64(max(1, mFsyncs.Get()-fsyncs)), "records/fsync")
	})
	b.Run("producers=64/paired", func(b *testing.B) {
		const producers = 64
		e := benchEngine(b)
		w, err := rawdisk.NewWriter(b.TempDir(), "raw")
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		rawRec := make([]byte, recBytes)
		var rawMB, segMB, ratios []float64
		var appends, fsyncs uint64
		b.SetBytes(2 * syncPhaseAppends * recBytes)
		round := 0
		pair := func() {
			phases := [2]func() float64{
				func() float64 {
					return syncPhase(b, producers, recBytes, func() error { return w.Append(rawRec) })
				},
				func() float64 {
					f0 := mFsyncs.Get()
					mb := syncPhase(b, producers, recBytes, func() error {
						_, err := e.Append(context.Background(), "bench_0", recs, opt)
						return err
					})
					appends, fsyncs = appends+syncPhaseAppends, fsyncs+mFsyncs.Get()-f0
					return mb
				},
			}
			var mb [2]float64
			for i := range phases {
				k := (i + round) % 2
				mb[k] = phases[k]()
			}
			round++
			rawMB, segMB, ratios = append(rawMB, mb[0]), append(segMB, mb[1]), append(ratios, mb[1]/mb[0])
		}
		for b.Loop() {
			pair()
		}
		for len(ratios) < syncMinRounds { // a slow machine still gets a median of several (untimed)
			pair()
		}
		b.ReportMetric(median(ratios), "x_raw")
		b.ReportMetric(slices.Min(ratios), "x_raw_min")
		b.ReportMetric(slices.Max(ratios), "x_raw_max")
		b.ReportMetric(median(segMB), "MB/s_segment")
		b.ReportMetric(median(rawMB), "MB/s_raw")
		b.ReportMetric(float64(appends)/float64(max(1, fsyncs)), "records/fsync")
	})
}

// syncPhaseAppends is the appends one producers=64 phase makes;
// syncMinRounds the fewest rounds whose median is reported.
const (
	syncPhaseAppends = 64 * 320
	syncMinRounds    = 5
)

// syncPhase runs syncPhaseAppends calls of fn spread over producers
// goroutines and returns the MB/s of recBytes per call.
func syncPhase(b *testing.B, producers, recBytes int, fn func() error) float64 {
	var wg sync.WaitGroup
	start := time.Now()
	for range producers {
		wg.Go(func() {
			for range syncPhaseAppends / producers {
				if err := fn(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return mbps(syncPhaseAppends*int64(recBytes), time.Since(start))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// noneFootprint bounds the bytes on disk in BenchmarkAppendNone, for the
// engine and the baseline alike, so both measure the page-cache write path
// that DurabilityNone promises rather than the disk: the baseline cuts its
// file to zero at noneFootprint, the engine deletes its shard there and
// goes on with a fresh one, and neither data ever needs writeback (a
// deleted file's dirty pages are dropped). Sustained None appends beyond
// the kernel's dirty limits run at the disk's speed for any writer; the
// Sync benchmarks measure the disk.
const noneFootprint = 1 << 30

// BenchmarkAppendNone: DurabilityNone from one producer with AppendAsync
// (bounded queue), against raw pwrites of the same record size. The engine
// is shared by the b.N rounds, so allocations show the steady state; both
// sides start warm (rawdisk.Warm: a footprint of page cache written and
// freed), as in a broker that has been running. Longer runs
// (-benchtime 4s) are steadier still.
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
			if err := rawdisk.Warm(b.TempDir(), noneFootprint); err != nil {
				b.Fatal(err)
			}
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
		recs := benchRecord(size - 32)
		runNone(b, "size="+strconv.Itoa(size)+"/segment", raw, size, 1, func(e *EngineSegment, name string, cb shard.AppendFunc) {
			e.AppendAsync(name, recs, shard.AppendOptions{}, cb)
		})
		if size == 16<<10 {
			// The Kafka path: one produced batch of 16 records of 1 KiB stored
			// whole (AppendBatch), against the same raw 16 KiB writes.
			in := make([]shard.Record, 16)
			for i := range in {
				in[i] = shard.Record{Timestamp: 1, Value: make([]byte, size/16-16)}
			}
			batch := shard.Batch{Format: shard.BatchKafkaV2, Count: len(in), MaxTimestamp: 1, Bytes: shardtest.EncodeBatch(in)}
			runNone(b, "size=16384/segment-opaque-16x1024", raw, len(batch.Bytes), len(in), func(e *EngineSegment, name string, cb shard.AppendFunc) {
				e.AppendBatchAsync(name, batch, shard.AppendOptions{}, cb)
			})
		}
	}
}

// runNone is the engine side of BenchmarkAppendNone: appendOne appends
// size bytes holding records records, completing with cb.
func runNone(b *testing.B, name string, raw float64, size, records int, appendOne func(e *EngineSegment, name string, cb shard.AppendFunc)) {
	b.Run(name, func(b *testing.B) {
		o := benchOptions(b.TempDir())
		o.SegmentBytes = 2 * noneFootprint // never rolls: no seal fsync
		if err := rawdisk.Warm(o.Dir, noneFootprint); err != nil {
			b.Fatal(err)
		}
		e := openTest(b, o)
		names := [2]string{"none_0", "none_1"}
		cur := 0
		mustCreateShard(b, e, names[cur])
		defer func() {
			_ = e.DeleteShard(names[cur]) // drop the data unsynced, as the baseline does
			e.Close()
		}()
		var done atomic.Int64
		var failed atomic.Value
		cb := func(_ int64, err error) {
			if err != nil {
				failed.Store(err)
			}
			done.Add(1)
		}
		var issued int64
		perShard := int64(noneFootprint / size)
		b.SetBytes(int64(size))
		b.ReportAllocs()
		cpu0 := cpuTime()
		start := time.Now()
		for b.Loop() {
			appendOne(e, names[cur], cb)
			if issued++; issued%perShard == 0 {
				for done.Load() < issued {
					runtime.Gosched()
				}
				if err := e.DeleteShard(names[cur]); err != nil {
					b.Fatal(err)
				}
				cur ^= 1
				mustCreateShard(b, e, names[cur])
			}
		}
		for done.Load() < issued {
			runtime.Gosched()
		}
		d := time.Since(start)
		if err := failed.Load(); err != nil {
			b.Fatal(err)
		}
		got := mbps(issued*int64(size), d)
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(issued), "cpu-ns/op")
		b.ReportMetric(got/raw, "x_raw")
		b.ReportMetric(float64(issued)*float64(records)/d.Seconds(), "records/s")
	})
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
	// The Kafka fetch path: the same bytes as opaque batches of 16 x 1 KiB
	// records, read with ReadBatches (1 MiB per fetch): views of the
	// mapping, nothing decoded or copied.
	in := make([]shard.Record, 16)
	for i := range in {
		in[i] = shard.Record{Timestamp: 1, Value: make([]byte, recBytes-16)}
	}
	batch := shard.Batch{Format: shard.BatchKafkaV2, Count: len(in), MaxTimestamp: 1, Bytes: shardtest.EncodeBatch(in)}
	mustCreateShard(b, e, "kafka_0")
	for range total / len(batch.Bytes) {
		e.AppendBatchAsync("kafka_0", batch, shard.AppendOptions{}, func(int64, error) {})
	}
	if err := e.Flush(); err != nil {
		b.Fatal(err)
	}
	latest, _ = e.LatestOffset("kafka_0")
	sl, err := e.get("kafka_0")
	if err != nil {
		b.Fatal(err)
	}
	// forget makes the next read check every CRC again, as every read did
	// before verified ranges (the baseline).
	forget := func() {
		sl.mu.Lock()
		for _, seg := range sl.segs {
			seg.verified.Store(0)
		}
		sl.mu.Unlock()
	}
	fetch := func(b *testing.B, before func()) float64 {
		var off, bytes int64
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			before()
			res, err := e.ReadBatches("kafka_0", off, 1<<20)
			if err != nil {
				b.Fatal(err)
			}
			for i := range res.Batches {
				bytes += int64(len(res.Batches[i].Bytes))
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
		b.ReportMetric(float64(bytes)/float64(len(batch.Bytes))*float64(len(in))/d.Seconds(), "records/s")
		return mbps(bytes, d)
	}
	var checked float64
	b.Run("segment-batches-crc-every-read", func(b *testing.B) { checked = fetch(b, forget) })
	b.Run("segment-batches", func(b *testing.B) {
		b.ReportMetric(fetch(b, func() {})/checked, "x_crc_every_read")
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

// cpuTime is the process's user+system CPU time: per-op CPU cost is steadier
// than wall time on a machine other work loads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
