package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"robustmq/codec/mqtt"
	"robustmq/netpoll"
	"robustmq/server/message"
	"robustmq/shard"
	"robustmq/shard/memory"
)

// testServer is a Server on 127.0.0.1:0 over a memory-engine router.
type testServer struct {
	*Server
	store shard.Adapter
	addr  string
}

// start starts a server with opts adjusted by tune and a TCP listener
// (plus the transports listed, with tlsCfg for TLS/WSS); it is stopped at
// cleanup.
func start(t *testing.T, tune func(*Options)) *testServer {
	t.Helper()
	r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{ChunkBytes: 16 << 10})}, shard.RouterOptions{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Hub: message.New(message.Options{Store: r}), TopicAliasMax: 10}
	if tune != nil {
		tune(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, store: r}
	ts.addr = ts.listen(t, netpoll.TCP, nil).Addr().String()
	t.Cleanup(func() {
		srv.Close()
		_ = r.Close()
	})
	return ts
}

// listen adds a listener of transport tr.
func (ts *testServer) listen(t *testing.T, tr netpoll.Transport, tlsCfg *tls.Config) *netpoll.Listener {
	t.Helper()
	l, err := netpoll.Listen(netpoll.ListenerConfig{Name: "mqtt_test_" + tr.String(), Transport: tr, Addr: "127.0.0.1:0",
		TLS: tlsCfg, WSPath: "/mqtt", WSSubprotocols: []string{"mqtt"}, EventLoops: 1}, ts.Server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.Shutdown(ctx)
	})
	return l
}

// raw is a hand-driven client connection: write packets, read packets.
type raw struct {
	t  *testing.T
	nc net.Conn
	d  mqtt.Decoder
	in []byte
}

func dial(t *testing.T, addr string, v mqtt.Version) *raw {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &raw{t: t, nc: nc, d: mqtt.Decoder{Role: mqtt.Client, Version: v}}
}

func (r *raw) send(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("write % x: %v", b, err)
	}
}

// connect sends a CONNECT and expects CONNACK with code 0.
func (r *raw) connect(c *mqtt.Connect) *mqtt.Connack {
	r.t.Helper()
	c.Version = r.d.Version
	r.send(mqtt.AppendConnect(nil, c))
	if typ := r.next(); typ != mqtt.CONNACK || r.d.Connack.Code != 0 {
		r.t.Fatalf("CONNECT %s: got %v code %#x; want CONNACK 0", c.ClientID, typ, r.d.Connack.Code)
	}
	return &r.d.Connack
}

// next reads the next packet (within 5s) into r.d and returns its type;
// a closed connection fails the test.
func (r *raw) next() mqtt.Type {
	r.t.Helper()
	t, err := r.read(5 * time.Second)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return t
}

// read reads the next packet within d; io.EOF when the server closed.
func (r *raw) read(d time.Duration) (mqtt.Type, error) {
	_ = r.nc.SetReadDeadline(time.Now().Add(d))
	for {
		if len(r.in) > 0 {
			t, n, err := r.d.Decode(r.in)
			if err == nil {
				// keep the views valid: copy the rest out instead of reusing
				r.in = append([]byte(nil), r.in[n:]...)
				return t, nil
			}
			if err != mqtt.ErrIncomplete {
				return 0, err
			}
		}
		var b [4096]byte
		n, err := r.nc.Read(b[:])
		r.in = append(r.in, b[:n]...)
		if err != nil && n == 0 {
			return 0, err
		}
	}
}

// closed expects the server to close the connection, and returns the
// raw bytes it sent before closing (nil for none).
func (r *raw) closed() []byte {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(r.nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatalf("connection not closed within 5s; got % x", got)
	}
	return append(r.in, got...)
}

// waitFor polls cond until it holds or 5s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
