package mqtt

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/codec/mqtt"
	"robustmq/netpoll"
	"robustmq/server/message"
	"robustmq/server/message/auth"
	"robustmq/shard"
)

// Options configure a Server. Zero values take the defaults named.
type Options struct {
	// Hub is the delivery hub. Required.
	Hub *message.Hub
	// Retain stores retained messages; default NewMemoryRetain().
	Retain RetainStore
	// MaxPacketSize bounds packets from clients (CONNACK Maximum Packet
	// Size); default 1 MiB.
	MaxPacketSize uint32
	// ReceiveMax is how many inbound QoS 1/2 publishes a client may have
	// unacknowledged (CONNACK Receive Maximum); default 65535.
	ReceiveMax uint16
	// MaxInflight caps the outbound window per client: the client's
	// Receive Maximum (5.0) or this (3.x); default 128.
	MaxInflight uint16
	// TopicAliasMax is the CONNACK Topic Alias Maximum; 0 = no aliases.
	TopicAliasMax uint16
	// MaxSessionExpiry caps Session Expiry Interval (s); it is also the
	// expiry of 3.x persistent sessions. Default 1800.
	MaxSessionExpiry uint32
	// V3SessionExpiry is the expiry (s) of a 3.x session with Clean
	// Session 0, which 3.x cannot state; default MaxSessionExpiry.
	V3SessionExpiry uint32
	// MaxMessageExpiry caps a publisher's Message Expiry Interval (s); 0 =
	// no cap. Messages without one do not expire.
	MaxMessageExpiry uint32
	// KeepAliveOverride lets the server choose the keepalive of 5.0
	// clients: DefaultKeepAlive when they ask for 0, MaxKeepAlive when they
	// ask for more (CONNACK Server Keep Alive). 3.x clients keep theirs.
	KeepAliveOverride bool
	DefaultKeepAlive  uint16 // default 60
	MaxKeepAlive      uint16 // default 3600
	// MaxQueued bounds each session's queue (offline messages and output
	// not sent yet); full policy: drop the oldest, counted. Default 1000.
	MaxQueued int
	// NoOffline drops QoS 1/2 messages for offline sessions too (config
	// offline_message.enable = false); by default they are queued.
	NoOffline bool
	// State persists sessions and retained messages across restarts (see
	// the package doc, "Persistence"); nil keeps them in memory only.
	// With State, the hub's Store (when set) also keeps the logs of
	// offline sessions' messages.
	State StateStore
	// HoldTimeout: a subscriber whose full queue holds publishers'
	// acknowledgements (see the package doc, "Flow control") and takes none
	// of those messages for this long is disconnected (0x97 Quota
	// exceeded) and its held messages released; default 10s.
	HoldTimeout time.Duration
	// OutboundHigh: a connection with more unsent bytes than this gets no
	// more messages until its next packet or delivery; default 1 MiB.
	OutboundHigh int
	// Login checks a CONNECT's client id, user name and password (views,
	// valid during the call) and returns ReasonSuccess or the refusal
	// (0x86 Bad user name or password, 0x87 Not authorized, ...; 3.x gets
	// the matching return code). nil accepts everyone.
	Login func(c *mqtt.Connect) mqtt.ReasonCode
	// Access authenticates clients after Login and authorizes their
	// PUBLISH and SUBSCRIBE (authz.go); nil allows everything.
	Access *auth.Store
	// Auth runs enhanced authentication (5.0 4.12) for its method; nil
	// answers every CONNECT with an Authentication Method with CONNACK 0x8C
	// Bad authentication method.
	Auth Authenticator
	// ConnectTimeout closes a connection that sent no CONNECT; default 10s.
	ConnectTimeout time.Duration
	// Tick is the keepalive wheel's second; tests may shorten it. Default 1s.
	Tick   time.Duration
	Logger *slog.Logger
}

// Authenticator is one enhanced authentication method. Step runs on the
// connection's handler goroutine and must not block.
type Authenticator interface {
	// Method is the Authentication Method name it answers to.
	Method() string
	// Step takes the client's Authentication Data (from CONNECT or AUTH)
	// and the state its previous Step returned (nil at first). It returns
	// the data to send back, and done when the client is authenticated;
	// otherwise the exchange continues with an AUTH 0x18 carrying reply
	// and next. An error refuses the client (0x87 Not authorized).
	Step(state any, data []byte) (next any, reply []byte, done bool, err error)
}

// Server is the MQTT broker logic: a netpoll.Handler serving any number of
// listeners. See doc.go.
type Server struct {
	opts     Options
	hub      *message.Hub
	retain   RetainStore
	sessions *sessions
	wheel    wheel
	decoders sync.Pool // *mqtt.Decoder
	batches  sync.Pool // *message.Batch, lent to a conn for one OnData
	bufs     sync.Pool // *[]byte holding an encode buffer
	boxes    sync.Pool // empty *[]byte, see conn.write

	nextSubID atomic.Uint64
	closeOnce sync.Once

	stallMu sync.Mutex
	stalled map[*conn]struct{} // connections whose flush stopped at OutboundHigh; guarded by stallMu

	conns, connects            *metrics.Counter
	offlineDrop, tooLarge      *metrics.Counter
	expired, timeouts, willsTx *metrics.Counter
	held, slowSubs             *metrics.Counter
	saveErrors, sysRefused     *metrics.Counter
	released                   *metrics.Counter

	authWork *authWork     // slow login checks off the loops (authz.go); nil without Access
	state    StateStore    // opts.State
	due      DueStore      // opts.State when it is one: no expiry or will timers here
	log      shard.Adapter // session logs: the hub's store when State is set
	saveDone func(error)   // saveDoneFn, bound once
	logJobs  chan logJob   // to logLoop
	logStop  chan struct{} // closed by Close: logLoop returns
}

// New returns a Server; Close stops it.
func New(opts Options) (*Server, error) {
	if opts.Hub == nil {
		return nil, errors.New("mqtt: server: Options.Hub is nil")
	}
	if opts.Retain == nil {
		opts.Retain = NewMemoryRetain()
	}
	set32(&opts.MaxPacketSize, 1<<20)
	set16(&opts.ReceiveMax, 65535)
	set16(&opts.MaxInflight, 128)
	set32(&opts.MaxSessionExpiry, 1800)
	set32(&opts.V3SessionExpiry, opts.MaxSessionExpiry)
	set16(&opts.DefaultKeepAlive, 60)
	set16(&opts.MaxKeepAlive, 3600)
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = 1000
	}
	if opts.OutboundHigh <= 0 {
		opts.OutboundHigh = 1 << 20
	}
	if opts.HoldTimeout <= 0 {
		opts.HoldTimeout = 10 * time.Second
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.Tick <= 0 {
		opts.Tick = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, hub: opts.Hub, retain: opts.Retain, sessions: newSessions(),
		conns:       metrics.GetOrCreateCounter("robustmq_mqtt_connections_total"),
		connects:    metrics.GetOrCreateCounter("robustmq_mqtt_connects_total"),
		offlineDrop: metrics.GetOrCreateCounter(`robustmq_mqtt_dropped_total{reason="offline"}`),
		tooLarge:    metrics.GetOrCreateCounter(`robustmq_mqtt_dropped_total{reason="client_max_packet_size"}`),
		expired:     metrics.GetOrCreateCounter(`robustmq_mqtt_dropped_total{reason="expired"}`),
		timeouts:    metrics.GetOrCreateCounter("robustmq_mqtt_keepalive_timeouts_total"),
		willsTx:     metrics.GetOrCreateCounter("robustmq_mqtt_wills_published_total"),
		held:        metrics.GetOrCreateCounter("robustmq_mqtt_acks_held_total"),
		slowSubs:    metrics.GetOrCreateCounter("robustmq_mqtt_slow_subscribers_total"),
		saveErrors:  metrics.GetOrCreateCounter("robustmq_mqtt_state_errors_total"),
		sysRefused:  metrics.GetOrCreateCounter(`robustmq_mqtt_dropped_total{reason="sys_topic"}`),
		released:    metrics.GetOrCreateCounter("robustmq_mqtt_sessions_released_total"),
	}
	s.saveDone = s.saveDoneFn
	if opts.Access != nil {
		s.authWork = startAuthWork(runtime.GOMAXPROCS(0))
	}
	if opts.State != nil {
		s.state = opts.State
		s.due, _ = opts.State.(DueStore)
		s.retain = &durableRetain{RetainStore: opts.Retain, state: opts.State, srv: s}
		s.log = opts.Hub.Store()
		s.logJobs, s.logStop = make(chan logJob, 4096), make(chan struct{})
		if s.log != nil {
			go s.logLoop()
		}
	}
	max := opts.MaxPacketSize
	s.decoders.New = func() any { return &mqtt.Decoder{MaxPacketSize: max, Role: mqtt.Server} }
	s.batches.New = func() any { return s.hub.NewBatch() }
	s.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	s.boxes.New = func() any { return new([]byte) }
	s.wheel.start(opts.Tick, s.timeout, s.nudge)
	return s, nil
}

func set32(v *uint32, d uint32) {
	if *v == 0 {
		*v = d
	}
}

func set16(v *uint16, d uint16) {
	if *v == 0 {
		*v = d
	}
}

// Sessions is the number of sessions, online and offline.
func (s *Server) Sessions() int { return s.sessions.len() }

// Close sends every connection a DISCONNECT 0x8B Server shutting down (5.0)
// and closes it, then stops the keepalive goroutine. Call it before the
// listeners' Shutdown; Handler methods may still run until then.
// Later calls do nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.wheel.each(func(c *conn) { c.kick(mqtt.ReasonServerShuttingDown, errShutdown) })
		s.wheel.close()
		if s.authWork != nil {
			close(s.authWork.stop)
		}
		if s.logStop != nil {
			close(s.logStop)
		}
	})
}

// Close reasons given to netpoll (seen by OnClose and in logs).
var (
	errDisconnect  = errors.New("mqtt: client sent DISCONNECT")
	errKeepAlive   = errors.New("mqtt: keepalive timeout")
	errTakenOver   = errors.New("mqtt: session taken over")
	errShutdown    = errors.New("mqtt: server shutting down")
	errConnTimeout = errors.New("mqtt: no CONNECT in time")
)

// newClientID assigns a client identifier (5.0 3.1.3.1, 3.1.1 empty id
// with clean session).
func (s *Server) newClientID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "robustmq-" + hex.EncodeToString(b[:])
}

// timeout runs on the wheel goroutine for a connection past its deadline.
func (s *Server) timeout(c *conn) {
	s.timeouts.Inc()
	if c.connected.Load() {
		c.kick(mqtt.ReasonKeepAliveTimeout, errKeepAlive)
	} else {
		_ = c.nc.Close(errConnTimeout)
	}
}

// stall records that c stopped sending at OutboundHigh with messages
// queued: netpoll has no "drained" event, so the wheel's next tick (or
// c's next packet or delivery, whichever comes first) flushes it again.
func (s *Server) stall(c *conn) {
	s.stallMu.Lock()
	if s.stalled == nil {
		s.stalled = map[*conn]struct{}{}
	}
	s.stalled[c] = struct{}{}
	s.stallMu.Unlock()
}

// nudge schedules a flush on every stalled connection (wheel goroutine).
func (s *Server) nudge() {
	s.stallMu.Lock()
	st := s.stalled
	s.stalled = nil
	s.stallMu.Unlock()
	for c := range st {
		if !c.dead.Load() {
			_ = c.nc.Do(c.flushFn)
		}
	}
}

// publishWill publishes a will message (and retains it when flagged).
func (s *Server) publishWill(w *will) {
	if w == nil {
		return
	}
	s.willsTx.Inc()
	now := s.hub.Now()
	w.m.Timestamp = now
	if w.ttlMs != 0 {
		w.m.ExpiryMs = now + w.ttlMs
	}
	if w.m.Retain {
		s.retain.Set(w.m)
	}
	s.hub.Publish(w.m, nil)
}

// OnOpen implements netpoll.Handler.
func (s *Server) OnOpen(nc netpoll.Conn) error {
	c := &conn{srv: s, nc: nc}
	c.flushFn = func(netpoll.Conn) { c.flush() }
	c.seen.Store(s.wheel.now.Load())
	c.timeoutSec.Store(int64((s.opts.ConnectTimeout + time.Second - 1) / time.Second))
	nc.SetContext(c)
	s.conns.Inc()
	s.wheel.add(c)
	return nil
}

// OnData implements netpoll.Handler: it decodes and handles every whole
// packet of in (while a slow login is checked, it holds them: authz.go).
func (s *Server) OnData(nc netpoll.Conn, in []byte) (int, error) {
	c := nc.Context().(*conn)
	c.seen.Store(s.wheel.now.Load())
	if c.slow != nil {
		return s.onHeld(c, in)
	}
	return s.feed(c, in)
}

// feed handles the whole packets of in and returns how many bytes they
// took; when one starts a slow login, the rest of in is held.
func (s *Server) feed(c *conn, in []byte) (int, error) {
	d := s.decoders.Get().(*mqtt.Decoder)
	defer s.decoders.Put(d)
	c.batch = s.batches.Get().(*message.Batch)
	defer s.endBatch(c)
	d.Version = c.version
	consumed := 0
	for consumed < len(in) {
		t, n, err := d.Decode(in[consumed:])
		if err == mqtt.ErrIncomplete {
			break
		}
		if err != nil {
			var e *mqtt.Error
			if errors.As(err, &e) {
				c.write(e.AppendReply(c.buf()))
			}
			return consumed, err
		}
		consumed += n
		if err := c.handle(t, d); err != nil {
			return consumed, err
		}
		if c.slow != nil { // a CONNECT checked off the loop: hold the rest
			c.slow.held = append(c.slow.held, in[consumed:]...)
			return len(in), nil
		}
	}
	if c.sess != nil {
		c.flush()
	}
	return consumed, nil
}

// endBatch sends the store appends of the PUBLISHes of one OnData (one
// AppendAsync per run of messages to one topic at one durability) and
// takes c's batch back.
//
// Then it flushes the subscribers this read fed (noted by
// session.DeliverBatch, marked flushing): at once when a quarter of the
// queue is taken and they share c's loop (netpoll.RunNow), else with Do.
// A Do alone gives a subscriber one flush per loop turn, after every
// ready publisher's read, and its bounded queue drops what QoS 0
// publishers sent meanwhile (16 -> 1: about 0.5 M msg/s delivered and
// two thirds dropped, against 0.8-1 M and none dropped with RunNow); a
// flush after every read of a lone publisher costs more writes than the
// Do coalescing a loop turn (1 -> 1: about 10% less), hence the quarter.
func (s *Server) endBatch(c *conn) {
	b := c.batch
	b.Flush()
	for _, x := range b.Noted() {
		sess := x.(*session)
		sess.mu.Lock()
		sc, urgent := sess.conn, sess.queue.Len() >= sess.queue.Cap()/4
		sess.mu.Unlock()
		// A session gone offline meanwhile keeps flushing set until its
		// next attach clears it; one taken over flushes the new conn.
		switch {
		case sc == nil:
		case urgent && netpoll.RunNow(c.nc, sc.nc, sc.flushFn):
		default:
			sess.scheduleFlush(sc)
		}
	}
	b.ClearNoted()
	s.batches.Put(b)
	c.batch = nil
}

// OnClose implements netpoll.Handler.
func (s *Server) OnClose(nc netpoll.Conn, reason error) {
	c, _ := nc.Context().(*conn)
	if c == nil {
		return
	}
	c.dead.Store(true)
	c.closed()
}
