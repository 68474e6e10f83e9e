package topic

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// Benchmarks:
//
//	go test -run '^$' -bench . -benchmem -cpu 1,2 ./server/message/topic/
//
// The 1M-subscription sizes are skipped with -short.

var sizes = []int{1_000, 100_000, 1_000_000}

func sizeName(n int) string {
	switch {
	case n >= 1_000_000:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1_000:
		return strconv.Itoa(n/1_000) + "k"
	}
	return strconv.Itoa(n)
}

// workload is n subscriptions shaped like a multi-tenant device fleet:
// devices spread over 1000 sites of 32 tenants, 80%
// "t{site%32}/site/{s}/dev/{d}/temp", 15% ".../site/{s}/+/{d}/temp", 4%
// ".../site/{s}/dev/{d}/#" (MQTT) and 1% the same with NATS '>'; every
// topic ".../site/{s}/dev/{d}/temp" matches exactly one filter.
type workload struct {
	filters []Filter
	topics  [][]byte // 65536 topics (the first 1024 recur in most benchmarks), each matched once
}

var (
	workMu sync.Mutex
	works  = map[int]*workload{}
)

func appendFilter(b []byte, i int) ([]byte, Dialect) {
	site, dev := i%1000, i
	b = append(b, 't')
	b = strconv.AppendInt(b, int64(site%32), 10)
	b = append(b, "/site/"...)
	b = strconv.AppendInt(b, int64(site), 10)
	switch i % 100 {
	case 0, 1, 2, 3:
		b = append(b, "/dev/"...)
		b = strconv.AppendInt(b, int64(dev), 10)
		return append(b, "/#"...), MQTT
	case 4:
		b = append(b, "/dev/"...)
		b = strconv.AppendInt(b, int64(dev), 10)
		return append(b, "/#"...), NATS
	case 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19:
		b = append(b, "/+/"...)
		b = strconv.AppendInt(b, int64(dev), 10)
		return append(b, "/temp"...), MQTT
	}
	b = append(b, "/dev/"...)
	b = strconv.AppendInt(b, int64(dev), 10)
	return append(b, "/temp"...), MQTT
}

func getWorkload(tb testing.TB, n int) *workload {
	workMu.Lock()
	defer workMu.Unlock()
	if w := works[n]; w != nil {
		return w
	}
	w := &workload{filters: make([]Filter, n)}
	var b []byte
	for i := range n {
		var d Dialect
		b, d = appendFilter(b[:0], i)
		f, err := ParseFilter(b, d, nil)
		if err != nil {
			tb.Fatal(err)
		}
		w.filters[i] = f
	}
	for i := range 65536 {
		dev := (i * 7919) % n
		w.topics = append(w.topics, []byte("t"+strconv.Itoa(dev%1000%32)+"/site/"+strconv.Itoa(dev%1000)+"/dev/"+strconv.Itoa(dev)+"/temp"))
	}
	works[n] = w
	return w
}

func buildIndex(tb testing.TB, cfg Config, w *workload) *Index {
	ix := New(cfg)
	for i, f := range w.filters {
		if err := ix.Subscribe(f, Subscriber{ID: uint64(i)}, nil); err != nil {
			tb.Fatal(err)
		}
	}
	return ix
}

// buildMap is the baseline: exact-match lookups in one map.
func buildMap(w *workload) map[string][]Entry {
	m := make(map[string][]Entry)
	for i, f := range w.filters {
		m[f.Path()] = append(m[f.Path()], Entry{Subscriber: Subscriber{ID: uint64(i)}})
	}
	return m
}

func BenchmarkMatch(b *testing.B) {
	for _, n := range sizes {
		if n >= 1_000_000 && testing.Short() {
			continue
		}
		w := getWorkload(b, n)
		for _, topics := range []int{1024, 65536} {
			prefix := "subs=" + sizeName(n) + "/topics=" + sizeName(topics) + "/"
			b.Run(prefix+"index", func(b *testing.B) { benchMatch(b, w, Config{}, topics-1) })
			b.Run(prefix+"index-nocache", func(b *testing.B) { benchMatch(b, w, Config{CacheSize: -1}, topics-1) })
			b.Run(prefix+"baseline-map", func(b *testing.B) {
				m := buildMap(w)
				dst := make([]Entry, 0, 64)
				b.ReportAllocs()
				b.SetBytes(int64(len(w.topics[0])))
				i, hits := 0, 0
				for b.Loop() {
					dst = append(dst[:0], m[string(w.topics[i&(topics-1)])]...)
					hits += len(dst)
					i++
				}
				b.ReportMetric(float64(hits)/float64(i), "matches/op")
			})
		}
	}
}

// benchMatch publishes the first mask+1 topics of w round after round.
func benchMatch(b *testing.B, w *workload, cfg Config, mask int) {
	ix := buildIndex(b, cfg, w)
	dst := make([]Entry, 0, 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(w.topics[0])))
	i, hits := 0, 0
	for b.Loop() {
		dst = ix.Match(w.topics[i&mask], dst[:0])
		hits += len(dst)
		i++
	}
	b.ReportMetric(float64(hits)/float64(i), "matches/op")
	st := ix.Stats()
	b.ReportMetric(100*float64(st.CacheHits)/float64(st.CacheHits+st.CacheMisses+1), "cache-hit-%")
}

// BenchmarkMatchParallel: publishers on every P, without and with one
// writer subscribing and unsubscribing as fast as it can (a worst case:
// every change invalidates its trie's cache); shards=1 is the one-lock
// baseline (one literal map, one trie).
func BenchmarkMatchParallel(b *testing.B) {
	w := getWorkload(b, 100_000)
	for _, shards := range []int{1, DefaultShards} {
		for _, churn := range []bool{false, true} {
			name := "subs=100k/shards=" + strconv.Itoa(shards) + "/churn=none"
			if churn {
				name = "subs=100k/shards=" + strconv.Itoa(shards) + "/churn=max"
			}
			b.Run(name, func(b *testing.B) { benchParallel(b, w, shards, churn) })
		}
	}
}

func benchParallel(b *testing.B, w *workload, shards int, churn bool) {
	ix := buildIndex(b, Config{Shards: shards}, w)
	var stop atomic.Bool
	var changes atomic.Int64
	var wg sync.WaitGroup
	if churn {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				f := w.filters[i%len(w.filters)]
				id := uint64(len(w.filters) + i%64)
				if ix.Subscribe(f, Subscriber{ID: id}, nil) == nil && ix.Unsubscribe(f, id) == nil {
					changes.Add(1)
				}
			}
		})
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(w.topics[0])))
	b.ResetTimer() // RunParallel does not use b.Loop: exclude building the index
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]Entry, 0, 64)
		i := int(seq.Add(1)) * 97
		for pb.Next() {
			dst = ix.Match(w.topics[i&1023], dst[:0])
			i++
		}
	})
	stop.Store(true)
	wg.Wait()
	if churn {
		b.ReportMetric(float64(changes.Load())/b.Elapsed().Seconds(), "churn/s")
	}
}

func BenchmarkSubscribe(b *testing.B) {
	b.Run("parse+subscribe", func(b *testing.B) {
		ix := New(Config{})
		var buf []byte
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			var d Dialect
			buf, d = appendFilter(buf[:0], i)
			f, err := ParseFilter(buf, d, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := ix.Subscribe(f, Subscriber{ID: uint64(i)}, nil); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("baseline-map", func(b *testing.B) {
		m := make(map[string][]Entry)
		var buf []byte
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			buf, _ = appendFilter(buf[:0], i)
			k := string(buf)
			m[k] = append(m[k], Entry{Subscriber: Subscriber{ID: uint64(i)}})
			i++
		}
	})
}

func heapBytes() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemory reports heap bytes per subscription (B/sub), the Filter
// copies the caller keeps excluded (they are in the workload).
func BenchmarkMemory(b *testing.B) {
	for _, n := range sizes {
		if n >= 1_000_000 && testing.Short() {
			continue
		}
		w := getWorkload(b, n)
		b.Run("subs="+sizeName(n)+"/index", func(b *testing.B) {
			var per float64
			for b.Loop() {
				before := heapBytes()
				ix := buildIndex(b, Config{}, w)
				per = float64(heapBytes()-before) / float64(n)
				runtime.KeepAlive(ix)
			}
			b.ReportMetric(per, "B/sub")
		})
		b.Run("subs="+sizeName(n)+"/baseline-map", func(b *testing.B) {
			var per float64
			for b.Loop() {
				before := heapBytes()
				m := buildMap(w)
				per = float64(heapBytes()-before) / float64(n)
				runtime.KeepAlive(m)
			}
			b.ReportMetric(per, "B/sub")
		})
	}
}
