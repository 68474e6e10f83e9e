package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"robustmq/codec/kafka"
)

// A connection reuses its last answered fetch plan (conn.plan): fetches of
// different shapes in a row on one connection must each answer exactly
// what they asked, with nothing left over from the one before.
func TestFetchPlanReuse(t *testing.T) {
	b := startBroker(t, nil)
	if _, err := b.s.topics.create("a", 2, nil); err != nil {
		t.Fatal(err)
	}
	p := b.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for range 3 {
		if err := p.ProduceSync(testCtx(t), &kgo.Record{Topic: "a", Partition: 1, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	type want struct {
		code    kafka.ErrorCode
		hw      int64
		records bool
	}
	c := dial(t, b.addr)
	const version = 12
	f := func(corr int32, topic string, parts []int32, wants []want) {
		t.Helper()
		req := kafka.FetchRequest{ReplicaID: -1, MaxBytes: 1 << 20, SessionEpoch: -1,
			Topics: []kafka.FetchRequestTopic{{Name: []byte(topic)}}}
		for _, i := range parts {
			req.Topics[0].Partitions = append(req.Topics[0].Partitions,
				kafka.FetchRequestTopicPartition{Index: i, MaxBytes: 1 << 20, CurrentLeaderEpoch: -1, LastFetchedEpoch: -1, LogStartOffset: -1})
		}
		if _, err := c.Write(kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: version, CorrelationID: corr,
			ClientID: []byte("raw")}, &req)); err != nil {
			t.Fatal(err)
		}
		frame, err := readFrame(t, c)
		if err != nil {
			t.Fatalf("fetch %d: %v", corr, err)
		}
		got, body, err := kafka.ReadResponseHeader(frame, 1, version)
		if err != nil || got != corr {
			t.Fatalf("fetch %d: answer corr %d, %v", corr, got, err)
		}
		var resp kafka.FetchResponse
		if err := resp.ReadFrom(body, version); err != nil {
			t.Fatalf("fetch %d: %v", corr, err)
		}
		if len(resp.Topics) != 1 || string(resp.Topics[0].Name) != topic || len(resp.Topics[0].Partitions) != len(wants) {
			t.Fatalf("fetch %d of %s %v: answer %+v; want that topic with %d partitions", corr, topic, parts, resp.Topics, len(wants))
		}
		for i, w := range wants {
			op := resp.Topics[0].Partitions[i]
			if op.Index != parts[i] || kafka.ErrorCode(op.ErrorCode) != w.code || op.HighWatermark != w.hw || (len(op.Records) > 0) != w.records {
				t.Errorf("fetch %d of %s/%d: index %d code %v hw %d %d record bytes; want code %v hw %d records %v",
					corr, topic, parts[i], op.Index, kafka.ErrorCode(op.ErrorCode), op.HighWatermark, len(op.Records), w.code, w.hw, w.records)
			}
		}
	}
	unknown := want{code: kafka.UnknownTopicOrPartition, hw: -1}
	f(1, "a", []int32{0, 1}, []want{{hw: 0}, {hw: 3, records: true}})
	f(2, "a", []int32{7}, []want{unknown})
	f(3, "nope", []int32{1, 0, 2}, []want{unknown, unknown, unknown})
	f(4, "a", []int32{1}, []want{{hw: 3, records: true}})
	f(5, "a", []int32{1, 0}, []want{{hw: 3, records: true}, {hw: 0}})
}
