package mqtt

import "strconv"

// Publish is a PUBLISH packet (spec 3.3). After Decode, Topic, Payload and
// the properties alias the input; Clone copies them.
type Publish struct {
	Dup      bool
	QoS      byte
	Retain   bool
	Topic    []byte // empty in 5.0 when a Topic Alias stands for it
	PacketID uint16 // 0 for QoS 0
	Props    Properties
	Payload  []byte
}

// Decode decodes a PUBLISH body. It checks the flags (QoS 3 is malformed
// [MQTT-3.3.1-4], DUP must be 0 at QoS 0 [MQTT-3.3.1-2]), a non-zero
// packet id at QoS > 0, the topic name (UTF-8 [MQTT-1.5.4-1], no wildcards
// [MQTT-3.3.2-2]: reason 0x90 Topic Name invalid; empty only in 5.0 with a
// Topic Alias, 3.3.2.1) and the 5.0 properties. Whether a Topic Alias is
// known or within Topic Alias Maximum is session state, left to the server.
func (p *Publish) Decode(v Version, flags byte, body []byte) error {
	r := reader{b: body, pkt: PUBLISH, v: v}
	p.Dup = flags&0x08 != 0
	p.QoS = flags >> 1 & 3
	p.Retain = flags&0x01 != 0
	switch {
	case p.QoS == 3:
		r.fail("fixed header flags", "QoS 3", "MQTT-3.3.1-4", ReasonMalformedPacket)
	case p.Dup && p.QoS == 0:
		r.fail("fixed header flags", "DUP set at QoS 0", "MQTT-3.3.1-2", ReasonMalformedPacket)
	}
	p.Topic = r.bin("topic name")
	p.PacketID = 0
	if p.QoS > 0 {
		p.PacketID = r.packetID()
	}
	p.Props.Reset()
	if v == V5 {
		p.Props.decode(&r, PUBLISH)
	}
	if r.err != nil {
		return r.err
	}
	if len(p.Topic) == 0 {
		if v != V5 || !p.Props.Has(PropTopicAlias) {
			r.fail("topic name", "empty without a Topic Alias", rule(v, "MQTT-3.3.2-1", "MQTT-4.7.3-1"), ReasonProtocolError)
		}
	} else if err := ValidTopicName(p.Topic); err == ErrTopicUTF8 {
		r.fail("topic name", msg(err), ruleOf(err), ReasonMalformedPacket)
	} else if err != nil {
		r.fail("topic name", msg(err), ruleOf(err), ReasonTopicNameInvalid)
	}
	p.Payload = r.b
	return r.result()
}

// AppendPublish appends p as a PUBLISH of version v.
// REQUIRES: p is valid (QoS <= 2, PacketID != 0 when QoS > 0, topic or
// alias set, no properties below 5.0).
func AppendPublish(dst []byte, v Version, p *Publish) []byte {
	n := 2 + len(p.Topic) + len(p.Payload)
	flags := p.QoS << 1
	if p.QoS > 0 {
		n += 2
	}
	if p.Dup {
		flags |= 0x08
	}
	if p.Retain {
		flags |= 0x01
	}
	ps := 0
	if v == V5 {
		ps = p.Props.size()
		n += wireLen(ps)
	}
	dst = appendHeader(dst, PUBLISH, flags, n)
	dst = appendBin(dst, p.Topic)
	if p.QoS > 0 {
		dst = appendU16(dst, p.PacketID)
	}
	if v == V5 {
		dst = p.Props.appendTo(dst, ps)
	}
	return append(dst, p.Payload...)
}

// Ack is a PUBACK, PUBREC, PUBREL or PUBCOMP (spec 3.4 to 3.7): a packet
// id and, in 5.0, a reason code and properties.
type Ack struct {
	Type     Type
	PacketID uint16
	Reason   ReasonCode // always ReasonSuccess below 5.0
	Props    Properties
}

// ackRules are the statements requiring a reason code of the packet's
// own list.
var ackRules = [16]string{PUBACK: "MQTT-3.4.2-1", PUBREC: "MQTT-3.5.2-1", PUBREL: "MQTT-3.6.2-1",
	PUBCOMP: "MQTT-3.7.2-1", DISCONNECT: "MQTT-3.14.2-1", AUTH: "MQTT-3.15.2-1"}

// Decode decodes an acknowledgement of type t. PUBREL's flags must be
// 0b0010 [MQTT-3.6.1-1], the others' 0. In 3.x the body is exactly the
// packet id. In 5.0 the reason code and the properties may be left out
// (remaining length 2 means Success and no properties, 3.4.2.1).
func (a *Ack) Decode(v Version, t Type, flags byte, body []byte) error {
	r := reader{b: body, pkt: t, v: v}
	a.Type = t
	r.checkFlags(flags)
	a.PacketID = r.packetID()
	a.Reason = ReasonSuccess
	a.Props.Reset()
	if v == V5 {
		a.Reason = r.reasonProps(&a.Props)
	}
	r.end()
	return r.result()
}

// reasonProps reads the optional "reason code, properties" tail of a 5.0
// PUBACK..PUBCOMP, DISCONNECT or AUTH: absent means Success without
// properties; a reason code alone means no properties.
func (r *reader) reasonProps(p *Properties) ReasonCode {
	if r.err != nil || len(r.b) == 0 {
		return ReasonSuccess
	}
	rc := ReasonCode(r.u8("reason code"))
	if !rc.ValidFor(r.pkt) {
		r.fail("reason code", "0x"+strconv.FormatUint(uint64(rc), 16)+" not valid in "+r.pkt.String(),
			ackRules[r.pkt], ReasonProtocolError)
		return rc
	}
	if len(r.b) > 0 {
		p.decode(r, r.pkt)
	}
	return rc
}

// AppendAck appends a as a packet of type a.Type and version v, in the
// shortest form: 3.x and Success without properties take remaining length
// 2 (4 bytes in all).
func AppendAck(dst []byte, v Version, a *Ack) []byte {
	if v != V5 {
		return appendU16(appendHeader(dst, a.Type, fixedFlags[a.Type], 2), a.PacketID)
	}
	return appendReasonPacket(dst, a.Type, true, false, a.PacketID, a.Reason, &a.Props)
}

// appendReasonPacket appends a 5.0 packet whose body is an optional packet
// id, then the optional reason code and properties, in the shortest form;
// keepReason writes the reason code even when it is Success.
func appendReasonPacket(dst []byte, t Type, withID, keepReason bool, id uint16, rc ReasonCode, p *Properties) []byte {
	n := 0
	if withID {
		n = 2
	}
	empty := p.Empty()
	ps := 0
	switch {
	case !empty:
		ps = p.size()
		n += 1 + wireLen(ps)
	case rc != ReasonSuccess || keepReason:
		n++
	}
	dst = appendHeader(dst, t, fixedFlags[t], n)
	if withID {
		dst = appendU16(dst, id)
	}
	if rc != ReasonSuccess || keepReason || !empty {
		dst = append(dst, byte(rc))
	}
	if !empty {
		dst = p.appendTo(dst, ps)
	}
	return dst
}
