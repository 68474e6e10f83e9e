package netpoll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// gnetServer runs one gnet engine for a TCP listener. Its EventHandler
// methods run on the engine's loops.
type gnetServer struct {
	gnet.BuiltinEventEngine
	l *Listener

	// Written by the Run goroutine before ready is signalled, read-only after.
	eng   gnet.Engine
	bound net.Addr

	ready chan error    // gets one value: nil once the loops run, or why Run failed
	up    atomic.Bool   // the loops ran (ready got nil)
	done  chan struct{} // closed when gnet.Run has returned
}

// errEngineStopped is reported when gnet.Run returns before its loops ran.
var errEngineStopped = errors.New("netpoll: gnet engine stopped before it started")

func listenGnet(l *Listener) (server, error) {
	cfg := l.cfg
	addr := cfg.Addr
	if cfg.ReusePort {
		// Every loop binds its own socket to addr, so port 0 would give each
		// a different port, and SO_REUSEPORT would not report a port held by
		// another socket with SO_REUSEPORT. Bind once without it to fix the
		// port and find a port in use. The port is free again between this
		// probe and gnet's bind; only port 0 makes that window matter.
		probe, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		addr = probe.Addr().String()
		if err := probe.Close(); err != nil {
			return nil, err
		}
	}
	s := &gnetServer{l: l, ready: make(chan error, 1), done: make(chan struct{})}
	opts := []gnet.Option{
		gnet.WithNumEventLoop(cfg.EventLoops),
		gnet.WithReusePort(cfg.ReusePort),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReadBufferCap(cfg.ReadBufferBytes),
		gnet.WithSocketRecvBuffer(cfg.SocketRecvBytes),
		gnet.WithSocketSendBuffer(cfg.SocketSendBytes),
		gnet.WithTCPKeepAlive(cfg.TCPKeepAlive),
		gnet.WithTicker(true), // the first OnTick tells Listen the loops run
		gnet.WithLogger(gnetLogger{cfg.Logger}),
	}
	go func() {
		defer close(s.done)
		err := gnet.Run(s, "tcp://"+addr, opts...)
		switch {
		case !s.up.Load():
			if err == nil {
				err = errEngineStopped
			}
			select {
			case s.ready <- err:
			default: // OnBoot already reported why
			}
		case err != nil || !l.closing.Load():
			cfg.Logger.Error("netpoll: gnet engine stopped before Shutdown", "err", err)
		}
	}()
	if err := <-s.ready; err != nil {
		<-s.done
		return nil, err
	}
	return s, nil
}

func (s *gnetServer) addr() net.Addr { return s.bound }

func (s *gnetServer) shutdown(ctx context.Context) error {
	// Engine.Stop polls every 500ms for the end; with a done context it only
	// starts the shutdown, and s.done tells when gnet.Run has returned, after
	// every loop closed its connections.
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.eng.Stop(stopped)
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// OnBoot records the bound address: the listener socket exists, the loops
// do not run yet.
func (s *gnetServer) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	fd, err := eng.Dup()
	if err != nil {
		s.ready <- fmt.Errorf("dup listener socket: %w", err)
		return gnet.Shutdown
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		s.ready <- fmt.Errorf("getsockname: %w", err)
		return gnet.Shutdown
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		s.bound = &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		s.bound = &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
	default:
		s.ready <- fmt.Errorf("listener socket has address %T, want IPv4 or IPv6", sa)
		return gnet.Shutdown
	}
	return gnet.None
}

// OnTick fires first once every loop runs; Listen waits for it.
func (s *gnetServer) OnTick() (time.Duration, gnet.Action) {
	if !s.up.Load() {
		s.up.Store(true)
		s.ready <- nil
	}
	return time.Hour, gnet.None
}

func (s *gnetServer) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	if !s.l.admit() {
		return nil, gnet.Close
	}
	c := &gconn{gc: gc}
	c.init(s.l, c, TCP, ownAddr(gc.LocalAddr()), ownAddr(gc.RemoteAddr()))
	c.drain = c.runOnLoop
	gc.SetContext(c)
	if err := c.callOnOpen(); err != nil {
		c.setReason(err)
	}
	return nil, c.afterCallback()
}

func (s *gnetServer) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*gconn)
	data, _ := gc.Next(-1)
	if c == nil {
		return gnet.Close
	}
	s.l.m.bytesIn.Add(len(data))
	if c.reason.Load() == nil {
		if err := c.feed(data); err != nil {
			c.setReason(err)
		}
	}
	return c.afterCallback()
}

func (s *gnetServer) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, _ := gc.Context().(*gconn)
	if c == nil {
		return gnet.None // refused by admit, never opened
	}
	c.closed = true
	candidate := ErrClosed
	switch {
	case err != nil:
		candidate = transportErr(err)
	case s.l.closing.Load():
		candidate = ErrListenerClosed
	}
	c.reason.CompareAndSwap(nil, &candidate)
	reason := c.closeReason(candidate)
	c.countClose(reason)
	c.callOnClose(reason)
	c.releaseBuffers()
	return gnet.None
}

// gconn is a connection served by a gnet loop; the loop is its handler
// goroutine.
type gconn struct {
	connBase
	gc     gnet.Conn
	drain  gnet.RunnableFunc // c.runOnLoop, made once so scheduling does not allocate
	closed bool              // loop only: OnClose ran
}

func (c *gconn) unsent() int { return c.gc.OutboundBuffered() }

func (c *gconn) schedule() {
	// The loop may be gone (engine shutting down); then the connection is
	// closed by the loop's exit and the mailbox fails what it holds.
	_ = c.gc.EventLoop().Execute(context.Background(), c.drain)
}

func (c *gconn) closing(error) {}

func (c *gconn) flush() {
	b := c.out
	if b == nil {
		return
	}
	c.out = nil
	if len(b.B) > 0 && !c.closed {
		// gnet writes now and copies what the kernel refused; on error it
		// closes the connection (OnClose runs inside Write).
		_, _ = c.gc.Write(b.B)
		c.l.m.bytesOut.Add(len(b.B))
	}
	putBuffer(b)
}

// runOnLoop drains the mailbox and acts on a close reason.
func (c *gconn) runOnLoop(context.Context) error {
	if c.closed {
		return nil
	}
	again := c.runTasks()
	if c.afterCallback() == gnet.Close {
		if !c.closed {
			_ = c.gc.EventLoop().Close(c.gc)
		}
		return nil
	}
	if again {
		c.schedule()
	}
	return nil
}

// afterCallback sends the output of the callback that just ran, enforces
// MaxOutboundBytes on what the kernel did not take, and returns Close when
// the connection must close. Loop only.
func (c *gconn) afterCallback() gnet.Action {
	c.flush()
	if c.closed {
		return gnet.None
	}
	if c.gc.OutboundBuffered() > c.l.cfg.MaxOutboundBytes {
		c.setReason(ErrSlowConsumer)
	}
	if c.reason.Load() != nil {
		return gnet.Close
	}
	return gnet.None
}

// ownAddr copies a TCP address whose zone string gnet returns to a pool when
// the connection closes.
func ownAddr(a net.Addr) net.Addr {
	if t, ok := a.(*net.TCPAddr); ok && t.Zone != "" {
		return &net.TCPAddr{IP: t.IP, Port: t.Port, Zone: strings.Clone(t.Zone)}
	}
	return a
}

// gnetLogger sends gnet's logs to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(format string, args ...any) {
	g.l.Debug("gnet: " + fmt.Sprintf(format, args...))
}
func (g gnetLogger) Infof(format string, args ...any) {
	g.l.Debug("gnet: " + fmt.Sprintf(format, args...))
}
func (g gnetLogger) Warnf(format string, args ...any) {
	g.l.Warn("gnet: " + fmt.Sprintf(format, args...))
}
func (g gnetLogger) Errorf(format string, args ...any) {
	g.l.Error("gnet: " + fmt.Sprintf(format, args...))
}
func (g gnetLogger) Fatalf(format string, args ...any) {
	g.l.Error("gnet: fatal: " + fmt.Sprintf(format, args...))
}
