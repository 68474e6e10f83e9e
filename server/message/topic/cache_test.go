package topic

import (
	"bytes"
	"slices"
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

// TestCache: a topic is cached on its second miss, hits afterwards, and
// every change to the trie invalidates it (generation check).
func TestCache(t *testing.T) {
	ix := New(Config{Shards: 2})
	plus := mustFilter(t, "a/+", MQTT, "")
	hash := mustFilter(t, "a/#", MQTT, "")
	if err := ix.Subscribe(plus, sub(1), nil); err != nil {
		t.Fatal(err)
	}
	f := func(want []uint64, hits, misses uint64) {
		t.Helper()
		got := ids(ix.Match([]byte("a/b"), nil))
		st := ix.Stats()
		if !slices.Equal(got, want) || st.CacheHits != hits || st.CacheMisses != misses {
			t.Fatalf("Match(a/b) = %v, hits %d misses %d; want %v, %d, %d", got, st.CacheHits, st.CacheMisses, want, hits, misses)
		}
	}
	f([]uint64{1}, 0, 1) // first miss: only the doorkeeper notes it
	f([]uint64{1}, 0, 2) // second miss: cached
	f([]uint64{1}, 1, 2)
	if err := ix.Subscribe(hash, sub(2), nil); err != nil {
		t.Fatal(err)
	}
	f([]uint64{1, 2}, 1, 3) // stale generation: a miss (the doorkeeper was cleared with the cache)
	f([]uint64{1, 2}, 1, 4) // second miss in this generation: cached
	f([]uint64{1, 2}, 2, 4)
	if err := ix.Unsubscribe(plus, 1); err != nil {
		t.Fatal(err)
	}
	f([]uint64{2}, 2, 5)
	// A shared group behind a cached entry still picks per message.
	g := mustFilter(t, "$share/g/a/+", MQTT, "")
	for id := uint64(10); id < 12; id++ {
		if err := ix.Subscribe(g, sub(id), nil); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint64]bool{}
	for range 6 {
		for _, e := range ix.Match([]byte("a/b"), nil) {
			seen[e.ID] = true
		}
	}
	if !seen[10] || !seen[11] || ix.Stats().CacheHits < 4 {
		t.Fatalf("members seen %v with %d cache hits; want both members through the cache", seen, ix.Stats().CacheHits)
	}
	// A bounded cache keeps answering correctly past its size.
	small := New(Config{CacheSize: 2, Shards: 1})
	if err := small.Subscribe(plus, sub(1), nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		for _, topic := range []string{"a/1", "a/2", "a/3", "a/4", "b/1"} {
			want := 1
			if topic[0] == 'b' {
				want = 0
			}
			if got := len(small.Match([]byte(topic), nil)); got != want {
				t.Fatalf("Match(%s) with a 2-entry cache = %d entries; want %d", topic, got, want)
			}
		}
	}
	if n := len(small.tries[0].cache); n != 2 {
		t.Fatalf("cache holds %d entries; want its bound, 2", n)
	}
	// A change empties it at the next insert.
	if err := small.Subscribe(hash, sub(2), nil); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got := len(small.Match([]byte("a/9"), nil)); got != 2 {
			t.Fatalf("Match(a/9) = %d entries; want 2", got)
		}
	}
	if n := len(small.tries[0].cache); n != 1 {
		t.Fatalf("cache holds %d entries after a change and one insert; want 1", n)
	}
}

func TestMetrics(t *testing.T) {
	ix := New(Config{Name: "test"})
	defer ix.Close()
	if err := ix.Subscribe(mustFilter(t, "$share/g/a/b", MQTT, ""), sub(1), nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	metrics.WritePrometheus(&buf, false)
	for _, want := range []string{
		`robustmq_topic_subscriptions{index="test"} 1`,
		`robustmq_topic_groups{index="test"} 1`,
		`robustmq_topic_match_cache_hits_total{index="test"} 0`,
		`robustmq_topic_match_cache_misses_total{index="test"} 0`,
	} {
		if !bytes.Contains(buf.Bytes(), []byte(want)) {
			t.Fatalf("metrics output lacks %q:\n%s", want, buf.String())
		}
	}
	ix.Close()
	buf.Reset()
	metrics.WritePrometheus(&buf, false)
	if bytes.Contains(buf.Bytes(), []byte(`index="test"`)) {
		t.Fatal("metrics still exported after Close")
	}
}
