package mqtt

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// decoders by name: s0 a fresh server, s3/s4/s5 a server after a 3.1,
// 3.1.1 or 5.0 CONNECT, c4/c5 a client.
func decoderFor(name string) *Decoder {
	switch name {
	case "s0":
		return &Decoder{}
	case "s3":
		return &Decoder{Version: V31}
	case "s4":
		return &Decoder{Version: V311}
	case "s5":
		return &Decoder{Version: V5}
	case "c4":
		return &Decoder{Role: Client, Version: V311}
	case "c5":
		return &Decoder{Role: Client, Version: V5}
	}
	panic(name)
}

// conn builds a CONNECT frame.
func conn(name string, level, flags byte, rest ...[]byte) []byte {
	return fr(0x10, append([][]byte{s16(name), b(level, flags), u16(60)}, rest...)...)
}

// TestGolden decodes byte-exact frames written from the spec's figures,
// checks fields, and encodes them back to the same bytes.
func TestGolden(t *testing.T) {
	f := func(dec string, in []byte, want Type, check func(d *Decoder) bool) {
		t.Helper()
		d := decoderFor(dec)
		typ, n, err := d.Decode(in)
		if err != nil || typ != want || n != len(in) {
			t.Fatalf("Decode(% x) = %v, %d, %v; want %v, %d, nil", in, typ, n, err, want, len(in))
		}
		if !check(d) {
			t.Fatalf("Decode(% x): fields wrong: %+v", in, d)
		}
		if got := reencode(nil, d, typ); !bytes.Equal(got, in) {
			t.Fatalf("encode = % x; want % x", got, in)
		}
	}
	f("s0", b(0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 4, 't', 'e', 's', 't'), CONNECT, func(d *Decoder) bool {
		c := &d.Connect
		return d.Version == V311 && c.CleanStart && c.KeepAlive == 60 && string(c.ClientID) == "test" && !c.Will
	})
	f("s0", b(0x10, 0x12, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x02, 0, 60, 0, 4, 't', 'e', 's', 't'), CONNECT, func(d *Decoder) bool {
		return d.Version == V31 && string(d.Connect.ClientID) == "test"
	})
	f("s0", b(0x10, 0x11, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 0, 0, 4, 't', 'e', 's', 't'), CONNECT, func(d *Decoder) bool {
		return d.Version == V5 && d.Connect.Props.Empty()
	})
	f("c4", b(0x20, 0x02, 0x01, 0x00), CONNACK, func(d *Decoder) bool { return d.Connack.SessionPresent && d.Connack.Code == 0 })
	f("c5", b(0x20, 0x03, 0x00, 0x86, 0x00), CONNACK, func(d *Decoder) bool { return d.Connack.Code == 0x86 })
	f("s4", b(0x32, 0x08, 0, 3, 'a', '/', 'b', 0, 10, 'x'), PUBLISH, func(d *Decoder) bool {
		p := &d.Publish
		return p.QoS == 1 && p.PacketID == 10 && string(p.Topic) == "a/b" && string(p.Payload) == "x" && !p.Retain && !p.Dup
	})
	f("s5", b(0x3d, 0x0e, 0, 3, 'a', '/', 'b', 0, 10, 5, 0x02, 0, 0, 0, 60, 'x'), PUBLISH, func(d *Decoder) bool {
		p := &d.Publish
		exp, ok := p.Props.Uint(PropMessageExpiry)
		return p.QoS == 2 && p.Dup && p.Retain && ok && exp == 60 && string(p.Payload) == "x"
	})
	f("s5", b(0x40, 0x02, 0, 1), PUBACK, func(d *Decoder) bool { return d.Ack.PacketID == 1 && d.Ack.Reason == 0 })
	f("s5", b(0x50, 0x03, 0, 1, 0x10), PUBREC, func(d *Decoder) bool { return d.Ack.Reason == ReasonNoMatchingSubscribers })
	f("s4", b(0x62, 0x02, 0, 5), PUBREL, func(d *Decoder) bool { return d.Ack.Type == PUBREL && d.Ack.PacketID == 5 })
	f("s4", b(0x82, 0x08, 0, 10, 0, 3, 'a', '/', 'b', 1), SUBSCRIBE, func(d *Decoder) bool {
		s := &d.Subscribe
		return s.PacketID == 10 && len(s.Subs) == 1 && string(s.Subs[0].Filter) == "a/b" && s.Subs[0].QoS == 1
	})
	f("s5", b(0x82, 0x09, 0, 10, 0, 0, 3, 'a', '/', 'b', 0x2e), SUBSCRIBE, func(d *Decoder) bool {
		o := d.Subscribe.Subs[0]
		return o.QoS == 2 && o.NoLocal && o.RetainAsPublished && o.RetainHandling == 2
	})
	f("c4", b(0x90, 0x04, 0, 10, 0x01, 0x80), SUBACK, func(d *Decoder) bool { return bytes.Equal(d.Suback.Codes, b(1, 0x80)) })
	f("c4", b(0xb0, 0x02, 0, 10), UNSUBACK, func(d *Decoder) bool { return d.Unsuback.PacketID == 10 })
	f("s4", b(0xa2, 0x05, 0, 10, 0, 1, '#'), UNSUBSCRIBE, func(d *Decoder) bool { return string(d.Unsubscribe.Filters[0]) == "#" })
	f("s4", b(0xc0, 0x00), PINGREQ, func(*Decoder) bool { return true })
	f("c4", b(0xd0, 0x00), PINGRESP, func(*Decoder) bool { return true })
	f("s4", b(0xe0, 0x00), DISCONNECT, func(d *Decoder) bool { return d.Disconnect.Reason == 0 })
	f("s5", b(0xe0, 0x01, 0x8e), DISCONNECT, func(d *Decoder) bool { return d.Disconnect.Reason == ReasonSessionTakenOver })
	f("s5", b(0xf0, 0x00), AUTH, func(d *Decoder) bool { return d.Auth.Reason == 0 })
	// 5.0 DISCONNECT with remaining length 0 is Normal disconnection
	// (3.14.2.1); the encoder writes the reason byte for paho.golang.
	d := decoderFor("s5")
	if typ, _, err := d.Decode(b(0xe0, 0x00)); err != nil || typ != DISCONNECT || d.Disconnect.Reason != 0 {
		t.Fatalf("Decode(e0 00) = %v, %v, reason %x", typ, err, d.Disconnect.Reason)
	}
	if got := AppendDisconnect(nil, V5, &Disconnect{}); !bytes.Equal(got, b(0xe0, 0x01, 0x00)) {
		t.Fatalf("AppendDisconnect(5.0, Success) = % x; want e0 01 00", got)
	}
}

// TestDecodeErrors feeds one malformed or rule-breaking packet per case
// and checks the reason code, the cited rule, the class sentinel and the
// prescribed action and reply.
func TestDecodeErrors(t *testing.T) {
	f := func(dec string, in []byte, reason ReasonCode, rule string, act Action) {
		t.Helper()
		d := decoderFor(dec)
		_, _, err := d.Decode(in)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s Decode(% x) = %v; want *Error", dec, in, err)
		}
		if e.Reason != reason || (rule != "" && e.Rule != rule) || e.Action() != act {
			t.Fatalf("%s Decode(% x) = %v (reason 0x%x rule %q action %d); want reason 0x%x rule %q action %d",
				dec, in, err, byte(e.Reason), e.Rule, e.Action(), byte(reason), rule, act)
		}
		class := ErrProtocol
		switch reason {
		case ReasonMalformedPacket:
			class = ErrMalformed
		case ReasonPacketTooLarge:
			class = ErrTooLarge
		}
		if !errors.Is(err, class) {
			t.Fatalf("Decode(% x) = %v; not %v", in, err, class)
		}
		if !strings.HasPrefix(err.Error(), "mqtt: ") {
			t.Fatalf("error %q lacks the package prefix", err)
		}
		reply := e.AppendReply(nil)
		var want []byte
		switch {
		case act == SendDisconnect:
			want = b(0xe0, 0x01, byte(reason))
		case act == SendConnack && e.Version == V5:
			want = b(0x20, 0x03, 0x00, byte(reason), 0x00)
		case act == SendConnack:
			want = b(0x20, 0x02, 0x00, e.V3Code)
		}
		if !bytes.Equal(reply, want) {
			t.Fatalf("Decode(% x): reply % x; want % x", in, reply, want)
		}
	}
	const (
		mal  = ReasonMalformedPacket
		prot = ReasonProtocolError
	)
	id := s16("id")
	// CONNECT
	f("s0", b(0x10, 0x01, 0x00), mal, "", Close)                                                   // truncated name, version unknown
	f("s0", conn("MQTX", 4, 2, id), ReasonUnsupportedProtocolVersion, "MQTT-3.1.2-1", Close)       // unknown protocol name
	f("s0", conn("MQTT", 3, 2, id), ReasonUnsupportedProtocolVersion, "MQTT-3.1.2-2", SendConnack) // 3.1.1 CONNACK 0x01
	f("s0", conn("MQTT", 6, 2, id), ReasonUnsupportedProtocolVersion, "MQTT-3.1.2-2", SendConnack) // 5.0 CONNACK 0x84
	f("s0", conn("MQIsdp", 4, 2, id), ReasonUnsupportedProtocolVersion, "MQTT-3.1.2-2", SendConnack)
	f("s0", append(b(0x11), conn("MQTT", 5, 2, b(0), id)[1:]...), mal, "MQTT-2.1.3-1", SendConnack) // fixed header flags
	f("s0", conn("MQTT", 4, 3, id), mal, "MQTT-3.1.2-3", Close)                                     // reserved connect flag
	f("s0", conn("MQTT", 5, 3, b(0), id), mal, "MQTT-3.1.2-3", SendConnack)
	f("s0", conn("MQTT", 5, 0x0a, b(0), id), mal, "MQTT-3.1.2-11", SendConnack) // will QoS without will
	f("s0", conn("MQTT", 4, 0x22, id), mal, "MQTT-3.1.2-15", Close)             // will retain without will
	f("s0", conn("MQTT", 4, 0x1e, id, s16("w"), s16("p")), mal, "MQTT-3.1.2-14", Close)
	f("s0", conn("MQTT", 5, 0x1e, b(0), id, b(0), s16("w"), s16("p")), mal, "MQTT-3.1.2-12", SendConnack)
	f("s0", conn("MQTT", 4, 0x42, id, s16("pw")), mal, "MQTT-3.1.2-22", Close) // password without user name
	f("s0", conn("MQTT", 4, 0, s16("")), ReasonClientIdentifierNotValid, "MQTT-3.1.3-8", SendConnack)
	f("s0", conn("MQIsdp", 3, 2, s16("")), ReasonClientIdentifierNotValid, "MQTT-3.1.3-8", SendConnack)
	f("s0", conn("MQTT", 5, 2, b(0), b(0, 2, 0xc3, 0x28)), mal, "MQTT-1.5.4-1", SendConnack)          // bad UTF-8 client id
	f("s0", conn("MQTT", 4, 2, b(0, 2, 'a', 0)), mal, "MQTT-1.5.4-1", Close)                          // U+0000
	f("s0", conn("MQTT", 5, 2, pr(b(0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2)), id), prot, "", SendConnack) // duplicate
	f("s0", conn("MQTT", 5, 2, pr(b(0x23, 0, 1)), id), mal, "", SendConnack)                          // Topic Alias in CONNECT
	f("s0", conn("MQTT", 5, 2, pr(b(0x7f, 0)), id), mal, "", SendConnack)                             // unknown property
	f("s0", conn("MQTT", 5, 2, pr(b(0x21, 0, 0)), id), prot, "", SendConnack)                         // Receive Maximum 0
	f("s0", conn("MQTT", 5, 2, pr(b(0x27, 0, 0, 0, 0)), id), prot, "", SendConnack)                   // Maximum Packet Size 0
	f("s0", conn("MQTT", 5, 2, pr(b(0x17, 2)), id), prot, "", SendConnack)                            // Request Problem Information 2
	f("s0", conn("MQTT", 5, 2, pr(b(0x19, 2)), id), prot, "", SendConnack)                            // Request Response Information 2
	f("s0", conn("MQTT", 5, 2, pr(b(0x16), s16("x")), id), prot, "", SendConnack)                     // auth data without method
	f("s0", conn("MQTT", 5, 2, pr(b(0x26), s16("k")), id), mal, "", SendConnack)                      // user property without value
	f("s0", conn("MQTT", 5, 0x06, b(0), id, b(0), s16("a/+"), s16("p")), ReasonTopicNameInvalid, "MQTT-3.3.2-2", SendConnack)
	f("s0", conn("MQTT", 5, 0x06, b(0), id, pr(b(0x11, 0, 0, 0, 1)), s16("w"), s16("p")), mal, "", SendConnack) // Session Expiry in Will
	f("s0", conn("MQTT", 5, 0x06, b(0), id, pr(b(0x18, 0, 0, 0, 1, 0x18, 0, 0, 0, 1)), s16("w"), s16("p")), prot, "", SendConnack)
	f("s0", conn("MQTT", 4, 2, id, b(0)), mal, "", Close)                            // trailing byte
	f("s0", conn("MQTT", 4, 0x82, id), mal, "", Close)                               // user name flag, no user name
	f("s0", conn("MQTT", 5, 2, b(5, 0x11), id), mal, "", SendConnack)                // property length past the end
	f("s0", conn("MQTT", 5, 2, b(0x80, 0x00), id), mal, "MQTT-1.5.5-1", SendConnack) // non-minimal VBI
	// sequence and direction
	f("s0", fr(0x30, s16("t")), prot, "MQTT-3.1.0-1", Close)
	f("s5", conn("MQTT", 5, 2, b(0), id), prot, "MQTT-3.1.0-2", SendDisconnect)
	f("s4", conn("MQTT", 4, 2, id), prot, "MQTT-3.1.0-2", Close)
	f("s5", fr(0x20, b(0, 0, 0)), prot, "", SendDisconnect) // CONNACK to a server
	f("c5", fr(0x82, u16(1), b(0), s16("a"), b(0)), prot, "", SendDisconnect)
	f("s5", fr(0x00), mal, "", SendDisconnect) // reserved type 0
	f("s4", fr(0xf0), mal, "", Close)          // AUTH in 3.1.1
	// PUBLISH
	f("s5", fr(0x36, s16("t"), u16(1), b(0)), mal, "MQTT-3.3.1-4", SendDisconnect) // QoS 3
	f("s5", fr(0x38, s16("t"), b(0)), mal, "MQTT-3.3.1-2", SendDisconnect)         // DUP at QoS 0
	f("s5", fr(0x32, s16("t"), u16(0), b(0)), prot, "MQTT-2.2.1-3", SendDisconnect)
	f("s4", fr(0x32, s16("t"), u16(0)), prot, "MQTT-2.2.1-3", Close)
	f("s5", fr(0x30, s16("a/+"), b(0)), ReasonTopicNameInvalid, "MQTT-3.3.2-2", SendDisconnect)
	f("s5", fr(0x30, s16("#"), b(0)), ReasonTopicNameInvalid, "MQTT-3.3.2-2", SendDisconnect)
	f("s4", fr(0x30, s16("a/#")), ReasonTopicNameInvalid, "MQTT-3.3.2-2", Close)
	f("s5", fr(0x30, b(0, 1, 0xff), b(0)), mal, "MQTT-1.5.4-1", SendDisconnect)
	f("s5", fr(0x30, s16(""), b(0)), prot, "MQTT-3.3.2-1", SendDisconnect) // empty topic, no alias
	f("s4", fr(0x30, s16("")), prot, "MQTT-4.7.3-1", Close)
	f("s5", fr(0x30, s16("t"), pr(b(0x23, 0, 0))), prot, "", SendDisconnect)                    // Topic Alias 0
	f("s5", fr(0x30, s16("t"), pr(b(0x01, 2))), prot, "", SendDisconnect)                       // Payload Format 2
	f("s5", fr(0x30, s16("t"), pr(b(0x0b, 1))), prot, "MQTT-3.3.4-6", SendDisconnect)           // Subscription Identifier from a client
	f("s5", fr(0x30, s16("t"), pr(b(0x08), s16("r/#"))), prot, "MQTT-3.3.2-14", SendDisconnect) // wildcard Response Topic
	f("s5", fr(0x30, s16("t"), pr(b(0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 1))), prot, "", SendDisconnect)
	f("s5", fr(0x30, s16("t"), pr(b(0x26), s16("k"), b(0, 1, 0xc0))), mal, "MQTT-1.5.4-1", SendDisconnect)
	f("s5", fr(0x30, s16("t"), b(0xff, 0xff, 0xff, 0xff, 0x01)), mal, "MQTT-1.5.5-1", SendDisconnect) // 5-byte property length
	f("s5", fr(0x30, b(0, 10, 'a')), mal, "", SendDisconnect)                                         // truncated topic
	f("c5", fr(0x30, s16("t"), pr(b(0x0b, 0))), prot, "", SendDisconnect)                             // Subscription Identifier 0
	f("s5", fr(0x30, s16("t"), pr(b(0x11, 0, 0, 0, 1))), mal, "", SendDisconnect)                     // Session Expiry in PUBLISH
	// PUBACK, PUBREC, PUBREL, PUBCOMP
	f("s5", fr(0x60, u16(1)), mal, "MQTT-2.1.3-1", SendDisconnect) // PUBREL flags 0000
	f("s4", fr(0x42, u16(1)), mal, "MQTT-2.1.3-1", Close)
	f("s5", fr(0x40, u16(0)), prot, "MQTT-2.2.1-3", SendDisconnect)
	f("s4", fr(0x40, u16(1), b(0)), mal, "", Close) // 3.1.1 PUBACK is exactly 2 bytes
	f("s5", fr(0x40, b(1)), mal, "", SendDisconnect)
	f("s5", fr(0x40, u16(1), b(0x92)), prot, "MQTT-3.4.2-1", SendDisconnect)
	f("s5", fr(0x50, u16(1), b(0x92)), prot, "MQTT-3.5.2-1", SendDisconnect)
	f("s5", fr(0x62, u16(1), b(0x10)), prot, "MQTT-3.6.2-1", SendDisconnect)
	f("s5", fr(0x70, u16(1), b(0x80)), prot, "MQTT-3.7.2-1", SendDisconnect)
	f("s5", fr(0x40, u16(1), b(0), pr(b(0x23, 0, 1))), mal, "", SendDisconnect)
	f("s5", fr(0x40, u16(1), b(0), pr(b(0x1f), s16("a"), b(0x1f), s16("b"))), prot, "", SendDisconnect)
	// SUBSCRIBE
	f("s5", fr(0x80, u16(1), b(0), s16("a"), b(0)), mal, "MQTT-2.1.3-1", SendDisconnect)
	f("s5", fr(0x82, u16(1), b(0)), prot, "MQTT-3.8.3-2", SendDisconnect)
	f("s4", fr(0x82, u16(1)), prot, "MQTT-3.8.3-3", Close)
	f("s5", fr(0x82, u16(0), b(0), s16("a"), b(0)), prot, "MQTT-2.2.1-3", SendDisconnect)
	f("s5", fr(0x82, u16(1), b(0), s16("a"), b(0x40)), mal, "MQTT-3.8.3-5", SendDisconnect)
	f("s4", fr(0x82, u16(1), s16("a"), b(0x04)), mal, "MQTT-3-8.3-4", Close)
	f("s3", fr(0x82, u16(1), s16("a"), b(0x03)), mal, "MQTT-3-8.3-4", Close)
	f("s5", fr(0x82, u16(1), b(0), s16("a"), b(0x03)), prot, "", SendDisconnect) // QoS 3
	f("s5", fr(0x82, u16(1), b(0), s16("a"), b(0x30)), prot, "", SendDisconnect) // Retain Handling 3
	f("s5", fr(0x82, u16(1), b(0), s16("$share/g/a"), b(0x04)), prot, "MQTT-3.8.3-4", SendDisconnect)
	f("s5", fr(0x82, u16(1), b(0), s16("a")), mal, "", SendDisconnect) // no options byte
	for bad, rule := range map[string]string{"a/#/b": "MQTT-4.7.1-1", "a#": "MQTT-4.7.1-1", "a+": "MQTT-4.7.1-2",
		"+a/b": "MQTT-4.7.1-2", "": "MQTT-4.7.3-1", "a/b+": "MQTT-4.7.1-2"} {
		f("s5", fr(0x82, u16(1), b(0), s16(bad), b(0)), ReasonTopicFilterInvalid, rule, SendDisconnect)
		f("s4", fr(0x82, u16(1), s16(bad), b(0)), ReasonTopicFilterInvalid, rule, Close)
	}
	for bad, rule := range map[string]string{"$share//a": "MQTT-4.8.2-1", "$share/g": "MQTT-4.8.2-2",
		"$share/g+/a": "MQTT-4.8.2-1", "$share/g#/a": "MQTT-4.8.2-1", "$share/g/": "MQTT-4.8.2-2"} {
		f("s5", fr(0x82, u16(1), b(0), s16(bad), b(0)), ReasonTopicFilterInvalid, rule, SendDisconnect)
	}
	f("s5", fr(0x82, u16(1), b(0), b(0, 2, 0xed, 0xa0), b(0)), mal, "MQTT-1.5.4-1", SendDisconnect)
	f("s5", fr(0x82, u16(1), pr(b(0x0b, 0)), s16("a"), b(0)), prot, "", SendDisconnect)          // Subscription Identifier 0
	f("s5", fr(0x82, u16(1), pr(b(0x0b, 1, 0x0b, 2)), s16("a"), b(0)), prot, "", SendDisconnect) // two
	f("s5", fr(0x82, u16(1), pr(b(0x0b, 0x80, 0x80, 0x80, 0x80, 0x01)), s16("a"), b(0)), mal, "MQTT-1.5.5-1", SendDisconnect)
	// UNSUBSCRIBE
	f("s5", fr(0xa0, u16(1), b(0), s16("a")), mal, "MQTT-2.1.3-1", SendDisconnect)
	f("s5", fr(0xa2, u16(1), b(0)), prot, "MQTT-3.10.3-2", SendDisconnect)
	f("s5", fr(0xa2, u16(1), b(0), s16("a/#/")), ReasonTopicFilterInvalid, "", SendDisconnect)
	f("s5", fr(0xa2, u16(1), b(0), s16("a"), b(0)), mal, "", SendDisconnect) // truncated second filter
	// PINGREQ, DISCONNECT, AUTH
	f("s5", fr(0xc0, b(0)), mal, "", SendDisconnect)
	f("s4", fr(0xc1), mal, "MQTT-2.1.3-1", Close)
	f("s5", fr(0xe1), mal, "MQTT-2.1.3-1", SendDisconnect)
	f("s4", fr(0xe0, b(0)), mal, "", Close)
	f("s5", fr(0xe0, b(0x84)), prot, "MQTT-3.14.2-1", SendDisconnect)
	f("s5", fr(0xe0, b(0), pr(b(0x21, 0, 1))), mal, "", SendDisconnect) // Receive Maximum in DISCONNECT
	f("s5", fr(0xf0, b(0x80)), prot, "MQTT-3.15.2-1", SendDisconnect)
	f("s5", fr(0xf1), mal, "MQTT-2.1.3-1", SendDisconnect)
	f("s5", fr(0xf0, b(0x18), pr(b(0x16), s16("d"))), prot, "", SendDisconnect) // data without method
	// CONNACK, SUBACK, UNSUBACK (client side)
	f("c4", fr(0x20, b(0, 6)), prot, "", Close)
	f("c4", fr(0x20, b(2, 0)), mal, "MQTT-3.2.2-1", Close)
	f("c4", fr(0x20, b(1, 5)), prot, "MQTT-3.2.2-4", Close)
	f("c5", fr(0x20, b(0, 0x10), b(0)), prot, "MQTT-3.2.2-8", SendDisconnect)
	f("c5", fr(0x20, b(0, 0), pr(b(0x24, 2))), prot, "", SendDisconnect) // Maximum QoS 2
	f("c4", fr(0x90, u16(1), b(3)), prot, "", Close)
	f("c4", fr(0x90, u16(1)), prot, "", Close)
	f("c5", fr(0x90, u16(1), b(0), b(0x11)), prot, "", SendDisconnect)
	f("c4", fr(0xb0, u16(1), b(0)), mal, "", Close)
	f("c5", fr(0xb0, u16(1), b(0)), prot, "", SendDisconnect)
	f("c5", fr(0xb0, u16(1), b(0), b(0x02)), prot, "", SendDisconnect)
	// frame
	f("s5", b(0x30, 0xff, 0xff, 0xff, 0xff, 0x01), mal, "MQTT-1.5.5-1", SendDisconnect)
	f("s5", b(0x30, 0x80, 0x00), mal, "MQTT-1.5.5-1", SendDisconnect)
}

// TestTooLarge checks a frame over MaxPacketSize is refused from its fixed
// header alone, before its body arrives, and a frame at the limit is not.
func TestTooLarge(t *testing.T) {
	d := &Decoder{Version: V5, MaxPacketSize: 1024}
	hdr := appendHeader(nil, PUBLISH, 0, 1022) // 1 + 2 + 1022 = 1025 bytes
	_, n, err := d.Decode(hdr)
	var e *Error
	if !errors.As(err, &e) || e.Reason != ReasonPacketTooLarge || n != 0 || e.Action() != SendDisconnect {
		t.Fatalf("Decode(% x) = %d, %v; want Packet too large", hdr, n, err)
	}
	if got := e.AppendReply(nil); !bytes.Equal(got, b(0xe0, 1, 0x95)) {
		t.Fatalf("reply % x; want e0 01 95", got)
	}
	// A liar announcing 256 MiB is refused on 5 bytes.
	if _, _, err := d.Decode(b(0x30, 0xff, 0xff, 0xff, 0x7f)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("256 MiB frame: %v; want ErrTooLarge", err)
	}
	hdr = appendHeader(nil, PUBLISH, 0, 1021) // exactly 1024
	if _, n, err := d.Decode(hdr); err != ErrIncomplete || n != 0 {
		t.Fatalf("frame at the limit: %d, %v; want ErrIncomplete", n, err)
	}
	// Before CONNECT the version is unknown: close.
	d = &Decoder{MaxPacketSize: 100}
	if _, _, err := d.Decode(appendHeader(nil, CONNECT, 0, 200)); !errors.As(err, &e) || e.Action() != Close {
		t.Fatalf("oversize first CONNECT: %v; want close", err)
	}
}

// TestRemainingLength checks the boundaries of the 1..4 byte remaining
// length: encoding size, ErrIncomplete until the body is there, the limit
// check against the total frame size.
func TestRemainingLength(t *testing.T) {
	f := func(rl uint32, width int) {
		t.Helper()
		hdr := appendHeader(nil, PUBLISH, 0, int(rl))
		if len(hdr) != 1+width || vbiLen(rl) != width {
			t.Fatalf("header for %d = % x; want %d length bytes", rl, hdr, width)
		}
		total := uint32(len(hdr)) + rl
		if _, n, err := ReadFrame(hdr, 0); err != ErrIncomplete && rl > 0 || n != 0 && rl > 0 {
			t.Fatalf("ReadFrame(header of %d) = %d, %v; want ErrIncomplete", rl, n, err)
		}
		if _, _, err := ReadFrame(hdr, total-1); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("ReadFrame(%d, max %d) = %v; want ErrTooLarge", rl, total-1, err)
		}
		if rl <= 16384 {
			in := append(hdr, make([]byte, rl+3)...) // plus the start of a next frame
			fr, n, err := ReadFrame(in, total)
			if err != nil || n != int(total) || len(fr.Body) != int(rl) || cap(fr.Body) != int(rl) {
				t.Fatalf("ReadFrame(%d) = %d, %v, body %d; want %d", rl, n, err, len(fr.Body), total)
			}
		}
		v, k := readVBI(hdr[1:])
		if v != rl || k != width {
			t.Fatalf("readVBI(% x) = %d, %d; want %d, %d", hdr[1:], v, k, rl, width)
		}
	}
	f(0, 1)
	f(127, 1)
	f(128, 2)
	f(16383, 2)
	f(16384, 3)
	f(2097151, 3)
	f(2097152, 4)
	f(MaxRemainingLength, 4)
	g := func(in []byte, wantErr error) {
		t.Helper()
		if _, n, err := ReadFrame(in, 0); !errors.Is(err, wantErr) || n != 0 {
			t.Fatalf("ReadFrame(% x) = %d, %v; want %v", in, n, err, wantErr)
		}
	}
	g(b(0x30, 0xff, 0xff, 0xff, 0xff, 0x7f), ErrMalformed) // fifth byte
	g(b(0x30, 0x80, 0x80, 0x00), ErrMalformed)             // non-minimal
	g(b(0x30), ErrIncomplete)
	g(b(0x30, 0xff, 0xff), ErrIncomplete)
	g(b(0x30, 0x05, 0, 3), ErrIncomplete)
}

// TestErrorReply checks the CONNACK and DISCONNECT bytes the server sends
// per error class and version.
func TestErrorReply(t *testing.T) {
	f := func(in []byte, want []byte) {
		t.Helper()
		_, _, err := (&Decoder{}).Decode(in)
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("Decode(% x) = %v; want *Error", in, err)
		}
		if got := e.AppendReply(b(0xaa)); !bytes.Equal(got, append(b(0xaa), want...)) {
			t.Fatalf("reply to % x = % x; want aa % x", in, got, want)
		}
	}
	f(conn("MQTT", 3, 2, s16("x")), b(0x20, 2, 0, 1))         // 3.1.1 unacceptable protocol version
	f(conn("MQIsdp", 5, 2, s16("x")), b(0x20, 3, 0, 0x84, 0)) // level >= 5: 5.0 format
	f(conn("MQTT", 4, 0, s16("")), b(0x20, 2, 0, 2))          // identifier rejected
	f(conn("MQTT", 5, 2, b(0x80)), b(0x20, 3, 0, 0x81, 0))    // 5.0 malformed
	f(conn("MQTT", 4, 1, s16("x")), b())                      // 3.1.1: close
	f(conn("XX", 4, 0, s16("x")), b())                        // not MQTT: close
}

// TestClone checks Clone shares nothing with the input or the decoder.
func TestClone(t *testing.T) {
	for _, s := range streams() {
		d := s.newDecoder()
		for _, p := range s.packets {
			in := append([]byte(nil), p...)
			typ, _, err := d.Decode(in)
			if err != nil {
				t.Fatal(err)
			}
			var enc func(v Version) []byte
			switch typ {
			case PUBLISH:
				c := d.Publish.Clone()
				enc = func(v Version) []byte { return AppendPublish(nil, v, &c) }
			case CONNECT:
				c := d.Connect.Clone()
				enc = func(Version) []byte { return AppendConnect(nil, &c) }
			case SUBSCRIBE:
				c := d.Subscribe.Clone()
				enc = func(v Version) []byte { return AppendSubscribe(nil, v, &c) }
			case UNSUBSCRIBE:
				c := d.Unsubscribe.Clone()
				enc = func(v Version) []byte { return AppendUnsubscribe(nil, v, &c) }
			case PUBACK, PUBREC, PUBREL, PUBCOMP:
				c := d.Ack
				c.Props = d.Ack.Props.Clone()
				enc = func(v Version) []byte { return AppendAck(nil, v, &c) }
			default:
				continue
			}
			for i := range in {
				in[i] = 0xAA
			}
			// Decode something else into the same decoder: the clone
			// must not see it through a shared slice.
			if _, _, err := d.Decode(s.packets[len(s.packets)-1]); err != nil && typ != CONNECT {
				t.Fatal(err)
			}
			if got := enc(d.Version); !bytes.Equal(got, p) {
				t.Fatalf("%s %v clone encodes to\n% x\nwant\n% x", s.name, typ, got, p)
			}
		}
	}
}

// TestPropertiesAPI checks the typed accessors against the table.
func TestPropertiesAPI(t *testing.T) {
	var p Properties
	p.SetUint(PropTopicAlias, 5)
	p.SetBytes(PropContentType, []byte("c"))
	if v, ok := p.Uint(PropTopicAlias); !ok || v != 5 {
		t.Fatalf("Uint(TopicAlias) = %d, %v", v, ok)
	}
	if _, ok := p.Uint(PropContentType); ok {
		t.Fatal("Uint of a string property reported set")
	}
	if v, ok := p.Bytes(PropContentType); !ok || string(v) != "c" {
		t.Fatalf("Bytes(ContentType) = %q, %v", v, ok)
	}
	if _, ok := p.Bytes(PropMessageExpiry); ok {
		t.Fatal("Bytes of an unset property reported set")
	}
	p.Del(PropTopicAlias)
	if p.Has(PropTopicAlias) || p.Empty() {
		t.Fatalf("after Del: Has = %v, Empty = %v", p.Has(PropTopicAlias), p.Empty())
	}
	p.Reset()
	if !p.Empty() {
		t.Fatal("Reset left properties")
	}
	// The table: every named id has a type and at least one packet.
	for id := PropID(1); id <= maxPropID; id++ {
		if info := props[id]; info.name != "" && (info.typ == 0 || info.packets == 0) {
			t.Errorf("property 0x%02x %s: incomplete table entry", byte(id), info.name)
		}
	}
	if PropID(0x04).Name() != "" || PropID(0x50).Name() != "" || PropUser.Name() != "User Property" {
		t.Fatal("Name of unknown ids")
	}
}

// TestReasonTable spot-checks the reason code table against spec 2.4.
func TestReasonTable(t *testing.T) {
	f := func(c ReasonCode, pkt Type, want bool) {
		t.Helper()
		if got := c.ValidFor(pkt); got != want {
			t.Fatalf("0x%02x %s ValidFor(%v) = %v; want %v", byte(c), c.Name(), pkt, got, want)
		}
	}
	f(ReasonSuccess, PUBACK, true)
	f(ReasonSuccess, AUTH, true)
	f(ReasonGrantedQoS2, SUBACK, true)
	f(ReasonGrantedQoS2, PUBACK, false)
	f(ReasonDisconnectWithWill, DISCONNECT, true)
	f(ReasonContinueAuthentication, AUTH, true)
	f(ReasonContinueAuthentication, CONNACK, false)
	f(ReasonMalformedPacket, DISCONNECT, true)
	f(ReasonUnsupportedProtocolVersion, DISCONNECT, false)
	f(ReasonPacketIdentifierNotFound, PUBREL, true)
	f(ReasonPacketIdentifierNotFound, PUBACK, false)
	f(ReasonTopicFilterInvalid, UNSUBACK, true)
	f(ReasonWildcardSubsNotSupported, SUBACK, true)
	f(0x03, SUBACK, false)
	f(ReasonSuccess, 16, false)
	if !ReasonQuotaExceeded.IsError() || ReasonNoMatchingSubscribers.IsError() {
		t.Fatal("IsError")
	}
}

// TestReuseBounded checks a decoder drops a reused slice that one huge
// packet grew past maxKept, and keeps a small one.
func TestReuseBounded(t *testing.T) {
	p := Publish{Topic: []byte("t")}
	for i := 0; i < maxKept+1; i++ {
		p.Props.User = append(p.Props.User, user("k", "v"))
	}
	big := AppendPublish(nil, V5, &p)
	small := AppendPublish(nil, V5, &Publish{Topic: []byte("t"), Props: Properties{User: []UserProperty{user("a", "b")}}})
	d := &Decoder{Version: V5}
	for _, in := range [][]byte{big, small} {
		if _, _, err := d.Decode(in); err != nil {
			t.Fatal(err)
		}
	}
	if c := cap(d.Publish.Props.User); c > maxKept {
		t.Fatalf("after a small packet the user property slice keeps cap %d; want <= %d", c, maxKept)
	}
	if len(d.Publish.Props.User) != 1 || string(d.Publish.Props.User[0].Key) != "a" {
		t.Fatalf("user properties = %q", d.Publish.Props.User)
	}
}
