package client

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"robustmq/server/pb"
)

// TestCallMovesOn: calls failing with Unavailable move to the next node, wrapping around, and a
// node that answers keeps receiving the calls; other errors are returned at once.
func TestCallMovesOn(t *testing.T) {
	c, err := New("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3") // connections are lazy: nothing dials
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.retry = time.Millisecond
	f := func(up int, want []int) {
		t.Helper()
		var got []int
		err := c.Call(t.Context(), func(_ context.Context, api pb.MetaServiceClient) error {
			i := slices.Index(c.apis, api)
			got = append(got, i)
			if i != up {
				return status.Error(codes.Unavailable, "down")
			}
			return nil
		})
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("node %d up: tried %v, err %v; want %v, nil", up, got, err, want)
		}
	}
	f(2, []int{0, 1, 2})
	f(2, []int{2})
	f(1, []int{2, 0, 1}) // wraps around
	f(1, []int{1})

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err = c.Call(ctx, func(context.Context, pb.MetaServiceClient) error { return status.Error(codes.Unavailable, "down") })
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("every node down: %v; want Unavailable once ctx ends", err)
	}
	n := 0
	err = c.Call(t.Context(), func(context.Context, pb.MetaServiceClient) error {
		n++
		return status.Error(codes.DeadlineExceeded, "unknown outcome")
	})
	if status.Code(err) != codes.DeadlineExceeded || n != 1 {
		t.Fatalf("DeadlineExceeded: %v after %d tries; want it returned after 1", err, n)
	}
}

func TestTopicShard(t *testing.T) {
	f := func(name, topic string, want bool) {
		t.Helper()
		if got := TopicShard(name, topic); got != want {
			t.Fatalf("TopicShard(%q, %q) = %v; want %v", name, topic, got, want)
		}
	}
	f("a_0", "a", true)
	f("a_12", "a", true)
	f("a_1_0", "a", false) // topic a_1, partition 0
	f("a_1_0", "a_1", true)
	f("a_", "a", false)
	f("a", "a", false)
	f("ab_0", "a", false)
	f("a_x", "a", false)
}

// TestBeatReportsUnreachable: with no meta node answering, each beat gives up after its interval
// and onErr hears about it (the caller can warn), instead of one beat retrying forever.
func TestBeatReportsUnreachable(t *testing.T) {
	c, err := New("127.0.0.1:1") // nothing listens on port 1
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(t.Context())
	errs := make(chan error, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Beat(ctx, &pb.MetaNode{Id: 9}, 50*time.Millisecond, func(err error) {
			select {
			case errs <- err:
			default:
			}
		})
	}()
	defer func() { cancel(); <-done }()
	for range 2 {
		select {
		case err := <-errs:
			if status.Code(err) != codes.Unavailable && status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("beat error %v; want Unavailable or DeadlineExceeded", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no beat error within 5s while no meta node answers")
		}
	}
}
