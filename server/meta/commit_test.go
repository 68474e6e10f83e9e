package meta_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"robustmq/server/pb"
)

// TestCommitCoalescing: many concurrent commits through one client are coalesced into batch calls
// (the client's batch counter moves), every one is acknowledged on its own and readable after, and
// a bad commit riding in a batch fails alone.
func TestCommitCoalescing(t *testing.T) {
	c := newCluster(t, 1, 10000)
	nd := c.nodes[0]
	c.start(nd)
	poll(t, 20*time.Second, "leaders", func() error { _, err := leaders(c.nodes); return err })
	cl := dial(t, nd)
	ctx := ctxFor(t, 20*time.Second)
	batches := metrics.GetOrCreateCounter(`robustmq_meta_client_commit_batches_total`)
	before := batches.Get()

	const callers, rounds = 64, 20
	var wg sync.WaitGroup
	errs := make([]error, callers)
	var bad error
	for i := range callers {
		wg.Go(func() {
			for r := range rounds {
				err := cl.CommitOffsets(ctx, "g"+strconv.Itoa(i), []*pb.OffsetEntry{{Topic: "t", Partition: int32(i), Offset: int64(r)}})
				if err != nil {
					errs[i] = fmt.Errorf("caller %d round %d: %w", i, r, err)
					return
				}
			}
		})
	}
	wg.Go(func() { // a group with NUL is refused by raftgroups, whichever call carries it
		for range rounds {
			bad = cl.CommitOffsets(ctx, "bad\x00group", []*pb.OffsetEntry{{Topic: "t", Offset: 1}})
			if bad == nil {
				return
			}
		}
	})
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if bad == nil || status.Code(bad) == codes.OK {
		t.Fatalf("commit of a NUL group: %v; want an error", bad)
	}
	if batches.Get() == before {
		t.Fatalf("%d concurrent commits went out without one batch call", callers*rounds)
	}
	for i := range callers {
		got, err := cl.FetchOffsets(ctx, "g"+strconv.Itoa(i), []*pb.OffsetEntry{{Topic: "t", Partition: int32(i)}})
		if err != nil || len(got) != 1 || got[0].GetOffset() != rounds-1 {
			t.Fatalf("group g%d: fetched %v, %v; want offset %d", i, got, err, rounds-1)
		}
	}

	// A caller whose context ends while its commit waits gets DeadlineExceeded, not a hang.
	short, cancel := context.WithTimeout(ctx, time.Microsecond)
	defer cancel()
	<-short.Done()
	if err := cl.CommitOffsets(short, "late", nil); status.Code(err) != codes.DeadlineExceeded && status.Code(err) != codes.Canceled {
		t.Fatalf("commit with an ended context: %v; want DeadlineExceeded", err)
	}
}
