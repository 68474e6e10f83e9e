package kafka

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

type saramaHandler struct {
	mu   sync.Mutex
	seen map[string]int
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.seen[string(m.Value)]++
		h.mu.Unlock()
		s.MarkMessage(m, "")
	}
	return nil
}

func (h *saramaHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen)
}

// TestSarama: sarama's sync producer (acks=all, snappy) and a consumer
// group reading everything back.
func TestSarama(t *testing.T) {
	b := startBroker(t, nil)
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Compression = sarama.CompressionSnappy
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Strategy = sarama.NewBalanceStrategyRoundRobin()
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond

	prod, err := sarama.NewSyncProducer([]string{b.addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const n = 200
	for i := range n {
		part, off, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "sar", Key: sarama.StringEncoder(fmt.Sprint(i % 3)),
			Value: sarama.StringEncoder(fmt.Sprintf("m%03d", i))})
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if part != 0 || off != int64(i) {
			t.Fatalf("send %d: partition %d offset %d; want 0, %d", i, part, off, i)
		}
	}
	grp, err := sarama.NewConsumerGroup([]string{b.addr}, "sgrp", cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &saramaHandler{seen: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := grp.Consume(ctx, []string{"sar"}, h); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	deadline := time.Now().Add(30 * time.Second)
	for h.count() < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := grp.Close(); err != nil {
		t.Fatal(err)
	}
	if h.count() != n {
		t.Fatalf("consumed %d distinct; want %d", h.count(), n)
	}
	for v, k := range h.seen {
		if k != 1 {
			t.Errorf("%s consumed %d times", v, k)
		}
	}
	offs, err := b.offs.Fetch(context.Background(), "sgrp", "sar")
	if err != nil || len(offs) != 1 || offs[0].Offset != n {
		t.Fatalf("committed %v, %v; want offset %d", offs, err, n)
	}
}
