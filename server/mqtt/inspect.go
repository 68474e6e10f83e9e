package mqtt

import (
	"cmp"
	"errors"
	"slices"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/codec/mqtt"
	"robustmq/netpoll"
	"robustmq/server/message"
)

// Inspection: snapshots of the server's state for the admin API and $SYS
// (sys.go). They walk the session table one stripe at a time, copying the
// stripe's sessions out under its lock, then read each session under its
// own mu: never two locks at once, so no publisher or CONNECT waits for a
// whole walk. A snapshot is therefore not atomic across sessions.
//
// Reading a connection from here: conn fields belong to its handler
// goroutine, but version, window and will are written in accept before
// sessions.attach sets session.conn under session.mu and never after, so a
// reader that found c in session.conn under mu sees them (as user,
// connectedMs and keepAlive); timeoutSec is
// atomic and the netpoll.Conn methods used are safe from any goroutine.

// Client is one connected MQTT client (GET /api/mqtt/client/list). Field
// names follow RobustMQ's client list (mqtt_connection, network_connection)
// flattened into one row.
type Client struct {
	ClientID       string `json:"client_id"`
	ConnectionID   uint64 `json:"connection_id"`
	SourceIPAddr   string `json:"source_ip_addr"`  // the client's host:port
	Listener       string `json:"listener"`        // e.g. mqtt_tcp
	ConnectionType string `json:"connection_type"` // Tcp | Tls | Websocket | Websockets
	Protocol       string `json:"protocol"`        // MQTT3 (3.1) | MQTT4 (3.1.1) | MQTT5
	LoginUser      string `json:"login_user"`      // CONNECT user name, "" for none
	CreateTime     int64  `json:"create_time"`     // when it connected, ms since the Unix epoch
	KeepAlive      int    `json:"keep_alive"`      // seconds granted; 0 = none
	InflightMax    int    `json:"inflight_max"`    // outbound window: the client's Receive Maximum capped by MaxInflight
	Inflight       int    `json:"inflight"`        // outbound QoS 1/2 messages not yet acknowledged
	Queued         int    `json:"queued"`          // messages waiting in the session queue
	Subscriptions  int    `json:"subscriptions"`
	SessionExpiry  uint32 `json:"session_expiry"` // seconds; 4294967295 = never
	HasWill        bool   `json:"is_contain_last_will"`
}

// Session is one session, online or offline (GET /api/mqtt/session/list).
type Session struct {
	ClientID      string `json:"client_id"`
	Connected     bool   `json:"connected"`
	ConnectionID  uint64 `json:"connection_id"` // 0 while offline
	SessionExpiry uint32 `json:"session_expiry"`
	HasWill       bool   `json:"is_contain_last_will"`     // a will waits: the connection's, or a delayed one
	WillDelay     uint32 `json:"last_will_delay_interval"` // seconds
	Subscriptions int    `json:"subscriptions"`
	Queued        int    `json:"queued"`
	Inflight      int    `json:"inflight"`
	InboundQoS2   int    `json:"inbound_qos2"` // QoS 2 publishes received, PUBREC sent, waiting for PUBREL
	// DisconnectTime is when the last connection ended (ms since the Unix
	// epoch; RobustMQ's distinct_time), 0 while connected.
	DisconnectTime int64 `json:"distinct_time"`
	Durable        bool  `json:"durable"` // the state store (Options.State) holds the session's record
}

// Subscription is one subscription of one session (GET
// /api/mqtt/subscribe/list).
type Subscription struct {
	ClientID   string `json:"client_id"`
	Path       string `json:"path"`        // as subscribed, with any $share/{group}/ or $exclusive/ prefix
	Filter     string `json:"filter"`      // the topic filter without the prefix
	ShareGroup string `json:"share_group"` // "" unless shared
	IsShareSub bool   `json:"is_share_sub"`
	Exclusive  bool   `json:"exclusive"`
	QoS        int    `json:"qos"`
	NoLocal    bool   `json:"no_local"`
	// PreserveRetain is Retain As Published (RobustMQ's name).
	PreserveRetain bool   `json:"preserve_retain"`
	SubID          uint32 `json:"subscription_identifier"` // 0 = none
	Connected      bool   `json:"connected"`
}

// Retained is one retained message (GET /api/mqtt/retain/list).
type Retained struct {
	Topic       string `json:"topic_name"`
	QoS         int    `json:"qos"`
	PayloadSize int    `json:"payload_size"`
	CreateTime  int64  `json:"create_time"` // ms since the Unix epoch, when it was published
	ExpireAt    int64  `json:"expire_at"`   // ms since the Unix epoch; 0 = never
}

// Stats are the counts $SYS publishes, from one walk of the session table.
type Stats struct {
	Connected     int // sessions with a connection
	Sessions      int // online and offline
	Subscriptions int // every subscription of every session
	Shared        int // of which shared ($share/...)
	Subscribers   int // sessions with at least one subscription
	Queued        int // messages in session queues
}

// RetainLister is a RetainStore that can enumerate its messages; the admin
// API and $SYS need it. MemoryRetain is one.
type RetainLister interface {
	RetainStore
	Len() int
	// Range calls fn for every retained message, in no particular order,
	// until fn returns false. fn must not call back into the store.
	Range(fn func(m *message.Message) bool)
}

// Inspection errors.
var (
	// ErrNoClient: Kick found no connected client with that id.
	ErrNoClient = errors.New("mqtt: no connected client with that client id")
	// ErrRetainNotListable: the configured RetainStore is no RetainLister.
	ErrRetainNotListable = errors.New("mqtt: the retain store cannot list its messages")
	// ErrNoRetained: DeleteRetained found no retained message on that topic.
	ErrNoRetained = errors.New("mqtt: no retained message on that topic")
)

// errKicked is the close reason of a connection an operator kicked.
var errKicked = errors.New("mqtt: kicked by an administrator")

// kicked counts Kick calls that found their client:
// robustmq_mqtt_kicked_total.
var kicked = metrics.GetOrCreateCounter("robustmq_mqtt_kicked_total")

// Range implements RetainLister.
func (r *MemoryRetain) Range(fn func(m *message.Message) bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, m := range r.m {
		if !fn(m) {
			return
		}
	}
}

// each calls fn for every session of the table. It copies one stripe's
// sessions out under the stripe lock into a buffer reused from stripe to
// stripe, then calls fn with no lock held: memory stays at one stripe's
// worth and fn may take session.mu.
func (t *sessions) each(fn func(*session)) {
	var buf []*session
	for i := range t.stripes {
		st := &t.stripes[i]
		st.mu.Lock()
		for _, s := range st.m {
			buf = append(buf, s)
		}
		st.mu.Unlock()
		for j, s := range buf {
			fn(s)
			buf[j] = nil
		}
		buf = buf[:0]
	}
}

// protocolNames are RobustMQ's names of the protocol versions.
var protocolNames = map[mqtt.Version]string{mqtt.V31: "MQTT3", mqtt.V311: "MQTT4", mqtt.V5: "MQTT5"}

// connectionTypes are RobustMQ's names of the transports.
var connectionTypes = [...]string{netpoll.TCP: "Tcp", netpoll.TLS: "Tls", netpoll.WS: "Websocket", netpoll.WSS: "Websockets"}

// Clients returns every connected client, sorted by client id.
func (s *Server) Clients() []Client {
	var out []Client
	s.sessions.each(func(ss *session) {
		ss.mu.Lock()
		if c := ss.conn; c != nil {
			tr := c.nc.Transport()
			ct := ""
			if int(tr) < len(connectionTypes) {
				ct = connectionTypes[tr]
			}
			out = append(out, Client{
				ClientID: ss.clientID, ConnectionID: c.nc.ID(), SourceIPAddr: c.nc.RemoteAddr().String(),
				Listener: c.nc.Listener(), ConnectionType: ct, Protocol: protocolNames[c.version],
				LoginUser: c.user, CreateTime: c.connectedMs, KeepAlive: int(c.keepAlive), InflightMax: int(c.window),
				Inflight: len(ss.inflight), Queued: ss.queue.Len(), Subscriptions: len(ss.subs),
				SessionExpiry: ss.expiry, HasWill: c.will != nil,
			})
		}
		ss.mu.Unlock()
	})
	slices.SortFunc(out, func(a, b Client) int { return cmp.Compare(a.ClientID, b.ClientID) })
	return out
}

// SessionList returns every session, online or offline, sorted by client
// id.
func (s *Server) SessionList() []Session {
	var out []Session
	s.sessions.each(func(ss *session) {
		ss.mu.Lock()
		row := Session{ClientID: ss.clientID, SessionExpiry: ss.expiry, Subscriptions: len(ss.subs),
			Queued: ss.queue.Len(), Inflight: len(ss.inflight), InboundQoS2: len(ss.qos2In),
			DisconnectTime: ss.offlineAt, Durable: ss.d != nil && ss.d.saved}
		w := ss.will
		if c := ss.conn; c != nil {
			row.Connected, row.ConnectionID = true, c.nc.ID()
			w = c.will
		}
		if w != nil {
			row.HasWill, row.WillDelay = true, w.delay
		}
		ss.mu.Unlock()
		out = append(out, row)
	})
	slices.SortFunc(out, func(a, b Session) int { return cmp.Compare(a.ClientID, b.ClientID) })
	return out
}

// Subscriptions returns every subscription of every session, sorted by
// client id, then path.
func (s *Server) Subscriptions() []Subscription {
	var out []Subscription
	s.sessions.each(func(ss *session) {
		ss.mu.Lock()
		for path, sb := range ss.subs {
			g := sb.f.Group()
			out = append(out, Subscription{ClientID: ss.clientID, Path: path, Filter: sb.f.Path(), ShareGroup: g,
				IsShareSub: g != "", Exclusive: sb.f.Exclusive(), QoS: int(sb.opts.qos), NoLocal: sb.opts.noLocal,
				PreserveRetain: sb.opts.rap, SubID: sb.opts.subID, Connected: ss.conn != nil})
		}
		ss.mu.Unlock()
	})
	slices.SortFunc(out, func(a, b Subscription) int {
		return cmp.Or(cmp.Compare(a.ClientID, b.ClientID), cmp.Compare(a.Path, b.Path))
	})
	return out
}

// Stats counts connections, sessions and subscriptions in one walk.
func (s *Server) Stats() Stats {
	var st Stats
	s.sessions.each(func(ss *session) {
		ss.mu.Lock()
		st.Sessions++
		if ss.conn != nil {
			st.Connected++
		}
		if n := len(ss.subs); n > 0 {
			st.Subscribers++
			st.Subscriptions += n
			for _, sb := range ss.subs {
				if sb.f.Group() != "" {
					st.Shared++
				}
			}
		}
		st.Queued += ss.queue.Len()
		ss.mu.Unlock()
	})
	return st
}

// lister is the retain store's RetainLister: the store itself, or the
// memory store a durableRetain (Options.State) saves from; false when
// neither lists.
func (s *Server) lister() (RetainLister, bool) {
	rs := s.retain
	if d, ok := rs.(*durableRetain); ok {
		rs = d.RetainStore
	}
	rl, ok := rs.(RetainLister)
	return rl, ok
}

// RetainedList returns every retained message, sorted by topic, or
// ErrRetainNotListable.
func (s *Server) RetainedList() ([]Retained, error) {
	rl, ok := s.lister()
	if !ok {
		return nil, ErrRetainNotListable
	}
	var out []Retained
	rl.Range(func(m *message.Message) bool {
		out = append(out, Retained{Topic: string(m.Topic), QoS: int(m.QoS), PayloadSize: len(m.Payload),
			CreateTime: m.Timestamp, ExpireAt: m.ExpiryMs})
		return true
	})
	slices.SortFunc(out, func(a, b Retained) int { return cmp.Compare(a.Topic, b.Topic) })
	return out, nil
}

// RetainedCount is the number of retained messages, or -1 when the store
// cannot tell.
func (s *Server) RetainedCount() int {
	if rl, ok := s.lister(); ok {
		return rl.Len()
	}
	return -1
}

// DeleteRetained removes the retained message of topic (as an empty
// retained PUBLISH would [MQTT-3.3.1-6]); ErrNoRetained when there is
// none, ErrRetainNotListable when the store cannot tell. With
// Options.State the deletion is saved too.
func (s *Server) DeleteRetained(topic string) error {
	rl, ok := s.lister()
	if !ok {
		return ErrRetainNotListable
	}
	found := false
	rl.Range(func(m *message.Message) bool {
		found = string(m.Topic) == topic
		return !found
	})
	if !found {
		return ErrNoRetained
	}
	s.retain.Set(&message.Message{Topic: []byte(topic), Retain: true, Timestamp: s.hub.Now()})
	return nil
}

// Kick disconnects the client connected with clientID: DISCONNECT 0x98
// Administrative action first for 5.0, a plain close for 3.x. The session
// stays (until its expiry, as after any disconnect) and the will is
// published, since the client did not end with DISCONNECT 0x00. It returns
// ErrNoClient when no such client is connected.
func (s *Server) Kick(clientID string) error {
	ss := s.sessions.get(clientID)
	if ss == nil {
		return ErrNoClient
	}
	ss.mu.Lock()
	c := ss.conn
	ss.mu.Unlock()
	if c == nil {
		return ErrNoClient
	}
	kicked.Inc()
	c.kick(mqtt.ReasonAdministrativeAction, errKicked)
	return nil
}
