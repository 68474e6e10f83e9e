package grpctransport

import (
	"context"
	"fmt"
	"testing"
	"time"

	"robustmq/raftgroups"
	"robustmq/raftgroups/internal/harness"
)

// BenchmarkOffsetCommitGRPC is raftgroups' BenchmarkOffsetCommit on a 3-node
// cluster whose nodes talk over real gRPC on loopback.
//
//	go test -run '^$' -bench BenchmarkOffsetCommitGRPC -benchtime 20000x ./raftgroups/grpctransport/
func BenchmarkOffsetCommitGRPC(b *testing.B) {
	c := newCluster(b, 3, func(r *raftgroups.Config, _ *Config) {
		r.TickInterval, r.HeartbeatTick, r.ElectionTick = 50*time.Millisecond, 5, 20
	})
	lead := c.nodes[c.leader(raftgroups.GroupOffset)].meta
	for _, committers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("committers=%d", committers), func(b *testing.B) {
			harness.Load(b, committers, func(ctx context.Context, i int) error {
				return lead.CommitOffsets(ctx, "bench", []raftgroups.OffsetCommit{{Topic: "t", Partition: int32(i % 64), Offset: int64(i)}})
			})
		})
	}
}
