package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"robustmq/codec/kafka/record"
	"robustmq/segment"
	"robustmq/shard"
	"robustmq/shard/offsetstore"
)

func consumeAll(t *testing.T, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(testCtx(t))
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll after %d records: %v", len(out), err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// TestSegmentRestart: acks=all onto the segment engine, then a new router
// and server over the same directories find the topic and serve every
// record at its offset.
func TestSegmentRestart(t *testing.T) {
	dir, odir := t.TempDir(), t.TempDir()
	open := func() (*shard.Router, *offsetstore.Store) {
		e, err := segment.Open(segment.Options{Dir: dir, Workers: 2, SegmentBytes: 64 << 10, PreallocBytes: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		r, err := shard.NewRouter([]shard.Engine{e}, shard.RouterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o, err := offsetstore.Open(odir, offsetstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return r, o
	}
	seg := func(o *Options) { o.Shard = shard.ShardConfig{Engine: shard.EngineSegment} }
	const n = 500
	{
		r, o := open()
		b := startOn(t, r, o, seg)
		createTopic(t, b.client(t), "dur", 2)
		p := b.client(t, kgo.DefaultProduceTopic("dur"), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.ProducerBatchCompression(kgo.ZstdCompression()))
		for i := range n {
			p.Produce(testCtx(t), &kgo.Record{Value: []byte(fmt.Sprintf("d%04d", i))}, nil)
		}
		if err := p.Flush(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		o.Close()
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	r, o := open()
	b := startOn(t, r, o, seg)
	c := b.client(t, kgo.ConsumeTopics("dur"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	recs := consumeAll(t, c, n)
	next := map[int32]int64{}
	seen := map[string]bool{}
	for _, rec := range recs {
		if rec.Offset != next[rec.Partition] {
			t.Fatalf("partition %d: offset %d; want %d", rec.Partition, rec.Offset, next[rec.Partition])
		}
		next[rec.Partition]++
		seen[string(rec.Value)] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct records after restart; want %d", len(seen), n)
	}
}

// TestCrossProtocolRecords: plain shard records (as MQTT writes them)
// between Kafka batches are served as batches built at fetch time, and a
// fetch from inside a stored batch starts at that batch.
func TestCrossProtocolRecords(t *testing.T) {
	b := startBroker(t, nil)
	cl := b.client(t, kgo.DefaultProduceTopic("x"), kgo.DisableIdempotentWrite(), kgo.ProducerLinger(50*time.Millisecond))
	createTopic(t, cl, "x", 1)
	for i := range 3 {
		cl.Produce(testCtx(t), &kgo.Record{Value: []byte(fmt.Sprint("k", i))}, nil)
	}
	if err := cl.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	name := shard.Name("x", 0)
	plain := []shard.Record{{Key: []byte("m"), Value: []byte("mqtt0"), Headers: []shard.Header{{Name: []byte("h"), Value: []byte("v")}}},
		{Value: []byte("mqtt1")}}
	if _, err := b.r.Append(testCtx(t), name, plain, shard.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("k3")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c := b.client(t, kgo.ConsumeTopics("x"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var got []string
	for _, r := range consumeAll(t, c, 6) {
		got = append(got, fmt.Sprintf("%d:%s", r.Offset, r.Value))
	}
	if fmt.Sprint(got) != "[0:k0 1:k1 2:k2 3:mqtt0 4:mqtt1 5:k3]" {
		t.Fatalf("got %v", got)
	}
	// From offset 1 (inside the first batch when the client batched k0-k2).
	c2 := b.client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"x": {0: kgo.NewOffset().At(1)}}))
	if r := consumeAll(t, c2, 1)[0]; r.Offset != 1 || string(r.Value) != "k1" {
		t.Fatalf("from offset 1: got %d:%s; want 1:k1", r.Offset, r.Value)
	}
}

// TestIdempotence sends raw idempotent batches: a retry is acknowledged
// with the first offset and not stored twice, a gap is refused.
func TestIdempotence(t *testing.T) {
	b := startBroker(t, nil)
	cl := b.client(t)
	createTopic(t, cl, "idem", 1)
	pid := must(kmsg.NewPtrInitProducerIDRequest().RequestWith(testCtx(t), cl))
	batch := func(seq int32, n int, attrs ...int16) []byte {
		return rawBatch(t, n, 1, pid.ProducerID, pid.ProducerEpoch, seq, attrs...)
	}
	produce := func(raw []byte) (int16, int64) { return rawProduce(t, cl, "idem", raw) }
	f := func(seq int32, n int, wantCode int16, wantOffset int64) {
		t.Helper()
		code, off := produce(batch(seq, n))
		if code != wantCode || (code == 0 && off != wantOffset) {
			t.Fatalf("seq %d x%d: code %d offset %d; want code %d offset %d", seq, n, code, off, wantCode, wantOffset)
		}
	}
	f(0, 3, 0, 0)
	f(3, 2, 0, 3)
	f(3, 2, 0, 3)  // retry: same answer
	f(0, 3, 0, 0)  // older retry still remembered
	f(9, 1, 45, 0) // OUT_OF_ORDER_SEQUENCE_NUMBER
	f(5, 1, 0, 5)
	if hw, _ := b.r.LatestOffset(shard.Name("idem", 0)); hw != 6 {
		t.Fatalf("high-water mark %d; want 6 (retries not stored)", hw)
	}
	// Transactions are refused with the documented code.
	if code, _ := produce(batch(6, 1, record.AttrTransactional)); code != int16(codeTxnRefused) {
		t.Fatalf("transactional batch: code %d; want %d", code, codeTxnRefused)
	}
	raw := batch(6, 1)
	raw[len(raw)-1] ^= 1 // the CRC no longer matches
	if code, _ := produce(raw); code != 2 {
		t.Fatalf("corrupted batch: code %d; want CORRUPT_MESSAGE", code)
	}
	tx := kmsg.NewPtrInitProducerIDRequest()
	tx.TransactionalID = kmsg.StringPtr("tx")
	if r := must(tx.RequestWith(testCtx(t), cl)); r.ErrorCode != int16(codeTxnRefused) {
		t.Fatalf("transactional InitProducerId: code %d; want %d", r.ErrorCode, codeTxnRefused)
	}
}

// rawBatch builds a v2 batch of n records of size bytes.
func rawBatch(t *testing.T, n, size int, pid int64, epoch int16, seq int32, attrs ...int16) []byte {
	t.Helper()
	var body []byte
	for i := range n {
		body = record.AppendRecord(body, &record.Record{OffsetDelta: int32(i), Value: make([]byte, size)})
	}
	var a int16
	for _, x := range attrs {
		a |= x
	}
	raw, err := record.AppendBatch(nil, record.Header{Attributes: a, LastOffsetDelta: int32(n - 1), FirstTimestamp: 1,
		MaxTimestamp: 1, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq}, body, int32(n), nil)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// rawProduce sends raw to partition 0 of topic with acks=all and returns
// the partition's code and base offset. The topic goes by name and id
// (Metadata's), so it works at every Produce version franz-go picks (v13
// names topics by id).
func rawProduce(t *testing.T, cl *kgo.Client, topic string, raw []byte) (int16, int64) {
	t.Helper()
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	meta.Topics = append(meta.Topics, mt)
	id := must(meta.RequestWith(testCtx(t), cl)).Topics[0].TopicID
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	req.Topics = []kmsg.ProduceRequestTopic{{Topic: topic, TopicID: id,
		Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: raw}}}}
	p := must(req.RequestWith(testCtx(t), cl)).Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}

// setTopicConfig sets one config of topic with IncrementalAlterConfigs.
func setTopicConfig(t *testing.T, cl *kgo.Client, topic, name, value string) {
	t.Helper()
	inc := kmsg.NewPtrIncrementalAlterConfigsRequest()
	inc.Resources = []kmsg.IncrementalAlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: topic,
		Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: name, Value: kmsg.StringPtr(value)}}}}
	if r := must(inc.RequestWith(testCtx(t), cl)); r.Resources[0].ErrorCode != 0 {
		t.Fatalf("alter %s %s=%s: code %d", topic, name, value, r.Resources[0].ErrorCode)
	}
}

// TestTopicMaxMessageBytes: a topic's max.message.bytes bounds its batches.
func TestTopicMaxMessageBytes(t *testing.T) {
	b := startBroker(t, nil)
	cl := b.client(t)
	createTopic(t, cl, "small", 1)
	setTopicConfig(t, cl, "small", "max.message.bytes", "500")
	f := func(size int, want int16) {
		t.Helper()
		if code, _ := rawProduce(t, cl, "small", rawBatch(t, 1, size, -1, -1, -1)); code != want {
			t.Errorf("batch with a %d-byte record: code %d; want %d", size, code, want)
		}
	}
	f(100, 0)
	f(1000, 10) // MESSAGE_TOO_LARGE
}
