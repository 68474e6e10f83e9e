package mqtt

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	paho3 "github.com/eclipse/paho.mqtt.golang"

	"robustmq/codec/mqtt"
)

// TestInspect connects a 5.0 and a 3.1.1 client with subscriptions, a
// will and a retained message, and checks what Clients, SessionList,
// Subscriptions and RetainedList report, then DeleteRetained.
func TestInspect(t *testing.T) {
	ts := start(t, nil)
	url := "tcp://" + ts.addr
	c5 := connect5(t, ts.addr, &paho.Connect{ClientID: "c5", CleanStart: true, KeepAlive: 30,
		Properties:  &paho.ConnectProperties{SessionExpiryInterval: u32(60), ReceiveMaximum: u16(5)},
		WillMessage: &paho.WillMessage{Topic: "w", Payload: []byte("gone")}})
	id := 9
	c5.sub(t, &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: &id},
		Subscriptions: []paho.SubscribeOptions{{Topic: "a/+", QoS: 1, NoLocal: true, RetainAsPublished: true},
			{Topic: "$share/g/b/#", QoS: 0}}})
	c3 := client3(t, url, "c3", func(o *paho3.ClientOptions) {
		o.SetCleanSession(false).SetKeepAlive(20 * time.Second).SetUsername("u3")
	})
	wait3(t, "subscribe x", c3.Subscribe("x", 2, nil))
	wait3(t, "retain r/1", c3.Publish("r/1", 1, true, "hello"))

	before := ts.hub.Now()
	clients := ts.Clients()
	if len(clients) != 2 {
		t.Fatalf("Clients() = %+v; want c3, c5", clients)
	}
	for i, want := range []Client{
		{ClientID: "c3", Listener: "mqtt_test_tcp", ConnectionType: "Tcp", Protocol: "MQTT4", LoginUser: "u3", KeepAlive: 20,
			InflightMax: 128, Subscriptions: 1, SessionExpiry: 1800},
		{ClientID: "c5", Listener: "mqtt_test_tcp", ConnectionType: "Tcp", Protocol: "MQTT5", KeepAlive: 30,
			InflightMax: 5, Subscriptions: 2, SessionExpiry: 60, HasWill: true},
	} {
		got := clients[i]
		if got.ConnectionID == 0 || !strings.HasPrefix(got.SourceIPAddr, "127.0.0.1:") {
			t.Errorf("client %s: connection id %d, source %q; want an id and 127.0.0.1:port", got.ClientID,
				got.ConnectionID, got.SourceIPAddr)
		}
		if got.CreateTime <= 0 || got.CreateTime > before {
			t.Errorf("client %s: create_time %d; want a time before %d", got.ClientID, got.CreateTime, before)
		}
		got.ConnectionID, got.SourceIPAddr, got.CreateTime = 0, "", 0
		if got != want {
			t.Errorf("Clients()[%d] = %+v; want %+v", i, got, want)
		}
	}

	subs := ts.Subscriptions()
	wantSubs := []Subscription{
		{ClientID: "c3", Path: "x", Filter: "x", QoS: 2, Connected: true},
		{ClientID: "c5", Path: "$share/g/b/#", Filter: "b/#", ShareGroup: "g", IsShareSub: true, SubID: 9, Connected: true},
		{ClientID: "c5", Path: "a/+", Filter: "a/+", QoS: 1, NoLocal: true, PreserveRetain: true, SubID: 9, Connected: true},
	}
	if len(subs) != len(wantSubs) {
		t.Fatalf("Subscriptions() = %+v; want %+v", subs, wantSubs)
	}
	for i := range subs {
		if subs[i] != wantSubs[i] {
			t.Errorf("Subscriptions()[%d] = %+v; want %+v", i, subs[i], wantSubs[i])
		}
	}

	rets, err := ts.RetainedList()
	if err != nil || len(rets) != 1 || rets[0].Topic != "r/1" || rets[0].QoS != 1 || rets[0].PayloadSize != 5 ||
		rets[0].CreateTime == 0 {
		t.Fatalf("RetainedList() = %+v, %v; want r/1 qos 1 size 5", rets, err)
	}
	if err := ts.DeleteRetained("r/1"); err != nil {
		t.Fatalf("DeleteRetained(r/1) = %v", err)
	}
	if err := ts.DeleteRetained("r/1"); !errors.Is(err, ErrNoRetained) {
		t.Fatalf("DeleteRetained(r/1) again = %v; want ErrNoRetained", err)
	}
	if n := ts.RetainedCount(); n != 0 {
		t.Fatalf("RetainedCount() = %d after delete; want 0", n)
	}

	// c3 goes away: its persistent session stays, offline.
	c3.Disconnect(100)
	waitFor(t, "c3 offline", func() bool { return len(ts.Clients()) == 1 })
	sessions := ts.SessionList()
	if len(sessions) != 2 {
		t.Fatalf("SessionList() = %+v; want c3 and c5", sessions)
	}
	if s := sessions[0]; s.ClientID != "c3" || s.Connected || s.ConnectionID != 0 || s.Subscriptions != 1 || s.HasWill ||
		s.DisconnectTime == 0 || s.Durable {
		t.Errorf("session c3 = %+v; want offline since some time, 1 subscription, no will, not durable", s)
	}
	if s := sessions[1]; s.ClientID != "c5" || !s.Connected || s.ConnectionID == 0 || s.SessionExpiry != 60 ||
		!s.HasWill || s.Subscriptions != 2 || s.DisconnectTime != 0 {
		t.Errorf("session c5 = %+v; want online, expiry 60, will, 2 subscriptions", s)
	}
	// A QoS 1 message to the offline session is queued.
	c5.pub(t, &paho.Publish{Topic: "x", QoS: 1, Payload: []byte("q")})
	waitFor(t, "queued for c3", func() bool { return ts.SessionList()[0].Queued == 1 })
	if st := ts.Stats(); st != (Stats{Connected: 1, Sessions: 2, Subscriptions: 3, Shared: 1, Subscribers: 2, Queued: 1}) {
		t.Errorf("Stats() = %+v", st)
	}
}

func u16(v uint16) *uint16 { return &v }

// TestKick: a 5.0 client gets DISCONNECT 0x98 and its will is published;
// a 3.1.1 client is closed; an unknown or offline client is ErrNoClient.
func TestKick(t *testing.T) {
	ts := start(t, nil)
	watcher := connect5(t, ts.addr, &paho.Connect{ClientID: "watcher", CleanStart: true})
	watcher.sub(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "will/#"}}})

	c5 := connect5(t, ts.addr, &paho.Connect{ClientID: "k5", CleanStart: true,
		WillMessage: &paho.WillMessage{Topic: "will/k5", Payload: []byte("bye")}})
	before := kicked.Get()
	if err := ts.Kick("k5"); err != nil {
		t.Fatalf("Kick(k5) = %v", err)
	}
	if n := kicked.Get() - before; n != 1 {
		t.Errorf("robustmq_mqtt_kicked_total grew by %d; want 1", n)
	}
	select {
	case d := <-c5.disc:
		if d.ReasonCode != byte(mqtt.ReasonAdministrativeAction) {
			t.Fatalf("DISCONNECT reason %#x; want 0x98", d.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("k5 got no DISCONNECT")
	}
	if p := watcher.next(t); p.Topic != "will/k5" || string(p.Payload) != "bye" {
		t.Fatalf("got %s %q; want the will of k5", p.Topic, p.Payload)
	}

	lost := make(chan error, 1)
	client3(t, "tcp://"+ts.addr, "k3", func(o *paho3.ClientOptions) {
		o.SetConnectionLostHandler(func(_ paho3.Client, err error) { lost <- err })
	})
	if err := ts.Kick("k3"); err != nil {
		t.Fatalf("Kick(k3) = %v", err)
	}
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("k3 still connected after Kick")
	}
	// k5 and k3 had session expiry 0: only the watcher's session is left.
	waitFor(t, "k3 session gone", func() bool { return ts.Sessions() == 1 })
	for _, id := range []string{"nobody", "k3"} {
		if err := ts.Kick(id); !errors.Is(err, ErrNoClient) {
			t.Errorf("Kick(%s) = %v; want ErrNoClient", id, err)
		}
	}
}

// With a StateStore the retained messages sit behind the durable store:
// they are still listed and counted, and a deletion is saved; a
// persistent session is listed as durable.
func TestInspectDurableRetain(t *testing.T) {
	state := NewMemoryState()
	ts := start(t, func(o *Options) { o.State = state })
	c := client3(t, "tcp://"+ts.addr, "dr", func(o *paho3.ClientOptions) { o.SetCleanSession(false) })
	wait3(t, "retain d/1", c.Publish("d/1", 1, true, "kept"))
	if rets, err := ts.RetainedList(); err != nil || len(rets) != 1 || rets[0].Topic != "d/1" || ts.RetainedCount() != 1 {
		t.Fatalf("RetainedList() = %+v, %v, count %d; want d/1", rets, err, ts.RetainedCount())
	}
	saved := func() int {
		n := 0
		_ = state.Load(TableRetained, func(string, []byte) { n++ })
		return n
	}
	waitFor(t, "d/1 saved", func() bool { return saved() == 1 })
	if err := ts.DeleteRetained("d/1"); err != nil {
		t.Fatalf("DeleteRetained(d/1) = %v", err)
	}
	waitFor(t, "d/1 deleted from the state", func() bool { return saved() == 0 })
	if ss := ts.SessionList(); len(ss) != 1 || !ss[0].Durable {
		t.Errorf("SessionList() = %+v; want dr, durable", ss)
	}
}
