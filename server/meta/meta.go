package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"robustmq/raftgroups"
	"robustmq/raftgroups/grpctransport"
	"robustmq/server/config"
	"robustmq/server/node/component"
	"robustmq/server/pb"
)

// ErrUnavailable: the Meta Service is not started yet, or already stopped.
var ErrUnavailable = errors.New("meta: not running")

// SnapshotEntriesEnv overrides raftgroups.Config.SnapshotEntries (applied entries between
// snapshots). It is a tuning and test knob, not a config key: tests set it small so a restarted
// follower catches up through a snapshot.
const SnapshotEntriesEnv = "ROBUSTMQ_META_SNAPSHOT_ENTRIES"

// Service is the Meta Service component: this node's raft groups, the Meta gRPC API, the admin
// routes and the controller. Fields set in New are read-only afterwards.
type Service struct {
	cfg   *config.Config
	log   *slog.Logger
	env   component.Env
	peers map[uint64]string // meta_addrs: id -> inner gRPC address
	tr    *grpctransport.Transport

	run   atomic.Pointer[running] // nil before Start and after Stop
	stopc chan struct{}
	wg    sync.WaitGroup // heartbeat and controller goroutines
	ctl   *controller
	fw    forwarder // heartbeats from followers to the metadata leader
}

// running is what exists between Start and Stop.
type running struct {
	db   *pebble.DB
	m    *raftgroups.Manager
	meta raftgroups.Meta
}

// New builds the component: it registers the raft transport and the Meta API on the inner gRPC
// server and the admin routes. It does no I/O; the transport has no peers (and no goroutines) until
// Start.
func New(env component.Env) (component.Component, error) {
	cfg := env.Config
	s := &Service{cfg: cfg, log: env.Logger, env: env, peers: map[uint64]string{}, stopc: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, n := range cfg.MetaNodes() {
		s.peers[n.ID] = n.Addr
	}
	if _, ok := s.peers[cfg.BrokerID]; !ok {
		return nil, fmt.Errorf("meta: broker_id %d is not in meta_addrs %v: a meta node must be one of the meta members", cfg.BrokerID, cfg.MetaAddrs)
	}
	tr, err := grpctransport.New(grpctransport.Config{NodeID: cfg.BrokerID, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	s.tr = tr
	s.ctl = newController(s)
	s.fw = forwarder{conns: map[uint64]*clientConn{}}
	if env.GRPC != nil {
		tr.Register(env.GRPC)
		pb.RegisterMetaServiceServer(env.GRPC, &api{s: s})
	}
	if env.HTTP != nil {
		s.routes(env.HTTP)
	}
	return s, nil
}

// Name implements component.Component.
func (s *Service) Name() string { return "meta" }

// raftConfig derives the raft settings from [meta_runtime]: raft_tick_ms ticks, heartbeats every
// tick, elections after 10 ticks, raft_write_timeout_sec per write.
func (s *Service) raftConfig(db *pebble.DB) (raftgroups.Config, error) {
	mr := s.cfg.MetaRuntime
	rc := raftgroups.Config{
		NodeID: s.cfg.BrokerID, DB: db, Logger: s.log,
		TickInterval:   time.Duration(max(mr.RaftTickMs, 1)) * time.Millisecond,
		HeartbeatTick:  1,
		ElectionTick:   10,
		ProposeTimeout: time.Duration(max(mr.RaftWriteTimeoutSec, 1)) * time.Second,
		Indexes:        dueIndexes(),
	}
	for id := range s.peers {
		rc.Peers = append(rc.Peers, id)
	}
	slices.Sort(rc.Peers)
	if len(rc.Peers) > 1 {
		rc.Transport = s.tr
	}
	if v := os.Getenv(SnapshotEntriesEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return rc, fmt.Errorf("meta: %s=%q: not a positive count", SnapshotEntriesEnv, v)
		}
		rc.SnapshotEntries, rc.CompactKeepEntries = n, max(n/10, 1)
	}
	return rc, nil
}

// Start opens the pebble DB under data_path/meta, starts the groups (single-member when meta_addrs
// names only this node), waits for a leader in every group, registers this node and starts the
// heartbeat and controller loops.
func (s *Service) Start(ctx context.Context) error {
	dir := filepath.Join(s.cfg.DataPath, "meta")
	db, err := raftgroups.OpenDB(dir, s.log)
	if err != nil {
		return fmt.Errorf("meta: open %s: %w", dir, err)
	}
	rc, err := s.raftConfig(db)
	if err != nil {
		db.Close()
		return err
	}
	m, err := raftgroups.New(rc)
	if err != nil {
		db.Close()
		return fmt.Errorf("meta: %w", err)
	}
	for id, addr := range s.peers {
		if id == s.cfg.BrokerID {
			continue
		}
		if err := s.tr.AddPeer(id, addr); err != nil {
			m.Stop()
			s.tr.Close()
			db.Close()
			return fmt.Errorf("meta: peer %d at %s: %w", id, addr, err)
		}
	}
	s.tr.SetReceiver(m)
	m.Start()
	r := &running{db: db, m: m, meta: raftgroups.NewMeta(m)}
	s.run.Store(r)
	fail := func(err error) error {
		s.run.Store(nil)
		s.shutdown(r)
		return err
	}
	if err := m.WaitLeaders(ctx); err != nil {
		return fail(fmt.Errorf("meta: %w", err))
	}
	self := raftgroups.Node{ID: s.cfg.BrokerID, Addr: s.peers[s.cfg.BrokerID], Roles: s.cfg.Roles, StartedAt: time.Now().UnixMilli()}
	if err := r.meta.RegisterNode(ctx, self); err != nil {
		return fail(fmt.Errorf("meta: register node %d: %w", self.ID, err))
	}
	s.wg.Go(s.heartbeatLoop)
	s.wg.Go(s.ctl.loop)
	if s.env.SetHealth != nil {
		s.env.SetHealth(pb.MetaService_ServiceDesc.ServiceName, true)
	}
	s.log.Info("meta started", "dir", dir, "peers", rc.Peers, "tick", rc.TickInterval)
	return nil
}

// Stop ends the loops, then the groups, then the transport, then the DB (the raftgroups recipe).
func (s *Service) Stop(ctx context.Context) error {
	if s.env.SetHealth != nil {
		s.env.SetHealth(pb.MetaService_ServiceDesc.ServiceName, false)
	}
	r := s.run.Swap(nil)
	close(s.stopc)
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		s.fw.close()
		if r != nil {
			s.shutdown(r)
		} else {
			s.tr.Close()
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("meta: stop: %w", ctx.Err())
	}
}

func (s *Service) shutdown(r *running) {
	r.m.Stop()
	s.tr.Close()
	if err := r.db.Close(); err != nil {
		s.log.Error("meta: close db", "err", err)
	}
}

// live returns the running state or ErrUnavailable.
func (s *Service) live() (*running, error) {
	if r := s.run.Load(); r != nil {
		return r, nil
	}
	return nil, ErrUnavailable
}

// heartbeatInterval is a third of heartbeat_timeout_ms, so two lost beats do not mark a node down.
func (s *Service) heartbeatInterval() time.Duration {
	return time.Duration(max(s.cfg.MetaRuntime.HeartbeatTimeoutMs/3, 10)) * time.Millisecond
}

// heartbeatLoop beats for this node until Stop.
func (s *Service) heartbeatLoop() {
	t := time.NewTicker(s.heartbeatInterval())
	defer t.Stop()
	for {
		select {
		case <-s.stopc:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), s.heartbeatInterval())
			if err := s.heartbeat(ctx, s.cfg.BrokerID); err != nil {
				s.log.Debug("meta: heartbeat", "err", err)
			}
			cancel()
		}
	}
}
