package mqtt

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// TestConnChild is the child process of TestConns (it runs only when
// re-executed with BENCH_MQTT_CHILD set).
func TestConnChild(t *testing.T) {
	addr := os.Getenv("BENCH_MQTT_CHILD")
	if addr == "" {
		t.Skip("child process of TestConns")
	}
	n, _ := strconv.Atoi(os.Getenv("BENCH_MQTT_CHILD_N"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := RunConnChild(ctx, addr, n, 60, os.Stdin, os.Stdout); err != nil {
		t.Fatal(err)
	}
}

// TestConns holds idle connections in this process and in two children
// and reads the memory from a Prometheus endpoint.
func TestConns(t *testing.T) {
	addr := startBroker(t)
	// The state writes counter of a broker saving sessions: 0 at the
	// first reading, then every session saved.
	var reads atomic.Int32
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			_, _ = w.Write([]byte("other_metric 1\n"))
			return
		}
		metrics.WritePrometheus(w, true)
		writes := 0
		if reads.Add(1) > 2 {
			writes = 1000
		}
		fmt.Fprintf(w, "robustmq_mqtt_state_writes_total %d\n", writes)
	}))
	defer prom.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f := func(o ConnOptions) {
		t.Helper()
		o.Addr = addr
		r, err := RunConns(ctx, o)
		if err != nil || r.Err != "" || r.Connected != o.Count {
			t.Fatalf("%+v: %v: %s; want %d connected", o, err, r, o.Count)
		}
		if o.MetricsURL != "" && (r.MemBefore <= 0 || r.MemAfter <= 0 || !strings.Contains(r.String(), " per_conn=")) {
			t.Fatalf("%+v: %s: no memory reading", o, r)
		}
		if saved := o.MetricsURL != "" && o.SessionExpiry > 0; saved != (r.Saved > 0) || saved != strings.Contains(r.String(), " saves_rate=") {
			t.Fatalf("%+v: %s: saved_in %v; want it exactly with persistent sessions and metrics", o, r, r.Saved)
		}
	}
	f(ConnOptions{Count: 50, MetricsURL: prom.URL + "/metrics"})
	reads.Store(0)
	f(ConnOptions{Count: 30, MetricsURL: prom.URL + "/metrics", SessionExpiry: 60})
	f(ConnOptions{Count: 21, Procs: 2, SessionExpiry: 60, Child: func(n int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestConnChild$")
		cmd.Env = append(os.Environ(), "BENCH_MQTT_CHILD="+addr, "BENCH_MQTT_CHILD_N="+strconv.Itoa(n))
		return cmd
	}})
	if _, err := RunConns(ctx, ConnOptions{Addr: addr, Count: 1, MetricsURL: prom.URL + "/other"}); err == nil ||
		!strings.Contains(err.Error(), "no process_resident_memory_bytes") {
		t.Fatalf("err %v; want the missing metric named", err)
	}
}
