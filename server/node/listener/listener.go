package listener

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
)

// Listener wraps a net.Listener for the standard-library servers (gRPC, admin HTTP, Prometheus): it
// counts connections and bytes in its Metrics and implements Probe. gnet listeners do not use it; they
// feed MetricsFor(name) and register their own Probe.
type Listener struct {
	net.Listener
	name   string
	m      *Metrics
	closed atomic.Bool
}

// Wrap wraps l under the listener name name.
func Wrap(name string, l net.Listener) *Listener {
	return &Listener{Listener: l, name: name, m: MetricsFor(name)}
}

// Name implements Probe.
func (l *Listener) Name() string { return l.name }

// BoundAddr implements Probe.
func (l *Listener) BoundAddr() string { return l.Listener.Addr().String() }

// Accepting implements Probe: true until the listener is closed or Accept failed for good.
func (l *Listener) Accepting() bool { return !l.closed.Load() }

// Accept waits for the next connection and returns it wrapped so that its traffic is counted.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		if errors.Is(err, net.ErrClosed) {
			l.closed.Store(true)
		} else {
			l.m.Error("accept")
		}
		return nil, err
	}
	l.m.Accepted.Inc()
	l.m.Connections.Inc()
	return &conn{Conn: c, m: l.m}, nil
}

// Close closes the listener; Accepting is false from then on.
func (l *Listener) Close() error {
	l.closed.Store(true)
	return l.Listener.Close()
}

// conn counts the bytes of one accepted connection.
type conn struct {
	net.Conn
	m    *Metrics
	once sync.Once
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.m.ReceivedBytes.Add(n)
	if err != nil && !benign(err) {
		c.m.Error("read")
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.m.SentBytes.Add(n)
	if err != nil && !benign(err) {
		c.m.Error("write")
	}
	return n, err
}

func (c *conn) Close() error {
	c.once.Do(c.m.Connections.Dec)
	return c.Conn.Close()
}

// benign tells the ends of a connection's life (peer closed, we closed, an idle deadline passed) from
// errors worth counting.
func benign(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded)
}

// Bind listens on addr over TCP, wraps the listener under name and, if reg is not nil, registers it.
// Errors name the listener: "<name>: listen tcp ...".
func Bind(name, addr string, reg *Registry) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	l := Wrap(name, ln)
	if reg != nil {
		if err := reg.Add(l); err != nil {
			ln.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return l, nil
}
