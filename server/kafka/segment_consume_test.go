package kafka

import (
	"bytes"
	"encoding/binary"
	"os"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"robustmq/codec/kafka/record"
	"robustmq/netpoll"
	"robustmq/segment"
	"robustmq/shard"
	"robustmq/shard/memory"
	"robustmq/shard/offsetstore"
)

// segmentBroker is a Server over a router whose default engine is the
// file-segment engine, as the node builds it, listening with lc (see
// startListening).
func segmentBroker(t *testing.T, so segment.Options, lc netpoll.ListenerConfig) *testBroker {
	t.Helper()
	so.Dir = t.TempDir()
	e, err := segment.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	r, err := shard.NewRouter([]shard.Engine{e}, shard.RouterOptions{DefaultEngine: shard.EngineSegment})
	if err != nil {
		t.Fatal(err)
	}
	offs, err := offsetstore.Open(t.TempDir(), offsetstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return startListening(t, r, offs, func(o *Options) { o.Shard = shard.ShardConfig{Engine: shard.EngineSegment} }, lc)
}

// produceConsume produces n records of size bytes to a topic of parts
// partitions with acks=all, then consumes from the earliest offset and
// checks every record arrives once.
func produceConsume(t *testing.T, b *testBroker, parts int32, n, size int) {
	t.Helper()
	createTopic(t, b.client(t), "big", parts)
	p := b.client(t, kgo.DefaultProduceTopic("big"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(1<<16), kgo.ProducerBatchCompression(kgo.NoCompression())) // as bench/kafka
	val := bytes.Repeat([]byte{'v'}, size)
	ctx := testCtx(t)
	for i := range n {
		v := append(strconv.AppendInt(nil, int64(i), 10), ':')
		p.Produce(ctx, &kgo.Record{Value: append(v, val[len(v):]...)}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Error(err)
			}
		})
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c := b.client(t, kgo.ConsumeTopics("big"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := make([]bool, n)
	got := 0
	for got < n && ctx.Err() == nil {
		fs := c.PollFetches(ctx)
		fs.EachError(func(tp string, pt int32, err error) { t.Errorf("fetch %s/%d: %v", tp, pt, err) })
		fs.EachRecord(func(r *kgo.Record) {
			i, err := strconv.Atoi(string(r.Value[:bytes.IndexByte(r.Value, ':')]))
			if err != nil || seen[i] {
				t.Fatalf("record %q at %d/%d: duplicate or bad", r.Value[:16], r.Partition, r.Offset)
			}
			seen[i] = true
			got++
		})
	}
	if got != n {
		t.Fatalf("consumed %d of %d records", got, n)
	}
}

// TestFetchFitsOutboundLimit: four partitions whose data passes the
// connection's MaxOutboundBytes in all are consumed with franz-go's
// defaults (1 MiB a partition, 50 MiB a response). Fetch once answered
// all four partitions in one response over the limit, netpoll closed the
// connection as a slow consumer, and the client retried the same fetch
// forever: the node's 4 MiB default with 4 x 50 k x 1 KiB records read 0
// records.
func TestFetchFitsOutboundLimit(t *testing.T) {
	b := segmentBroker(t, segment.Options{Workers: 2, SegmentBytes: 1 << 20, PreallocBytes: 64 << 10},
		netpoll.ListenerConfig{MaxOutboundBytes: 3 << 19, SocketSendBytes: 32 << 10}) // over one 1 MB batch
	produceConsume(t, b, 4, 4000, 1024)
}

// TestFetchBigSegmentTopic is the load-test report as it came: 200 k x
// 1 KiB records to four partitions with acks=all on the segment engine
// and the node's default limits, then one consumer from the earliest
// offset. Long: set KAFKA_BIG=1.
func TestFetchBigSegmentTopic(t *testing.T) {
	if os.Getenv("KAFKA_BIG") == "" {
		t.Skip("set KAFKA_BIG=1 to run")
	}
	b := segmentBroker(t, segment.Options{Workers: 2}, netpoll.ListenerConfig{})
	produceConsume(t, b, 4, 200_000, 1024)
}

// TestAppendBatchesLimit: a partition read stops before a whole batch that
// would pass its byte limit (the fetch response must fit the connection's
// output limit), except the first batch when progress asks for it; for
// opaque batches (shard "p") and the old head/continuation layout ("l")
// alike.
func TestAppendBatchesLimit(t *testing.T) {
	r, offs := newStorage(t, memory.Options{})
	defer offs.Close()
	defer r.Close()
	for _, name := range []string{"p", "l"} {
		if err := r.CreateShard(shard.ShardConfig{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	const batches, perBatch = 3, 10
	size := 0 // of one batch
	for k := range batches {
		var body []byte
		for i := range perBatch {
			body = record.AppendRecord(body, &record.Record{OffsetDelta: int32(i), Value: bytes.Repeat([]byte{'x'}, 100)})
		}
		raw, err := record.AppendBatch(nil, record.Header{LastOffsetDelta: perBatch - 1, ProducerID: -1,
			ProducerEpoch: -1, BaseSequence: -1}, body, perBatch, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := record.Next(raw)
		if err != nil {
			t.Fatal(err)
		}
		size = len(raw)
		if _, err := r.AppendBatch(testCtx(t), "p", shard.Batch{Format: shard.BatchKafkaV2, Count: perBatch, Bytes: raw},
			shard.AppendOptions{}); err != nil {
			t.Fatalf("batch %d: %v", k, err)
		}
		if _, err := r.Append(testCtx(t), "l", legacyRecords(&b), shard.AppendOptions{}); err != nil {
			t.Fatalf("legacy batch %d: %v", k, err)
		}
	}
	f := func(name string, maxBytes int, progress bool, want int) {
		t.Helper()
		var fr fetchRead
		n, rb := fr.read(r, name, 0, maxBytes, progress)
		out := bytes.Join(fr.bytesOf(nil, 0, len(fr.pieces)), nil)
		fr.release()
		if rb.err != nil || rb.hw != batches*perBatch || n != len(out) {
			t.Fatalf("%s maxBytes %d: hw %d err %v, size %d of %d bytes", name, maxBytes, rb.hw, rb.err, n, len(out))
		}
		got := 0
		for rest := out; len(rest) > 0; got++ {
			b, next, err := record.Next(rest)
			if err != nil || b.BaseOffset != int64(got*perBatch) {
				t.Fatalf("%s maxBytes %d: batch %d at %d: %v", name, maxBytes, got, b.BaseOffset, err)
			}
			rest = next
		}
		if got != want || (got > 1 && len(out) > maxBytes) {
			t.Errorf("%s maxBytes %d progress %v: %d batches in %d bytes, want %d", name, maxBytes, progress, got, len(out), want)
		}
	}
	for _, name := range []string{"p", "l"} {
		f(name, size/2, false, 0)
		f(name, size/2, true, 1)
		f(name, size, false, 1)
		f(name, size+size/2, false, 1) // was 2: the second Read always returned its first batch
		f(name, 2*size, false, 2)
		f(name, 3*size, true, 3)
		f(name, 1<<20, false, 3)
	}
}

// legacyRecords is how Produce stored a batch before opaque batches: a
// head record holding the batch and one continuation per further offset
// (see "Storage" in doc.go). Fetch still serves shards written so.
func legacyRecords(b *record.Batch) []shard.Record {
	n := int(b.LastOffsetDelta) + 1
	recs := []shard.Record{{Timestamp: b.FirstTimestamp, Value: b.Raw, Headers: []shard.Header{{Name: hdrBatch}}}}
	for i := 1; i < n; i++ {
		recs = append(recs, shard.Record{Timestamp: b.MaxTimestamp,
			Headers: []shard.Header{{Name: hdrCont, Value: binary.BigEndian.AppendUint32(nil, uint32(i))}}})
	}
	return recs
}
