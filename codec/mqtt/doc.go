// Package mqtt is the MQTT wire codec: versions 3.1 ("MQIsdp"), 3.1.1 and
// 5.0 on one listener, every control packet, decoded zero-copy and encoded
// by appending. It has no sessions and no I/O; server/mqtt builds the
// broker on it.
//
// # Contract
//
//   - Framing. ReadFrame (and Decoder.Decode on top of it) looks at the
//     start of the unconsumed input. A partial frame returns ErrIncomplete
//     and consumes nothing; the caller keeps the bytes and calls again after
//     the next read. The size check runs on the fixed header alone: a frame
//     announcing more than the Maximum Packet Size fails with ErrTooLarge
//     before a byte of its body is waited for, so a peer cannot make the
//     server buffer 256 MiB. Many frames in one read are decoded one by one
//     by the caller's loop (see Example).
//   - Lifetime. Decoded packets are views: topics, client ids, payloads,
//     string and binary properties are sub-slices of the input, valid
//     until the caller drops or reuses it (for netpoll: until OnData
//     returns). Data that must outlive the input is copied once, by name:
//     Publish.Clone, Connect.Clone, Subscribe.Clone, Unsubscribe.Clone,
//     Properties.Clone.
//   - Allocation. Packets decode into caller-owned structs (Decoder holds
//     one of each) whose slices (user properties, subscription ids,
//     subscriptions, filters) keep their capacity (up to maxKept = 256
//     entries: one huge packet does not pin memory for good), so
//     steady-state decoding allocates nothing; encoders append to the caller's buffer. Only a
//     decode failure allocates (its *Error), once per connection.
//   - Goroutines. Nothing here is shared: a Decoder and the structs in it
//     belong to one goroutine at a time. The tables are read-only.
//   - Memory per connection. A Decoder is about 4 KiB of scratch structs,
//     but its only state between packets is Version (and the fixed
//     MaxPacketSize and Role): decoded structs are dead once the input is.
//     So a server need not keep one per connection: it keeps one per event
//     loop (or handler goroutine), sets Version from the connection before
//     decoding its input and stores d.Version back after a CONNECT. The
//     per-connection cost is then one byte.
//   - Errors. Every decode failure is an *Error: the packet and field, the
//     normative statement broken ([MQTT-x.y.z-n], 5.0 numbering unless the
//     rule is 3.1.1's own), the 5.0 reason code (0x81 Malformed Packet,
//     0x82 Protocol Error, 0x84, 0x85, 0x8F, 0x90, 0x95), the 3.x CONNACK
//     return code when 3.x has one, and Action: CONNACK then close while
//     decoding CONNECT, DISCONNECT then close afterwards in 5.0, plain close
//     in 3.x (5.0 4.13, 3.1.1 4.8). errors.Is(err, ErrMalformed /
//     ErrProtocol / ErrTooLarge) classifies it.
//
// # Validation
//
// The decoder enforces every rule that needs only the packet: reserved
// flags and bits, QoS 3, zero packet ids, well-formed UTF-8 without U+0000
// (control characters and non-characters are accepted, see ValidUTF8),
// topic names without wildcards, topic filter and $share syntax, at least
// one filter per (UN)SUBSCRIBE, property ids valid for the packet, no
// duplicate single-valued property, property value ranges, reason codes
// valid for the packet, trailing bytes, first packet CONNECT and no second
// CONNECT (Decoder, Server role), packet direction, no Subscription
// Identifier from a client. Rules that need session state are the
// server's: packet id reuse, unknown topic aliases, Topic Alias Maximum,
// Receive Maximum, Session Expiry set at DISCONNECT after 0 at CONNECT,
// authentication exchanges, default values of absent properties, payloads
// flagged UTF-8 by Payload Format Indicator 1 (ValidUTF8 checks them; the
// spec lets a receiver answer 0x99), and the peer's Maximum Packet Size on
// output (an encoder appends; the server compares the length it added).
// The codec never truncates, drops or rewrites a field.
//
// # Wire format (frozen: fixed by the MQTT specifications)
//
// Integers are big-endian. A Variable Byte Integer (VBI) is 1 to 4 bytes,
// 7 bits each, least significant group first, bit 7 = "more follows"; it
// must use the fewest bytes [MQTT-1.5.5-1]. A string or binary field is a
// 2-byte length then that many bytes. Properties (5.0) are a VBI length
// then (VBI id, value) pairs; see the props table.
//
// Fixed header, every packet:
//
//	byte 0     7 6 5 4 | 3 2 1 0
//	           type    | flags       flags: PUBLISH DUP QoS QoS RETAIN;
//	                                 PUBREL SUBSCRIBE UNSUBSCRIBE 0010; others 0000
//	byte 1..4  remaining length (VBI, <= 268,435,455)
//	then       remaining length bytes: variable header, payload
//
// CONNECT (type 1):
//
//	0..5|7  protocol name: 00 04 'M' 'Q' 'T' 'T' | 00 06 'M' 'Q' 'I' 's' 'd' 'p'
//	+1      protocol level: 3 (3.1), 4 (3.1.1), 5 (5.0)
//	+1      connect flags: 7 user name, 6 password, 5 will retain,
//	        4-3 will QoS, 2 will, 1 clean start/session, 0 reserved (0)
//	+2      keep alive (seconds)
//	[5.0]   properties
//	payload client id (string); if will: [5.0 will properties], will topic
//	        (string), will payload (binary); if user name: string;
//	        if password: binary
//
// CONNACK (type 2):
//
//	+1      acknowledge flags: bit 0 session present, 7-1 reserved (0)
//	+1      3.x return code / 5.0 reason code
//	[5.0]   properties
//
// PUBLISH (type 3):
//
//	+2+n    topic name (string; 5.0: may be empty with a Topic Alias)
//	[QoS>0] +2 packet id
//	[5.0]   properties
//	payload application message: the rest of the frame, may be empty
//
// PUBACK (4), PUBREC (5), PUBREL (6, flags 0010), PUBCOMP (7):
//
//	+2      packet id
//	[5.0]   +1 reason code, then properties; both omitted when remaining
//	        length is 2 (Success), properties omitted when it is 3
//
// SUBSCRIBE (type 8, flags 0010):
//
//	+2      packet id
//	[5.0]   properties
//	payload one or more: topic filter (string), options byte
//	        options: 7-6 reserved (0), 5-4 retain handling (5.0), 3 retain
//	        as published (5.0), 2 no local (5.0), 1-0 maximum QoS
//	        (3.x: bits 7-2 reserved)
//
// SUBACK (type 9), UNSUBACK (type 11):
//
//	+2      packet id
//	[5.0]   properties
//	payload one code per filter (3.x UNSUBACK: none)
//
// UNSUBSCRIBE (type 10, flags 0010):
//
//	+2      packet id
//	[5.0]   properties
//	payload one or more topic filters (string)
//
// PINGREQ (12), PINGRESP (13): no body.
//
// DISCONNECT (type 14), AUTH (type 15, 5.0 only):
//
//	[5.0]   +1 reason code, then properties; remaining length 0 means
//	        Success, 1 means no properties
package mqtt
