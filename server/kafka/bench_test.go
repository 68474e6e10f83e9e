package kafka

import (
	"strconv"
	"testing"

	"robustmq/codec/kafka"
	"robustmq/codec/kafka/record"
	"robustmq/netpoll"
	"robustmq/shard/memory"
)

// benchServer is a Server over memory storage with one connection on a
// fakeConn; roundTrip feeds one frame and runs the connection's queued
// work until an answer was written.
type benchServer struct {
	s  *Server
	h  netpoll.Handler
	fc *fakeConn
}

func newBenchServer(b *testing.B) *benchServer {
	r, offs := newStorage(b, memory.Options{MaxShardBytes: 8 << 30, MaxBytes: 8 << 30})
	s, err := New(Options{Router: r, Offsets: offs, Advertised: "127.0.0.1:9092", AutoCreate: true, MaxMessageBytes: 8 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Shutdown(nil); offs.Close(); r.Close() })
	if _, err := s.topics.create("bench", 1, nil); err != nil {
		b.Fatal(err)
	}
	bs := &benchServer{s: s, h: s.Handler(), fc: &fakeConn{}}
	if err := bs.h.OnOpen(bs.fc); err != nil {
		b.Fatal(err)
	}
	return bs
}

func (bs *benchServer) roundTrip(b *testing.B, frame []byte) {
	bs.fc.out = bs.fc.out[:0]
	if _, err := bs.h.OnData(bs.fc, frame); err != nil {
		b.Fatal(err)
	}
	for len(bs.fc.out) == 0 {
		for _, fn := range bs.fc.take() {
			fn(bs.fc)
		}
	}
}

// produceFrame is a Produce v9 (acks=1) of one batch of n records of size
// bytes each.
func produceFrame(n, size int) []byte {
	var body []byte
	val := make([]byte, size)
	for i := range n {
		body = record.AppendRecord(body, &record.Record{OffsetDelta: int32(i), Value: val})
	}
	raw, _ := record.AppendBatch(nil, record.Header{LastOffsetDelta: int32(n - 1), ProducerID: -1, ProducerEpoch: -1,
		BaseSequence: -1}, body, int32(n), nil)
	return kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: 9, CorrelationID: 1}, &kafka.ProduceRequest{Acks: 1,
		TimeoutMs: 1000, Topics: []kafka.ProduceRequestTopic{{Name: []byte("bench"),
			Partitions: []kafka.ProduceRequestTopicPartition{{Records: raw}}}}})
}

// BenchmarkProduce: one Produce request through the server onto the
// memory engine, against copying the same bytes (baseline).
func BenchmarkProduce(b *testing.B) {
	for _, n := range []int{1, 100} {
		frame := produceFrame(n, 100)
		name := "records=" + strconv.Itoa(n)
		b.Run(name+"/copy", func(b *testing.B) {
			dst := make([]byte, len(frame))
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				copy(dst, frame)
			}
		})
		b.Run(name+"/server", func(b *testing.B) {
			bs := newBenchServer(b)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				bs.roundTrip(b, frame)
			}
		})
	}
}

// BenchmarkFetch: a Fetch v12 of about 64 KiB of stored batches (100
// records of 100 bytes each), against copying the stored bytes (baseline).
func BenchmarkFetch(b *testing.B) {
	bs := newBenchServer(b)
	produce := produceFrame(100, 100)
	for range 64 {
		bs.roundTrip(b, produce)
	}
	fetch := kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: 12, CorrelationID: 2}, &kafka.FetchRequest{
		ReplicaID: -1, MaxBytes: 64 << 10, SessionEpoch: -1, Topics: []kafka.FetchRequestTopic{{Name: []byte("bench"),
			Partitions: []kafka.FetchRequestTopicPartition{{FetchOffset: 0, MaxBytes: 64 << 10}}}}})
	bs.roundTrip(b, fetch)
	size := len(bs.fc.out)
	b.Run("copy", func(b *testing.B) {
		src, dst := make([]byte, size), make([]byte, size)
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			copy(dst, src)
		}
	})
	b.Run("server", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			bs.roundTrip(b, fetch)
		}
	})
}
