package mqtt

import "strconv"

// Connect is a CONNECT packet (spec 3.1). After Decode every []byte
// aliases the input.
type Connect struct {
	Version     Version // from protocol name and level: V31, V311 or V5
	CleanStart  bool    // Clean Session in 3.1/3.1.1
	KeepAlive   uint16  // seconds
	Props       Properties
	ClientID    []byte // may be empty: see Decode
	Will        bool
	WillQoS     byte
	WillRetain  bool
	WillProps   Properties
	WillTopic   []byte
	WillPayload []byte
	HasUsername bool
	Username    []byte
	HasPassword bool
	Password    []byte
}

// rule picks the statement id of the running version: 5.0 and 3.1.1 number
// the same rule differently.
func rule(v Version, v5, v311 string) string {
	if v == V5 {
		return v5
	}
	return v311
}

var (
	nameMQTT   = "MQTT"
	nameMQIsdp = "MQIsdp"
)

// Decode decodes a CONNECT body and detects the version from protocol name
// and level: "MQIsdp" 3 is 3.1, "MQTT" 4 is 3.1.1, "MQTT" 5 is 5.0.
//
// Errors carry the CONNACK the server sends before closing:
//   - a known name with an unknown level: 5.0 reason 0x84 Unsupported
//     Protocol Version in 5.0 format when the level is >= 5, else 3.1.1
//     return code 0x01 [MQTT-3.1.2-2];
//   - another protocol name: close without CONNACK [MQTT-3.1.2-1];
//   - an empty client id: refused with return code 0x02 in 3.1 (which
//     requires 1..23 characters) and in 3.1.1 when Clean Session is 0
//     [MQTT-3.1.3-8]; accepted in 5.0, where the server assigns one or
//     refuses it with 0x85 [MQTT-3.1.3-6]. The 23-character limit is not
//     enforced (a server MAY allow more, [MQTT-3.1.3-5]);
//   - everything else: 5.0 CONNACK with 0x81/0x82/0x90, 3.x close.
func (c *Connect) Decode(flags byte, body []byte) error {
	r := reader{b: body, pkt: CONNECT}
	name := r.bin("protocol name")
	level := r.u8("protocol level")
	if r.err != nil {
		return r.err
	}
	switch {
	case string(name) == nameMQTT && (level == byte(V311) || level == byte(V5)),
		string(name) == nameMQIsdp && level == byte(V31):
	case string(name) == nameMQTT || string(name) == nameMQIsdp:
		v := V311
		if level >= byte(V5) {
			v = V5
		}
		return &Error{Packet: CONNECT, Field: "protocol level", Msg: "unsupported level " + strconv.Itoa(int(level)),
			Rule: "MQTT-3.1.2-2", Reason: ReasonUnsupportedProtocolVersion, V3Code: ConnackUnacceptableVersion,
			Version: v, connect: true}
	default:
		return &Error{Packet: CONNECT, Field: "protocol name", Msg: "not MQTT or MQIsdp", Rule: "MQTT-3.1.2-1",
			Reason: ReasonUnsupportedProtocolVersion, connect: true}
	}
	v := Version(level)
	c.Version, r.v = v, v
	r.checkFlags(flags) // after the level, so that a 5.0 client gets its CONNACK 0x81
	cf := r.u8("connect flags")
	c.CleanStart = cf&0x02 != 0
	c.Will = cf&0x04 != 0
	c.WillQoS = cf >> 3 & 3
	c.WillRetain = cf&0x20 != 0
	c.HasPassword = cf&0x40 != 0
	c.HasUsername = cf&0x80 != 0
	switch {
	case cf&0x01 != 0:
		r.fail("connect flags", "reserved bit is 1", "MQTT-3.1.2-3", ReasonMalformedPacket)
	case !c.Will && c.WillQoS != 0:
		r.fail("connect flags", "will QoS without will flag", rule(v, "MQTT-3.1.2-11", "MQTT-3.1.2-13"), ReasonMalformedPacket)
	case !c.Will && c.WillRetain:
		r.fail("connect flags", "will retain without will flag", rule(v, "MQTT-3.1.2-13", "MQTT-3.1.2-15"), ReasonMalformedPacket)
	case c.WillQoS == 3:
		r.fail("connect flags", "will QoS 3", rule(v, "MQTT-3.1.2-12", "MQTT-3.1.2-14"), ReasonMalformedPacket)
	case v != V5 && c.HasPassword && !c.HasUsername:
		r.fail("connect flags", "password without user name", "MQTT-3.1.2-22", ReasonMalformedPacket)
	}
	c.KeepAlive = r.u16("keep alive")
	c.Props.Reset()
	if v == V5 {
		c.Props.decode(&r, CONNECT)
	}
	c.ClientID = r.str("client identifier")
	if r.err == nil && len(c.ClientID) == 0 && (v == V31 || (v == V311 && !c.CleanStart)) {
		r.fail("client identifier", "empty", "MQTT-3.1.3-8", ReasonClientIdentifierNotValid)
		r.err.V3Code = ConnackIdentifierRejected
	}
	c.WillProps.Reset()
	c.WillTopic, c.WillPayload = nil, nil
	if c.Will {
		if v == V5 {
			c.WillProps.decode(&r, 0)
		}
		c.WillTopic = r.str("will topic")
		if err := ValidTopicName(c.WillTopic); err != nil && r.err == nil {
			r.fail("will topic", msg(err), ruleOf(err), ReasonTopicNameInvalid)
		}
		c.WillPayload = r.bin("will payload")
	}
	c.Username, c.Password = nil, nil
	if c.HasUsername {
		c.Username = r.str("user name")
	}
	if c.HasPassword {
		c.Password = r.bin("password")
	}
	r.end()
	return r.result()
}

// AppendConnect appends c as a CONNECT of c.Version (V31 writes "MQIsdp").
// REQUIRES: c is valid for its version (no properties below 5.0).
func AppendConnect(dst []byte, c *Connect) []byte {
	name := nameMQTT
	if c.Version == V31 {
		name = nameMQIsdp
	}
	n := 2 + len(name) + 1 + 1 + 2 + 2 + len(c.ClientID)
	if c.Version == V5 {
		n += wireLen(c.Props.size())
	}
	var cf byte
	if c.CleanStart {
		cf |= 0x02
	}
	if c.Will {
		cf |= 0x04 | c.WillQoS<<3
		if c.WillRetain {
			cf |= 0x20
		}
		n += 4 + len(c.WillTopic) + len(c.WillPayload)
		if c.Version == V5 {
			n += wireLen(c.WillProps.size())
		}
	}
	if c.HasPassword {
		cf |= 0x40
		n += 2 + len(c.Password)
	}
	if c.HasUsername {
		cf |= 0x80
		n += 2 + len(c.Username)
	}
	dst = appendHeader(dst, CONNECT, 0, n)
	dst = append(dst, 0, byte(len(name)))
	dst = append(dst, name...)
	dst = append(dst, byte(c.Version), cf)
	dst = appendU16(dst, c.KeepAlive)
	if c.Version == V5 {
		dst = c.Props.appendTo(dst, c.Props.size())
	}
	dst = appendBin(dst, c.ClientID)
	if c.Will {
		if c.Version == V5 {
			dst = c.WillProps.appendTo(dst, c.WillProps.size())
		}
		dst = appendBin(dst, c.WillTopic)
		dst = appendBin(dst, c.WillPayload)
	}
	if c.HasUsername {
		dst = appendBin(dst, c.Username)
	}
	if c.HasPassword {
		dst = appendBin(dst, c.Password)
	}
	return dst
}

// Connack is a CONNACK packet (spec 3.2).
type Connack struct {
	SessionPresent bool
	// Code is the 3.1/3.1.1 return code (Connack* constants) or the 5.0
	// reason code (Reason* constants).
	Code  byte
	Props Properties
}

// Decode decodes a CONNACK body.
func (c *Connack) Decode(v Version, flags byte, body []byte) error {
	r := reader{b: body, pkt: CONNACK, v: v}
	r.checkFlags(flags)
	af := r.u8("acknowledge flags")
	c.SessionPresent = af&1 != 0
	c.Code = r.u8("return code")
	c.Props.Reset()
	switch {
	case r.err != nil:
	case af&0xFE != 0:
		r.fail("acknowledge flags", "reserved bits set", rule(v, "MQTT-3.2.2-1", "MQTT-3.2.2-1"), ReasonMalformedPacket)
	case v == V5 && !ReasonCode(c.Code).ValidFor(CONNACK):
		r.fail("reason code", "0x"+strconv.FormatUint(uint64(c.Code), 16)+" not valid in CONNACK", "MQTT-3.2.2-8", ReasonProtocolError)
	case v != V5 && c.Code > ConnackNotAuthorized:
		r.fail("return code", strconv.Itoa(int(c.Code))+" is reserved", "", ReasonProtocolError)
	case c.SessionPresent && c.Code != 0:
		r.fail("acknowledge flags", "session present with an error code", rule(v, "MQTT-3.2.2-6", "MQTT-3.2.2-4"), ReasonProtocolError)
	}
	if v == V5 {
		c.Props.decode(&r, CONNACK)
	}
	r.end()
	return r.result()
}

// AppendConnack appends c as a CONNACK of version v.
func AppendConnack(dst []byte, v Version, c *Connack) []byte {
	n := 2
	if v == V5 {
		n += wireLen(c.Props.size())
	}
	dst = appendHeader(dst, CONNACK, 0, n)
	var af byte
	if c.SessionPresent && v != V31 { // 3.1 has no Session Present flag
		af = 1
	}
	dst = append(dst, af, c.Code)
	if v == V5 {
		dst = c.Props.appendTo(dst, c.Props.size())
	}
	return dst
}
