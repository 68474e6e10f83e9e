package mqtt

import (
	"errors"
	"hash/maphash"
	"sync"
	"time"

	"robustmq/codec/mqtt"
	"robustmq/server/message"
	"robustmq/server/message/topic"
)

// errSlowSubscriber closes a subscriber that took none of its held
// messages for Options.HoldTimeout.
var errSlowSubscriber = errors.New("mqtt: slow subscriber: held messages did not move for the hold timeout")

// session is the server side of an MQTT session (spec 4.1): it outlives
// connections when its expiry interval is not 0.
//
// Every field below mu is guarded by mu. Lock order: the sessions stripe
// mutex, then session.mu, then the topic index's locks. Deliver takes only mu.
type session struct {
	srv      *Server
	id       uint64 // subscriber ID in the topic index, unique per session
	clientID string

	mu       sync.Mutex
	conn     *conn           // the attached connection, nil while offline
	subs     map[string]*sub // by filter as subscribed (with $share/...)
	queue    message.Queue[pending]
	inflight []flight        // outbound QoS 1/2 in send order; at most the client's window
	nextID   uint16          // last packet id given out
	qos2In   map[uint16]bool // inbound QoS 2 ids with PUBREC sent, waiting for PUBREL
	expiry   uint32          // session expiry interval, seconds; 0xFFFFFFFF never
	expTimer *time.Timer     // ends the session while offline
	will     *will           // delayed will of the last connection
	willAt   int64           // ms when wilTimer publishes will; 0: at the session's end
	wilTimer *time.Timer     // publishes will after its delay
	flushing bool            // a flush is queued on conn (conn.nc.Do)
	// held counts the queued messages holding their publisher's
	// acknowledgement (pending.held); progressMs is when one was last
	// released (or holding began), holdTimer checks that they move.
	held       int
	progressMs int64
	holdTimer  *time.Timer
	offlineAt  int64    // ms; 0 while a connection is attached
	d          *durable // persistence state (persist.go); nil until the first save or log
}

func newSession(srv *Server, clientID string) *session {
	return &session{srv: srv, id: srv.nextSubID.Add(1), clientID: clientID, queue: message.NewQueue[pending](srv.opts.MaxQueued)}
}

// sub is one subscription of the session.
type sub struct {
	f    topic.Filter
	opts *subOpts
}

// subOpts are a subscription's options, the topic.Entry.Opts of its entries.
type subOpts struct {
	qos     byte
	noLocal bool
	rap     bool   // Retain As Published
	subID   uint32 // 5.0 Subscription Identifier, 0 for none
}

// pending is a message waiting in the session queue.
type pending struct {
	m      *message.Message
	qos    byte
	retain bool
	subID  uint32
	group  *topic.Group // the shared subscription it came through, nil for none
	held   bool         // queued past the capacity, holding m.Gate
	logged bool         // in the session's log (persist.go)
}

// flight is an outbound QoS 1/2 message not yet acknowledged.
type flight struct {
	id  uint16
	p   pending
	rel bool // QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP
}

// will is a connection's Will Message, owned.
type will struct {
	m     *message.Message
	delay uint32 // Will Delay Interval, seconds
	ttlMs int64  // Message Expiry Interval in ms, 0 none
}

// Deliver implements message.Subscriber: it queues m for the session and
// wakes the attached connection. Runs on the publisher's goroutine.
//
// A shared subscription's pick that is offline hands the message to
// another member that is online, if the group has one (4.8.2: a message
// should reach a member that can take it).
func (s *session) Deliver(m *message.Message, e *topic.Entry) { s.deliver(m, e, nil) }

// DeliverBatch implements message.BatchSubscriber: a delivery that needs
// a flush notes s in the publisher's batch instead of scheduling it, and
// the publisher's loop flushes s when the read ends (Server.endBatch: at
// once when s's connection shares that loop, else with Do).
func (s *session) DeliverBatch(m *message.Message, e *topic.Entry, b *message.Batch) {
	s.deliver(m, e, b)
}

func (s *session) deliver(m *message.Message, e *topic.Entry, b *message.Batch) {
	o := e.Opts.(*subOpts)
	if o.noLocal && m.Publisher == s.id {
		return
	}
	if e.Group != nil && !s.online() {
		if other, ok := e.Group.PickOther(s.id); ok {
			if t, ok := other.Target.(*session); ok && t.online() {
				t.Deliver(m, &other)
				return
			}
		}
	}
	s.enqueue(pending{m: m, qos: min(m.QoS, o.qos), retain: m.Retain && o.rap, subID: o.subID, group: e.Group}, b)
}

func (s *session) online() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// handOver gives the messages of shared subscriptions that a ending
// session still holds (queued, or in flight before PUBREC) to other members
// of their groups (4.8.2).
// REQUIRES: mu not held; the session is no longer in the table.
func (s *session) handOver(ps []pending) {
	for _, p := range ps {
		if other, ok := p.group.PickOther(s.id); ok {
			if t, ok := other.Target.(message.Subscriber); ok {
				t.Deliver(p.m, &other)
			}
		}
	}
}

// sharedLocked collects the shared-subscription messages held by s.
// REQUIRES: mu.
func (s *session) sharedLocked() []pending {
	var ps []pending
	for _, f := range s.inflight {
		if f.p.group != nil && !f.rel {
			ps = append(ps, f.p)
		}
	}
	for i := 0; i < s.queue.Len(); i++ {
		p, _ := s.queue.Pop()
		if p.group != nil {
			ps = append(ps, p)
		}
		s.queue.PushOver(p)
	}
	return ps
}

// enqueue puts p in the queue and schedules a flush on the attached
// connection. QoS 0 messages are not queued for an offline session (spec
// 4.1 lets the server drop them).
//
// When the queue is full (the package doc, "Flow control"): an online
// session holds the publisher's acknowledgement of a QoS 1/2 message
// (message.Gate) and queues it past the capacity; a held message is never
// dropped while the session is online, so a message that cannot be held
// is dropped instead when the oldest is held; otherwise the oldest goes.
// Drops are counted. With b (a delivery from a publisher's read) the
// flush is left to b's owner: s is noted in b, flushing stays set until
// Server.endBatch flushes s or schedules it.
func (s *session) enqueue(p pending, b *message.Batch) {
	s.mu.Lock()
	c := s.conn
	if c == nil && (p.qos == 0 || s.srv.opts.NoOffline) {
		s.mu.Unlock()
		s.srv.offlineDrop.Inc()
		return
	}
	if c == nil {
		s.logLocked(&p)
	}
	if s.queue.Full() {
		if c != nil && p.qos > 0 && p.m.Gate != nil && p.m.Gate.Hold() {
			p.held = true
			s.holdLocked()
		} else if head, _ := s.queue.Peek(); head.held {
			s.forgetLocked(&p)
			s.mu.Unlock()
			s.srv.hub.QueueFull()
			return
		} else {
			old, _ := s.queue.Pop()
			s.forgetLocked(&old)
			s.srv.hub.QueueFull()
		}
	}
	s.queue.PushOver(p)
	wake := c != nil && !s.flushing
	if wake {
		s.flushing = true
	}
	// With b, s is noted when the flush is its to schedule, and when the
	// queue reaches a quarter while a scheduled flush waits for the loop's
	// turn (Server.endBatch then flushes it at once).
	note := b != nil && c != nil && (wake || s.queue.Len() == s.queue.Cap()/4)
	s.mu.Unlock()
	switch {
	case note:
		b.Note(s)
	case wake:
		s.scheduleFlush(c)
	}
}

// scheduleFlush queues a flush of s on c, which enqueue marked flushing.
func (s *session) scheduleFlush(c *conn) {
	if err := c.nc.Do(c.flushFn); err != nil {
		s.mu.Lock()
		s.flushing = false
		s.mu.Unlock()
	}
}

// holdLocked counts one more held message and makes sure a timer watches
// that the held messages move: a subscriber that takes none for
// Options.HoldTimeout is disconnected (holdCheck), which releases them.
// REQUIRES: mu.
func (s *session) holdLocked() {
	s.srv.held.Inc()
	s.held++
	if s.held == 1 {
		s.progressMs = s.srv.hub.Now()
	}
	if s.holdTimer == nil {
		s.holdTimer = time.AfterFunc(s.srv.opts.HoldTimeout, s.holdCheck)
	}
}

// unhold releases the publisher of a held message leaving the queue.
// REQUIRES: mu.
func (s *session) unhold(p *pending, nowMs int64) {
	if !p.held {
		return
	}
	p.held = false
	s.held--
	s.progressMs = nowMs
	p.m.Gate.Release()
}

// releaseHeldLocked releases every held message (the session went
// offline or ends) and trims the queue back to its capacity, oldest
// first: from now on the offline policy applies.
// REQUIRES: mu.
func (s *session) releaseHeldLocked() {
	if s.held > 0 {
		now := s.srv.hub.Now()
		for i := s.queue.Len(); i > 0; i-- {
			p, _ := s.queue.Pop()
			s.unhold(&p, now)
			s.queue.PushOver(p)
		}
	}
	for s.queue.Len() > s.queue.Cap() {
		old, _ := s.queue.Pop()
		s.forgetLocked(&old)
		s.srv.hub.QueueFull()
	}
}

// holdCheck runs on the timer goroutine: it disconnects the attached
// connection when held messages have not moved for HoldTimeout, and
// re-arms itself while some are held.
func (s *session) holdCheck() {
	timeout := s.srv.opts.HoldTimeout
	s.mu.Lock()
	s.holdTimer = nil
	c := s.conn
	if s.held == 0 || c == nil {
		s.mu.Unlock()
		return
	}
	idle := time.Duration(s.srv.hub.Now()-s.progressMs) * time.Millisecond
	if idle < timeout {
		s.holdTimer = time.AfterFunc(timeout-idle, s.holdCheck)
		s.mu.Unlock()
		return
	}
	held := s.held
	s.mu.Unlock()
	s.srv.slowSubs.Inc()
	s.srv.opts.Logger.Warn("mqtt: slow subscriber disconnected", "client_id", s.clientID,
		"held_messages", held, "idle", idle)
	c.kick(mqtt.ReasonQuotaExceeded, errSlowSubscriber)
}

// find returns the index of inflight packet id, or -1.
// REQUIRES: mu.
func (s *session) find(id uint16) int {
	for i := range s.inflight {
		if s.inflight[i].id == id {
			return i
		}
	}
	return -1
}

// newID returns a packet id not in flight.
// REQUIRES: mu, len(inflight) < 65535.
func (s *session) newID() uint16 {
	for {
		s.nextID++
		if s.nextID != 0 && s.find(s.nextID) < 0 {
			return s.nextID
		}
	}
}

// remove drops inflight[i], keeping the order.
// REQUIRES: mu.
func (s *session) remove(i int) {
	s.inflight = append(s.inflight[:i], s.inflight[i+1:]...)
	if len(s.inflight) == 0 {
		s.inflight = nil
	}
}

// clearLocked forgets every subscription, queued and in-flight message.
// REQUIRES: mu.
func (s *session) clearLocked() {
	for _, sb := range s.subs {
		_ = s.srv.hub.Index().Unsubscribe(sb.f, s.id)
	}
	s.subs = nil
	s.releaseHeldLocked()
	s.dropLogLocked()
	s.queue.Clear()
	s.inflight = nil
	s.qos2In = nil
	s.stopTimersLocked()
}

// stopTimersLocked cancels expiry and delayed will; the will is dropped.
// REQUIRES: mu.
func (s *session) stopTimersLocked() {
	if s.expTimer != nil {
		s.expTimer.Stop()
		s.expTimer = nil
	}
	if s.wilTimer != nil {
		s.wilTimer.Stop()
		s.wilTimer = nil
	}
	s.will, s.willAt = nil, 0
}

// sessions is the server's session table, in memory, split into
// sessionStripes stripes by a hash of the client id so that CONNECTs on
// different loops do not queue behind one lock. The Meta Service's mqtt
// group will keep persistent sessions across restarts.
type sessions struct {
	seed    maphash.Seed
	stripes [sessionStripes]sessionStripe
}

const sessionStripes = 64

type sessionStripe struct {
	mu sync.Mutex
	m  map[string]*session // by client id; guarded by mu
	_  [48]byte            // 64 bytes: keep neighbouring stripes' locks off one cache line
}

func newSessions() *sessions {
	t := &sessions{seed: maphash.MakeSeed()}
	for i := range t.stripes {
		t.stripes[i].m = map[string]*session{}
	}
	return t
}

func (t *sessions) stripe(clientID string) *sessionStripe {
	return &t.stripes[maphash.String(t.seed, clientID)%sessionStripes]
}

// get returns the session of clientID, or nil.
func (t *sessions) get(clientID string) *session {
	st := t.stripe(clientID)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.m[clientID]
}

// attach binds c to the session of clientID, creating or cleaning it, and
// returns it, whether it was present, and the connection it was taken from.
// With clean, the shared-subscription messages of the old state are
// returned for handOver.
func (t *sessions) attach(srv *Server, clientID string, c *conn, clean bool, expiry uint32) (s *session, present bool, old *conn, shared []pending) {
	st := t.stripe(clientID)
	st.mu.Lock()
	defer st.mu.Unlock()
	s = st.m[clientID]
	if s == nil {
		s = newSession(srv, clientID)
		st.m[clientID] = s
	}
	s.mu.Lock()
	old = s.conn
	if clean {
		shared = s.sharedLocked()
		s.clearLocked()
	} else {
		present = s.subs != nil || s.queue.Len() > 0 || len(s.inflight) > 0 || len(s.qos2In) > 0 || old != nil ||
			s.offlineAt != 0
	}
	s.stopTimersLocked()
	s.conn, s.expiry, s.flushing, s.offlineAt = c, expiry, false, 0
	if expiry > 0 {
		s.dur().takeAt = srv.hub.Now()
	}
	s.mu.Unlock()
	return s, present, old, shared
}

// end removes s from the table and forgets its state, unless a
// connection attached to it meanwhile. It returns the delayed will still
// pending, if any, the shared-subscription messages to hand over, and
// whether the session ended.
func (t *sessions) end(s *session) (w *will, shared []pending, ended bool) {
	st := t.stripe(s.clientID)
	st.mu.Lock()
	defer st.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil || st.m[s.clientID] != s {
		return nil, nil, false
	}
	delete(st.m, s.clientID)
	s.dropStateLocked()
	w = s.will
	shared = s.sharedLocked()
	s.clearLocked()
	return w, shared, true
}

func (t *sessions) len() int {
	n := 0
	for i := range t.stripes {
		st := &t.stripes[i]
		st.mu.Lock()
		n += len(st.m)
		st.mu.Unlock()
	}
	return n
}
