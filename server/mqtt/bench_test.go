package mqtt

import (
	"context"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"robustmq/codec/mqtt"
	"robustmq/netpoll"
	"robustmq/server/message"
	"robustmq/server/message/topic"
)

// nop is the baseline handler: netpoll's own per-connection cost.
type nop struct{}

func (nop) OnOpen(netpoll.Conn) error                     { return nil }
func (nop) OnData(_ netpoll.Conn, in []byte) (int, error) { return len(in), nil }
func (nop) OnClose(netpoll.Conn, error)                   {}

// BenchmarkIdleConnMemory measures the heap per idle connection: "mqtt"
// is a connected 3.1.1 client with a session and one subscription,
// "netpoll" the same sockets on a handler that does nothing (baseline).
// The difference is what this package adds per connection.
//
//	go test -run '^$' -bench IdleConnMemory ./server/mqtt/
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 1000
	var cp mqtt.Connect
	cp.Version, cp.KeepAlive, cp.CleanStart = mqtt.V311, 600, true
	for _, name := range []string{"netpoll", "mqtt"} {
		b.Run(name, func(b *testing.B) {
			var h netpoll.Handler = nop{}
			var srv *Server
			if name == "mqtt" {
				var err error
				if srv, err = New(Options{Hub: message.New(message.Options{})}); err != nil {
					b.Fatal(err)
				}
				defer srv.Close()
				h = srv
			}
			l, err := netpoll.Listen(netpoll.ListenerConfig{Name: "bench_" + name, Transport: netpoll.TCP,
				Addr: "127.0.0.1:0", EventLoops: 1}, h)
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = l.Shutdown(ctx)
			}()
			sa := &unix.SockaddrInet4{Port: l.Addr().(*net.TCPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}
			open := func() []int {
				fds := make([]int, 0, n)
				for i := range n {
					fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
					if err == nil {
						err = unix.Connect(fd, sa)
					}
					if err != nil {
						b.Fatal(err)
					}
					fds = append(fds, fd)
					if srv == nil {
						continue
					}
					cp.ClientID = []byte("idle-" + strconv.Itoa(i))
					pkt := mqtt.AppendConnect(nil, &cp)
					pkt = append(pkt, subscribe(mqtt.V311, 1, "idle/"+strconv.Itoa(i), 1)...)
					if _, err := unix.Write(fd, pkt); err != nil {
						b.Fatal(err)
					}
					var ack [4 + 5]byte // CONNACK, SUBACK
					for got := 0; got < len(ack); {
						k, err := unix.Read(fd, ack[got:])
						if err != nil || k <= 0 {
							b.Fatalf("read CONNACK/SUBACK: %v", err)
						}
						got += k
					}
				}
				return fds
			}
			closeAll := func(fds []int) {
				for _, fd := range fds {
					_ = unix.Close(fd)
				}
				deadline := time.Now().Add(10 * time.Second)
				for l.ConnCount() != 0 && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
			}
			closeAll(open()) // warm up pools and the loop
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				fds := open()
				deadline := time.Now().Add(10 * time.Second)
				for l.ConnCount() != n && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "heapB/conn")
				closeAll(fds)
			}
		})
	}
}

type nopSub struct{}

func (nopSub) Deliver(*message.Message, *topic.Entry) {}

// BenchmarkFanout measures one QoS 0 publish through Server-side delivery
// to subs subscribers on fake connections (encode included), against the
// hub's match-and-deliver with no-op subscribers (baseline).
func BenchmarkFanout(b *testing.B) {
	payload := make([]byte, 128)
	for _, subs := range []int{1, 10, 100} {
		b.Run("hub/subs="+strconv.Itoa(subs), func(b *testing.B) {
			h := message.New(message.Options{})
			f, _ := topic.ParseFilter([]byte("bench/+"), topic.MQTT, nil)
			for i := range subs {
				_ = h.Index().Subscribe(f, topic.Subscriber{ID: uint64(i + 1), Target: nopSub{}}, nil)
			}
			m := &message.Message{Topic: []byte("bench/x"), Payload: payload}
			b.ReportAllocs()
			b.SetBytes(int64(len(payload) * subs))
			for b.Loop() {
				h.Publish(m, nil)
			}
		})
		b.Run("mqtt/subs="+strconv.Itoa(subs), func(b *testing.B) {
			srv, err := New(Options{Hub: message.New(message.Options{})})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			conns := make([]*fakeConn, subs)
			for i := range conns {
				c := &fakeConn{}
				conns[i] = c
				_ = srv.OnOpen(c)
				var cp mqtt.Connect
				cp.Version, cp.CleanStart, cp.ClientID = mqtt.V311, true, []byte("f"+strconv.Itoa(i))
				in := append(mqtt.AppendConnect(nil, &cp), subscribe(mqtt.V311, 1, "bench/+", 0)...)
				if _, err := srv.OnData(c, in); err != nil {
					b.Fatal(err)
				}
			}
			m := &message.Message{Topic: []byte("bench/x"), Payload: payload}
			b.ReportAllocs()
			b.SetBytes(int64(len(payload) * subs))
			for b.Loop() {
				srv.hub.Publish(m, nil)
				for _, c := range conns {
					c.run()
					c.out = c.out[:0]
				}
			}
		})
	}
}

// BenchmarkInbound measures one inbound PUBLISH of 128 bytes through
// OnData (decode, owned copy, hub, acknowledgement) with no subscriber, per
// QoS, on a hand-driven connection.
func BenchmarkInbound(b *testing.B) {
	for _, qos := range []byte{0, 1} {
		b.Run("qos="+strconv.Itoa(int(qos)), func(b *testing.B) {
			srv, err := New(Options{Hub: message.New(message.Options{})})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			c := &fakeConn{}
			_ = srv.OnOpen(c)
			var cp mqtt.Connect
			cp.Version, cp.CleanStart, cp.ClientID = mqtt.V311, true, []byte("in")
			if _, err := srv.OnData(c, mqtt.AppendConnect(nil, &cp)); err != nil {
				b.Fatal(err)
			}
			pkt := publish(mqtt.V311, "in/x", qos, 1, string(make([]byte, 128)))
			b.ReportAllocs()
			b.SetBytes(128)
			for b.Loop() {
				if _, err := srv.OnData(c, pkt); err != nil {
					b.Fatal(err)
				}
				c.run()
				c.out = c.out[:0]
			}
		})
	}
}
