package kafka

import (
	"log/slog"
	"strconv"
	"testing"
	"time"

	"robustmq/codec/kafka"
	"robustmq/codec/kafka/record"
	"robustmq/netpoll"
	"robustmq/segment"
	"robustmq/shard"
	"robustmq/shard/memory"
)

// benchServer is a Server over memory or segment storage with one
// connection on a fakeConn; roundTrip feeds one frame and runs the
// connection's queued work until an answer was written.
type benchServer struct {
	s  *Server
	h  netpoll.Handler
	fc *fakeConn
}

// newBenchServer serves a topic "bench" of one partition on the memory
// engine, or with onSegment on the file-segment engine (the node's
// default), in a temporary directory.
func newBenchServer(b *testing.B, onSegment bool) *benchServer {
	r, offs := newStorage(b, memory.Options{MaxShardBytes: 8 << 30, MaxBytes: 8 << 30})
	o := Options{Router: r, Offsets: offs, Advertised: "127.0.0.1:9092", AutoCreate: true, MaxMessageBytes: 8 << 20}
	if onSegment {
		e, err := segment.Open(segment.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		sr, err := shard.NewRouter([]shard.Engine{e}, shard.RouterOptions{DefaultEngine: shard.EngineSegment})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { sr.Close() })
		o.Router, o.Shard = sr, shard.ShardConfig{Engine: shard.EngineSegment}
	}
	s, err := New(o)
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
			bs := newBenchServer(b, false)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				bs.roundTrip(b, frame)
			}
		})
	}
}

// BenchmarkFetch: a Fetch v12 of about 64 KiB of stored batches (100
// records of 100 bytes each) from the memory and the segment engine,
// against copying the stored bytes (baseline); x_copy is the server's
// time over the copy's.
func BenchmarkFetch(b *testing.B) {
	fetch := kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: 12, CorrelationID: 2}, &kafka.FetchRequest{
		ReplicaID: -1, MaxBytes: 64 << 10, SessionEpoch: -1, Topics: []kafka.FetchRequestTopic{{Name: []byte("bench"),
			Partitions: []kafka.FetchRequestTopicPartition{{FetchOffset: 0, MaxBytes: 64 << 10}}}}})
	servers := map[string]*benchServer{"server": newBenchServer(b, false), "server-segment": newBenchServer(b, true)}
	produce := produceFrame(100, 100)
	for _, bs := range servers {
		for range 64 {
			bs.roundTrip(b, produce)
		}
		bs.roundTrip(b, fetch)
	}
	size := len(servers["server"].fc.out)
	var copyNs float64
	b.Run("copy", func(b *testing.B) {
		src, dst := make([]byte, size), make([]byte, size)
		b.SetBytes(int64(size))
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			copy(dst, src)
		}
		copyNs = float64(time.Since(start).Nanoseconds()) / float64(b.N)
	})
	for _, name := range []string{"server", "server-segment"} {
		bs := servers[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				bs.roundTrip(b, fetch)
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N)/copyNs, "x_copy")
		})
	}
}
