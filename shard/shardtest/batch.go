package shardtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"robustmq/shard"
)

// The suite's opaque batches stand in for Kafka record batches (format
// shard.BatchKafkaV2) in a simpler layout that keeps the one thing engines
// rely on, the leading base offset:
//
//	0  8  base offset, big endian (written by the engine)
//	8  4  record count, big endian
//	12 .. per record: timestamp int64 BE, key (uvarint len+1, 0 = nil),
//	      value (uvarint len+1, 0 = nil)
//
// Engines under the suite take Decoder in their options.

// EncodeBatch encodes recs (Timestamp, Key, Value) as a suite batch whose
// base-offset field holds junk the engine must overwrite.
func EncodeBatch(recs []shard.Record) []byte {
	b := binary.BigEndian.AppendUint64(nil, 0xDEADBEEFDEADBEEF)
	b = binary.BigEndian.AppendUint32(b, uint32(len(recs)))
	for i := range recs {
		b = binary.BigEndian.AppendUint64(b, uint64(recs[i].Timestamp))
		b = appendNullable(b, recs[i].Key)
		b = appendNullable(b, recs[i].Value)
	}
	return b
}

func appendNullable(b, v []byte) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

var errBatch = errors.New("shardtest: bad suite batch")

// Decoder decodes suite batches (see EncodeBatch): the shard.BatchDecoder
// the engines under the suite are given. Records alias batch.
func Decoder(dst []shard.Record, format shard.BatchFormat, batch []byte) ([]shard.Record, error) {
	if format != shard.BatchKafkaV2 || len(batch) < 12 {
		return dst, errBatch
	}
	n := binary.BigEndian.Uint32(batch[8:])
	b := batch[12:]
	nullable := func() ([]byte, bool) {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k)+1 {
			return nil, false
		}
		b = b[k:]
		if l == 0 {
			return nil, true
		}
		v := b[: l-1 : l-1]
		b = b[l-1:]
		return v, true
	}
	for range n {
		if len(b) < 8 {
			return dst, errBatch
		}
		r := shard.Record{Timestamp: int64(binary.BigEndian.Uint64(b))}
		b = b[8:]
		var ok1, ok2 bool
		r.Key, ok1 = nullable()
		r.Value, ok2 = nullable()
		if !ok1 || !ok2 {
			return dst, errBatch
		}
		dst = append(dst, r)
	}
	if len(b) != 0 {
		return dst, errBatch
	}
	return dst, nil
}

// withBase returns a copy of batch with its base-offset field set to base:
// what the engine must store.
func withBase(batch []byte, base int64) []byte {
	b := append([]byte(nil), batch...)
	shard.PutBatchBase(b, base)
	return b
}

// opaqueLog is what testOpaqueBatch appends and expects back.
type opaqueLog struct {
	all     []shard.Record // every record, opaque ones decoded
	batches []shard.Batch  // the opaque batches, bytes as stored
}

// appendOpaqueLog appends to shard name: records 0-1, an opaque batch 2-4,
// record 5 (key "k"), an opaque batch 6-7 (AppendBatchAsync, Sync).
func appendOpaqueLog(t *testing.T, e shard.Adapter, name string) opaqueLog {
	t.Helper()
	var lg opaqueLog
	rec := func(off int64, key string, ts int64) shard.Record {
		r := shard.Record{Offset: off, Timestamp: ts, Value: []byte("v" + string(rune('a'+off)))}
		if key != "" {
			r.Key = []byte(key)
		}
		return r
	}
	plain := []shard.Record{rec(0, "k", 100), rec(1, "", 101)}
	mustAppend(t, e, name, plain, shard.DurabilityNone)
	lg.all = append(lg.all, plain...)

	in := []shard.Record{rec(2, "k", 200), rec(3, "", 250), rec(4, "k", 230)}
	in[1].Value = nil
	b1 := EncodeBatch(in)
	keep := append([]byte(nil), b1...)
	first, err := e.AppendBatch(context.Background(), name, shard.Batch{Format: shard.BatchKafkaV2, Count: 3, MaxTimestamp: 250, Bytes: b1}, shard.AppendOptions{})
	if err != nil || first != 2 {
		t.Fatalf("AppendBatch(3 records) = %d, %v; want 2, nil", first, err)
	}
	if !bytes.Equal(b1, keep) {
		t.Fatalf("AppendBatch wrote into the caller's bytes: % x; want % x", b1[:8], keep[:8])
	}
	clear(b1) // the engine copied it
	lg.all = append(lg.all, in...)
	lg.batches = append(lg.batches, shard.Batch{Format: shard.BatchKafkaV2, Base: 2, Count: 3, MaxTimestamp: 250, Bytes: withBase(keep, 2)})

	r5 := []shard.Record{rec(5, "k", 300)}
	mustAppend(t, e, name, r5, shard.DurabilitySync)
	lg.all = append(lg.all, r5...)

	in = []shard.Record{rec(6, "", 400), rec(7, "k", 401)}
	b2 := EncodeBatch(in)
	got := make(chan error, 1)
	e.AppendBatchAsync(name, shard.Batch{Format: shard.BatchKafkaV2, Count: 2, MaxTimestamp: 401, Bytes: b2},
		shard.AppendOptions{Durability: shard.DurabilitySync}, func(first int64, err error) {
			if err == nil && first != 6 {
				err = fmt.Errorf("first offset %d, want 6", first)
			}
			got <- err
		})
	if err := <-got; err != nil {
		t.Fatalf("AppendBatchAsync(2 records): %v", err)
	}
	lg.all = append(lg.all, in...)
	lg.batches = append(lg.batches, shard.Batch{Format: shard.BatchKafkaV2, Base: 6, Count: 2, MaxTimestamp: 401, Bytes: withBase(b2, 6)})
	return lg
}

// batchSummary is a comparable view of a ReadBatches unit.
type batchSummary struct {
	format      shard.BatchFormat
	base        int64
	count, recs int
	bytes       string
}

func summarize(bs []shard.Batch) []batchSummary {
	var out []batchSummary
	for _, b := range bs {
		out = append(out, batchSummary{b.Format, b.Base, b.Count, len(b.Records), string(b.Bytes)})
	}
	return out
}

func wantBatches(t *testing.T, e shard.Adapter, name string, off int64, maxBytes int, lg *opaqueLog, wantNext int64, want ...shard.Batch) {
	t.Helper()
	res, err := e.ReadBatches(name, off, maxBytes)
	if err != nil {
		t.Fatalf("ReadBatches(%s, %d, %d): %v", name, off, maxBytes, err)
	}
	defer res.Release()
	for i := range want {
		if want[i].Format == shard.BatchRecords {
			want[i].Records = lg.all[want[i].Base : want[i].Base+int64(want[i].Count)]
		}
	}
	g, w := summarize(res.Batches), summarize(want)
	if len(g) != len(w) || res.Next != wantNext {
		t.Fatalf("ReadBatches(%s, %d, %d): %+v, Next %d; want %+v, Next %d", name, off, maxBytes, g, res.Next, w, wantNext)
	}
	for i := range w {
		if g[i] != w[i] {
			t.Fatalf("ReadBatches(%s, %d, %d): unit %d %+v; want %+v", name, off, maxBytes, i, g[i], w[i])
		}
		wantRecords(t, "ReadBatches run", res.Batches[i].Records, want[i].Records)
	}
}

func checkOpaqueLog(t *testing.T, e shard.Adapter, name string, lg *opaqueLog, earliest int64) {
	t.Helper()
	for page := 1; page <= 8; page++ {
		wantRecords(t, "Read over opaque batches", readAll(t, e, name, earliest, page), lg.all[earliest:])
	}
	// Read limits apply inside a batch: from offset 3, 2 records.
	res, err := e.Read(name, 3, 2, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	wantRecords(t, "Read(3, 2 records)", res.Records, lg.all[3:5])
	if res.Next != 5 {
		t.Fatalf("Read(3, 2 records): Next %d; want 5", res.Next)
	}
	res.Release()
	// ... and maxBytes: the first record always, then what fits.
	res, err = e.Read(name, 3, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	wantRecords(t, "Read(3, maxBytes 1)", res.Records, lg.all[3:4])
	res.Release()

	b1, b2 := lg.batches[0], lg.batches[1]
	run := func(base int64, n int) shard.Batch {
		return shard.Batch{Format: shard.BatchRecords, Base: base, Count: n}
	}
	if earliest == 0 {
		wantBatches(t, e, name, 0, 1<<20, lg, 8, run(0, 2), b1, run(5, 1), b2)
		wantBatches(t, e, name, 0, 1, lg, 1, run(0, 1))
		wantBatches(t, e, name, 1, len(b1.Bytes), lg, 2, run(1, 1))
	}
	wantBatches(t, e, name, 3, 1<<20, lg, 8, b1, run(5, 1), b2) // inside a batch: all of it
	wantBatches(t, e, name, 4, 1, lg, 5, b1)
	wantBatches(t, e, name, 4, len(b1.Bytes)+lg.all[5].Size(), lg, 6, b1, run(5, 1))
	wantBatches(t, e, name, 7, 1, lg, 8, b2)
	wantBatches(t, e, name, 8, 1<<20, lg, 8)

	// Keys inside opaque batches are not indexed.
	res, err = e.ReadByKey(name, []byte("k"), earliest, 10)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for _, r := range res.Records {
		offs = append(offs, r.Offset)
	}
	res.Release()
	want := []int64{5}
	if earliest == 0 {
		want = []int64{0, 5}
	}
	if !equalInts(offs, want) {
		t.Fatalf("ReadByKey(k): offsets %v; want %v (opaque batches are not indexed)", offs, want)
	}
	// Time lookups see every record of an opaque batch at its MaxTimestamp.
	for _, c := range []struct{ ts, want int64 }{{101, 1}, {102, 2}, {250, 2}, {251, 5}, {300, 5}, {301, 6}, {401, 6}, {402, 8}} {
		want := max(c.want, earliest)
		if got, err := e.OffsetForTimestamp(name, c.ts); err != nil || got != want {
			t.Fatalf("OffsetForTimestamp(%d) = %d, %v; want %d", c.ts, got, err, want)
		}
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testOpaqueBatch(t *testing.T, h *harness) {
	e, dir := h.open(t)
	mustCreate(t, e, cfg(e, "o_0"))
	lg := appendOpaqueLog(t, e, "o_0")
	wantOffsets(t, e, "o_0", 0, 8)
	checkOpaqueLog(t, e, "o_0", &lg, 0)

	for _, c := range []struct {
		what string
		b    shard.Batch
	}{
		{"records format", shard.Batch{Format: shard.BatchRecords, Count: 1, Bytes: make([]byte, 16)}},
		{"unknown format", shard.Batch{Format: 7, Count: 1, Bytes: make([]byte, 16)}},
		{"zero count", shard.Batch{Format: shard.BatchKafkaV2, Bytes: make([]byte, 16)}},
		{"short bytes", shard.Batch{Format: shard.BatchKafkaV2, Count: 1, Bytes: make([]byte, 7)}},
	} {
		_, err := e.AppendBatch(context.Background(), "o_0", c.b, shard.AppendOptions{})
		wantErr(t, "AppendBatch("+c.what+")", err, shard.ErrInvalidArgument)
	}
	_, err := e.AppendBatch(context.Background(), "nope_0", shard.Batch{Format: shard.BatchKafkaV2, Count: 1, Bytes: EncodeBatch(lg.all[:1])}, shard.AppendOptions{})
	wantErr(t, "AppendBatch to a missing shard", err, shard.ErrShardNotFound)
	wantOffsets(t, e, "o_0", 0, 8)

	// Deleting into a batch keeps the batch readable from the new start.
	if err := e.DeleteRecords("o_0", 3); err != nil {
		t.Fatal(err)
	}
	checkOpaqueLog(t, e, "o_0", &lg, 3)
	if !h.caps.Persistent {
		return
	}
	closeWithin(t, e)
	e = h.newEngine(t, dir)
	t.Cleanup(func() { closeWithin(t, e) })
	wantOffsets(t, e, "o_0", 3, 8)
	checkOpaqueLog(t, e, "o_0", &lg, 3)
}

// testTerm checks that the raft term of AppendOptions comes back on every
// record, opaque batches included, and survives a reopen.
func testTerm(t *testing.T, h *harness) {
	if !h.caps.Terms {
		t.Skip("engine does not keep raft terms")
	}
	e, dir := h.open(t)
	mustCreate(t, e, cfg(e, "t_0"))
	ctx := context.Background()
	for term := uint64(1); term <= 3; term++ {
		if _, err := e.Append(ctx, "t_0", gen(0, 2, 1), shard.AppendOptions{Term: term << 40}); err != nil {
			t.Fatal(err)
		}
		b := shard.Batch{Format: shard.BatchKafkaV2, Count: 2, Bytes: EncodeBatch(gen(0, 2, 1))}
		if _, err := e.AppendBatch(ctx, "t_0", b, shard.AppendOptions{Term: term << 40, Durability: shard.DurabilitySync}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(e shard.Adapter) {
		t.Helper()
		res, err := e.Read("t_0", 0, 100, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Release()
		if len(res.Records) != 12 {
			t.Fatalf("Read: %d records; want 12", len(res.Records))
		}
		for i, r := range res.Records {
			if want := uint64(i/4+1) << 40; r.Term != want {
				t.Fatalf("offset %d: term %d; want %d", r.Offset, r.Term, want)
			}
		}
	}
	check(e)
	if !h.caps.Persistent {
		return
	}
	closeWithin(t, e)
	e = h.newEngine(t, dir)
	t.Cleanup(func() { closeWithin(t, e) })
	check(e)
}
