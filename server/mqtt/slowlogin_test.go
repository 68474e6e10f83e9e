package mqtt

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"robustmq/codec/mqtt"
	"robustmq/server/message/auth"
)

// TestSlowLogin: a first login (PBKDF2) is checked off the event loop
// (the test holds the auth workers to see it queued): another client on
// the same loop is served meanwhile; the packets sent before the CONNACK
// are handled after it, in order; one sending more than maxHeld meanwhile
// is closed; a wrong password is refused; a client that leaves during
// the check gets no session and the server goes on.
func TestSlowLogin(t *testing.T) {
	// Users made by another store (another node): this one knows no password yet.
	be := auth.NewMemory()
	maker, err := auth.New(context.Background(), auth.Options{Backend: be, Iterations: 4096})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		if err := maker.SetUser(context.Background(), u, "pw", false); err != nil {
			t.Fatal(err)
		}
	}
	st, err := auth.New(context.Background(), auth.Options{Backend: be, AllowAnonymous: true, SlowChecksPerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ts := start(t, func(o *Options) { o.Access = st })
	other := dial(t, ts.addr, mqtt.V5)
	other.connect(&mqtt.Connect{ClientID: []byte("other"), CleanStart: true})

	connect := func(user, pass, id string) []byte {
		return mqtt.AppendConnect(nil, &mqtt.Connect{Version: mqtt.V5, ClientID: []byte(id), CleanStart: true,
			Username: []byte(user), HasUsername: true, Password: []byte(pass), HasPassword: true})
	}
	// The auth workers are busy until release: a check queued meanwhile
	// shows it left the loop, and waits.
	release := make(chan struct{})
	for range runtime.GOMAXPROCS(0) {
		if !ts.authWork.submit(func() { <-release }) {
			t.Fatal("auth workers refused a job")
		}
	}
	waitFor(t, "workers busy", func() bool { return len(ts.authWork.jobs) == 0 })
	// CONNECT, SUBSCRIBE and a QoS 1 PUBLISH to what it subscribes, in one write.
	r := dial(t, ts.addr, mqtt.V5)
	r.send(append(append(connect("u1", "pw", "slow"), subscribe(mqtt.V5, 1, "t/#", 1)...), publish(mqtt.V5, "t/x", 1, 2, "hi")...))
	waitFor(t, "the check queued off the loop", func() bool { return len(ts.authWork.jobs) == 1 })
	other.send(mqtt.AppendPingreq(nil)) // the loop serves others meanwhile
	other.expect(mqtt.PINGRESP, 0)
	// More than maxHeld sent during a check closes that connection.
	flood := dial(t, ts.addr, mqtt.V5)
	big := publish(mqtt.V5, "t/big", 0, 0, string(bytes.Repeat([]byte("x"), 60<<10)))
	flood.send(append(connect("u3", "pw", "flood"), bytes.Repeat(big, maxHeld/len(big)+1)...))
	flood.closed()
	if ts.sessions.get("slow") != nil {
		t.Fatal("a session before the check answered")
	}
	close(release)
	if typ := r.next(); typ != mqtt.CONNACK || r.d.Connack.Code != 0 {
		t.Fatalf("got %v code %#x; want CONNACK 0", typ, r.d.Connack.Code)
	}
	r.expect(mqtt.SUBACK, 1)
	// The PUBACK and the delivery of its own message, in either order.
	var acked, got bool
	for !acked || !got {
		switch typ := r.next(); typ {
		case mqtt.PUBACK:
			acked = r.d.Ack.PacketID == 2
		case mqtt.PUBLISH:
			got = string(r.d.Publish.Payload) == "hi"
			r.send(mqtt.AppendAck(nil, mqtt.V5, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: r.d.Publish.PacketID}))
		default:
			t.Fatalf("got %v; want PUBACK 2 and PUBLISH hi", typ)
		}
	}

	bad := dial(t, ts.addr, mqtt.V5)
	bad.send(connect("u2", "wrong", "bad"))
	if b := bad.closed(); len(b) < 4 || b[0] != 0x20 || b[3] != byte(mqtt.ReasonBadUserNameOrPassword) {
		t.Fatalf("wrong password got % x; want CONNACK 0x86", b)
	}

	gone := dial(t, ts.addr, mqtt.V5)
	gone.send(connect("u4", "pw", "gone"))
	_ = gone.nc.Close()

	later := dial(t, ts.addr, mqtt.V5) // the server goes on; u4's check left no session
	later.connect(&mqtt.Connect{ClientID: []byte("later"), CleanStart: true})
	waitFor(t, "u4's check done", func() bool { return !st.SlowLogin(&auth.Login{Username: "u4", HasUsername: true}) })
	if ts.sessions.get("gone") != nil {
		t.Fatal("a client that left during its check got a session")
	}
}

// TestHeldBound: input held during a check past maxHeld closes the
// connection; after the check, held input is handled and an incomplete
// packet waits for its rest.
func TestHeldBound(t *testing.T) {
	ts := start(t, nil)
	c := &conn{srv: ts.Server, slow: &slowLogin{checking: true}}
	if n, err := ts.onHeld(c, make([]byte, maxHeld/2)); n != maxHeld/2 || err != nil {
		t.Fatalf("onHeld(half) = %d, %v; want all held", n, err)
	}
	if _, err := ts.onHeld(c, make([]byte, maxHeld/2+1)); err != errHeld {
		t.Fatalf("onHeld past the bound: %v; want errHeld", err)
	}
	ping := mqtt.AppendPingreq(nil)
	c = &conn{srv: ts.Server, slow: &slowLogin{held: ping[:1]}, nc: &fakeConn{}}
	if n, err := ts.onHeld(c, nil); n != 0 || err != nil || c.slow == nil || !bytes.Equal(c.slow.held, ping[:1]) {
		t.Fatalf("an incomplete packet: %d, %v, held %+v; want it kept", n, err, c.slow)
	}
}
