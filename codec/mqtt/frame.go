package mqtt

import "strconv"

// Frame is one control packet as it sits in the input: the fixed header
// split into type and flags, and the body (variable header and payload),
// which aliases the input.
type Frame struct {
	Type  Type
	Flags byte // low nibble of the first byte
	Body  []byte
}

// ReadFrame cuts the first frame off in. It returns ErrIncomplete, with
// n == 0, while in holds only part of the frame; then the caller keeps in
// and calls again when more bytes came. The size check comes first: a frame
// whose fixed header announces more than maxPacketSize bytes in total
// (fixed header included, 5.0 spec 3.1.2.11.4) fails with ErrTooLarge as
// soon as its header is readable, so a peer cannot make the caller buffer
// it. maxPacketSize 0 means only the protocol limit (MaxRemainingLength).
// A remaining length needing a fifth byte, or not in its shortest form, is
// malformed [MQTT-1.5.5-1].
func ReadFrame(in []byte, maxPacketSize uint32) (f Frame, n int, err error) {
	if len(in) < 2 {
		return Frame{}, 0, ErrIncomplete
	}
	t := Type(in[0] >> 4)
	rl, k := readVBI(in[1:])
	switch {
	case k == 0:
		return Frame{}, 0, ErrIncomplete
	case k < 0:
		return Frame{}, 0, &Error{Packet: t, Field: "remaining length", Msg: "bad variable byte integer",
			Rule: "MQTT-1.5.5-1", Reason: ReasonMalformedPacket}
	}
	total := 1 + k + int(rl)
	if maxPacketSize != 0 && uint64(total) > uint64(maxPacketSize) {
		return Frame{}, 0, &Error{Packet: t, Field: "remaining length",
			Msg:    strconv.Itoa(total) + " bytes over the limit of " + strconv.FormatUint(uint64(maxPacketSize), 10),
			Reason: ReasonPacketTooLarge}
	}
	if len(in) < total {
		return Frame{}, 0, ErrIncomplete
	}
	return Frame{Type: t, Flags: in[0] & 0x0f, Body: in[1+k : total : total]}, total, nil
}

// Role says which side of the connection a Decoder is on, hence which
// packets it may receive.
type Role uint8

const (
	// Server decodes what clients send: CONNECT first [MQTT-3.1.0-1] and
	// only once [MQTT-3.1.0-2], never CONNACK, SUBACK, UNSUBACK, PINGRESP.
	Server Role = iota
	// Client decodes what servers send; Version must be set before use.
	Client
)

// receives[role] is the mask of packet types a role may receive.
var receives = [2]uint16{
	Server: mConnect | mPublish | mAcks | mSubscribe | mUnsubscribe | 1<<PINGREQ | mDisconnect | mAuth,
	Client: mConnack | mPublish | mAcks | mSuback | mUnsuback | 1<<PINGRESP | mDisconnect | mAuth,
}

// Decoder decodes the packets of one connection into its reusable packet
// structs: after Decode returns type t without error, the field of that
// type (Connect for CONNECT, Ack for PUBACK..PUBCOMP, nothing for PINGREQ
// and PINGRESP) holds the packet, as views into in valid until the caller
// drops in. A Decoder is used by one goroutine at a time; between packets
// its only state is Version, so one Decoder may serve every connection of
// an event loop (see "Memory per connection" in the package doc).
//
// The caller loop (see the package example) calls Decode until it returns
// ErrIncomplete, consuming n bytes per packet.
type Decoder struct {
	// Version is the connection's protocol version: set by a Server
	// decoder from the CONNECT; set by the caller for a Client.
	Version Version
	// MaxPacketSize bounds a whole packet in bytes; 0 means 268,435,460.
	MaxPacketSize uint32
	Role          Role

	Connect     Connect
	Connack     Connack
	Publish     Publish
	Ack         Ack
	Subscribe   Subscribe
	Suback      Suback // SUBACK
	Unsubscribe Unsubscribe
	Unsuback    Suback // UNSUBACK
	Disconnect  Disconnect
	Auth        Auth
}

// Decode decodes the first packet of in. n is how many bytes it took; on
// ErrIncomplete n is 0 and nothing was decoded. Any other error is an
// *Error: the connection is over, and Error.Action says how to end it.
func (d *Decoder) Decode(in []byte) (t Type, n int, err error) {
	f, n, err := ReadFrame(in, d.MaxPacketSize)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Version = d.Version
		}
		return 0, 0, err
	}
	t, v := f.Type, d.Version
	switch {
	case v == 0 && d.Role == Server && t != CONNECT:
		return t, n, &Error{Packet: t, Field: "packet type", Msg: "first packet is not CONNECT", Rule: "MQTT-3.1.0-1",
			Reason: ReasonProtocolError}
	case v == 0 && d.Role == Client:
		return t, n, &Error{Packet: t, Field: "decoder", Msg: "client decoder has no Version", Reason: ReasonProtocolError}
	case v != 0 && t == CONNECT && d.Role == Server:
		return t, n, &Error{Packet: t, Field: "packet type", Msg: "second CONNECT", Rule: "MQTT-3.1.0-2",
			Reason: ReasonProtocolError, Version: v}
	case t == 0 || (t == AUTH && v != V5):
		return t, n, &Error{Packet: t, Field: "packet type", Msg: "reserved packet type", Reason: ReasonMalformedPacket, Version: v}
	case receives[d.Role]&(1<<t) == 0:
		return t, n, &Error{Packet: t, Field: "packet type", Msg: "not sent in this direction", Reason: ReasonProtocolError, Version: v}
	}
	switch t {
	case CONNECT:
		if err = d.Connect.Decode(f.Flags, f.Body); err == nil {
			d.Version = d.Connect.Version
		}
	case CONNACK:
		err = d.Connack.Decode(v, f.Flags, f.Body)
	case PUBLISH:
		err = d.Publish.Decode(v, f.Flags, f.Body)
		if err == nil && d.Role == Server && len(d.Publish.Props.SubIDs) > 0 {
			err = &Error{Packet: t, Field: "property Subscription Identifier", Msg: "sent by a client",
				Rule: "MQTT-3.3.4-6", Reason: ReasonProtocolError, Version: v}
		}
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		err = d.Ack.Decode(v, t, f.Flags, f.Body)
	case SUBSCRIBE:
		err = d.Subscribe.Decode(v, f.Flags, f.Body)
	case SUBACK:
		err = d.Suback.Decode(v, t, f.Flags, f.Body)
	case UNSUBSCRIBE:
		err = d.Unsubscribe.Decode(v, f.Flags, f.Body)
	case UNSUBACK:
		err = d.Unsuback.Decode(v, t, f.Flags, f.Body)
	case PINGREQ, PINGRESP:
		err = decodePing(v, t, f.Flags, f.Body)
	case DISCONNECT:
		err = d.Disconnect.Decode(v, f.Flags, f.Body)
	case AUTH:
		err = d.Auth.Decode(v, f.Flags, f.Body)
	}
	return t, n, err
}

// fixedFlags is the required low nibble per type (spec 2.1.3 table 2-2);
// PUBLISH's flags are checked by its decoder.
var fixedFlags = [16]byte{PUBREL: 0b0010, SUBSCRIBE: 0b0010, UNSUBSCRIBE: 0b0010}

// checkFlags fails r when the fixed header flags are not the reserved value
// [MQTT-2.1.3-1]; invalid flags make a Malformed Packet (2.1.3).
func (r *reader) checkFlags(flags byte) {
	if flags != fixedFlags[r.pkt] {
		r.fail("fixed header flags", "reserved flags are 0b"+strconv.FormatUint(uint64(flags), 2), "MQTT-2.1.3-1",
			ReasonMalformedPacket)
	}
}

// end fails r when bytes are left after the last field.
func (r *reader) end() {
	if r.err == nil && len(r.b) != 0 {
		r.fail("remaining length", strconv.Itoa(len(r.b))+" bytes after the last field", "", ReasonMalformedPacket)
	}
}

// result returns r's failure as an error (nil when none: a nil *Error in
// an error interface would not be nil).
func (r *reader) result() error {
	if r.err != nil {
		return r.err
	}
	return nil
}

// packetID reads a Packet Identifier, which must be non-zero
// ([MQTT-2.2.1-3] in 5.0, [MQTT-2.3.1-1] in 3.1.1).
func (r *reader) packetID() uint16 {
	id := r.u16("packet identifier")
	if id == 0 && r.err == nil {
		r.fail("packet identifier", "is 0", "MQTT-2.2.1-3", ReasonProtocolError)
	}
	return id
}

// appendHeader appends a fixed header.
func appendHeader(dst []byte, t Type, flags byte, remaining int) []byte {
	return appendVBI(append(dst, byte(t)<<4|flags), uint32(remaining))
}

// decodePing decodes PINGREQ / PINGRESP: flags 0 and no body.
func decodePing(v Version, t Type, flags byte, body []byte) error {
	r := reader{b: body, pkt: t, v: v}
	r.checkFlags(flags)
	r.end()
	return r.result()
}

// AppendPingreq appends a PINGREQ (2 bytes: 0xC0 0x00).
func AppendPingreq(dst []byte) []byte { return append(dst, byte(PINGREQ)<<4, 0) }

// AppendPingresp appends a PINGRESP (2 bytes: 0xD0 0x00).
func AppendPingresp(dst []byte) []byte { return append(dst, byte(PINGRESP)<<4, 0) }
