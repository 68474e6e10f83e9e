package mqtt

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"robustmq/codec/mqtt"
	"robustmq/server/message"
)

func publish(v mqtt.Version, topic string, qos byte, id uint16, payload string) []byte {
	return mqtt.AppendPublish(nil, v, &mqtt.Publish{Topic: []byte(topic), QoS: qos, PacketID: id, Payload: []byte(payload)})
}

func subscribe(v mqtt.Version, id uint16, filter string, qos byte) []byte {
	return mqtt.AppendSubscribe(nil, v, &mqtt.Subscribe{PacketID: id, Subs: []mqtt.Subscription{{Filter: []byte(filter), QoS: qos}}})
}

func (r *raw) expectPublish(topic, payload string, qos byte, dup bool) uint16 {
	r.t.Helper()
	if typ := r.next(); typ != mqtt.PUBLISH {
		r.t.Fatalf("got %v; want PUBLISH %s", typ, topic)
	}
	p := &r.d.Publish
	if string(p.Topic) != topic || string(p.Payload) != payload || p.QoS != qos || p.Dup != dup {
		r.t.Fatalf("got PUBLISH %s %q qos %d dup %v; want %s %q qos %d dup %v", p.Topic, p.Payload, p.QoS, p.Dup,
			topic, payload, qos, dup)
	}
	return p.PacketID
}

func (r *raw) expect(want mqtt.Type, id uint16) {
	r.t.Helper()
	if typ := r.next(); typ != want || (id != 0 && r.d.Ack.PacketID != id && r.d.Suback.PacketID != id) {
		r.t.Fatalf("got %v (ack id %d, suback id %d); want %v %d", typ, r.d.Ack.PacketID, r.d.Suback.PacketID, want, id)
	}
}

// pair connects a subscriber of version v (5.0: CONNECT property prop =
// val when prop is not 0) subscribed to filter at qos, and a publisher.
func pair(t *testing.T, ts *testServer, v mqtt.Version, name string, prop mqtt.PropID, val uint32, filter string, qos byte) (sub, pub *raw) {
	t.Helper()
	sub = dial(t, ts.addr, v)
	var cp mqtt.Connect
	cp.ClientID, cp.CleanStart = []byte(name), true
	if prop != 0 {
		cp.Props.SetUint(prop, val)
	}
	sub.connect(&cp)
	sub.send(subscribe(v, 1, filter, qos))
	sub.expect(mqtt.SUBACK, 1)
	pub = dial(t, ts.addr, v)
	pub.connect(&mqtt.Connect{ClientID: []byte(name + "pub"), CleanStart: true})
	return sub, pub
}

func (r *raw) silent(d time.Duration) {
	r.t.Helper()
	if typ, err := r.read(d); err == nil {
		r.t.Fatalf("unexpected %v", typ)
	}
}

// TestQoS2ExactlyOnce: a resent QoS 2 PUBLISH (DUP, same id) before PUBREL
// is acknowledged again and delivered once.
func TestQoS2ExactlyOnce(t *testing.T) {
	ts := start(t, nil)
	sub, pub := pair(t, ts, mqtt.V311, "q2", 0, 0, "e/1", 2)
	msg := publish(mqtt.V311, "e/1", 2, 5, "once")
	pub.send(msg)
	pub.expect(mqtt.PUBREC, 5)
	msg[0] |= 0x08 // DUP
	pub.send(msg)
	pub.expect(mqtt.PUBREC, 5)
	pub.send(mqtt.AppendAck(nil, mqtt.V311, &mqtt.Ack{Type: mqtt.PUBREL, PacketID: 5}))
	pub.expect(mqtt.PUBCOMP, 5)

	id := sub.expectPublish("e/1", "once", 2, false)
	sub.send(mqtt.AppendAck(nil, mqtt.V311, &mqtt.Ack{Type: mqtt.PUBREC, PacketID: id}))
	sub.expect(mqtt.PUBREL, id)
	sub.send(mqtt.AppendAck(nil, mqtt.V311, &mqtt.Ack{Type: mqtt.PUBCOMP, PacketID: id}))
	sub.silent(200 * time.Millisecond)
}

// TestResendOnReconnect: unacknowledged QoS 1 and QoS 2 messages are
// resent with DUP to the reconnected persistent session, a QoS 2 past
// PUBREC gets its PUBREL again, in the original order.
func TestResendOnReconnect(t *testing.T) {
	ts := start(t, nil)
	sub := dial(t, ts.addr, mqtt.V311)
	sub.connect(&mqtt.Connect{ClientID: []byte("rs"), KeepAlive: 60})
	sub.send(subscribe(mqtt.V311, 1, "rs/#", 2))
	sub.expect(mqtt.SUBACK, 1)

	pub := dial(t, ts.addr, mqtt.V311)
	pub.connect(&mqtt.Connect{ClientID: []byte("rspub"), CleanStart: true})
	pub.send(publish(mqtt.V311, "rs/1", 1, 1, "one"))
	pub.expect(mqtt.PUBACK, 1)
	pub.send(publish(mqtt.V311, "rs/2", 2, 2, "two"))
	pub.expect(mqtt.PUBREC, 2)
	pub.send(publish(mqtt.V311, "rs/3", 2, 3, "three"))
	pub.expect(mqtt.PUBREC, 3)

	id1 := sub.expectPublish("rs/1", "one", 1, false)
	id2 := sub.expectPublish("rs/2", "two", 2, false)
	id3 := sub.expectPublish("rs/3", "three", 2, false)
	sub.send(mqtt.AppendAck(nil, mqtt.V311, &mqtt.Ack{Type: mqtt.PUBREC, PacketID: id3}))
	sub.expect(mqtt.PUBREL, id3)
	_ = sub.nc.Close()
	waitFor(t, "rs offline", func() bool { return !ts.online("rs") })

	again := dial(t, ts.addr, mqtt.V311)
	if ack := again.connect(&mqtt.Connect{ClientID: []byte("rs"), KeepAlive: 60}); !ack.SessionPresent {
		t.Fatal("session not present")
	}
	if got := again.expectPublish("rs/1", "one", 1, true); got != id1 {
		t.Fatalf("resent id %d; want %d", got, id1)
	}
	if got := again.expectPublish("rs/2", "two", 2, true); got != id2 {
		t.Fatalf("resent id %d; want %d", got, id2)
	}
	again.expect(mqtt.PUBREL, id3)
	again.send(mqtt.AppendAck(nil, mqtt.V311, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: id1}))
	again.send(mqtt.AppendAck(nil, mqtt.V311, &mqtt.Ack{Type: mqtt.PUBREC, PacketID: id2}))
	again.expect(mqtt.PUBREL, id2)
	again.send(mqtt.AppendAck(nil, mqtt.V311, &mqtt.Ack{Type: mqtt.PUBCOMP, PacketID: id2}))
	again.send(mqtt.AppendAck(nil, mqtt.V311, &mqtt.Ack{Type: mqtt.PUBCOMP, PacketID: id3}))
	again.silent(200 * time.Millisecond)
}

// TestReceiveMaximum: a client with Receive Maximum 1 gets the next QoS 1
// message only after acknowledging the previous one.
func TestReceiveMaximum(t *testing.T) {
	ts := start(t, nil)
	sub, pub := pair(t, ts, mqtt.V5, "rm", mqtt.PropReceiveMaximum, 1, "rm", 1)
	for i := uint16(1); i <= 3; i++ {
		pub.send(publish(mqtt.V5, "rm", 1, i, string(rune('0'+i))))
		pub.expect(mqtt.PUBACK, i)
	}
	for i := 1; i <= 3; i++ {
		id := sub.expectPublish("rm", string(rune('0'+i)), 1, false)
		sub.silent(100 * time.Millisecond)
		sub.send(mqtt.AppendAck(nil, mqtt.V5, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: id}))
	}
}

// TestServerReceiveMaximum: a client sending more unacknowledged QoS 1
// publishes than the server's Receive Maximum is disconnected with 0x93.
func TestServerReceiveMaximum(t *testing.T) {
	ts := start(t, func(o *Options) { o.ReceiveMax = 1 })
	r := dial(t, ts.addr, mqtt.V5)
	r.connect(&mqtt.Connect{ClientID: []byte("srm"), CleanStart: true})
	// Both in one write, so both are decoded before the first PUBACK.
	r.send(append(publish(mqtt.V5, "t", 1, 1, "a"), publish(mqtt.V5, "t", 1, 2, "b")...))
	got := r.closed()
	if !bytes.HasSuffix(got, disconnectReason(0x93, "more than Receive Maximum unacknowledged QoS 1/2 publishes")) {
		t.Fatalf("got % x; want DISCONNECT 0x93 at the end", got)
	}
}

// TestTopicAliasOut: a client announcing Topic Alias Maximum gets the
// topic once, then the alias with an empty topic.
func TestTopicAliasOut(t *testing.T) {
	ts := start(t, nil)
	sub, pub := pair(t, ts, mqtt.V5, "ta", mqtt.PropTopicAliasMaximum, 2, "ta/#", 0)
	// Inbound alias: set with the topic, then use with an empty topic.
	var p mqtt.Publish
	p.Topic, p.Payload = []byte("ta/in"), []byte("1")
	p.Props.SetUint(mqtt.PropTopicAlias, 3)
	pub.send(mqtt.AppendPublish(nil, mqtt.V5, &p))
	p.Topic, p.Payload = nil, []byte("2")
	pub.send(mqtt.AppendPublish(nil, mqtt.V5, &p))
	for i, want := range []struct{ topic, payload string }{{"ta/in", "1"}, {"", "2"}} {
		if typ := sub.next(); typ != mqtt.PUBLISH {
			t.Fatalf("got %v", typ)
		}
		a, ok := sub.d.Publish.Props.Uint(mqtt.PropTopicAlias)
		if string(sub.d.Publish.Topic) != want.topic || string(sub.d.Publish.Payload) != want.payload || !ok || a != 1 {
			t.Fatalf("#%d: topic %q payload %q alias %d (%v); want %q %q alias 1", i, sub.d.Publish.Topic,
				sub.d.Publish.Payload, a, ok, want.topic, want.payload)
		}
	}
}

// TestMaxPacketSizeOut: a message over the client's Maximum Packet Size is
// not sent; the next small one is.
func TestMaxPacketSizeOut(t *testing.T) {
	ts := start(t, nil)
	sub, pub := pair(t, ts, mqtt.V5, "mps", mqtt.PropMaximumPacketSize, 64, "m", 1)
	pub.send(publish(mqtt.V5, "m", 1, 1, string(make([]byte, 100))))
	pub.expect(mqtt.PUBACK, 1)
	pub.send(publish(mqtt.V5, "m", 1, 2, "small"))
	pub.expect(mqtt.PUBACK, 2)
	sub.expectPublish("m", "small", 1, false)
}

// TestWillDelay: a will with a delay is published after it, and not at all
// when the session reconnects first.
func TestWillDelay(t *testing.T) {
	ts := start(t, nil)
	watch := dial(t, ts.addr, mqtt.V5)
	watch.connect(&mqtt.Connect{ClientID: []byte("watch"), CleanStart: true})
	watch.send(subscribe(mqtt.V5, 1, "wd/#", 0))
	watch.expect(mqtt.SUBACK, 1)

	connectWill := func(id, topic string) *raw {
		r := dial(t, ts.addr, mqtt.V5)
		var cp mqtt.Connect
		cp.ClientID, cp.CleanStart, cp.Will = []byte(id), true, true
		cp.WillTopic, cp.WillPayload = []byte(topic), []byte("bye")
		cp.Props.SetUint(mqtt.PropSessionExpiry, 60)
		cp.WillProps.SetUint(mqtt.PropWillDelay, 1)
		r.connect(&cp)
		return r
	}
	r := connectWill("wd1", "wd/1")
	began := time.Now()
	_ = r.nc.Close()
	watch.expectPublish("wd/1", "bye", 0, false)
	if el := time.Since(began); el < 900*time.Millisecond {
		t.Fatalf("will after %v; want the 1s delay", el)
	}

	r2 := connectWill("wd2", "wd/2")
	_ = r2.nc.Close()
	waitFor(t, "wd2 offline", func() bool { return !ts.online("wd2") })
	back := dial(t, ts.addr, mqtt.V5)
	var cp mqtt.Connect
	cp.ClientID = []byte("wd2")
	cp.Props.SetUint(mqtt.PropSessionExpiry, 60)
	back.connect(&cp)
	watch.silent(1500 * time.Millisecond)
}

// TestOfflineQueueBound: an offline persistent session keeps at most
// MaxQueued messages; the oldest are dropped.
func TestOfflineQueueBound(t *testing.T) {
	ts := start(t, func(o *Options) { o.MaxQueued = 3 })
	sub := dial(t, ts.addr, mqtt.V311)
	sub.connect(&mqtt.Connect{ClientID: []byte("oq")})
	sub.send(subscribe(mqtt.V311, 1, "oq", 1))
	sub.expect(mqtt.SUBACK, 1)
	_ = sub.nc.Close()
	waitFor(t, "oq offline", func() bool { return !ts.online("oq") })
	pub := dial(t, ts.addr, mqtt.V311)
	pub.connect(&mqtt.Connect{ClientID: []byte("oqpub"), CleanStart: true})
	for i := uint16(1); i <= 5; i++ {
		pub.send(publish(mqtt.V311, "oq", 1, i, string(rune('0'+i))))
		pub.expect(mqtt.PUBACK, i)
	}
	back := dial(t, ts.addr, mqtt.V311)
	back.connect(&mqtt.Connect{ClientID: []byte("oq")})
	for _, want := range []string{"3", "4", "5"} {
		id := back.expectPublish("oq", want, 1, false)
		back.send(mqtt.AppendAck(nil, mqtt.V311, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: id}))
	}
	back.silent(200 * time.Millisecond)
}

// TestSessionExpiry: a session with expiry 1s is gone after it (no session
// present, its subscription removed); a message expiring while queued is
// not delivered.
func TestSessionExpiry(t *testing.T) {
	var clock atomic.Int64 // the hub's ms clock, for message expiry
	clock.Store(time.Now().UnixMilli())
	ts := start(t, func(o *Options) { o.Hub = message.New(message.Options{Now: clock.Load}) })
	cp := func(id string, exp uint32) *mqtt.Connect {
		var c mqtt.Connect
		c.ClientID = []byte(id)
		c.Props.SetUint(mqtt.PropSessionExpiry, exp)
		return &c
	}
	r := dial(t, ts.addr, mqtt.V5)
	r.connect(cp("se", 1))
	r.send(subscribe(mqtt.V5, 1, "se", 1))
	r.expect(mqtt.SUBACK, 1)
	_ = r.nc.Close()
	waitFor(t, "session se ended", func() bool {
		return ts.sessions.get("se") == nil
	})
	if n := ts.hub.Index().Count(); n != 0 {
		t.Fatalf("index holds %d subscriptions after the session ended; want 0", n)
	}
	again := dial(t, ts.addr, mqtt.V5)
	if ack := again.connect(cp("se", 60)); ack.SessionPresent {
		t.Fatal("session present after expiry")
	}

	// Message expiry: queued for an offline session, expired on reconnect.
	again.send(subscribe(mqtt.V5, 2, "me", 1))
	again.expect(mqtt.SUBACK, 2)
	_ = again.nc.Close()
	waitFor(t, "se offline", func() bool { return !ts.online("se") })
	pub := dial(t, ts.addr, mqtt.V5)
	pub.connect(&mqtt.Connect{ClientID: []byte("mepub"), CleanStart: true})
	var p mqtt.Publish
	p.Topic, p.Payload, p.QoS, p.PacketID = []byte("me"), []byte("short"), 1, 1
	p.Props.SetUint(mqtt.PropMessageExpiry, 1)
	pub.send(mqtt.AppendPublish(nil, mqtt.V5, &p))
	pub.expect(mqtt.PUBACK, 1)
	p.Payload, p.PacketID = []byte("long"), 2
	p.Props.SetUint(mqtt.PropMessageExpiry, 100)
	pub.send(mqtt.AppendPublish(nil, mqtt.V5, &p))
	pub.expect(mqtt.PUBACK, 2)
	clock.Add(1100) // the first message's 1s lifetime passes
	back := dial(t, ts.addr, mqtt.V5)
	back.connect(cp("se", 60))
	back.expectPublish("me", "long", 1, false)
	if e, ok := back.d.Publish.Props.Uint(mqtt.PropMessageExpiry); !ok || e > 99 {
		t.Fatalf("forwarded Message Expiry Interval %d (%v); want the remaining lifetime < 100", e, ok)
	}
}

// TestOutboundHigh: with OutboundHigh at 1 byte every flush stops after one
// packet; the stalled rest still arrives (next packet, delivery or tick).
func TestOutboundHigh(t *testing.T) {
	ts := start(t, func(o *Options) { o.OutboundHigh, o.Tick = 1, 50*time.Millisecond })
	sub, pub := pair(t, ts, mqtt.V311, "oh", 0, 0, "oh", 0)
	var batch []byte
	for i := 0; i < 5; i++ {
		batch = append(batch, publish(mqtt.V311, "oh", 0, 0, string(rune('a'+i)))...)
	}
	pub.send(batch)
	for i := 0; i < 5; i++ {
		sub.expectPublish("oh", string(rune('a'+i)), 0, false)
	}
}

// TestDelayedPublish: "$delayed/1/dl/x" reaches subscribers of "dl/x"
// after a second; PUBACK comes at once.
func TestDelayedPublish(t *testing.T) {
	ts := start(t, nil)
	sub, pub := pair(t, ts, mqtt.V5, "dl", 0, 0, "dl/#", 1)
	began := time.Now()
	pub.send(publish(mqtt.V5, "$delayed/1/dl/x", 1, 1, "later"))
	pub.expect(mqtt.PUBACK, 1)
	sub.expectPublish("dl/x", "later", 1, false)
	if el := time.Since(began); el < 900*time.Millisecond {
		t.Fatalf("delivered after %v; want the 1s delay", el)
	}
	for _, c := range []struct {
		in    string
		delay int64
		topic string
	}{
		{"$delayed/10/a/b", 10, "a/b"}, {"$delayed/0/a", 0, "a"}, {"$delayed/x/a", -1, "$delayed/x/a"},
		{"$delayed/5/", -1, "$delayed/5/"}, {"$delayed//a", -1, "$delayed//a"}, {"a/b", -1, "a/b"},
		{"$delayed/12345678/a", -1, "$delayed/12345678/a"},
	} {
		if d, tp := delayed([]byte(c.in)); d != c.delay || string(tp) != c.topic {
			t.Errorf("delayed(%q) = %d, %q; want %d, %q", c.in, d, tp, c.delay, c.topic)
		}
	}
}
