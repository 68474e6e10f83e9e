package shardtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"robustmq/shard"
)

// Factory opens an engine over dir. The suite calls it once per subtest with
// a fresh dir, and again with the same dir to check a reopen.
type Factory func(t *testing.T, dir string) shard.Engine

// Caps tells the suite what the engine promises beyond the Adapter contract.
type Caps struct {
	// Persistent engines keep shards and acknowledged records across Close
	// and reopen; the suite then checks recovery.
	Persistent bool
	// ExactRetention engines drop exactly the records past a retention limit
	// (record granularity). Others (segments) may keep more, never less.
	ExactRetention bool
	// Terms engines keep AppendOptions.Term and return it as Record.Term
	// (the segment engine: raft-ready).
	Terms bool
}

// Run runs the conformance suite against the engine newEngine opens. The
// engine must decode opaque batches with Decoder.
func Run(t *testing.T, newEngine Factory, caps Caps) {
	h := &harness{newEngine: newEngine, caps: caps}
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"Shards", testShards},
		{"NotFound", testNotFound},
		{"AppendRead", testAppendRead},
		{"RoundTrip", testRoundTrip},
		{"CallerBufferReuse", testCallerBufferReuse},
		{"ReadLimits", testReadLimits},
		{"AssignedTimestamp", testAssignedTimestamp},
		{"ReadByKey", testReadByKey},
		{"ReadByTag", testReadByTag},
		{"OffsetForTimestamp", testOffsetForTimestamp},
		{"DeleteRecords", testDeleteRecords},
		{"RetentionBytes", testRetentionBytes},
		{"RetentionTime", testRetentionTime},
		{"Wait", testWait},
		{"AppendAsync", testAppendAsync},
		{"Concurrent", testConcurrent},
		{"Churn", testChurn},
		{"Closed", testClosed},
		{"Reopen", testReopen},
		{"OpaqueBatch", testOpaqueBatch},
		{"Term", testTerm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

type harness struct {
	newEngine Factory
	caps      Caps
}

// open returns a fresh engine over a fresh dir, closed at cleanup.
func (h *harness) open(t *testing.T) (shard.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	e := h.newEngine(t, dir)
	t.Cleanup(func() { closeWithin(t, e) })
	return e, dir
}

// closeWithin closes e, but gives up after 10s with an error (leaking the
// engine) so that a deadlock found by a test fails it instead of hanging the
// whole suite.
func closeWithin(t *testing.T, e shard.Engine) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.Close()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("Close did not return in 10s (deadlocked engine?)")
	}
}

func cfg(e shard.Engine, name string) shard.ShardConfig {
	return shard.ShardConfig{Name: name, Engine: e.Type()}
}

func mustCreate(t *testing.T, e shard.Engine, c shard.ShardConfig) {
	t.Helper()
	if err := e.CreateShard(c); err != nil {
		t.Fatalf("CreateShard(%+v): %v", c, err)
	}
}

func mustAppend(t *testing.T, e shard.Adapter, name string, recs []shard.Record, d shard.Durability) int64 {
	t.Helper()
	first, err := e.Append(context.Background(), name, recs, shard.AppendOptions{Durability: d})
	if err != nil {
		t.Fatalf("Append(%s, %d records): %v", name, len(recs), err)
	}
	return first
}

func offsets(t *testing.T, e shard.Adapter, name string) (earliest, latest int64) {
	t.Helper()
	earliest, err := e.EarliestOffset(name)
	if err != nil {
		t.Fatalf("EarliestOffset(%s): %v", name, err)
	}
	latest, err = e.LatestOffset(name)
	if err != nil {
		t.Fatalf("LatestOffset(%s): %v", name, err)
	}
	return earliest, latest
}

func wantOffsets(t *testing.T, e shard.Adapter, name string, earliest, latest int64) {
	t.Helper()
	ge, gl := offsets(t, e, name)
	if ge != earliest || gl != latest {
		t.Fatalf("%s: offsets [%d, %d); want [%d, %d)", name, ge, gl, earliest, latest)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err %v; want %v", what, err, want)
	}
}

// readAll reads [from, latest) in pages of page records and returns copies.
func readAll(t *testing.T, e shard.Adapter, name string, from int64, page int) []shard.Record {
	t.Helper()
	var out []shard.Record
	for {
		res, err := e.Read(name, from, page, 1<<20)
		if err != nil {
			t.Fatalf("Read(%s, %d): %v", name, from, err)
		}
		n := len(res.Records)
		for i := range res.Records {
			out = append(out, Clone(&res.Records[i]))
		}
		next := res.Next
		res.Release()
		if n == 0 {
			return out
		}
		if next != from+int64(n) {
			t.Fatalf("Read(%s, %d): %d records, Next %d; want %d", name, from, n, next, from+int64(n))
		}
		from = next
	}
}

// Clone deep-copies r, keeping nil versus empty.
func Clone(r *shard.Record) shard.Record {
	c := shard.Record{Offset: r.Offset, Timestamp: r.Timestamp, Key: cloneBytes(r.Key), Value: cloneBytes(r.Value)}
	if r.Tags != nil {
		c.Tags = make([][]byte, len(r.Tags))
		for i, tg := range r.Tags {
			c.Tags[i] = cloneBytes(tg)
		}
	}
	if r.Headers != nil {
		c.Headers = make([]shard.Header, len(r.Headers))
		for i, h := range r.Headers {
			c.Headers[i] = shard.Header{Name: cloneBytes(h.Name), Value: cloneBytes(h.Value)}
		}
	}
	return c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// Equal compares records byte-exactly, nil differing from empty for Key,
// Value and header values. Empty Tags and Headers lists equal nil ones.
// It returns "" or what differs.
func Equal(got, want *shard.Record) string {
	switch {
	case got.Offset != want.Offset:
		return fmt.Sprintf("offset %d; want %d", got.Offset, want.Offset)
	case got.Timestamp != want.Timestamp:
		return fmt.Sprintf("offset %d: timestamp %d; want %d", want.Offset, got.Timestamp, want.Timestamp)
	case !nilEqual(got.Key, want.Key):
		return fmt.Sprintf("offset %d: key %q (nil %v); want %q (nil %v)", want.Offset, got.Key, got.Key == nil, want.Key, want.Key == nil)
	case !nilEqual(got.Value, want.Value):
		return fmt.Sprintf("offset %d: value %.40q (nil %v); want %.40q (nil %v)", want.Offset, got.Value, got.Value == nil, want.Value, want.Value == nil)
	case len(got.Tags) != len(want.Tags):
		return fmt.Sprintf("offset %d: %d tags; want %d", want.Offset, len(got.Tags), len(want.Tags))
	case len(got.Headers) != len(want.Headers):
		return fmt.Sprintf("offset %d: %d headers; want %d", want.Offset, len(got.Headers), len(want.Headers))
	}
	for i := range want.Tags {
		if !bytes.Equal(got.Tags[i], want.Tags[i]) {
			return fmt.Sprintf("offset %d: tag %d %q; want %q", want.Offset, i, got.Tags[i], want.Tags[i])
		}
	}
	for i := range want.Headers {
		g, w := got.Headers[i], want.Headers[i]
		if !bytes.Equal(g.Name, w.Name) || !nilEqual(g.Value, w.Value) {
			return fmt.Sprintf("offset %d: header %d %q=%q (nil %v); want %q=%q (nil %v)",
				want.Offset, i, g.Name, g.Value, g.Value == nil, w.Name, w.Value, w.Value == nil)
		}
	}
	return ""
}

func nilEqual(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func wantRecords(t *testing.T, what string, got, want []shard.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records; want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := Equal(&got[i], &want[i]); d != "" {
			t.Fatalf("%s: record %d: %s", what, i, d)
		}
	}
}

// gen makes n records whose content is a function of their offset, with
// keys from a set of 7 and tags from a set of 5, timestamps base+offset.
func gen(from int64, n int, base int64) []shard.Record {
	recs := make([]shard.Record, n)
	for i := range recs {
		o := from + int64(i)
		recs[i] = shard.Record{
			Offset:    o,
			Timestamp: base + o,
			Key:       fmt.Appendf(nil, "key-%d", o%7),
			Tags:      [][]byte{fmt.Appendf(nil, "tag-%d", o%5)},
			Headers:   []shard.Header{{Name: []byte("h"), Value: fmt.Appendf(nil, "%d", o)}},
			Value:     fmt.Appendf(nil, "value-%d-%s", o, bytes.Repeat([]byte{'x'}, int(o%13))),
		}
	}
	return recs
}

func testShards(t *testing.T, h *harness) {
	e, _ := h.open(t)
	names := []string{"a_0", "a_1", "b_0", "weird name/with.chars\x00_7"}
	for _, n := range names {
		mustCreate(t, e, cfg(e, n))
	}
	wantErr(t, "CreateShard(a_0) again", e.CreateShard(cfg(e, "a_0")), shard.ErrShardExists)
	wantErr(t, "CreateShard(\"\")", e.CreateShard(cfg(e, "")), shard.ErrInvalidConfig)
	bad := cfg(e, "neg")
	bad.RetentionBytes = -1
	wantErr(t, "CreateShard(retention -1)", e.CreateShard(bad), shard.ErrInvalidConfig)

	withRetention := shard.ShardConfig{Name: "r_0", Engine: e.Type(), RetentionBytes: 1 << 30, RetentionMs: 3600_000}
	mustCreate(t, e, withRetention)
	names = append(names, "r_0")

	infos, err := e.ListShards()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]shard.ShardInfo{}
	for _, in := range infos {
		got[in.Config.Name] = in
	}
	if len(got) != len(names) {
		t.Fatalf("ListShards: %d shards %v; want %v", len(got), infos, names)
	}
	for _, n := range names {
		in, ok := got[n]
		if !ok {
			t.Fatalf("ListShards: %q missing from %v", n, infos)
		}
		if in.Earliest != 0 || in.Latest != 0 {
			t.Fatalf("ListShards: %q offsets [%d, %d); want empty", n, in.Earliest, in.Latest)
		}
	}
	if c := got["r_0"].Config; c.RetentionBytes != withRetention.RetentionBytes || c.RetentionMs != withRetention.RetentionMs || c.Engine != e.Type() {
		t.Fatalf("ListShards: r_0 config %+v; want %+v", c, withRetention)
	}

	mustAppend(t, e, "a_0", gen(0, 3, 1000), shard.DurabilityNone)
	if err := e.DeleteShard("a_0"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteShard(a_0) again", e.DeleteShard("a_0"), shard.ErrShardNotFound)
	wantErr(t, "Read(deleted)", readErr(e, "a_0", 0), shard.ErrShardNotFound)
	// A re-created shard starts empty at offset 0.
	mustCreate(t, e, cfg(e, "a_0"))
	wantOffsets(t, e, "a_0", 0, 0)
	if first := mustAppend(t, e, "a_0", gen(0, 2, 1000), shard.DurabilityNone); first != 0 {
		t.Fatalf("append to re-created shard: first %d; want 0", first)
	}
	wantRecords(t, "re-created a_0", readAll(t, e, "a_0", 0, 10), gen(0, 2, 1000))
}

func readErr(e shard.Adapter, name string, off int64) error {
	res, err := e.Read(name, off, 10, 1<<20)
	res.Release()
	return err
}

func testNotFound(t *testing.T, h *harness) {
	e, _ := h.open(t)
	const n = "missing_0"
	_, err := e.Append(context.Background(), n, gen(0, 1, 1), shard.AppendOptions{})
	wantErr(t, "Append", err, shard.ErrShardNotFound)
	var asyncErr error
	e.AppendAsync(n, gen(0, 1, 1), shard.AppendOptions{}, func(_ int64, err error) { asyncErr = err })
	wantErr(t, "AppendAsync", asyncErr, shard.ErrShardNotFound)
	wantErr(t, "Read", readErr(e, n, 0), shard.ErrShardNotFound)
	_, err = e.ReadByKey(n, []byte("k"), 0, 1)
	wantErr(t, "ReadByKey", err, shard.ErrShardNotFound)
	_, err = e.ReadByTag(n, []byte("t"), 0, 1)
	wantErr(t, "ReadByTag", err, shard.ErrShardNotFound)
	_, err = e.OffsetForTimestamp(n, 0)
	wantErr(t, "OffsetForTimestamp", err, shard.ErrShardNotFound)
	_, err = e.EarliestOffset(n)
	wantErr(t, "EarliestOffset", err, shard.ErrShardNotFound)
	_, err = e.LatestOffset(n)
	wantErr(t, "LatestOffset", err, shard.ErrShardNotFound)
	wantErr(t, "DeleteRecords", e.DeleteRecords(n, 1), shard.ErrShardNotFound)
	_, err = e.Wait(n, 0, func() {})
	wantErr(t, "Wait", err, shard.ErrShardNotFound)
}

func testAppendRead(t *testing.T, h *harness) {
	e, _ := h.open(t)
	mustCreate(t, e, cfg(e, "t_0"))
	var want []shard.Record
	next := int64(0)
	for _, n := range []int{1, 2, 10, 0, 100, 1, 37} {
		batch := gen(next, n, 5000)
		first := mustAppend(t, e, "t_0", batch, shard.DurabilitySync)
		if first != next {
			t.Fatalf("Append(%d records): first %d; want %d", n, first, next)
		}
		next += int64(n)
		want = append(want, batch...)
		wantOffsets(t, e, "t_0", 0, next)
	}
	for _, page := range []int{1, 7, 1000} {
		wantRecords(t, fmt.Sprintf("readAll page %d", page), readAll(t, e, "t_0", 0, page), want)
	}
	// Reads from every offset see the suffix.
	for _, from := range []int64{0, 1, 50, next - 1} {
		got := readAll(t, e, "t_0", from, 13)
		wantRecords(t, fmt.Sprintf("read from %d", from), got, want[from:])
	}
	res, err := e.Read("t_0", next, 10, 1<<20)
	if err != nil || len(res.Records) != 0 || res.Next != next || res.Latest != next || res.Earliest != 0 {
		t.Fatalf("Read(at Latest %d): %d records, Next %d, [%d,%d), err %v; want empty at %d", next, len(res.Records), res.Next, res.Earliest, res.Latest, err, next)
	}
	res.Release()
	wantErr(t, "Read(Latest+1)", readErr(e, "t_0", next+1), shard.ErrOffsetOutOfRange)
	wantErr(t, "Read(-1)", readErr(e, "t_0", -1), shard.ErrOffsetOutOfRange)
	// Shards are independent.
	mustCreate(t, e, cfg(e, "t_1"))
	if first := mustAppend(t, e, "t_1", gen(0, 1, 1), shard.DurabilityNone); first != 0 {
		t.Fatalf("first append to t_1: %d; want 0", first)
	}
	wantOffsets(t, e, "t_0", 0, next)
}

func testRoundTrip(t *testing.T, h *harness) {
	e, _ := h.open(t)
	mustCreate(t, e, cfg(e, "rt_0"))
	big := bytes.Repeat([]byte{0xAB}, 300<<10)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	want := []shard.Record{
		{Timestamp: 1, Key: nil, Value: nil},                     // null key, tombstone
		{Timestamp: 2, Key: []byte{}, Value: []byte{}},           // empty, not null
		{Timestamp: -5, Key: all, Value: all},                    // every byte value, negative ts
		{Timestamp: 1 << 50, Value: big},                         // larger than any chunk default
		{Timestamp: 4, Tags: [][]byte{[]byte("a"), {}, all[:3]}}, // empty tag among others
		{Timestamp: 5, Headers: []shard.Header{{Name: []byte("n"), Value: nil}, {Name: []byte{}, Value: []byte{}}, {Name: all, Value: all}}},
		{Timestamp: 6, Key: []byte("k"), Tags: [][]byte{[]byte("t")}, Headers: []shard.Header{{Name: []byte("x"), Value: []byte("y")}}, Value: []byte("v")},
	}
	for i := range want {
		want[i].Offset = int64(i)
	}
	mustAppend(t, e, "rt_0", want[:3], shard.DurabilityNone)
	for i := 3; i < len(want); i++ {
		mustAppend(t, e, "rt_0", want[i:i+1], shard.DurabilitySync)
	}
	wantRecords(t, "round trip", readAll(t, e, "rt_0", 0, 100), want)
	for i := range want {
		res, err := e.Read("rt_0", int64(i), 1, 0)
		if err != nil || len(res.Records) != 1 {
			t.Fatalf("Read(%d, 1, 0): %d records, err %v; want 1", i, len(res.Records), err)
		}
		if d := Equal(&res.Records[0], &want[i]); d != "" {
			t.Fatal(d)
		}
		if res.Bytes != want[i].Size() {
			t.Fatalf("Read(%d).Bytes %d; want %d", i, res.Bytes, want[i].Size())
		}
		res.Release()
	}
}

func testCallerBufferReuse(t *testing.T, h *harness) {
	e, _ := h.open(t)
	mustCreate(t, e, cfg(e, "buf_0"))
	buf := []byte("key1tag1name1val1value1")
	rec := shard.Record{Timestamp: 9, Key: buf[0:4], Tags: [][]byte{buf[4:8]},
		Headers: []shard.Header{{Name: buf[8:13], Value: buf[13:17]}}, Value: buf[17:]}
	want := Clone(&rec)
	mustAppend(t, e, "buf_0", []shard.Record{rec}, shard.DurabilityNone)
	done := make(chan error, 1)
	e.AppendAsync("buf_0", []shard.Record{rec}, shard.AppendOptions{Durability: shard.DurabilitySync}, func(_ int64, err error) { done <- err })
	for i := range buf { // the caller reuses its buffer at once
		buf[i] = '#'
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w1 := want
	w1.Offset = 1
	wantRecords(t, "after caller reused its buffer", readAll(t, e, "buf_0", 0, 10), []shard.Record{want, w1})
}

func testReadLimits(t *testing.T, h *harness) {
	e, _ := h.open(t)
	mustCreate(t, e, cfg(e, "lim_0"))
	recs := make([]shard.Record, 10)
	for i := range recs {
		recs[i] = shard.Record{Timestamp: 1, Value: bytes.Repeat([]byte{'v'}, 100)}
	}
	recs[5].Value = bytes.Repeat([]byte{'B'}, 5000)
	mustAppend(t, e, "lim_0", recs, shard.DurabilityNone)
	f := func(offset int64, maxRecords, maxBytes int, wantN int) {
		t.Helper()
		res, err := e.Read("lim_0", offset, maxRecords, maxBytes)
		if err != nil {
			t.Fatalf("Read(%d, %d, %d): %v", offset, maxRecords, maxBytes, err)
		}
		defer res.Release()
		if len(res.Records) != wantN || res.Next != offset+int64(wantN) {
			t.Fatalf("Read(%d, %d, %d): %d records, Next %d; want %d, %d", offset, maxRecords, maxBytes, len(res.Records), res.Next, wantN, offset+int64(wantN))
		}
		sum := 0
		for i := range res.Records {
			if res.Records[i].Offset != offset+int64(i) {
				t.Fatalf("Read(%d, ...): record %d has offset %d", offset, i, res.Records[i].Offset)
			}
			sum += res.Records[i].Size()
		}
		if res.Bytes != sum {
			t.Fatalf("Read(%d, %d, %d): Bytes %d; want %d", offset, maxRecords, maxBytes, res.Bytes, sum)
		}
	}
	f(0, 3, 1<<20, 3)    // record limit
	f(0, 100, 1<<20, 10) // everything
	f(0, 100, 250, 2)    // byte limit: 2*100 fits, 3*100 does not
	f(0, 100, 300, 3)    // exactly fits
	f(0, 0, 1<<20, 1)    // maxRecords <= 0 means 1
	f(5, 100, 10, 1)     // first record returned even if over maxBytes
	f(5, 100, 0, 1)      // also with maxBytes 0
	f(4, 100, 200, 1)    // the big second record does not fit
	f(6, 100, 1<<20, 4)  // to the end
	f(9, 100, 1, 1)      // last one
}

func testAssignedTimestamp(t *testing.T, h *harness) {
	e, _ := h.open(t)
	mustCreate(t, e, cfg(e, "ts_0"))
	before := time.Now().UnixMilli()
	mustAppend(t, e, "ts_0", []shard.Record{{Value: []byte("a")}, {Value: []byte("b"), Timestamp: 77}}, shard.DurabilityNone)
	after := time.Now().UnixMilli()
	got := readAll(t, e, "ts_0", 0, 10)
	if ts := got[0].Timestamp; ts < before || ts > after {
		t.Fatalf("zero timestamp became %d; want the engine clock in [%d, %d]", ts, before, after)
	}
	if got[1].Timestamp != 77 {
		t.Fatalf("explicit timestamp became %d; want 77", got[1].Timestamp)
	}
}

// lookupCase is one ReadByKey/ReadByTag query checked against brute force.
type lookupCase struct {
	what       []byte
	from       int64
	maxRecords int
}

func checkLookup(t *testing.T, name string, all []shard.Record, earliest int64, match func(*shard.Record, []byte) bool,
	read func([]byte, int64, int) (*shard.ReadResult, error), cases []lookupCase) {
	t.Helper()
	for _, c := range cases {
		var want []shard.Record
		wantNext := all[len(all)-1].Offset + 1 // Latest
		for i := range all {
			r := &all[i]
			if r.Offset >= c.from && r.Offset >= earliest && match(r, c.what) {
				if len(want) == max(c.maxRecords, 1) {
					wantNext = r.Offset
					break
				}
				want = append(want, *r)
			}
		}
		res, err := read(c.what, c.from, c.maxRecords)
		if err != nil {
			t.Fatalf("%s(%q, from %d, max %d): %v", name, c.what, c.from, c.maxRecords, err)
		}
		got := make([]shard.Record, len(res.Records))
		for i := range res.Records {
			got[i] = Clone(&res.Records[i])
		}
		lastGot := c.from - 1
		if len(got) > 0 {
			lastGot = got[len(got)-1].Offset
		}
		if res.Next <= lastGot || res.Next > wantNext {
			t.Fatalf("%s(%q, from %d, max %d): Next %d; want in (%d, %d]: past what was returned, not past the next match", name, c.what, c.from, c.maxRecords, res.Next, lastGot, wantNext)
		}
		res.Release()
		wantRecords(t, fmt.Sprintf("%s(%q, from %d, max %d)", name, c.what, c.from, c.maxRecords), got, want)
	}
}

func keyMatch(r *shard.Record, k []byte) bool { return r.Key != nil && bytes.Equal(r.Key, k) }

func tagMatch(r *shard.Record, tag []byte) bool {
	for _, x := range r.Tags {
		if bytes.Equal(x, tag) {
			return true
		}
	}
	return false
}

func lookupRecords() []shard.Record {
	recs := gen(0, 200, 10)
	// Keys that prefix each other and records without keys or tags.
	recs[3].Key, recs[4].Key, recs[5].Key = []byte("a"), []byte("ab"), []byte("a\x00")
	recs[6].Key, recs[6].Tags = nil, nil
	recs[7].Tags = [][]byte{[]byte("multi"), []byte("tag-1"), []byte("multi2")}
	recs[8].Tags = [][]byte{[]byte("multi")}
	recs[9].Tags = [][]byte{[]byte("dup"), []byte("dup")} // found once
	return recs
}

func lookupCases(prefix string) []lookupCase {
	return []lookupCase{
		{[]byte(prefix + "-0"), 0, 1000},
		{[]byte(prefix + "-3"), 0, 5},
		{[]byte(prefix + "-3"), 100, 5},
		{[]byte(prefix + "-4"), 199, 10},
		{[]byte(prefix + "-4"), 0, 0},
		{[]byte(prefix + "-9"), 0, 10},
		{[]byte("a"), 0, 10},
		{[]byte("ab"), 0, 10},
		{[]byte("a\x00"), 0, 10},
		{[]byte("multi"), 0, 10},
		{[]byte("multi2"), 0, 10},
		{[]byte("dup"), 0, 10},
		{[]byte("nope"), 0, 10},
	}
}

func testReadByKey(t *testing.T, h *harness) {
	e, _ := h.open(t)
	mustCreate(t, e, cfg(e, "k_0"))
	all := lookupRecords()
	for i := 0; i < len(all); i += 17 {
		mustAppend(t, e, "k_0", all[i:min(i+17, len(all))], shard.DurabilityNone)
	}
	read := func(k []byte, from int64, n int) (*shard.ReadResult, error) { return e.ReadByKey("k_0", k, from, n) }
	checkLookup(t, "ReadByKey", all, 0, keyMatch, read, lookupCases("key"))
	if err := e.DeleteRecords("k_0", 50); err != nil {
		t.Fatal(err)
	}
	checkLookup(t, "ReadByKey after DeleteRecords(50)", all, 50, keyMatch, read, lookupCases("key"))
}

func testReadByTag(t *testing.T, h *harness) {
	e, _ := h.open(t)
	mustCreate(t, e, cfg(e, "g_0"))
	all := lookupRecords()
	mustAppend(t, e, "g_0", all, shard.DurabilitySync)
	read := func(k []byte, from int64, n int) (*shard.ReadResult, error) { return e.ReadByTag("g_0", k, from, n) }
	checkLookup(t, "ReadByTag", all, 0, tagMatch, read, lookupCases("tag"))
	if err := e.DeleteRecords("g_0", 120); err != nil {
		t.Fatal(err)
	}
	checkLookup(t, "ReadByTag after DeleteRecords(120)", all, 120, tagMatch, read, lookupCases("tag"))
}

// timeRecords makes n records with non-monotonic timestamps (jitter around a
// rising line, with repeats) in random batch sizes.
func timeRecords(n int, seed uint64) []shard.Record {
	rng := rand.New(rand.NewPCG(seed, 1))
	recs := make([]shard.Record, n)
	for i := range recs {
		recs[i] = shard.Record{Offset: int64(i), Timestamp: 100_000 + int64(i)*10 + rng.Int64N(200) - 100, Value: []byte{byte(i)}}
	}
	return recs
}

func bruteTime(all []shard.Record, earliest, latest, ts int64) int64 {
	for i := range all {
		if all[i].Offset >= earliest && all[i].Timestamp >= ts {
			return all[i].Offset
		}
	}
	return latest
}

func checkTimes(t *testing.T, e shard.Adapter, name string, all []shard.Record) {
	t.Helper()
	earliest, latest := offsets(t, e, name)
	lo, hi := all[0].Timestamp, all[0].Timestamp
	for i := range all {
		lo, hi = min(lo, all[i].Timestamp), max(hi, all[i].Timestamp)
	}
	for ts := lo - 5; ts <= hi+5; ts += 7 {
		got, err := e.OffsetForTimestamp(name, ts)
		if err != nil {
			t.Fatalf("OffsetForTimestamp(%d): %v", ts, err)
		}
		if want := bruteTime(all, earliest, latest, ts); got != want {
			t.Fatalf("OffsetForTimestamp(%d) with offsets [%d,%d): %d; want %d", ts, earliest, latest, got, want)
		}
	}
}

func testOffsetForTimestamp(t *testing.T, h *harness) {
	e, _ := h.open(t)
	mustCreate(t, e, cfg(e, "time_0"))
	if got, err := e.OffsetForTimestamp("time_0", 5); err != nil || got != 0 {
		t.Fatalf("OffsetForTimestamp on empty shard: %d, %v; want 0", got, err)
	}
	all := timeRecords(2000, 7)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < len(all); {
		n := 1 + rng.IntN(40)
		mustAppend(t, e, "time_0", all[i:min(i+n, len(all))], shard.DurabilityNone)
		i += n
	}
	checkTimes(t, e, "time_0", all)
	if err := e.DeleteRecords("time_0", 777); err != nil {
		t.Fatal(err)
	}
	checkTimes(t, e, "time_0", all)
}

func testDeleteRecords(t *testing.T, h *harness) {
	e, _ := h.open(t)
	mustCreate(t, e, cfg(e, "del_0"))
	all := gen(0, 100, 1)
	mustAppend(t, e, "del_0", all, shard.DurabilityNone)
	steps := []struct {
		before       int64
		wantEarliest int64
	}{
		{0, 0},     // no-op
		{10, 10},   // advance
		{5, 10},    // never backwards
		{10, 10},   // same
		{99, 99},   // all but one
		{500, 100}, // clamped to Latest: empty
	}
	for _, s := range steps {
		if err := e.DeleteRecords("del_0", s.before); err != nil {
			t.Fatalf("DeleteRecords(%d): %v", s.before, err)
		}
		wantOffsets(t, e, "del_0", s.wantEarliest, 100)
		if s.wantEarliest > 0 {
			wantErr(t, fmt.Sprintf("Read(%d) below log start %d", s.wantEarliest-1, s.wantEarliest), readErr(e, "del_0", s.wantEarliest-1), shard.ErrOffsetOutOfRange)
		}
		wantRecords(t, fmt.Sprintf("read after DeleteRecords(%d)", s.before), readAll(t, e, "del_0", s.wantEarliest, 30), all[s.wantEarliest:])
	}
	// Offsets are never reused.
	if first := mustAppend(t, e, "del_0", gen(100, 2, 1), shard.DurabilityNone); first != 100 {
		t.Fatalf("append after emptying: first %d; want 100", first)
	}
	wantRecords(t, "append after emptying", readAll(t, e, "del_0", 100, 10), gen(100, 2, 1))
}

// retained reports earliest after EnforceRetention(now).
func enforce(t *testing.T, e shard.Adapter, nowMs int64) {
	t.Helper()
	if err := e.EnforceRetention(nowMs); err != nil {
		t.Fatalf("EnforceRetention(%d): %v", nowMs, err)
	}
}

func testRetentionBytes(t *testing.T, h *harness) {
	e, _ := h.open(t)
	const (
		n       = 200
		recSize = 1000
		limit   = 20 * recSize
		segment = 4 * recSize
	)
	c := shard.ShardConfig{Name: "rb_0", Engine: e.Type(), RetentionBytes: limit, SegmentBytes: segment}
	mustCreate(t, e, c)
	mustCreate(t, e, cfg(e, "unlimited_0"))
	all := make([]shard.Record, n)
	for i := range all {
		all[i] = shard.Record{Offset: int64(i), Timestamp: int64(i), Value: bytes.Repeat([]byte{byte(i)}, recSize)}
	}
	for i := 0; i < n; i += 10 {
		mustAppend(t, e, "rb_0", all[i:i+10], shard.DurabilityNone)
		mustAppend(t, e, "unlimited_0", all[i:i+10], shard.DurabilityNone)
	}
	enforce(t, e, n)
	earliest, latest := offsets(t, e, "rb_0")
	if latest != n {
		t.Fatalf("retention moved Latest to %d; want %d", latest, n)
	}
	kept := latest - earliest
	// Exact engines account bytes in their own encoding (a little over
	// recSize per record): they keep at most limit/recSize records and at
	// least 80% of that. Segment engines drop whole segments: they may keep
	// up to one segment more, but must have dropped something.
	maxKept, minKept := int64(limit/recSize), int64(limit/recSize)*8/10
	if !h.caps.ExactRetention {
		maxKept, minKept = int64((limit+segment)/recSize)+1, 1
	}
	if kept > maxKept || kept < minKept {
		t.Fatalf("RetentionBytes %d, SegmentBytes %d kept %d records of %d bytes; want %d..%d", limit, segment, kept, recSize, minKept, maxKept)
	}
	wantRecords(t, "after byte retention", readAll(t, e, "rb_0", earliest, 7), all[earliest:])
	wantErr(t, "Read below retention", readErr(e, "rb_0", earliest-1), shard.ErrOffsetOutOfRange)
	wantOffsets(t, e, "unlimited_0", 0, n)
}

func testRetentionTime(t *testing.T, h *harness) {
	e, _ := h.open(t)
	c := shard.ShardConfig{Name: "rt_0", Engine: e.Type(), RetentionMs: 1000, SegmentBytes: 4096}
	mustCreate(t, e, c)
	var all []shard.Record
	for i := 0; i < 100; i++ {
		ts := int64(10_000) // old
		if i >= 60 {
			ts = 50_000 // new
		}
		all = append(all, shard.Record{Offset: int64(i), Timestamp: ts, Value: bytes.Repeat([]byte{'t'}, 500)})
	}
	for i := 0; i < len(all); i += 5 {
		mustAppend(t, e, "rt_0", all[i:i+5], shard.DurabilityNone)
	}
	enforce(t, e, 10_500) // nothing expired yet
	wantOffsets(t, e, "rt_0", 0, 100)
	enforce(t, e, 50_500) // the old 60 expired, the new 40 not
	earliest, _ := offsets(t, e, "rt_0")
	if earliest > 60 || (h.caps.ExactRetention && earliest != 60) || earliest == 0 {
		t.Fatalf("RetentionMs 1000 at now 50500: log start %d; want 60 (exact) or in (0, 60]", earliest)
	}
	wantRecords(t, "after time retention", readAll(t, e, "rt_0", earliest, 50), all[earliest:])
	enforce(t, e, 1_000_000) // everything expired, offsets kept
	earliest, latest := offsets(t, e, "rt_0")
	if latest != 100 || earliest > 100 || (h.caps.ExactRetention && earliest != 100) {
		t.Fatalf("all expired: offsets [%d, %d); want [100, 100) (exact) or Latest 100", earliest, latest)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func testWait(t *testing.T, h *harness) {
	e, _ := h.open(t)
	mustCreate(t, e, cfg(e, "w_0"))
	var fired atomic.Int32
	inc := func() { fired.Add(1) }

	// Data already there: fires before Wait returns.
	mustAppend(t, e, "w_0", gen(0, 2, 1), shard.DurabilityNone)
	cancel, err := e.Wait("w_0", 1, inc)
	if err != nil || fired.Load() != 1 {
		t.Fatalf("Wait(1) with Latest 2: fired %d, err %v; want fired at once", fired.Load(), err)
	}
	if cancel() {
		t.Fatal("cancel after firing reported true")
	}

	// At Latest: fires on the next append, once.
	fired.Store(0)
	if _, err = e.Wait("w_0", 2, inc); err != nil {
		t.Fatal(err)
	}
	if fired.Load() != 0 {
		t.Fatal("Wait(Latest) fired before any append")
	}
	mustAppend(t, e, "w_0", gen(2, 1, 1), shard.DurabilityNone)
	eventually(t, "Wait(2) to fire after the append", func() bool { return fired.Load() == 1 })
	mustAppend(t, e, "w_0", gen(3, 1, 1), shard.DurabilityNone)
	if fired.Load() != 1 {
		t.Fatalf("Wait fired %d times; want once", fired.Load())
	}

	// Further ahead: fires only when that offset exists.
	fired.Store(0)
	if _, err = e.Wait("w_0", 5, inc); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, e, "w_0", gen(4, 1, 1), shard.DurabilityNone) // Latest 5: offset 5 not there yet
	if fired.Load() != 0 {
		t.Fatal("Wait(5) fired at Latest 5")
	}
	e.AppendAsync("w_0", gen(5, 1, 1), shard.AppendOptions{Durability: shard.DurabilitySync}, func(int64, error) {})
	eventually(t, "Wait(5) to fire", func() bool { return fired.Load() == 1 })

	// Cancel: never fires.
	fired.Store(0)
	cancel, err = e.Wait("w_0", 6, inc)
	if err != nil {
		t.Fatal(err)
	}
	if !cancel() {
		t.Fatal("cancel before firing reported false")
	}
	mustAppend(t, e, "w_0", gen(6, 1, 1), shard.DurabilityNone)
	if fired.Load() != 0 {
		t.Fatal("cancelled waiter fired")
	}

	// A waiter may call back into the engine without blocking (reads,
	// AppendAsync with FailFast): it runs with no engine lock held.
	reentered := make(chan error, 1)
	var step atomic.Value
	step.Store("not called")
	if _, err := e.Wait("w_0", 7, func() {
		step.Store("ListShards")
		_, err := e.ListShards()
		if err == nil {
			step.Store("Read")
			var res *shard.ReadResult
			if res, err = e.Read("w_0", 7, 1, 1); err == nil {
				res.Release()
			}
		}
		if err != nil {
			reentered <- err
			return
		}
		// fn must not block, so it appends with AppendAsync and FailFast;
		// the outcome arrives through done.
		step.Store("AppendAsync")
		e.AppendAsync("w_0", gen(8, 1, 1), shard.AppendOptions{FailFast: true}, func(_ int64, err error) { reentered <- err })
	}); err != nil {
		t.Fatal(err)
	}
	go e.AppendAsync("w_0", gen(7, 1, 1), shard.AppendOptions{}, func(int64, error) {})
	select {
	case err := <-reentered:
		if err != nil {
			t.Fatalf("engine call from a waiter: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("a waiter calling back into the engine deadlocked in %s", step.Load())
	}
	wantOffsets(t, e, "w_0", 0, 9)

	// Many waiters, one append wakes them all; deletion wakes the rest.
	fired.Store(0)
	for i := 0; i < 100; i++ {
		if _, err := e.Wait("w_0", 9, inc); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Wait("w_0", 1000, inc); err != nil {
			t.Fatal(err)
		}
	}
	mustAppend(t, e, "w_0", gen(9, 1, 1), shard.DurabilityNone)
	eventually(t, "100 waiters to fire", func() bool { return fired.Load() == 100 })
	if err := e.DeleteShard("w_0"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "DeleteShard to fire the other 100", func() bool { return fired.Load() == 200 })
}

func testAppendAsync(t *testing.T, h *harness) {
	e, _ := h.open(t)
	mustCreate(t, e, cfg(e, "as_0"))
	const batches = 200
	var (
		mu     sync.Mutex
		firsts []int64
		calls  atomic.Int32
		wg     sync.WaitGroup
	)
	var want []shard.Record
	for i := 0; i < batches; i++ {
		batch := gen(int64(len(want)), 1+i%3, 1)
		want = append(want, batch...)
		d := shard.DurabilityNone
		if i%2 == 0 {
			d = shard.DurabilitySync
		}
		wg.Add(1)
		e.AppendAsync("as_0", batch, shard.AppendOptions{Durability: d}, func(first int64, err error) {
			defer wg.Done()
			calls.Add(1)
			if err != nil {
				t.Errorf("AppendAsync: %v", err)
				return
			}
			mu.Lock()
			firsts = append(firsts, first)
			mu.Unlock()
		})
	}
	wg.Wait()
	if calls.Load() != batches {
		t.Fatalf("done called %d times; want %d", calls.Load(), batches)
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	next := int64(0)
	for i, f := range firsts {
		if f != next {
			t.Fatalf("batch %d: first %d; want %d", i, f, next)
		}
		next += int64(1 + i%3)
	}
	wantRecords(t, "async appends", readAll(t, e, "as_0", 0, 100), want)

	// An empty batch completes with Latest.
	var got int64 = -1
	ch := make(chan struct{})
	e.AppendAsync("as_0", nil, shard.AppendOptions{}, func(first int64, err error) { got = first; close(ch) })
	<-ch
	if got != int64(len(want)) {
		t.Fatalf("empty AppendAsync: first %d; want Latest %d", got, len(want))
	}
}

// testConcurrent runs writers and tailing readers on several shards. Each
// value carries (writer, seq); every reader checks that offsets are dense
// and each writer's sequence rises, and finally that nothing is missing.
func testConcurrent(t *testing.T, h *harness) {
	e, _ := h.open(t)
	const (
		shards  = 12
		writers = 3 // per shard
		batches = 30
		batch   = 5
		total   = writers * batches * batch
	)
	names := make([]string, shards)
	for i := range names {
		names[i] = shard.Name("conc", int32(i))
		mustCreate(t, e, cfg(e, names[i]))
	}
	var wg sync.WaitGroup
	for _, name := range names {
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]shard.Record, batch)
				val := make([]byte, 16*batch) // reused across batches: engines copy
				for b := 0; b < batches; b++ {
					for i := range buf {
						v := val[i*16 : i*16+16]
						binary.BigEndian.PutUint64(v, uint64(w))
						binary.BigEndian.PutUint64(v[8:], uint64(b*batch+i))
						buf[i] = shard.Record{Timestamp: int64(b), Key: v[:8], Value: v}
					}
					d := shard.DurabilityNone
					if b%4 == 0 {
						d = shard.DurabilitySync
					}
					if _, err := e.Append(context.Background(), name, buf, shard.AppendOptions{Durability: d}); err != nil {
						t.Errorf("Append(%s): %v", name, err)
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			tail(t, e, name, writers, total)
		}()
	}
	wg.Wait()
	for _, name := range names {
		wantOffsets(t, e, name, 0, total)
	}
}

// tail reads name from 0 until it has seen total records, waiting with Wait
// when caught up, and checks per-writer order.
func tail(t *testing.T, e shard.Adapter, name string, writers, total int) {
	seq := make([]int64, writers)
	for i := range seq {
		seq[i] = -1
	}
	off := int64(0)
	deadline := time.Now().Add(20 * time.Second)
	for off < int64(total) {
		if time.Now().After(deadline) {
			t.Errorf("%s: reader stuck at %d of %d", name, off, total)
			return
		}
		res, err := e.Read(name, off, 64, 1<<16)
		if err != nil {
			t.Errorf("Read(%s, %d): %v", name, off, err)
			return
		}
		for i := range res.Records {
			r := &res.Records[i]
			if r.Offset != off {
				t.Errorf("%s: offset %d; want %d", name, r.Offset, off)
			}
			if len(r.Value) != 16 || !bytes.Equal(r.Key, r.Value[:8]) {
				t.Errorf("%s@%d: bad record %x / %x", name, off, r.Key, r.Value)
				res.Release()
				return
			}
			w, s := binary.BigEndian.Uint64(r.Value), int64(binary.BigEndian.Uint64(r.Value[8:]))
			if int(w) >= writers || s != seq[w]+1 {
				t.Errorf("%s@%d: writer %d seq %d after %d", name, off, w, s, seq[int(w)%writers])
			}
			seq[int(w)%writers] = s
			off++
		}
		n := len(res.Records)
		res.Release()
		if n == 0 {
			ch := make(chan struct{})
			cancel, err := e.Wait(name, off, func() { close(ch) })
			if err != nil {
				t.Errorf("Wait(%s, %d): %v", name, off, err)
				return
			}
			select {
			case <-ch:
			case <-time.After(time.Until(deadline)):
				cancel()
			}
		}
	}
}

// testChurn creates and deletes shards while others append to, read and wait
// on the same names: every call either works or says ErrShardNotFound /
// ErrShardExists, and a shard created again starts empty.
func testChurn(t *testing.T, h *harness) {
	e, _ := h.open(t)
	names := []string{"churn_0", "churn_1", "churn_2"}
	ok := func(err error, allowed ...error) bool {
		if err == nil {
			return true
		}
		for _, a := range allowed {
			if errors.Is(err, a) {
				return false
			}
		}
		t.Errorf("unexpected error: %v", err)
		return false
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				n := names[(g+i)%len(names)]
				switch (g + i) % 4 {
				case 0:
					ok(e.CreateShard(cfg(e, n)), shard.ErrShardExists)
				case 1:
					_, err := e.Append(context.Background(), n, gen(0, 2, 1), shard.AppendOptions{Durability: shard.Durability(i % 2)})
					ok(err, shard.ErrShardNotFound)
				case 2:
					res, err := e.Read(n, 0, 10, 1<<20)
					if ok(err, shard.ErrShardNotFound, shard.ErrOffsetOutOfRange) {
						res.Release()
					}
					if cancel, err := e.Wait(n, 1<<40, func() {}); ok(err, shard.ErrShardNotFound) {
						cancel()
					}
				case 3:
					ok(e.DeleteShard(n), shard.ErrShardNotFound)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 40; i++ {
			_, err := e.ListShards()
			ok(err)
		}
	}()
	wg.Wait()
	for _, n := range names {
		_ = e.DeleteShard(n)
		mustCreate(t, e, cfg(e, n))
		wantOffsets(t, e, n, 0, 0)
	}
}

func testClosed(t *testing.T, h *harness) {
	dir := t.TempDir()
	e := h.newEngine(t, dir)
	mustCreate(t, e, cfg(e, "c_0"))
	fired := make(chan struct{})
	if _, err := e.Wait("c_0", 0, func() { close(fired) }); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-fired:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not fire the waiter")
	}
	_, err := e.Append(context.Background(), "c_0", gen(0, 1, 1), shard.AppendOptions{})
	wantErr(t, "Append after Close", err, shard.ErrClosed)
	var asyncErr error
	e.AppendAsync("c_0", gen(0, 1, 1), shard.AppendOptions{}, func(_ int64, err error) { asyncErr = err })
	wantErr(t, "AppendAsync after Close", asyncErr, shard.ErrClosed)
	wantErr(t, "Read after Close", readErr(e, "c_0", 0), shard.ErrClosed)
	wantErr(t, "CreateShard after Close", e.CreateShard(cfg(e, "c_1")), shard.ErrClosed)
	wantErr(t, "Close again", e.Close(), shard.ErrClosed)
}

func testReopen(t *testing.T, h *harness) {
	if !h.caps.Persistent {
		t.Skip("engine is not persistent")
	}
	dir := t.TempDir()
	e := h.newEngine(t, dir)
	c := shard.ShardConfig{Name: "p_0", Engine: e.Type(), RetentionBytes: 1 << 40, RetentionMs: 1 << 40, SegmentBytes: 1 << 16}
	mustCreate(t, e, c)
	mustCreate(t, e, cfg(e, "p_1"))
	mustCreate(t, e, cfg(e, "gone_0"))
	all := lookupRecords()
	times := timeRecords(len(all), 9)
	for i := range all {
		all[i].Timestamp = times[i].Timestamp
	}
	mustAppend(t, e, "p_0", all[:150], shard.DurabilitySync)
	mustAppend(t, e, "p_0", all[150:], shard.DurabilityNone)
	mustAppend(t, e, "p_1", gen(0, 3, 1), shard.DurabilityNone)
	if err := e.DeleteRecords("p_0", 20); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteShard("gone_0"); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	for round := 0; round < 2; round++ {
		e = h.newEngine(t, dir)
		infos, err := e.ListShards()
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 2 {
			t.Fatalf("reopen %d: ListShards %+v; want p_0 and p_1", round, infos)
		}
		for _, in := range infos {
			if in.Config.Name == "p_0" && in.Config != c {
				t.Fatalf("reopen %d: p_0 config %+v; want %+v", round, in.Config, c)
			}
		}
		wantOffsets(t, e, "p_0", 20, int64(len(all)))
		wantOffsets(t, e, "p_1", 0, 3)
		wantRecords(t, "p_0 after reopen", readAll(t, e, "p_0", 20, 33), all[20:])
		wantErr(t, "Read below log start after reopen", readErr(e, "p_0", 19), shard.ErrOffsetOutOfRange)
		checkLookup(t, "ReadByKey after reopen", all, 20, keyMatch,
			func(k []byte, from int64, n int) (*shard.ReadResult, error) { return e.ReadByKey("p_0", k, from, n) }, lookupCases("key"))
		checkLookup(t, "ReadByTag after reopen", all, 20, tagMatch,
			func(k []byte, from int64, n int) (*shard.ReadResult, error) { return e.ReadByTag("p_0", k, from, n) }, lookupCases("tag"))
		checkTimes(t, e, "p_0", all)
		// Appends continue at the recovered offset.
		more := gen(int64(len(all)), 4, 1)
		for i := range more {
			more[i].Timestamp = all[len(all)-1].Timestamp + int64(i)
		}
		if first := mustAppend(t, e, "p_0", more, shard.DurabilitySync); first != int64(len(all)) {
			t.Fatalf("reopen %d: append first %d; want %d", round, first, len(all))
		}
		all = append(all, more...)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
