package meta

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"robustmq/raftgroups"
	"robustmq/server/meta/client"
	"robustmq/server/pb"
)

// Namespaces of the generic KV (metadata group) that the service owns; client.NSDropped is the
// third.
const (
	nsNodeState = "meta.node-state" // node id (decimal) -> "down"; absent = alive
	nsGC        = "meta.gc"         // deleted topic name -> "" until its shard records are collected
)

// NSDropped is the tombstone namespace: deleted topic name -> deletion id (client.NSDropped).
const NSDropped = client.NSDropped

var (
	nodesDown   = metrics.NewGauge(`robustmq_meta_nodes_down`, nil)
	dueHandled  = metrics.NewCounter(`robustmq_meta_due_handled_total`)
	dueRerouted = metrics.NewCounter(`robustmq_meta_due_rerouted_total`)
	dueStarted  = metrics.NewCounter(`robustmq_meta_due_clock_started_total`)
	topicsGCed  = metrics.NewCounter(`robustmq_meta_topics_collected_total`)
	reassigned  = metrics.NewCounter(`robustmq_meta_shards_reassigned_total`)
	ctlFailures = metrics.NewCounter(`robustmq_meta_controller_errors_total`)
)

// controller runs on every meta node and acts only while this node leads the metadata group, so
// it moves with leadership. A new leader knows no heartbeat yet: it counts every node as seen when
// it took over (one timeout of grace) before marking any down.
type controller struct {
	s *Service

	mu   sync.Mutex
	seen map[uint64]time.Time // guarded by mu: last heartbeat per node, while leading

	since   time.Time // owned by loop: when this node became leader; zero while not leading
	nextDue int64     // owned by loop: the earliest At (unix ms) of a due entry not yet due; 0 none
}

func newController(s *Service) *controller {
	return &controller{s: s, seen: map[uint64]time.Time{}}
}

// beat records a heartbeat of node id. REQUIRES: this node leads the metadata group.
func (c *controller) beat(id uint64) {
	c.mu.Lock()
	c.seen[id] = time.Now()
	c.mu.Unlock()
}

// lastSeen returns node id's last heartbeat as known by this leader.
func (c *controller) lastSeen(id uint64) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.seen[id]
	return t, ok
}

func (c *controller) loop() {
	every := time.Duration(max(c.s.cfg.MetaRuntime.HeartbeatCheckTimeMs, 10)) * time.Millisecond
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-c.s.stopc:
			return
		case <-t.C:
			c.nextDue = 0
			if err := c.check(); err != nil {
				ctlFailures.Inc()
				c.s.log.Warn("meta: controller", "err", err)
			}
			wait := every
			if c.nextDue != 0 { // a due entry known to fall due before the next round: wake for it
				wait = min(wait, max(time.Duration(c.nextDue-time.Now().UnixMilli())*time.Millisecond, time.Millisecond))
			}
			t.Reset(wait)
		}
	}
}

// check is one controller round: liveness, shard reassignment, due records, garbage collection.
func (c *controller) check() error {
	r, err := c.s.live()
	if err != nil {
		return nil
	}
	if r.m.Group(raftgroups.GroupMetadata).Status().Leader != c.s.cfg.BrokerID {
		if !c.since.IsZero() {
			c.since = time.Time{}
			c.mu.Lock()
			clear(c.seen)
			c.mu.Unlock()
		}
		return nil
	}
	if c.since.IsZero() {
		c.since = time.Now()
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.s.heartbeatInterval()*3)
	defer cancel()
	err = c.liveness(ctx, r)
	if err == nil { // on a stale down set it could move shards off a live node
		err = c.reassign(ctx, r)
	}
	return errors.Join(err, c.due(ctx, r), c.gc(ctx, r))
}

// liveness marks nodes silent for heartbeat_timeout_ms down and nodes heard again alive.
func (c *controller) liveness(ctx context.Context, r *running) error {
	nodes, down, err := membership(ctx, r)
	if err != nil {
		return err
	}
	timeout := time.Duration(c.s.cfg.MetaRuntime.HeartbeatTimeoutMs) * time.Millisecond
	now := time.Now()
	var errs []error
	n := 0
	for _, nd := range nodes {
		last, ok := c.lastSeen(nd.ID)
		if !ok || last.Before(c.since) {
			last = c.since
		}
		key := []byte(strconv.FormatUint(nd.ID, 10))
		silent := now.Sub(last) > timeout
		switch {
		case silent && !down[nd.ID]:
			c.s.log.Warn("meta: node down", "node", nd.ID, "silent", now.Sub(last))
			if err := r.meta.Put(ctx, nsNodeState, key, []byte("down")); err != nil {
				errs = append(errs, err)
				continue
			}
		case !silent && down[nd.ID]:
			c.s.log.Info("meta: node alive again", "node", nd.ID)
			if err := r.meta.Delete(ctx, nsNodeState, key); err != nil && !errors.Is(err, raftgroups.ErrNotFound) {
				errs = append(errs, err)
			}
		}
		if silent {
			n++
		}
	}
	nodesDown.Set(float64(n))
	return errors.Join(errs...)
}

// membership reads the registered nodes and the set of those marked down.
func membership(ctx context.Context, r *running) ([]raftgroups.Node, map[uint64]bool, error) {
	nodes, err := r.meta.Nodes(ctx)
	if err != nil {
		return nil, nil, err
	}
	kvs, err := r.meta.List(ctx, nsNodeState, nil)
	if err != nil {
		return nil, nil, err
	}
	down := make(map[uint64]bool, len(kvs))
	for _, kv := range kvs {
		if id, err := strconv.ParseUint(string(kv.Key), 10, 64); err == nil {
			down[id] = true
		}
	}
	return nodes, down, nil
}

// The mqtt group's due and fired tables (client.TableDue, client.TableFired).
var (
	tableDue   = raftgroups.MQTTKind(client.TableDue[0])
	tableFired = raftgroups.MQTTKind(client.TableFired[0])
)

// brokers is the membership as the due step sees it.
type brokers struct {
	alive      []uint64 // ascending: registered, not down, role "broker"
	registered map[uint64]bool
	down       map[uint64]bool
}

func readBrokers(ctx context.Context, r *running) (brokers, error) {
	nodes, down, err := membership(ctx, r)
	if err != nil {
		return brokers{}, err
	}
	b := brokers{registered: make(map[uint64]bool, len(nodes)), down: down}
	for _, n := range nodes {
		b.registered[n.ID] = true
		if !down[n.ID] && slices.Contains(n.Roles, "broker") {
			b.alive = append(b.alive, n.ID)
		}
	}
	slices.Sort(b.alive)
	return b, nil
}

// lost reports whether node id is marked down or no longer registered.
func (b brokers) lost(id uint64) bool { return b.down[id] || !b.registered[id] }

// target is the broker that acts on clientID's entries held by node: node itself while it is an
// alive broker, else the alive broker at FNV-1a(clientID) mod count, so that a client's expiry and
// will go to the same one. ok is false with no alive broker.
func (b brokers) target(node uint64, clientID string) (id uint64, ok bool) {
	if _, found := slices.BinarySearch(b.alive, node); found {
		return node, true
	}
	if len(b.alive) == 0 {
		return 0, false
	}
	h := fnv.New32a()
	h.Write([]byte(clientID))
	return b.alive[h.Sum32()%uint32(len(b.alive))], true
}

// malformed counts the entries a round skipped because they do not decode; it is logged once.
type malformed struct {
	n     int
	first error // the first one's, naming its table and key
}

func (m *malformed) add(table string, key []byte, err error) {
	if m.n == 0 {
		m.first = fmt.Errorf("table %s key %q: %w", table, key, err)
	}
	m.n++
}

// due hands the due MQTT entries to live brokers (doc.go, Controller step 3): it starts the clock
// of entries whose owner is lost, fires the due ones, then moves fired entries off lost brokers.
// Every write is a transaction comparing the value read, so a broker's change in between wins and
// a repeated round does nothing twice.
func (c *controller) due(ctx context.Context, r *running) error {
	b, err := readBrokers(ctx, r)
	if err != nil {
		return err
	}
	var bad malformed
	err = errors.Join(c.fire(ctx, r, b, &bad), c.reroute(ctx, r, b, &bad))
	if bad.n > 0 {
		ctlFailures.Add(bad.n)
		c.s.log.Warn("meta: malformed MQTT due entries skipped", "count", bad.n, "first", bad.first)
	}
	return err
}

// The mqtt group's indexes of client.TableDue (raftgroups.Index), so that a round reads the entries
// due and those of lost owners, not every persistent session's:
//
//	dueAtIndex    at(8, BE) | key, for entries with at != 0 (a negative at as 1: due)
//	dueLostIndex  owner(8, BE) | key, for entries with at 0 and lost >= 0
//	dueBadIndex   key, for entries that do not decode
const (
	dueAtIndex   = "mqtt-due-at"
	dueLostIndex = "mqtt-due-lost"
	dueBadIndex  = "mqtt-due-bad"
)

// maxFirePerRound bounds the due entries one round hands over; more wait for the next round,
// which then comes at once.
const maxFirePerRound = 4096

// dueIndexes are the indexes every meta node declares on the mqtt group.
func dueIndexes() []raftgroups.Index {
	prefix := raftgroups.MQTTKey(tableDue, nil)
	index := func(name string, key func(k []byte, d client.Due, err error) ([]byte, bool)) raftgroups.Index {
		return raftgroups.Index{Group: raftgroups.GroupMQTT, Name: name, Prefix: prefix,
			Key: func(k, v []byte) ([]byte, bool) {
				_, _, err := client.ParseDueKey(k[len(prefix):])
				d, derr := client.ParseDue(v)
				return key(k, d, errors.Join(err, derr))
			}}
	}
	return []raftgroups.Index{
		index(dueAtIndex, func(k []byte, d client.Due, err error) ([]byte, bool) {
			return append(binary.BigEndian.AppendUint64(nil, uint64(max(d.At, 1))), k...), err == nil && d.At != 0
		}),
		index(dueLostIndex, func(k []byte, d client.Due, err error) ([]byte, bool) {
			return append(binary.BigEndian.AppendUint64(nil, d.Owner), k...), err == nil && d.At == 0 && d.Lost >= 0
		}),
		index(dueBadIndex, func(k []byte, _ client.Due, err error) ([]byte, bool) { return slices.Clone(k), err != nil }),
	}
}

// fire counts the malformed TableDue entries, starts the clock of entries whose owner is lost (at =
// now + lost) and moves the entries whose time has come to client.TableFired under their target
// broker, through the indexes: it reads what is due, not every entry. It notes when the next entry
// falls due (nextDue).
func (c *controller) fire(ctx context.Context, r *running, b brokers, bad *malformed) error {
	prefix := len(raftgroups.MQTTKey(tableDue, nil))
	kvs, err := r.meta.IndexRange(ctx, raftgroups.GroupMQTT, dueBadIndex, nil, nil, 0)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		_, _, err := client.ParseDueKey(kv.Key[prefix:])
		_, derr := client.ParseDue(kv.Value)
		bad.add(client.TableDue, kv.Key[prefix:], errors.Join(err, derr))
	}
	now := time.Now().UnixMilli()
	// The owners with clocks not running, one at a time: few (brokers), each looked at once.
	for from := []byte(nil); ; {
		first, err := r.meta.IndexRange(ctx, raftgroups.GroupMQTT, dueLostIndex, from, nil, 1)
		if err != nil || len(first) == 0 {
			if err != nil {
				return err
			}
			break
		}
		d, _ := client.ParseDue(first[0].Value) // indexed: decodes
		next := binary.BigEndian.AppendUint64(nil, d.Owner+1)
		if b.lost(d.Owner) {
			kvs, err := r.meta.IndexRange(ctx, raftgroups.GroupMQTT, dueLostIndex, binary.BigEndian.AppendUint64(nil, d.Owner), next, 0)
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				if err := c.dueEntry(ctx, r, b, kv.Key[prefix:], kv.Value, now); err != nil {
					return err
				}
			}
		}
		if d.Owner == math.MaxUint64 {
			break
		}
		from = next
	}
	until := binary.BigEndian.AppendUint64(nil, uint64(now+1))
	if kvs, err = r.meta.IndexRange(ctx, raftgroups.GroupMQTT, dueAtIndex, nil, until, maxFirePerRound); err != nil {
		return err
	}
	for _, kv := range kvs {
		if err := c.dueEntry(ctx, r, b, kv.Key[prefix:], kv.Value, now); err != nil {
			return err
		}
	}
	if len(kvs) == maxFirePerRound {
		c.nextDue = now // more are due: the next round at once
		return nil
	}
	next, err := r.meta.IndexRange(ctx, raftgroups.GroupMQTT, dueAtIndex, until, nil, 1)
	if err == nil && len(next) == 1 {
		d, _ := client.ParseDue(next[0].Value)
		c.nextDue = d.At
	}
	return err
}

// dueEntry handles TableDue entry k (table prefix stripped) = v read at now: starts its clock when
// it is not running and its owner is lost, or hands it to its target broker when it is due.
func (c *controller) dueEntry(ctx context.Context, r *running, b brokers, k, v []byte, now int64) error {
	kind, id, err := client.ParseDueKey(k)
	if err != nil {
		return nil // indexed entries decode
	}
	d, err := client.ParseDue(v)
	if err != nil {
		return nil
	}
	key := raftgroups.MQTTKey(tableDue, k)
	var ops []raftgroups.Op
	var counter *metrics.Counter
	switch {
	case d.At == 0:
		if d.Lost < 0 || !b.lost(d.Owner) {
			return nil
		}
		d.At = now + d.Lost
		ops, counter = []raftgroups.Op{{Key: key, Value: client.AppendDue(nil, d)}}, dueStarted
	case d.At > now:
		return nil
	default:
		to, ok := b.target(d.Owner, id)
		if !ok {
			return nil // due again next round
		}
		ops = []raftgroups.Op{{Key: key, Delete: true},
			{Key: raftgroups.MQTTKey(tableFired, client.FiredKey(to, kind, id)), Value: client.AppendFired(nil, d.At)}}
		counter = dueHandled
	}
	switch err := r.meta.Txn(ctx, raftgroups.GroupMQTT, []raftgroups.Compare{{Key: key, Value: v}}, ops); {
	case errors.Is(err, raftgroups.ErrConflict):
	case err != nil:
		return fmt.Errorf("meta: due entry %c of client %q (owner %d): %w", kind, id, d.Owner, err)
	default:
		counter.Inc()
	}
	return nil
}

// reroute moves the client.TableFired entries of nodes that are not alive brokers to a
// substitute; an alive broker's entries stay for it to act on and delete.
func (c *controller) reroute(ctx context.Context, r *running, b brokers, bad *malformed) error {
	kvs, err := r.meta.MQTTList(ctx, tableFired, nil)
	if err != nil {
		return err
	}
	moved := 0
	defer func() {
		if moved > 0 {
			c.s.log.Info("meta: fired MQTT entries moved off lost brokers", "count", moved)
		}
	}()
	for _, kv := range kvs {
		node, kind, id, _, err := client.ParseFired(kv.Key, kv.Value)
		if err != nil {
			bad.add(client.TableFired, kv.Key, err)
			continue
		}
		to, ok := b.target(node, id)
		if !ok || to == node {
			continue
		}
		key := raftgroups.MQTTKey(tableFired, kv.Key)
		ops := []raftgroups.Op{{Key: key, Delete: true}}
		if kind != client.DueRelease { // a lost broker holds no session to give up: the notice goes
			ops = append(ops, raftgroups.Op{Key: raftgroups.MQTTKey(tableFired, client.FiredKey(to, kind, id)), Value: kv.Value})
		}
		err = r.meta.Txn(ctx, raftgroups.GroupMQTT, []raftgroups.Compare{{Key: key, Value: kv.Value}}, ops)
		switch {
		case errors.Is(err, raftgroups.ErrConflict):
		case err != nil:
			return fmt.Errorf("meta: reroute fired entry %c of client %q from node %d to %d: %w", kind, id, node, to, err)
		case kind != client.DueRelease:
			dueRerouted.Inc()
			moved++
		}
	}
	return nil
}

// reassign moves the shard records held by a node that is down or no longer registered to the
// alive engine node (role "engine") holding the fewest shards, ties to the lowest id. It runs every
// round, so a failed write, or a node that went down under an earlier leader, is handled later. With
// no alive engine node the shards stay where they are.
func (c *controller) reassign(ctx context.Context, r *running) error {
	nodes, down, err := membership(ctx, r)
	if err != nil {
		return err
	}
	shards, err := r.meta.Shards(ctx, "")
	if err != nil {
		return err
	}
	load := map[uint64]int{} // alive engine node -> shards held
	registered := map[uint64]bool{}
	for _, n := range nodes {
		registered[n.ID] = true
		if !down[n.ID] && slices.Contains(n.Roles, "engine") {
			load[n.ID] = 0
		}
	}
	for _, sh := range shards {
		if _, ok := load[sh.Node]; ok {
			load[sh.Node]++
		}
	}
	for _, sh := range shards {
		if registered[sh.Node] && !down[sh.Node] || len(load) == 0 {
			continue
		}
		to := uint64(0)
		for id, n := range load {
			if to == 0 || n < load[to] || n == load[to] && id < to {
				to = id
			}
		}
		from := sh.Node
		sh.Node = to
		if err := r.meta.PutShard(ctx, sh); err != nil {
			return fmt.Errorf("meta: reassign shard %q from node %d to %d: %w", sh.Name, from, to, err)
		}
		load[to]++
		reassigned.Inc()
		c.s.log.Info("meta: shard reassigned", "shard", sh.Name, "from", from, "to", to)
	}
	return nil
}

// gc collects deleted topics: it deletes their shard records (names client.TopicShard says belong
// to the topic), then the marker, so a crash in between collects again.
func (c *controller) gc(ctx context.Context, r *running) error {
	kvs, err := r.meta.List(ctx, nsGC, nil)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		topic := string(kv.Key)
		shards, err := r.meta.Shards(ctx, topic+"_")
		if err != nil {
			return err
		}
		for _, sh := range shards {
			if !client.TopicShard(sh.Name, topic) {
				continue // another topic's: "a_b_0" under "a_"
			}
			if err := r.meta.DeleteShard(ctx, sh.Name); err != nil && !errors.Is(err, raftgroups.ErrNotFound) {
				return fmt.Errorf("meta: collect topic %q: %w", topic, err)
			}
		}
		if err := r.meta.Delete(ctx, nsGC, kv.Key); err != nil && !errors.Is(err, raftgroups.ErrNotFound) {
			return err
		}
		topicsGCed.Inc()
	}
	return nil
}

// forwarder holds client connections to other meta nodes, for heartbeats a follower receives.
type forwarder struct {
	mu     sync.Mutex
	conns  map[uint64]*clientConn // guarded by mu
	closed bool                   // guarded by mu
}

type clientConn struct {
	cc  *grpc.ClientConn
	api pb.MetaServiceClient
}

func (f *forwarder) get(id uint64, addr string) (pb.MetaServiceClient, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrUnavailable
	}
	if c, ok := f.conns[id]; ok {
		return c.api, nil
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("meta: dial node %d at %s: %w", id, addr, err)
	}
	c := &clientConn{cc: cc, api: pb.NewMetaServiceClient(cc)}
	f.conns[id] = c
	return c.api, nil
}

func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for id, c := range f.conns {
		c.cc.Close()
		delete(f.conns, id)
	}
}

// heartbeat records node id's heartbeat on the metadata leader: here when this node leads,
// else forwarded to the leader.
func (s *Service) heartbeat(ctx context.Context, id uint64) error {
	r, err := s.live()
	if err != nil {
		return err
	}
	leader := r.m.Group(raftgroups.GroupMetadata).Status().Leader
	switch leader {
	case s.cfg.BrokerID:
		s.ctl.beat(id)
		return nil
	case 0:
		return fmt.Errorf("meta: heartbeat of node %d: metadata group has no leader: %w", id, raftgroups.ErrTimeout)
	}
	addr, ok := s.peers[leader]
	if !ok {
		return fmt.Errorf("meta: heartbeat of node %d: leader %d is not in meta_addrs", id, leader)
	}
	api, err := s.fw.get(leader, addr)
	if err != nil {
		return err
	}
	_, err = api.Heartbeat(ctx, &pb.HeartbeatRequest{Id: id})
	return err
}
