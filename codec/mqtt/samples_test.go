package mqtt

import (
	"bytes"
	"fmt"
	"testing"
)

// Builders for hand-written frames.

// fr builds a frame: first byte b0, remaining length, then parts.
func fr(b0 byte, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	return append(appendHeader(nil, Type(b0>>4), b0&0x0f, len(body)), body...)
}

// s16 is a 2-byte length-prefixed string.
func s16(s string) []byte { return appendBin(nil, []byte(s)) }

func u16(v uint16) []byte { return appendU16(nil, v) }

func b(v ...byte) []byte { return v }

// pr builds a property block: VBI length then the given bytes.
func pr(parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	return append(appendVBI(nil, uint32(len(body))), body...)
}

// stream is a valid packet sequence as one side receives it: the decoder
// setup and the packets in order.
type stream struct {
	name    string
	role    Role
	version Version // preset Version (Client role); Server streams start with CONNECT
	packets [][]byte
}

func ps(p *Properties, f func(p *Properties)) Properties { f(p); return *p }

func user(k, v string) UserProperty { return UserProperty{[]byte(k), []byte(v)} }

// streams returns valid traffic for every version and role, covering
// every packet type and every property. Each packet is built by the
// encoders; the tests check decoding gives back the same bytes.
func streams() []stream {
	bs := func(s string) []byte { return []byte(s) }
	var out []stream
	for _, v := range []Version{V31, V311, V5} {
		c := &Connect{Version: v, CleanStart: true, KeepAlive: 60, ClientID: bs("client-1"),
			Will: true, WillQoS: 1, WillRetain: true, WillTopic: bs("will/t"), WillPayload: bs("bye"),
			HasUsername: true, Username: bs("user"), HasPassword: true, Password: b(0, 1, 2)}
		if v == V5 {
			c.Props = ps(&Properties{}, func(p *Properties) {
				p.SetUint(PropSessionExpiry, 3600)
				p.SetUint(PropReceiveMaximum, 100)
				p.SetUint(PropMaximumPacketSize, 1<<20)
				p.SetUint(PropTopicAliasMaximum, 10)
				p.SetUint(PropRequestResponseInfo, 1)
				p.SetUint(PropRequestProblemInfo, 0)
				p.SetBytes(PropAuthMethod, bs("SCRAM-SHA-1"))
				p.SetBytes(PropAuthData, b(9, 9))
				p.User = []UserProperty{user("k", "v"), user("k", "v2")}
			})
			c.WillProps = ps(&Properties{}, func(p *Properties) {
				p.SetUint(PropWillDelay, 5)
				p.SetUint(PropPayloadFormat, 1)
				p.SetUint(PropMessageExpiry, 30)
				p.SetBytes(PropContentType, bs("text/plain"))
				p.SetBytes(PropResponseTopic, bs("resp/t"))
				p.SetBytes(PropCorrelationData, b(1, 2, 3))
				p.User = []UserProperty{user("w", "x")}
			})
		}
		srv := [][]byte{AppendConnect(nil, c)}
		anon := &Connect{Version: v, ClientID: bs("c2")} // no will, no user name, Clean Session 0
		cli := [][]byte{AppendConnack(nil, v, &Connack{SessionPresent: v != V31})}
		pub := func(p *Publish) {
			srv = append(srv, AppendPublish(nil, v, p))
			cli = append(cli, AppendPublish(nil, v, p))
		}
		pub(&Publish{Topic: bs("a/b"), Payload: bs("hello")})
		pub(&Publish{Topic: bs("a/b"), QoS: 1, PacketID: 1, Retain: true, Payload: nil})
		pub(&Publish{Topic: bs("$SYS/x/ü"), QoS: 2, PacketID: 65535, Dup: true, Payload: bytes.Repeat(b('x'), 300)})
		for _, t := range []Type{PUBACK, PUBREC, PUBREL, PUBCOMP} {
			a := AppendAck(nil, v, &Ack{Type: t, PacketID: 7})
			srv, cli = append(srv, a), append(cli, a)
		}
		subs := []Subscription{{Filter: bs("a/+/c"), QoS: 1}, {Filter: bs("#"), QoS: 2}, {Filter: bs("+")}}
		srv = append(srv, AppendSubscribe(nil, v, &Subscribe{PacketID: 2, Subs: subs}))
		srv = append(srv, AppendUnsubscribe(nil, v, &Unsubscribe{PacketID: 3, Filters: [][]byte{bs("a/+/c"), bs("#")}}))
		srv = append(srv, AppendPingreq(nil))
		cli = append(cli, AppendSuback(nil, v, &Suback{Type: SUBACK, PacketID: 2, Codes: b(1, 2, 0x80)}))
		uc := b()
		if v == V5 {
			uc = b(0, 0x11)
		}
		cli = append(cli, AppendSuback(nil, v, &Suback{Type: UNSUBACK, PacketID: 3, Codes: uc}))
		cli = append(cli, AppendPingresp(nil))
		if v == V5 {
			srv, cli = append(srv, v5Server()...), append(cli, v5Client()...)
		}
		srv = append(srv, AppendDisconnect(nil, v, &Disconnect{}))
		cli = append(cli, AppendDisconnect(nil, v, &Disconnect{}))
		out = append(out,
			stream{name: "server-" + v.String(), role: Server, packets: srv},
			stream{name: "server-anon-" + v.String(), role: Server, packets: [][]byte{AppendConnect(nil, anon), AppendPingreq(nil)}},
			stream{name: "client-" + v.String(), role: Client, version: v, packets: cli})
	}
	// 5.0 specials: empty client id, password without user name, empty
	// topic with an alias.
	c := &Connect{Version: V5, CleanStart: false, HasPassword: true, Password: b(1)}
	out = append(out, stream{name: "server-5.0-empty-id", role: Server, packets: [][]byte{AppendConnect(nil, c),
		AppendPublish(nil, V5, &Publish{Props: ps(&Properties{}, func(p *Properties) { p.SetUint(PropTopicAlias, 3) }),
			Payload: b(1)}),
	}})
	// 3.1.1 empty client id with Clean Session 1.
	out = append(out, stream{name: "server-3.1.1-empty-id", role: Server, packets: [][]byte{
		AppendConnect(nil, &Connect{Version: V311, CleanStart: true})}})
	return out
}

// v5Server is 5.0 client-to-server traffic with reason codes and every
// property a client sends.
func v5Server() [][]byte {
	bs := func(s string) []byte { return []byte(s) }
	rs := ps(&Properties{}, func(p *Properties) {
		p.SetBytes(PropReasonString, bs("because"))
		p.User = []UserProperty{user("a", "b")}
	})
	pubProps := ps(&Properties{}, func(p *Properties) {
		p.SetUint(PropPayloadFormat, 0)
		p.SetUint(PropMessageExpiry, 10)
		p.SetUint(PropTopicAlias, 1)
		p.SetBytes(PropContentType, bs("application/json"))
		p.SetBytes(PropResponseTopic, bs("reply/me"))
		p.SetBytes(PropCorrelationData, b(0xde, 0xad))
		p.User = []UserProperty{user("u1", "v1"), user("u2", "")}
	})
	return [][]byte{
		AppendPublish(nil, V5, &Publish{Topic: bs("t"), QoS: 1, PacketID: 9, Props: pubProps, Payload: bs("{}")}),
		AppendAck(nil, V5, &Ack{Type: PUBACK, PacketID: 9, Reason: ReasonNoMatchingSubscribers}),
		AppendAck(nil, V5, &Ack{Type: PUBREC, PacketID: 9, Reason: ReasonQuotaExceeded, Props: rs}),
		AppendAck(nil, V5, &Ack{Type: PUBREL, PacketID: 9, Reason: ReasonPacketIdentifierNotFound}),
		AppendAck(nil, V5, &Ack{Type: PUBCOMP, PacketID: 9, Props: rs}),
		AppendSubscribe(nil, V5, &Subscribe{PacketID: 4,
			Props: ps(&Properties{}, func(p *Properties) { p.SubIDs = []uint32{268435455}; p.User = rs.User }),
			Subs: []Subscription{
				{Filter: bs("$share/g1/a/#"), QoS: 2, RetainAsPublished: true, RetainHandling: 2},
				{Filter: bs("x/y"), QoS: 1, NoLocal: true, RetainHandling: 1},
			}}),
		AppendUnsubscribe(nil, V5, &Unsubscribe{PacketID: 5, Props: Properties{User: rs.User}, Filters: [][]byte{bs("$share/g1/a/#")}}),
		AppendAuth(nil, &Auth{Reason: ReasonContinueAuthentication, Props: ps(&Properties{}, func(p *Properties) {
			p.SetBytes(PropAuthMethod, bs("SCRAM-SHA-1"))
			p.SetBytes(PropAuthData, b(1, 2))
			p.SetBytes(PropReasonString, bs("step"))
		})}),
		AppendAuth(nil, &Auth{}),
		AppendDisconnect(nil, V5, &Disconnect{Reason: ReasonDisconnectWithWill, Props: ps(&Properties{}, func(p *Properties) {
			p.SetUint(PropSessionExpiry, 0)
			p.SetBytes(PropReasonString, bs("bye"))
		})}),
	}
}

// v5Client is 5.0 server-to-client traffic with every property a server
// sends.
func v5Client() [][]byte {
	bs := func(s string) []byte { return []byte(s) }
	ca := ps(&Properties{}, func(p *Properties) {
		p.SetUint(PropSessionExpiry, 60)
		p.SetBytes(PropAssignedClientID, bs("auto-1"))
		p.SetUint(PropServerKeepAlive, 30)
		p.SetBytes(PropAuthMethod, bs("m"))
		p.SetBytes(PropAuthData, b(7))
		p.SetBytes(PropResponseInfo, bs("resp/"))
		p.SetBytes(PropServerReference, bs("other:1883"))
		p.SetBytes(PropReasonString, bs("ok"))
		p.SetUint(PropReceiveMaximum, 65535)
		p.SetUint(PropTopicAliasMaximum, 0)
		p.SetUint(PropMaximumQoS, 1)
		p.SetUint(PropRetainAvailable, 0)
		p.SetUint(PropMaximumPacketSize, 268435460)
		p.SetUint(PropWildcardSubAvailable, 1)
		p.SetUint(PropSubIDAvailable, 1)
		p.SetUint(PropSharedSubAvailable, 0)
		p.User = []UserProperty{user("region", "eu")}
	})
	return [][]byte{
		AppendConnack(nil, V5, &Connack{Code: byte(ReasonNotAuthorized), Props: ca}),
		AppendPublish(nil, V5, &Publish{Topic: bs("t/u"), Props: ps(&Properties{}, func(p *Properties) {
			p.SubIDs = []uint32{1, 127, 128, 16384}
		}), Payload: bs("m")}),
		AppendSuback(nil, V5, &Suback{Type: SUBACK, PacketID: 4, Codes: b(2, 0x9E, 0xA1, 0xA2),
			Props: ps(&Properties{}, func(p *Properties) { p.SetBytes(PropReasonString, bs("r")) })}),
		AppendSuback(nil, V5, &Suback{Type: UNSUBACK, PacketID: 5, Codes: b(0x8F, 0x87)}),
		AppendDisconnect(nil, V5, &Disconnect{Reason: ReasonServerMoved, Props: ps(&Properties{}, func(p *Properties) {
			p.SetBytes(PropServerReference, bs("b:1883"))
		})}),
		AppendDisconnect(nil, V5, &Disconnect{Reason: ReasonServerShuttingDown}),
	}
}

// newDecoder returns a decoder set up for s.
func (s *stream) newDecoder() *Decoder {
	return &Decoder{Role: s.role, Version: s.version}
}

// reencode encodes the packet d just decoded as type t.
func reencode(dst []byte, d *Decoder, t Type) []byte {
	v := d.Version
	switch t {
	case CONNECT:
		return AppendConnect(dst, &d.Connect)
	case CONNACK:
		return AppendConnack(dst, v, &d.Connack)
	case PUBLISH:
		return AppendPublish(dst, v, &d.Publish)
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		return AppendAck(dst, v, &d.Ack)
	case SUBSCRIBE:
		return AppendSubscribe(dst, v, &d.Subscribe)
	case SUBACK:
		return AppendSuback(dst, v, &d.Suback)
	case UNSUBSCRIBE:
		return AppendUnsubscribe(dst, v, &d.Unsubscribe)
	case UNSUBACK:
		return AppendSuback(dst, v, &d.Unsuback)
	case PINGREQ:
		return AppendPingreq(dst)
	case PINGRESP:
		return AppendPingresp(dst)
	case DISCONNECT:
		return AppendDisconnect(dst, v, &d.Disconnect)
	case AUTH:
		return AppendAuth(dst, &d.Auth)
	}
	panic(fmt.Sprintf("reencode: type %v", t))
}

// props returns the properties of the packet d just decoded as type t.
func decodedProps(d *Decoder, t Type) []*Properties {
	switch t {
	case CONNECT:
		return []*Properties{&d.Connect.Props, &d.Connect.WillProps}
	case CONNACK:
		return []*Properties{&d.Connack.Props}
	case PUBLISH:
		return []*Properties{&d.Publish.Props}
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		return []*Properties{&d.Ack.Props}
	case SUBSCRIBE:
		return []*Properties{&d.Subscribe.Props}
	case SUBACK:
		return []*Properties{&d.Suback.Props}
	case UNSUBSCRIBE:
		return []*Properties{&d.Unsubscribe.Props}
	case UNSUBACK:
		return []*Properties{&d.Unsuback.Props}
	case DISCONNECT:
		return []*Properties{&d.Disconnect.Props}
	case AUTH:
		return []*Properties{&d.Auth.Props}
	}
	return nil
}

// TestRoundTrip decodes every sample packet and encodes it again: the
// bytes must be equal. It also checks every property id appeared.
func TestRoundTrip(t *testing.T) {
	seen := map[PropID]bool{}
	types := map[Type]bool{}
	for _, s := range streams() {
		d := s.newDecoder()
		for i, p := range s.packets {
			typ, n, err := d.Decode(p)
			if err != nil || n != len(p) {
				t.Fatalf("%s #%d % x: Decode = %v, %d, %v; want n=%d", s.name, i, p, typ, n, err, len(p))
			}
			types[typ] = true
			if got := reencode(nil, d, typ); !bytes.Equal(got, p) {
				t.Fatalf("%s #%d %v: re-encoded\n% x\nwant\n% x", s.name, i, typ, got, p)
			}
			for _, pp := range decodedProps(d, typ) {
				for id := PropID(1); id <= maxPropID; id++ {
					if pp.Has(id) {
						seen[id] = true
					}
				}
				if len(pp.User) > 0 {
					seen[PropUser] = true
				}
				if len(pp.SubIDs) > 0 {
					seen[PropSubscriptionID] = true
				}
			}
		}
	}
	for id := PropID(1); id <= maxPropID; id++ {
		if id.Name() != "" && !seen[id] {
			t.Errorf("property 0x%02x %s not covered by the samples", byte(id), id.Name())
		}
	}
	for typ := CONNECT; typ <= AUTH; typ++ {
		if !types[typ] {
			t.Errorf("packet type %v not covered by the samples", typ)
		}
	}
}
