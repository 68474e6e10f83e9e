package client

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"robustmq/server/pb"
)

// Commit coalescing. A broker commits offsets for many consumer groups at once; one RPC per commit
// spends most of both sides' CPU in gRPC's per-call work (HTTP/2 stream, headers, a goroutine per
// call) rather than in raft, which batches anyway. So CommitOffsets keeps at most maxInflight
// commit RPCs in flight per Client; commits arriving while all are busy wait in a queue, and each
// free slot sends the queue's head (up to maxBatchCommits commits, maxBatchBytes bytes) as one
// CommitOffsetsBatch call. Nothing waits for a timer: a lone commit goes out at once as a plain
// CommitOffsets from its caller's goroutine, and batches form only under load (group commit).
//
// Queued commits are sent by drainers: goroutines started on demand, one per busy slot, that send
// batches until the queue is empty and then exit (the Client owns them: Close cancels their calls
// and waits). The queue is bounded by maxQueuedCommits; a commit finding it full waits for room
// (backpressure) until its context ends. Each caller returns at its own context's end, before its
// commit's outcome is known (as a timed-out unary call); the batch it rode in goes on, bounded by
// batchTimeout. Metrics: robustmq_meta_client_commit_batches_total (CommitOffsetsBatch calls) and
// robustmq_meta_client_commits_batched_total (commits they carried).
const (
	maxInflight      = 8
	maxBatchCommits  = 512
	maxBatchBytes    = 1 << 20 // well under gRPC's 4 MiB default message limit
	maxQueuedCommits = 16384
	batchTimeout     = 30 * time.Second // raft's default proposal timeout
)

var (
	commitBatches  = metrics.NewCounter(`robustmq_meta_client_commit_batches_total`)
	commitsBatched = metrics.NewCounter(`robustmq_meta_client_commits_batched_total`)
)

// commit is one queued CommitOffsets call.
type commit struct {
	req  *pb.CommitOffsetsRequest
	err  error         // set before done is closed
	done chan struct{} // closed when err is final
}

// committer is the coalescing state of one Client.
type committer struct {
	mu       sync.Mutex
	inflight int           // guarded by mu: slots taken (a direct caller or a drainer holds one)
	queue    []*commit     // guarded by mu: waiting, oldest first; len <= maxQueuedCommits
	room     chan struct{} // one-slot signal: the queue shrank
	ctx      context.Context
	cancel   context.CancelFunc // Close: ends the drainers' calls
	drainers sync.WaitGroup
}

func (cm *committer) init() {
	cm.room = make(chan struct{}, 1)
	cm.ctx, cm.cancel = context.WithCancel(context.Background())
}

// close ends the drainers' calls and waits for them.
func (cm *committer) close() {
	cm.cancel()
	cm.drainers.Wait()
}

// CommitOffsets commits offsets of consumer group group, atomically. Concurrent calls are
// coalesced into batch RPCs (see above); each still succeeds or fails on its own.
func (c *Client) CommitOffsets(ctx context.Context, group string, offsets []*pb.OffsetEntry) error {
	req := &pb.CommitOffsetsRequest{Group: group, Offsets: offsets}
	cm := &c.commits
	cm.mu.Lock()
	if cm.inflight < maxInflight && len(cm.queue) == 0 {
		cm.inflight++
		cm.mu.Unlock()
		err := c.commitOne(ctx, req)
		c.release()
		return err
	}
	for len(cm.queue) >= maxQueuedCommits {
		cm.mu.Unlock()
		select {
		case <-cm.room:
		case <-ctx.Done():
			return status.Error(codes.DeadlineExceeded, "meta/client: commit offsets: queue full: "+ctx.Err().Error())
		}
		cm.mu.Lock()
	}
	p := &commit{req: req, done: make(chan struct{})}
	cm.queue = append(cm.queue, p)
	if cm.inflight < maxInflight { // a slot is free: a drainer takes it
		cm.inflight++
		cm.drainers.Go(c.drain)
	}
	cm.mu.Unlock()
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		cm.mu.Lock()
		if i := slices.Index(cm.queue, p); i >= 0 { // not sent yet: it never will be
			cm.queue = slices.Delete(cm.queue, i, i+1)
			cm.mu.Unlock()
			return status.Error(codes.DeadlineExceeded, "meta/client: commit offsets: not sent: "+ctx.Err().Error())
		}
		cm.mu.Unlock()
		return status.Error(codes.DeadlineExceeded, "meta/client: commit offsets: outcome unknown: "+ctx.Err().Error())
	}
}

// commitOne sends one commit as a plain CommitOffsets call.
func (c *Client) commitOne(ctx context.Context, req *pb.CommitOffsetsRequest) error {
	return c.callGroup(ctx, groupOffset, func(ctx context.Context, api pb.MetaServiceClient) error {
		_, err := api.CommitOffsets(ctx, req)
		return err
	})
}

// release frees a direct caller's slot, or hands it to a new drainer if commits are queued.
func (c *Client) release() {
	cm := &c.commits
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if len(cm.queue) > 0 {
		cm.drainers.Go(c.drain)
		return
	}
	cm.inflight--
}

// drain sends the queue's head batch until the queue is empty, then frees its slot and exits.
// REQUIRES: it holds a slot.
func (c *Client) drain() {
	cm := &c.commits
	for {
		cm.mu.Lock()
		n, size := 0, 0
		for n < len(cm.queue) && n < maxBatchCommits {
			size += proto.Size(cm.queue[n].req)
			if n > 0 && size > maxBatchBytes {
				break
			}
			n++
		}
		if n == 0 {
			cm.inflight--
			cm.mu.Unlock()
			return
		}
		batch := slices.Clone(cm.queue[:n])
		cm.queue = slices.Delete(cm.queue, 0, n)
		cm.mu.Unlock()
		signalRoom(cm.room)
		c.sendBatch(batch)
	}
}

func signalRoom(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// sendBatch sends batch (one commit: CommitOffsets, more: CommitOffsetsBatch) and answers each.
func (c *Client) sendBatch(batch []*commit) {
	ctx, cancel := context.WithTimeout(c.commits.ctx, batchTimeout)
	defer cancel()
	if len(batch) == 1 {
		batch[0].err = c.commitOne(ctx, batch[0].req)
		close(batch[0].done)
		return
	}
	commitBatches.Inc()
	commitsBatched.Add(len(batch))
	req := &pb.CommitOffsetsBatchRequest{Commits: make([]*pb.CommitOffsetsRequest, len(batch))}
	for i, p := range batch {
		req.Commits[i] = p.req
	}
	var resp *pb.CommitOffsetsBatchResponse
	err := c.callGroup(ctx, groupOffset, func(ctx context.Context, api pb.MetaServiceClient) (err error) {
		resp, err = api.CommitOffsetsBatch(ctx, req)
		return err
	})
	rs := resp.GetResults()
	if err == nil && len(rs) != len(batch) {
		err = status.Errorf(codes.Internal, "meta/client: commit offsets batch: %d results for %d commits", len(rs), len(batch))
	}
	for i, p := range batch {
		p.err = err
		if err == nil && rs[i].GetCode() != uint32(codes.OK) {
			p.err = status.Error(codes.Code(rs[i].GetCode()), rs[i].GetMessage())
		}
		close(p.done)
	}
}
