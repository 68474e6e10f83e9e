package topic

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// naiveMatch is the plain reading of MQTT 4.7 and the NATS subject rules
// that Index.Match must agree with.
func naiveMatch(filter []string, d Dialect, topic []string) bool {
	if strings.HasPrefix(topic[0], "$") && (filter[0] == "+" || filter[0] == "#") {
		return false // [MQTT-4.7.2-1]
	}
	for i, f := range filter {
		if f == "#" {
			if d == MQTT {
				return len(topic) >= i // also the parent level
			}
			return len(topic) > i
		}
		if i >= len(topic) || (f != "+" && f != topic[i]) {
			return false
		}
	}
	return len(topic) == len(filter)
}

func randLevels(r *rand.Rand, alphabet []string, wild bool) []string {
	n := 1 + r.IntN(4)
	out := make([]string, n)
	for i := range out {
		out[i] = alphabet[r.IntN(len(alphabet))]
		if wild && r.IntN(4) == 0 {
			out[i] = "+"
		}
	}
	if wild && r.IntN(3) == 0 {
		out[n-1] = "#"
	}
	if n == 1 && out[0] == "" {
		out[0] = "a" // "" is not a topic
	}
	return out
}

// TestQuickMatch compares Match with naiveMatch on random filters and
// topics (etcd quorum/quick_test.go style), before and after removing a
// random half of the subscriptions.
func TestQuickMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "$s", "", "c.d"}
	for round := range 50 {
		ix := New(Config{Shards: 1 << r.IntN(4)})
		type subscription struct {
			levels []string
			d      Dialect
			f      Filter
			live   bool
		}
		subs := make([]subscription, 40)
		for i := range subs {
			s := &subs[i]
			s.levels = randLevels(r, alphabet, true)
			s.d = Dialect(1 + r.IntN(2))
			var err error
			if s.f, err = ParseFilter([]byte(strings.Join(s.levels, "/")), s.d, nil); err != nil {
				t.Fatalf("ParseFilter(%q): %v", s.levels, err)
			}
			if err := ix.Subscribe(s.f, sub(uint64(i)), nil); err != nil {
				t.Fatal(err)
			}
			s.live = true
		}
		check := func() {
			for range 40 {
				topic := randLevels(r, alphabet, false)
				var want []uint64
				for i, s := range subs {
					if s.live && naiveMatch(s.levels, s.d, topic) {
						want = append(want, uint64(i))
					}
				}
				got := ids(ix.Match([]byte(strings.Join(topic, "/")), nil))
				if !slices.Equal(got, want) {
					t.Fatalf("round %d: topic %q matched %v; want %v", round, topic, got, want)
				}
			}
		}
		check()
		for i := range subs {
			if r.IntN(2) == 0 {
				if err := ix.Unsubscribe(subs[i].f, uint64(i)); err != nil {
					t.Fatal(err)
				}
				subs[i].live = false
			}
		}
		check()
		for i := range subs {
			if subs[i].live {
				ix.RemoveAll(uint64(i), []Filter{subs[i].f})
			}
		}
		if ix.Count() != 0 {
			t.Fatalf("round %d: Count() = %d after removing all", round, ix.Count())
		}
		assertEmpty(t, ix)
	}
}

// TestConcurrent runs subscribers, unsubscribers and publishers at once
// (meant for -race). A permanent subscription to '#' must be in every
// match, and whatever else is matched must be a live writer's ID.
func TestConcurrent(t *testing.T) {
	ix := New(Config{Shards: 4, Pick: Random})
	all := mustFilter(t, "#", MQTT, "")
	if err := ix.Subscribe(all, sub(0), nil); err != nil {
		t.Fatal(err)
	}
	const writers, readers, rounds = 3, 3, 300
	filters := []Filter{
		mustFilter(t, "a/b", MQTT, ""), mustFilter(t, "a/+", MQTT, ""), mustFilter(t, "+/b", MQTT, ""),
		mustFilter(t, "a.>", NATS, ""), mustFilter(t, "$share/g/a/b", MQTT, ""), mustFilter(t, "a.b", NATS, "q"),
		mustFilter(t, "c/d/e", MQTT, ""),
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				id := uint64(1 + w)
				f := filters[i%len(filters)]
				if err := ix.Subscribe(f, sub(id), nil); err != nil {
					t.Error(err)
					return
				}
				if i%3 != 0 {
					if err := ix.Unsubscribe(f, id); err != nil {
						t.Error(err)
						return
					}
				}
			}
			ix.RemoveAll(uint64(1+w), filters)
		})
	}
	topics := [][]byte{[]byte("a/b"), []byte("a"), []byte("c/d/e"), []byte("x/b")}
	for r := range readers {
		wg.Go(func() {
			var buf []Entry
			for i := range rounds * 3 {
				buf = ix.Match(topics[(i+r)%len(topics)], buf[:0])
				zero := 0
				for _, e := range buf {
					if e.ID == 0 {
						zero++
					} else if e.ID > writers {
						t.Errorf("Match returned unknown subscriber %d", e.ID)
						return
					}
				}
				if zero != 1 {
					t.Errorf("Match(%s) had the permanent subscriber %d times", topics[(i+r)%len(topics)], zero)
					return
				}
			}
		})
	}
	wg.Wait()
	if ix.Count() != 1 {
		t.Fatalf("Count() = %d after all writers left; want 1", ix.Count())
	}
	ix.RemoveAll(0, []Filter{all})
	assertEmpty(t, ix)
}

// TestMatchEveryShape subscribes every filter shape that matches the
// 4-level topic a/b/c/d (each level literal or '+', optionally cut by '#'
// for both dialects): more leaves than Match's stack array holds.
func TestMatchEveryShape(t *testing.T) {
	ix := New(Config{})
	topic := []string{"a", "b", "c", "d"}
	var want []uint64
	id := uint64(0)
	for k := 0; k <= len(topic); k++ { // levels before a '#'; k == 4: no '#'
		for mask := 0; mask < 1<<k; mask++ {
			levels := slices.Clone(topic[:k])
			for i := range levels {
				if mask&(1<<i) != 0 {
					levels[i] = "+"
				}
			}
			dialects := []Dialect{MQTT, NATS}
			if k < len(topic) {
				levels = append(levels, "#")
			} else {
				dialects = dialects[:1]
			}
			for _, d := range dialects {
				f, err := ParseFilter([]byte(strings.Join(levels, "/")), d, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := ix.Subscribe(f, sub(id), nil); err != nil {
					t.Fatal(err)
				}
				want = append(want, id)
				id++
			}
		}
	}
	for range 3 { // miss, miss (cached), hit
		if got := ids(ix.Match([]byte("a/b/c/d"), nil)); !slices.Equal(got, want) {
			t.Fatalf("Match(a/b/c/d) = %d entries; want all %d shapes", len(got), len(want))
		}
	}
}
