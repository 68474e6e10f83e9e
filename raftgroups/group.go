package raftgroups

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Group is one raft group on this node: a RawNode, its Storage and its state
// machine, driven by one goroutine (run). See doc.go for the contract.
type Group struct {
	id    GroupID
	node  uint64
	cfg   *Config
	log   *slog.Logger
	st    *Storage
	sm    *kv
	tr    Transport
	ids   atomic.Uint64 // proposal and read ids, unique within this process
	workc chan struct{} // one-slot signal: queues have work
	tickc chan struct{} // one-slot signal: tick
	stopc chan struct{}
	done  chan struct{}

	// Owned by the loop goroutine.
	rn        *raft.RawNode
	confState *pb.ConfState
	applied   uint64
	snapIndex uint64
	snapNow   bool   // a membership change was applied: snapshot at once
	hsTerm    uint64 // term and vote of the HardState on disk
	hsVote    uint64
	ticks     uint64
	retry     []retryEntry // proposals raft dropped or the transport never delivered, proposed again on tick
	reading   []*readBatch // ReadIndex requests in flight
	results   []applied    // scratch for applyBatch

	mu      sync.Mutex           // guards the fields below; never held across raft calls
	props   []*proposal          // queued for the loop
	pending map[uint64]*proposal // proposed by this node, waiting for apply
	reads   []chan error         // readers queued for the loop
	inbox   []inboxItem          // from the transport
	stopped bool                 // no more work accepted
	status  GroupStatus          // published by the loop after each round

	mProposals, mBusy, mInboxDropped, mSnapshots, mLeaderChanges *metrics.Counter
	mProposeSeconds                                              *metrics.Histogram
}

type proposal struct {
	id   uint64
	cmd  []byte
	cc   *pb.ConfChange // a membership change instead of cmd
	done chan result    // buffered(1): the loop never blocks on it
}

type result struct {
	val []byte
	err error
}

// applied is one command's result waiting to be handed to its proposer.
type applied struct {
	id uint64
	r  result
}

// retryEntry is a proposal to make again: a batch (normal entry data) or a
// marshalled ConfChange.
type retryEntry struct {
	conf bool
	data []byte
}

type readBatch struct {
	ctx     [8]byte
	waiters []chan error
	index   uint64
	ready   bool   // ReadState received
	issued  uint64 // tick count when last requested
}

type inboxItem struct {
	msg         *pb.Message // incoming, or (undelivered) an outgoing one that was lost
	undelivered bool
	from        uint64
	unreachable bool
	snapFailed  bool
	snapStatus  bool
}

// GroupStatus is a group's state as last published by its loop.
type GroupStatus struct {
	Group   string   `json:"group"`
	Node    uint64   `json:"node"`
	Leader  uint64   `json:"leader"`
	State   string   `json:"state"`
	Term    uint64   `json:"term"`
	Commit  uint64   `json:"commit"`
	Applied uint64   `json:"applied"`
	Members []uint64 `json:"members"`
}

func newGroup(id GroupID, cfg *Config, st *Storage) (*Group, error) {
	g := &Group{
		id: id, node: cfg.NodeID, cfg: cfg, st: st, sm: newKV(newIndexes(cfg.Indexes, id)...), tr: cfg.Transport,
		log:     cfg.Logger.With("group", id.String()),
		workc:   make(chan struct{}, 1),
		tickc:   make(chan struct{}, 1),
		stopc:   make(chan struct{}),
		done:    make(chan struct{}),
		pending: make(map[uint64]*proposal),
	}
	label := `{group="` + id.String() + `"}`
	g.mProposals = metrics.GetOrCreateCounter("robustmq_raft_proposals_total" + label)
	g.mBusy = metrics.GetOrCreateCounter("robustmq_raft_busy_rejections_total" + label)
	g.mInboxDropped = metrics.GetOrCreateCounter("robustmq_raft_inbox_dropped_total" + label)
	g.mSnapshots = metrics.GetOrCreateCounter("robustmq_raft_snapshots_total" + label)
	g.mLeaderChanges = metrics.GetOrCreateCounter("robustmq_raft_leader_changes_total" + label)
	g.mProposeSeconds = metrics.GetOrCreateHistogram("robustmq_raft_propose_seconds" + label)
	g.ids.Store(uint64(time.Now().UnixNano()))

	if !cfg.Join {
		if err := st.Bootstrap(&pb.ConfState{Voters: cfg.Peers}); err != nil {
			return nil, err
		}
	}
	snap, _ := st.Snapshot()
	if err := g.sm.Restore(snap.GetData()); err != nil {
		return nil, fmt.Errorf("raftgroups: %s: restore snapshot %d: %w", id, snap.GetMetadata().GetIndex(), err)
	}
	g.applied = snap.GetMetadata().GetIndex()
	g.snapIndex = g.applied
	hs, _, _ := st.InitialState()
	g.hsTerm, g.hsVote = hs.GetTerm(), hs.GetVote()
	g.confState = proto.Clone(pb.EnsureConfState(snap.GetMetadata().GetConfState())).(*pb.ConfState)
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                        cfg.NodeID,
		ElectionTick:              cfg.ElectionTick,
		HeartbeatTick:             cfg.HeartbeatTick,
		Storage:                   st,
		Applied:                   g.applied,
		MaxSizePerMsg:             1 << 20,
		MaxCommittedSizePerReady:  4 << 20,
		MaxUncommittedEntriesSize: 64 << 20,
		MaxInflightMsgs:           256,
		CheckQuorum:               true,
		PreVote:                   true,
		Logger:                    logAdapter{g.log.With("component", "raft")},
	})
	if err != nil {
		return nil, fmt.Errorf("raftgroups: %s: new raft node: %w", id, err)
	}
	g.rn = rn
	g.publishStatus()
	return g, nil
}

// signal wakes the loop without blocking; a pending signal covers any work.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Propose replicates cmd (a kv command, kv.go) through raft and returns the
// state machine's result once this node applied it. It fails with ErrBusy if
// the proposal queue is full, ErrTimeout after Config.ProposeTimeout, or the
// context's error; on timeout the command may still be applied later.
// REQUIRES: cmd is not modified after the call (raft keeps it).
func (g *Group) Propose(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := g.checkSize(cmd); err != nil {
		return nil, err
	}
	var r [1]result
	g.submit(ctx, "propose", []*proposal{{id: g.ids.Add(1), cmd: cmd, done: make(chan result, 1)}}, r[:])
	return r[0].val, r[0].err
}

func (g *Group) checkSize(cmd []byte) error {
	if len(cmd) > g.cfg.MaxCommandBytes {
		return fmt.Errorf("raftgroups: %s: propose: command of %d bytes: %w (max %d)", g.id, len(cmd), ErrTooLarge, g.cfg.MaxCommandBytes)
	}
	return nil
}

// ProposeBatch proposes every command of cmds as Propose does, all queued at
// once (one wake of the loop, so they share raft entries), and waits for all;
// errs[i] is command i's error (results are not returned). Each command
// succeeds or fails on its own. REQUIRES: len(errs) == len(cmds); no command
// is modified after the call.
func (g *Group) ProposeBatch(ctx context.Context, cmds [][]byte, errs []error) {
	ps := make([]*proposal, 0, len(cmds))
	at := make([]int, 0, len(cmds)) // ps[j] is cmds[at[j]]
	for i, cmd := range cmds {
		if errs[i] = g.checkSize(cmd); errs[i] == nil {
			ps = append(ps, &proposal{id: g.ids.Add(1), cmd: cmd, done: make(chan result, 1)})
			at = append(at, i)
		}
	}
	rs := make([]result, len(ps))
	g.submit(ctx, "propose", ps, rs)
	for j, r := range rs {
		errs[at[j]] = r.err
	}
}

// ProposeConfChange changes the group's membership (etcd raft single-step
// change: add, remove or update one node) and returns once this node applied
// it. Raft allows one unapplied change at a time: a change proposed while
// another is pending is dropped by raft and times out here.
func (g *Group) ProposeConfChange(ctx context.Context, cc *pb.ConfChange) error {
	p := &proposal{id: g.ids.Add(1), done: make(chan result, 1)}
	cc = proto.Clone(cc).(*pb.ConfChange)
	cc.Context = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, g.node), p.id)
	p.cc = cc
	var r [1]result
	g.submit(ctx, "conf change", []*proposal{p}, r[:])
	return r[0].err
}

// submit queues ps for the loop and waits for their results into rs
// (len(rs) == len(ps)). The queue admits the whole batch or none of it.
func (g *Group) submit(ctx context.Context, what string, ps []*proposal, rs []result) {
	if len(ps) == 0 {
		return
	}
	fail := func(from int, err error) {
		for i := from; i < len(ps); i++ {
			select {
			case rs[i] = <-ps[i].done: // applied meanwhile
			default:
				rs[i].err = err
			}
		}
	}
	start := time.Now()
	g.mu.Lock()
	switch {
	case g.stopped:
		g.mu.Unlock()
		fail(0, fmt.Errorf("raftgroups: %s: %s: %w", g.id, what, ErrStopped))
		return
	case len(g.pending) >= g.cfg.MaxPendingProposals:
		n := len(g.pending)
		g.mu.Unlock()
		g.mBusy.Add(len(ps))
		fail(0, fmt.Errorf("raftgroups: %s: %s: %d pending: %w", g.id, what, n, ErrBusy))
		return
	}
	g.props = append(g.props, ps...)
	for _, p := range ps {
		g.pending[p.id] = p
	}
	g.mu.Unlock()
	signal(g.workc)
	g.mProposals.Add(len(ps))

	timer := time.NewTimer(g.cfg.ProposeTimeout)
	defer timer.Stop()
	for i, p := range ps {
		select {
		case rs[i] = <-p.done:
			continue
		case <-timer.C:
			fail(i, fmt.Errorf("raftgroups: %s: %s: %w after %s", g.id, what, ErrTimeout, g.cfg.ProposeTimeout))
		case <-ctx.Done():
			fail(i, fmt.Errorf("raftgroups: %s: %s: %w", g.id, what, ctx.Err()))
		}
		g.forget(ps[i:])
		return
	}
	if d := time.Since(start); d > g.cfg.SlowPropose {
		g.log.Warn("slow proposal", "what", what, "duration", d, "commands", len(ps), "bytes", len(ps[0].cmd))
	}
	g.mProposeSeconds.UpdateDuration(start)
}

// forget drops the waiters of ps that gave up.
func (g *Group) forget(ps []*proposal) {
	g.mu.Lock()
	for _, p := range ps {
		delete(g.pending, p.id)
	}
	g.mu.Unlock()
}

// ReadIndex returns once this node's state machine reflects every write
// committed before the call (raft ReadIndex; see doc.go). Read the state
// machine right after it returns nil.
func (g *Group) ReadIndex(ctx context.Context) error {
	done := make(chan error, 1)
	g.mu.Lock()
	switch {
	case g.stopped:
		g.mu.Unlock()
		return fmt.Errorf("raftgroups: %s: read index: %w", g.id, ErrStopped)
	case len(g.reads) >= g.cfg.MaxPendingProposals:
		g.mu.Unlock()
		g.mBusy.Inc()
		return fmt.Errorf("raftgroups: %s: read index: %w", g.id, ErrBusy)
	}
	g.reads = append(g.reads, done)
	g.mu.Unlock()
	signal(g.workc)

	timer := time.NewTimer(g.cfg.ProposeTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return fmt.Errorf("raftgroups: %s: read index: %w after %s", g.id, ErrTimeout, g.cfg.ProposeTimeout)
	case <-ctx.Done():
		return fmt.Errorf("raftgroups: %s: read index: %w", g.id, ctx.Err())
	}
}

// Status returns the status the loop published last.
func (g *Group) Status() GroupStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.status
	s.Members = slices.Clone(s.Members)
	return s
}

// receive queues a message or report from the transport; full drops.
func (g *Group) receive(it inboxItem) {
	g.mu.Lock()
	if g.stopped || len(g.inbox) >= g.cfg.MaxInboxMessages {
		g.mu.Unlock()
		g.mInboxDropped.Inc()
		return
	}
	g.inbox = append(g.inbox, it)
	g.mu.Unlock()
	signal(g.workc)
}

// run is the group loop (doc.go). It exits on stop or a storage failure.
func (g *Group) run() {
	defer close(g.done)
	defer g.failAll()
	if len(g.confState.GetVoters()) == 1 && g.confState.GetVoters()[0] == g.node {
		// Standalone: no one else can win, so do not wait for a timeout,
		// and process the election's Ready at once.
		_ = g.rn.Campaign()
		signal(g.workc)
	}
	var inbox []inboxItem
	var props []*proposal
	for {
		select {
		case <-g.stopc:
			return
		case <-g.tickc:
			g.rn.Tick()
			g.ticks++
			g.proposeRetries()
			g.reissueReads()
		case <-g.workc:
		}
		g.mu.Lock()
		inbox, g.inbox = g.inbox, inbox[:0]
		props, g.props = g.props, props[:0]
		reads := g.reads
		g.reads = nil
		g.mu.Unlock()

		for i := range inbox {
			g.step(&inbox[i])
			inbox[i] = inboxItem{}
		}
		g.propose(props)
		clear(props)
		if len(reads) > 0 {
			b := &readBatch{waiters: reads, issued: g.ticks}
			binary.BigEndian.PutUint64(b.ctx[:], g.ids.Add(1))
			g.reading = append(g.reading, b)
			g.rn.ReadIndex(b.ctx[:])
		}
		for g.rn.HasReady() {
			if err := g.handleReady(); err != nil {
				g.log.Error("raft group stopped", "err", err)
				return
			}
		}
		g.publishStatus()
	}
}

func (g *Group) step(it *inboxItem) {
	switch {
	case it.undelivered:
		g.undelivered(it.msg)
	case it.msg != nil:
		// Errors here are raft rejecting a stale or foreign message.
		_ = g.rn.Step(it.msg)
	case it.unreachable:
		g.rn.ReportUnreachable(it.from)
	case it.snapStatus:
		st := raft.SnapshotFinish
		if it.snapFailed {
			st = raft.SnapshotFailure
		}
		g.rn.ReportSnapshot(it.from, st)
	}
}

// undelivered handles an outgoing message the transport never handed over.
func (g *Group) undelivered(m *pb.Message) {
	g.rn.ReportUnreachable(m.GetTo())
	switch m.GetType() {
	case pb.MsgSnap:
		g.rn.ReportSnapshot(m.GetTo(), raft.SnapshotFailure)
	case pb.MsgProp:
		// Our forwarded proposals never reached the leader (typically it
		// just died): propose them again on the next tick, when raft may
		// know a new leader. Safe because they were never delivered.
		for _, e := range m.GetEntries() {
			switch {
			case e.GetType() == pb.EntryNormal && len(e.GetData()) > 0:
				g.retry = append(g.retry, retryEntry{data: e.GetData()})
			case e.GetType() == pb.EntryConfChange:
				g.retry = append(g.retry, retryEntry{conf: true, data: e.GetData()})
			}
		}
	}
}

// propose packs queued commands into entries of at most MaxEntryBytes (a
// single larger command gets an entry of its own) and proposes them.
func (g *Group) propose(props []*proposal) {
	var buf []byte
	var n uint32
	flush := func() {
		if n == 0 {
			return
		}
		setBatchCount(buf, n)
		g.proposeRetry(retryEntry{data: buf})
		buf, n = nil, 0
	}
	for _, p := range props {
		if p.cc != nil {
			data, err := proto.Marshal(p.cc)
			if err != nil {
				g.finish(p.id, result{err: fmt.Errorf("raftgroups: %s: conf change: %w", g.id, err)})
				continue
			}
			g.proposeRetry(retryEntry{conf: true, data: data})
			continue
		}
		if n > 0 && len(buf)+recordOverhead+len(p.cmd) > g.cfg.MaxEntryBytes {
			flush()
		}
		if n == 0 {
			// A fresh buffer per entry: raft keeps the slice.
			buf = appendBatchHeader(make([]byte, 0, min(g.cfg.MaxEntryBytes, batchHeaderLen+recordOverhead+len(p.cmd)*len(props))), g.node)
		}
		buf = appendRecord(buf, p.id, p.cmd)
		n++
	}
	flush()
}

// proposeRetry proposes e; if raft drops it (no leader known, or a leader
// transfer in progress: nothing was sent, so proposing again later cannot
// duplicate) it goes to the retry list.
func (g *Group) proposeRetry(e retryEntry) {
	var err error
	if e.conf {
		var cc pb.ConfChange
		if err = proto.Unmarshal(e.data, &cc); err == nil {
			err = g.rn.ProposeConfChange(&cc)
		}
	} else {
		err = g.rn.Propose(e.data)
	}
	if errors.Is(err, raft.ErrProposalDropped) {
		g.retry = append(g.retry, e)
	} else if err != nil {
		g.log.Warn("propose failed", "err", err)
	}
}

// proposeRetries proposes the retry list again, dropping entries nobody
// waits for any more (every waiter timed out or gave up). That bounds the
// list by the pending proposals even if a leader stays unreachable.
func (g *Group) proposeRetries() {
	if len(g.retry) == 0 {
		return
	}
	retry := g.retry
	g.retry = nil
	for _, e := range retry {
		if g.awaited(e) {
			g.proposeRetry(e)
		}
	}
}

// awaited reports whether a local waiter still waits for e (any command of
// a batch, or the conf change).
func (g *Group) awaited(e retryEntry) bool {
	var ids []uint64
	if e.conf {
		var cc pb.ConfChange
		if proto.Unmarshal(e.data, &cc) != nil || len(cc.GetContext()) != 16 {
			return false
		}
		ids = append(ids, binary.BigEndian.Uint64(cc.GetContext()[8:]))
	} else {
		_, _ = decodeBatch(e.data, func(id uint64, _ []byte) { ids = append(ids, id) })
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, id := range ids {
		if _, ok := g.pending[id]; ok {
			return true
		}
	}
	return false
}

// reissueReads asks again for read batches unanswered for an election
// timeout: raft drops a follower's ReadIndex silently when it has no leader.
func (g *Group) reissueReads() {
	for _, b := range g.reading {
		if !b.ready && g.ticks-b.issued >= uint64(g.cfg.ElectionTick) {
			b.issued = g.ticks
			g.rn.ReadIndex(b.ctx[:])
		}
	}
}

// handleReady processes one Ready in the order etcd raft's doc.go demands.
func (g *Group) handleReady() error {
	rd := g.rn.Ready()
	// A leader whose term and vote are already on disk sends first and
	// persists this Ready's entries while its followers do (etcd raft doc.go,
	// step 2; raft thesis 10.2.1): its own acknowledgement only counts after
	// Advance, below the Save, so nothing is committed on fewer disks than
	// before; a commit-index-only HardState change needs no sync anyway.
	early := g.rn.BasicStatus().RaftState == raft.StateLeader && raft.IsEmptySnap(rd.Snapshot) &&
		(raft.IsEmptyHardState(rd.HardState) || rd.HardState.GetTerm() == g.hsTerm && rd.HardState.GetVote() == g.hsVote)
	if early && len(rd.Messages) > 0 {
		g.tr.Send(g.id, rd.Messages)
	}
	// 1. Persist (synced when raft says so) before anything else that
	// depends on it leaves.
	if err := g.st.Save(rd.HardState, rd.Entries, rd.Snapshot, rd.MustSync); err != nil {
		return err
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		g.hsTerm, g.hsVote = rd.HardState.GetTerm(), rd.HardState.GetVote()
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := g.sm.Restore(rd.Snapshot.GetData()); err != nil {
			return fmt.Errorf("raftgroups: %s: restore snapshot %d: %w", g.id, rd.Snapshot.GetMetadata().GetIndex(), err)
		}
		g.applied = rd.Snapshot.GetMetadata().GetIndex()
		g.snapIndex = g.applied
		g.confState = proto.Clone(pb.EnsureConfState(rd.Snapshot.GetMetadata().GetConfState())).(*pb.ConfState)
	}
	// 2. Send.
	if !early && len(rd.Messages) > 0 {
		g.tr.Send(g.id, rd.Messages)
	}
	for _, rs := range rd.ReadStates {
		for _, b := range g.reading {
			if string(b.ctx[:]) == string(rs.RequestCtx) {
				b.index, b.ready = rs.Index, true
			}
		}
	}
	// 3. Apply.
	for _, e := range rd.CommittedEntries {
		if err := g.apply(e); err != nil {
			return err
		}
	}
	// 4. Advance.
	g.rn.Advance(rd)
	g.serveReads()
	return g.maybeSnapshot()
}

func (g *Group) apply(e *pb.Entry) error {
	if e.GetIndex() <= g.applied {
		return nil // covered by a snapshot restored in this Ready
	}
	switch e.GetType() {
	case pb.EntryNormal:
		if len(e.GetData()) > 0 {
			g.applyBatch(e)
		}
	case pb.EntryConfChange, pb.EntryConfChangeV2:
		var cc pb.ConfChangeI
		var err error
		if e.GetType() == pb.EntryConfChange {
			v1 := &pb.ConfChange{}
			cc, err = v1, proto.Unmarshal(e.GetData(), v1)
		} else {
			v2 := &pb.ConfChangeV2{}
			cc, err = v2, proto.Unmarshal(e.GetData(), v2)
		}
		if err != nil {
			return fmt.Errorf("raftgroups: %s: conf change at %d: %w", g.id, e.GetIndex(), err)
		}
		g.confState = g.rn.ApplyConfChange(cc)
		g.snapNow = true
		if c := cc.AsV2().GetContext(); len(c) == 16 && binary.BigEndian.Uint64(c) == g.node {
			g.finish(binary.BigEndian.Uint64(c[8:]), result{})
		}
	}
	g.applied = e.GetIndex()
	return nil
}

// applyBatch applies every command of a batch entry and, if this node
// proposed it, hands each waiter its result.
func (g *Group) applyBatch(e *pb.Entry) {
	// Only the proposer keeps results; g.results is reused across entries.
	mine := batchProposer(e.GetData()) == g.node
	results := g.results[:0]
	_, err := decodeBatch(e.GetData(), func(id uint64, cmd []byte) {
		val, err := g.sm.Apply(cmd)
		if mine {
			results = append(results, applied{id, result{val, err}})
		}
	})
	if err != nil {
		// Deterministic: every replica skips the same damaged tail.
		g.log.Error("damaged entry", "index", e.GetIndex(), "err", err)
	}
	if len(results) > 0 {
		g.mu.Lock()
		for _, d := range results {
			if p, ok := g.pending[d.id]; ok {
				delete(g.pending, d.id)
				p.done <- d.r
			}
		}
		g.mu.Unlock()
	}
	clear(results)
	g.results = results[:0]
}

// finish hands a local waiter its result, if it still waits.
func (g *Group) finish(id uint64, r result) {
	g.mu.Lock()
	if p, ok := g.pending[id]; ok {
		delete(g.pending, id)
		p.done <- r
	}
	g.mu.Unlock()
}

func (g *Group) serveReads() {
	kept := g.reading[:0]
	for _, b := range g.reading {
		if b.ready && b.index <= g.applied {
			for _, w := range b.waiters {
				w <- nil
			}
			continue
		}
		kept = append(kept, b)
	}
	clear(g.reading[len(kept):])
	g.reading = kept
}

// maybeSnapshot snapshots every SnapshotEntries applied entries, and right
// after a membership change: raft refuses to restore a snapshot whose
// ConfState lacks the node, so a member being added must be sent one taken
// after its addition.
func (g *Group) maybeSnapshot() error {
	if g.applied-g.snapIndex < g.cfg.SnapshotEntries && !(g.snapNow && g.applied > g.snapIndex) {
		return nil
	}
	g.snapNow = false
	if _, err := g.st.CreateSnapshot(g.applied, g.confState, g.sm.Image(), g.cfg.CompactKeepEntries); err != nil {
		return err
	}
	g.snapIndex = g.applied
	g.mSnapshots.Inc()
	return nil
}

func (g *Group) publishStatus() {
	bs := g.rn.BasicStatus()
	g.mu.Lock()
	if bs.Lead != g.status.Leader && bs.Lead != raft.None {
		g.mLeaderChanges.Inc()
	}
	g.status = GroupStatus{
		Group: g.id.String(), Node: g.node, Leader: bs.Lead, State: bs.RaftState.String(),
		Term: bs.HardState.GetTerm(), Commit: bs.HardState.GetCommit(), Applied: g.applied,
		Members: g.confState.GetVoters(),
	}
	g.mu.Unlock()
}

// failAll runs when the loop exits: nothing queued or pending will complete.
func (g *Group) failAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = true
	err := fmt.Errorf("raftgroups: %s: %w", g.id, ErrStopped)
	for id, p := range g.pending {
		p.done <- result{err: err}
		delete(g.pending, id)
	}
	g.props = nil
	for _, r := range g.reads {
		r <- err
	}
	g.reads = nil
	for _, b := range g.reading {
		for _, w := range b.waiters {
			w <- err
		}
	}
	g.reading = nil
	g.inbox = nil
}
