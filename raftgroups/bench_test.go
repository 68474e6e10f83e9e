package raftgroups

import (
	"context"
	"fmt"
	"slices"
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

// BenchmarkOffsetFetch measures linearizable offset reads (one ReadIndex
// round per batch of concurrent readers) on a follower and on the leader of
// a 3-node in-memory cluster.
//
//	go test -run '^$' -bench BenchmarkOffsetFetch -benchtime 20000x ./raftgroups/
func BenchmarkOffsetFetch(b *testing.B) {
	c := newCluster(b, 3, func(cfg *Config) {
		cfg.TickInterval, cfg.HeartbeatTick, cfg.ElectionTick = 50*time.Millisecond, 5, 20
	})
	lead := c.leader(GroupOffset)
	if err := c.nodes[lead].meta.CommitOffsets(context.Background(), "bench", []OffsetCommit{{Topic: "t", Partition: 0, Offset: 1}}); err != nil {
		b.Fatal(err)
	}
	for _, on := range []struct {
		name string
		id   uint64
	}{{"leader", lead}, {"follower", lead%3 + 1}} {
		meta := c.nodes[on.id].meta
		for _, readers := range []int{1, 256} {
			b.Run(fmt.Sprintf("on=%s/readers=%d", on.name, readers), func(b *testing.B) {
				parts := []OffsetCommit{{Topic: "t", Partition: 0}}
				harness.Load(b, readers, func(ctx context.Context, _ int) error {
					_, err := meta.FetchOffsets(ctx, "bench", parts)
					return err
				})
			})
		}
	}
}

// BenchmarkKVList lists a prefix holding 16 keys in a state machine of
// 1k, 100k and 1M keys (sessions' records: a broker's fired-entry poll
// lists a few keys among every session's), and BenchmarkKVPut puts new
// keys into it. A listing holds the read lock, so it also delays applies.
//
//	go test -run '^$' -bench 'BenchmarkKV' ./raftgroups/
func BenchmarkKVList(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		s := filledKV(b, n)
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got := s.List([]byte("f/node-7/")); len(got) != 16 {
					b.Fatalf("listed %d keys; want 16", len(got))
				}
			}
		})
	}
}

func BenchmarkKVPut(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		s := filledKV(b, n)
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var key [32]byte
			i := 0
			for b.Loop() {
				i++
				if _, err := s.Apply(AppendPut(nil, fmt.Appendf(key[:0], "s/new-%d", i), []byte("v"))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// filledKV is a state machine with n session-like keys and 16 keys under
// "f/node-7/".
func filledKV(b *testing.B, n int) *kv {
	b.Helper()
	s := newKV()
	for i := range n {
		if _, err := s.Apply(AppendPut(nil, fmt.Appendf(nil, "s/client-%d", i), []byte("session record"))); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 16 {
		if _, err := s.Apply(AppendPut(nil, fmt.Appendf(nil, "f/node-7/e%d", i), []byte("12345678"))); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkDueScan finds the 16 entries due among 100k and 1M under one
// prefix (persistent sessions' expiry entries, value = due time): by
// listing the prefix and filtering (list), the baseline, and through an
// index ordered by due time (index).
//
//	go test -run '^$' -bench BenchmarkDueScan ./raftgroups/
func BenchmarkDueScan(b *testing.B) {
	byDue := Index{Group: GroupMQTT, Name: "due", Prefix: []byte("d/"), Key: func(k, v []byte) ([]byte, bool) {
		return append(slices.Clone(v), k...), true
	}}
	for _, n := range []int{100_000, 1_000_000} {
		s := newKV(newIndexes([]Index{byDue}, GroupMQTT)...)
		for i := range n {
			due := fmt.Appendf(nil, "%012d", 1_000_000+i) // 16 due: below 1_000_016
			if _, err := s.Apply(AppendPut(nil, fmt.Appendf(nil, "d/client-%d", i), due)); err != nil {
				b.Fatal(err)
			}
		}
		now := []byte(fmt.Sprintf("%012d", 1_000_016))
		b.Run(fmt.Sprintf("entries=%d/list", n), func(b *testing.B) {
			for b.Loop() {
				due := 0
				for _, kv := range s.List([]byte("d/")) {
					if string(kv.Value) < string(now) {
						due++
					}
				}
				if due != 16 {
					b.Fatalf("%d due; want 16", due)
				}
			}
		})
		b.Run(fmt.Sprintf("entries=%d/index", n), func(b *testing.B) {
			for b.Loop() {
				if kvs, err := s.indexRange("due", nil, now, 0); err != nil || len(kvs) != 16 {
					b.Fatalf("%d due, %v; want 16", len(kvs), err)
				}
			}
		})
	}
}
