package netpoll

import (
	"net"
	"sync"
	"testing"
	"time"
)

// lockedWriter writes a big answer while holding a lock its OnClose takes
// too, like a protocol flushing a session under the session's lock.
type lockedWriter struct {
	mu     sync.Mutex
	closed chan error
}

func (h *lockedWriter) OnOpen(Conn) error { return nil }

func (h *lockedWriter) OnData(c Conn, in []byte) (int, error) {
	time.Sleep(100 * time.Millisecond) // let the peer's RST arrive
	h.mu.Lock()
	defer h.mu.Unlock()
	big := make([]byte, 4*maxChunkBytes)
	for i := 0; i < 4 && c.Write(big) == nil; i++ {
	}
	return len(in), nil
}

func (h *lockedWriter) OnClose(_ Conn, reason error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed <- reason
}

// TestCloseInsideWrite: when a write inside a handler call fails (the peer
// reset the connection), OnClose runs after that call returned, not inside
// the Write, so a handler holding a lock its OnClose takes does not
// deadlock its event loop.
func TestCloseInsideWrite(t *testing.T) {
	h := &lockedWriter{closed: make(chan error, 1)}
	l := listen(t, TCP, h, func(c *ListenerConfig) { c.MaxOutboundBytes = 64 << 20 })
	c := dial(t, l)
	if _, err := c.Write([]byte("go")); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).SetLinger(0) // close with RST
	_ = c.Close()
	select {
	case reason := <-h.closed:
		if reason == nil {
			t.Fatal("OnClose with a nil reason")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose did not run within 5s: the loop is stuck in the handler's Write")
	}
}
