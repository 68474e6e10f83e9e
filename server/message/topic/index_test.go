package topic

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// mustFilter parses an MQTT filter or, for NATS, a NATS subject.
func mustFilter(t testing.TB, s string, d Dialect, group string) Filter {
	t.Helper()
	b := []byte(s)
	if d == NATS {
		var err error
		if b, err = FilterFromNATS(nil, b); err != nil {
			t.Fatalf("FilterFromNATS(%q): %v", s, err)
		}
	}
	var g []byte
	if group != "" {
		g = []byte(group)
	}
	f, err := ParseFilter(b, d, g)
	if err != nil {
		t.Fatalf("ParseFilter(%q, %d, %q): %v", s, d, group, err)
	}
	return f
}

// canon converts a publish name of dialect d to the canonical form.
func canon(t testing.TB, s string, d Dialect) []byte {
	t.Helper()
	if d == MQTT {
		b, err := FromMQTT([]byte(s))
		if err != nil {
			t.Fatalf("FromMQTT(%q): %v", s, err)
		}
		return b
	}
	b, err := FromNATS(nil, []byte(s))
	if err != nil {
		t.Fatalf("FromNATS(%q): %v", s, err)
	}
	return b
}

func ids(es []Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	slices.Sort(out)
	return out
}

// matchOne subscribes filter (dialect fd) alone in an index and checks
// whether a publish of topic (dialect td) matches it.
func matchOne(t *testing.T, filter string, fd Dialect, topic string, td Dialect, want bool) {
	t.Helper()
	ix := New(Config{})
	if err := ix.Subscribe(mustFilter(t, filter, fd, ""), Subscriber{ID: 1}, nil); err != nil {
		t.Fatal(err)
	}
	got := len(ix.Match(canon(t, topic, td), nil)) == 1
	if got != want {
		t.Errorf("filter %q (dialect %d) publish %q (dialect %d): matched %v; want %v", filter, fd, topic, td, got, want)
	}
}

// TestMatchSpec runs the wildcard examples of MQTT 5.0 section 4.7 and of
// the NATS subject docs, each filter alone in an index, publishes given in
// the filter's own protocol.
func TestMatchSpec(t *testing.T) {
	f := func(filter string, d Dialect, topic string, want bool) {
		t.Helper()
		matchOne(t, filter, d, topic, d, want)
	}
	// 4.7.1.2 multi-level wildcard.
	f("sport/tennis/player1/#", MQTT, "sport/tennis/player1", true) // [MQTT-4.7.1-2] parent
	f("sport/tennis/player1/#", MQTT, "sport/tennis/player1/ranking", true)
	f("sport/tennis/player1/#", MQTT, "sport/tennis/player1/score/wimbledon", true)
	f("sport/tennis/player1/#", MQTT, "sport/tennis/player2", false)
	f("sport/#", MQTT, "sport", true)
	f("sport/#", MQTT, "sports", false)
	f("#", MQTT, "sport/tennis", true)
	f("#", MQTT, "/", true)
	// 4.7.1.3 single-level wildcard.
	f("sport/tennis/+", MQTT, "sport/tennis/player1", true)
	f("sport/tennis/+", MQTT, "sport/tennis/player2", true)
	f("sport/tennis/+", MQTT, "sport/tennis/player1/ranking", false)
	f("sport/+", MQTT, "sport", false)
	f("sport/+", MQTT, "sport/", true)
	f("+/+", MQTT, "/finance", true)
	f("/+", MQTT, "/finance", true)
	f("+", MQTT, "/finance", false)
	f("+/tennis/#", MQTT, "sport/tennis", true)
	f("+/tennis/#", MQTT, "sport/tennis/x/y", true)
	// 4.7.2 topics beginning with $ [MQTT-4.7.2-1].
	f("#", MQTT, "$SYS/monitor/Clients", false)
	f("+/monitor/Clients", MQTT, "$SYS/monitor/Clients", false)
	f("+", MQTT, "$SYS", false)
	f("$SYS/#", MQTT, "$SYS/monitor/Clients", true)
	f("$SYS/#", MQTT, "$SYS", true)
	f("$SYS/monitor/+", MQTT, "$SYS/monitor/Clients", true)
	f("a/+", MQTT, "a/$x", true) // '$' only matters in the first level
	// 4.7.3: case sensitive, spaces and empty levels are ordinary.
	f("ACCOUNTS", MQTT, "Accounts", false)
	f("Accounts payable", MQTT, "Accounts payable", true)
	f("a//b", MQTT, "a//b", true)
	f("a/+/b", MQTT, "a//b", true)
	f("a.b", MQTT, "a.b", true)
	f("a.b", MQTT, "a/b", false)

	// NATS subject docs: '*' one token, '>' one or more tokens.
	f("time.*.east", NATS, "time.us.east", true)
	f("time.*.east", NATS, "time.us.east.atlanta", false)
	f("time.us.>", NATS, "time.us.east", true)
	f("time.us.>", NATS, "time.us.east.atlanta", true)
	f("time.us.>", NATS, "time.us", false) // unlike MQTT '#'
	f(">", NATS, "time", true)
	f("*", NATS, "time", true)
	f("*", NATS, "time.us", false)
	f("*.*.east.>", NATS, "time.us.east.atlanta", true)
	f("*.*.east.>", NATS, "time.us.east", false)
	f(">", NATS, "$SYS.x", false) // robustmq applies the '$' rule to NATS too (doc.go)
	f("$SYS.>", NATS, "$SYS.x", true)
}

// TestCrossProtocol: one index, filters from one protocol, publishes from
// the other, through the converters.
func TestCrossProtocol(t *testing.T) {
	f := func(filter string, fd Dialect, topic string, td Dialect, want bool) {
		t.Helper()
		matchOne(t, filter, fd, topic, td, want)
	}
	f("a/+/c", MQTT, "a.b.c", NATS, true)
	f("a/#", MQTT, "a", NATS, true)
	f("a.*.c", NATS, "a/b/c", MQTT, true)
	f("a.>", NATS, "a", MQTT, false)
	f("a.>", NATS, "a/b/c", MQTT, true)
	f("a.*", NATS, "a/", MQTT, true)        // MQTT empty level, NATS token "%"
	f("a.%.b", NATS, "a//b", MQTT, true)    // an empty level spelled in NATS
	f("a.b%2Ec", NATS, "a/b.c", MQTT, true) // '.' inside an MQTT level
	f("a/b.c", MQTT, "a.b%2Ec", NATS, true) // and the other way
	f("a/b.c", MQTT, "a.b.c", NATS, false)  // '.' is a separator in NATS
	f("x y/z", MQTT, "x%20y.z", NATS, true) // space
	f("$SYS/#", MQTT, "$SYS.cpu", NATS, true)
}

func sub(id uint64) Subscriber { return Subscriber{ID: id} }

func TestSubscribeUnsubscribe(t *testing.T) {
	ix := New(Config{Shards: 4})
	fs := []Filter{
		mustFilter(t, "a/b", MQTT, ""),
		mustFilter(t, "a/+", MQTT, ""),
		mustFilter(t, "a/#", MQTT, ""),
		mustFilter(t, "a.>", NATS, ""),
		mustFilter(t, "#", MQTT, ""),
		mustFilter(t, "+/b", MQTT, ""),
		mustFilter(t, "$share/g/a/b", MQTT, ""),
		mustFilter(t, "a.b", NATS, "q"),
		mustFilter(t, "$exclusive/a/b", MQTT, ""),
	}
	for _, f := range fs {
		for id := uint64(1); id <= 3; id++ {
			if f.Exclusive() && id > 1 {
				continue
			}
			if err := ix.Subscribe(f, sub(id), "opts"); err != nil {
				t.Fatalf("Subscribe(%v, %d): %v", f, id, err)
			}
		}
	}
	// 8 filters x 3 + 1 exclusive.
	if got := ix.Count(); got != 25 {
		t.Fatalf("Count() = %d; want 25", got)
	}
	if got := ix.Groups(); got != 2 {
		t.Fatalf("Groups() = %d; want 2", got)
	}
	// a/b: 6 plain filters x 3 + one member of g + one of q + the exclusive holder.
	got := ix.Match([]byte("a/b"), nil)
	if len(got) != 21 {
		t.Fatalf("Match(a/b) = %d entries %v; want 21", len(got), ids(got))
	}
	for _, e := range got {
		if e.Opts != "opts" {
			t.Fatalf("Match(a/b) entry %+v lost its options", e)
		}
	}
	// Re-subscribing replaces the options, not adds.
	if err := ix.Subscribe(fs[0], sub(1), "new"); err != nil {
		t.Fatal(err)
	}
	if got := ix.Count(); got != 25 {
		t.Fatalf("Count() after re-subscribe = %d; want 25", got)
	}
	if err := ix.Unsubscribe(mustFilter(t, "a/c", MQTT, ""), 1); !errors.Is(err, ErrNotSubscribed) {
		t.Fatalf("Unsubscribe(a/c) = %v; want ErrNotSubscribed", err)
	}
	if err := ix.Unsubscribe(fs[2], 9); !errors.Is(err, ErrNotSubscribed) {
		t.Fatalf("Unsubscribe(a/#, 9) = %v; want ErrNotSubscribed", err)
	}
	// a/# (MQTT) and a.> (NATS) are different subscriptions.
	if err := ix.Unsubscribe(fs[2], 1); err != nil {
		t.Fatal(err)
	}
	if err := ix.Unsubscribe(fs[2], 1); !errors.Is(err, ErrNotSubscribed) {
		t.Fatalf("second Unsubscribe(a/#, 1) = %v; want ErrNotSubscribed", err)
	}
	for id := uint64(1); id <= 3; id++ {
		want := len(fs)
		if id > 1 {
			want-- // no exclusive
		}
		if id == 1 {
			want-- // a/# already gone
		}
		if got := ix.RemoveAll(id, fs); got != want {
			t.Fatalf("RemoveAll(%d) = %d; want %d", id, got, want)
		}
	}
	if ix.Count() != 0 || ix.Groups() != 0 || ix.wild.n.Load() != 0 {
		t.Fatalf("after RemoveAll: Count %d Groups %d wild %d; want 0", ix.Count(), ix.Groups(), ix.wild.n.Load())
	}
	assertEmpty(t, ix)
	if got := ix.Match([]byte("a/b"), nil); len(got) != 0 {
		t.Fatalf("Match(a/b) on an empty index = %v", ids(got))
	}
}

// assertEmpty checks that unsubscribing pruned every node.
func assertEmpty(t *testing.T, ix *Index) {
	t.Helper()
	for i := range ix.tries {
		if !ix.tries[i].root.empty() || ix.tries[i].n.Load() != 0 {
			t.Fatalf("trie %d not pruned: %+v, n %d", i, ix.tries[i].root, ix.tries[i].n.Load())
		}
		if len(ix.lits[i].m) != 0 {
			t.Fatalf("literal shard %d not pruned: %v", i, ix.lits[i].m)
		}
	}
	if !ix.wild.root.empty() || ix.wild.n.Load() != 0 {
		t.Fatalf("wildcard shard not pruned: %+v", ix.wild.root)
	}
}

func TestParseFilter(t *testing.T) {
	f := func(in string, d Dialect, group string, want error, path, wantGroup string, excl bool) {
		t.Helper()
		var g []byte
		if group != "" {
			g = []byte(group)
		}
		got, err := ParseFilter([]byte(in), d, g)
		if !errors.Is(err, want) {
			t.Fatalf("ParseFilter(%q, %d, %q) error %v; want %v", in, d, group, err, want)
		}
		if err == nil && (got.Path() != path || got.Group() != wantGroup || got.Exclusive() != excl || got.Dialect() != d) {
			t.Fatalf("ParseFilter(%q, %d, %q) = %q group %q excl %v; want %q group %q excl %v",
				in, d, group, got.Path(), got.Group(), got.Exclusive(), path, wantGroup, excl)
		}
	}
	f("sport/tennis/#", MQTT, "", nil, "sport/tennis/#", "", false)
	f("sport/tennis#", MQTT, "", ErrFilterHash, "", "", false)
	f("sport/tennis/#/ranking", MQTT, "", ErrFilterHash, "", "", false)
	f("sport+", MQTT, "", ErrFilterPlus, "", "", false)
	f("+x/y", MQTT, "", ErrFilterPlus, "", "", false)
	f("", MQTT, "", ErrEmpty, "", "", false)
	f("a\x00", MQTT, "", ErrNUL, "", "", false)
	f("$share/g/a/+", MQTT, "", nil, "a/+", "g", false)
	f("$share/g", MQTT, "", ErrShareFilter, "", "", false)
	f("$share/g/", MQTT, "", ErrShareFilter, "", "", false)
	f("$share//a", MQTT, "", ErrShareName, "", "", false)
	f("$share/g+/a", MQTT, "", ErrShareName, "", "", false)
	f("$share/g/a", MQTT, "q", ErrGroupTwice, "", "", false)
	f("$exclusive/t/1", MQTT, "", nil, "t/1", "", true)
	f("$exclusive/$share/g/t", MQTT, "", ErrExclusiveMix, "", "", false)
	f("$exclusive/t", MQTT, "q", ErrExclusiveMix, "", "", false)
	f("$exclusive/", MQTT, "", ErrEmpty, "", "", false)
	f("$share/g/a", NATS, "", nil, "$share/g/a", "", false) // prefixes are MQTT's
	f("$exclusive/a", NATS, "", nil, "$exclusive/a", "", false)
	f("a/b", NATS, "q", nil, "a/b", "q", false)
	f("a/b", Dialect(0), "", ErrDialect, "", "", false)
	if err := New(Config{}).Subscribe(Filter{path: "a"}, sub(1), nil); !errors.Is(err, ErrDialect) {
		t.Fatalf("Subscribe(zero Filter) = %v; want ErrDialect", err)
	}
	if s := mustFilter(t, "$share/g/a/b", MQTT, "").String(); s != "$share/g/a/b" {
		t.Fatalf("String() = %q", s)
	}
	if s := mustFilter(t, "$exclusive/a/b", MQTT, "").String(); s != "$exclusive/a/b" {
		t.Fatalf("String() = %q", s)
	}
}

func TestExclusive(t *testing.T) {
	ix := New(Config{})
	ex := mustFilter(t, "$exclusive/t/1", MQTT, "")
	if err := ix.Subscribe(ex, sub(1), nil); err != nil {
		t.Fatal(err)
	}
	err := ix.Subscribe(ex, sub(2), nil)
	if !errors.Is(err, ErrExclusiveTaken) || !strings.Contains(err.Error(), "$exclusive/t/1") {
		t.Fatalf("second exclusive Subscribe = %v; want ErrExclusiveTaken naming the filter", err)
	}
	// The holder may re-subscribe; others may subscribe to the plain filter.
	if err := ix.Subscribe(ex, sub(1), "again"); err != nil {
		t.Fatalf("holder re-subscribe: %v", err)
	}
	if err := ix.Subscribe(mustFilter(t, "t/1", MQTT, ""), sub(2), nil); err != nil {
		t.Fatal(err)
	}
	// Exclusive on a wildcard filter is its own key.
	if err := ix.Subscribe(mustFilter(t, "$exclusive/t/+", MQTT, ""), sub(3), nil); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(ix.Match([]byte("t/1"), nil)), []uint64{1, 2, 3}; !slices.Equal(got, want) {
		t.Fatalf("Match(t/1) = %v; want %v", got, want)
	}
	if err := ix.Unsubscribe(ex, 2); !errors.Is(err, ErrNotSubscribed) {
		t.Fatalf("non-holder Unsubscribe = %v; want ErrNotSubscribed", err)
	}
	if ix.RemoveAll(1, []Filter{ex}) != 1 {
		t.Fatal("RemoveAll of the holder removed nothing")
	}
	if err := ix.Subscribe(ex, sub(2), nil); err != nil {
		t.Fatalf("Subscribe after the holder left: %v", err)
	}
}

func TestGroupRoundRobin(t *testing.T) {
	ix := New(Config{Pick: RoundRobin})
	// One group across protocols: MQTT $share/g/a/b and NATS queue g on a.b.
	for id := uint64(1); id <= 2; id++ {
		if err := ix.Subscribe(mustFilter(t, "$share/g/a/b", MQTT, ""), sub(id), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Subscribe(mustFilter(t, "a.b", NATS, "g"), sub(3), nil); err != nil {
		t.Fatal(err)
	}
	if err := ix.Subscribe(mustFilter(t, "a/b", MQTT, ""), sub(9), nil); err != nil {
		t.Fatal(err)
	}
	counts := map[uint64]int{}
	var seq []uint64
	var buf []Entry
	for range 9 {
		buf = ix.Match([]byte("a/b"), buf[:0])
		if len(buf) != 2 {
			t.Fatalf("Match = %v; want the plain subscriber and one member", ids(buf))
		}
		for _, e := range buf {
			counts[e.ID]++
			if e.Group != nil {
				seq = append(seq, e.ID)
				if e.Group.Name() != "g" || e.Group.Len() != 3 {
					t.Fatalf("group %q len %d; want g, 3", e.Group.Name(), e.Group.Len())
				}
			}
		}
	}
	if counts[1] != 3 || counts[2] != 3 || counts[3] != 3 || counts[9] != 9 {
		t.Fatalf("deliveries %v; want 3 per member and 9 for the plain subscriber", counts)
	}
	for i := 3; i < len(seq); i++ {
		if seq[i] != seq[i-3] {
			t.Fatalf("round-robin order %v is not cyclic", seq)
		}
	}
}

func TestGroupRandom(t *testing.T) {
	ix := New(Config{Pick: Random, Seed: 42})
	f := mustFilter(t, "$share/g/+/x", MQTT, "")
	const members = 4
	for id := uint64(1); id <= members; id++ {
		if err := ix.Subscribe(f, sub(id), nil); err != nil {
			t.Fatal(err)
		}
	}
	counts := map[uint64]int{}
	var buf []Entry
	for range 1000 {
		buf = ix.Match([]byte("a/x"), buf[:0])
		if len(buf) != 1 {
			t.Fatalf("Match = %v; want one member", ids(buf))
		}
		counts[buf[0].ID]++
	}
	// Expected 250 each; with the fixed seed the outcome is deterministic,
	// and a bound of 150 is ~7 standard deviations away for any seed.
	for id := uint64(1); id <= members; id++ {
		if counts[id] < 150 {
			t.Fatalf("member %d picked %d of 1000 times: %v", id, counts[id], counts)
		}
	}
}

func TestPickOther(t *testing.T) {
	for _, p := range []Pick{RoundRobin, Random} {
		ix := New(Config{Pick: p, Seed: 7})
		f := mustFilter(t, "q.>", NATS, "workers")
		for id := uint64(1); id <= 3; id++ {
			if err := ix.Subscribe(f, sub(id), nil); err != nil {
				t.Fatal(err)
			}
		}
		g := ix.Match([]byte("q/x"), nil)[0].Group
		seen := map[uint64]bool{}
		for range 100 {
			e, ok := g.PickOther(2)
			if !ok || e.ID == 2 {
				t.Fatalf("pick %d: PickOther(2) = %d, %v; want another member", p, e.ID, ok)
			}
			seen[e.ID] = true
		}
		if !seen[1] || !seen[3] {
			t.Fatalf("pick %d: PickOther(2) only chose %v", p, seen)
		}
		if e, ok := g.PickOther(99); !ok || e.ID == 99 {
			t.Fatalf("PickOther(non-member) = %d, %v", e.ID, ok)
		}
		ix.RemoveAll(1, []Filter{f})
		ix.RemoveAll(3, []Filter{f})
		if e, ok := g.PickOther(2); ok {
			t.Fatalf("PickOther(2) with 2 the only member = %d; want none", e.ID)
		}
		ix.RemoveAll(2, []Filter{f})
		if _, ok := g.PickOther(2); ok || g.Len() != 0 {
			t.Fatal("PickOther on an emptied group succeeded")
		}
		assertEmpty(t, ix)
	}
}
