package shardtest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"robustmq/shard"
)

// OffsetFactory opens an OffsetStore over dir; called again with the same
// dir after Close when the suite checks a reopen.
type OffsetFactory func(t *testing.T, dir string) shard.OffsetStore

// OffsetCaps tells RunOffsetStore what the store promises.
type OffsetCaps struct {
	Persistent bool // offsets survive Close and reopen
}

// RunOffsetStore runs the OffsetStore conformance suite. The local pebble
// store runs it, and so will the Meta Service's implementation.
func RunOffsetStore(t *testing.T, newStore OffsetFactory, caps OffsetCaps) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newStore OffsetFactory, caps OffsetCaps)
	}{
		{"CommitFetch", testOffsetCommitFetch},
		{"Delete", testOffsetDelete},
		{"Invalid", testOffsetInvalid},
		{"Concurrent", testOffsetConcurrent},
		{"Closed", testOffsetClosed},
		{"Reopen", testOffsetReopen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore, caps) })
	}
}

func openOffsets(t *testing.T, newStore OffsetFactory) shard.OffsetStore {
	t.Helper()
	s := newStore(t, t.TempDir())
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func commit(t *testing.T, s shard.OffsetStore, group string, offs ...shard.GroupOffset) {
	t.Helper()
	if err := s.Commit(context.Background(), group, offs); err != nil {
		t.Fatalf("Commit(%q, %v): %v", group, offs, err)
	}
}

func wantFetch(t *testing.T, s shard.OffsetStore, group, topic string, want []shard.GroupOffset) {
	t.Helper()
	got, err := s.Fetch(context.Background(), group, topic)
	if err != nil {
		t.Fatalf("Fetch(%q, %q): %v", group, topic, err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Fetch(%q, %q) = %v; want %v", group, topic, got, want)
	}
}

func wantGroups(t *testing.T, s shard.OffsetStore, want ...string) {
	t.Helper()
	got, err := s.ListGroups(context.Background())
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ListGroups = %q; want %q", got, want)
	}
}

type gOff = shard.GroupOffset

func o(topic string, partition int32, offset int64, metadata string) gOff {
	return gOff{Topic: topic, Partition: partition, Offset: offset, Metadata: metadata}
}

func testOffsetCommitFetch(t *testing.T, newStore OffsetFactory, _ OffsetCaps) {
	s := openOffsets(t, newStore)
	wantGroups(t, s)
	wantFetch(t, s, "g", "", nil)
	commit(t, s, "g", o("orders", 1, 10, "m1"), o("orders", 0, 5, ""), o("a", 3, 1, "x"))
	commit(t, s, "g", o("orders", 1, 12, "m2")) // replaces partition 1 only
	commit(t, s, "g2", o("orders", 0, 99, ""))
	// Groups and topics that prefix each other stay apart.
	commit(t, s, "g\x00", o("orders", 0, 7, ""))
	commit(t, s, "gg", o("o", 0, 8, ""), o("orders-long-name", 0, 9, ""))
	commit(t, s, "empty") // an empty commit stores nothing
	wantFetch(t, s, "g", "", []gOff{o("a", 3, 1, "x"), o("orders", 0, 5, ""), o("orders", 1, 12, "m2")})
	wantFetch(t, s, "g", "orders", []gOff{o("orders", 0, 5, ""), o("orders", 1, 12, "m2")})
	wantFetch(t, s, "g", "order", nil)
	wantFetch(t, s, "g2", "", []gOff{o("orders", 0, 99, "")})
	wantFetch(t, s, "g\x00", "", []gOff{o("orders", 0, 7, "")})
	wantFetch(t, s, "gg", "", []gOff{o("o", 0, 8, ""), o("orders-long-name", 0, 9, "")})
	wantFetch(t, s, "gg", "o", []gOff{o("o", 0, 8, "")})
	wantFetch(t, s, "nope", "", nil)
	wantGroups(t, s, "g", "g\x00", "g2", "gg")
}

func testOffsetDelete(t *testing.T, newStore OffsetFactory, _ OffsetCaps) {
	s := openOffsets(t, newStore)
	ctx := context.Background()
	commit(t, s, "g", o("a", 0, 1, ""), o("ab", 0, 2, ""), o("b", 0, 3, ""))
	commit(t, s, "h", o("a", 0, 4, ""))
	if err := s.DeleteTopic(ctx, "g", "a"); err != nil {
		t.Fatal(err)
	}
	wantFetch(t, s, "g", "", []gOff{o("ab", 0, 2, ""), o("b", 0, 3, "")})
	wantFetch(t, s, "h", "", []gOff{o("a", 0, 4, "")})
	if err := s.DeleteGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	wantFetch(t, s, "g", "", nil)
	wantGroups(t, s, "h")
	if err := s.DeleteGroup(ctx, "unknown"); err != nil {
		t.Fatalf("DeleteGroup(unknown): %v; want nil", err)
	}
	// A deleted group can commit again.
	commit(t, s, "g", o("z", 1, 1, ""))
	wantFetch(t, s, "g", "", []gOff{o("z", 1, 1, "")})
}

func testOffsetInvalid(t *testing.T, newStore OffsetFactory, _ OffsetCaps) {
	s := openOffsets(t, newStore)
	ctx := context.Background()
	for _, c := range []struct {
		group string
		offs  []gOff
	}{
		{"", []gOff{o("t", 0, 1, "")}},
		{"g", []gOff{o("", 0, 1, "")}},
		{"g", []gOff{o("t", -1, 1, "")}},
		{"g", []gOff{o("t", 0, 1, ""), o("t", -2, 1, "")}}, // all or none
	} {
		if err := s.Commit(ctx, c.group, c.offs); !errors.Is(err, shard.ErrInvalidArgument) {
			t.Fatalf("Commit(%q, %v): %v; want ErrInvalidArgument", c.group, c.offs, err)
		}
	}
	wantFetch(t, s, "g", "", nil)
	if _, err := s.Fetch(ctx, "", ""); !errors.Is(err, shard.ErrInvalidArgument) {
		t.Fatalf("Fetch(empty group): %v; want ErrInvalidArgument", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Commit(cctx, "g", []gOff{o("t", 0, 1, "")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with cancelled ctx: %v; want context.Canceled", err)
	}
}

func testOffsetConcurrent(t *testing.T, newStore OffsetFactory, _ OffsetCaps) {
	s := openOffsets(t, newStore)
	const groups, commits = 8, 50
	var wg sync.WaitGroup
	for g := 0; g < groups; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			group := fmt.Sprintf("group-%d", g)
			for i := 1; i <= commits; i++ {
				err := s.Commit(context.Background(), group, []gOff{o("t", 0, int64(i), ""), o("t", 1, int64(i*2), "")})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Fetch(context.Background(), group, "t"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for g := 0; g < groups; g++ {
		wantFetch(t, s, fmt.Sprintf("group-%d", g), "t", []gOff{o("t", 0, commits, ""), o("t", 1, commits*2, "")})
	}
}

func testOffsetClosed(t *testing.T, newStore OffsetFactory, _ OffsetCaps) {
	s := newStore(t, t.TempDir())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(context.Background(), "g", []gOff{o("t", 0, 1, "")}); !errors.Is(err, shard.ErrClosed) {
		t.Fatalf("Commit after Close: %v; want ErrClosed", err)
	}
	if _, err := s.ListGroups(context.Background()); !errors.Is(err, shard.ErrClosed) {
		t.Fatalf("ListGroups after Close: %v; want ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, shard.ErrClosed) {
		t.Fatalf("Close again: %v; want ErrClosed", err)
	}
}

func testOffsetReopen(t *testing.T, newStore OffsetFactory, caps OffsetCaps) {
	if !caps.Persistent {
		t.Skip("store is not persistent")
	}
	dir := t.TempDir()
	s := newStore(t, dir)
	commit(t, s, "g", o("t", 0, 42, "meta"), o("u", 7, 1<<40, ""))
	commit(t, s, "gone", o("t", 0, 1, ""))
	if err := s.DeleteGroup(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = newStore(t, dir)
	defer s.Close()
	wantFetch(t, s, "g", "", []gOff{o("t", 0, 42, "meta"), o("u", 7, 1<<40, "")})
	wantGroups(t, s, "g")
}
