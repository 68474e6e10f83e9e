package netpoll

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/coder/websocket"
)

var allTransports = []Transport{TCP, TLS, WS, WSS}

// testTLS is a self-signed certificate for 127.0.0.1, made once.
var testTLS = sync.OnceValues(func() (server, client *tls.Config) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "netpoll test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool}
	return server, client
})

var listenerSeq atomic.Int64

// listen starts h on 127.0.0.1:0 over tr and shuts it down when the test
// ends. mod adjusts the config.
func listen(t testing.TB, tr Transport, h Handler, mod func(*ListenerConfig)) *Listener {
	t.Helper()
	srvTLS, _ := testTLS()
	cfg := ListenerConfig{
		Name:           "test-" + tr.String() + "-" + big.NewInt(listenerSeq.Add(1)).String(),
		Transport:      tr,
		Addr:           "127.0.0.1:0",
		TLS:            srvTLS,
		WSPath:         "/mqtt",
		WSSubprotocols: []string{"mqtt"},
		EventLoops:     2,
		Logger:         slog.New(slog.DiscardHandler),
	}
	if mod != nil {
		mod(&cfg)
	}
	l, err := Listen(cfg, h)
	if err != nil {
		t.Fatalf("Listen(%s): %v", tr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown(%s): %v", tr, err)
		}
	})
	return l
}

// dial connects a client to l over its transport; WebSocket clients see
// the binary messages as one byte stream.
func dial(t testing.TB, l *Listener) net.Conn {
	t.Helper()
	c, err := tryDial(l)
	if err != nil {
		t.Fatalf("dial %s %s: %v", l.cfg.Transport, l.Addr(), err)
	}
	return c
}

func tryDial(l *Listener) (net.Conn, error) {
	_, cliTLS := testTLS()
	addr := l.Addr().String()
	switch l.cfg.Transport {
	case TCP:
		return net.Dial("tcp", addr)
	case TLS:
		return tls.Dial("tcp", addr, cliTLS)
	}
	scheme, hc := "ws://", http.DefaultClient
	if l.cfg.Transport == WSS {
		scheme = "wss://"
		hc = &http.Client{Transport: &http.Transport{TLSClientConfig: cliTLS}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, scheme+addr+l.cfg.WSPath, &websocket.DialOptions{
		HTTPClient:   hc,
		Subprotocols: []string{"mqtt"},
	})
	if err != nil {
		return nil, err
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "mqtt" {
		ws.CloseNow()
		return nil, errors.New("subprotocol " + got + " negotiated, want mqtt")
	}
	return websocket.NetConn(context.Background(), ws, websocket.MessageBinary), nil
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func counter(name string) uint64 { return metrics.GetOrCreateCounter(name).Get() }

func closedCount(l *Listener, reason string) uint64 {
	return counter(`robustmq_netpoll_closed_total{listener="` + l.Name() + `",reason="` + reason + `"}`)
}

// Frames of the test protocol: a 4-byte big-endian length, then payload.
func appendFrame(dst, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// splitFrames returns the length of the whole frames at the start of in.
func splitFrames(in []byte, each func(frame []byte)) int {
	n := 0
	for len(in)-n >= 4 {
		size := int(binary.BigEndian.Uint32(in[n:]))
		if len(in)-n-4 < size {
			break
		}
		each(in[n : n+4+size])
		n += 4 + size
	}
	return n
}

// recorder remembers what a handler saw, for assertions.
type recorder struct {
	opened  atomic.Int64
	mu      sync.Mutex
	reasons map[uint64]error // guarded by mu: OnClose reason per conn
	conns   map[uint64]Conn  // guarded by mu: open conns
}

func (r *recorder) open(c Conn) {
	r.opened.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		r.conns = make(map[uint64]Conn)
	}
	r.conns[c.ID()] = c
}

func (r *recorder) close(c Conn, reason error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reasons == nil {
		r.reasons = make(map[uint64]error)
	}
	if _, dup := r.reasons[c.ID()]; dup {
		panic("OnClose called twice")
	}
	r.reasons[c.ID()] = reason
	delete(r.conns, c.ID())
}

func (r *recorder) closedWith() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Collect(maps.Values(r.reasons))
}

func (r *recorder) numClosed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reasons)
}

func (r *recorder) openConns() []Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Collect(maps.Values(r.conns))
}
