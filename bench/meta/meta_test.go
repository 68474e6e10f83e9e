package meta

import (
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
