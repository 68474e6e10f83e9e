package raftgroups

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkOffsetCommit commits one offset per call through the offset
// group's leader with 1, 16 and 256 concurrent committers, on a standalone
// node (the baseline: one fsync per Ready, no network) and on a 3-node
// in-memory cluster (every commit synced on a quorum). It reports commits/s
// and the p50/p99 commit latency. Production tick settings (50ms, 5, 20).
//
//	go test -run '^$' -bench BenchmarkOffsetCommit -benchtime 20000x ./raftgroups/
func BenchmarkOffsetCommit(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		c := newCluster(b, nodes, func(cfg *Config) {
			cfg.TickInterval, cfg.HeartbeatTick, cfg.ElectionTick = 50*time.Millisecond, 5, 20
			cfg.Logger = nil
		})
		lead := c.nodes[c.leader(GroupOffset)].meta
		for _, committers := range []int{1, 16, 256} {
			b.Run(fmt.Sprintf("nodes=%d/committers=%d", nodes, committers), func(b *testing.B) {
				benchCommits(b, lead, committers)
			})
		}
	}
}

func benchCommits(b *testing.B, meta Meta, committers int) {
	b.ReportAllocs()
	work := make(chan int, committers)
	lat := make([][]time.Duration, committers)
	var wg sync.WaitGroup
	errs := make(chan error, committers)
	for w := range committers {
		wg.Go(func() {
			ctx := context.Background()
			for i := range work {
				start := time.Now()
				err := meta.CommitOffsets(ctx, "bench", []OffsetCommit{{Topic: "t", Partition: int32(i % 64), Offset: int64(i)}})
				lat[w] = append(lat[w], time.Since(start))
				if err != nil {
					errs <- err
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
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "commits/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}
