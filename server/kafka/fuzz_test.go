package kafka

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"robustmq/codec/kafka"
	"robustmq/netpoll"
	"robustmq/shard/memory"
)

// fakeConn is a netpoll.Conn that records writes and runs Do functions
// when the test drains them.
type fakeConn struct {
	mu     sync.Mutex // guards tasks: Do comes from any goroutine
	ctx    any
	out    []byte
	tasks  []func(netpoll.Conn)
	closed bool
}

func (f *fakeConn) ID() uint64                   { return 1 }
func (f *fakeConn) LocalAddr() net.Addr          { return &net.TCPAddr{} }
func (f *fakeConn) RemoteAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (f *fakeConn) Listener() string             { return "fuzz" }
func (f *fakeConn) Transport() netpoll.Transport { return netpoll.TCP }
func (f *fakeConn) Context() any                 { return f.ctx }
func (f *fakeConn) SetContext(v any)             { f.ctx = v }
func (f *fakeConn) Write(p []byte) error         { f.out = append(f.out, p...); return nil }
func (f *fakeConn) OutboundBuffered() int        { return 0 }
func (f *fakeConn) Close(error) error            { f.closed = true; return nil }
func (f *fakeConn) Do(fn func(netpoll.Conn)) error {
	f.mu.Lock()
	f.tasks = append(f.tasks, fn)
	f.mu.Unlock()
	return nil
}

// take removes the queued Do functions.
func (f *fakeConn) take() []func(netpoll.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tasks
	f.tasks = nil
	return t
}
func (f *fakeConn) AsyncWrite(p []byte, done func(error)) error {
	return f.Do(func(c netpoll.Conn) {
		err := c.Write(p)
		if done != nil {
			done(err)
		}
	})
}

// FuzzOnData feeds arbitrary bytes, in two halves, to a connection of a
// real server (memory storage): it must answer or fail, never panic.
func FuzzOnData(f *testing.F) {
	seeds := [][]byte{
		apiVersionsReq(1, 3),
		kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: 12, CorrelationID: 2},
			&kafka.MetadataRequest{Topics: []kafka.MetadataRequestTopic{{Name: []byte("t")}}, AllowAutoTopicCreation: true}),
		kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: 9, CorrelationID: 3},
			&kafka.ProduceRequest{Acks: -1, TimeoutMs: 1000, Topics: []kafka.ProduceRequestTopic{{Name: []byte("t"),
				Partitions: []kafka.ProduceRequestTopicPartition{{Index: 0, Records: []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9}}}}}}),
		kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: 12, CorrelationID: 4},
			&kafka.FetchRequest{MaxBytes: 1 << 20, Topics: []kafka.FetchRequestTopic{{Name: []byte("t"),
				Partitions: []kafka.FetchRequestTopicPartition{{FetchOffset: 0, MaxBytes: 1 << 20}}}}}),
		kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: 9, CorrelationID: 5},
			&kafka.JoinGroupRequest{GroupID: []byte("g"), SessionTimeoutMs: 6000, ProtocolType: []byte("consumer"),
				Protocols: []kafka.JoinGroupRequestProtocol{{Name: []byte("range"), Metadata: []byte{0}}}}),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	r, offs := newStorage(f, memory.Options{ChunkBytes: 64 << 10})
	s, err := New(Options{Router: r, Offsets: offs, Advertised: "127.0.0.1:9092", AutoCreate: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Shutdown(nil); offs.Close(); r.Close() })
	h := s.Handler()
	f.Fuzz(func(t *testing.T, in []byte) {
		fc := &fakeConn{}
		if err := h.OnOpen(fc); err != nil {
			t.Fatal(err)
		}
		half := len(in) / 2
		buf := append([]byte(nil), in[:half]...)
		n, err := h.OnData(fc, buf)
		if err == nil {
			buf = append(buf[n:], in[half:]...)
			_, err = h.OnData(fc, buf)
		}
		if err == nil {
			for _, fn := range fc.take() {
				fn(fc)
			}
		}
		h.OnClose(fc, err)
	})
}

// FuzzGroupRecord: any stored bytes decode or fail cleanly, and what
// decodes encodes back to the same record.
func FuzzGroupRecord(f *testing.F) {
	g := &group{id: "g", generation: 7, protocolType: "consumer", protocol: "range", leader: "a",
		members: map[string]*member{"a": {id: "a", instanceID: "i", clientID: "c", host: "h", session: time.Second,
			rebalance: 2 * time.Second, assignment: []byte("x"), protocols: []protocol{{"range", []byte{1}}}}}, order: []string{"a"}}
	f.Add(encodeGroup(g))
	f.Add([]byte{1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		g, err := decodeGroup("g", in, time.Unix(0, 0))
		if err != nil {
			return
		}
		again := encodeGroup(g)
		g2, err := decodeGroup("g", again, time.Unix(0, 0))
		if err != nil || !bytes.Equal(encodeGroup(g2), again) {
			t.Fatalf("round trip of %x: %v", in, err)
		}
	})
}
