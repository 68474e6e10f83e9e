package raftgroups

import (
	"context"
	"fmt"
	"testing"
	"time"

	"robustmq/raftgroups/internal/harness"
)

// BenchmarkOffsetCommit commits one offset per call through the offset
// group's leader with 1, 16 and 256 concurrent committers, on a standalone
// node (the baseline: one fsync per Ready, no network) and on a 3-node
// in-memory cluster (every commit synced on a quorum). It reports commits/s
// (ops/s) and the p50/p99 commit latency. Production ticks (50ms, 5, 20).
//
//	go test -run '^$' -bench BenchmarkOffsetCommit -benchtime 20000x ./raftgroups/
func BenchmarkOffsetCommit(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		c := newCluster(b, nodes, func(cfg *Config) {
			cfg.TickInterval, cfg.HeartbeatTick, cfg.ElectionTick = 50*time.Millisecond, 5, 20
		})
		lead := c.nodes[c.leader(GroupOffset)].meta
		for _, committers := range []int{1, 16, 256} {
			b.Run(fmt.Sprintf("nodes=%d/committers=%d", nodes, committers), func(b *testing.B) {
				harness.Load(b, committers, func(ctx context.Context, i int) error {
					return lead.CommitOffsets(ctx, "bench", []OffsetCommit{{Topic: "t", Partition: int32(i % 64), Offset: int64(i)}})
				})
			})
		}
	}
}
