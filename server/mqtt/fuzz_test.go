package mqtt

import (
	"io"
	"net"
	"sync"
	"testing"

	"robustmq/codec/mqtt"
	"robustmq/netpoll"
	"robustmq/server/message"
)

// fakeConn is a netpoll.Conn driven by hand: Do and AsyncWrite queue,
// run drains the queue on the caller's goroutine.
type fakeConn struct {
	mu     sync.Mutex
	ctx    any
	out    []byte
	tasks  []func(netpoll.Conn)
	closed error
}

func (c *fakeConn) ID() uint64                   { return 1 }
func (c *fakeConn) LocalAddr() net.Addr          { return nil }
func (c *fakeConn) RemoteAddr() net.Addr         { return nil }
func (c *fakeConn) Listener() string             { return "fuzz" }
func (c *fakeConn) Transport() netpoll.Transport { return netpoll.TCP }
func (c *fakeConn) Context() any                 { return c.ctx }
func (c *fakeConn) SetContext(v any)             { c.ctx = v }
func (c *fakeConn) OutboundBuffered() int        { return 0 }

func (c *fakeConn) Write(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed != nil {
		return netpoll.ErrClosed
	}
	if len(c.out) < 1<<16 {
		c.out = append(c.out, p...)
	}
	return nil
}

func (c *fakeConn) AsyncWrite(p []byte, done func(error)) error {
	return c.Do(func(nc netpoll.Conn) {
		err := nc.Write(p)
		if done != nil {
			done(err)
		}
	})
}

func (c *fakeConn) Do(fn func(netpoll.Conn)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed != nil {
		return netpoll.ErrClosed
	}
	c.tasks = append(c.tasks, fn)
	return nil
}

func (c *fakeConn) Close(reason error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed != nil {
		return netpoll.ErrClosed
	}
	if reason == nil {
		reason = netpoll.ErrClosed
	}
	c.closed = reason
	return nil
}

// run drains queued Do functions while the connection is open, reusing
// the queue's memory (so benchmarks measure the server, not the fake).
func (c *fakeConn) run() {
	for i := 0; ; i++ {
		c.mu.Lock()
		if i == len(c.tasks) || c.closed != nil {
			c.tasks = c.tasks[:0]
			c.mu.Unlock()
			return
		}
		fn := c.tasks[i]
		c.tasks[i] = nil
		c.mu.Unlock()
		fn(c)
	}
}

func (c *fakeConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed != nil
}

// FuzzOnData feeds a CONNECT (5.0 or 3.1.1, by the first byte) and then
// arbitrary bytes, split in two reads, to a Server: whatever they are, it
// must not panic, consume more than it was given, or write after closing.
func FuzzOnData(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	srv, err := New(Options{Hub: message.New(message.Options{}), TopicAliasMax: 4, MaxPacketSize: 4096})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Close)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		v := mqtt.V311
		if data[0]&1 == 1 {
			v = mqtt.V5
		}
		var cp mqtt.Connect
		cp.Version, cp.ClientID, cp.CleanStart = v, []byte("fuzz"), data[0]&2 == 0
		input := append(mqtt.AppendConnect(nil, &cp), data[1:]...)
		c := &fakeConn{}
		if err := srv.OnOpen(c); err != nil {
			t.Fatal(err)
		}
		var pending []byte
		for _, chunk := range [][]byte{input[:len(input)/2], input[len(input)/2:]} {
			if c.isClosed() {
				break
			}
			in := append(pending, chunk...)
			n, err := srv.OnData(c, in)
			if n < 0 || n > len(in) {
				t.Fatalf("consumed %d of %d", n, len(in))
			}
			pending = append([]byte(nil), in[n:]...)
			if err != nil {
				_ = c.Close(err)
			}
			c.run()
		}
		srv.OnClose(c, io.EOF)
	})
}

// fuzzSeeds are packet sequences that reach every handler.
func fuzzSeeds() [][]byte {
	var s [][]byte
	add := func(flags byte, v mqtt.Version, pkts ...[]byte) {
		b := []byte{flags}
		for _, p := range pkts {
			b = append(b, p...)
		}
		s = append(s, b)
	}
	for _, v := range []mqtt.Version{mqtt.V311, mqtt.V5} {
		fl := byte(0)
		if v == mqtt.V5 {
			fl = 1
		}
		var aliased mqtt.Publish
		aliased.Topic, aliased.Payload = []byte("a/b"), []byte("x")
		if v == mqtt.V5 {
			aliased.Props.SetUint(mqtt.PropTopicAlias, 1)
		}
		add(fl, v, subscribe(v, 1, "a/#", 2), publish(v, "a/b", 0, 0, "q0"), publish(v, "a/b", 1, 2, "q1"),
			publish(v, "a/b", 2, 3, "q2"), mqtt.AppendAck(nil, v, &mqtt.Ack{Type: mqtt.PUBREL, PacketID: 3}),
			mqtt.AppendAck(nil, v, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: 1}),
			mqtt.AppendAck(nil, v, &mqtt.Ack{Type: mqtt.PUBREC, PacketID: 2}),
			mqtt.AppendAck(nil, v, &mqtt.Ack{Type: mqtt.PUBCOMP, PacketID: 2}),
			mqtt.AppendPublish(nil, v, &aliased), mqtt.AppendPingreq(nil),
			mqtt.AppendUnsubscribe(nil, v, &mqtt.Unsubscribe{PacketID: 4, Filters: [][]byte{[]byte("a/#")}}),
			mqtt.AppendDisconnect(nil, v, &mqtt.Disconnect{}))
		add(fl|2, v, subscribe(v, 5, "$share/g/x/+", 1), publish(v, "x/y", 1, 6, "s"))
	}
	return s
}
