package meta

import (
	"net"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	f := func(in []time.Duration, p int, want time.Duration) {
		t.Helper()
		if got := percentile(in, p); got != want {
			t.Fatalf("percentile(%v, %d) = %v; want %v", in, p, got, want)
		}
	}
	f(nil, 50, 0)
	f([]time.Duration{7}, 99, 7)
	f([]time.Duration{1, 2, 3, 4}, 50, 2)
	f([]time.Duration{1, 2, 3, 4}, 99, 4)
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	f(hundred, 50, 50)
	f(hundred, 99, 99)
}

func TestRunRefusesBadOptions(t *testing.T) {
	f := func(o Options) {
		t.Helper()
		if err := Run(t.Context(), o, func(Result) {}); err == nil {
			t.Fatalf("Run(%+v) = nil; want an error", o)
		}
	}
	f(Options{Op: "put", Duration: time.Second})
	f(Options{Addrs: []string{"127.0.0.1:1"}, Op: "scan", Duration: time.Second})
	f(Options{Addrs: []string{"127.0.0.1:1"}, Op: "put"})
	f(Options{Addrs: []string{"127.0.0.1:1"}, Op: "put", Duration: time.Second, Clients: []int{0}})
}

// TestRunNoNode: with no node listening, every request fails after RequestTimeout and the run
// still ends on time.
func TestRunNoNode(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	var rs []Result
	err = Run(t.Context(), Options{Addrs: []string{addr}, Op: "commit", Clients: []int{2}, Duration: 100 * time.Millisecond, RequestTimeout: 200 * time.Millisecond},
		func(r Result) { rs = append(rs, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Ops != 0 || rs[0].Errors == 0 || rs[0].Elapsed > 5*time.Second {
		t.Fatalf("results %v; want one run with only errors, ended within 5s", rs)
	}
}
