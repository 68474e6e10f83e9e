package mqtt

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

type client5 struct {
	*paho.Client
	got  chan *paho.Publish
	disc chan *paho.Disconnect
	ack  *paho.Connack
}

// connect5 connects a paho.golang (5.0) client over TCP to addr.
func connect5(t *testing.T, addr string, cp *paho.Connect) *client5 {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return connect5Conn(t, nc, cp)
}

func connect5Conn(t *testing.T, nc net.Conn, cp *paho.Connect) *client5 {
	t.Helper()
	c := &client5{got: make(chan *paho.Publish, 64), disc: make(chan *paho.Disconnect, 1)}
	c.Client = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(p paho.PublishReceived) (bool, error) { c.got <- p.Packet; return true, nil },
		},
		OnServerDisconnect: func(d *paho.Disconnect) { c.disc <- d },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("connect %s: %v (%+v)", cp.ClientID, err, ack)
	}
	c.ack = ack
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c
}

func (c *client5) sub(t *testing.T, s *paho.Subscribe) *paho.Suback {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sa, err := c.Subscribe(ctx, s)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return sa
}

func (c *client5) pub(t *testing.T, p *paho.Publish) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Publish(ctx, p); err != nil {
		t.Fatalf("publish %s: %v", p.Topic, err)
	}
}

func (c *client5) next(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case p := <-c.got:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
	return nil
}

func (c *client5) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case p := <-c.got:
		t.Fatalf("unexpected message %s %q", p.Topic, p.Payload)
	case <-time.After(d):
	}
}

func u32(v uint32) *uint32 { return &v }

// TestPaho5 runs paho.golang over TCP: properties passed through,
// subscription identifiers, No Local, shared subscriptions, Retain As
// Published and Retain Handling, message expiry.
func TestPaho5(t *testing.T) {
	ts := start(t, nil)
	sub := connect5(t, ts.addr, &paho.Connect{ClientID: "sub5", CleanStart: true})
	pub := connect5(t, ts.addr, &paho.Connect{ClientID: "pub5", CleanStart: true})
	if ca := sub.ack.Properties; ca == nil || ca.ReceiveMaximum == nil || ca.MaximumPacketSize == nil {
		t.Fatalf("CONNACK properties %+v: want Receive Maximum and Maximum Packet Size", ca)
	}
	id := 7
	sa := sub.sub(t, &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: &id},
		Subscriptions: []paho.SubscribeOptions{{Topic: "p/#", QoS: 1}}})
	if sa.Reasons[0] != 1 {
		t.Fatalf("SUBACK %v; want granted QoS 1", sa.Reasons)
	}
	pf := byte(1)
	pub.pub(t, &paho.Publish{Topic: "p/1", QoS: 1, Payload: []byte("héllo"), Properties: &paho.PublishProperties{
		ContentType: "text/plain", ResponseTopic: "reply/1", CorrelationData: []byte{1, 2}, PayloadFormat: &pf,
		MessageExpiry: u32(60), User: paho.UserProperties{{Key: "k", Value: "v"}, {Key: "k", Value: "w"}}}})
	p := sub.next(t)
	pp := p.Properties
	switch {
	case p.Topic != "p/1" || string(p.Payload) != "héllo" || p.QoS != 1:
		t.Fatalf("got %s %q qos %d", p.Topic, p.Payload, p.QoS)
	case pp == nil || pp.ContentType != "text/plain" || pp.ResponseTopic != "reply/1" || string(pp.CorrelationData) != "\x01\x02":
		t.Fatalf("properties %+v", pp)
	case pp.PayloadFormat == nil || *pp.PayloadFormat != 1 || pp.MessageExpiry == nil || *pp.MessageExpiry > 60 || *pp.MessageExpiry < 59:
		t.Fatalf("payload format / expiry %+v", pp)
	case pp.SubscriptionIdentifier == nil || *pp.SubscriptionIdentifier != 7:
		t.Fatalf("subscription identifier %v; want 7", pp.SubscriptionIdentifier)
	case len(pp.User) != 2 || pp.User[0] != (paho.UserProperty{Key: "k", Value: "v"}) || pp.User[1].Value != "w":
		t.Fatalf("user properties %v", pp.User)
	}

	// No Local: the publisher's own subscription does not get its message.
	pub.sub(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "nl", QoS: 0, NoLocal: true}}})
	sub.sub(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "nl", QoS: 0}}})
	pub.pub(t, &paho.Publish{Topic: "nl", Payload: []byte("x")})
	if p := sub.next(t); p.Topic != "nl" {
		t.Fatalf("got %s; want nl", p.Topic)
	}
	pub.none(t, 100*time.Millisecond)

	// Shared subscription: each message goes to exactly one member.
	a := connect5(t, ts.addr, &paho.Connect{ClientID: "shA", CleanStart: true})
	b := connect5(t, ts.addr, &paho.Connect{ClientID: "shB", CleanStart: true})
	for _, c := range []*client5{a, b} {
		c.sub(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "$share/g/s/+", QoS: 1}}})
	}
	for i := 0; i < 10; i++ {
		pub.pub(t, &paho.Publish{Topic: "s/x", QoS: 1, Payload: []byte{byte(i)}})
	}
	seen := map[byte]bool{}
	for len(seen) < 10 {
		select {
		case p := <-a.got:
			seen[p.Payload[0]] = true
		case p := <-b.got:
			seen[p.Payload[0]] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("shared subscription delivered %d of 10", len(seen))
		}
	}
	if len(a.got)+len(b.got) != 0 {
		t.Fatal("a shared message was delivered twice")
	}

	// Retained: Retain As Published keeps the flag on live delivery;
	// Retain Handling 2 never sends retained, 1 only on a new subscription.
	pub.pub(t, &paho.Publish{Topic: "rt/1", QoS: 1, Retain: true, Payload: []byte("r")})
	c := connect5(t, ts.addr, &paho.Connect{ClientID: "ret5", CleanStart: true})
	c.sub(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "rt/#", QoS: 1, RetainHandling: 2}}})
	c.none(t, 100*time.Millisecond)
	c.sub(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "rt/+", QoS: 1, RetainHandling: 1, RetainAsPublished: true}}})
	if p := c.next(t); !p.Retain || string(p.Payload) != "r" {
		t.Fatalf("retained on new subscription: retain %v %q", p.Retain, p.Payload)
	}
	c.sub(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "rt/+", QoS: 1, RetainHandling: 1, RetainAsPublished: true}}})
	c.none(t, 100*time.Millisecond)
	pub.pub(t, &paho.Publish{Topic: "rt/1", QoS: 1, Retain: true, Payload: []byte("r2")})
	flags := 0
	for i := 0; i < 2; i++ { // rt/# (no RAP): flag cleared; rt/+ (RAP): flag kept
		if p := c.next(t); p.Retain {
			flags++
		}
	}
	if flags != 1 {
		t.Fatalf("%d of 2 live deliveries kept the retain flag; want 1 (Retain As Published on one)", flags)
	}
}

// TestSession5: session expiry keeps a session across connections
// (session present, queued messages), takeover disconnects the old
// connection with 0x8E, clean start drops the session, an empty client id
// gets one assigned.
func TestSession5(t *testing.T) {
	ts := start(t, nil)
	pub := connect5(t, ts.addr, &paho.Connect{ClientID: "", CleanStart: true})
	if pub.ack.Properties == nil || pub.ack.Properties.AssignedClientID == "" {
		t.Fatal("no Assigned Client Identifier for an empty client id")
	}
	first := connect5(t, ts.addr, &paho.Connect{ClientID: "s5", CleanStart: true,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(60)}})
	if first.ack.SessionPresent {
		t.Fatal("session present on a clean start")
	}
	first.sub(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "s/q", QoS: 1}}})
	_ = first.Disconnect(&paho.Disconnect{})
	waitFor(t, "s5 offline", func() bool { return ts.online("s5") == false })
	pub.pub(t, &paho.Publish{Topic: "s/q", QoS: 1, Payload: []byte("queued")})

	again := connect5(t, ts.addr, &paho.Connect{ClientID: "s5", Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(60)}})
	if !again.ack.SessionPresent {
		t.Fatal("session not present after reconnect within expiry")
	}
	if p := again.next(t); string(p.Payload) != "queued" {
		t.Fatalf("got %q; want the queued message", p.Payload)
	}

	// Takeover.
	connect5(t, ts.addr, &paho.Connect{ClientID: "s5", Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(60)}})
	select {
	case d := <-again.disc:
		if d.ReasonCode != 0x8E {
			t.Fatalf("takeover DISCONNECT reason %#x; want 0x8E", d.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("old connection got no DISCONNECT on takeover")
	}

	// Clean start: no session present, old subscription gone.
	clean := connect5(t, ts.addr, &paho.Connect{ClientID: "s5", CleanStart: true})
	if clean.ack.SessionPresent {
		t.Fatal("session present after clean start")
	}
	pub.pub(t, &paho.Publish{Topic: "s/q", QoS: 1, Payload: []byte("gone")})
	clean.none(t, 100*time.Millisecond)
}

// online reports whether clientID's session has a connection.
func (ts *testServer) online(clientID string) bool {
	s := ts.sessions.get(clientID)
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}
