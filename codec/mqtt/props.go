package mqtt

import (
	"math/bits"
	"strconv"
)

// PropID is an MQTT 5.0 property identifier (spec 2.2.2.2).
type PropID byte

// Property identifiers, spec table 2-4. Frozen by the spec.
const (
	PropPayloadFormat        PropID = 0x01
	PropMessageExpiry        PropID = 0x02
	PropContentType          PropID = 0x03
	PropResponseTopic        PropID = 0x08
	PropCorrelationData      PropID = 0x09
	PropSubscriptionID       PropID = 0x0B
	PropSessionExpiry        PropID = 0x11
	PropAssignedClientID     PropID = 0x12
	PropServerKeepAlive      PropID = 0x13
	PropAuthMethod           PropID = 0x15
	PropAuthData             PropID = 0x16
	PropRequestProblemInfo   PropID = 0x17
	PropWillDelay            PropID = 0x18
	PropRequestResponseInfo  PropID = 0x19
	PropResponseInfo         PropID = 0x1A
	PropServerReference      PropID = 0x1C
	PropReasonString         PropID = 0x1F
	PropReceiveMaximum       PropID = 0x21
	PropTopicAliasMaximum    PropID = 0x22
	PropTopicAlias           PropID = 0x23
	PropMaximumQoS           PropID = 0x24
	PropRetainAvailable      PropID = 0x25
	PropUser                 PropID = 0x26
	PropMaximumPacketSize    PropID = 0x27
	PropWildcardSubAvailable PropID = 0x28
	PropSubIDAvailable       PropID = 0x29
	PropSharedSubAvailable   PropID = 0x2A

	maxPropID = 0x2A
)

type propType uint8

const (
	tByte  propType = iota + 1 // Byte
	tU16                       // Two Byte Integer
	tU32                       // Four Byte Integer
	tVBI                       // Variable Byte Integer
	tStr                       // UTF-8 Encoded String
	tTopic                     // UTF-8 Encoded String holding a Topic Name
	tBin                       // Binary Data
	tPair                      // UTF-8 String Pair
)

// propInfo describes one property. Numeric properties live in
// Properties.num[slot], byte-slice ones in Properties.bin[slot].
type propInfo struct {
	name    string
	typ     propType
	packets uint16 // packet mask where the property may appear (mWill: Will Properties)
	repeat  uint16 // packet mask where it may appear more than once
	slot    uint8
	// min and max bound numeric values; outside is a Protocol Error (e.g.
	// Receive Maximum 0, Topic Alias 0, a boolean byte of 2).
	min, max uint32
}

const (
	maxU16 = 0xFFFF
	maxU32 = 0xFFFFFFFF
	mAll   = mConnect | mConnack | mPublish | mAcks | mSubscribe | mSuback | mUnsubscribe | mUnsuback |
		mDisconnect | mAuth | mWill
)

// props is the one table of MQTT 5.0 properties (spec 2.2.2.2, table 2-4,
// and the property sections of chapter 3 for value ranges). Indexed by id;
// an entry without a name is an unknown identifier, which is malformed.
var props = [maxPropID + 1]propInfo{
	PropPayloadFormat:        {"Payload Format Indicator", tByte, mPublish | mWill, 0, 0, 0, 1},
	PropMessageExpiry:        {"Message Expiry Interval", tU32, mPublish | mWill, 0, 1, 0, maxU32},
	PropContentType:          {"Content Type", tStr, mPublish | mWill, 0, 0, 0, 0},
	PropResponseTopic:        {"Response Topic", tTopic, mPublish | mWill, 0, 1, 0, 0},
	PropCorrelationData:      {"Correlation Data", tBin, mPublish | mWill, 0, 2, 0, 0},
	PropSubscriptionID:       {"Subscription Identifier", tVBI, mPublish | mSubscribe, mPublish, 0, 1, MaxRemainingLength},
	PropSessionExpiry:        {"Session Expiry Interval", tU32, mConnect | mConnack | mDisconnect, 0, 2, 0, maxU32},
	PropAssignedClientID:     {"Assigned Client Identifier", tStr, mConnack, 0, 3, 0, 0},
	PropServerKeepAlive:      {"Server Keep Alive", tU16, mConnack, 0, 3, 0, maxU16},
	PropAuthMethod:           {"Authentication Method", tStr, mConnect | mConnack | mAuth, 0, 4, 0, 0},
	PropAuthData:             {"Authentication Data", tBin, mConnect | mConnack | mAuth, 0, 5, 0, 0},
	PropRequestProblemInfo:   {"Request Problem Information", tByte, mConnect, 0, 4, 0, 1},
	PropWillDelay:            {"Will Delay Interval", tU32, mWill, 0, 5, 0, maxU32},
	PropRequestResponseInfo:  {"Request Response Information", tByte, mConnect, 0, 6, 0, 1},
	PropResponseInfo:         {"Response Information", tStr, mConnack, 0, 6, 0, 0},
	PropServerReference:      {"Server Reference", tStr, mConnack | mDisconnect, 0, 7, 0, 0},
	PropReasonString:         {"Reason String", tStr, mConnack | mAcks | mSuback | mUnsuback | mDisconnect | mAuth, 0, 8, 0, 0},
	PropReceiveMaximum:       {"Receive Maximum", tU16, mConnect | mConnack, 0, 7, 1, maxU16},
	PropTopicAliasMaximum:    {"Topic Alias Maximum", tU16, mConnect | mConnack, 0, 8, 0, maxU16},
	PropTopicAlias:           {"Topic Alias", tU16, mPublish, 0, 9, 1, maxU16},
	PropMaximumQoS:           {"Maximum QoS", tByte, mConnack, 0, 10, 0, 1},
	PropRetainAvailable:      {"Retain Available", tByte, mConnack, 0, 11, 0, 1},
	PropUser:                 {"User Property", tPair, mAll, mAll, 0, 0, 0},
	PropMaximumPacketSize:    {"Maximum Packet Size", tU32, mConnect | mConnack, 0, 12, 1, maxU32},
	PropWildcardSubAvailable: {"Wildcard Subscription Available", tByte, mConnack, 0, 13, 0, 1},
	PropSubIDAvailable:       {"Subscription Identifier Available", tByte, mConnack, 0, 14, 0, 1},
	PropSharedSubAvailable:   {"Shared Subscription Available", tByte, mConnack, 0, 15, 0, 1},
}

const (
	numSlots = 16
	binSlots = 9
)

// Name is the spec's name of the property, or "" for an unknown id.
func (id PropID) Name() string {
	if id > maxPropID {
		return ""
	}
	return props[id].name
}

func (id PropID) numeric() bool {
	t := props[id].typ
	return t == tByte || t == tU16 || t == tU32
}

// UserProperty is one User Property name/value pair; both alias the input
// after a decode.
type UserProperty struct {
	Key, Value []byte
}

// Properties holds the properties of one 5.0 packet (or of a CONNECT's
// Will). After a decode every []byte aliases the input. Decoding resets it
// but keeps the capacity of User and SubIDs, so a reused Properties decodes
// without allocating.
//
// Single-valued properties are read with Uint/Bytes and written with
// SetUint/SetBytes; user properties and subscription identifiers are the
// User and SubIDs slices, in wire order.
type Properties struct {
	present uint64 // bit id: single-valued property id is set
	num     [numSlots]uint32
	bin     [binSlots][]byte
	User    []UserProperty
	SubIDs  []uint32 // Subscription Identifier(s): several in PUBLISH, at most one in SUBSCRIBE
}

// maxKept bounds the capacity a reused slice keeps between decodes. A
// 1 MiB packet can hold 200,000 user properties; a decoder that kept that
// slice would pin ~10 MB for the rest of its life, so a slice grown past
// maxKept is dropped at the next decode, as an oversize pooled buffer is.
const maxKept = 256

// reuse empties s for the next decode, dropping it when oversize.
func reuse[T any](s []T) []T {
	if cap(s) > maxKept {
		return nil
	}
	return s[:0]
}

// Reset forgets every property, keeping slice capacity up to maxKept.
func (p *Properties) Reset() {
	p.present = 0
	p.User = reuse(p.User)
	p.SubIDs = reuse(p.SubIDs)
}

// Has reports whether the single-valued property id is set.
func (p *Properties) Has(id PropID) bool { return p.present&(1<<id) != 0 }

// Empty reports whether no property at all is set.
func (p *Properties) Empty() bool { return p.present == 0 && len(p.User) == 0 && len(p.SubIDs) == 0 }

// Uint returns a Byte, Two or Four Byte Integer property and whether it is set.
func (p *Properties) Uint(id PropID) (uint32, bool) {
	if id > maxPropID || !p.Has(id) || !id.numeric() {
		return 0, false
	}
	return p.num[props[id].slot], true
}

// Bytes returns a string or binary property and whether it is set.
func (p *Properties) Bytes(id PropID) ([]byte, bool) {
	if id > maxPropID || !p.Has(id) || id.numeric() {
		return nil, false
	}
	return p.bin[props[id].slot], true
}

// SetUint sets a Byte, Two or Four Byte Integer property.
// REQUIRES: id is such a property and v fits its type and range.
func (p *Properties) SetUint(id PropID, v uint32) {
	if !id.numeric() {
		panic("mqtt: SetUint on non-numeric property " + strconv.Itoa(int(id)))
	}
	p.num[props[id].slot] = v
	p.present |= 1 << id
}

// SetBytes sets a string or binary property; b is referenced, not copied.
// REQUIRES: id is such a property; len(b) <= 65535; strings valid UTF-8.
func (p *Properties) SetBytes(id PropID, b []byte) {
	t := props[id].typ
	if t != tStr && t != tTopic && t != tBin {
		panic("mqtt: SetBytes on non-byte property " + strconv.Itoa(int(id)))
	}
	p.bin[props[id].slot] = b
	p.present |= 1 << id
}

// Del unsets a single-valued property.
func (p *Properties) Del(id PropID) { p.present &^= 1 << id }

// decode reads a Property Length and the properties after it (spec
// 2.2.2), for a packet of type pkt (0: Will Properties). Rules:
//   - an unknown id, or an id not valid for the packet, is a Malformed
//     Packet (2.2.2.2: "A Control Packet which contains an Identifier which
//     is not valid for its packet type ... is a Malformed Packet");
//   - a property given twice, other than User Property and PUBLISH's
//     Subscription Identifier, is a Protocol Error (each property's section:
//     "It is a Protocol Error to include ... more than once");
//   - a value outside its range is a Protocol Error (e.g. 3.1.2.11.3
//     Receive Maximum 0, 3.3.2.3.4 Topic Alias 0);
//   - Authentication Data without Authentication Method is a Protocol Error
//     (3.1.2.11.10).
func (p *Properties) decode(r *reader, pkt Type) {
	p.Reset()
	n := r.vbi("property length")
	if r.err != nil {
		return
	}
	if uint64(n) > uint64(len(r.b)) {
		r.short("properties")
		return
	}
	pr := reader{b: r.b[:n], pkt: r.pkt, v: r.v}
	r.b = r.b[n:]
	mask := uint16(1) << pkt
	for len(pr.b) > 0 {
		id := PropID(pr.vbi("property identifier"))
		if pr.err != nil {
			break
		}
		if id > maxPropID || props[id].name == "" {
			pr.fail("property 0x"+strconv.FormatUint(uint64(id), 16), "unknown property", "", ReasonMalformedPacket)
			break
		}
		info := &props[id]
		if info.packets&mask == 0 {
			pr.fail("property "+info.name, "not allowed in "+pkt.propContext(), "", ReasonMalformedPacket)
			break
		}
		if info.repeat&mask == 0 && (p.present&(1<<id) != 0 || (id == PropSubscriptionID && len(p.SubIDs) > 0)) {
			pr.fail("property "+info.name, "included more than once", "", ReasonProtocolError)
			break
		}
		field := info.name
		var v uint32
		switch info.typ {
		case tByte:
			v = uint32(pr.u8(field))
		case tU16:
			v = uint32(pr.u16(field))
		case tU32:
			v = pr.u32(field)
		case tVBI:
			v = pr.vbi(field)
		case tStr:
			p.bin[info.slot] = pr.str(field)
		case tTopic:
			s := pr.str(field)
			if pr.err == nil && ValidTopicName(s) != nil {
				// 3.3.2.3.5: the Response Topic is a Topic Name
				pr.fail(field, "not a valid topic name", "MQTT-3.3.2-14", ReasonProtocolError)
			}
			p.bin[info.slot] = s
		case tBin:
			p.bin[info.slot] = pr.bin(field)
		case tPair:
			k := pr.str("User Property name") // constants: a concatenation would allocate
			val := pr.str("User Property value")
			p.User = append(p.User, UserProperty{k, val})
		}
		if pr.err != nil {
			break
		}
		switch info.typ {
		case tByte, tU16, tU32, tVBI:
			if v < info.min || v > info.max {
				pr.fail(field, "value "+strconv.FormatUint(uint64(v), 10)+" out of range", "", ReasonProtocolError)
			} else if id == PropSubscriptionID {
				p.SubIDs = append(p.SubIDs, v)
				continue
			} else {
				p.num[info.slot] = v
			}
		case tPair:
			continue
		}
		p.present |= 1 << id
	}
	if pr.err == nil && p.Has(PropAuthData) && !p.Has(PropAuthMethod) {
		pr.fail("property Authentication Data", "without Authentication Method", "", ReasonProtocolError)
	}
	if pr.err != nil && r.err == nil {
		r.err = pr.err
		r.b = nil
	}
}

func (t Type) propContext() string {
	if t == 0 {
		return "Will Properties"
	}
	return t.String()
}

// size is the encoded size of the properties without the length prefix.
func (p *Properties) size() int {
	n := 0
	for m := p.present; m != 0; m &= m - 1 {
		switch info := &props[bits.TrailingZeros64(m)]; info.typ {
		case tByte:
			n += 2
		case tU16:
			n += 3
		case tU32:
			n += 5
		default: // tStr, tTopic, tBin
			n += 3 + len(p.bin[info.slot])
		}
	}
	for _, s := range p.SubIDs {
		n += 1 + vbiLen(s)
	}
	for _, u := range p.User {
		n += 5 + len(u.Key) + len(u.Value)
	}
	return n
}

// wireLen is the encoded size of properties of the given size with their
// Property Length prefix.
func wireLen(size int) int { return vbiLen(uint32(size)) + size }

// appendTo appends Property Length and the properties in id order, then
// subscription identifiers and user properties in slice order.
// REQUIRES: size == p.size() (callers computed it for the remaining length).
func (p *Properties) appendTo(dst []byte, size int) []byte {
	dst = appendVBI(dst, uint32(size))
	for m := p.present; m != 0; m &= m - 1 {
		id := bits.TrailingZeros64(m)
		dst = append(dst, byte(id))
		switch info := &props[id]; info.typ {
		case tByte:
			dst = append(dst, byte(p.num[info.slot]))
		case tU16:
			dst = appendU16(dst, uint16(p.num[info.slot]))
		case tU32:
			dst = appendU32(dst, p.num[info.slot])
		default: // tStr, tTopic, tBin
			dst = appendBin(dst, p.bin[info.slot])
		}
	}
	for _, s := range p.SubIDs {
		dst = appendVBI(append(dst, byte(PropSubscriptionID)), s)
	}
	for _, u := range p.User {
		dst = appendBin(appendBin(append(dst, byte(PropUser)), u.Key), u.Value)
	}
	return dst
}
