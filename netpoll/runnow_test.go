package netpoll

import (
	"errors"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// runner answers each byte from a connection by running a Write of 'r' on
// every other open connection with RunNow, and replies with how many ran
// ('0'+n). It records a RunNow whose answer disagrees with the loops.
type runner struct {
	recorder
	wrong atomic.Int64
}

func (h *runner) OnOpen(c Conn) error          { h.open(c); return nil }
func (h *runner) OnClose(c Conn, reason error) { h.close(c, reason) }
func (h *runner) OnData(a Conn, in []byte) (int, error) {
	h.mu.Lock()
	others := slices.Collect(func(yield func(Conn) bool) {
		for _, c := range h.conns {
			if !yield(c) {
				return
			}
		}
	})
	h.mu.Unlock()
	for range in {
		n := 0
		for _, b := range others {
			same := a.(*gconn).gc.EventLoop() == b.(*gconn).gc.EventLoop() && a != b
			ran := RunNow(a, b, func(c Conn) { _ = c.Write([]byte{'r'}) })
			if ran != same {
				h.wrong.Add(1)
			}
			if ran {
				n++
			}
		}
		if err := a.Write([]byte{byte('0' + n)}); err != nil {
			return 0, err
		}
	}
	return len(in), nil
}

// TestRunNow: RunNow runs a function for another connection of the same
// loop at once (its output arrives), never for the connection itself or
// one of another loop.
func TestRunNow(t *testing.T) {
	h := &runner{}
	l := listen(t, TCP, h, nil)
	const n = 6 // more than the test loops: two of them share one
	cs := make([]net.Conn, n)
	for i := range cs {
		cs[i] = dial(t, l)
		defer cs[i].Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.opened.Load() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling OnOpen of the dials above
	}
	ran, got := 0, 0
	buf := make([]byte, 64)
	for i, c := range cs {
		if _, err := c.Write([]byte{'x'}); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(deadline)
		for reply := false; !reply; {
			k, err := c.Read(buf[:1])
			if err != nil || k != 1 {
				t.Fatalf("client %d: reading the reply: %v", i, err)
			}
			if buf[0] == 'r' {
				got++
				continue
			}
			ran += int(buf[0] - '0')
			reply = true
		}
	}
	for i, c := range cs { // the 'r's not read while waiting for replies
		for got < ran {
			_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			k, err := c.Read(buf)
			got += k
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			if err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
		}
	}
	if w := h.wrong.Load(); w != 0 || ran == 0 || got != ran {
		t.Fatalf("RunNow: %d answers disagreed with the loops, %d ran, %d writes arrived; want 0, > 0, all", w, ran, got)
	}
}
