// Package meta is the Meta Service load generator behind `robustmq bench meta`: concurrent clients
// doing KV puts or offset commits against running meta nodes over the Meta gRPC API, reporting
// throughput and latency percentiles per client count.
//
// A put client overwrites its own Keys keys in turn, so the metadata state (and every raft
// snapshot of it) stays the size of a real cluster's instead of growing with the run.
//
// Each client is one goroutine issuing one request at a time (closed loop) for the run's duration,
// through server/meta/client: requests go to the group's leader once the client learnt it (within a
// second), and until then client i starts at node i mod len(addrs), where followers forward. The
// clients share len(addrs) client.Client values, so concurrent commits are coalesced into batch
// RPCs as a broker's would be (server/meta/client: commit.go); each commit request is still its own
// atomic raft command, acknowledged on its own. A commit request carries Offsets partitions of its
// client's consumer group (a broker commits a group's partitions together): ops counts requests,
// and offsets/s counts partitions committed. Latencies are kept per client in a slice bounded by
// MaxSamples/clients (full: further samples are counted but not kept, and the report says so),
// then merged and sorted for the percentiles.
package meta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"robustmq/server/meta/client"
	"robustmq/server/pb"
)

// Options configures a run.
type Options struct {
	Addrs      []string      // meta nodes, host:grpc_port
	Op         string        // "put" or "commit"
	Clients    []int         // one run per count
	Duration   time.Duration // per run
	ValueBytes int           // put: value size (default 64)
	Keys       int           // put: distinct keys per client, overwritten in turn (default 1024)
	Offsets    int           // commit: partitions per commit request (default 1)
	MaxSamples int           // latencies kept per run (default 4M)
	// RequestTimeout bounds one request, retries over unavailable nodes included (default 5s); a
	// request over it is an error.
	RequestTimeout time.Duration
}

// Result is one run.
type Result struct {
	Op       string
	Clients  int
	Offsets  int // commit: partitions per request
	Ops      int // acknowledged requests
	Errors   int
	Elapsed  time.Duration
	P50, P99 time.Duration
	Max      time.Duration
	Dropped  int // latencies not kept (MaxSamples reached)
	FirstErr error
}

// PerSec is acknowledged requests per second.
func (r Result) PerSec() float64 { return float64(r.Ops) / r.Elapsed.Seconds() }

// String is one report line.
func (r Result) String() string {
	s := fmt.Sprintf("op=%s clients=%d ops=%d throughput=%.0f/s p50=%v p99=%v max=%v errors=%d",
		r.Op, r.Clients, r.Ops, r.PerSec(), r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond), r.Errors)
	if r.Op == "commit" && r.Offsets > 1 {
		s += fmt.Sprintf(" offsets=%d offsets_per_sec=%.0f", r.Offsets, r.PerSec()*float64(r.Offsets))
	}
	if r.Dropped > 0 {
		s += " samples_dropped=" + strconv.Itoa(r.Dropped)
	}
	if r.FirstErr != nil {
		s += " first_error=" + strconv.Quote(r.FirstErr.Error())
	}
	return s
}

// Run runs one measurement per entry of o.Clients, in order, calling report after each.
func Run(ctx context.Context, o Options, report func(Result)) error {
	if len(o.Addrs) == 0 {
		return errors.New("bench/meta: no meta node address")
	}
	if o.Op != "put" && o.Op != "commit" {
		return fmt.Errorf("bench/meta: op %q: want put or commit", o.Op)
	}
	if o.Duration <= 0 {
		return fmt.Errorf("bench/meta: duration %v: must be > 0", o.Duration)
	}
	if o.ValueBytes <= 0 {
		o.ValueBytes = 64
	}
	if o.Keys <= 0 {
		o.Keys = 1024
	}
	if o.Offsets <= 0 {
		o.Offsets = 1
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = 4 << 20
	}
	// One client per starting node; every client shares their connections.
	cls := make([]*client.Client, len(o.Addrs))
	for i := range o.Addrs {
		rot := append(slices.Clone(o.Addrs[i:]), o.Addrs[:i]...)
		c, err := client.New(rot...)
		if err != nil {
			return err
		}
		defer c.Close()
		cls[i] = c
	}
	for _, n := range o.Clients {
		if n <= 0 {
			return fmt.Errorf("bench/meta: clients %d: must be > 0", n)
		}
		r := run(ctx, o, cls, n)
		report(r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

type worker struct {
	lat     []time.Duration
	ops     int
	errs    int
	dropped int
	first   error
}

func run(ctx context.Context, o Options, cls []*client.Client, n int) Result {
	ws := make([]worker, n)
	perWorker := max(o.MaxSamples/n, 1)
	value := make([]byte, o.ValueBytes)
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(o.Duration)
	for i := range ws {
		w, c := &ws[i], cls[i%len(cls)]
		w.lat = make([]time.Duration, 0, min(perWorker, 1<<16))
		wg.Go(func() {
			key := []byte("c" + strconv.Itoa(i) + "/")
			group := "bench-" + strconv.Itoa(i)
			offs := make([]*pb.OffsetEntry, o.Offsets)
			for p := range offs {
				offs[p] = &pb.OffsetEntry{Topic: "bench", Partition: int32(p)}
			}
			// Requests run on the caller's ctx (bounded by RequestTimeout), not one that ends with the
			// run: a request in flight at the end completes and counts, so the end of a run is never
			// an error.
			for seq := int64(0); ctx.Err() == nil && time.Now().Before(end); seq++ {
				t0 := time.Now()
				rctx, cancel := context.WithTimeout(ctx, o.RequestTimeout)
				var err error
				if o.Op == "put" {
					err = c.Put(rctx, "bench", strconv.AppendInt(key[:len(key):len(key)], seq%int64(o.Keys), 10), value)
				} else {
					for _, e := range offs {
						e.Offset = seq
					}
					err = c.CommitOffsets(rctx, group, offs)
				}
				cancel()
				d := time.Since(t0)
				switch {
				case ctx.Err() != nil: // interrupted: neither counted nor an error
				case err != nil:
					w.errs++
					if w.first == nil {
						w.first = err
					}
				default:
					w.ops++
					if len(w.lat) < perWorker {
						w.lat = append(w.lat, d)
					} else {
						w.dropped++
					}
				}
			}
		})
	}
	wg.Wait()
	r := Result{Op: o.Op, Clients: n, Offsets: o.Offsets, Elapsed: time.Since(start)}
	var all []time.Duration
	for i := range ws {
		w := &ws[i]
		r.Ops += w.ops
		r.Errors += w.errs
		r.Dropped += w.dropped
		if r.FirstErr == nil {
			r.FirstErr = w.first
		}
		all = append(all, w.lat...)
	}
	slices.Sort(all)
	r.P50, r.P99 = percentile(all, 50), percentile(all, 99)
	if len(all) > 0 {
		r.Max = all[len(all)-1]
	}
	return r
}

// percentile is the nearest-rank percentile p of sorted; 0 when empty.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100 // ceil(n*p/100), 1-based rank
	return sorted[max(i, 1)-1]
}
