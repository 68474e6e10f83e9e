package kafka

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func createTopic(t *testing.T, cl *kgo.Client, name string, partitions int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("CreateTopics %s: code %d", name, code)
	}
}

// TestProduceConsumeCodecs produces with every compression codec and each
// acks setting, then consumes everything back in order.
func TestProduceConsumeCodecs(t *testing.T) {
	b := startBroker(t, nil)
	codecs := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}
	acks := map[string]kgo.Acks{"all": kgo.AllISRAcks(), "leader": kgo.LeaderAck(), "none": kgo.NoAck()}
	for cname, codec := range codecs {
		for aname, ack := range acks {
			t.Run(cname+"/"+aname, func(t *testing.T) {
				topic := "t-" + cname + "-" + aname
				admin := b.client(t)
				createTopic(t, admin, topic, 3)
				popts := []kgo.Opt{kgo.ProducerBatchCompression(codec), kgo.RequiredAcks(ack), kgo.DefaultProduceTopic(topic)}
				if aname != "all" {
					popts = append(popts, kgo.DisableIdempotentWrite())
				}
				p := b.client(t, popts...)
				const n = 300
				for i := range n {
					p.Produce(testCtx(t), &kgo.Record{Key: []byte(fmt.Sprint(i % 7)), Value: []byte(fmt.Sprintf("v%04d", i)),
						Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}}, nil)
				}
				if err := p.Flush(testCtx(t)); err != nil {
					t.Fatal(err)
				}
				c := b.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
					kgo.FetchMaxWait(200*time.Millisecond))
				got := map[int32][]int64{}
				seen := map[string]bool{}
				for len(seen) < n {
					fs := c.PollFetches(testCtx(t))
					if err := fs.Err0(); err != nil {
						t.Fatalf("poll: %v", err)
					}
					fs.EachRecord(func(r *kgo.Record) {
						if seen[string(r.Value)] {
							t.Errorf("duplicate %s", r.Value)
						}
						seen[string(r.Value)] = true
						got[r.Partition] = append(got[r.Partition], r.Offset)
						if len(r.Headers) != 1 || r.Headers[0].Key != "h" {
							t.Errorf("headers %v", r.Headers)
						}
					})
				}
				for p, offs := range got {
					for i, o := range offs {
						if o != int64(i) {
							t.Fatalf("partition %d: offset #%d is %d; want dense offsets from 0", p, i, o)
						}
					}
				}
			})
		}
	}
}

// TestLongPollWakesOnAppend parks a fetch with a long max wait and checks
// a produce wakes it well before the wait ends.
func TestLongPollWakesOnAppend(t *testing.T) {
	b := startBroker(t, nil)
	admin := b.client(t)
	createTopic(t, admin, "lp", 1)
	c := b.client(t, kgo.ConsumeTopics("lp"), kgo.FetchMaxWait(20*time.Second))
	done := make(chan *kgo.Record, 1)
	go func() {
		fs := c.PollFetches(testCtx(t))
		fs.EachRecord(func(r *kgo.Record) { done <- r })
		close(done)
	}()
	// Produce until the consumer (which starts at the end) sees a record.
	p := b.client(t, kgo.DefaultProduceTopic("lp"))
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := p.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("wake")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-done:
			if r == nil || string(r.Value) != "wake" {
				t.Fatalf("got %v; want the record 'wake'", r)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("parked fetch not woken by appends")
		}
	}
}
