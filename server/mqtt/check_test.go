package mqtt

import (
	"fmt"
	"testing"
	"time"

	"robustmq/codec/mqtt"
	"robustmq/server/message"
	"robustmq/shard"
	"robustmq/shard/memory"
)

// startChecked starts a server whose hub refuses payloads "bad" (with
// ErrRefused) and "worse" (with ErrRefusedDisconnect).
func startChecked(t *testing.T) *testServer {
	t.Helper()
	r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{ChunkBytes: 16 << 10})}, shard.RouterOptions{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	check := func(topic, payload []byte) error {
		switch string(payload) {
		case "bad":
			return fmt.Errorf("%w: test", message.ErrRefused)
		case "worse":
			return fmt.Errorf("%w: test", message.ErrRefusedDisconnect)
		}
		return nil
	}
	return start(t, func(o *Options) { o.Hub = message.New(message.Options{Store: r, Check: check}) })
}

// TestCheckRefusal: a publish the hub's Check refuses is not delivered;
// 5.0 gets 0x99 on its PUBACK/PUBREC, 3.1.1 a plain acknowledgement;
// ErrRefusedDisconnect ends the connection (5.0: DISCONNECT 0x99).
func TestCheckRefusal(t *testing.T) {
	ts := startChecked(t)
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		sub, pub := pair(t, ts, v, "chk"+v.String(), 0, 0, "c/#", 2)
		pub.send(publish(v, "c/1", 1, 1, "bad"))
		pub.expect(mqtt.PUBACK, 1)
		if want := mqtt.ReasonCode(0x99); v == mqtt.V5 && pub.d.Ack.Reason != want {
			t.Fatalf("%v PUBACK reason %#x; want %#x", v, pub.d.Ack.Reason, want)
		}
		pub.send(publish(v, "c/2", 2, 2, "bad"))
		pub.expect(mqtt.PUBREC, 2)
		pub.send(publish(v, "c/3", 1, 3, "good"))
		pub.expect(mqtt.PUBACK, 3)
		sub.expectPublish("c/3", "good", 1, false)
		sub.silent(100 * time.Millisecond)

		pub.send(publish(v, "c/4", 0, 0, "worse"))
		got := pub.closed()
		if v == mqtt.V5 && (len(got) < 3 || got[0] != 0xe0 || got[2] != 0x99) {
			t.Fatalf("%v: closed with % x; want DISCONNECT 0x99", v, got)
		}
	}
}

// TestSysTopicsReadOnly: a client's PUBLISH to $SYS/... is not published
// (5.0: PUBACK 0x87 Not authorized), as mosquitto refuses it.
func TestSysTopicsReadOnly(t *testing.T) {
	ts := start(t, nil)
	sub, pub := pair(t, ts, mqtt.V5, "sys", 0, 0, "$SYS/#", 1)
	pub.send(publish(mqtt.V5, "$SYS/brokers/fake", 1, 1, "x"))
	pub.expect(mqtt.PUBACK, 1)
	if pub.d.Ack.Reason != mqtt.ReasonNotAuthorized {
		t.Fatalf("PUBACK reason %#x; want 0x87", pub.d.Ack.Reason)
	}
	sub.silent(150 * time.Millisecond)
}
