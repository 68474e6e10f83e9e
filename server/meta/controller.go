package meta

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
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

// MQTTDue is the mqtt group's table of due times (frozen): key = due unix ms(8, BE) | kind(1) | key,
// empty value. The controller on the metadata leader handles every entry whose time has come: it
// deletes the record kind/key, then the due entry, so a crash in between handles the entry again
// (at least once). It expires records (sessions); it publishes nothing: delayed will messages are
// fired by the MQTT layer (server/mqtt) itself today.
const MQTTDue raftgroups.MQTTKind = 'd'

// DueKey is the MQTTDue key that schedules record kind/key for dueMs: a session to expire
// (MQTTSession) or a delayed will to fire (MQTTWill).
func DueKey(dueMs int64, kind raftgroups.MQTTKind, key []byte) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 9+len(key)), uint64(dueMs))
	return append(append(b, byte(kind)), key...)
}

var (
	nodesDown   = metrics.NewGauge(`robustmq_meta_nodes_down`, nil)
	dueHandled  = metrics.NewCounter(`robustmq_meta_due_handled_total`)
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

	since time.Time // owned by loop: when this node became leader; zero while not leading
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
	t := time.NewTicker(time.Duration(max(c.s.cfg.MetaRuntime.HeartbeatCheckTimeMs, 10)) * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.s.stopc:
			return
		case <-t.C:
			if err := c.check(); err != nil {
				ctlFailures.Inc()
				c.s.log.Warn("meta: controller", "err", err)
			}
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

// due handles every MQTTDue entry whose time has passed, oldest first.
func (c *controller) due(ctx context.Context, r *running) error {
	kvs, err := r.meta.MQTTList(ctx, MQTTDue, nil)
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	for _, kv := range kvs {
		if len(kv.Key) < 9 {
			return fmt.Errorf("meta: due entry %x: shorter than 9 bytes: %w", kv.Key, raftgroups.ErrCorrupt)
		}
		if int64(binary.BigEndian.Uint64(kv.Key)) > now {
			return nil // keys ascend by due time
		}
		kind, key := raftgroups.MQTTKind(kv.Key[8]), kv.Key[9:]
		if err := r.meta.MQTTDelete(ctx, kind, key); err != nil && !errors.Is(err, raftgroups.ErrNotFound) {
			return err
		}
		if err := r.meta.MQTTDelete(ctx, MQTTDue, kv.Key); err != nil && !errors.Is(err, raftgroups.ErrNotFound) {
			return err
		}
		dueHandled.Inc()
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
