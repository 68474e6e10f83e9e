package raftgroups

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Transport carries raft messages between nodes. Send must not block the
// group loop: implementations queue per peer (bounded), drop when full and
// report the peer unreachable (and a MsgSnap as failed) through the
// Receiver, so a down peer never slows the others.
type Transport interface {
	Send(g GroupID, msgs []*pb.Message)
}

// Receiver is the node side of a transport; *Manager implements it. All
// methods are non-blocking and safe from any goroutine.
type Receiver interface {
	// Receive hands an incoming message for group g to the node.
	Receive(g GroupID, m *pb.Message)
	// ReportUnreachable tells group g that a message to node to may have
	// been lost.
	ReportUnreachable(g GroupID, to uint64)
	// ReportUndelivered tells group g that m certainly never reached its
	// peer (queue full, peer down before the write): the peer is reported
	// unreachable, a MsgSnap failed, and proposals m carried (a follower's
	// MsgProp to its leader) are proposed again on the next tick. Only
	// report messages that were not handed to the peer: a re-proposal of a
	// delivered MsgProp would apply its commands twice.
	ReportUndelivered(g GroupID, m *pb.Message)
	// ReportSnapshot tells group g whether a MsgSnap to node to arrived.
	ReportSnapshot(g GroupID, to uint64, failed bool)
}

// Config configures a Manager. Zero durations and sizes take the defaults
// shown in the field comments.
type Config struct {
	NodeID uint64 // this node's raft id, > 0
	// Peers are the voters of every group, NodeID included (from the
	// config's meta_addrs). Empty means standalone: a single-member group.
	Peers []uint64
	// Join: this node joins a running cluster. Its groups start empty (no
	// bootstrap, no campaign) until a member adds it (Manager.AddMember)
	// and the leader sends it a snapshot. Peers is then ignored.
	Join      bool
	DB        *pebble.DB // from OpenDB; the caller closes it after Stop
	Transport Transport  // required unless standalone
	Logger    *slog.Logger

	TickInterval  time.Duration // 50ms
	HeartbeatTick int           // 5 ticks: ~250ms heartbeats
	ElectionTick  int           // 20 ticks: ~1s election timeout

	SnapshotEntries    uint64 // 10000 applied entries between snapshots
	CompactKeepEntries uint64 // 1000 entries kept before a snapshot for slow followers

	ProposeTimeout time.Duration // 30s; also bounds ReadIndex
	SlowPropose    time.Duration // 1s: longer proposals are logged at warn

	MaxEntryBytes       int // 256 KiB of commands packed per raft entry
	MaxCommandBytes     int // 1 MiB per command; larger ones are refused (raft messages must fit a gRPC frame)
	MaxPendingProposals int // 65536 unfinished proposals (and queued reads) per group; then ErrBusy
	MaxInboxMessages    int // 16384 queued incoming messages per group; then drop

	// Indexes are secondary orderings of the groups' state (index.go),
	// read with Meta.IndexRange. Every member must declare the same ones.
	Indexes []Index
}

func (c *Config) setDefaults() error {
	var errs []error
	if c.NodeID == 0 {
		errs = append(errs, errors.New("raftgroups: config: node id: must be > 0"))
	}
	if c.DB == nil {
		errs = append(errs, errors.New("raftgroups: config: db: required"))
	}
	if len(c.Peers) == 0 {
		c.Peers = []uint64{c.NodeID}
	}
	c.Peers = slices.Clone(c.Peers)
	slices.Sort(c.Peers)
	c.Peers = slices.Compact(c.Peers)
	if !slices.Contains(c.Peers, c.NodeID) {
		errs = append(errs, fmt.Errorf("raftgroups: config: peers %v: do not include node id %d", c.Peers, c.NodeID))
	}
	if c.Transport == nil {
		if len(c.Peers) > 1 || c.Join {
			errs = append(errs, errors.New("raftgroups: config: transport: required with more than one peer"))
		}
		c.Transport = nopTransport{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defD(&c.TickInterval, 50*time.Millisecond)
	def(&c.HeartbeatTick, 5)
	def(&c.ElectionTick, 20)
	if c.SnapshotEntries == 0 {
		c.SnapshotEntries = 10000
	}
	if c.CompactKeepEntries == 0 {
		c.CompactKeepEntries = 1000
	}
	defD(&c.ProposeTimeout, 30*time.Second)
	defD(&c.SlowPropose, time.Second)
	def(&c.MaxEntryBytes, 256<<10)
	def(&c.MaxCommandBytes, 1<<20)
	def(&c.MaxPendingProposals, 65536)
	def(&c.MaxInboxMessages, 16384)
	if c.ElectionTick <= c.HeartbeatTick {
		errs = append(errs, fmt.Errorf("raftgroups: config: election tick %d: must exceed heartbeat tick %d", c.ElectionTick, c.HeartbeatTick))
	}
	return errors.Join(errs...)
}

type nopTransport struct{}

func (nopTransport) Send(GroupID, []*pb.Message) {}

// Manager runs this node's three groups. New creates them (metadata, offset,
// mqtt, in that order); Start launches their loops and the ticker; Stop ends
// and waits for all of them.
type Manager struct {
	cfg    Config
	groups [len(Groups)]*Group
	stopc  chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
	start  sync.Once
}

// New opens the groups' storage and state. Nothing runs until Start.
func New(cfg Config) (*Manager, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, stopc: make(chan struct{})}
	for i, id := range Groups {
		st, err := OpenStorage(cfg.DB, id)
		if err != nil {
			return nil, err
		}
		if m.groups[i], err = newGroup(id, &m.cfg, st); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Start launches the group loops and the ticker. Calling it again is a no-op.
func (m *Manager) Start() {
	m.start.Do(func() {
		for _, g := range m.groups {
			m.wg.Go(g.run)
		}
		m.wg.Go(m.tick)
	})
}

// tick drives every group's logical clock; a group busy with a Ready misses
// at most the ticks that pile up (one-slot signal).
func (m *Manager) tick() {
	t := time.NewTicker(m.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stopc:
			return
		case <-t.C:
			for _, g := range m.groups {
				signal(g.tickc)
			}
		}
	}
}

// Stop ends the loops and waits for them; waiting callers get ErrStopped.
func (m *Manager) Stop() {
	m.once.Do(func() {
		close(m.stopc)
		for _, g := range m.groups {
			close(g.stopc)
		}
		m.start.Do(func() {}) // a never-started manager stays stopped
		m.wg.Wait()
		for _, g := range m.groups {
			select {
			case <-g.done:
			default: // never started: fail waiters ourselves
				g.failAll()
			}
		}
	})
}

// AddMember adds node id as a voter to every group, in creation order, and
// returns once this node applied each change. The transport must already
// reach id; id starts with Config.Join.
func (m *Manager) AddMember(ctx context.Context, id uint64) error {
	return m.changeMembers(ctx, pb.ConfChangeAddNode, id)
}

// RemoveMember removes node id from every group.
func (m *Manager) RemoveMember(ctx context.Context, id uint64) error {
	return m.changeMembers(ctx, pb.ConfChangeRemoveNode, id)
}

func (m *Manager) changeMembers(ctx context.Context, t pb.ConfChangeType, id uint64) error {
	for _, g := range m.groups {
		if err := g.ProposeConfChange(ctx, &pb.ConfChange{Type: t.Enum(), NodeId: new(id)}); err != nil {
			return fmt.Errorf("raftgroups: %s node %d: %w", t, id, err)
		}
	}
	return nil
}

// WaitLeaders returns once every group knows a leader (the node can serve
// the Meta API), or with ctx's error. It checks every TickInterval.
func (m *Manager) WaitLeaders(ctx context.Context) error {
	t := time.NewTicker(m.cfg.TickInterval)
	defer t.Stop()
	for {
		missing := GroupID(0)
		for _, g := range m.groups {
			if g.Status().Leader == 0 {
				missing = g.id
				break
			}
		}
		if missing == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("raftgroups: wait for leaders: %s has none: %w", missing, ctx.Err())
		case <-t.C:
		}
	}
}

// Group returns group id, or nil if id is not a group.
func (m *Manager) Group(id GroupID) *Group {
	if id < GroupMetadata || int(id) > len(m.groups) {
		return nil
	}
	return m.groups[id-1]
}

// NodeID returns this node's raft id.
func (m *Manager) NodeID() uint64 { return m.cfg.NodeID }

// Status returns every group's status, in creation order (for
// /api/cluster/raft).
func (m *Manager) Status() []GroupStatus {
	out := make([]GroupStatus, len(m.groups))
	for i, g := range m.groups {
		out[i] = g.Status()
	}
	return out
}

// Receive implements Receiver. Messages for unknown groups are dropped.
func (m *Manager) Receive(g GroupID, msg *pb.Message) {
	if grp := m.Group(g); grp != nil {
		grp.receive(inboxItem{msg: msg})
	}
}

// ReportUnreachable implements Receiver.
func (m *Manager) ReportUnreachable(g GroupID, to uint64) {
	if grp := m.Group(g); grp != nil {
		grp.receive(inboxItem{from: to, unreachable: true})
	}
}

// ReportUndelivered implements Receiver.
func (m *Manager) ReportUndelivered(g GroupID, msg *pb.Message) {
	if grp := m.Group(g); grp != nil {
		grp.receive(inboxItem{msg: msg, undelivered: true})
	}
}

// ReportSnapshot implements Receiver.
func (m *Manager) ReportSnapshot(g GroupID, to uint64, failed bool) {
	if grp := m.Group(g); grp != nil {
		grp.receive(inboxItem{from: to, snapStatus: true, snapFailed: failed})
	}
}
