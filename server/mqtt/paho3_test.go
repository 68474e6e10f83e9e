package mqtt

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// client3 connects a paho.mqtt.golang (3.1.1) client to url.
func client3(t *testing.T, url, id string, tune func(*paho.ClientOptions)) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetAutoReconnect(false).
		SetConnectTimeout(5 * time.Second).SetProtocolVersion(4)
	if tune != nil {
		tune(o)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s to %s: %v", id, url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func wait3(t *testing.T, what string, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("%s: %v", what, tok.Error())
	}
}

// recv collects messages from a paho.mqtt.golang subscription.
type recv3 chan paho.Message

func (r recv3) handler(_ paho.Client, m paho.Message) { r <- m }

func (r recv3) expect(t *testing.T, topic, payload string, qos byte, retained bool) {
	t.Helper()
	select {
	case m := <-r:
		if m.Topic() != topic || string(m.Payload()) != payload || m.Qos() != qos || m.Retained() != retained {
			t.Fatalf("got %s %q qos %d retained %v; want %s %q qos %d retained %v",
				m.Topic(), m.Payload(), m.Qos(), m.Retained(), topic, payload, qos, retained)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no message on %s", topic)
	}
}

func (r recv3) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-r:
		t.Fatalf("unexpected message %s %q", m.Topic(), m.Payload())
	case <-time.After(d):
	}
}

// TestPaho3 runs paho.mqtt.golang over TCP: QoS 0, 1, 2 end to end with
// wildcards, QoS downgrade, retained set/replace/delete, persistent
// session with offline queue, will on unclean close.
func TestPaho3(t *testing.T) {
	ts := start(t, nil)
	url := "tcp://" + ts.addr
	sub := client3(t, url, "sub3", nil)
	pub := client3(t, url, "pub3", nil)
	got := make(recv3, 16)
	wait3(t, "subscribe", sub.Subscribe("a/#", 2, got.handler))
	for qos := byte(0); qos <= 2; qos++ {
		wait3(t, "publish", pub.Publish("a/b", qos, false, []byte{'m', '0' + qos}))
		got.expect(t, "a/b", string([]byte{'m', '0' + qos}), qos, false)
	}
	// MQTT 3.1 (MQIsdp) on the same listener.
	v31 := client3(t, url, "sub31", func(o *paho.ClientOptions) { o.SetProtocolVersion(3) })
	got31 := make(recv3, 2)
	wait3(t, "subscribe 3.1", v31.Subscribe("v31/+", 1, got31.handler))
	wait3(t, "publish to 3.1", pub.Publish("v31/x", 1, false, "old"))
	got31.expect(t, "v31/x", "old", 1, false)

	low := make(recv3, 4)
	wait3(t, "subscribe qos 0", sub.Subscribe("x/+", 0, low.handler))
	wait3(t, "publish", pub.Publish("x/y", 2, false, "down"))
	low.expect(t, "x/y", "down", 0, false)

	// Retained: set, replace, delivered on subscribe with the flag, delete.
	wait3(t, "retain", pub.Publish("r/1", 1, true, "old"))
	wait3(t, "retain", pub.Publish("r/1", 1, true, "new"))
	ret := make(recv3, 4)
	wait3(t, "subscribe r", sub.Subscribe("r/#", 1, ret.handler))
	ret.expect(t, "r/1", "new", 1, true)
	wait3(t, "delete retained", pub.Publish("r/1", 1, true, ""))
	ret.expect(t, "r/1", "", 1, false) // a live subscriber gets it without the flag
	ret2 := make(recv3, 4)
	wait3(t, "subscribe r again", pub.Subscribe("r/#", 1, ret2.handler))
	ret2.none(t, 200*time.Millisecond)

	// Persistent session: offline QoS 1 messages wait for the client.
	off := client3(t, url, "offline3", func(o *paho.ClientOptions) { o.SetCleanSession(false) })
	wait3(t, "subscribe", off.Subscribe("q/#", 1, nil))
	off.Disconnect(0)
	for i := 0; i < 3; i++ {
		wait3(t, "publish offline", pub.Publish("q/1", 1, false, []byte{'0' + byte(i)}))
	}
	back := make(recv3, 8)
	client3(t, url, "offline3", func(o *paho.ClientOptions) {
		o.SetCleanSession(false).SetDefaultPublishHandler(back.handler)
	})
	for i := 0; i < 3; i++ {
		back.expect(t, "q/1", string([]byte{'0' + byte(i)}), 1, false)
	}

	// Will: published when the connection drops without DISCONNECT.
	wills := make(recv3, 2)
	wait3(t, "subscribe will", sub.Subscribe("will/#", 1, wills.handler))
	w := client3(t, url, "will3", func(o *paho.ClientOptions) { o.SetWill("will/w", "gone", 1, false) })
	_ = w
	waitFor(t, "will3 session", func() bool { return ts.online("will3") })
	ts.kickClient(t, "will3")
	wills.expect(t, "will/w", "gone", 1, false)
	// ... and not on a normal DISCONNECT.
	w2 := client3(t, url, "will3b", func(o *paho.ClientOptions) { o.SetWill("will/w2", "gone", 1, false) })
	w2.Disconnect(10)
	wills.none(t, 200*time.Millisecond)
}

// kickClient closes the network connection of clientID from the server
// side without a DISCONNECT, as a dropped link would.
func (ts *testServer) kickClient(t *testing.T, clientID string) {
	t.Helper()
	s := ts.sessions.get(clientID)
	if s == nil {
		t.Fatalf("no session %q", clientID)
	}
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		t.Fatalf("session %q is offline", clientID)
	}
	_ = c.nc.Close(nil)
}
