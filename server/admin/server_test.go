package admin

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"robustmq/server/node/listener"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestServerLife(t *testing.T) {
	var reg listener.Registry
	var ready atomic.Bool
	for _, pprofOn := range []bool{false, true} {
		s := New(Options{
			Addr: "127.0.0.1:0", Listeners: &reg, Pprof: pprofOn,
			Ready: func() (bool, string) { return ready.Load(), "starting" },
		})
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		base := "http://" + s.Addr()
		if ps := reg.List(); len(ps) != 1 || ps[0].Name() != "http" || !ps[0].Accepting() {
			t.Fatalf("registry after Start = %v; want one accepting \"http\" probe", ps)
		}

		ready.Store(false)
		if code, body := get(t, base+"/health/ready"); code != 503 || body != `{"code":503,"data":null,"error":"not ready: starting"}` {
			t.Fatalf("ready before ready = %d %s", code, body)
		}
		ready.Store(true)
		if code, body := get(t, base+"/health/ready"); code != 200 || body != `{"code":0,"data":{"status":"ready"},"error":null}` {
			t.Fatalf("ready = %d %s", code, body)
		}
		if code, body := get(t, base+"/nope"); code != 404 || body != `{"code":404,"data":null,"error":"admin: no route for GET /nope"}` {
			t.Fatalf("GET /nope = %d %s; want 404 in an envelope", code, body)
		}
		code, body := get(t, base+"/metrics")
		for _, want := range []string{
			"go_goroutines", "process_resident_memory_bytes",
			`robustmq_admin_http_requests_total{path="GET /health/ready",code="503"}`,
			`robustmq_admin_http_requests_total{path="unmatched",code="404"}`,
			`robustmq_listener_accepted_total{listener="http"}`,
		} {
			if code != 200 || !strings.Contains(body, want) {
				t.Fatalf("GET /metrics = %d, missing %q", code, want)
			}
		}
		if code, _ := get(t, base+"/debug/pprof/"); (code == 200) != pprofOn {
			t.Fatalf("pprof_enable=%v: GET /debug/pprof/ = %d", pprofOn, code)
		}

		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ps := reg.List(); len(ps) != 0 {
			t.Fatalf("registry after Stop = %v; want empty", ps)
		}
		if _, err := http.Get(base + "/health/live"); err == nil {
			t.Fatal("server still answers after Stop")
		}
	}
}

func TestPrometheus(t *testing.T) {
	var reg listener.Registry
	p := NewPrometheus("127.0.0.1:0", nil, &reg)
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer p.Stop(context.Background())
	code, body := get(t, "http://"+p.Addr()+"/metrics")
	if code != 200 || !strings.Contains(body, "go_memstats_alloc_bytes") || !strings.Contains(body, "process_cpu_seconds_total") {
		t.Fatalf("GET /metrics = %d, no Go runtime or process metrics in:\n%.300s", code, body)
	}
	if code, _ := get(t, "http://"+p.Addr()+"/api/v1/login"); code != 404 {
		t.Fatalf("prometheus port serves more than /metrics: /api/v1/login = %d", code)
	}
}

func TestStartPortInUse(t *testing.T) {
	a := NewPrometheus("127.0.0.1:0", nil, nil)
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	b := NewPrometheus(a.Addr(), nil, nil)
	err := b.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.HasPrefix(err.Error(), "admin: prometheus: ") {
		t.Fatalf("second bind of %s: %v; want \"admin: prometheus: ... address already in use\"", a.Addr(), err)
	}
	if err := b.Stop(context.Background()); err != nil {
		t.Fatalf("Stop of a server that never started: %v", err)
	}
}
