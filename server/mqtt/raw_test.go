package mqtt

import (
	"bytes"
	"testing"
	"time"

	"robustmq/codec/mqtt"
)

// TestMalformed sends hand-written bad packets and checks the exact reply
// bytes before the close (5.0 4.13, 3.1.1 4.8).
func TestMalformed(t *testing.T) {
	ts := start(t, nil)
	connect5 := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 0, 0, 0}
	connect4 := []byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 0}
	connack5 := func(b []byte) bool { return len(b) > 4 && b[0] == 0x20 && b[3] == 0 }
	for _, c := range []struct {
		name    string
		connect []byte // sent first (and its CONNACK skipped) when not nil
		in      []byte
		want    []byte // the server's bytes after the CONNACK
	}{
		{"first packet not CONNECT", nil, []byte{0xC0, 0}, nil},
		{"unknown protocol name", nil, []byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'X', 4, 0x02, 0, 60, 0, 0}, nil},
		{"3.1.1 unsupported level 6 -> CONNACK 0x84 (5.0 form)", nil,
			[]byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 6, 0x02, 0, 60, 0, 0}, []byte{0x20, 3, 0, 0x84, 0}},
		{"level 2 -> 3.1.1 CONNACK 1", nil,
			[]byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 2, 0x02, 0, 60, 0, 0}, []byte{0x20, 2, 0, 1}},
		{"3.1.1 empty client id without clean session -> CONNACK 2", nil,
			[]byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x00, 0, 60, 0, 0}, []byte{0x20, 2, 0, 2}},
		{"reserved connect flag -> 5.0 CONNACK 0x81", nil,
			[]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x03, 0, 60, 0, 0, 0}, []byte{0x20, 3, 0, 0x81, 0}},
		{"5.0 auth method -> CONNACK 0x8C", nil,
			[]byte{0x10, 20, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 7, 0x15, 0, 4, 'S', 'C', 'R', 'M', 0, 0},
			connackReason(0x8C, `authentication method "SCRM" not supported`)},
		{"5.0 second CONNECT -> DISCONNECT 0x82", connect5, connect5, []byte{0xE0, 1, 0x82}},
		{"5.0 wildcard topic -> DISCONNECT 0x90", connect5,
			[]byte{0x30, 6, 0, 3, 'a', '/', '+', 0}, []byte{0xE0, 1, 0x90}},
		{"3.1.1 wildcard topic -> close", connect4, []byte{0x30, 5, 0, 3, 'a', '/', '+'}, nil},
		{"5.0 QoS 3 -> DISCONNECT 0x81", connect5, []byte{0x36, 6, 0, 1, 'a', 0, 1, 0}, []byte{0xE0, 1, 0x81}},
		{"5.0 topic alias over maximum -> DISCONNECT 0x94", connect5,
			[]byte{0x30, 7, 0, 1, 'a', 3, 0x23, 0, 11}, disconnectReason(0x94, "topic alias 11 over Topic Alias Maximum")},
		{"5.0 unknown topic alias -> DISCONNECT 0x82", connect5,
			[]byte{0x30, 6, 0, 0, 3, 0x23, 0, 5}, disconnectReason(0x82, "unknown topic alias 5")},
		{"5.0 payload format 1 with bad UTF-8 at QoS 0 -> DISCONNECT 0x99", connect5,
			[]byte{0x30, 7, 0, 1, 'a', 2, 0x01, 1, 0xff}, disconnectReason(0x99, "payload is not UTF-8")},
		{"5.0 AUTH without method -> DISCONNECT 0x82", connect5, []byte{0xF0, 0}, disconnectReason(0x82, "AUTH without an authentication exchange")},
		{"5.0 SUBSCRIBE without filter -> DISCONNECT 0x82", connect5, []byte{0x82, 3, 0, 1, 0}, []byte{0xE0, 1, 0x82}},
		{"5.0 session expiry at DISCONNECT after 0 -> DISCONNECT 0x82", connect5,
			[]byte{0xE0, 7, 0, 5, 0x11, 0, 0, 0, 10},
			disconnectReason(0x82, "session expiry set at DISCONNECT after 0 at CONNECT")},
		{"5.0 packet over maximum size -> DISCONNECT 0x95", connect5,
			append([]byte{0x30, 0xff, 0xff, 0xff, 0x7f}, 0), []byte{0xE0, 1, 0x95}},
		{"3.1.1 PUBREL with bad flags -> close", connect4, []byte{0x60, 2, 0, 1}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := dial(t, ts.addr, 0)
			if c.connect != nil {
				r.send(c.connect)
				r.d.Version = mqtt.Version(c.connect[8])
				if typ := r.next(); typ != mqtt.CONNACK {
					t.Fatalf("got %v; want CONNACK", typ)
				}
				r.in = nil
			}
			r.send(c.in)
			got := r.closed()
			if c.connect != nil && connack5(got) {
				t.Fatalf("unexpected second CONNACK % x", got)
			}
			if !bytes.Equal(got, c.want) {
				t.Fatalf("sent % x\ngot  % x\nwant % x", c.in, got, c.want)
			}
		})
	}
}

// disconnectReason is a 5.0 DISCONNECT with a Reason String, as the server
// sends for the violations only it can detect.
func disconnectReason(code mqtt.ReasonCode, reason string) []byte {
	var d mqtt.Disconnect
	d.Reason = code
	d.Props.SetBytes(mqtt.PropReasonString, []byte(reason))
	return mqtt.AppendDisconnect(nil, mqtt.V5, &d)
}

// connackReason is a refusing 5.0 CONNACK with a Reason String.
func connackReason(code mqtt.ReasonCode, reason string) []byte {
	var c mqtt.Connack
	c.Code = byte(code)
	c.Props.SetBytes(mqtt.PropReasonString, []byte(reason))
	return mqtt.AppendConnack(nil, mqtt.V5, &c)
}

// TestAckReplies: errors answered in an acknowledgement keep the
// connection: PUBREL for an unknown id gets PUBCOMP 0x92, a QoS 1 PUBLISH
// flagged UTF-8 with a bad payload gets PUBACK 0x99.
func TestAckReplies(t *testing.T) {
	ts := start(t, nil)
	for _, c := range []struct {
		name   string
		in     []byte
		want   mqtt.Type
		id     uint16
		reason mqtt.ReasonCode
	}{
		{"PUBREL unknown id", []byte{0x62, 2, 0, 9}, mqtt.PUBCOMP, 9, mqtt.ReasonPacketIdentifierNotFound},
		{"payload format invalid", []byte{0x32, 9, 0, 1, 'a', 0, 7, 2, 0x01, 1, 0xff}, mqtt.PUBACK, 7, mqtt.ReasonPayloadFormatInvalid},
	} {
		r := dial(t, ts.addr, mqtt.V5)
		r.connect(&mqtt.Connect{ClientID: []byte("acks"), CleanStart: true})
		r.send(c.in)
		if typ := r.next(); typ != c.want || r.d.Ack.PacketID != c.id || r.d.Ack.Reason != c.reason {
			t.Fatalf("%s: got %v id %d reason %#x; want %v %d %#x", c.name, typ, r.d.Ack.PacketID, r.d.Ack.Reason,
				c.want, c.id, c.reason)
		}
		r.send(mqtt.AppendPingreq(nil))
		if typ := r.next(); typ != mqtt.PINGRESP {
			t.Fatalf("%s: got %v; want PINGRESP (connection kept)", c.name, typ)
		}
	}
}

// TestKeepAlive: a client silent for 1.5 x keepalive gets DISCONNECT
// 0x8D (5.0) and is closed; a 3.1.1 client is just closed.
func TestKeepAlive(t *testing.T) {
	ts := start(t, nil)
	r := dial(t, ts.addr, mqtt.V5)
	r.connect(&mqtt.Connect{ClientID: []byte("ka5"), CleanStart: true, KeepAlive: 1})
	began := time.Now()
	if got, want := r.closed(), []byte{0xE0, 1, 0x8D}; !bytes.Equal(got, want) {
		t.Fatalf("got % x; want % x", got, want)
	}
	if el := time.Since(began); el < time.Second {
		t.Fatalf("closed after %v; keepalive 1s allows 1.5s", el)
	}
	r3 := dial(t, ts.addr, mqtt.V311)
	r3.connect(&mqtt.Connect{ClientID: []byte("ka3"), CleanStart: true, KeepAlive: 1})
	if got := r3.closed(); len(got) != 0 {
		t.Fatalf("3.1.1 got % x before close; want nothing", got)
	}
}

// TestConnectTimeout: a connection that sends nothing is closed.
func TestConnectTimeout(t *testing.T) {
	ts := start(t, func(o *Options) { o.ConnectTimeout = 300 * time.Millisecond })
	r := dial(t, ts.addr, 0)
	if got := r.closed(); len(got) != 0 {
		t.Fatalf("got % x; want a silent close", got)
	}
}

// TestServerClose: Close sends every 5.0 client DISCONNECT 0x8B Server
// shutting down and closes every connection.
func TestServerClose(t *testing.T) {
	ts := start(t, nil)
	r5 := dial(t, ts.addr, mqtt.V5)
	r5.connect(&mqtt.Connect{ClientID: []byte("sc5"), CleanStart: true})
	r3 := dial(t, ts.addr, mqtt.V311)
	r3.connect(&mqtt.Connect{ClientID: []byte("sc3"), CleanStart: true})
	ts.Close()
	if got, want := r5.closed(), []byte{0xE0, 1, 0x8B}; !bytes.Equal(got, want) {
		t.Fatalf("5.0 got % x; want % x", got, want)
	}
	if got := r3.closed(); len(got) != 0 {
		t.Fatalf("3.1.1 got % x; want a plain close", got)
	}
}
