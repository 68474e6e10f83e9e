// Package harness holds what the raftgroups tests and benchmarks over the
// in-memory and the gRPC transports share: polling to a deadline and a load
// driver reporting throughput and latency percentiles.
package harness

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// WaitFor polls cond every 5ms until it holds, failing t after d.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Load calls op b.N times from callers goroutines (op gets the call number)
// and reports ops/s and the p50/p99 latency in milliseconds. The first
// error fails the benchmark.
func Load(b *testing.B, callers int, op func(ctx context.Context, i int) error) {
	b.ReportAllocs()
	work := make(chan int, callers)
	lat := make([][]time.Duration, callers)
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for w := range callers {
		wg.Go(func() {
			ctx := context.Background()
			for i := range work {
				start := time.Now()
				err := op(ctx, i)
				lat[w] = append(lat[w], time.Since(start))
				if err != nil {
					errs <- err
					for range work { // let the producer finish
					}
					return
				}
			}
		})
	}
	start := time.Now()
	i := 0
	for b.Loop() {
		work <- i
		i++
	}
	// b.Loop stopped the timer with up to callers ops still in flight; count
	// their completion too, so ns/op matches ops/s.
	b.StartTimer()
	close(work)
	wg.Wait()
	b.StopTimer()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}
