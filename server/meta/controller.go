package meta

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"robustmq/raftgroups"
	"robustmq/server/pb"
)

// Namespaces of the generic KV (metadata group) that the controller owns.
const (
	nsNodeState = "meta.node-state" // node id (decimal) -> "down"; absent = alive
	nsGC        = "meta.gc"         // deleted topic name -> "" until its shards are collected
)

// MQTTDue is the mqtt group's table of due times (frozen): key = due unix ms(8, BE) | kind(1) | key,
// empty value. The controller on the metadata leader handles every entry whose time has come:
// it calls Hooks.Due, then deletes the record kind/key and the due entry, in that order, so a
// crash in between handles the entry again (at least once).
const MQTTDue raftgroups.MQTTKind = 'd'

// DueKey is the MQTTDue key that schedules record kind/key for dueMs: a session to expire
// (MQTTSession) or a delayed will to fire (MQTTWill).
func DueKey(dueMs int64, kind raftgroups.MQTTKind, key []byte) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 9+len(key)), uint64(dueMs))
	return append(append(b, byte(kind)), key...)
}

// Hooks let the roles act on controller decisions. Every hook runs on the metadata leader's
// controller goroutine; nil hooks are skipped. A hook error is logged and the step retried on the
// next check.
type Hooks struct {
	// Due runs before a due record (a session whose expiry passed, a delayed will) is deleted;
	// value is the record's current value (nil if it is already gone). A broker publishes the will here.
	Due func(ctx context.Context, kind raftgroups.MQTTKind, key, value []byte) error
	// NodeDown runs once when a node is marked down; the storage engine reassigns its shards here.
	NodeDown func(ctx context.Context, id uint64) error
	// TopicDeleted runs after the controller deleted a deleted topic's shard records ("<topic>/…");
	// engines drop the data here.
	TopicDeleted func(ctx context.Context, topic string) error
}

var (
	nodesDown   = metrics.NewGauge(`robustmq_meta_nodes_down`, nil)
	dueHandled  = metrics.NewCounter(`robustmq_meta_due_handled_total`)
	topicsGCed  = metrics.NewCounter(`robustmq_meta_topics_collected_total`)
	ctlFailures = metrics.NewCounter(`robustmq_meta_controller_errors_total`)
)

// controller runs on every meta node and acts only while this node leads the metadata group, so
// it moves with leadership. A new leader knows no heartbeat yet: it counts every node as seen when
// it took over (one timeout of grace) before marking any down.
type controller struct {
	s     *Service
	hooks Hooks

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

// check is one controller round: liveness, due records, garbage collection.
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
	return errors.Join(c.liveness(ctx, r), c.due(ctx, r), c.gc(ctx, r))
}

// liveness marks nodes silent for heartbeat_timeout_ms down and nodes heard again alive.
func (c *controller) liveness(ctx context.Context, r *running) error {
	nodes, err := r.meta.Nodes(ctx)
	if err != nil {
		return err
	}
	down, err := downSet(ctx, r)
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
			if c.hooks.NodeDown != nil {
				errs = append(errs, c.hooks.NodeDown(ctx, nd.ID))
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

// downSet reads the nodes marked down.
func downSet(ctx context.Context, r *running) (map[uint64]bool, error) {
	kvs, err := r.meta.List(ctx, nsNodeState, nil)
	if err != nil {
		return nil, err
	}
	out := make(map[uint64]bool, len(kvs))
	for _, kv := range kvs {
		if id, err := strconv.ParseUint(string(kv.Key), 10, 64); err == nil {
			out[id] = true
		}
	}
	return out, nil
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
		val, _, err := r.meta.MQTTGet(ctx, kind, key)
		if err != nil {
			return err
		}
		if c.hooks.Due != nil {
			if err := c.hooks.Due(ctx, kind, key, val); err != nil {
				return fmt.Errorf("meta: due %c/%q: %w", kind, key, err)
			}
		}
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

// gc collects deleted topics: their shard records ("<topic>/" prefix), then the hook, then the
// marker, so a crash in between collects again.
func (c *controller) gc(ctx context.Context, r *running) error {
	kvs, err := r.meta.List(ctx, nsGC, nil)
	if err != nil {
		return err
	}
	g := r.m.Group(raftgroups.GroupMetadata)
	for _, kv := range kvs {
		topic := string(kv.Key)
		if _, err := g.Propose(ctx, raftgroups.AppendDeletePrefix(nil, shardPrefix(topic))); err != nil {
			return fmt.Errorf("meta: collect topic %q shards: %w", topic, err)
		}
		if c.hooks.TopicDeleted != nil {
			if err := c.hooks.TopicDeleted(ctx, topic); err != nil {
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

// shardPrefix is the metadata key prefix of a topic's shard records: shard names are
// "<topic>/<partition>" (raftgroups' "s/" key space).
func shardPrefix(topic string) []byte { return []byte("s/" + topic + "/") }

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
