package mqtt

import (
	"errors"
	"strconv"
)

// Type is an MQTT control packet type, the high nibble of the first byte.
type Type byte

// Control packet types (spec 2.1.2). Type 0 is reserved (malformed); AUTH
// exists only in 5.0.
const (
	CONNECT     Type = 1
	CONNACK     Type = 2
	PUBLISH     Type = 3
	PUBACK      Type = 4
	PUBREC      Type = 5
	PUBREL      Type = 6
	PUBCOMP     Type = 7
	SUBSCRIBE   Type = 8
	SUBACK      Type = 9
	UNSUBSCRIBE Type = 10
	UNSUBACK    Type = 11
	PINGREQ     Type = 12
	PINGRESP    Type = 13
	DISCONNECT  Type = 14
	AUTH        Type = 15
)

var typeNames = [16]string{"reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL",
	"PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

func (t Type) String() string {
	if t < 16 {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Version is the protocol level byte of CONNECT; 0 means not known yet.
type Version byte

const (
	V31  Version = 3 // MQTT 3.1, protocol name "MQIsdp"
	V311 Version = 4 // MQTT 3.1.1, protocol name "MQTT"
	V5   Version = 5 // MQTT 5.0, protocol name "MQTT"
)

func (v Version) String() string {
	switch v {
	case V31:
		return "3.1"
	case V311:
		return "3.1.1"
	case V5:
		return "5.0"
	}
	return "v" + strconv.Itoa(int(v))
}

// Sentinels. Every decode failure is an *Error that unwraps to exactly one
// of ErrMalformed, ErrProtocol or ErrTooLarge, so callers branch with
// errors.Is and count with a bounded label set.
var (
	// ErrIncomplete is returned by Decoder.Decode and ReadFrame when in holds
	// only part of a frame: nothing was consumed, call again with more bytes.
	ErrIncomplete = errors.New("mqtt: incomplete packet")
	// ErrMalformed: the bytes do not follow the wire format (spec 1.5, 2.1.3:
	// Malformed Packet, reason 0x81).
	ErrMalformed = errors.New("mqtt: malformed packet")
	// ErrProtocol: well-formed bytes that break a rule of the protocol
	// (Protocol Error 0x82 and the more specific codes 0x84, 0x8F, 0x90...).
	ErrProtocol = errors.New("mqtt: protocol error")
	// ErrTooLarge: the frame is over the receiver's Maximum Packet Size
	// (0x95 Packet too large).
	ErrTooLarge = errors.New("mqtt: packet too large")
)

// Error is a decode failure: the packet and field it was found in, the
// normative statement it breaks, and what the server must answer.
type Error struct {
	Packet Type   // packet being decoded; 0 when the fixed header itself is bad
	Field  string // "topic name", "remaining length", "property 0x23 Topic Alias"
	Msg    string // what is wrong
	Rule   string // spec statement id, e.g. "MQTT-3.3.2-2"; "" when none is numbered
	// Reason is the 5.0 reason code the server sends in CONNACK (while
	// decoding CONNECT) or DISCONNECT (later).
	Reason ReasonCode
	// V3Code is the 3.1/3.1.1 CONNACK return code the server sends before
	// closing, or 0 when it just closes (3.1.1 has no way to report errors
	// after CONNACK).
	V3Code byte
	// Version is the protocol version the answer is written in: the
	// connection's version, or for CONNECT the level it declared (an
	// unsupported level >= 5 is answered in 5.0 format, lower ones in 3.1.1
	// format). 0 when not known: just close.
	Version Version
	// connect: the error is in the connection's CONNECT, answered with a
	// CONNACK (not set for a second CONNECT).
	connect bool
}

func (e *Error) Error() string {
	s := "mqtt: "
	if e.Packet != 0 {
		s += e.Packet.String() + " "
	}
	s += e.Field + ": " + e.Msg
	if e.Rule != "" {
		s += " [" + e.Rule + "]"
	}
	if e.Version == V5 || e.Version == 0 {
		s += " (reason 0x" + strconv.FormatUint(uint64(e.Reason), 16) + " " + e.Reason.Name() + ")"
	} else if e.V3Code != 0 {
		s += " (CONNACK return code " + strconv.Itoa(int(e.V3Code)) + ")"
	}
	return s
}

// Unwrap gives the class sentinel: ErrTooLarge, ErrMalformed or ErrProtocol.
func (e *Error) Unwrap() error {
	switch e.Reason {
	case ReasonPacketTooLarge:
		return ErrTooLarge
	case ReasonMalformedPacket:
		return ErrMalformed
	}
	return ErrProtocol
}

// Action is what the server does with a decode error.
type Action uint8

const (
	// Close the network connection without a word (3.1.1 after CONNECT,
	// and whenever the version is unknown).
	Close Action = iota
	// SendConnack sends a refusing CONNACK (AppendReply), then closes.
	SendConnack
	// SendDisconnect sends a 5.0 DISCONNECT with Reason (AppendReply), then
	// closes [MQTT-4.13.1-1].
	SendDisconnect
)

// Action tells what the spec prescribes for this error (5.0 section 4.13,
// 3.1.1 section 4.8): a CONNACK with the code while the CONNECT is being
// decoded, a DISCONNECT with the reason code afterwards in 5.0, or closing.
func (e *Error) Action() Action {
	switch {
	case e.Version == 0:
		return Close
	case e.connect && (e.Version == V5 || e.V3Code != 0):
		return SendConnack
	case !e.connect && e.Version == V5:
		return SendDisconnect
	}
	return Close
}

// AppendReply appends the packet Action prescribes (nothing for Close).
func (e *Error) AppendReply(dst []byte) []byte {
	switch e.Action() {
	case SendConnack:
		code := e.V3Code
		if e.Version == V5 {
			code = byte(e.Reason)
		}
		return AppendConnack(dst, e.Version, &Connack{Code: code})
	case SendDisconnect:
		return AppendDisconnect(dst, V5, &Disconnect{Reason: e.Reason})
	}
	return dst
}
