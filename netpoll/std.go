package netpoll

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// stdServer serves TLS, WS and WSS with the standard library: a goroutine
// per connection reads and calls the handler, a second one writes.
type stdServer struct {
	l      *Listener
	ln     net.Listener
	http   *http.Server  // WS and WSS only
	served chan struct{} // closed when the accept loop or http.Serve returns
	set    connSet[*sconn]
}

// rawConnKey finds the accepted net.Conn of a WebSocket request.
type rawConnKey struct{}

// listenSocket binds cfg.Addr with the standard library; accepted
// connections get cfg's keepalive and socket buffer sizes.
func listenSocket(cfg ListenerConfig) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	if cfg.TCPKeepAlive > 0 {
		lc.KeepAlive = cfg.TCPKeepAlive
	}
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	return sockListener{ln, cfg.SocketRecvBytes, cfg.SocketSendBytes}, nil
}

// acceptLoop accepts until ln is closed and hands every connection that
// l admits to handle.
func acceptLoop(ln net.Listener, l *Listener, handle func(raw net.Conn)) {
	var backoff time.Duration
	for {
		raw, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of file descriptors and the like: wait, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.log.Warn("netpoll: accept failed", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !l.admit() {
			_ = raw.Close()
			continue
		}
		handle(raw)
	}
}

func listenStd(l *Listener) (server, error) {
	cfg := l.cfg
	ln, err := listenSocket(cfg)
	if err != nil {
		return nil, err
	}
	s := &stdServer{l: l, ln: ln, served: make(chan struct{})}
	if cfg.Transport == TLS {
		go s.acceptLoop()
		return s, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc(cfg.WSPath, s.serveWS)
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: cfg.HandshakeTimeout, // also bounds the TLS handshake
		IdleTimeout:       cfg.HandshakeTimeout, // a kept-alive connection that never upgrades
		ErrorLog:          slog.NewLogLogger(l.log.Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, rawConnKey{}, c)
		},
		// No HTTP/2: a WebSocket upgrade needs HTTP/1.1 even when the TLS
		// config offers h2.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	if cfg.Transport == WSS {
		s.ln = tls.NewListener(s.ln, cfg.TLS)
	}
	go func() {
		defer close(s.served)
		if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			l.log.Error("netpoll: http server stopped", "err", err)
		}
	}()
	return s, nil
}

func (s *stdServer) addr() net.Addr { return s.ln.Addr() }

func (s *stdServer) shutdown(ctx context.Context) error {
	return s.set.shutdown(ctx, func() error {
		var err error
		if s.http != nil {
			err = s.http.Close() // closes the listener and the not yet upgraded connections
		} else {
			err = s.ln.Close()
		}
		<-s.served
		return err
	}, func() {})
}

func (s *stdServer) acceptLoop() {
	defer close(s.served)
	acceptLoop(s.ln, s.l, func(raw net.Conn) {
		tc := tls.Server(raw, s.l.cfg.TLS)
		c := s.newConn(raw, tc, nil, TLS)
		if c == nil {
			return
		}
		go c.serve(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), s.l.cfg.HandshakeTimeout)
			defer cancel()
			return tc.HandshakeContext(ctx)
		})
	})
}

func (s *stdServer) serveWS(w http.ResponseWriter, r *http.Request) {
	raw, _ := r.Context().Value(rawConnKey{}).(net.Conn)
	if raw == nil || !s.l.admit() {
		http.Error(w, "netpoll: connection limit reached", http.StatusServiceUnavailable)
		return
	}
	cfg := s.l.cfg
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:    cfg.WSSubprotocols,
		OriginPatterns:  cfg.WSOriginPatterns,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil { // Accept has answered the request
		s.l.m.handshakeFailures.Inc()
		s.l.release()
		return
	}
	tr := WS
	if cfg.Transport == WSS {
		tr = WSS
	}
	c := s.newConn(raw, websocket.NetConn(context.Background(), ws, websocket.MessageBinary), ws, tr)
	if c == nil {
		return
	}
	// The handler goroutine of net/http becomes the connection's reader.
	c.serve(nil)
}

// newConn registers a connection admitted by l.admit, or closes and
// releases it when shutdown has started.
func (s *stdServer) newConn(raw, nc net.Conn, ws *websocket.Conn, tr Transport) *sconn {
	c := &sconn{s: s, raw: raw, nc: nc, ws: ws, wake: make(chan struct{}, 1), writerDone: make(chan struct{})}
	c.init(s.l, c, tr, raw.LocalAddr(), raw.RemoteAddr())
	if !s.set.join(c) {
		c.closeTransport(ErrListenerClosed)
		s.l.m.rejected.Inc()
		s.l.release()
		return nil
	}
	return c
}

// sconn is a connection served by its own goroutines: the reader, which
// runs serve and OnData, and the writer, which runs writeLoop, Do functions
// and AsyncWrite. hmu makes them one handler goroutine in the sense of the
// package doc.
type sconn struct {
	connBase
	s   *stdServer
	raw net.Conn        // the accepted TCP (for WSS: TLS) connection
	nc  net.Conn        // carries the protocol bytes: TLS conn or WebSocket stream
	ws  *websocket.Conn // WS and WSS only

	hmu           sync.Mutex // held around every Handler call and Do function
	handlerClosed bool       // guarded by hmu: OnClose ran

	omu    sync.Mutex
	outq   []*buffer    // guarded by omu: output for the writer
	queued atomic.Int64 // bytes in outq and being written

	wake       chan struct{} // one slot: the writer has work
	writerDone chan struct{} // closed when writeLoop returns
}

func (c *sconn) unsent() int { return int(c.queued.Load()) }

func (c *sconn) schedule() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// closing stops the reader at once and gives the writer CloseLinger to
// flush, or nothing when the output is not worth waiting for.
func (c *sconn) closing(reason error) {
	now := time.Now()
	_ = c.raw.SetReadDeadline(now)
	if !isFlushable(reason) {
		_ = c.raw.SetWriteDeadline(now)
	} else {
		_ = c.raw.SetWriteDeadline(now.Add(c.l.cfg.CloseLinger))
	}
}

// isFlushable tells whether output queued before a close with reason should
// still be sent.
func isFlushable(reason error) bool {
	class := classify(reason)
	return class != closeSlowConsumer && class != closeIO
}

// serve is the reader goroutine. handshake (nil for WebSocket, done by
// then) runs first.
func (c *sconn) serve(handshake func() error) {
	defer c.s.set.leave(c)
	if handshake != nil {
		if err := handshake(); err != nil {
			c.l.m.handshakeFailures.Inc()
			c.l.log.Debug("netpoll: handshake failed", "remote", c.remote.String(), "err", err)
			c.closeTransport(err)
			c.l.release()
			return
		}
	}
	go c.writeLoop()
	c.hmu.Lock()
	if err := c.callOnOpen(); err != nil {
		c.setReason(err)
	}
	c.flush()
	c.hmu.Unlock()

	buf := make([]byte, c.l.cfg.ReadBufferBytes)
	for c.reason.Load() == nil {
		n, err := c.nc.Read(buf)
		if n > 0 {
			c.l.m.bytesIn.Add(n)
			c.hmu.Lock()
			if c.reason.Load() == nil {
				if ferr := c.feed(buf[:n]); ferr != nil {
					c.setReason(ferr)
				}
				c.flush()
			}
			c.hmu.Unlock()
		}
		if err != nil {
			c.setReason(transportErr(err))
		}
	}
	<-c.writerDone

	c.hmu.Lock()
	defer c.hmu.Unlock()
	c.handlerClosed = true
	reason := c.closeReason(ErrClosed)
	c.countClose(reason)
	c.callOnClose(reason)
	c.releaseBuffers()
}

// flush hands the output written so far to the writer. hmu held.
func (c *sconn) flush() {
	b := c.out
	if b == nil {
		return
	}
	c.out = nil
	if len(b.B) == 0 {
		putBuffer(b)
		return
	}
	c.queued.Add(int64(len(b.B)))
	c.omu.Lock()
	c.outq = append(c.outq, b)
	c.omu.Unlock()
	c.schedule()
}

// writeLoop runs tasks and writes output until the connection closes, then
// flushes what is flushable and closes the transport.
func (c *sconn) writeLoop() {
	defer close(c.writerDone)
	var batch []*buffer
	for {
		<-c.wake
		c.hmu.Lock()
		if c.runTasks() {
			c.schedule()
		}
		c.flush()
		c.hmu.Unlock()

		c.omu.Lock()
		batch, c.outq = c.outq, batch[:0]
		c.omu.Unlock()
		var err error
		for i, b := range batch {
			if err == nil && isFlushable(c.closeReason(nil)) {
				_, err = c.nc.Write(b.B)
				if err == nil {
					c.l.m.bytesOut.Add(len(b.B))
				}
			}
			c.queued.Add(-int64(len(b.B)))
			putBuffer(b)
			batch[i] = nil
		}
		if err != nil {
			c.setReason(transportErr(err))
		}
		if r := c.reason.Load(); r != nil {
			c.closeTransport(*r)
			return
		}
	}
}

// closeTransport closes the connection: WebSocket without the close
// handshake (the peer may not be reading), TLS with close_notify only
// when the close is clean.
func (c *sconn) closeTransport(reason error) {
	switch {
	case c.ws != nil:
		_ = c.ws.CloseNow()
	case isFlushable(reason):
		_ = c.nc.Close()
	default:
		_ = c.raw.Close()
	}
}

// sockListener applies SO_RCVBUF and SO_SNDBUF to accepted connections.
type sockListener struct {
	net.Listener
	recvBytes, sendBytes int
}

func (l sockListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		if l.recvBytes > 0 {
			_ = tc.SetReadBuffer(l.recvBytes)
		}
		if l.sendBytes > 0 {
			_ = tc.SetWriteBuffer(l.sendBytes)
		}
	}
	return c, nil
}
