package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupRebalanceExactlyOnce: three consumers join and leave one group
// while a producer writes; each commits what it polled before allowing a
// rebalance. Every record must be consumed exactly once and the committed
// offsets must end at the high-water marks. Run with an eager (range) and
// the cooperative-sticky balancer.
func TestGroupRebalanceExactlyOnce(t *testing.T) {
	for name, bal := range map[string]kgo.GroupBalancer{"range": kgo.RangeBalancer(), "cooperative-sticky": kgo.CooperativeStickyBalancer()} {
		t.Run(name, func(t *testing.T) { rebalanceRun(t, bal) })
	}
}

func rebalanceRun(t *testing.T, bal kgo.GroupBalancer) {
	b := startBroker(t, nil)
	const topic, group, total, parts = "reb", "grp", 3000, 6
	createTopic(t, b.client(t), topic, parts)

	p := b.client(t, kgo.DefaultProduceTopic(topic))
	prodDone := make(chan error, 1)
	go func() {
		for i := 0; i < total; i++ {
			p.Produce(context.Background(), &kgo.Record{Value: []byte(fmt.Sprintf("r%05d", i))}, nil)
			if i%100 == 99 {
				time.Sleep(10 * time.Millisecond) // spread the load over the rebalances
			}
		}
		prodDone <- p.Flush(context.Background())
	}()

	var mu sync.Mutex
	seen := map[string]int{}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
	var wg sync.WaitGroup
	start := func() chan struct{} {
		stop := make(chan struct{})
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.Balancers(bal), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
			kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(200*time.Millisecond),
			kgo.FetchMaxWait(100*time.Millisecond), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				fs := cl.PollFetches(ctx)
				cancel()
				mu.Lock()
				fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
				mu.Unlock()
				ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
				if err := cl.CommitUncommittedOffsets(ctx); err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("commit: %v", err)
				}
				cancel()
				cl.AllowRebalance()
			}
		}()
		return stop
	}
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("consumed %d; want %d", count(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	a := start()
	waitFor(400)
	bStop := start()
	waitFor(1000)
	cStop := start()
	waitFor(1600)
	close(a)
	waitFor(2200)
	close(bStop)
	waitFor(total)
	close(cStop)
	wg.Wait()
	if err := <-prodDone; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for v, n := range seen {
		if n != 1 {
			t.Errorf("record %s consumed %d times; want 1", v, n)
		}
	}
	mu.Unlock()

	// Committed offsets end at the high-water marks.
	admin := b.client(t)
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	resp, err := req.RequestWith(testCtx(t), admin)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, tp := range resp.Topics {
		for _, pp := range tp.Partitions {
			sum += pp.Offset
		}
	}
	if sum != total {
		t.Fatalf("committed offsets sum to %d; want %d (every record committed once)", sum, total)
	}
}
