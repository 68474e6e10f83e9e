package mqtt

import "strconv"

// Subscription is one topic filter of a SUBSCRIBE and its options byte
// (spec 3.8.3.1).
type Subscription struct {
	Filter            []byte
	QoS               byte // maximum QoS
	NoLocal           bool // 5.0
	RetainAsPublished bool // 5.0
	RetainHandling    byte // 5.0: 0 send retained, 1 only for new subscriptions, 2 never
}

// Subscribe is a SUBSCRIBE packet (spec 3.8). Subs is reused across
// decodes; the filters alias the input.
type Subscribe struct {
	PacketID uint16
	Props    Properties // 5.0: Subscription Identifier (at most one), User Property
	Subs     []Subscription
}

// head reads the part SUBSCRIBE and UNSUBSCRIBE share: flags 0b0010
// ([MQTT-3.8.1-1], [MQTT-3.10.1-1]), a non-zero packet id and the 5.0
// properties; then at least one entry must follow ([MQTT-3.8.3-2] /
// 3.1.1 [MQTT-3.8.3-3], [MQTT-3.10.3-2]).
func (r *reader) head(flags byte, p *Properties) uint16 {
	r.checkFlags(flags)
	id := r.packetID()
	p.Reset()
	if r.v == V5 {
		p.decode(r, r.pkt)
	}
	if r.err == nil && len(r.b) == 0 {
		rl := "MQTT-3.10.3-2"
		if r.pkt == SUBSCRIBE {
			rl = rule(r.v, "MQTT-3.8.3-2", "MQTT-3.8.3-3")
		}
		r.fail("payload", "no topic filter", rl, ReasonProtocolError)
	}
	return id
}

// filter reads and validates a topic filter: bad UTF-8 is malformed, a
// bad wildcard or $share syntax is 0x8F Topic Filter invalid (4.7.1,
// 4.8.2). 3.x has no shared subscriptions, so there "$share/..." is a plain
// filter. It returns whether the filter is a 5.0 shared subscription.
func (r *reader) filter() (f []byte, shared bool) {
	f = r.bin("topic filter")
	if r.err != nil {
		return nil, false
	}
	var err error
	if r.v == V5 {
		_, _, shared, err = ParseShared(f)
	}
	if !shared && err == nil {
		err = validPlainFilter(f)
	}
	switch err {
	case nil:
	case ErrTopicUTF8:
		r.fail("topic filter", msg(err), ruleOf(err), ReasonMalformedPacket)
	default:
		r.fail("topic filter", msg(err), ruleOf(err), ReasonTopicFilterInvalid)
	}
	return f, shared
}

// Decode decodes a SUBSCRIBE body. Options: reserved bits must be 0
// (5.0 bits 6-7 [MQTT-3.8.3-5], 3.1.1 bits 2-7 [MQTT-3-8.3-4]: malformed);
// QoS 3 is malformed in 3.1.1 and a Protocol Error in 5.0, as are Retain
// Handling 3 and No Local on a shared subscription [MQTT-3.8.3-4].
func (s *Subscribe) Decode(v Version, flags byte, body []byte) error {
	r := reader{b: body, pkt: SUBSCRIBE, v: v}
	s.PacketID = r.head(flags, &s.Props)
	s.Subs = reuse(s.Subs)
	reserved := byte(0xFC)
	if v == V5 {
		reserved = 0xC0
	}
	for r.err == nil && len(r.b) > 0 {
		f, shared := r.filter()
		o := r.u8("subscription options")
		if r.err != nil {
			break
		}
		sub := Subscription{Filter: f, QoS: o & 3, NoLocal: o&0x04 != 0, RetainAsPublished: o&0x08 != 0,
			RetainHandling: o >> 4 & 3}
		switch {
		case o&reserved != 0:
			r.fail("subscription options", "reserved bits set", rule(v, "MQTT-3.8.3-5", "MQTT-3-8.3-4"), ReasonMalformedPacket)
		case sub.QoS == 3 && v != V5:
			r.fail("subscription options", "QoS 3", "MQTT-3-8.3-4", ReasonMalformedPacket)
		case sub.QoS == 3: // 5.0 3.8.3.1: "It is a Protocol Error if the Maximum QoS field has the value 3"
			r.fail("subscription options", "QoS 3", "", ReasonProtocolError)
		case sub.RetainHandling == 3:
			r.fail("subscription options", "Retain Handling 3", "", ReasonProtocolError)
		case sub.NoLocal && shared:
			r.fail("subscription options", "No Local on a shared subscription", "MQTT-3.8.3-4", ReasonProtocolError)
		}
		s.Subs = append(s.Subs, sub)
	}
	return r.result()
}

// AppendSubscribe appends s as a SUBSCRIBE of version v.
func AppendSubscribe(dst []byte, v Version, s *Subscribe) []byte {
	n := 0
	for i := range s.Subs {
		n += 3 + len(s.Subs[i].Filter)
	}
	dst = appendIDProps(dst, v, SUBSCRIBE, s.PacketID, &s.Props, n)
	for i := range s.Subs {
		sub := &s.Subs[i]
		o := sub.QoS | sub.RetainHandling<<4
		if sub.NoLocal {
			o |= 0x04
		}
		if sub.RetainAsPublished {
			o |= 0x08
		}
		dst = append(appendBin(dst, sub.Filter), o)
	}
	return dst
}

// Unsubscribe is an UNSUBSCRIBE packet (spec 3.10). Filters is reused
// across decodes; the filters alias the input.
type Unsubscribe struct {
	PacketID uint16
	Props    Properties // 5.0: User Property
	Filters  [][]byte
}

// Decode decodes an UNSUBSCRIBE body; each filter is validated as in
// SUBSCRIBE.
func (u *Unsubscribe) Decode(v Version, flags byte, body []byte) error {
	r := reader{b: body, pkt: UNSUBSCRIBE, v: v}
	u.PacketID = r.head(flags, &u.Props)
	u.Filters = reuse(u.Filters)
	for r.err == nil && len(r.b) > 0 {
		f, _ := r.filter()
		u.Filters = append(u.Filters, f)
	}
	return r.result()
}

// AppendUnsubscribe appends u as an UNSUBSCRIBE of version v.
func AppendUnsubscribe(dst []byte, v Version, u *Unsubscribe) []byte {
	n := 0
	for _, f := range u.Filters {
		n += 2 + len(f)
	}
	dst = appendIDProps(dst, v, UNSUBSCRIBE, u.PacketID, &u.Props, n)
	for _, f := range u.Filters {
		dst = appendBin(dst, f)
	}
	return dst
}

// Suback is a SUBACK or an UNSUBACK (spec 3.9, 3.11): a packet id, 5.0
// properties and one code per filter. Codes aliases the input. A 3.x
// UNSUBACK has no codes.
type Suback struct {
	Type     Type // SUBACK or UNSUBACK
	PacketID uint16
	Props    Properties
	Codes    []byte // 5.0 reason codes; 3.x SUBACK: 0, 1, 2 or 0x80
}

// Decode decodes a SUBACK or UNSUBACK body (type t).
func (s *Suback) Decode(v Version, t Type, flags byte, body []byte) error {
	r := reader{b: body, pkt: t, v: v}
	s.Type = t
	r.checkFlags(flags)
	s.PacketID = r.packetID()
	s.Props.Reset()
	if v == V5 {
		s.Props.decode(&r, t)
	}
	s.Codes = r.b
	r.b = nil
	if r.err != nil {
		return r.err
	}
	if len(s.Codes) == 0 && (t == SUBACK || v == V5) {
		r.fail("payload", "no return code", "", ReasonProtocolError)
	}
	if t == UNSUBACK && v != V5 && len(s.Codes) != 0 {
		r.fail("remaining length", "3.x UNSUBACK has a body after the packet id", "", ReasonMalformedPacket)
	}
	for _, c := range s.Codes {
		if (v == V5 && !ReasonCode(c).ValidFor(t)) || (v != V5 && c > 2 && c != SubackFailure) {
			r.fail("return code", "0x"+strconv.FormatUint(uint64(c), 16)+" not valid in "+t.String(), "", ReasonProtocolError)
			break
		}
	}
	return r.result()
}

// AppendSuback appends s as a packet of type s.Type and version v.
func AppendSuback(dst []byte, v Version, s *Suback) []byte {
	return append(appendIDProps(dst, v, s.Type, s.PacketID, &s.Props, len(s.Codes)), s.Codes...)
}

// appendIDProps appends the fixed header, packet id and 5.0 properties of
// a packet whose payload, payloadLen bytes, the caller appends next.
func appendIDProps(dst []byte, v Version, t Type, id uint16, p *Properties, payloadLen int) []byte {
	n, ps := 2+payloadLen, 0
	if v == V5 {
		ps = p.size()
		n += wireLen(ps)
	}
	dst = appendU16(appendHeader(dst, t, fixedFlags[t], n), id)
	if v == V5 {
		dst = p.appendTo(dst, ps)
	}
	return dst
}

// Disconnect is a DISCONNECT packet (spec 3.14). Below 5.0 it has no body.
type Disconnect struct {
	Reason ReasonCode
	Props  Properties
}

// Decode decodes a DISCONNECT body: flags 0 [MQTT-3.14.1-1]; in 5.0 an
// optional reason code valid for DISCONNECT and properties.
func (d *Disconnect) Decode(v Version, flags byte, body []byte) error {
	r := reader{b: body, pkt: DISCONNECT, v: v}
	r.checkFlags(flags)
	d.Props.Reset()
	d.Reason = ReasonSuccess
	if v == V5 {
		d.Reason = r.reasonProps(&d.Props)
	}
	r.end()
	return r.result()
}

// AppendDisconnect appends d as a DISCONNECT of version v (3.x: 0xE0 0x00).
// In 5.0 the reason code is always written, although the spec lets a
// Success without properties have remaining length 0 (3.14.2.1):
// paho.golang v0.23 clients fail to read that form (see TestInterop).
func AppendDisconnect(dst []byte, v Version, d *Disconnect) []byte {
	if v != V5 {
		return append(dst, byte(DISCONNECT)<<4, 0)
	}
	return appendReasonPacket(dst, DISCONNECT, false, true, 0, d.Reason, &d.Props)
}

// Auth is a 5.0 AUTH packet (spec 3.15).
type Auth struct {
	Reason ReasonCode // Success, Continue authentication or Re-authenticate
	Props  Properties
}

// Decode decodes an AUTH body: 5.0 only (type 15 is reserved in 3.x),
// flags 0 [MQTT-3.15.1-1], optional reason code and properties.
func (a *Auth) Decode(v Version, flags byte, body []byte) error {
	r := reader{b: body, pkt: AUTH, v: v}
	if v != V5 {
		r.fail("packet type", "AUTH below 5.0", "", ReasonMalformedPacket)
	}
	r.checkFlags(flags)
	a.Props.Reset()
	a.Reason = r.reasonProps(&a.Props)
	r.end()
	return r.result()
}

// AppendAuth appends a as an AUTH (5.0 only).
func AppendAuth(dst []byte, a *Auth) []byte {
	return appendReasonPacket(dst, AUTH, false, false, 0, a.Reason, &a.Props)
}
