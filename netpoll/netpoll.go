package netpoll

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"
)

// Handler is a protocol. One Handler value serves every connection of a
// listener, so per-connection state belongs in Conn.SetContext.
//
// The three methods of one connection never run concurrently with each other
// or with that connection's Do functions (see the package doc).
type Handler interface {
	// OnOpen is called once, before any OnData. It may SetContext and Write
	// (for example a greeting). A non-nil error closes the connection with
	// that reason; OnClose is still called.
	OnOpen(c Conn) error

	// OnData presents every input byte the handler has not consumed yet.
	// in aliases netpoll's buffer and is valid only until OnData returns:
	// copy what must outlive the call. consumed (0 <= consumed <= len(in)) is
	// the number of leading bytes the handler is done with; the rest is kept
	// and presented again, followed by new input, on the next call. OnData is
	// called once per read, so it should consume every complete frame in in.
	// A non-nil error closes the connection with that reason.
	OnData(c Conn, in []byte) (consumed int, err error)

	// OnClose is called exactly once per opened connection, after which no
	// other method or Do function runs for c. reason is the first reason
	// given to Close or returned by a callback, ErrSlowConsumer,
	// ErrInboundLimit, ErrListenerClosed, io.EOF when the peer closed, or
	// a socket error (wrapped: errors.Is finds e.g. syscall.ECONNRESET).
	OnClose(c Conn, reason error)
}

// Conn is one client connection, whatever its transport.
//
// "Handler goroutine only" methods may be called only from inside a Handler
// method or a Do function of this connection; the others are safe from any
// goroutine.
type Conn interface {
	// ID is unique among the connections of this process.
	ID() uint64
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	// Listener is the ListenerConfig.Name this connection arrived on.
	Listener() string
	Transport() Transport

	// Context returns what SetContext stored. Handler goroutine only.
	Context() any
	// SetContext stores per-connection protocol state. Handler goroutine only.
	SetContext(v any)

	// Write copies p into the connection's pooled output buffer and never
	// blocks; the output is sent when the current callback returns. It
	// returns ErrClosed after the connection started closing, and
	// ErrSlowConsumer (and starts closing) when unsent output would pass
	// MaxOutboundBytes. Handler goroutine only.
	Write(p []byte) error
	// OutboundBuffered is the number of bytes written and not yet accepted
	// by the kernel. Handler goroutine only.
	OutboundBuffered() int

	// AsyncWrite queues p to be written on the handler goroutine, in order
	// with other AsyncWrite and Do calls of this connection. p must not be
	// modified until done is called. done (may be nil) is called exactly
	// once on the handler goroutine: with the Write error, or ErrClosed if
	// the connection closed first. A non-nil return means nothing was queued
	// and done will not be called. Safe from any goroutine.
	AsyncWrite(p []byte, done func(error)) error
	// Do queues fn to run on the handler goroutine, serialized with OnData,
	// in order with other Do and AsyncWrite calls. fn may Write. fn is not run
	// if the connection closes first. Safe from any goroutine.
	Do(fn func(Conn)) error

	// Close starts closing the connection with reason (nil means ErrClosed).
	// Output written before Close is flushed on a best-effort basis; no
	// OnData runs after Close, and the first reason wins: a later Close
	// returns ErrClosed. Safe from any goroutine; it never blocks.
	Close(reason error) error
}

// Transport is how the bytes of a connection travel.
type Transport uint8

// Transports. TCP is served by gnet event loops, the others by the
// goroutine-per-connection standard library path.
const (
	TCP Transport = iota + 1
	TLS
	WS
	WSS
)

var transportNames = [...]string{TCP: "tcp", TLS: "tls", WS: "ws", WSS: "wss"}

func (t Transport) String() string {
	if t < TCP || t > WSS {
		return "unknown"
	}
	return transportNames[t]
}

// ListenerConfig configures one listener. Zero values take the defaults
// named on each field.
type ListenerConfig struct {
	// Name labels metrics (listener="<name>") and logs. Required.
	Name      string
	Transport Transport
	// Addr is host:port; port 0 binds a free port (see Listener.Addr).
	Addr string
	// TLS is required for TLS and WSS.
	TLS *tls.Config
	// WSPath is the HTTP path of the WebSocket endpoint. Default "/".
	WSPath string
	// WSSubprotocols: the first of these, in this order, that the client
	// offers is chosen; a client offering none of them is still accepted,
	// with no subprotocol.
	WSSubprotocols []string
	// WSOriginPatterns authorizes cross-origin browsers (see
	// websocket.AcceptOptions.OriginPatterns). Clients without Origin pass.
	WSOriginPatterns []string

	// MaxConns bounds open connections; more are closed at accept and
	// counted as rejected. 0 means unlimited.
	MaxConns int
	// MaxOutboundBytes bounds unsent output per connection; a connection
	// that passes it is closed with ErrSlowConsumer. Default 4 MiB.
	MaxOutboundBytes int
	// MaxInboundBytes bounds input kept unconsumed per connection; passing
	// it closes with ErrInboundLimit. Default 1 MiB.
	MaxInboundBytes int
	// MaxQueuedTasks bounds the AsyncWrite/Do queue per connection; a full
	// queue closes the connection with ErrSlowConsumer. Default 4096.
	MaxQueuedTasks int

	// ReadBufferBytes is the read size: one buffer per shared event loop on
	// TCP (default 8 KiB; set like EventLoops), one per connection on the
	// other transports (default 4 KiB). On TCP it is also how much one
	// connection gets through per loop turn, and the work one read makes
	// (an MQTT publisher's fan-out) runs before the loop gets to the queued
	// Do functions (the subscriber's flush): with 64 KiB reads 16 QoS 0
	// publishers to one subscriber got about 60 k msg/s delivered (the
	// subscriber's bounded queue dropped the rest), with 8 KiB about 500 k,
	// and one publisher 1.1 M msg/s with nothing dropped instead of 0.8 M
	// with half dropped, while a QoS 1 16 -> 1 run lost about 7% (bench
	// mqtt, 2 CPUs, the four sizes side by side in one run).
	ReadBufferBytes int
	// SocketRecvBytes and SocketSendBytes set SO_RCVBUF and SO_SNDBUF on
	// TCP. 0 keeps the OS default.
	SocketRecvBytes, SocketSendBytes int
	// EventLoops is the number of gnet loops, which all TCP listeners of the
	// process share; the TCP listener that starts them (the first one open)
	// sets it. Default: half of GOMAXPROCS, at least 1. A loop blocks in
	// epoll_wait outside the Go scheduler and wakes up needing a P; with as
	// many loops as Ps, loops and every other goroutine (storage, raft,
	// clients in a test) keep handing Ps to each other. On 2 CPUs,
	// BenchmarkEcho conns=128 depth=1 size=1024 gave about 400 MB/s with 1
	// loop and 160-230 MB/s with 2.
	EventLoops int
	// TCPKeepAlive enables kernel keepalive probes with this idle time, to
	// find half-open connections whose protocol has no keepalive. 0 is off.
	TCPKeepAlive time.Duration
	// HandshakeTimeout bounds the TLS and WebSocket handshakes. Default 10s.
	HandshakeTimeout time.Duration
	// CloseLinger bounds how long a closing TLS/WS connection tries to flush
	// its output. Default 1s.
	CloseLinger time.Duration

	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Defaults for ListenerConfig zero values.
const (
	DefaultMaxOutboundBytes = 4 << 20
	DefaultMaxInboundBytes  = 1 << 20
	DefaultMaxQueuedTasks   = 4096
	DefaultLoopReadBytes    = 8 << 10
	DefaultConnReadBytes    = 4 << 10
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultCloseLinger      = time.Second
)

// Sentinel errors. Close reasons given by netpoll itself are one of these,
// so protocols and metrics can branch with errors.Is.
var (
	// ErrClosed is returned by methods of a closed connection and is the
	// reason of a Close(nil).
	ErrClosed = errors.New("netpoll: connection closed")
	// ErrSlowConsumer closes a connection whose unsent output passed
	// MaxOutboundBytes or whose task queue passed MaxQueuedTasks.
	ErrSlowConsumer = errors.New("netpoll: slow consumer: unsent output over limit")
	// ErrInboundLimit closes a connection whose unconsumed input passed
	// MaxInboundBytes.
	ErrInboundLimit = errors.New("netpoll: unconsumed input over limit")
	// ErrListenerClosed is the close reason of connections closed by
	// Listener.Shutdown.
	ErrListenerClosed = errors.New("netpoll: listener shut down")
	// ErrConfig wraps every ListenerConfig validation error.
	ErrConfig = errors.New("netpoll: invalid listener config")
	// ErrHandlerPanic closes a connection whose handler code panicked; the
	// panic is logged with its stack and the process goes on.
	ErrHandlerPanic = errors.New("netpoll: handler panicked")
	// ErrBadConsume closes a connection whose handler returned a consumed
	// count outside [0, len(in)].
	ErrBadConsume = errors.New("netpoll: handler consumed more than it was given")
)

// withDefaults returns cfg with zero values replaced and checks it. Every
// problem is reported, not just the first.
func (cfg ListenerConfig) withDefaults() (ListenerConfig, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: listener %q: %s: %s", ErrConfig, cfg.Name, field, fmt.Sprintf(format, args...)))
	}
	if !validName(cfg.Name) {
		bad("Name", "%q is not 1-64 of [A-Za-z0-9_.-]", cfg.Name)
	}
	if cfg.Transport < TCP || cfg.Transport > WSS {
		bad("Transport", "%d is not tcp, tls, ws or wss", cfg.Transport)
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		bad("Addr", "%q is not host:port", cfg.Addr)
	}
	if (cfg.Transport == TLS || cfg.Transport == WSS) && cfg.TLS == nil {
		bad("TLS", "is required for %s", cfg.Transport)
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"MaxConns", cfg.MaxConns}, {"MaxOutboundBytes", cfg.MaxOutboundBytes},
		{"MaxInboundBytes", cfg.MaxInboundBytes}, {"MaxQueuedTasks", cfg.MaxQueuedTasks},
		{"ReadBufferBytes", cfg.ReadBufferBytes}, {"SocketRecvBytes", cfg.SocketRecvBytes},
		{"SocketSendBytes", cfg.SocketSendBytes}, {"EventLoops", cfg.EventLoops},
	} {
		if f.v < 0 {
			bad(f.name, "%d is negative", f.v)
		}
	}
	if len(errs) > 0 {
		return cfg, errors.Join(errs...)
	}
	if cfg.WSPath == "" {
		cfg.WSPath = "/"
	}
	setDefault(&cfg.MaxOutboundBytes, DefaultMaxOutboundBytes)
	setDefault(&cfg.MaxInboundBytes, DefaultMaxInboundBytes)
	setDefault(&cfg.MaxQueuedTasks, DefaultMaxQueuedTasks)
	setDefault(&cfg.EventLoops, max(1, runtime.GOMAXPROCS(0)/2))
	if cfg.Transport == TCP {
		setDefault(&cfg.ReadBufferBytes, DefaultLoopReadBytes)
	} else {
		setDefault(&cfg.ReadBufferBytes, DefaultConnReadBytes)
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.CloseLinger <= 0 {
		cfg.CloseLinger = DefaultCloseLinger
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// validName keeps names safe inside a metric label and a log line.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '_', b == '.', b == '-':
		default:
			return false
		}
	}
	return true
}

func setDefault(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

// server is what a transport provides to a Listener.
type server interface {
	// addr is the bound address.
	addr() net.Addr
	// shutdown stops accepting, closes every connection with
	// ErrListenerClosed and waits for its goroutines, or for ctx.
	shutdown(ctx context.Context) error
}

// Listen binds cfg.Addr and serves h on it. It returns once the listener is
// bound and accepting, or with an error naming the address (a port in use
// matches errors.Is(err, syscall.EADDRINUSE)).
func Listen(cfg ListenerConfig, h Handler) (*Listener, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &Listener{cfg: cfg, h: h, m: newListenerMetrics(cfg.Name),
		log: cfg.Logger.With("listener", cfg.Name, "transport", cfg.Transport.String())}
	if cfg.Transport == TCP {
		l.srv, err = listenTCP(l)
	} else {
		l.srv, err = listenStd(l)
	}
	if err != nil {
		return nil, fmt.Errorf("netpoll: listener %q: listen %s %s: %w", cfg.Name, cfg.Transport, cfg.Addr, err)
	}
	l.log.Info("netpoll: listening", "addr", l.srv.addr().String())
	return l, nil
}

// Addr is the bound address; with port 0 in the config it holds the port
// the kernel chose.
func (l *Listener) Addr() net.Addr { return l.srv.addr() }

// Name is ListenerConfig.Name.
func (l *Listener) Name() string { return l.cfg.Name }

// ConnCount is the number of open connections.
func (l *Listener) ConnCount() int { return int(l.conns.Load()) }

// Shutdown stops accepting, closes every connection with ErrListenerClosed
// (OnClose runs for each) and waits for the listener's goroutines. If ctx
// ends first it returns ctx.Err() and the goroutines finish on their own.
// Calls after the first return its result.
func (l *Listener) Shutdown(ctx context.Context) error {
	l.shutOnce.Do(func() {
		l.closing.Store(true)
		l.shutErr = l.srv.shutdown(ctx)
		l.log.Info("netpoll: shut down", "err", l.shutErr)
	})
	return l.shutErr
}
