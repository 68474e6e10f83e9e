package segment

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"robustmq/shard"
)

// Many writers and readers on many shards, with retention deleting
// segments under the readers and a small write queue (both full policies):
// run under -race. Every acknowledged record of the shards without
// retention is checked at the end.
func TestConcurrentShards(t *testing.T) {
	const (
		shards  = 8
		writers = 12
		batches = 150
		readers = 4
	)
	o := testOptions(t.TempDir())
	o.QueueBytes = 4 << 10
	o.Workers = 3
	e := openTest(t, o)
	defer e.Close()
	names := make([]string, shards)
	for i := range names {
		names[i] = "c_" + strconv.Itoa(i)
		cfg := shard.ShardConfig{Name: names[i], Engine: shard.EngineSegment, SegmentBytes: 8 << 10}
		if i%2 == 1 {
			cfg.RetentionBytes = 24 << 10
		}
		if err := e.CreateShard(cfg); err != nil {
			t.Fatal(err)
		}
	}
	type ack struct {
		shard int
		off   int64
		val   []byte
	}
	var (
		mu    sync.Mutex
		acks  []ack
		wg    sync.WaitGroup
		stop  atomic.Bool
		fulls atomic.Int64
	)
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for seq := range batches {
				si := r.IntN(shards)
				n := 1 + r.IntN(5)
				recs := make([]shard.Record, n)
				for j := range recs {
					recs[j] = shard.Record{Key: []byte(names[si]), Value: []byte(names[si] + "/" + strconv.Itoa(w) + "/" + strconv.Itoa(seq) + "/" + strconv.Itoa(j) + string(make([]byte, r.IntN(700))))}
				}
				opt := shard.AppendOptions{Durability: shard.Durability(r.IntN(2)), FailFast: r.IntN(2) == 0}
				var off int64
				var err error
				for {
					off, err = e.Append(context.Background(), names[si], recs, opt)
					if !errors.Is(err, shard.ErrQueueFull) {
						break
					}
					fulls.Add(1)
					time.Sleep(time.Millisecond) // backoff of a fail-fast caller
				}
				if err != nil {
					t.Errorf("Append(%s): %v", names[si], err)
					return
				}
				mu.Lock()
				for j := range recs {
					acks = append(acks, ack{si, off + int64(j), recs[j].Value})
				}
				mu.Unlock()
			}
		})
	}
	var rg sync.WaitGroup
	for rd := range readers {
		rg.Go(func() {
			si := rd % shards
			var next int64
			for !stop.Load() {
				res, err := e.Read(names[si], next, 64, 16<<10)
				if errors.Is(err, shard.ErrOffsetOutOfRange) {
					next, _ = e.EarliestOffset(names[si]) // retention passed us
					continue
				}
				if err != nil {
					t.Errorf("Read(%s, %d): %v", names[si], next, err)
					return
				}
				for _, r := range res.Records {
					if r.Offset != next || !bytes.HasPrefix(r.Value, []byte(names[si]+"/")) {
						t.Errorf("Read(%s): record %d %.20q; want offset %d of this shard", names[si], r.Offset, r.Value, next)
					}
					next++
				}
				empty := len(res.Records) == 0
				res.Release()
				if empty {
					ch := make(chan struct{})
					cancel, err := e.Wait(names[si], next, func() { close(ch) })
					if err != nil {
						t.Error(err)
						return
					}
					select {
					case <-ch:
					case <-time.After(20 * time.Millisecond):
						cancel()
					}
					si = (si + 1) % shards
					next, _ = e.EarliestOffset(names[si])
				}
			}
		})
	}
	rg.Go(func() {
		for !stop.Load() {
			if err := e.EnforceRetention(time.Now().UnixMilli()); err != nil {
				t.Errorf("EnforceRetention: %v", err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
	stop.Store(true)
	rg.Wait()
	for _, a := range acks {
		if a.shard%2 == 1 {
			continue // retention may have dropped it
		}
		res, err := e.Read(names[a.shard], a.off, 1, 0)
		if err != nil || len(res.Records) != 1 || !bytes.Equal(res.Records[0].Value, a.val) {
			t.Fatalf("acknowledged %s offset %d: %v; want %.30q", names[a.shard], a.off, err, a.val)
		}
		res.Release()
	}
	t.Logf("%d records acknowledged, %d fail-fast ErrQueueFull retries", len(acks), fulls.Load())
}

// The FlushInterval tick makes DurabilityNone data durable without any
// Sync append, and drops a burst's write buffers once the shard is quiet.
func TestBackgroundFlushAndTrim(t *testing.T) {
	o := testOptions(t.TempDir())
	o.FlushInterval = 50 * time.Millisecond // two ticks drop a buffer: time to look at it first
	o.SegmentBytes = 64 << 20
	e := openTest(t, o)
	defer e.Close()
	if err := e.CreateShard(shard.ShardConfig{Name: "bg_0", Engine: shard.EngineSegment, SegmentBytes: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	sl, _ := e.get("bg_0")
	fsyncs := mFsyncs.Get()
	val := make([]byte, 512<<10)
	burst := make([]shard.Record, 8) // one 4 MiB batch: the buffers must hold it whole
	for i := range burst {
		burst[i].Value = val
	}
	var done sync.WaitGroup
	done.Add(1)
	e.AppendAsync("bg_0", burst, shard.AppendOptions{}, func(int64, error) { done.Done() })
	done.Wait()
	bufCaps := func() int {
		sl.ioMu.Lock()
		defer sl.ioMu.Unlock()
		sl.mu.Lock()
		defer sl.mu.Unlock()
		return max(cap(sl.cur), cap(sl.pend))
	}
	if c := bufCaps(); c <= keepBufBytes {
		t.Fatalf("the burst left buffers of %d bytes; the test needs more than %d", c, keepBufBytes)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		sl.ioMu.Lock()
		a := sl.active()
		clean := a != nil && !a.dirty && a.size >= 4<<20
		sl.ioMu.Unlock()
		trimmed := bufCaps() <= keepBufBytes
		if clean && trimmed && mFsyncs.Get() > fsyncs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: data synced %v, buffers trimmed %v (%d bytes)", clean, trimmed, bufCaps())
		}
		time.Sleep(time.Millisecond) // polling a background tick
	}
}
