package listener

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

type fakeProbe struct {
	name string
	ok   bool
}

func (p *fakeProbe) Name() string      { return p.name }
func (p *fakeProbe) BoundAddr() string { return "127.0.0.1:1" }
func (p *fakeProbe) Accepting() bool   { return p.ok }

func TestRegistry(t *testing.T) {
	var r Registry
	if ok, down := r.Accepting(); !ok || down != "" {
		t.Fatalf("empty registry: Accepting() = %v, %q; want true, \"\"", ok, down)
	}
	a, b := &fakeProbe{"a", true}, &fakeProbe{"b", true}
	if err := r.Add(a); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(b); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(&fakeProbe{"a", true}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("Add(duplicate a) = %v; want ErrDuplicate", err)
	}
	b.ok = false
	if ok, down := r.Accepting(); ok || down != "b" {
		t.Fatalf("b down: Accepting() = %v, %q; want false, \"b\"", ok, down)
	}
	r.Remove("b")
	if ok, _ := r.Accepting(); !ok {
		t.Fatal("after Remove(b): Accepting() = false; want true")
	}
	if got := r.List(); len(got) != 1 || got[0].Name() != "a" {
		t.Fatalf("List() = %v; want [a]", got)
	}
}

func TestListenerCounts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap("test_counts", ln)
	m := MetricsFor("test_counts")
	if m != l.m {
		t.Fatal("MetricsFor returned a second Metrics for one name")
	}
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			done <- err
			return
		}
		_, err = c.Write([]byte("pong!!"))
		c.Close()
		c.Close() // a second Close must not decrement the gauge twice
		done <- err
	}()
	c, err := net.Dial("tcp", l.BoundAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping!")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what      string
		got, want float64
	}{
		{"accepted", float64(m.Accepted.Get()), 1},
		{"received bytes", float64(m.ReceivedBytes.Get()), 5},
		{"sent bytes", float64(m.SentBytes.Get()), 6},
		{"connections", m.Connections.Get(), 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v; want %v", tc.what, tc.got, tc.want)
		}
	}
	if !l.Accepting() {
		t.Fatal("open listener: Accepting() = false")
	}
	l.Close()
	if l.Accepting() {
		t.Fatal("closed listener: Accepting() = true")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v; want net.ErrClosed", err)
	}
}

func TestMetricsErrors(t *testing.T) {
	m := MetricsFor("test_errors")
	m.Error("decode")
	m.Error("decode")
	m.Error("accept")
	var b bytes.Buffer
	metrics.WritePrometheus(&b, false)
	for _, want := range []string{
		`robustmq_listener_errors_total{listener="test_errors",reason="decode"} 2`,
		`robustmq_listener_errors_total{listener="test_errors",reason="accept"} 1`,
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("metrics output has no line %q", want)
		}
	}
}
