package mqtt

import (
	"bytes"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"robustmq/codec/mqtt"
	"robustmq/netpoll"
	"robustmq/server/message"
	"robustmq/server/message/auth"
	"robustmq/server/message/topic"
)

// conn is one client connection, the netpoll Conn context. Every field
// not marked atomic belongs to the connection's handler goroutine.
type conn struct {
	srv     *Server
	nc      netpoll.Conn
	flushFn func(netpoll.Conn)

	version mqtt.Version // 0 until CONNECT
	// user, connectedMs and keepAlive describe the connection for the admin
	// API (inspect.go); set in accept before the session is attached.
	user        string
	connectedMs int64
	keepAlive   uint16
	sess        *session // nil until CONNECT
	will        *will
	// cleanExit: the client ended with DISCONNECT 0x00 (or a 3.x
	// DISCONNECT), so the will is not published.
	cleanExit bool

	maxOut      uint32 // client's Maximum Packet Size, 0 = none
	window      uint16 // outbound QoS 1/2 window
	aliasMaxOut uint16 // client's Topic Alias Maximum
	aliasIn     map[uint16][]byte
	aliasOut    map[string]uint16
	pendingIn   int // inbound QoS 1/2 publishes not yet completed
	// batch holds the store appends of the PUBLISHes of the OnData
	// running (Server.endBatch sends them); nil outside OnData.
	batch *message.Batch
	// acks are the inbound PUBACK/PUBRECs waiting for their store append,
	// in PUBLISH order. They
	// are sent in that order even when appends to different shards
	// complete out of order [MQTT-4.6.0-2], [MQTT-4.6.0-3].
	acks     []ackSlot // acks[ackHead:] are waiting
	ackHead  int
	ackBase  uint64        // sequence number of acks[ackHead]
	sessZero bool          // CONNECT's Session Expiry was 0 (5.0 3.14.2.2.2)
	auth     *authExchange // enhanced authentication in progress
	authed   bool          // CONNECT used enhanced authentication (re-authentication allowed)
	// principal is Options.Access's verdict at CONNECT (authz.go); nil
	// without Access.
	principal *auth.Principal
	slow      *slowLogin // a CONNECT checked off the loop, or input held then (authz.go); nil otherwise

	connected  atomic.Bool
	dead       atomic.Bool
	seen       atomic.Int64 // wheel second of the last input
	timeoutSec atomic.Int64 // 1.5 x keepalive (or connect timeout); 0 none
	slot       int          // wheel bucket holding c; guarded by wheel.mu
}

// deadline is the wheel second after which c is timed out; 0 for never.
func (c *conn) deadline() int64 {
	t := c.timeoutSec.Load()
	if t == 0 {
		return 0
	}
	return c.seen.Load() + t
}

// buf returns an empty pooled encode buffer; write gives it back.
func (c *conn) buf() []byte {
	p := c.srv.bufs.Get().(*[]byte)
	b := *p
	*p = nil
	c.srv.boxes.Put(p)
	return b[:0]
}

// write sends b (from buf) and recycles it. The *[]byte boxes travel
// between two pools so that putting a buffer back allocates nothing.
func (c *conn) write(b []byte) {
	_ = c.nc.Write(b)
	if cap(b) <= 64<<10 {
		p := c.srv.boxes.Get().(*[]byte)
		*p = b[:0]
		c.srv.bufs.Put(p)
	}
}

// errServer is a close reason for a server-detected protocol violation.
type errServer struct {
	code mqtt.ReasonCode
	msg  string
}

func (e *errServer) Error() string {
	return "mqtt: " + e.msg + " (reason 0x" + strconv.FormatUint(uint64(e.code), 16) + " " + e.code.Name() + ")"
}

// fail ends the connection for a violation only the server can see: a
// DISCONNECT with code in 5.0, a plain close in 3.x (3.1.1 4.8).
// In 5.0 msg goes along as the Reason String, unless that would pass the
// client's Maximum Packet Size (3.14.2.2.3).
func (c *conn) fail(code mqtt.ReasonCode, msg string) error {
	if c.version == mqtt.V5 {
		var d mqtt.Disconnect
		d.Reason = code
		d.Props.SetBytes(mqtt.PropReasonString, []byte(msg))
		b := mqtt.AppendDisconnect(c.buf(), mqtt.V5, &d)
		if c.maxOut != 0 && uint32(len(b)) > c.maxOut {
			d.Props.Del(mqtt.PropReasonString)
			b = mqtt.AppendDisconnect(b[:0], mqtt.V5, &d)
		}
		c.write(b)
	}
	return &errServer{code, msg}
}

// kick closes c from any goroutine, sending a 5.0 DISCONNECT with code
// first.
func (c *conn) kick(code mqtt.ReasonCode, reason error) {
	err := c.nc.Do(func(nc netpoll.Conn) {
		if c.version == mqtt.V5 {
			c.write(mqtt.AppendDisconnect(c.buf(), mqtt.V5, &mqtt.Disconnect{Reason: code}))
		}
		_ = nc.Close(reason)
	})
	if err != nil {
		_ = c.nc.Close(reason)
	}
}

// handle dispatches one decoded packet.
func (c *conn) handle(t mqtt.Type, d *mqtt.Decoder) error {
	if c.auth != nil && c.auth.connect != nil && t != mqtt.AUTH {
		return c.refuse(mqtt.ReasonProtocolError, 0, t.String()+" during the authentication exchange")
	}
	switch t {
	case mqtt.CONNECT:
		return c.onConnect(&d.Connect)
	case mqtt.PUBLISH:
		return c.onPublish(&d.Publish)
	case mqtt.PUBACK, mqtt.PUBREC, mqtt.PUBREL, mqtt.PUBCOMP:
		return c.onAck(&d.Ack)
	case mqtt.SUBSCRIBE:
		c.onSubscribe(&d.Subscribe)
	case mqtt.UNSUBSCRIBE:
		c.onUnsubscribe(&d.Unsubscribe)
	case mqtt.PINGREQ:
		c.write(mqtt.AppendPingresp(c.buf()))
	case mqtt.DISCONNECT:
		return c.onDisconnect(&d.Disconnect)
	case mqtt.AUTH:
		return c.onAuth(&d.Auth)
	}
	return nil
}

func (c *conn) refuse(code mqtt.ReasonCode, v3 byte, msg string) error {
	var ack mqtt.Connack
	ack.Code = v3
	if c.version == mqtt.V5 {
		ack.Code = byte(code)
		ack.Props.SetBytes(mqtt.PropReasonString, []byte(msg))
	}
	c.write(mqtt.AppendConnack(c.buf(), c.version, &ack))
	return &errServer{code, msg}
}

// onConnect starts the enhanced authentication exchange when the CONNECT
// names a method (5.0 4.12), else accepts at once.
func (c *conn) onConnect(cp *mqtt.Connect) error {
	c.version = cp.Version
	m, ok := cp.Props.Bytes(mqtt.PropAuthMethod)
	if !ok {
		return c.accept(cp, nil)
	}
	a := c.srv.opts.Auth
	if a == nil || string(m) != a.Method() {
		return c.refuse(mqtt.ReasonBadAuthenticationMethod, mqtt.ConnackNotAuthorized,
			"authentication method "+strconv.Quote(string(m))+" not supported")
	}
	data, _ := cp.Props.Bytes(mqtt.PropAuthData)
	st, reply, done, err := a.Step(nil, data)
	switch {
	case err != nil:
		return c.refuse(mqtt.ReasonNotAuthorized, mqtt.ConnackNotAuthorized, err.Error())
	case done:
		return c.accept(cp, reply)
	}
	clone := cp.Clone() // the CONNECT is accepted when the exchange ends
	c.auth = &authExchange{connect: &clone, state: st}
	c.writeAuth(mqtt.ReasonContinueAuthentication, reply)
	return nil
}

// v3Code is the 3.1.1 CONNACK return code closest to a 5.0 refusal.
func v3Code(code mqtt.ReasonCode) byte {
	switch code {
	case mqtt.ReasonBadUserNameOrPassword:
		return mqtt.ConnackBadUserNameOrPassword
	case mqtt.ReasonClientIdentifierNotValid:
		return mqtt.ConnackIdentifierRejected
	case mqtt.ReasonServerUnavailable, mqtt.ReasonServerBusy:
		return mqtt.ConnackServerUnavailable
	}
	return mqtt.ConnackNotAuthorized
}

// authExchange is an enhanced authentication in progress.
type authExchange struct {
	connect *mqtt.Connect // owned copy; nil for a re-authentication
	state   any
}

// writeAuth sends an AUTH with the configured method and data.
func (c *conn) writeAuth(code mqtt.ReasonCode, data []byte) {
	var a mqtt.Auth
	a.Reason = code
	a.Props.SetBytes(mqtt.PropAuthMethod, []byte(c.srv.opts.Auth.Method()))
	if data != nil {
		a.Props.SetBytes(mqtt.PropAuthData, data)
	}
	c.write(mqtt.AppendAuth(c.buf(), &a))
}

// onAuth continues an exchange started by CONNECT, or runs a
// re-authentication (0x19) on an authenticated connection (5.0 4.12.1).
func (c *conn) onAuth(p *mqtt.Auth) error {
	au := c.srv.opts.Auth
	m, _ := p.Props.Bytes(mqtt.PropAuthMethod)
	data, _ := p.Props.Bytes(mqtt.PropAuthData)
	pendingConnect := c.auth != nil && c.auth.connect != nil
	switch {
	case au == nil || !c.authed && !pendingConnect || string(m) != au.Method():
		if pendingConnect {
			return c.refuse(mqtt.ReasonProtocolError, 0, "AUTH with another method")
		}
		return c.fail(mqtt.ReasonProtocolError, "AUTH without an authentication exchange")
	case p.Reason == mqtt.ReasonReAuthenticate && c.auth == nil && c.authed:
		c.auth = &authExchange{}
	case p.Reason != mqtt.ReasonContinueAuthentication || c.auth == nil:
		return c.fail(mqtt.ReasonProtocolError, "AUTH reason 0x"+strconv.FormatUint(uint64(p.Reason), 16)+" out of sequence")
	}
	st, reply, done, err := au.Step(c.auth.state, data)
	switch {
	case err != nil && pendingConnect:
		return c.refuse(mqtt.ReasonNotAuthorized, mqtt.ConnackNotAuthorized, err.Error())
	case err != nil:
		return c.fail(mqtt.ReasonNotAuthorized, err.Error())
	case !done:
		c.auth.state = st
		c.writeAuth(mqtt.ReasonContinueAuthentication, reply)
		return nil
	}
	cp := c.auth.connect
	c.auth = nil
	if cp != nil {
		return c.accept(cp, reply)
	}
	c.writeAuth(mqtt.ReasonSuccess, reply)
	return nil
}

// accept completes a CONNECT: login, session, CONNACK, resend. authReply
// is the last Authentication Data of an enhanced authentication (nil for
// none). A slow login is answered later (authz.go).
func (c *conn) accept(cp *mqtt.Connect, authReply []byte) error {
	if login := c.srv.opts.Login; login != nil {
		if code := login(cp); code != mqtt.ReasonSuccess {
			return c.refuse(code, v3Code(code), "login refused")
		}
	}
	code, why, checking := c.authenticate(cp, authReply)
	switch {
	case checking:
		return nil
	case code != mqtt.ReasonSuccess:
		return c.refuse(code, v3Code(code), why)
	}
	return c.admit(cp, authReply)
}

// admitChecked completes a CONNECT whose login was checked off the loop,
// with the store's verdict.
func (c *conn) admitChecked(cp *mqtt.Connect, authReply []byte, p *auth.Principal, verdict error) error {
	if code, why := c.authorized(cp, p, verdict); code != mqtt.ReasonSuccess {
		return c.refuse(code, v3Code(code), why)
	}
	return c.admit(cp, authReply)
}

// admit completes an authenticated CONNECT: session, CONNACK, resend.
func (c *conn) admit(cp *mqtt.Connect, authReply []byte) error {
	srv, o := c.srv, &c.srv.opts
	v5 := c.version == mqtt.V5
	if cp.Will && v5 {
		if f, _ := cp.WillProps.Uint(mqtt.PropPayloadFormat); f == 1 && !mqtt.ValidUTF8(cp.WillPayload) {
			return c.refuse(mqtt.ReasonPayloadFormatInvalid, mqtt.ConnackUnacceptableVersion, "will payload is not UTF-8")
		}
	}
	var ack mqtt.Connack
	clientID := string(cp.ClientID)
	if clientID == "" {
		clientID = srv.newClientID()
		if v5 {
			ack.Props.SetBytes(mqtt.PropAssignedClientID, []byte(clientID))
		}
	}
	var expiry uint32
	c.window = o.MaxInflight
	if v5 {
		if e, ok := cp.Props.Uint(mqtt.PropSessionExpiry); ok {
			expiry = e
			if e > o.MaxSessionExpiry && e != 0 {
				expiry = o.MaxSessionExpiry
				ack.Props.SetUint(mqtt.PropSessionExpiry, expiry)
			}
		}
		if rm, ok := cp.Props.Uint(mqtt.PropReceiveMaximum); ok {
			c.window = min(c.window, uint16(rm))
		}
		c.maxOut, _ = cp.Props.Uint(mqtt.PropMaximumPacketSize)
		am, _ := cp.Props.Uint(mqtt.PropTopicAliasMaximum)
		c.aliasMaxOut = uint16(am)
		c.sessZero = expiry == 0
	} else if !cp.CleanStart {
		expiry = o.V3SessionExpiry
	}
	ka := cp.KeepAlive
	if v5 && o.KeepAliveOverride && (ka == 0 || ka > o.MaxKeepAlive) {
		ka = o.DefaultKeepAlive
		if cp.KeepAlive > o.MaxKeepAlive {
			ka = o.MaxKeepAlive
		}
		ack.Props.SetUint(mqtt.PropServerKeepAlive, uint32(ka))
	}
	if cp.Will {
		c.will = newWill(cp, srv.hub.Now(), o.MaxMessageExpiry)
	}
	if m, ok := cp.Props.Bytes(mqtt.PropAuthMethod); ok {
		c.authed = true
		ack.Props.SetBytes(mqtt.PropAuthMethod, m)
		if authReply != nil {
			ack.Props.SetBytes(mqtt.PropAuthData, authReply)
		}
	}
	if v5 {
		ack.Props.SetUint(mqtt.PropReceiveMaximum, uint32(o.ReceiveMax))
		ack.Props.SetUint(mqtt.PropMaximumPacketSize, o.MaxPacketSize)
		if o.TopicAliasMax > 0 {
			ack.Props.SetUint(mqtt.PropTopicAliasMaximum, uint32(o.TopicAliasMax))
		}
	}
	c.user, c.connectedMs, c.keepAlive = string(cp.Username), srv.hub.Now(), ka
	s, present, old, shared := srv.sessions.attach(srv, clientID, c, cp.CleanStart, expiry)
	s.saveSession()
	c.sess = s
	s.handOver(shared)
	if old != nil {
		old.kick(mqtt.ReasonSessionTakenOver, errTakenOver)
	}
	ack.SessionPresent = present
	c.write(mqtt.AppendConnack(c.buf(), c.version, &ack))
	srv.connects.Inc()
	c.connected.Store(true)
	c.timeoutSec.Store(int64(ka) * 3 / 2)
	if ka%2 == 1 {
		c.timeoutSec.Add(1) // round 1.5 x up
	}
	srv.wheel.add(c)
	c.resend()
	return nil
}

// newWill copies the will of cp into an owned message.
func newWill(cp *mqtt.Connect, now int64, maxExpiry uint32) *will {
	w := &will{m: newMessage(cp.WillTopic, cp.WillPayload, &cp.WillProps, cp.WillQoS, cp.WillRetain, now, maxExpiry)}
	w.delay, _ = cp.WillProps.Uint(mqtt.PropWillDelay)
	if w.m.ExpiryMs != 0 {
		w.ttlMs = w.m.ExpiryMs - now // the lifetime starts when it is published
	}
	return w
}

// newMessage builds an owned message from views (one allocation for the
// bytes, one for the struct).
func newMessage(t, payload []byte, p *mqtt.Properties, qos byte, retain bool, now int64, maxExpiry uint32) *message.Message {
	ct, _ := p.Bytes(mqtt.PropContentType)
	rt, _ := p.Bytes(mqtt.PropResponseTopic)
	cd, _ := p.Bytes(mqtt.PropCorrelationData)
	n := len(t) + len(payload) + len(ct) + len(rt) + len(cd)
	for _, u := range p.User {
		n += len(u.Key) + len(u.Value)
	}
	var b message.Builder
	b.Reserve(n)
	m := &message.Message{Topic: b.Copy(t), Payload: b.Copy(payload), QoS: qos, Retain: retain,
		ContentType: b.Copy(ct), ResponseTopic: b.Copy(rt), CorrelationData: b.Copy(cd), Timestamp: now}
	if f, ok := p.Uint(mqtt.PropPayloadFormat); ok {
		m.HasFormat, m.PayloadFormat = true, byte(f)
	}
	// A publisher's Message Expiry Interval is capped by maxExpiry; a
	// message without one never expires (the server must not invent the
	// property on delivery, 3.3.2.3.3).
	if e, ok := p.Uint(mqtt.PropMessageExpiry); ok {
		if maxExpiry > 0 && e > maxExpiry {
			e = maxExpiry
		}
		m.ExpiryMs = now + int64(e)*1000
	}
	if len(p.User) > 0 {
		m.User = make([]message.UserProperty, len(p.User))
		for i, u := range p.User {
			m.User[i] = message.UserProperty{Key: b.Copy(u.Key), Value: b.Copy(u.Value)}
		}
	}
	return m
}

// resend sends the session's in-flight messages again after a reconnect
// (DUP set; PUBREL for QoS 2 past PUBREC) [MQTT-4.4.0-1].
func (c *conn) resend() {
	s := c.sess
	s.mu.Lock()
	now := c.srv.hub.Now()
	for i := 0; i < len(s.inflight); i++ {
		f := &s.inflight[i]
		if f.rel {
			c.writeAck(mqtt.PUBREL, f.id, 0)
			continue
		}
		if !c.writePublish(&f.p, f.id, true, now) {
			s.forgetLocked(&f.p)
			s.remove(i)
			i--
		}
	}
	s.mu.Unlock()
}

// flush sends queued messages while the window and the output allow.
// Runs on the handler goroutine (directly or through nc.Do).
func (c *conn) flush() {
	s := c.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c { // taken over: the flush flag is the new connection's
		return
	}
	s.flushing = false
	now := int64(0)
	for s.queue.Len() > 0 {
		if c.nc.OutboundBuffered() >= c.srv.opts.OutboundHigh {
			c.srv.stall(c)
			return
		}
		p, _ := s.queue.Peek()
		if p.qos > 0 && len(s.inflight) >= int(c.window) {
			break
		}
		s.queue.Pop()
		if now == 0 {
			now = c.srv.hub.Now()
		}
		s.unhold(&p, now)
		if p.m.Expired(now) {
			c.srv.expired.Inc()
			s.forgetLocked(&p)
			continue
		}
		var id uint16
		if p.qos > 0 {
			id = s.newID()
		}
		if c.writePublish(&p, id, false, now) && p.qos > 0 {
			s.inflight = append(s.inflight, flight{id: id, p: p})
		} else {
			s.forgetLocked(&p)
		}
	}
}

// writePublish encodes p for this connection and writes it. It reports
// false when the packet is over the client's Maximum Packet Size: then
// nothing is sent and the message counts as delivered [MQTT-3.1.2-25].
// REQUIRES: session mu.
func (c *conn) writePublish(p *pending, id uint16, dup bool, now int64) bool {
	m := p.m
	pub := mqtt.Publish{Dup: dup, QoS: p.qos, Retain: p.retain, Topic: m.Topic, PacketID: id, Payload: m.Payload}
	newAlias := uint16(0)
	if c.version == mqtt.V5 {
		pr := &pub.Props
		if m.HasFormat {
			pr.SetUint(mqtt.PropPayloadFormat, uint32(m.PayloadFormat))
		}
		if m.ExpiryMs != 0 {
			pr.SetUint(mqtt.PropMessageExpiry, uint32(max(1, (m.ExpiryMs-now+999)/1000)))
		}
		if m.ContentType != nil {
			pr.SetBytes(mqtt.PropContentType, m.ContentType)
		}
		if m.ResponseTopic != nil {
			pr.SetBytes(mqtt.PropResponseTopic, m.ResponseTopic)
		}
		if m.CorrelationData != nil {
			pr.SetBytes(mqtt.PropCorrelationData, m.CorrelationData)
		}
		for _, u := range m.User {
			pr.User = append(pr.User, mqtt.UserProperty{Key: u.Key, Value: u.Value})
		}
		if p.subID != 0 {
			pr.SubIDs = append(pr.SubIDs, p.subID)
		}
		if c.aliasMaxOut > 0 {
			if a, ok := c.aliasOut[string(m.Topic)]; ok {
				pr.SetUint(mqtt.PropTopicAlias, uint32(a))
				pub.Topic = nil
			} else if len(c.aliasOut) < int(c.aliasMaxOut) {
				newAlias = uint16(len(c.aliasOut) + 1)
				pr.SetUint(mqtt.PropTopicAlias, uint32(newAlias))
			}
		}
	}
	b := mqtt.AppendPublish(c.buf(), c.version, &pub)
	if c.maxOut != 0 && uint32(len(b)) > c.maxOut {
		c.srv.tooLarge.Inc()
		c.write(b[:0])
		return false
	}
	if newAlias != 0 {
		if c.aliasOut == nil {
			c.aliasOut = map[string]uint16{}
		}
		c.aliasOut[string(m.Topic)] = newAlias
	}
	c.write(b)
	return true
}

// writeAck writes a PUBACK, PUBREC, PUBREL or PUBCOMP.
func (c *conn) writeAck(t mqtt.Type, id uint16, code mqtt.ReasonCode) {
	a := mqtt.Ack{Type: t, PacketID: id, Reason: code}
	if c.version != mqtt.V5 {
		a.Reason = 0
	}
	c.write(mqtt.AppendAck(c.buf(), c.version, &a))
}

func (c *conn) onPublish(p *mqtt.Publish) error {
	srv, s := c.srv, c.sess
	t := p.Topic
	if c.version == mqtt.V5 {
		if a, ok := p.Props.Uint(mqtt.PropTopicAlias); ok {
			if a > uint32(srv.opts.TopicAliasMax) {
				return c.fail(mqtt.ReasonTopicAliasInvalid, "topic alias "+strconv.Itoa(int(a))+" over Topic Alias Maximum")
			}
			if len(t) == 0 {
				if t, ok = c.aliasIn[uint16(a)]; !ok {
					return c.fail(mqtt.ReasonProtocolError, "unknown topic alias "+strconv.Itoa(int(a)))
				}
			} else {
				if c.aliasIn == nil {
					c.aliasIn = map[uint16][]byte{}
				}
				c.aliasIn[uint16(a)] = append([]byte(nil), t...)
			}
		}
		if f, _ := p.Props.Uint(mqtt.PropPayloadFormat); f == 1 && !mqtt.ValidUTF8(p.Payload) {
			if p.QoS == 0 {
				return c.fail(mqtt.ReasonPayloadFormatInvalid, "payload is not UTF-8")
			}
			c.refuseAck(ackFor(p.QoS), p.PacketID, mqtt.ReasonPayloadFormatInvalid)
			return nil
		}
	}
	if !c.mayPublish(t) {
		c.denyPublish(p)
		return nil
	}
	if p.QoS == 2 {
		s.mu.Lock()
		dup := s.qos2In[p.PacketID]
		s.mu.Unlock()
		if dup { // already stored: answer again, publish once [MQTT-4.3.3-10]
			c.writeAck(mqtt.PUBREC, p.PacketID, 0)
			return nil
		}
	}
	delay, t := delayed(t)
	if bytes.HasPrefix(t, sysPrefix) { // the broker's own topics: clients may read, not write
		srv.sysRefused.Inc()
		if p.QoS > 0 {
			c.refuseAck(ackFor(p.QoS), p.PacketID, mqtt.ReasonNotAuthorized)
		}
		return nil
	}
	if err := srv.hub.Check(t, p.Payload); err != nil {
		return c.refused(p, err)
	}
	if p.QoS > 0 {
		if c.pendingIn >= int(srv.opts.ReceiveMax) {
			return c.fail(mqtt.ReasonReceiveMaximumExceeded, "more than Receive Maximum unacknowledged QoS 1/2 publishes")
		}
		c.pendingIn++
	}
	var now int64
	if c.batch != nil {
		now = c.batch.Now() // one clock read per read burst
	} else {
		now = srv.hub.Now()
	}
	retain := p.Retain && delay < 0 // a delayed message is not retained
	m := newMessage(t, p.Payload, &p.Props, p.QoS, retain, now, srv.opts.MaxMessageExpiry)
	m.Publisher = s.id
	var w *ackWait
	var done func(error)
	switch p.QoS {
	case 1:
		w = c.acker(mqtt.PUBACK, p.PacketID)
	case 2:
		s.mu.Lock()
		if s.qos2In == nil {
			s.qos2In = map[uint16]bool{}
		}
		s.qos2In[p.PacketID] = true
		s.mu.Unlock()
		w = c.acker(mqtt.PUBREC, p.PacketID)
	}
	if w != nil {
		m.Gate, done = &w.gate, w.stored
	}
	if retain { // after the gate is set: a durable RetainStore holds it
		srv.retain.Set(m)
	}
	if delay >= 0 {
		srv.hub.PublishAt(m, now+delay*1000, done)
	} else if c.batch != nil {
		c.batch.Publish(m, done)
	} else {
		srv.hub.Publish(m, done)
	}
	if w != nil {
		w.gate.Release() // the fan-out's reference: every subscriber took m or holds it
	}
	return nil
}

// refused answers a publish the hub's Check refused (schema validation):
// its PUBACK/PUBREC carries 0x99 Payload format invalid in 5.0 and is a
// plain acknowledgement in 3.x (the message is discarded; a 3.x server
// cannot say more); ErrRefusedDisconnect ends the connection instead.
func (c *conn) refused(p *mqtt.Publish, err error) error {
	if errors.Is(err, message.ErrRefusedDisconnect) {
		return c.fail(mqtt.ReasonPayloadFormatInvalid, err.Error())
	}
	if p.QoS > 0 {
		c.refuseAck(ackFor(p.QoS), p.PacketID, mqtt.ReasonPayloadFormatInvalid)
	}
	return nil
}

var delayedPrefix = []byte("$delayed/")

// delayed splits a delayed-publish topic "$delayed/{seconds}/{topic}" into
// the delay and the real topic; other topics (and a malformed $delayed
// one, which is then a plain topic) return -1 and t.
func delayed(t []byte) (seconds int64, topic []byte) {
	if !bytes.HasPrefix(t, delayedPrefix) {
		return -1, t
	}
	rest := t[len(delayedPrefix):]
	i := bytes.IndexByte(rest, '/')
	if i < 1 || i > 7 || i == len(rest)-1 {
		return -1, t
	}
	var n int64
	for _, ch := range rest[:i] {
		if ch < '0' || ch > '9' {
			return -1, t
		}
		n = n*10 + int64(ch-'0')
	}
	return n, rest[i+1:]
}

func ackFor(qos byte) mqtt.Type {
	if qos == 2 {
		return mqtt.PUBREC
	}
	return mqtt.PUBACK
}

// ackSlot is one inbound acknowledgement waiting for its append.
type ackSlot struct {
	t    mqtt.Type // PUBACK or PUBREC
	id   uint16
	done bool
	err  error
	// refused: a publish that was not published (refuseAck), answered
	// with code; it never counted in pendingIn.
	refused bool
	code    mqtt.ReasonCode
}

// refuseAck acknowledges an inbound QoS 1/2 publish that is not published
// (refused by the ACL, a schema, the payload format check, $SYS) with
// code, after the acknowledgements still waiting for their appends, so
// acknowledgements keep the PUBLISH order [MQTT-4.6.0-2].
func (c *conn) refuseAck(t mqtt.Type, id uint16, code mqtt.ReasonCode) {
	if c.ackHead == len(c.acks) {
		c.writeAck(t, id, code)
		return
	}
	c.acks = append(c.acks, ackSlot{t: t, id: id, done: true, refused: true, code: code})
}

// ackWait is one inbound QoS 1/2 publish waiting for its acknowledgement.
// Its gate opens when the store append is done and no subscriber holds
// the message any more (see message.Gate): a subscriber whose queue is
// full delays the PUBACK/PUBREC, so the publisher's window throttles it
// instead of the subscriber losing acknowledged messages.
type ackWait struct {
	c    *conn // nil once completed (a retained m may outlive the connection)
	seq  uint64
	err  error // the append's result; written before the store's Release
	gate message.Gate
}

// acker queues the acknowledgement of an inbound publish. Its gate starts
// with two references: the store append (stored) and the fan-out,
// released by onPublish once Publish returned.
func (c *conn) acker(t mqtt.Type, id uint16) *ackWait {
	w := &ackWait{c: c, seq: c.ackBase + uint64(len(c.acks)-c.ackHead)}
	c.acks = append(c.acks, ackSlot{t: t, id: id})
	w.gate.Init(2, w)
	return w
}

// stored is the hub's done callback; it may run on a store goroutine.
func (w *ackWait) stored(err error) {
	w.err = err
	w.gate.Release()
}

// GateOpened hops to the connection to complete the acknowledgement.
func (w *ackWait) GateOpened() { _ = w.c.nc.Do(w.complete) }

func (w *ackWait) complete(netpoll.Conn) {
	c := w.c
	w.c = nil
	a := &c.acks[c.ackHead+int(w.seq-c.ackBase)]
	a.done, a.err = true, w.err
	c.releaseAcks()
}

// releaseAcks sends the completed acknowledgements at the head of acks. A
// failed store answers 0x80 in 5.0 and closes a 3.x connection
// unacknowledged (the client resends on reconnect).
func (c *conn) releaseAcks() {
	for c.ackHead < len(c.acks) && c.acks[c.ackHead].done {
		a := c.acks[c.ackHead]
		c.acks[c.ackHead] = ackSlot{}
		c.ackHead++
		c.ackBase++
		if a.refused {
			c.writeAck(a.t, a.id, a.code)
			continue
		}
		if a.t == mqtt.PUBACK || a.err != nil {
			c.pendingIn = max(0, c.pendingIn-1)
		}
		switch {
		case a.err == nil:
			c.writeAck(a.t, a.id, 0)
		case c.version != mqtt.V5:
			_ = c.nc.Close(a.err)
			return
		default:
			if a.t == mqtt.PUBREC {
				c.sess.mu.Lock()
				delete(c.sess.qos2In, a.id)
				c.sess.mu.Unlock()
			}
			c.writeAck(a.t, a.id, mqtt.ReasonUnspecifiedError)
		}
	}
	if c.ackHead == len(c.acks) { // all sent: reuse the slice from its start
		c.acks, c.ackHead = c.acks[:0], 0
		if cap(c.acks) > 1024 {
			c.acks = nil
		}
	}
}

func (c *conn) onAck(a *mqtt.Ack) error {
	s := c.sess
	switch a.Type {
	case mqtt.PUBREL:
		s.mu.Lock()
		ok := s.qos2In[a.PacketID]
		delete(s.qos2In, a.PacketID)
		s.mu.Unlock()
		code := mqtt.ReasonSuccess
		if ok {
			c.pendingIn = max(0, c.pendingIn-1)
		} else {
			code = mqtt.ReasonPacketIdentifierNotFound
		}
		c.writeAck(mqtt.PUBCOMP, a.PacketID, code)
		return nil
	case mqtt.PUBREC:
		s.mu.Lock()
		i := s.find(a.PacketID)
		switch {
		case i < 0:
			s.mu.Unlock()
			c.writeAck(mqtt.PUBREL, a.PacketID, mqtt.ReasonPacketIdentifierNotFound)
			return nil
		case a.Reason.IsError() || s.inflight[i].p.qos != 2:
			s.forgetLocked(&s.inflight[i].p)
			s.remove(i)
			s.mu.Unlock()
			return nil
		}
		s.inflight[i].rel = true
		s.mu.Unlock()
		c.writeAck(mqtt.PUBREL, a.PacketID, 0)
		return nil
	}
	// PUBACK (QoS 1) or PUBCOMP (QoS 2 after PUBREL) ends the exchange.
	s.mu.Lock()
	if i := s.find(a.PacketID); i >= 0 && (a.Type == mqtt.PUBACK) == (s.inflight[i].p.qos == 1) {
		s.forgetLocked(&s.inflight[i].p)
		s.remove(i)
	}
	s.mu.Unlock()
	return nil
}

func (c *conn) onSubscribe(sp *mqtt.Subscribe) {
	s, srv := c.sess, c.srv
	codes := make([]byte, len(sp.Subs))
	var subID uint32
	if len(sp.Props.SubIDs) > 0 {
		subID = sp.Props.SubIDs[0]
	}
	type retained struct {
		filter string
		o      *subOpts
	}
	var rets []retained
	for i, sb := range sp.Subs {
		f, err := topic.ParseFilter(sb.Filter, topic.MQTT, nil)
		if err != nil {
			codes[i] = c.subFailure(mqtt.ReasonTopicFilterInvalid)
			continue
		}
		if !c.maySubscribe(f) {
			codes[i] = c.subFailure(mqtt.ReasonNotAuthorized)
			continue
		}
		o := &subOpts{qos: sb.QoS, noLocal: sb.NoLocal, rap: sb.RetainAsPublished, subID: subID}
		key := string(sb.Filter)
		s.mu.Lock()
		_, existed := s.subs[key]
		err = srv.hub.Index().Subscribe(f, topic.Subscriber{ID: s.id, Target: s}, o)
		if err == nil {
			if s.subs == nil {
				s.subs = map[string]*sub{}
			}
			s.subs[key] = &sub{f: f, opts: o}
		}
		s.mu.Unlock()
		switch {
		case errors.Is(err, topic.ErrExclusiveTaken):
			codes[i] = c.subFailure(mqtt.ReasonQuotaExceeded)
			continue
		case err != nil:
			codes[i] = c.subFailure(mqtt.ReasonUnspecifiedError)
			continue
		}
		codes[i] = sb.QoS
		// No retained messages for shared subscriptions (4.8.2); Retain
		// Handling 1 sends them only for a new subscription, 2 never.
		if f.Group() == "" && (sb.RetainHandling == 0 || (sb.RetainHandling == 1 && !existed)) {
			rets = append(rets, retained{f.Path(), o})
		}
	}
	s.saveSession()
	c.write(mqtt.AppendSuback(c.buf(), c.version, &mqtt.Suback{Type: mqtt.SUBACK, PacketID: sp.PacketID, Codes: codes}))
	for _, r := range rets {
		srv.retain.Match(r.filter, func(m *message.Message) {
			s.enqueue(pending{m: m, qos: min(m.QoS, r.o.qos), retain: true, subID: r.o.subID}, nil)
		})
	}
}

// subFailure is the SUBACK code for a refused filter: the 5.0 reason, or
// 0x80 Failure in 3.x.
func (c *conn) subFailure(code mqtt.ReasonCode) byte {
	if c.version == mqtt.V5 {
		return byte(code)
	}
	return mqtt.SubackFailure
}

func (c *conn) onUnsubscribe(u *mqtt.Unsubscribe) {
	s := c.sess
	var codes []byte
	if c.version == mqtt.V5 {
		codes = make([]byte, len(u.Filters))
	}
	for i, f := range u.Filters {
		s.mu.Lock()
		sb, ok := s.subs[string(f)]
		if ok {
			_ = c.srv.hub.Index().Unsubscribe(sb.f, s.id)
			delete(s.subs, string(f))
		}
		s.mu.Unlock()
		if codes != nil && !ok {
			codes[i] = byte(mqtt.ReasonNoSubscriptionExisted)
		}
	}
	s.saveSession()
	c.write(mqtt.AppendSuback(c.buf(), c.version, &mqtt.Suback{Type: mqtt.UNSUBACK, PacketID: u.PacketID, Codes: codes}))
}

func (c *conn) onDisconnect(d *mqtt.Disconnect) error {
	if c.version == mqtt.V5 {
		if e, ok := d.Props.Uint(mqtt.PropSessionExpiry); ok {
			if c.sessZero && e != 0 {
				return c.fail(mqtt.ReasonProtocolError, "session expiry set at DISCONNECT after 0 at CONNECT")
			}
			s := c.sess
			s.mu.Lock()
			s.expiry = min(e, c.srv.opts.MaxSessionExpiry)
			s.mu.Unlock()
		}
	}
	c.cleanExit = d.Reason != mqtt.ReasonDisconnectWithWill
	return errDisconnect
}

// closed runs from OnClose: it detaches the session, publishes or delays
// the will and ends or schedules the end of the session.
func (c *conn) closed() {
	s, srv := c.sess, c.srv
	if s == nil {
		return
	}
	w := c.will
	if c.cleanExit {
		w = nil
	}
	// Released to another broker (Release) before this close: a packet
	// read meanwhile may have subscribed it again. Read before mu (lock
	// order); a released session never returns to the table.
	released := srv.sessions.get(s.clientID) != s
	s.mu.Lock()
	if s.conn != c { // taken over: a new connection has the session
		if released {
			s.clearLocked()
		}
		s.mu.Unlock()
		if w != nil && w.delay == 0 {
			srv.publishWill(w)
		}
		return
	}
	s.conn, s.offlineAt = nil, srv.hub.Now()
	s.releaseHeldLocked()
	if s.expiry > 0 { // what it still holds goes to its log
		for i := range s.inflight {
			s.logLocked(&s.inflight[i].p)
		}
		for i := s.queue.Len(); i > 0; i-- {
			p, _ := s.queue.Pop()
			s.logLocked(&p)
			s.queue.PushOver(p)
		}
	}
	expiry := s.expiry
	if expiry == 0 {
		s.mu.Unlock()
		s.end()
		srv.publishWill(w)
		return
	}
	if w != nil && w.delay > 0 && w.delay < expiry {
		s.will, s.willAt = w, s.offlineAt+int64(w.delay)*1000
		s.willAfterLocked(time.Duration(w.delay) * time.Second)
		w = nil
	} else if w != nil && w.delay > 0 {
		s.will = w // published when the session ends
		w = nil
	}
	s.saveSessionLocked()
	if expiry != 0xFFFFFFFF {
		s.expireAfterLocked(time.Duration(expiry) * time.Second)
	}
	s.mu.Unlock()
	srv.publishWill(w)
}

// willAfterLocked publishes the session's delayed will after d, unless a
// connection attaches first (attach stops the timer and drops the will).
// With a DueStore it does nothing: the store's scheduler calls FireDue.
// REQUIRES: s.mu.
func (s *session) willAfterLocked(d time.Duration) {
	srv := s.srv
	if srv.due != nil {
		return
	}
	s.wilTimer = time.AfterFunc(d, func() {
		s.mu.Lock()
		s.wilTimer = nil
		pw := s.takeWillLocked()
		s.mu.Unlock()
		srv.publishWill(pw)
	})
}

// takeWillLocked takes the session's delayed will out (saved so) and
// returns it to be published once mu is released.
// REQUIRES: s.mu.
func (s *session) takeWillLocked() *will {
	w := s.will
	s.will, s.willAt = nil, 0
	s.saveSessionLocked()
	return w
}

// expireAfterLocked ends the offline session s after d; with a
// DueStore it does nothing (see willAfterLocked).
// REQUIRES: s.mu.
func (s *session) expireAfterLocked(d time.Duration) {
	srv := s.srv
	if srv.due != nil {
		return
	}
	s.expTimer = time.AfterFunc(d, s.end)
}

// end ends the session, unless a connection attached meanwhile: its
// state goes, its pending will is published and its shared-subscription
// messages go to other members.
// REQUIRES: s.mu not held.
func (s *session) end() {
	if pw, shared, ok := s.srv.sessions.end(s); ok {
		s.srv.publishWill(pw)
		s.handOver(shared)
	}
}
