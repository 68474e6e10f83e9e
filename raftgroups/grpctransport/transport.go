// Package grpctransport carries the raft messages of raftgroups between nodes
// over the inner gRPC server (service robustmq.raft.v1.RaftTransport,
// server/pb/raft.proto).
//
// # Sending
//
// Send (called on a group loop) never blocks. Each peer has a bounded queue
// (Config.QueueMessages; full: the message is dropped, counted in
// robustmq_raft_transport_dropped_total{peer} and reported undelivered to
// its group, which marks the peer unreachable and re-proposes a forwarded
// MsgProp) and one goroutine that drains the queue into RaftBatch frames of
// at most Config.MaxBatchBytes on one long-lived Send stream. When the
// stream fails, the frame being written is ambiguous (peer reported
// unreachable only), everything after it is dropped and reported
// undelivered, and the goroutine reconnects with a backoff (Config.RetryMin
// doubling to Config.RetryMax). A down or slow peer therefore only ever
// fills its own queue.
//
// MsgSnap goes on its own SendSnapshot stream, chunked into
// Config.SnapshotChunkBytes pieces by a goroutine per snapshot; at most one
// snapshot per peer is in flight (another is reported failed at once, raft
// retries later). Its outcome is reported to the group with ReportSnapshot.
//
// # Receiving
//
// Register adds the service to a gRPC server. Incoming messages go to the
// Receiver set with SetReceiver (until then they are dropped). Batches not
// addressed to this node, unknown groups and undecodable messages end the
// stream with InvalidArgument; a snapshot larger than
// Config.MaxSnapshotBytes with ResourceExhausted.
//
// # Goroutines
//
// The Transport owns the peer goroutines and snapshot senders; Close stops
// them and waits. gRPC owns the server-side stream goroutines.
package grpctransport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"robustmq/raftgroups"
	rpb "robustmq/server/pb"
)

// Config configures a Transport. Zero values take the defaults shown.
type Config struct {
	NodeID uint64
	// Peers maps every meta node id to its inner gRPC address; the entry
	// for NodeID is ignored.
	Peers  map[uint64]string
	Logger *slog.Logger

	QueueMessages      int           // 4096 queued messages per peer
	MaxBatchBytes      int           // 1 MiB per RaftBatch (a single larger message goes alone; gRPC servers accept 4 MiB by default)
	SnapshotChunkBytes int           // 1 MiB per snapshot chunk
	MaxSnapshotBytes   int           // 1 GiB accepted per incoming snapshot
	RetryMin           time.Duration // 50ms first reconnect delay
	RetryMax           time.Duration // 1s longest reconnect delay
	// DialOptions default to plaintext (the inner network is trusted).
	DialOptions []grpc.DialOption
}

// Transport implements raftgroups.Transport over gRPC.
type Transport struct {
	cfg     Config
	log     *slog.Logger
	recv    atomic.Pointer[receiver]
	peers   atomic.Pointer[map[uint64]*peer] // copy-on-write under peersMu
	peersMu sync.Mutex
	ctx     context.Context // cancelled by Close; parent of every stream
	stop    context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

type receiver struct{ r raftgroups.Receiver }

type envelope struct {
	group raftgroups.GroupID
	msg   *pb.Message
}

// New creates the transport and starts one goroutine per peer. Connections
// are made lazily.
func New(cfg Config) (*Transport, error) {
	if cfg.NodeID == 0 {
		return nil, errors.New("grpctransport: config: node id: must be > 0")
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.QueueMessages, 4096)
	def(&cfg.MaxBatchBytes, 1<<20)
	def(&cfg.SnapshotChunkBytes, 1<<20)
	def(&cfg.MaxSnapshotBytes, 1<<30)
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 50 * time.Millisecond
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(time.Second, cfg.RetryMin)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.DialOptions) == 0 {
		cfg.DialOptions = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	t := &Transport{cfg: cfg, log: cfg.Logger.With("component", "raft-transport")}
	t.ctx, t.stop = context.WithCancel(context.Background())
	t.peers.Store(&map[uint64]*peer{})
	for id, addr := range cfg.Peers {
		if id == cfg.NodeID {
			continue
		}
		if err := t.AddPeer(id, addr); err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

// AddPeer starts sending to node id at addr (a member being added). Adding
// a known peer at the same address is a no-op.
func (t *Transport) AddPeer(id uint64, addr string) error {
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	old := *t.peers.Load()
	if p, ok := old[id]; ok {
		if p.addr == addr {
			return nil
		}
		return fmt.Errorf("grpctransport: add peer %d at %q: already at %q", id, addr, p.addr)
	}
	if t.ctx.Err() != nil {
		return fmt.Errorf("grpctransport: add peer %d: transport closed", id)
	}
	conn, err := grpc.NewClient(addr, t.cfg.DialOptions...)
	if err != nil {
		return fmt.Errorf("grpctransport: peer %d at %q: %w", id, addr, err)
	}
	label := `{peer="` + strconv.FormatUint(id, 10) + `"}`
	p := &peer{
		t: t, id: id, addr: addr, conn: conn, client: rpb.NewRaftTransportClient(conn),
		signal:   make(chan struct{}, 1),
		mDropped: metrics.GetOrCreateCounter("robustmq_raft_transport_dropped_total" + label),
		mSent:    metrics.GetOrCreateCounter("robustmq_raft_transport_sent_total" + label),
		mErrors:  metrics.GetOrCreateCounter("robustmq_raft_transport_stream_errors_total" + label),
		mChunks:  metrics.GetOrCreateCounter("robustmq_raft_transport_snapshot_chunks_total" + label),
	}
	p.ctx, p.cancel = context.WithCancel(t.ctx)
	next := make(map[uint64]*peer, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[id] = p
	t.peers.Store(&next)
	t.wg.Go(p.run)
	return nil
}

// RemovePeer stops sending to node id (a removed member); messages to it
// are then reported undelivered.
func (t *Transport) RemovePeer(id uint64) {
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	old := *t.peers.Load()
	p, ok := old[id]
	if !ok {
		return
	}
	next := make(map[uint64]*peer, len(old))
	for k, v := range old {
		if k != id {
			next[k] = v
		}
	}
	t.peers.Store(&next)
	p.cancel() // run closes the connection on its way out
}

// SetReceiver sets where incoming messages and send reports go (the node's
// *raftgroups.Manager). Safe at any time.
func (t *Transport) SetReceiver(r raftgroups.Receiver) { t.recv.Store(&receiver{r}) }

func (t *Transport) receiver() raftgroups.Receiver {
	if r := t.recv.Load(); r != nil {
		return r.r
	}
	return nil
}

// Close stops the peer goroutines and snapshot senders, waits for them and
// closes the connections.
func (t *Transport) Close() {
	t.once.Do(func() {
		t.peersMu.Lock()
		t.stop() // under peersMu: no AddPeer starts a goroutine after this
		t.peersMu.Unlock()
		t.wg.Wait()
	})
}

// Send implements raftgroups.Transport. It never blocks.
func (t *Transport) Send(g raftgroups.GroupID, msgs []*pb.Message) {
	for _, m := range msgs {
		p := (*t.peers.Load())[m.GetTo()]
		switch {
		case p == nil:
			t.log.Warn("raft message to unknown peer dropped", "group", g.String(), "to", m.GetTo())
			t.undelivered(g, m)
		case m.GetType() == pb.MsgSnap:
			p.sendSnapshot(g, m)
		default:
			p.enqueue(envelope{g, m})
		}
	}
}

// undelivered reports a message that never left this node.
func (t *Transport) undelivered(g raftgroups.GroupID, m *pb.Message) {
	if r := t.receiver(); r != nil {
		r.ReportUndelivered(g, m)
	}
}

// peer is one destination node. mu guards queue and snapBusy.
type peer struct {
	t      *Transport
	id     uint64
	addr   string
	ctx    context.Context // ends on RemovePeer or Close
	cancel context.CancelFunc
	conn   *grpc.ClientConn
	client rpb.RaftTransportClient
	signal chan struct{} // one-slot: queue has messages

	mu       sync.Mutex
	queue    []envelope
	snapBusy bool

	mDropped, mSent, mErrors, mChunks *metrics.Counter
}

func (p *peer) enqueue(e envelope) {
	p.mu.Lock()
	if len(p.queue) >= p.t.cfg.QueueMessages {
		p.mu.Unlock()
		p.mDropped.Inc()
		p.t.undelivered(e.group, e.msg)
		return
	}
	p.queue = append(p.queue, e)
	p.mu.Unlock()
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

// run is the peer's sending goroutine.
func (p *peer) run() {
	var st sendStream
	defer func() {
		st.close()
		_ = p.conn.Close()
	}()
	var batch []envelope
	backoff := p.t.cfg.RetryMin
	fb := frameBuf{frame: &rpb.RaftBatch{From: p.t.cfg.NodeID, To: p.id}}
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.signal:
		}
		for {
			p.mu.Lock()
			batch, p.queue = p.queue, batch[:0]
			p.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			// sent counts envelopes whose frame was written; a frame whose
			// write failed may or may not have arrived (ambiguous).
			var ambiguous []envelope
			sent := 0
			err := st.open(p)
			for err == nil && sent < len(batch) {
				n := fb.fill(p, batch[sent:])
				if err = st.s.Send(fb.frame); err != nil {
					ambiguous = batch[sent : sent+n]
				} else {
					p.mSent.Add(n)
				}
				sent += n
			}
			if err != nil {
				st.close()
				p.fail(err, ambiguous, batch[sent:])
				if !p.sleep(backoff) {
					return
				}
				backoff = min(2*backoff, p.t.cfg.RetryMax)
			} else {
				backoff = p.t.cfg.RetryMin
			}
			clear(batch)
		}
	}
}

// sendStream is a peer's current Send stream and the context that ends it.
type sendStream struct {
	s      rpb.RaftTransport_SendClient
	cancel context.CancelFunc
}

func (st *sendStream) open(p *peer) error {
	if st.s != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(p.ctx)
	s, err := p.client.Send(ctx)
	if err != nil {
		cancel()
		return err
	}
	st.s, st.cancel = s, cancel
	return nil
}

func (st *sendStream) close() {
	if st.s != nil {
		st.cancel()
		st.s, st.cancel = nil, nil
	}
}

// frameBuf is a peer goroutine's reusable frame: the RaftBatch, its
// envelopes, and one buffer holding every marshalled message. gRPC encodes
// the frame inside Send, so all of it is free again when Send returns.
type frameBuf struct {
	frame *rpb.RaftBatch
	envs  []*rpb.RaftEnvelope
	ends  []int
	buf   []byte
}

// fill puts as many envelopes of batch as fit in MaxBatchBytes (at least
// one) into the frame and returns how many it took.
func (f *frameBuf) fill(p *peer, batch []envelope) int {
	f.buf, f.ends = f.buf[:0], f.ends[:0]
	for _, e := range batch {
		if len(f.ends) > 0 && len(f.buf)+proto.Size(e.msg) > p.t.cfg.MaxBatchBytes {
			break
		}
		start := len(f.buf)
		var err error
		f.buf, err = proto.MarshalOptions{}.MarshalAppend(f.buf, e.msg)
		if err != nil { // cannot happen for raft's own messages; never crash on it
			p.t.log.Error("raft message does not marshal", "err", err)
			f.buf = f.buf[:start] // sent empty: decodes as MsgHup, which RawNode.Step refuses from the wire
		}
		f.ends = append(f.ends, len(f.buf))
	}
	for len(f.envs) < len(f.ends) {
		f.envs = append(f.envs, &rpb.RaftEnvelope{})
	}
	prev := 0
	for i, end := range f.ends {
		f.envs[i].Group, f.envs[i].Message = uint32(batch[i].group), f.buf[prev:end:end]
		prev = end
	}
	f.frame.Messages = f.envs[:len(f.ends)]
	return len(f.ends)
}

// fail handles a broken stream: the peer is reported unreachable for the
// ambiguous envelopes (their frame failed mid-write), and the envelopes
// never written plus everything queued behind them are dropped and reported
// undelivered (so forwarded proposals are proposed again).
func (p *peer) fail(err error, ambiguous, unsent []envelope) {
	p.mErrors.Inc()
	p.mu.Lock()
	unsent = append(unsent, p.queue...)
	clear(p.queue)
	p.queue = p.queue[:0]
	p.mu.Unlock()
	p.mDropped.Add(len(ambiguous) + len(unsent))
	r := p.t.receiver()
	if r != nil {
		var seen [4]bool
		for _, e := range ambiguous {
			if int(e.group) < len(seen) && !seen[e.group] {
				seen[e.group] = true
				r.ReportUnreachable(e.group, p.id)
			}
		}
		for _, e := range unsent {
			r.ReportUndelivered(e.group, e.msg)
		}
	}
	p.t.log.Debug("raft stream to peer failed", "peer", p.id, "ambiguous", len(ambiguous), "dropped", len(unsent), "err", err)
}

// sleep waits d or until Close; false means closing.
func (p *peer) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// sendSnapshot starts streaming m unless a snapshot to p is in flight.
func (p *peer) sendSnapshot(g raftgroups.GroupID, m *pb.Message) {
	p.mu.Lock()
	busy := p.snapBusy
	p.snapBusy = true
	p.mu.Unlock()
	// Under peersMu: Close cancels under it too, so no sender starts once
	// Close is waiting for the others.
	p.t.peersMu.Lock()
	defer p.t.peersMu.Unlock()
	if busy || p.ctx.Err() != nil {
		if !busy {
			p.mu.Lock()
			p.snapBusy = false
			p.mu.Unlock()
		}
		p.mDropped.Inc()
		p.t.undelivered(g, m)
		return
	}
	p.t.wg.Go(func() {
		err := p.streamSnapshot(g, m)
		p.mu.Lock()
		p.snapBusy = false
		p.mu.Unlock()
		r := p.t.receiver()
		if r == nil {
			return
		}
		if err != nil {
			p.t.log.Warn("raft snapshot to peer failed", "group", g.String(), "peer", p.id, "err", err)
			r.ReportUnreachable(g, p.id)
		}
		r.ReportSnapshot(g, p.id, err != nil)
	})
}

func (p *peer) streamSnapshot(g raftgroups.GroupID, m *pb.Message) error {
	data := m.GetSnapshot().GetData()
	head := proto.Clone(m).(*pb.Message)
	head.Snapshot.Data = nil
	hb, err := proto.Marshal(head)
	if err != nil {
		return err
	}
	s, err := p.client.SendSnapshot(p.ctx)
	if err != nil {
		return err
	}
	chunk := &rpb.RaftSnapshotChunk{From: p.t.cfg.NodeID, To: p.id, Group: uint32(g), Message: hb}
	for first := true; first || len(data) > 0; first = false {
		n := min(len(data), p.t.cfg.SnapshotChunkBytes)
		chunk.Data, data = data[:n], data[n:]
		chunk.Last = len(data) == 0
		if err := s.Send(chunk); err != nil {
			_, rerr := s.CloseAndRecv()
			return errors.Join(err, rerr)
		}
		p.mChunks.Inc()
		chunk.Message = nil
	}
	_, err = s.CloseAndRecv()
	return err
}

// Register adds the RaftTransport service to s (the inner gRPC server).
// REQUIRES: before s serves.
func (t *Transport) Register(s grpc.ServiceRegistrar) {
	rpb.RegisterRaftTransportServer(s, server{t: t})
}

type server struct {
	rpb.UnimplementedRaftTransportServer
	t *Transport
}

func (s server) Send(stream rpb.RaftTransport_SendServer) error {
	for {
		b, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&rpb.RaftAck{})
		}
		if err != nil {
			return err
		}
		if b.GetTo() != s.t.cfg.NodeID {
			return status.Errorf(codes.InvalidArgument, "grpctransport: batch from %d for node %d reached node %d", b.GetFrom(), b.GetTo(), s.t.cfg.NodeID)
		}
		r := s.t.receiver()
		for i, e := range b.GetMessages() {
			g, m, err := decodeEnvelope(e.GetGroup(), e.GetMessage())
			if err != nil {
				return status.Errorf(codes.InvalidArgument, "grpctransport: batch from %d: message %d: %v", b.GetFrom(), i, err)
			}
			if r != nil {
				r.Receive(g, m)
			}
		}
	}
}

func decodeEnvelope(group uint32, b []byte) (raftgroups.GroupID, *pb.Message, error) {
	g := raftgroups.GroupID(group)
	if group == 0 || int(group) > len(raftgroups.Groups) {
		return 0, nil, fmt.Errorf("group %d: %w", group, raftgroups.ErrUnknownGroup)
	}
	m := &pb.Message{}
	if err := proto.Unmarshal(b, m); err != nil {
		return 0, nil, fmt.Errorf("group %s: %w", g, err)
	}
	return g, m, nil
}

func (s server) SendSnapshot(stream rpb.RaftTransport_SendSnapshotServer) error {
	var (
		g    raftgroups.GroupID
		m    *pb.Message
		data []byte
	)
	for {
		c, err := stream.Recv()
		if err == io.EOF {
			return status.Error(codes.InvalidArgument, "grpctransport: snapshot stream ended before its last chunk")
		}
		if err != nil {
			return err
		}
		if m == nil {
			if c.GetTo() != s.t.cfg.NodeID {
				return status.Errorf(codes.InvalidArgument, "grpctransport: snapshot from %d for node %d reached node %d", c.GetFrom(), c.GetTo(), s.t.cfg.NodeID)
			}
			if g, m, err = decodeEnvelope(c.GetGroup(), c.GetMessage()); err != nil {
				return status.Errorf(codes.InvalidArgument, "grpctransport: snapshot from %d: %v", c.GetFrom(), err)
			}
			if m.GetType() != pb.MsgSnap || m.GetSnapshot() == nil {
				return status.Errorf(codes.InvalidArgument, "grpctransport: snapshot from %d: first chunk is %s, not MsgSnap", c.GetFrom(), m.GetType())
			}
		}
		if len(data)+len(c.GetData()) > s.t.cfg.MaxSnapshotBytes {
			return status.Errorf(codes.ResourceExhausted, "grpctransport: snapshot from %d: over %d bytes", c.GetFrom(), s.t.cfg.MaxSnapshotBytes)
		}
		data = append(data, c.GetData()...)
		if c.GetLast() {
			break
		}
	}
	m.Snapshot.Data = data
	if r := s.t.receiver(); r != nil {
		r.Receive(g, m)
	}
	return stream.SendAndClose(&rpb.RaftAck{})
}
