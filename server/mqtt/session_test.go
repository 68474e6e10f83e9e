package mqtt

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"robustmq/codec/mqtt"
	"robustmq/server/message"
)

// TestSessionScenarios runs testdata/sessions.txt: session and delivery
// scenarios on hand-driven connections (fakeConn), printing every packet
// each connection received after each command. Rewrite with -rewrite.
//
// Commands (c= names a connection):
//
//	connect c= [v=3|4|5] [id=] [clean] [expiry=] [recvmax=] [will=topic:payload [wqos=] [wretain]]
//	sub c= f= [qos=] [nl] [rap] [rh=] [pid=]
//	unsub c= f= [pid=]
//	pub c= t= [m=] [qos=] [retain] [pid=] [dup]
//	ack c= type=puback|pubrec|pubrel|pubcomp pid=
//	disconnect c= [reason=]
//	drop c=         (network loss: OnClose without DISCONNECT)
func TestSessionScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/sessions", func(t *testing.T, path string) {
		srv, err := New(Options{Hub: message.New(message.Options{}), TopicAliasMax: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		h := &harness{srv: srv, conns: map[string]*hconn{}}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string { return h.run(t, td) })
	})
}

type hconn struct {
	fc     *fakeConn
	v      mqtt.Version
	in     []byte // unconsumed input
	seen   int    // output bytes already printed
	closed bool
}

type harness struct {
	srv   *Server
	conns map[string]*hconn
}

func arg(td *datadriven.TestData, key, def string) string {
	for _, a := range td.CmdArgs {
		if a.Key == key {
			if len(a.Vals) == 0 {
				return "1"
			}
			return a.Vals[0]
		}
	}
	return def
}

func num(t *testing.T, td *datadriven.TestData, key string, def int) int {
	s := arg(td, key, "")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s: %s=%q is not a number", td.Pos, key, s)
	}
	return n
}

func (h *harness) run(t *testing.T, td *datadriven.TestData) string {
	name := arg(td, "c", "")
	hc := h.conns[name]
	if td.Cmd != "connect" && hc == nil {
		t.Fatalf("%s: no connection %q", td.Pos, name)
	}
	switch td.Cmd {
	case "connect":
		hc = &hconn{fc: &fakeConn{}, v: mqtt.Version(num(t, td, "v", 5))}
		h.conns[name] = hc
		if err := h.srv.OnOpen(hc.fc); err != nil {
			t.Fatal(err)
		}
		var cp mqtt.Connect
		cp.Version, cp.ClientID, cp.CleanStart = hc.v, []byte(arg(td, "id", name)), arg(td, "clean", "") != ""
		cp.KeepAlive = 60
		if hc.v == mqtt.V5 {
			if e := num(t, td, "expiry", -1); e >= 0 {
				cp.Props.SetUint(mqtt.PropSessionExpiry, uint32(e))
			}
			if rm := num(t, td, "recvmax", 0); rm > 0 {
				cp.Props.SetUint(mqtt.PropReceiveMaximum, uint32(rm))
			}
		}
		if w := arg(td, "will", ""); w != "" {
			tp, pl, _ := strings.Cut(w, ":")
			cp.Will, cp.WillTopic, cp.WillPayload = true, []byte(tp), []byte(pl)
			cp.WillQoS, cp.WillRetain = byte(num(t, td, "wqos", 0)), arg(td, "wretain", "") != ""
		}
		h.feed(hc, mqtt.AppendConnect(nil, &cp))
	case "sub":
		s := mqtt.Subscription{Filter: []byte(arg(td, "f", "")), QoS: byte(num(t, td, "qos", 0)),
			NoLocal: arg(td, "nl", "") != "", RetainAsPublished: arg(td, "rap", "") != "", RetainHandling: byte(num(t, td, "rh", 0))}
		h.feed(hc, mqtt.AppendSubscribe(nil, hc.v, &mqtt.Subscribe{PacketID: uint16(num(t, td, "pid", 1)), Subs: []mqtt.Subscription{s}}))
	case "unsub":
		h.feed(hc, mqtt.AppendUnsubscribe(nil, hc.v, &mqtt.Unsubscribe{PacketID: uint16(num(t, td, "pid", 1)),
			Filters: [][]byte{[]byte(arg(td, "f", ""))}}))
	case "pub":
		p := mqtt.Publish{Topic: []byte(arg(td, "t", "")), Payload: []byte(arg(td, "m", "")), QoS: byte(num(t, td, "qos", 0)),
			Retain: arg(td, "retain", "") != "", Dup: arg(td, "dup", "") != ""}
		if p.QoS > 0 {
			p.PacketID = uint16(num(t, td, "pid", 1))
		}
		h.feed(hc, mqtt.AppendPublish(nil, hc.v, &p))
	case "ack":
		types := map[string]mqtt.Type{"puback": mqtt.PUBACK, "pubrec": mqtt.PUBREC, "pubrel": mqtt.PUBREL, "pubcomp": mqtt.PUBCOMP}
		h.feed(hc, mqtt.AppendAck(nil, hc.v, &mqtt.Ack{Type: types[arg(td, "type", "")], PacketID: uint16(num(t, td, "pid", 0))}))
	case "disconnect":
		h.feed(hc, mqtt.AppendDisconnect(nil, hc.v, &mqtt.Disconnect{Reason: mqtt.ReasonCode(num(t, td, "reason", 0))}))
	case "drop":
		_ = hc.fc.Close(io.EOF)
	default:
		t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
	}
	return h.settle(t)
}

// feed gives b to the server as one read of hc.
func (h *harness) feed(hc *hconn, b []byte) {
	if hc.closed {
		return
	}
	in := append(hc.in, b...)
	n, err := h.srv.OnData(hc.fc, in)
	hc.in = append([]byte(nil), in[n:]...)
	if err != nil {
		_ = hc.fc.Close(err)
	}
}

// settle runs queued Do functions and OnClose for closed connections until
// nothing moves, then prints what every connection received.
func (h *harness) settle(t *testing.T) string {
	names := make([]string, 0, len(h.conns))
	for n := range h.conns {
		names = append(names, n)
	}
	sort.Strings(names)
	for moved := true; moved; {
		moved = false
		for _, n := range names {
			hc := h.conns[n]
			hc.fc.mu.Lock()
			pending := len(hc.fc.tasks) > 0 && hc.fc.closed == nil
			isClosed := hc.fc.closed != nil
			hc.fc.mu.Unlock()
			if pending {
				hc.fc.run()
				moved = true
			}
			if isClosed && !hc.closed {
				hc.closed = true
				h.srv.OnClose(hc.fc, hc.fc.closed)
				moved = true
			}
		}
	}
	var b strings.Builder
	for _, n := range names {
		hc := h.conns[n]
		hc.fc.mu.Lock()
		out := hc.fc.out[hc.seen:]
		hc.seen = len(hc.fc.out)
		hc.fc.mu.Unlock()
		d := mqtt.Decoder{Role: mqtt.Client, Version: hc.v}
		for len(out) > 0 {
			typ, k, err := d.Decode(out)
			if err != nil {
				t.Fatalf("%s: server sent undecodable bytes % x: %v", n, out, err)
			}
			out = out[k:]
			fmt.Fprintf(&b, "%s: %s\n", n, describe(typ, &d))
		}
	}
	if b.Len() == 0 {
		return "ok\n"
	}
	return b.String()
}

func describe(typ mqtt.Type, d *mqtt.Decoder) string {
	switch typ {
	case mqtt.CONNACK:
		return fmt.Sprintf("CONNACK sp=%v code=%#x", d.Connack.SessionPresent, d.Connack.Code)
	case mqtt.PUBLISH:
		p := &d.Publish
		s := fmt.Sprintf("PUBLISH %s %q qos=%d", p.Topic, p.Payload, p.QoS)
		if p.QoS > 0 {
			s += fmt.Sprintf(" pid=%d", p.PacketID)
		}
		if p.Dup {
			s += " dup"
		}
		if p.Retain {
			s += " retain"
		}
		return s
	case mqtt.PUBACK, mqtt.PUBREC, mqtt.PUBREL, mqtt.PUBCOMP:
		return fmt.Sprintf("%v pid=%d reason=%#x", typ, d.Ack.PacketID, byte(d.Ack.Reason))
	case mqtt.SUBACK, mqtt.UNSUBACK:
		s := d.Suback
		if typ == mqtt.UNSUBACK {
			s = d.Unsuback
		}
		return fmt.Sprintf("%v pid=%d codes=% x", typ, s.PacketID, s.Codes)
	case mqtt.DISCONNECT:
		return fmt.Sprintf("DISCONNECT reason=%#x", byte(d.Disconnect.Reason))
	}
	return typ.String()
}
