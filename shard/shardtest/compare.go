package shardtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"robustmq/shard"
)

// Compare is the metamorphic test: it runs the same random operations
// (appends with random keys, tags, headers and non-monotonic timestamps,
// reads with random limits, key/tag/time lookups, DeleteRecords, and for
// persistent engines reopens) against every engine and requires identical
// output. Retention is left out: segment engines are not record-exact.
// Each engine gets its own dir; ops is the number of operations.
func Compare(t *testing.T, seed uint64, ops int, engines map[string]Factory, persistent map[string]bool) {
	t.Helper()
	traces := map[string][]string{}
	for name, f := range engines {
		traces[name] = runTrace(t, seed, ops, f, persistent[name])
	}
	var ref string
	for name := range traces {
		if ref == "" || name < ref {
			ref = name
		}
	}
	for name, tr := range traces {
		if name == ref {
			continue
		}
		want := traces[ref]
		for i := 0; i < max(len(tr), len(want)); i++ {
			var g, w string
			if i < len(tr) {
				g = tr[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Fatalf("seed %d: op %d: %s says\n\t%s\n%s says\n\t%s", seed, i, name, g, ref, w)
			}
		}
	}
}

func runTrace(t *testing.T, seed uint64, ops int, f Factory, persistent bool) []string {
	t.Helper()
	dir := t.TempDir()
	e := f(t, dir)
	defer func() { _ = e.Close() }()
	rng := rand.New(rand.NewPCG(seed, 99))
	var trace []string
	out := func(format string, args ...any) { trace = append(trace, fmt.Sprintf(format, args...)) }
	names := []string{"m_0", "m_1", "m_2"}
	for _, n := range names {
		out("create %s: %v", n, e.CreateShard(shard.ShardConfig{Name: n, Engine: e.Type(), SegmentBytes: 2048}))
	}
	small := func(prefix string, n int) []byte { return fmt.Appendf(nil, "%s%d", prefix, rng.IntN(n)) }
	ts := int64(1_000_000)
	for i := 0; i < ops; i++ {
		n := names[rng.IntN(len(names))]
		switch op := rng.IntN(100); {
		case op < 40:
			recs := make([]shard.Record, 1+rng.IntN(8))
			for j := range recs {
				ts += rng.Int64N(100) - 30
				r := shard.Record{Timestamp: ts, Value: make([]byte, rng.IntN(300))}
				for k := range r.Value {
					r.Value[k] = byte(rng.Uint32())
				}
				if rng.IntN(4) > 0 {
					r.Key = small("k", 10)
				}
				for range rng.IntN(3) {
					r.Tags = append(r.Tags, small("t", 6))
				}
				if rng.IntN(3) == 0 {
					r.Headers = []shard.Header{{Name: small("h", 3), Value: small("v", 100)}}
				}
				recs[j] = r
			}
			d := shard.Durability(rng.IntN(2))
			first, err := e.Append(context.Background(), n, recs, shard.AppendOptions{Durability: d})
			out("append %s %d: %d %v", n, len(recs), first, err)
		case op < 60:
			lo, hi, _ := bounds(e, n)
			off := lo + rng.Int64N(hi-lo+2) - 1
			res, err := e.Read(n, off, rng.IntN(20), rng.IntN(3000))
			out("read %s %d: %s", n, off, describe(res, err, true))
		case op < 70:
			k := small("k", 10)
			from := rng.Int64N(200)
			res, err := e.ReadByKey(n, k, from, rng.IntN(6))
			out("key %s %s %d: %s", n, k, from, describe(res, err, false))
		case op < 78:
			tg := small("t", 6)
			from := rng.Int64N(200)
			res, err := e.ReadByTag(n, tg, from, rng.IntN(6))
			out("tag %s %s %d: %s", n, tg, from, describe(res, err, false))
		case op < 88:
			q := ts - rng.Int64N(3000)
			o, err := e.OffsetForTimestamp(n, q)
			out("time %s %d: %d %v", n, q, o, err)
		case op < 94:
			lo, hi, _ := bounds(e, n)
			before := lo + rng.Int64N(hi-lo+3)
			out("delete %s %d: %v", n, before, e.DeleteRecords(n, before))
		default:
			if persistent { // non-persistent engines skip the reopen, silently
				if err := e.Close(); err != nil {
					t.Fatalf("seed %d op %d: Close: %v", seed, i, err)
				}
				e = f(t, dir)
			}
			out("reopen")
		}
		lo, hi, err := bounds(e, n)
		out("  offsets %s: [%d, %d) %v", n, lo, hi, err)
	}
	return trace
}

func bounds(e shard.Adapter, n string) (int64, int64, error) {
	lo, err := e.EarliestOffset(n)
	if err != nil {
		return 0, 0, err
	}
	hi, err := e.LatestOffset(n)
	return lo, hi, err
}

// describe prints a read result as offsets, timestamps and a digest of the
// bytes, and releases it. Errors print by their sentinel. next says whether
// Next is exact (Read) or only bounded (lookups; see shard.ReadResult).
func describe(res *shard.ReadResult, err error, next bool) string {
	if err != nil {
		for _, s := range []error{shard.ErrOffsetOutOfRange, shard.ErrShardNotFound} {
			if strings.Contains(err.Error(), s.Error()) {
				return "error " + s.Error()
			}
		}
		return "error " + err.Error()
	}
	defer res.Release()
	var b strings.Builder
	if next {
		fmt.Fprintf(&b, "next %d ", res.Next)
	}
	fmt.Fprintf(&b, "bytes %d [", res.Bytes)
	for i := range res.Records {
		r := &res.Records[i]
		fmt.Fprintf(&b, " %d@%d:%q/%d/%d/%x", r.Offset, r.Timestamp, r.Key, len(r.Tags), len(r.Headers), digest(r))
	}
	b.WriteString(" ]")
	return b.String()
}

func digest(r *shard.Record) uint32 {
	h := uint32(2166136261)
	mix := func(b []byte) {
		for _, c := range b {
			h = (h ^ uint32(c)) * 16777619
		}
		h = (h ^ uint32(len(b))) * 16777619
	}
	mix(r.Value)
	for _, t := range r.Tags {
		mix(t)
	}
	for _, x := range r.Headers {
		mix(x.Name)
		mix(x.Value)
	}
	return h
}
