package segment

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"robustmq/shard"
	"robustmq/shard/shardtest"
)

// TruncateTo removes a suffix at any offset (batch start, mid-batch,
// segment base) with indexes; readers holding views of removed records
// keep valid bytes; appends continue at the cut; a reopen sees the same.
func TestTruncateTo(t *testing.T) {
	for _, cut := range []int64{0, 1, 5, 6, 7, 200, 333, 598, 599, 600} {
		t.Run("cut"+strconv.FormatInt(cut, 10), func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(dir)
			e := openTest(t, o)
			mustCreateShard(t, e, "tr_0")
			appendBatches(t, e, "tr_0", 600, 3, shard.DurabilitySync)
			// For even cuts a reader holds views across the cut while it
			// happens (the file is cut at its release); odd cuts have none
			// (the file is cut at once).
			held, err := e.Read("tr_0", max(cut-2, 0), 50, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if cut%2 == 1 {
				held.Release()
				held = &shard.ReadResult{}
			}
			heldCopy := make([][]byte, len(held.Records))
			for i, r := range held.Records {
				heldCopy[i] = bytes.Clone(r.Value)
			}
			if err := e.TruncateTo("tr_0", cut); err != nil {
				t.Fatalf("TruncateTo(%d): %v", cut, err)
			}
			if got, _ := e.LatestOffset("tr_0"); got != cut {
				t.Fatalf("Latest after TruncateTo(%d) = %d", cut, got)
			}
			if _, err := e.Read("tr_0", cut+1, 1, 0); !errors.Is(err, shard.ErrOffsetOutOfRange) {
				t.Fatalf("Read past the cut: %v; want ErrOffsetOutOfRange", err)
			}
			checkRange(t, e, "tr_0", 0, cut)
			for i, r := range held.Records {
				if !bytes.Equal(r.Value, heldCopy[i]) {
					t.Fatalf("held view of offset %d changed under the reader", r.Offset)
				}
			}
			held.Release()
			if ts, err := e.OffsetForTimestamp("tr_0", 1000+cut); err != nil || ts != cut {
				t.Fatalf("OffsetForTimestamp past the cut = %d, %v; want %d", ts, err, cut)
			}
			appendBatches(t, e, "tr_0", int(cut)+40, 4, shard.DurabilitySync)
			checkRange(t, e, "tr_0", 0, cut+40)
			e.Close()
			e = openTest(t, o)
			defer e.Close()
			if got, _ := e.LatestOffset("tr_0"); got != cut+40 {
				t.Fatalf("after reopen Latest %d; want %d", got, cut+40)
			}
			checkRange(t, e, "tr_0", 0, cut+40)
		})
	}
}

func TestTruncateToRange(t *testing.T) {
	e := openTest(t, testOptions(t.TempDir()))
	defer e.Close()
	mustCreateShard(t, e, "tr_0")
	appendBatches(t, e, "tr_0", 10, 3, shard.DurabilitySync)
	if err := e.TruncateTo("tr_0", 11); !errors.Is(err, shard.ErrOffsetOutOfRange) {
		t.Fatalf("TruncateTo past Latest: %v; want ErrOffsetOutOfRange", err)
	}
	if err := e.DeleteRecords("tr_0", 5); err != nil {
		t.Fatal(err)
	}
	if err := e.TruncateTo("tr_0", 4); !errors.Is(err, shard.ErrOffsetOutOfRange) {
		t.Fatalf("TruncateTo below Earliest: %v; want ErrOffsetOutOfRange", err)
	}
	if err := e.TruncateTo("tr_0", 10); err != nil {
		t.Fatalf("TruncateTo(Latest) is a no-op: %v", err)
	}
}

// DeleteRecords persists the log start (it survives a reopen), drops only
// whole segments below it, and ignores the time limit (regression: it must
// not treat "no clock" as "everything expired").
func TestDeleteRecordsPersists(t *testing.T) {
	o := testOptions(t.TempDir())
	e := openTest(t, o)
	if err := e.CreateShard(shard.ShardConfig{Name: "dr_0", Engine: shard.EngineSegment, RetentionMs: 1000}); err != nil {
		t.Fatal(err)
	}
	appendBatches(t, e, "dr_0", 400, 4, shard.DurabilitySync)
	segsBefore := len(segFiles(t, o.Dir, logSuffix))
	if err := e.DeleteRecords("dr_0", 150); err != nil {
		t.Fatal(err)
	}
	segsAfter := len(segFiles(t, o.Dir, logSuffix))
	if segsAfter >= segsBefore || segsAfter < 2 {
		t.Fatalf("DeleteRecords(150): %d segments, %d before; want fewer but the ones at and after 150", segsAfter, segsBefore)
	}
	checkRange(t, e, "dr_0", 150, 400)
	e.Close()
	e = openTest(t, o)
	defer e.Close()
	if got, _ := e.EarliestOffset("dr_0"); got != 150 {
		t.Fatalf("after reopen Earliest %d; want 150", got)
	}
	if _, err := e.Read("dr_0", 149, 1, 0); !errors.Is(err, shard.ErrOffsetOutOfRange) {
		t.Fatalf("Read below the log start: %v; want ErrOffsetOutOfRange", err)
	}
	checkRange(t, e, "dr_0", 150, 400)
}

// A crash after TruncateTo but before the file is cut (a reader still held
// views) leaves stale records on disk past the cut: after a reopen they
// must never be returned, the new segment's records are.
func TestTruncateStaleSuffix(t *testing.T) {
	o := testOptions(t.TempDir())
	e := openTest(t, o)
	mustCreateShard(t, e, "st_0")
	appendBatches(t, e, "st_0", 300, 4, shard.DurabilitySync)
	held, err := e.Read("st_0", 100, 50, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release() // after the "crash": the old file is never cut
	const cut = 122
	if err := e.TruncateTo("st_0", cut); err != nil {
		t.Fatal(err)
	}
	var recs []shard.Record
	for off := int64(cut); off < cut+50; off++ {
		recs = append(recs, shard.Record{Timestamp: 1000 + off, Value: []byte("after-" + strconv.FormatInt(off, 10))})
	}
	if off, err := e.Append(t.Context(), "st_0", recs, shard.AppendOptions{Durability: shard.DurabilitySync}); err != nil || off != cut {
		t.Fatalf("Append after TruncateTo(%d) at %d, %v", cut, off, err)
	}
	e.Close()
	// The premise: some segment still holds records at or past the next
	// segment's base.
	logs := segFiles(t, o.Dir, logSuffix)
	stale := false
	for i := 0; i+1 < len(logs); i++ {
		next, _ := strconv.ParseInt(filepath.Base(logs[i+1])[:20], 10, 64)
		data, _ := os.ReadFile(logs[i])
		scanBatches(data, 0, -1, 1<<62, func(_ int64, h *BatchHeader) error {
			stale = stale || h.NextOffset() > next
			return nil
		})
	}
	if !stale {
		t.Fatal("no stale records on disk past the cut; the test proves nothing")
	}
	e = openTest(t, o)
	defer e.Close()
	res, err := e.Read("st_0", cut-5, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	for _, r := range res.Records {
		want := testValue(r.Offset)
		if r.Offset >= cut {
			want = []byte("after-" + strconv.FormatInt(r.Offset, 10))
		}
		if !bytes.Equal(r.Value, want) {
			t.Fatalf("offset %d after reopen: %.30q; want %.30q", r.Offset, r.Value, want)
		}
	}
	if n := len(res.Records); n != 55 {
		t.Fatalf("read %d records from %d; want 55", n, cut-5)
	}
}

// A segment rolls by age as well as by size.
func TestRollByAge(t *testing.T) {
	o := testOptions(t.TempDir())
	o.SegmentMaxAge = time.Nanosecond
	e := openTest(t, o)
	defer e.Close()
	mustCreateShard(t, e, "age_0")
	for range 5 {
		if _, err := e.Append(t.Context(), "age_0", []shard.Record{{Value: []byte("x")}}, shard.AppendOptions{Durability: shard.DurabilitySync}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(segFiles(t, o.Dir, logSuffix)); n != 5 {
		t.Fatalf("5 appends with SegmentMaxAge 1ns made %d segments; want 5", n)
	}
}

// Appends queued while TruncateTo runs either land before the cut (and are
// removed with the suffix) or fail with ErrTruncated; either way the log
// ends at the cut and the next append gets it.
func TestTruncateToWithQueuedAppends(t *testing.T) {
	o := testOptions(t.TempDir())
	o.ops = slowSyncOps{}
	e := openTest(t, o)
	defer e.Close()
	mustCreateShard(t, e, "tq_0")
	appendBatches(t, e, "tq_0", 20, 4, shard.DurabilitySync)
	errs := make(chan error, 8)
	for range 8 {
		e.AppendAsync("tq_0", []shard.Record{{Value: []byte("q")}}, shard.AppendOptions{Durability: shard.DurabilitySync},
			func(_ int64, err error) { errs <- err })
	}
	if err := e.TruncateTo("tq_0", 10); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		if err := <-errs; err != nil && !errors.Is(err, ErrTruncated) {
			t.Fatalf("append queued across TruncateTo: %v; want nil or ErrTruncated", err)
		}
	}
	if got, _ := e.LatestOffset("tq_0"); got != 10 {
		t.Fatalf("Latest %d after TruncateTo(10); want 10", got)
	}
	if off, err := e.Append(t.Context(), "tq_0", []shard.Record{{Value: []byte("next")}}, shard.AppendOptions{Durability: shard.DurabilitySync}); err != nil || off != 10 {
		t.Fatalf("append after TruncateTo(10) at %d, %v; want 10", off, err)
	}
	checkRange(t, e, "tq_0", 0, 10)
}

// TruncateTo cuts before an opaque batch but refuses an offset inside one
// (a Kafka batch cannot be split); the log is unchanged by the refusal.
func TestTruncateOpaque(t *testing.T) {
	e := openTest(t, testOptions(t.TempDir()))
	defer e.Close()
	mustCreateShard(t, e, "to_0")
	recs := []shard.Record{{Timestamp: 1, Value: []byte("a")}, {Timestamp: 2, Value: []byte("b")}, {Timestamp: 3, Value: []byte("c")}}
	for range 2 {
		if _, err := e.AppendBatch(t.Context(), "to_0", shard.Batch{Format: shard.BatchKafkaV2, Count: 3, Bytes: shardtest.EncodeBatch(recs)},
			shard.AppendOptions{Durability: shard.DurabilitySync}); err != nil {
			t.Fatal(err)
		}
	}
	for _, off := range []int64{4, 5} {
		if err := e.TruncateTo("to_0", off); !errors.Is(err, shard.ErrInvalidArgument) {
			t.Fatalf("TruncateTo(%d) inside a batch: %v; want ErrInvalidArgument", off, err)
		}
	}
	if got, _ := e.LatestOffset("to_0"); got != 6 {
		t.Fatalf("Latest after refused truncations = %d; want 6", got)
	}
	if err := e.TruncateTo("to_0", 3); err != nil {
		t.Fatalf("TruncateTo(3), a batch start: %v", err)
	}
	res, err := e.Read("to_0", 0, 10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if len(res.Records) != 3 || string(res.Records[2].Value) != "c" {
		t.Fatalf("after TruncateTo(3): %d records; want a, b, c", len(res.Records))
	}
}
