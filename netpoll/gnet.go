package netpoll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// TCP listeners accept with the standard library (the Go netpoller, so a
// bind error names the port and port 0 just works) and enroll every
// accepted socket into one gnet engine shared by all TCP listeners of the
// process. Its loops are the only threads that block in epoll_wait outside
// the Go scheduler: five protocols cost EventLoops threads, not five times
// as many.
//
// The engine needs a listener of its own to run; it binds one on a
// loopback port 0 that nobody is told about, and drops what connects there.

// loops is the shared engine. Its EventHandler methods run on its loops.
type loops struct {
	gnet.BuiltinEventEngine
	log *slog.Logger

	eng   gnet.Engine   // written in OnBoot, before ready; read-only after
	ready chan error    // gets one value: nil once the loops run, or why Run failed
	up    atomic.Bool   // the loops ran (ready got nil)
	done  chan struct{} // closed when gnet.Run has returned
}

// shared counts the TCP listeners using the engine; the first starts it,
// the last stops it and waits for it.
var shared struct {
	mu    sync.Mutex
	lp    *loops // guarded by mu
	users int    // guarded by mu
}

// errEngineStopped is reported when gnet.Run returns before its loops ran.
var errEngineStopped = errors.New("netpoll: gnet engine stopped before it started")

// acquireLoops returns the running engine, starting it with cfg's
// EventLoops and ReadBufferBytes if no TCP listener is open.
func acquireLoops(cfg ListenerConfig) (*loops, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.lp == nil {
		lp, err := startLoops(cfg)
		if err != nil {
			return nil, err
		}
		shared.lp = lp
	}
	shared.users++
	return shared.lp, nil
}

// releaseLoops stops the engine when the last TCP listener leaves.
func releaseLoops() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.users--; shared.users > 0 {
		return
	}
	lp := shared.lp
	shared.lp = nil
	// Engine.Stop polls every 500ms for the end; with a done context it
	// only starts the shutdown, and lp.done tells when gnet.Run returned.
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	_ = lp.eng.Stop(stopped)
	<-lp.done
}

func startLoops(cfg ListenerConfig) (*loops, error) {
	lp := &loops{log: cfg.Logger, ready: make(chan error, 1), done: make(chan struct{})}
	opts := []gnet.Option{
		gnet.WithNumEventLoop(cfg.EventLoops),
		// One private loopback socket per loop, so no reactor goroutine
		// blocks in epoll_wait just to accept from it.
		gnet.WithReusePort(true),
		gnet.WithReadBufferCap(cfg.ReadBufferBytes),
		// Accepts come from several listeners' goroutines at once, which
		// the default round robin does not allow.
		gnet.WithLoadBalancing(gnet.LeastConnections),
		gnet.WithTicker(true), // the first OnTick tells that the loops run
		gnet.WithLogger(gnetLogger{cfg.Logger}),
	}
	go func() {
		defer close(lp.done)
		err := gnet.Run(lp, "tcp://127.0.0.1:0", opts...)
		if lp.up.Load() {
			if err != nil {
				lp.log.Error("netpoll: gnet engine stopped", "err", err)
			}
			return
		}
		if err == nil {
			err = errEngineStopped
		}
		lp.ready <- err
	}()
	if err := <-lp.ready; err != nil {
		<-lp.done
		return nil, fmt.Errorf("start gnet loops: %w", err)
	}
	return lp, nil
}

func (lp *loops) OnBoot(eng gnet.Engine) gnet.Action {
	lp.eng = eng
	return gnet.None
}

// OnTick fires first once every loop runs; startLoops waits for it.
func (lp *loops) OnTick() (time.Duration, gnet.Action) {
	if !lp.up.Load() {
		lp.up.Store(true)
		lp.ready <- nil
	}
	return time.Hour, gnet.None
}

func (lp *loops) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	s, _ := gc.Context().(*tcpServer)
	if s == nil {
		return nil, gnet.Close // someone found the engine's own socket
	}
	c := &gconn{gc: gc, s: s}
	c.init(s.l, c, TCP, ownAddr(gc.LocalAddr()), ownAddr(gc.RemoteAddr()))
	c.drain = c.runOnLoop
	if !s.set.add(c) {
		return nil, gnet.Close // OnClose sees the *tcpServer and settles it
	}
	gc.SetContext(c)
	c.enter()
	err := c.callOnOpen()
	c.leave()
	if err != nil {
		c.setReason(err)
	}
	return nil, c.afterCallback()
}

func (lp *loops) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*gconn)
	data, _ := gc.Next(-1)
	if c == nil {
		return gnet.Close
	}
	c.l.m.bytesIn.Add(len(data))
	if c.reason.Load() == nil {
		c.enter()
		err := c.feed(data)
		c.leave()
		if err != nil {
			c.setReason(err)
		}
	}
	return c.afterCallback()
}

func (lp *loops) OnClose(gc gnet.Conn, err error) gnet.Action {
	switch v := gc.Context().(type) {
	case *gconn:
		v.onClose(err)
	case *tcpServer: // enrolled after its listener began shutting down
		v.l.m.closed[closeShutdown].Inc()
		v.l.release()
		v.set.leave(nil)
	}
	return gnet.None
}

// tcpServer is one TCP listener: its own accept goroutine, the shared
// loops for everything else.
type tcpServer struct {
	l          *Listener
	lp         *loops
	ln         net.Listener
	acceptDone chan struct{} // closed when acceptLoop returns
	set        connSet[*gconn]
}

func listenTCP(l *Listener) (server, error) {
	ln, err := listenSocket(l.cfg)
	if err != nil {
		return nil, err
	}
	lp, err := acquireLoops(l.cfg)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	s := &tcpServer{l: l, lp: lp, ln: ln, acceptDone: make(chan struct{})}
	go s.acceptLoop()
	return s, nil
}

func (s *tcpServer) addr() net.Addr { return s.ln.Addr() }

func (s *tcpServer) acceptLoop() {
	defer close(s.acceptDone)
	acceptLoop(s.ln, s.l, func(raw net.Conn) {
		if !s.set.enter() {
			_ = raw.Close()
			s.l.m.rejected.Inc()
			s.l.release()
			return
		}
		// gnet dups the socket, closes raw and opens the copy on a loop.
		// Waiting for that keeps one enrollment in flight per listener, so
		// gnet's enrollment worker pool stays small in a connection storm.
		ctx := gnet.NewNetConnContext(gnet.NewContext(context.Background(), s), raw)
		res, err := s.lp.eng.Register(ctx)
		if err == nil {
			err = (<-res).Err
		} else {
			_ = raw.Close()
		}
		if err != nil {
			s.l.log.Error("netpoll: enroll connection in gnet", "err", err)
			s.l.m.rejected.Inc()
			s.l.release()
			s.set.leave(nil)
		}
	})
}

func (s *tcpServer) shutdown(ctx context.Context) error {
	return s.set.shutdown(ctx, func() error {
		err := s.ln.Close()
		<-s.acceptDone
		return err
	}, releaseLoops)
}

// gconn is a connection served by a gnet loop; the loop is its handler
// goroutine.
type gconn struct {
	connBase
	gc     gnet.Conn
	s      *tcpServer
	drain  gnet.RunnableFunc // c.runOnLoop, made once so scheduling does not allocate
	closed bool              // loop only: OnClose ran
	// busy counts the handler calls of c running on the loop (loop only).
	// A Write inside one may flush a full chunk, and gnet closes a
	// connection whose write fails inside that write: its OnClose then
	// waits in closeErr and is settled when the handler returned, because
	// the handler may hold locks its own OnClose takes.
	busy     int
	closeErr *error
}

// enter and leave bracket handler code of c running on its loop.
func (c *gconn) enter() { c.busy++ }

func (c *gconn) leave() {
	if c.busy--; c.busy == 0 && c.closeErr != nil {
		err := *c.closeErr
		c.closeErr = nil
		c.settle(err)
	}
}

func (c *gconn) unsent() int { return c.gc.OutboundBuffered() }

func (c *gconn) schedule() {
	// The engine stops only after every connection of every TCP listener
	// was settled, so the loop is there to run the drain.
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
	c.enter()
	again := c.runTasks()
	c.leave()
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

// onClose settles a closed connection, or, inside a handler call of c,
// marks it closed and settles it when the call returns (see busy). Loop
// only, once.
func (c *gconn) onClose(err error) {
	c.closed = true
	if c.busy > 0 {
		c.closeErr = &err
		return
	}
	c.settle(err)
}

// settle runs OnClose and releases c. Loop only, once.
func (c *gconn) settle(err error) {
	candidate := ErrClosed
	switch {
	case err != nil:
		candidate = transportErr(err)
	case c.l.closing.Load():
		candidate = ErrListenerClosed
	}
	c.reason.CompareAndSwap(nil, &candidate)
	reason := c.closeReason(candidate)
	c.countClose(reason)
	c.callOnClose(reason)
	c.releaseBuffers()
	c.s.set.leave(c)
}

// ownAddr copies a TCP address whose zone string gnet hands to a byte
// pool when the connection closes.
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

// RunNow runs fn(b) at once, as a Do function of b would run (its output
// sent when fn returns, a close reason acted on by b's next drain), when
// a and b are distinct TCP connections of one gnet loop, and reports
// whether it did; otherwise it does nothing (use b.Do).
// REQUIRES: the caller is in a callback of a (OnData, a Do function), so
// the loop running it is b's handler goroutine too and no callback of b
// runs meanwhile. A protocol uses it to serve, at the end of a read, the
// connections that read fed (a subscriber fed by many publishers on its
// loop would otherwise get one Do per loop turn, after every ready read).
func RunNow(a, b Conn, fn func(Conn)) bool {
	ga, ok := a.(*gconn)
	gb, ok2 := b.(*gconn)
	if !ok || !ok2 || ga == gb || gb.closed || ga.gc.EventLoop() != gb.gc.EventLoop() {
		return false
	}
	gb.enter()
	gb.runTask(&task{fn: fn})
	gb.leave()
	if gb.afterCallback() == gnet.Close {
		gb.schedule() // the drain closes it, outside a's callback
	}
	return true
}
