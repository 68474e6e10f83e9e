package engine

import (
	"context"
	"testing"

	"robustmq/codec/kafka/record"
	"robustmq/shard"
)

// kafkaBatch encodes values as one Kafka v2 batch (keys k0.., one header
// on the first record) with compression c.
func kafkaBatch(t *testing.T, c record.Compression, ts int64, values ...string) []byte {
	t.Helper()
	var recs []byte
	for i, v := range values {
		r := record.Record{TimestampDelta: int64(i), OffsetDelta: int32(i), Key: []byte{'k', byte('0' + i)}, Value: []byte(v)}
		if i == 0 {
			r.NumHeaders, r.Headers = 1, record.AppendHeader(nil, []byte("h"), nil)
		}
		recs = record.AppendRecord(recs, &r)
	}
	h := record.Header{BaseOffset: 99, Attributes: int16(c), LastOffsetDelta: int32(len(values) - 1),
		FirstTimestamp: ts, MaxTimestamp: ts + int64(len(values)) - 1, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	b, err := record.AppendBatch(nil, h, recs, int32(len(values)), new(record.Compressor))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKafkaBatchAsRecords: a Kafka batch stored whole by AppendBatch on the node's segment engine
// reads back through Read as its records (DecodeKafka), compressed or not, and through ReadBatches
// as the stored bytes with the assigned base offset.
func TestKafkaBatchAsRecords(t *testing.T) {
	env, _ := newEnv(t, t.TempDir())
	c := start(t, build(t, env))
	defer stop(t, c)
	h, _ := env.Storage.Lookup()
	if err := h.Router.CreateShard(shard.ShardConfig{Name: "k_0"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := h.Router.Append(ctx, "k_0", []shard.Record{{Value: []byte("mqtt")}}, shard.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	plain := kafkaBatch(t, record.None, 1000, "a", "b")
	zipped := kafkaBatch(t, record.Snappy, 2000, "c", "d", "e")
	for i, b := range [][]byte{plain, zipped} {
		n := 2 + i
		first, err := h.Router.AppendBatch(ctx, "k_0", shard.Batch{Format: shard.BatchKafkaV2, Count: n, Bytes: b}, shard.AppendOptions{})
		if err != nil || first != int64(1+2*i) {
			t.Fatalf("AppendBatch %d = %d, %v; want %d", i, first, err, 1+2*i)
		}
	}
	res, err := h.Router.Read("k_0", 0, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		off, ts  int64
		key, val string
		headers  int
	}
	want := []rec{{0, -1, "", "mqtt", 0}, {1, 1000, "k0", "a", 1}, {2, 1001, "k1", "b", 0},
		{3, 2000, "k0", "c", 1}, {4, 2001, "k1", "d", 0}, {5, 2002, "k2", "e", 0}}
	if len(res.Records) != len(want) {
		t.Fatalf("Read: %d records; want %d", len(res.Records), len(want))
	}
	for i, w := range want {
		r := res.Records[i]
		got := rec{r.Offset, r.Timestamp, string(r.Key), string(r.Value), len(r.Headers)}
		if w.ts < 0 {
			got.ts = -1 // clock-stamped
		}
		if got != w {
			t.Fatalf("record %d: %+v; want %+v", i, got, w)
		}
	}
	res.Release()

	res, err = h.Router.ReadBatches("k_0", 4, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if len(res.Batches) != 1 || res.Batches[0].Base != 3 || res.Next != 6 {
		t.Fatalf("ReadBatches(4): %d units, Next %d; want the batch at 3, Next 6", len(res.Batches), res.Next)
	}
	b, _, err := record.Next(res.Batches[0].Bytes)
	if err != nil || b.BaseOffset != 3 || b.NumRecords != 3 {
		t.Fatalf("stored batch: base %d, %d records, %v; want base 3, 3 records, a valid batch", b.BaseOffset, b.NumRecords, err)
	}
}

func TestDecodeKafkaRefuses(t *testing.T) {
	good := kafkaBatch(t, record.None, 1, "x")
	f := func(what string, format shard.BatchFormat, b []byte) {
		t.Helper()
		if _, err := DecodeKafka(nil, format, b); err == nil {
			t.Fatalf("DecodeKafka(%s) = nil error", what)
		}
	}
	f("records format", shard.BatchRecords, good)
	f("truncated", shard.BatchKafkaV2, good[:len(good)-1])
	f("trailing bytes", shard.BatchKafkaV2, append(append([]byte(nil), good...), 0))
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 1
	f("bad crc", shard.BatchKafkaV2, bad)
}
