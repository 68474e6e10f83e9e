package netpoll

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// echoMode is how frameEcho answers a frame.
type echoMode int

const (
	echoInline echoMode = iota // Write inside OnData
	echoAsync                  // a worker goroutine answers, alternating AsyncWrite and Do
)

// frameEcho echoes whole length-prefixed frames and leaves a partial frame
// unconsumed, so it exercises partial consumption on every split.
type frameEcho struct {
	recorder
	mode echoMode
	work chan echoJob // echoAsync: the simulated fsync worker's queue
}

type echoJob struct {
	c     Conn
	frame []byte
}

func (h *frameEcho) OnOpen(c Conn) error { h.open(c); return nil }

func (h *frameEcho) OnData(c Conn, in []byte) (int, error) {
	var err error
	n := splitFrames(in, func(f []byte) {
		if err != nil {
			return
		}
		if h.mode == echoInline {
			err = c.Write(f)
			return
		}
		select {
		case h.work <- echoJob{c, bytes.Clone(f)}: // the frame outlives OnData: copy
		default:
			err = errors.New("echo test: worker queue full")
		}
	})
	return n, err
}

func (h *frameEcho) OnClose(c Conn, reason error) { h.close(c, reason) }

// startWorker runs the async echo worker until the test ends. It answers
// through AsyncWrite and Do in turn, as a storage completion would.
func (h *frameEcho) startWorker(t *testing.T) {
	h.mode = echoAsync
	h.work = make(chan echoJob, 1<<14)
	done := make(chan struct{})
	t.Cleanup(func() { close(h.work); <-done })
	go func() {
		defer close(done)
		i := 0
		for j := range h.work {
			i++
			var err error
			if i%2 == 0 {
				err = j.c.AsyncWrite(j.frame, func(err error) {
					if err != nil && !errors.Is(err, ErrClosed) {
						t.Errorf("AsyncWrite done: %v", err)
					}
				})
			} else {
				frame := j.frame
				err = j.c.Do(func(c Conn) {
					if err := c.Write(frame); err != nil {
						t.Errorf("Write in Do: %v", err)
					}
				})
			}
			if err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("queue echo: %v", err)
			}
		}
	}()
}

// echoClient sends frames frames of random sizes, written in chunks split
// at random points, and checks the echo byte for byte.
func echoClient(l *Listener, seed uint64, frames, maxPayload int) error {
	rng := rand.New(rand.NewPCG(seed, 1))
	var stream []byte
	for range frames {
		payload := make([]byte, rng.IntN(maxPayload+1))
		for i := range payload {
			payload[i] = byte(rng.Uint32())
		}
		stream = appendFrame(stream, payload)
	}
	c, err := tryDial(l)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	werr := make(chan error, 1)
	go func() {
		rest := stream
		for len(rest) > 0 {
			n := 1 + rng.IntN(len(rest))
			if rng.IntN(4) == 0 {
				n = 1 + rng.IntN(min(len(rest), 8)) // tiny writes split headers
			}
			if _, err := c.Write(rest[:n]); err != nil {
				werr <- err
				return
			}
			rest = rest[n:]
		}
		werr <- nil
	}()
	got := make([]byte, len(stream))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read echo (seed %d): %w", seed, err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write (seed %d): %w", seed, err)
	}
	if !bytes.Equal(got, stream) {
		i := 0
		for i < len(got) && got[i] == stream[i] {
			i++
		}
		return fmt.Errorf("seed %d: echo differs from byte %d of %d", seed, i, len(stream))
	}
	return nil
}

// runClients runs n echo clients at once and reports every failure.
func runClients(t *testing.T, l *Listener, n, frames, maxPayload int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := echoClient(l, uint64(i)+1, frames, maxPayload); err != nil {
				t.Errorf("%s client %d: %v", l.cfg.Transport, i, err)
			}
		})
	}
	wg.Wait()
}

// TestEcho is the contract over every transport: 50 concurrent clients,
// random frame sizes, random splits, echoed inline or from another
// goroutine through AsyncWrite and Do, byte for byte and in order.
func TestEcho(t *testing.T) {
	for _, tr := range allTransports {
		for _, mode := range []echoMode{echoInline, echoAsync} {
			name := tr.String() + "/inline"
			if mode == echoAsync {
				name = tr.String() + "/async"
			}
			t.Run(name, func(t *testing.T) {
				h := &frameEcho{}
				if mode == echoAsync {
					h.startWorker(t)
				}
				l := listen(t, tr, h, nil)
				runClients(t, l, 50, 8, 5000)
				waitFor(t, "every OnClose", func() bool { return h.numClosed() == 50 })
				for _, err := range h.closedWith() {
					if !errors.Is(err, io.EOF) {
						t.Errorf("OnClose reason %v; want io.EOF (client closed)", err)
					}
				}
				if got := l.ConnCount(); got != 0 {
					t.Errorf("ConnCount after clients left = %d; want 0", got)
				}
				if got := closedCount(l, "peer"); got != 50 {
					t.Errorf("closed_total{reason=peer} = %d; want 50", got)
				}
			})
		}
	}
}

// TestEchoBig sends frames larger than an output chunk and than the loop's
// read buffer, so input is kept across many reads and output leaves in
// chunks that the kernel takes in parts.
func TestEchoBig(t *testing.T) {
	for _, tr := range allTransports {
		t.Run(tr.String(), func(t *testing.T) {
			h := &frameEcho{}
			l := listen(t, tr, h, nil)
			runClients(t, l, 4, 3, 300<<10)
		})
	}
}

// blocker parks its handler goroutine in a Do function until released, so
// the test can fill the connection's task queue.
type blocker struct{ recorder }

func (h *blocker) OnOpen(c Conn) error              { h.open(c); return nil }
func (h *blocker) OnData(Conn, []byte) (int, error) { return 0, nil }
func (h *blocker) OnClose(c Conn, reason error)     { h.close(c, reason) }

// TestQueueFull: a connection whose AsyncWrite/Do queue passes
// MaxQueuedTasks is closed with ErrSlowConsumer; its queued AsyncWrites
// complete with ErrClosed and its queued Do functions never run.
func TestQueueFull(t *testing.T) {
	for _, tr := range allTransports {
		t.Run(tr.String(), func(t *testing.T) {
			const maxTasks = 8
			h := &blocker{}
			l := listen(t, tr, h, func(c *ListenerConfig) { c.MaxQueuedTasks = maxTasks })
			cl := dial(t, l)
			defer cl.Close()
			waitFor(t, "OnOpen", func() bool { return h.opened.Load() == 1 })
			c := h.openConns()[0]
			parked, release := make(chan struct{}), make(chan struct{})
			if err := c.Do(func(Conn) { close(parked); <-release }); err != nil {
				t.Fatal(err)
			}
			<-parked
			var failed sync.WaitGroup
			for i := range maxTasks {
				var err error
				if i%2 == 0 {
					failed.Add(1)
					err = c.AsyncWrite([]byte("x"), func(err error) {
						defer failed.Done()
						if !errors.Is(err, ErrClosed) {
							t.Errorf("queued AsyncWrite done(%v); want ErrClosed", err)
						}
					})
				} else {
					err = c.Do(func(Conn) { t.Error("queued Do ran after the queue overflowed") })
				}
				if err != nil {
					t.Fatalf("task %d: %v; want it queued", i, err)
				}
			}
			if err := c.Do(func(Conn) {}); !errors.Is(err, ErrSlowConsumer) {
				t.Fatalf("task over MaxQueuedTasks: %v; want ErrSlowConsumer", err)
			}
			close(release)
			waitFor(t, "OnClose", func() bool { return h.numClosed() == 1 })
			failed.Wait()
			if got := h.closedWith()[0]; !errors.Is(got, ErrSlowConsumer) {
				t.Errorf("OnClose reason %v; want ErrSlowConsumer", got)
			}
		})
	}
}

// TestMaxConns: the connection over the limit is closed before OnOpen and
// counted as rejected.
func TestMaxConns(t *testing.T) {
	for _, tr := range allTransports {
		t.Run(tr.String(), func(t *testing.T) {
			h := &frameEcho{}
			l := listen(t, tr, h, func(c *ListenerConfig) { c.MaxConns = 2 })
			for range 2 {
				c := dial(t, l)
				defer c.Close()
			}
			waitFor(t, "2 open conns", func() bool { return h.opened.Load() == 2 })
			rejected := func() uint64 { return counter(`robustmq_netpoll_rejected_total{listener="` + l.Name() + `"}`) }
			if c, err := tryDial(l); err == nil { // ws: the upgrade itself fails with 503
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if n, err := c.Read(make([]byte, 1)); err == nil {
					t.Fatalf("third conn read %d bytes; want it closed", n)
				}
			}
			waitFor(t, "rejected_total == 1", func() bool { return rejected() == 1 })
			if got := h.opened.Load(); got != 2 {
				t.Errorf("OnOpen ran %d times; want 2", got)
			}
			if got := l.ConnCount(); got != 2 {
				t.Errorf("ConnCount = %d; want 2", got)
			}
		})
	}
}

// flood answers every input byte with 32 KiB and never reads slower: a
// client that does not read must be closed with ErrSlowConsumer.
type flood struct{ recorder }

var floodChunk = make([]byte, 32<<10)

func (h *flood) OnOpen(c Conn) error { h.open(c); return nil }
func (h *flood) OnData(c Conn, in []byte) (int, error) {
	for range in {
		if err := c.Write(floodChunk); err != nil {
			return len(in), err
		}
	}
	return len(in), nil
}
func (h *flood) OnClose(c Conn, reason error) { h.close(c, reason) }

func TestSlowConsumer(t *testing.T) {
	for _, tr := range allTransports {
		t.Run(tr.String(), func(t *testing.T) {
			h := &flood{}
			l := listen(t, tr, h, func(c *ListenerConfig) {
				c.MaxOutboundBytes = 256 << 10
				c.SocketSendBytes = 8 << 10
			})
			c := dial(t, l)
			defer c.Close()
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(8 << 10)
			}
			// Send until the server gives up on us; never read.
			_ = c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			for h.numClosed() == 0 {
				if _, err := c.Write([]byte{1}); err != nil {
					break
				}
			}
			waitFor(t, "OnClose", func() bool { return h.numClosed() == 1 })
			if got := h.closedWith()[0]; !errors.Is(got, ErrSlowConsumer) {
				t.Errorf("OnClose reason %v; want ErrSlowConsumer", got)
			}
			if got := closedCount(l, "slow_consumer"); got != 1 {
				t.Errorf("closed_total{reason=slow_consumer} = %d; want 1", got)
			}
		})
	}
}

// hoarder never consumes: input must stop at MaxInboundBytes.
type hoarder struct{ recorder }

func (h *hoarder) OnOpen(c Conn) error              { h.open(c); return nil }
func (h *hoarder) OnData(Conn, []byte) (int, error) { return 0, nil }
func (h *hoarder) OnClose(c Conn, reason error)     { h.close(c, reason) }

func TestInboundLimit(t *testing.T) {
	for _, tr := range allTransports {
		t.Run(tr.String(), func(t *testing.T) {
			h := &hoarder{}
			l := listen(t, tr, h, func(c *ListenerConfig) { c.MaxInboundBytes = 1000 })
			c := dial(t, l)
			defer c.Close()
			_, _ = c.Write(make([]byte, 4000))
			waitFor(t, "OnClose", func() bool { return h.numClosed() == 1 })
			if got := h.closedWith()[0]; !errors.Is(got, ErrInboundLimit) {
				t.Errorf("OnClose reason %v; want ErrInboundLimit", got)
			}
		})
	}
}

// closer answers "bye" with "ok" and closes from another goroutine with
// errBye; "now" closes from inside OnData by returning errNow.
type closer struct{ recorder }

var (
	errBye = errors.New("closer: client said bye")
	errNow = errors.New("closer: client said now")
)

func (h *closer) OnOpen(c Conn) error { h.open(c); return nil }
func (h *closer) OnData(c Conn, in []byte) (int, error) {
	switch {
	case bytes.HasSuffix(in, []byte("bye")):
		_ = c.Write([]byte("ok"))
		go c.Close(errBye)
		return len(in), nil
	case bytes.HasSuffix(in, []byte("now")):
		_ = c.Write([]byte("ok"))
		return len(in), errNow
	case bytes.HasSuffix(in, []byte("boom")):
		panic("closer: a codec bug")
	case bytes.HasSuffix(in, []byte("later")):
		_ = c.Do(func(Conn) { panic("closer: a bug in a completion") })
		return len(in), nil
	}
	return 0, nil
}
func (h *closer) OnClose(c Conn, reason error) {
	if err := c.Write([]byte("late")); !errors.Is(err, ErrClosed) {
		panic(fmt.Sprintf("Write in OnClose = %v; want ErrClosed", err))
	}
	h.close(c, reason)
}

// TestCloseReason: output written before the close reaches the client, then
// the client sees the connection end, and OnClose sees the reason. A
// handler panic closes only its connection.
func TestCloseReason(t *testing.T) {
	for _, tr := range allTransports {
		for _, tc := range []struct {
			say, reply string
			want       error
			class      string
		}{
			{"bye", "ok", errBye, "handler"},
			{"now", "ok", errNow, "handler"},
			{"boom", "", ErrHandlerPanic, "handler_panic"},
			{"later", "", ErrHandlerPanic, "handler_panic"},
		} {
			t.Run(tr.String()+"/"+tc.say, func(t *testing.T) {
				h := &closer{}
				l := listen(t, tr, h, nil)
				c := dial(t, l)
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write([]byte(tc.say)); err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(c)
				if string(got) != tc.reply {
					t.Errorf("client read %q (err %v); want %q then the end", got, err, tc.reply)
				}
				waitFor(t, "OnClose", func() bool { return h.numClosed() == 1 })
				if got := h.closedWith()[0]; !errors.Is(got, tc.want) {
					t.Errorf("OnClose reason %v; want %v", got, tc.want)
				}
				if got := closedCount(l, tc.class); got != 1 {
					t.Errorf("closed_total{reason=%s} = %d; want 1", tc.class, got)
				}
				c2 := dial(t, l) // the listener still serves
				defer c2.Close()
				_ = c2.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c2.Write([]byte("bye")); err != nil {
					t.Fatal(err)
				}
				if got, err := io.ReadAll(c2); string(got) != "ok" {
					t.Errorf("next client read %q (err %v); want \"ok\"", got, err)
				}
			})
		}
	}
}

// TestShutdown closes every connection with ErrListenerClosed, runs every
// OnClose and leaves no connection behind; later Do calls fail.
func TestShutdown(t *testing.T) {
	for _, tr := range allTransports {
		t.Run(tr.String(), func(t *testing.T) {
			h := &frameEcho{}
			l := listen(t, tr, h, nil)
			var clients []net.Conn
			for range 10 {
				c := dial(t, l)
				defer c.Close()
				clients = append(clients, c)
			}
			waitFor(t, "10 open conns", func() bool { return h.opened.Load() == 10 })
			conns := h.openConns()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := l.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if got := h.numClosed(); got != 10 {
				t.Fatalf("OnClose ran %d times when Shutdown returned; want 10", got)
			}
			for _, err := range h.closedWith() {
				if !errors.Is(err, ErrListenerClosed) {
					t.Errorf("OnClose reason %v; want ErrListenerClosed", err)
				}
			}
			if got := l.ConnCount(); got != 0 {
				t.Errorf("ConnCount = %d; want 0", got)
			}
			if err := conns[0].Do(func(Conn) { t.Error("Do ran after close") }); !errors.Is(err, ErrClosed) {
				t.Errorf("Do after Shutdown = %v; want ErrClosed", err)
			}
			for _, c := range clients {
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Read(make([]byte, 1)); err == nil {
					t.Errorf("client read after Shutdown succeeded; want the end")
				}
			}
			if _, err := tryDial(l); err == nil {
				t.Errorf("dial after Shutdown succeeded")
			}
		})
	}
}

// TestBindError: a port in use fails Listen with the address in the error.
func TestBindError(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	addr := held.Addr().String()
	for _, tr := range allTransports {
		t.Run(tr.String(), func(t *testing.T) {
			srvTLS, _ := testTLS()
			l, err := Listen(ListenerConfig{Name: "busy", Transport: tr, Addr: addr, TLS: srvTLS}, &frameEcho{})
			if err == nil {
				l.Shutdown(context.Background())
				t.Fatalf("Listen on %s in use succeeded", addr)
			}
			if !strings.Contains(err.Error(), addr) || !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("Listen error %q; want it to name %s and match EADDRINUSE", err, addr)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	f := func(cfg ListenerConfig, want ...string) {
		t.Helper()
		_, err := Listen(cfg, &frameEcho{})
		if !errors.Is(err, ErrConfig) {
			t.Fatalf("Listen(%+v) = %v; want ErrConfig", cfg, err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Listen(%+v) error %q; want it to mention %q", cfg, err, w)
			}
		}
	}
	f(ListenerConfig{Transport: TCP, Addr: ":0"}, "Name")
	f(ListenerConfig{Name: `a"b`, Transport: TCP, Addr: ":0"}, "Name")
	f(ListenerConfig{Name: "x", Addr: ":0"}, "Transport")
	f(ListenerConfig{Name: "x", Transport: TCP, Addr: "1883"}, `Addr: "1883"`)
	f(ListenerConfig{Name: "x", Transport: WSS, Addr: ":0"}, "TLS")
	f(ListenerConfig{Name: "x", Transport: TCP, Addr: ":0", MaxConns: -1, MaxInboundBytes: -2}, "MaxConns", "MaxInboundBytes")
}

// TestPeerReset: a connection reset by the peer closes with a socket error
// that wraps ECONNRESET and is counted as io_error.
func TestPeerReset(t *testing.T) {
	for _, tr := range []Transport{TCP, TLS} {
		t.Run(tr.String(), func(t *testing.T) {
			h := &frameEcho{}
			l := listen(t, tr, h, nil)
			raw, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			if tr == TLS {
				_, cliTLS := testTLS()
				cfg := cliTLS.Clone()
				cfg.ServerName = "127.0.0.1"
				tc := tls.Client(raw, cfg)
				if err := tc.Handshake(); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "OnOpen", func() bool { return h.opened.Load() == 1 })
			_ = raw.(*net.TCPConn).SetLinger(0) // close sends RST
			_ = raw.Close()                     // and no TLS close_notify
			waitFor(t, "OnClose", func() bool { return h.numClosed() == 1 })
			if got := h.closedWith()[0]; !errors.Is(got, syscall.ECONNRESET) {
				t.Errorf("OnClose reason %v; want one wrapping ECONNRESET", got)
			}
			if got := closedCount(l, "io_error"); got != 1 {
				t.Errorf("closed_total{reason=io_error} = %d; want 1", got)
			}
		})
	}
}

// TestHandshakeTimeout: a TLS client that never says hello is dropped after
// HandshakeTimeout, never reaches OnOpen, and frees its slot.
func TestHandshakeTimeout(t *testing.T) {
	h := &frameEcho{}
	l := listen(t, TLS, h, func(c *ListenerConfig) {
		c.HandshakeTimeout = 50 * time.Millisecond
		c.MaxConns = 1
	})
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := raw.Read(make([]byte, 1)); err == nil {
		t.Fatalf("silent client read %d bytes; want the connection dropped", n)
	}
	failures := func() uint64 {
		return counter(`robustmq_netpoll_handshake_failures_total{listener="` + l.Name() + `"}`)
	}
	waitFor(t, "handshake failure counted and slot free", func() bool { return failures() == 1 && l.ConnCount() == 0 })
	if got := h.opened.Load(); got != 0 {
		t.Errorf("OnOpen ran %d times; want 0", got)
	}
	if err := echoClient(l, 7, 2, 100); err != nil { // MaxConns 1: the slot was released
		t.Errorf("client after the timeout: %v", err)
	}
}

// TestSharedLoops: TCP listeners share one gnet engine; one listener
// shutting down leaves the other serving, and the last one stops the
// engine.
func TestSharedLoops(t *testing.T) {
	h1, h2 := &frameEcho{}, &frameEcho{}
	l1 := listen(t, TCP, h1, nil)
	l2 := listen(t, TCP, h2, nil)
	var wg sync.WaitGroup
	wg.Go(func() { runClients(t, l1, 10, 4, 2000) })
	wg.Go(func() { runClients(t, l2, 10, 4, 2000) })
	wg.Wait()
	c := dial(t, l1) // open while l1 shuts down
	defer c.Close()
	waitFor(t, "OnOpen", func() bool { return h1.opened.Load() == 11 })
	if err := l1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	runClients(t, l2, 10, 4, 2000)
	if err := l2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.lp != nil || shared.users != 0 {
		t.Errorf("after the last TCP listener: engine %p, users %d; want none", shared.lp, shared.users)
	}
}
