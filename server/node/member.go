package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"time"

	"robustmq/server/config"
	"robustmq/server/meta/client"
	"robustmq/server/pb"
)

// member is the "member" step of a node without the meta role (a broker-only or engine-only
// node): it registers the node with the Meta Service at meta_addrs and heartbeats every
// heartbeat_timeout_ms/3 until Stop, so GET /api/cluster/nodes lists it and the metadata leader
// marks it down once it is silent for heartbeat_timeout_ms. Start does not wait for the Meta
// Service: registration is retried every interval (a warning at most every warnEvery while it
// fails), so a node starts while meta is down and joins when it comes up. Stop does not
// unregister: a stopped node is listed down, as a crashed one is.
type member struct {
	cfg     *config.Config
	log     *slog.Logger
	startAt time.Time

	cancel context.CancelFunc // set by Start
	done   chan struct{}      // closed when the beat goroutine ended
	cl     *client.Client
}

// warnEvery bounds how often a failing heartbeat is logged at warn level.
const warnEvery = 30 * time.Second

func newMember(cfg *config.Config, log *slog.Logger, startAt time.Time) *member {
	return &member{cfg: cfg, log: log, startAt: startAt}
}

// Name implements component.Component.
func (m *member) Name() string { return "member" }

// beatInterval is a third of heartbeat_timeout_ms, so two lost beats do not mark the node down
// (the meta nodes' own interval).
func beatInterval(cfg *config.Config) time.Duration {
	return time.Duration(max(cfg.MetaRuntime.HeartbeatTimeoutMs/3, 10)) * time.Millisecond
}

// Start implements component.Component: it starts the beat goroutine, owned until Stop.
func (m *member) Start(context.Context) error {
	var addrs []string
	for _, n := range m.cfg.MetaNodes() {
		addrs = append(addrs, n.Addr)
	}
	cl, err := client.New(addrs...)
	if err != nil {
		return fmt.Errorf("member: meta_addrs: %w", err)
	}
	m.cl = cl
	self := &pb.MetaNode{
		Id:          m.cfg.BrokerID,
		Addr:        net.JoinHostPort(m.cfg.AdvertiseIP(), strconv.Itoa(m.cfg.GRPCPort)),
		Roles:       slices.Clone(m.cfg.Roles),
		StartedAtMs: m.startAt.UnixMilli(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel, m.done = cancel, make(chan struct{})
	var lastWarn time.Time // owned by the beat goroutine (onErr runs there)
	go func() {
		defer close(m.done)
		cl.Beat(ctx, self, beatInterval(m.cfg), func(err error) {
			if time.Since(lastWarn) >= warnEvery {
				lastWarn = time.Now()
				m.log.Warn("member: heartbeat to the meta service failed; retrying", "meta_addrs", addrs, "err", err)
			}
		})
	}()
	m.log.Info("member: heartbeating to the meta service", "node", self.Id, "addr", self.Addr, "meta_addrs", addrs,
		"interval", beatInterval(m.cfg))
	return nil
}

// Stop implements component.Component: it ends the beat goroutine and waits for it.
func (m *member) Stop(ctx context.Context) error {
	if m.cancel == nil {
		return nil
	}
	m.cancel()
	select {
	case <-m.done:
	case <-ctx.Done():
		return fmt.Errorf("member: stop: %w", ctx.Err())
	}
	m.cl.Close()
	return nil
}
