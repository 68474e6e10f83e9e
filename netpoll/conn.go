package netpoll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Listener serves one Handler on one address and transport.
type Listener struct {
	cfg   ListenerConfig
	log   *slog.Logger // cfg.Logger with the listener's name
	h     Handler
	m     *listenerMetrics
	srv   server
	conns atomic.Int64 // admitted and not yet released connections

	closing  atomic.Bool // Shutdown started: refuse new connections
	shutOnce sync.Once
	shutErr  error // set inside shutOnce
}

// admit counts a new connection or refuses it (MaxConns reached, shutting
// down). Every true must be paired with one release.
func (l *Listener) admit() bool {
	if l.closing.Load() {
		l.m.rejected.Inc()
		return false
	}
	n := l.conns.Add(1)
	if max := l.cfg.MaxConns; max > 0 && n > int64(max) {
		l.conns.Add(-1)
		l.m.rejected.Inc()
		return false
	}
	l.m.accepted.Inc()
	l.m.conns.Inc()
	return true
}

func (l *Listener) release() {
	l.conns.Add(-1)
	l.m.conns.Dec()
}

// lastID numbers connections process-wide.
var lastID atomic.Uint64

// transport is what connBase needs from the code that owns the socket.
type transport interface {
	// unsent is the output handed to the transport and not yet accepted by
	// the kernel. Handler goroutine only.
	unsent() int
	// flush hands c.out to the transport and sets it to nil. Handler
	// goroutine only.
	flush()
	// schedule makes the handler goroutine drain the mailbox and act on a
	// close reason soon. Any goroutine; never blocks.
	schedule()
	// closing is called once, by the goroutine whose setReason won.
	closing(reason error)
}

// connBase is the transport-independent half of a connection: the Conn
// methods, the input and output buffers and the task mailbox.
type connBase struct {
	id        uint64
	l         *Listener
	t         transport
	local     net.Addr
	remote    net.Addr
	transport Transport

	// Handler goroutine only.
	ctx any
	in  *buffer // unconsumed input, nil when none
	out *buffer // output of the current callback, nil when none

	reason atomic.Pointer[error] // first close reason; nil while open
	box    mailbox
}

func (c *connBase) init(l *Listener, t transport, tr Transport, local, remote net.Addr) {
	c.id = lastID.Add(1)
	c.l, c.t, c.transport = l, t, tr
	c.local, c.remote = local, remote
}

func (c *connBase) ID() uint64           { return c.id }
func (c *connBase) LocalAddr() net.Addr  { return c.local }
func (c *connBase) RemoteAddr() net.Addr { return c.remote }
func (c *connBase) Listener() string     { return c.l.cfg.Name }
func (c *connBase) Transport() Transport { return c.transport }
func (c *connBase) Context() any         { return c.ctx }
func (c *connBase) SetContext(v any)     { c.ctx = v }

func (c *connBase) OutboundBuffered() int {
	n := c.t.unsent()
	if c.out != nil {
		n += len(c.out.B)
	}
	return n
}

func (c *connBase) Write(p []byte) error {
	if c.reason.Load() != nil {
		return ErrClosed
	}
	if c.OutboundBuffered()+len(p) > c.l.cfg.MaxOutboundBytes {
		c.setReason(ErrSlowConsumer)
		return ErrSlowConsumer
	}
	for len(p) > 0 {
		n := len(p)
		if c.out != nil {
			n = min(n, maxChunkBytes-len(c.out.B))
		} else {
			n = min(n, maxChunkBytes)
		}
		c.out = appendBuffer(c.out, p[:n])
		if p = p[n:]; len(p) > 0 {
			// c.out is full: send it and go on in a fresh buffer.
			c.t.flush()
			if c.reason.Load() != nil {
				return ErrClosed
			}
		}
	}
	return nil
}

func (c *connBase) AsyncWrite(p []byte, done func(error)) error {
	return c.push(task{p: p, done: done})
}

func (c *connBase) Do(fn func(Conn)) error {
	return c.push(task{fn: fn})
}

func (c *connBase) push(t task) error {
	trigger, err := c.box.push(t, c.l.cfg.MaxQueuedTasks, c.l.cfg.MaxOutboundBytes)
	if errors.Is(err, ErrSlowConsumer) {
		c.setReason(ErrSlowConsumer)
	}
	if trigger {
		c.t.schedule()
	}
	return err
}

func (c *connBase) Close(reason error) error {
	if reason == nil {
		reason = ErrClosed
	}
	if !c.setReason(reason) {
		return ErrClosed
	}
	return nil
}

// setReason records the first close reason and tells the transport. It
// reports whether this call was the first.
func (c *connBase) setReason(reason error) bool {
	if !c.reason.CompareAndSwap(nil, &reason) {
		return false
	}
	c.t.closing(reason)
	if c.box.kick() {
		c.t.schedule()
	}
	return true
}

// closeReason is the recorded reason, or fallback if there is none.
func (c *connBase) closeReason(fallback error) error {
	if r := c.reason.Load(); r != nil {
		return *r
	}
	return fallback
}

// feed presents data, after any kept input, to the handler and keeps what
// it did not consume. Handler goroutine only.
func (c *connBase) feed(data []byte) error {
	in := data
	if c.in != nil {
		c.in = appendBuffer(c.in, data)
		in = c.in.B
	}
	n, err := c.callOnData(in)
	if err != nil {
		return err
	}
	if n < 0 || n > len(in) {
		return ErrBadConsume
	}
	rest := in[n:]
	switch {
	case len(rest) == 0:
		if c.in != nil {
			putBuffer(c.in)
			c.in = nil
		}
	case len(rest) > c.l.cfg.MaxInboundBytes:
		return ErrInboundLimit
	case c.in == nil:
		c.in = appendBuffer(nil, rest)
	case cap(c.in.B) > 4<<10 && len(rest) <= cap(c.in.B)/4:
		// A big frame left a big buffer behind: keep the rest in a small
		// one, so an idle connection does not hold its largest frame.
		small := appendBuffer(nil, rest)
		putBuffer(c.in)
		c.in = small
	default:
		c.in.B = c.in.B[:copy(c.in.B, rest)]
	}
	return nil
}

// self is the Conn handed to the handler: the outer gnet or std conn, so
// that handlers can compare Conn values by identity.
func (c *connBase) self() Conn { return c.t.(Conn) }

// runTasks runs one batch of queued tasks and reports whether more arrived
// meanwhile. Handler goroutine only.
func (c *connBase) runTasks() (again bool) {
	batch := c.box.take()
	for i := range batch {
		c.runTask(&batch[i])
	}
	return c.box.finish(batch)
}

func (c *connBase) runTask(t *task) {
	defer c.guard("a Do or AsyncWrite callback", nil)
	if t.fn != nil {
		if c.reason.Load() == nil {
			t.fn(c.self())
		}
		return
	}
	err := c.Write(t.p)
	if t.done != nil {
		t.done(err)
	}
}

// The Handler calls below turn a panic into a close with ErrHandlerPanic:
// a codec bug hit by one client's bytes must not stop the process.

func (c *connBase) callOnOpen() (err error) {
	defer c.guard("OnOpen", &err)
	return c.l.h.OnOpen(c.self())
}

func (c *connBase) callOnData(in []byte) (n int, err error) {
	defer c.guard("OnData", &err)
	return c.l.h.OnData(c.self(), in)
}

func (c *connBase) callOnClose(reason error) {
	defer c.guard("OnClose", nil)
	c.l.h.OnClose(c.self(), reason)
}

// guard recovers a panic of handler code, logs it with its stack and
// closes the connection with ErrHandlerPanic, also reported through err.
func (c *connBase) guard(where string, err *error) {
	r := recover()
	if r == nil {
		return
	}
	c.l.log.Error("netpoll: handler panicked", "in", where, "conn", c.id,
		"remote", c.remote.String(), "panic", r, "stack", string(debug.Stack()))
	e := fmt.Errorf("%w in %s: %v", ErrHandlerPanic, where, r)
	if err != nil {
		*err = e
	}
	c.setReason(e)
}

// releaseBuffers returns the buffers to their pools and fails the queued
// writes. Handler goroutine only, once, after OnClose.
func (c *connBase) releaseBuffers() {
	if c.in != nil {
		putBuffer(c.in)
		c.in = nil
	}
	if c.out != nil {
		putBuffer(c.out)
		c.out = nil
	}
	for _, t := range c.box.close() {
		if t.done != nil {
			c.failTask(t.done)
		}
	}
}

func (c *connBase) failTask(done func(error)) {
	defer c.guard("an AsyncWrite callback", nil)
	done(ErrClosed)
}

// countClose counts the close and frees the connection's slot, just before
// OnClose, so that an observer of OnClose sees the metrics already moved.
// Handler goroutine only, once.
func (c *connBase) countClose(reason error) {
	c.l.m.closed[classify(reason)].Inc()
	c.l.release()
}

// ioError is a close reason that came from the socket.
type ioError struct{ err error }

func (e *ioError) Error() string { return "netpoll: connection I/O: " + e.err.Error() }
func (e *ioError) Unwrap() error { return e.err }

// transportErr makes a socket error a close reason: the many spellings of
// a clean peer close become io.EOF, the rest an *ioError.
func transportErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return &ioError{err}
}

// task is one AsyncWrite (p, done) or Do (fn).
type task struct {
	fn   func(Conn)
	p    []byte
	done func(error)
}

// mailbox is the bounded queue of tasks from other goroutines to the
// handler goroutine of one connection: a mutex and a slice, drained in
// batches. Full policy: push fails with ErrSlowConsumer and the connection
// is closed, because a protocol that cannot deliver its completions cannot
// keep its session consistent.
type mailbox struct {
	mu        sync.Mutex
	q         []task // guarded by mu
	spare     []task // guarded by mu: the previous batch, reused
	bytes     int    // guarded by mu: AsyncWrite bytes in q
	scheduled bool   // guarded by mu: a drain is pending on the handler goroutine
	closed    bool   // guarded by mu
}

// push queues t and reports whether the caller must schedule a drain.
func (m *mailbox) push(t task, maxTasks, maxBytes int) (trigger bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return false, ErrClosed
	case len(m.q) >= maxTasks || m.bytes+len(t.p) > maxBytes:
		return false, ErrSlowConsumer
	}
	m.q = append(m.q, t)
	m.bytes += len(t.p)
	trigger = !m.scheduled
	m.scheduled = true
	return trigger, nil
}

// kick asks for a drain without a task (to act on a close reason) and
// reports whether the caller must schedule it.
func (m *mailbox) kick() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.scheduled {
		return false
	}
	m.scheduled = true
	return true
}

// take removes the queued tasks. Handler goroutine only; pair with finish.
func (m *mailbox) take() []task {
	m.mu.Lock()
	defer m.mu.Unlock()
	batch := m.q
	m.q, m.spare = m.spare[:0], nil
	m.bytes = 0
	return batch
}

// finish recycles a batch from take and reports whether more tasks are
// queued; if not, the next push schedules again.
func (m *mailbox) finish(batch []task) (again bool) {
	clear(batch)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.spare == nil {
		m.spare = batch[:0]
	}
	again = len(m.q) > 0 && !m.closed
	m.scheduled = again
	return again
}

// close refuses further pushes and returns the tasks never run.
func (m *mailbox) close() []task {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	left := m.q
	m.q, m.spare, m.bytes = nil, nil, 0
	return left
}

// closable is what a connSet closes on shutdown.
type closable interface {
	comparable
	setReason(error) bool
}

// connSet tracks a listener's connections so that Shutdown can close them
// and wait until each one is settled (OnClose ran, or it was refused).
type connSet[C closable] struct {
	mu     sync.Mutex
	conns  map[C]struct{} // guarded by mu: open connections
	closed bool           // guarded by mu: shutdown started
	wg     sync.WaitGroup // one per entered connection until leave; Add under mu
}

// enter counts an accepted connection, or reports false once shutdown
// started. Every true is paired with one leave.
func (s *connSet[C]) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// add makes an entered connection visible to shutdown, or reports false
// once shutdown started (the caller then closes it itself).
func (s *connSet[C]) add(c C) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLocked(c, false)
}

// join is enter and add at once.
func (s *connSet[C]) join(c C) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLocked(c, true)
}

func (s *connSet[C]) addLocked(c C, enter bool) bool {
	if s.closed {
		return false
	}
	if enter {
		s.wg.Add(1)
	}
	if s.conns == nil {
		s.conns = make(map[C]struct{})
	}
	s.conns[c] = struct{}{}
	return true
}

// leave settles an entered connection; c may be the zero C if it was never
// added.
func (s *connSet[C]) leave(c C) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// shutdown refuses new connections, closes the open ones with
// ErrListenerClosed once stop (which stops accepting) returned, and waits
// for all to leave, then runs after; or returns ctx.Err() first.
func (s *connSet[C]) shutdown(ctx context.Context, stop func() error, after func()) error {
	s.mu.Lock()
	s.closed = true
	conns := make([]C, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	err := stop()
	for _, c := range conns {
		c.setReason(ErrListenerClosed)
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		after()
		close(done)
	}()
	select {
	case <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
