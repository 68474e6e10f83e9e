package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"robustmq/netpoll"
	"robustmq/server/admin"
	"robustmq/server/config"
	"robustmq/server/engine"
	"robustmq/server/kafka"
	"robustmq/server/message"
	"robustmq/server/message/topic"
	metaclient "robustmq/server/meta/client"
	"robustmq/server/mqtt"
	"robustmq/server/node/component"
	"robustmq/shard"
	"robustmq/shard/memory"
	"robustmq/shard/offsetstore"
)

// Options are what NewWith takes beyond the node's Env.
type Options struct {
	// Storage receives the messages of persistent topics. nil: Start takes
	// the router of the node's Storage Engine (env.Storage) or, on a node
	// without that role, builds a router over the memory engine and closes
	// it in Stop.
	Storage shard.Adapter
	// Engine is the engine topic shards are created on; default memory, or
	// the Storage Engine's default when its router is used.
	Engine shard.EngineType
	// TLS overrides the certificate files of broker_network (tests, client
	// certificate verification).
	TLS *tls.Config
	// MetaAddrs are the Meta Service nodes that keep MQTT sessions and
	// retained messages (its mqtt group); New sets them from meta_addrs.
	// None: that state is kept in memory only (tests).
	MetaAddrs []string
}

// topicChunkBytes is the memory engine's arena chunk per topic shard: MQTT
// has many small topics, and each holds at least one chunk (the engine's
// 1 MiB default would make 10k topics cost 10 GiB); larger records get a
// chunk of their own size.
const topicChunkBytes = 16 << 10

// Broker is the component. Create it with New or NewWith.
type Broker struct {
	env   component.Env
	opts  Options
	owned *shard.Router // storage built here, closed in Stop
	mu    sync.Mutex    // guards hub, mqtt, sys and lns for the admin handlers
	hub   *message.Hub  // built in Start, once the storage is known
	mqtt  *mqtt.Server
	sys   *mqtt.Sys // $SYS publisher; nil when system_topic_interval_ms is 0
	lns   []*netpoll.Listener

	kafka        *kafka.Server      // guarded by mu; nil without kafka_tcp
	kafkaLn      *netpoll.Listener  // guarded by mu
	offsets      shard.OffsetStore  // Kafka group offsets from the engine, settled in storage
	ownedOffsets *offsetstore.Store // opened here when the node has no engine role, closed in Stop
	meta         *metaclient.Client // with opts.MetaAddrs, from Start to Stop; guarded by mu
	state        *metaState         // MQTT state on meta; nil without opts.MetaAddrs
	schemas      *schemas           // schema registry (admin_schema.go)
	stopWatch    func()             // ends the schema watch; nil when none runs
	stopDue      func()             // ends the MQTT due follower (mqttdue.go); nil when none runs

	sec security // guarded by mu; built in Start, closed in Stop (admin_auth.go)
}

// New is the component.New of the broker role: storage from the node's
// Storage Engine, else its own memory engine (see the package doc).
func New(env component.Env) (component.Component, error) {
	addrs := slices.Sorted(maps.Values(env.Config.MetaAddrs))
	return NewWith(env, Options{MetaAddrs: addrs})
}

// NewWith builds the broker over opts.Storage (see the package doc).
func NewWith(env component.Env, opts Options) (*Broker, error) {
	b := &Broker{env: env, opts: opts, schemas: newSchemas(&env.Config.MQTTRuntime.Schema, env.Logger)}
	if env.HTTP != nil {
		b.registerSchemaAdmin(env.HTTP)
		env.HTTP.HandleFunc("GET /api/mqtt/topic/list", func(w http.ResponseWriter, _ *http.Request) {
			if hub := b.Hub(); hub != nil {
				admin.OK(w, hub.Topics())
				return
			}
			admin.Fail(w, http.StatusServiceUnavailable, "broker: not running")
		})
		env.HTTP.HandleFunc("GET /api/mqtt/overview", b.overview)
		b.registerAuthRoutes(env.HTTP)
		b.registerMQTTAdmin(env.HTTP)
	}
	return b, nil
}

// overview answers GET /api/mqtt/overview: sessions (online and offline)
// and open connections per listener; 503 while the broker is not running.
func (b *Broker) overview(w http.ResponseWriter, _ *http.Request) {
	b.mu.Lock()
	srv, lns := b.mqtt, b.lns
	b.mu.Unlock()
	if srv == nil {
		admin.Fail(w, http.StatusServiceUnavailable, "broker: not running")
		return
	}
	conns := map[string]int{}
	for _, l := range lns {
		conns[l.Name()] = l.ConnCount()
	}
	admin.OK(w, map[string]any{"sessions": srv.Sessions(), "connections": conns, "delayed": b.Hub().Delayed()})
}

// Name implements component.Component.
func (b *Broker) Name() string { return "broker" }

// Hub is the delivery hub (for the other protocols' front ends); nil
// before Start.
func (b *Broker) Hub() *message.Hub {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hub
}

// storage settles opts.Storage and opts.Engine at Start: as given, else
// the router the node's Storage Engine provided, else a memory router of
// the broker's own, with a warning (no silent fallback). It returns the
// SegmentBytes of topic shards.
func (b *Broker) storage() (segmentBytes int64, err error) {
	log := b.env.Logger
	if b.opts.Storage == nil {
		if h, ok := b.env.Storage.Lookup(); ok {
			b.opts.Storage, b.offsets = h.Router, h.Offsets
			if b.opts.Engine == "" {
				b.opts.Engine = h.Engine
			}
			log.Info("broker: storage from this node's engine", "engine", b.opts.Engine)
		} else {
			r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{ChunkBytes: topicChunkBytes, Logger: log,
				Decoder: engine.DecodeKafka})},
				shard.RouterOptions{Logger: log})
			if err != nil {
				return 0, fmt.Errorf("broker: memory storage: %w", err)
			}
			b.owned, b.opts.Storage, b.opts.Engine = r, r, shard.EngineMemory
			log.Warn("broker: this node has no engine role and remote storage engines are not wired yet: "+
				"persistent topics are kept in memory and lost on restart", "roles", b.env.Config.Roles)
		}
	}
	if b.opts.Engine == "" {
		b.opts.Engine = shard.EngineMemory
	}
	if b.opts.Engine == shard.EngineMemory {
		return topicChunkBytes, nil
	}
	return 0, nil // the engine's default (storage_runtime.max_segment_size)
}

// MQTT is the MQTT server.
func (b *Broker) MQTT() *mqtt.Server {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mqtt
}

// Listeners are the bound listeners, in config order.
func (b *Broker) Listeners() []*netpoll.Listener {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lns
}

// mqttOptions maps [mqtt_runtime] onto mqtt.Options.
func mqttOptions(cfg *config.Config, hub *message.Hub, env component.Env) mqtt.Options {
	m := &cfg.MQTTRuntime
	clamp16 := func(v int) uint16 { return uint16(min(max(v, 0), 65535)) }
	return mqtt.Options{
		Hub:               hub,
		V3SessionExpiry:   uint32(m.Protocol.DefaultSessionExpiryInterval),
		NoOffline:         !m.OfflineMessage.Enable,
		MaxPacketSize:     uint32(m.Protocol.MaxPacketSize),
		ReceiveMax:        clamp16(m.Protocol.ReceiveMax),
		TopicAliasMax:     clamp16(m.Protocol.TopicAliasMax),
		MaxSessionExpiry:  uint32(m.Protocol.MaxSessionExpiryInterval),
		MaxMessageExpiry:  uint32(m.Protocol.MaxMessageExpiryInterval),
		KeepAliveOverride: m.KeepAlive.Enable,
		DefaultKeepAlive:  clamp16(m.KeepAlive.DefaultTime),
		MaxKeepAlive:      clamp16(m.KeepAlive.MaxTime),
		MaxQueued:         m.OfflineMessage.MaxMessagesNum,
		Logger:            env.Logger,
	}
}

// Start implements component.Component: it starts the MQTT server and binds
// its listeners.
func (b *Broker) Start(ctx context.Context) error {
	cfg := b.env.Config
	segmentBytes, err := b.storage()
	if err != nil {
		return err
	}
	pick := topic.RoundRobin
	if cfg.MQTTRuntime.Protocol.SharedSubscriptionStrategy == "random" {
		pick = topic.Random
	}
	hubOpts := message.Options{Store: b.opts.Storage, Engine: b.opts.Engine, SegmentBytes: segmentBytes,
		Index: topic.New(topic.Config{Pick: pick}), Logger: b.env.Logger}
	if cfg.MQTTRuntime.Schema.Enable {
		hubOpts.Check = b.schemas.Check
	}
	hub := message.New(hubOpts)
	b.mu.Lock()
	b.hub = hub
	b.mu.Unlock()
	mo := mqttOptions(cfg, hub, b.env)
	if len(b.opts.MetaAddrs) > 0 {
		meta, err := metaclient.New(b.opts.MetaAddrs...)
		if err != nil {
			_ = b.shutdown(context.Background())
			return fmt.Errorf("broker: meta client: %w", err)
		}
		b.mu.Lock()
		b.meta = meta
		b.mu.Unlock()
		if err := b.schemas.reload(ctx, meta); err != nil {
			_ = b.shutdown(context.Background())
			return fmt.Errorf("broker: load schemas: %w", err)
		}
		wctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); b.schemas.watch(wctx, meta) }()
		b.stopWatch = func() { cancel(); <-done }
		b.state = newMetaState(meta, cfg.BrokerID, b.env.Logger)
		mo.State = b.state
	}
	st, err := b.startAuth(ctx)
	if err != nil {
		_ = b.shutdown(context.Background())
		return err
	}
	mo.Access = st
	srv, err := mqtt.New(mo)
	if err == nil {
		if err = srv.Restore(); err != nil {
			srv.Close()
		}
	}
	if err != nil {
		_ = b.shutdown(context.Background())
		return fmt.Errorf("broker: %w", err)
	}
	b.mu.Lock()
	b.mqtt = srv
	b.mu.Unlock()
	if b.state != nil {
		b.stopDue = followDue(b.meta, b.state, srv, cfg.BrokerID, b.env.Logger)
	}
	tr := map[string]netpoll.Transport{"mqtt_tcp": netpoll.TCP, "mqtt_tls": netpoll.TLS, "mqtt_ws": netpoll.WS, "mqtt_wss": netpoll.WSS}
	for _, spec := range cfg.Listeners() {
		t, ok := tr[spec.Name]
		if !ok && spec.Name != "kafka_tcp" {
			continue
		}
		if err := ctx.Err(); err != nil {
			_ = b.shutdown(context.Background())
			return fmt.Errorf("broker: start: %w", err)
		}
		if !ok {
			err = b.startKafka(spec)
		} else {
			err = b.listen(spec, t)
		}
		if err != nil {
			_ = b.shutdown(context.Background())
			return fmt.Errorf("broker: listener %s (%s %s): %w", spec.Name, spec.Key, spec.Addr, err)
		}
	}
	b.startSys()
	return nil
}

// listen binds one listener and registers its probe.
func (b *Broker) listen(spec config.ListenerSpec, t netpoll.Transport) error {
	lc, err := b.listenerConfig(spec, t)
	if err != nil {
		return err
	}
	l, err := netpoll.Listen(lc, b.mqtt)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.lns = append(b.lns, l)
	b.mu.Unlock()
	if err := b.env.Listeners.Add(probe{l}); err != nil {
		return err
	}
	b.env.Logger.Info("broker: listening", "listener", spec.Name, "transport", t.String(), "addr", l.Addr().String())
	return nil
}

func (b *Broker) listenerConfig(spec config.ListenerSpec, t netpoll.Transport) (netpoll.ListenerConfig, error) {
	cfg := b.env.Config
	n := &cfg.Network
	lc := netpoll.ListenerConfig{
		Name: spec.Name, Transport: t, Addr: spec.Addr,
		MaxConns: n.MaxConnections, MaxOutboundBytes: n.MaxOutboundBytes, MaxInboundBytes: cfg.MaxInboundBytes(spec.Name),
		MaxQueuedTasks: n.MaxQueuedTasks, ReadBufferBytes: n.ReadBufferBytes, SocketRecvBytes: n.SocketRecvBytes,
		SocketSendBytes: n.SocketSendBytes, EventLoops: n.EventLoopNum,
		TCPKeepAlive:     time.Duration(n.TCPKeepAliveSec) * time.Second,
		HandshakeTimeout: time.Duration(n.HandshakeTimeoutMs) * time.Millisecond,
		CloseLinger:      time.Duration(n.CloseLingerMs) * time.Millisecond,
		Logger:           b.env.Logger,
	}
	if t == netpoll.WS || t == netpoll.WSS {
		lc.WSPath, lc.WSSubprotocols = "/mqtt", []string{"mqtt"}
	}
	if t == netpoll.TLS || t == netpoll.WSS {
		lc.TLS = b.opts.TLS
		if lc.TLS == nil {
			cert, err := serverCertificate(cfg.BrokerNetwork, cfg.AdvertiseIP(), b.env.Logger)
			if err != nil {
				return lc, err
			}
			lc.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
			if err := clientAuth(lc.TLS, cfg.MQTTRuntime.Server); err != nil {
				return lc, err
			}
		}
	}
	return lc, nil
}

// Stop implements component.Component.
func (b *Broker) Stop(ctx context.Context) error {
	return b.shutdown(ctx)
}

func (b *Broker) shutdown(ctx context.Context) error {
	var errs []error
	if b.stopDue != nil { // it acts on the MQTT server
		b.stopDue()
		b.stopDue = nil
	}
	b.mu.Lock()
	srv, lns, hub, sys := b.mqtt, b.lns, b.hub, b.sys
	b.mqtt, b.lns, b.sys = nil, nil, nil
	b.mu.Unlock()
	if sys != nil {
		sys.Close()
	}
	if srv != nil {
		srv.Close() // queues a DISCONNECT 0x8B on every connection
		drain(ctx, lns)
	}
	for _, l := range lns {
		b.env.Listeners.Remove(l.Name())
		if err := l.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("broker: shutdown %s: %w", l.Name(), err))
		}
	}
	if err := b.stopKafka(ctx); err != nil {
		errs = append(errs, err)
	}
	b.stopAuth()
	if b.state != nil { // after the MQTT connections closed: their sessions' last saves
		b.state.Close(ctx)
		b.state = nil
	}
	if b.stopWatch != nil {
		b.stopWatch()
		b.stopWatch = nil
	}
	b.mu.Lock()
	meta := b.meta
	b.meta = nil
	b.mu.Unlock()
	if meta != nil {
		meta.Close()
	}
	if hub != nil {
		hub.Close()
	}
	if b.owned != nil {
		if err := b.owned.Close(); err != nil {
			errs = append(errs, fmt.Errorf("broker: close storage: %w", err))
		}
		b.owned = nil
	}
	return errors.Join(errs...)
}

// drain gives the clients up to drainTime (or ctx) to receive their
// DISCONNECT and close before the listeners close what is left.
func drain(ctx context.Context, lns []*netpoll.Listener) {
	deadline := time.Now().Add(drainTime)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n := 0
		for _, l := range lns {
			n += l.ConnCount()
		}
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const drainTime = 500 * time.Millisecond

// probe is a listener as the node's registry sees it.
type probe struct{ l *netpoll.Listener }

func (p probe) Name() string      { return p.l.Name() }
func (p probe) BoundAddr() string { return p.l.Addr().String() }
func (p probe) Accepting() bool   { return true }
