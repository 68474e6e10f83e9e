package mqtt

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"robustmq/codec/mqtt"
)

// holdPair is a 5.0 subscriber with Receive Maximum 1 on "h" at QoS 1 and a
// publisher that has sent QoS 1 messages "1".."n" to it, on a server whose
// session queues hold 2 messages. The subscriber has received "1" (not
// acknowledged: its window is full) before "2".."n" are sent.
func holdPair(t *testing.T, tune func(*Options), subClean bool, n int) (ts *testServer, sub, pub *raw) {
	t.Helper()
	ts = start(t, func(o *Options) {
		o.MaxQueued = 2
		if tune != nil {
			tune(o)
		}
	})
	sub = dial(t, ts.addr, mqtt.V5)
	cp := mqtt.Connect{ClientID: []byte("hsub"), CleanStart: subClean}
	cp.Props.SetUint(mqtt.PropReceiveMaximum, 1)
	if !subClean {
		cp.Props.SetUint(mqtt.PropSessionExpiry, 60)
	}
	sub.connect(&cp)
	sub.send(subscribe(mqtt.V5, 1, "h", 1))
	sub.expect(mqtt.SUBACK, 1)
	pub = dial(t, ts.addr, mqtt.V5)
	pub.connect(&mqtt.Connect{ClientID: []byte("hpub"), CleanStart: true})
	pub.send(publish(mqtt.V5, "h", 1, 1, "1"))
	sub.expectPublish("h", "1", 1, false)
	for i := 2; i <= n; i++ {
		pub.send(publish(mqtt.V5, "h", 1, uint16(i), strconv.Itoa(i)))
	}
	return ts, sub, pub
}

// TestHoldDelaysPublisherAck: when a subscriber's queue is full, the
// publisher's PUBACK waits until the message leaves the queue, and no
// message is dropped (they were all acknowledged).
func TestHoldDelaysPublisherAck(t *testing.T) {
	_, sub, pub := holdPair(t, nil, true, 5)
	// 1 in flight, 2 and 3 queued: acknowledged at once; 4 and 5 held.
	for i := uint16(1); i <= 3; i++ {
		pub.expect(mqtt.PUBACK, i)
	}
	pub.silent(200 * time.Millisecond)
	id := sub.d.Publish.PacketID
	for i := 1; i <= 5; i++ {
		if i > 1 {
			id = sub.expectPublish("h", strconv.Itoa(i), 1, false)
		}
		if i == 4 { // 4 left the queue for the window: its publisher is told
			pub.expect(mqtt.PUBACK, 4)
			pub.silent(100 * time.Millisecond)
		}
		sub.send(mqtt.AppendAck(nil, mqtt.V5, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: id}))
	}
	pub.expect(mqtt.PUBACK, 5)
	sub.silent(200 * time.Millisecond)
}

// TestHoldTimeout: a subscriber that takes none of its held messages for
// HoldTimeout is disconnected with 0x97, and its publishers are released.
func TestHoldTimeout(t *testing.T) {
	_, sub, pub := holdPair(t, func(o *Options) { o.HoldTimeout = 300 * time.Millisecond }, true, 5)
	for i := uint16(1); i <= 3; i++ {
		pub.expect(mqtt.PUBACK, i)
	}
	got := sub.closed()
	if !bytes.HasSuffix(got, mqtt.AppendDisconnect(nil, mqtt.V5, &mqtt.Disconnect{Reason: mqtt.ReasonQuotaExceeded})) {
		t.Fatalf("subscriber got % x; want DISCONNECT 0x97 at the end", got)
	}
	pub.expect(mqtt.PUBACK, 4)
	pub.expect(mqtt.PUBACK, 5)
}

// TestHoldReleasedOffline: a persistent session going offline releases its
// held messages (the publisher is acknowledged) and keeps the newest
// MaxQueued of its queue, the offline policy.
func TestHoldReleasedOffline(t *testing.T) {
	ts, sub, pub := holdPair(t, nil, false, 6)
	for i := uint16(1); i <= 3; i++ {
		pub.expect(mqtt.PUBACK, i)
	}
	_ = sub.nc.Close()
	waitFor(t, "hsub offline", func() bool { return !ts.online("hsub") })
	for i := uint16(4); i <= 6; i++ {
		pub.expect(mqtt.PUBACK, i)
	}
	back := dial(t, ts.addr, mqtt.V5)
	cp := mqtt.Connect{ClientID: []byte("hsub")}
	cp.Props.SetUint(mqtt.PropSessionExpiry, 60)
	back.connect(&cp)
	// 1 was in flight (resent); of 2..6 the queue kept the newest two.
	for _, want := range []string{"1", "5", "6"} {
		id := back.expectPublish("h", want, 1, want == "1")
		back.send(mqtt.AppendAck(nil, mqtt.V5, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: id}))
	}
	back.silent(200 * time.Millisecond)
}

// TestRefusedAckKeepsOrder: the PUBACK of a refused publish (here a
// client's publish to $SYS/) waits for the acknowledgements of earlier
// publishes still pending [MQTT-4.6.0-2].
func TestRefusedAckKeepsOrder(t *testing.T) {
	_, sub, pub := holdPair(t, nil, true, 4)
	for i := uint16(1); i <= 3; i++ {
		pub.expect(mqtt.PUBACK, i)
	}
	pub.send(publish(mqtt.V5, "$SYS/x", 1, 9, "no"))
	pub.silent(200 * time.Millisecond) // 4 is held, so 9 waits
	id := sub.d.Publish.PacketID
	for i := 1; i <= 4; i++ {
		if i > 1 {
			id = sub.expectPublish("h", strconv.Itoa(i), 1, false)
		}
		sub.send(mqtt.AppendAck(nil, mqtt.V5, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: id}))
	}
	pub.expect(mqtt.PUBACK, 4)
	pub.expect(mqtt.PUBACK, 9)
	if pub.d.Ack.Reason != mqtt.ReasonNotAuthorized {
		t.Fatalf("PUBACK 9 reason %#x; want 0x87", pub.d.Ack.Reason)
	}
}
