package meta_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"robustmq/server/meta/client"
	"robustmq/server/pb"
)

// TestMQTTDueThroughController: three nodes with the meta and broker roles; MQTT session expiry
// and delayed wills are the metadata leader's controller's work (no broker timers).
//
//   - A live broker: a 5.0 client with a will delayed 1 s drops its connection; the controller hands
//     the due will to that broker, which publishes it to its subscriber after the delay, once.
//   - A lost broker: a client connected to the metadata leader's broker, with a will delayed 1 s and
//     a session expiring after 3 s; SIGKILL of that node. The new leader's controller marks it down,
//     starts the session's clocks and hands the will to a surviving broker, which publishes it to
//     its subscribers (once), then the expiry, which deletes the session record.
func TestMQTTDueThroughController(t *testing.T) {
	c := newCluster(t, 3, 10000)
	mqttPorts := freePorts(t, 6)
	for i, nd := range c.nodes {
		nd.engine = mqttPorts[3+i]
		s := strings.Replace(sections(nd, 0), "[mqtt_runtime.server]\ntcp_port = 0",
			fmt.Sprintf("[mqtt_runtime.server]\ntcp_port = %d", mqttPorts[i]), 1)
		c.writeConfig(nd, `["meta", "broker"]`, s)
		c.start(nd)
	}
	mqttAddr := func(nd *node) string { return fmt.Sprintf("127.0.0.1:%d", mqttPorts[nd.id-1]) }
	var ls map[string]uint64
	poll(t, 20*time.Second, "leaders", func() (err error) { ls, err = leaders(c.nodes); return err })
	for _, nd := range c.nodes {
		poll(t, 20*time.Second, "MQTT listener of node "+fmt.Sprint(nd.id), func() error {
			nc, err := net.Dial("tcp", mqttAddr(nd))
			if err == nil {
				nc.Close()
			}
			return err
		})
	}
	leader := c.nodes[ls["metadata"]-1]
	var others []*node
	for _, nd := range c.nodes {
		if nd != leader {
			others = append(others, nd)
		}
	}

	// A live broker fires a will the controller hands it.
	w0 := watchWills(t, mqttAddr(others[0]), "w0")
	dropped := connectWithWill(t, mqttAddr(others[0]), "live", 60)
	t0 := time.Now()
	_ = dropped.nc.Close() // no DISCONNECT: the will stands
	if p := w0.next(t, 10*time.Second); p.Topic != "will/live" {
		t.Fatalf("got %q; want the will of live", p.Topic)
	}
	if d := time.Since(t0); d < 900*time.Millisecond {
		t.Fatalf("will published %v after the drop; want its 1 s delay", d)
	}
	if n := metric(leader, "robustmq_meta_due_handled_total"); n < 1 {
		t.Fatalf("leader's robustmq_meta_due_handled_total = %v; want the will handed over", n)
	}

	// A CONNECT on another broker takes a session over: the broker that held it gives it up (its
	// connection gets 0x8E), without touching the new owner's record.
	first := connectWithWill(t, mqttAddr(others[0]), "mover", 60)
	_ = connectWithWill(t, mqttAddr(others[1]), "mover", 60)
	poll(t, 10*time.Second, "the first broker releases mover", func() error {
		if n := metric(others[0], "robustmq_mqtt_sessions_released_total"); n < 1 {
			return fmt.Errorf("node %d released %v sessions", others[0].id, n)
		}
		return nil
	})
	select {
	case d := <-first.disc:
		if d.ReasonCode != 0x8E {
			t.Fatalf("the first connection got DISCONNECT 0x%02x; want 0x8E Session taken over", d.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first connection got no DISCONNECT")
	}
	if w := w0.drain(); len(w) != 0 {
		t.Fatalf("wills published on takeover: %q", w)
	}

	// A lost broker: its session's will and expiry are acted on by a survivor.
	w1 := watchWills(t, mqttAddr(others[0]), "w1")
	w2 := watchWills(t, mqttAddr(others[1]), "w2")
	_ = connectWithWill(t, mqttAddr(leader), "orphan", 3)
	mc := dial(t, others...)
	record := func() (bool, error) {
		var v *pb.KVValue
		err := mc.Call(ctxFor(t, 5*time.Second), func(ctx context.Context, api pb.MetaServiceClient) (err error) {
			v, err = api.Get(ctx, &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: "s", Key: []byte("orphan")})
			return err
		})
		return v.GetFound(), err
	}
	poll(t, 5*time.Second, "orphan's session saved", func() error {
		if ok, err := record(); !ok {
			return fmt.Errorf("no record (%v)", err)
		}
		return nil
	})
	c.kill(leader)
	var got *paho.Publish
	select {
	case got = <-w1.got:
	case got = <-w2.got:
	case <-time.After(20 * time.Second):
		t.Fatal("the will of a session on the killed broker was not published by a survivor within 20 s")
	}
	if got.Topic != "will/orphan" || string(got.Payload) != "orphan gone" {
		t.Fatalf("got %q %q; want the will of orphan", got.Topic, got.Payload)
	}
	poll(t, 20*time.Second, "orphan's session expired", func() error {
		if ok, err := record(); ok || err != nil {
			return fmt.Errorf("record still there (%v)", err)
		}
		return nil
	})
	ctx := ctxFor(t, 5*time.Second)
	for _, table := range []string{client.TableDue, client.TableFired} {
		var list *pb.KVList
		err := mc.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) (err error) {
			list, err = api.List(ctx, &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: table})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range list.GetItems() {
			if strings.Contains(string(kv.GetKey()), "orphan") {
				t.Fatalf("table %s still has %q after the session ended", table, kv.GetKey())
			}
		}
	}
	for _, w := range []*willWatcher{w0, w1, w2} {
		select {
		case p := <-w.got:
			t.Fatalf("%s: a second message %q: a will went out twice", w.id, p.Topic)
		default:
		}
	}
}

// willWatcher is a 5.0 client subscribed to will/#.
type willWatcher struct {
	id  string
	got chan *paho.Publish
}

func watchWills(t *testing.T, addr, id string) *willWatcher {
	t.Helper()
	w := &willWatcher{id: id, got: make(chan *paho.Publish, 16)}
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pc := paho.NewClient(paho.ClientConfig{Conn: nc, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(p paho.PublishReceived) (bool, error) { w.got <- p.Packet; return true, nil },
	}})
	ctx := ctxFor(t, 5*time.Second)
	if _, err := pc.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatalf("connect %s to %s: %v", id, addr, err)
	}
	if _, err := pc.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "will/#", QoS: 1}}}); err != nil {
		t.Fatalf("subscribe %s: %v", id, err)
	}
	t.Cleanup(func() { _ = pc.Disconnect(&paho.Disconnect{}) })
	return w
}

// drain returns the topics of the messages received so far.
func (w *willWatcher) drain() []string {
	var topics []string
	for {
		select {
		case p := <-w.got:
			topics = append(topics, p.Topic)
		default:
			return topics
		}
	}
}

func (w *willWatcher) next(t *testing.T, d time.Duration) *paho.Publish {
	t.Helper()
	select {
	case p := <-w.got:
		return p
	case <-time.After(d):
		t.Fatalf("%s: no will within %v", w.id, d)
	}
	return nil
}

// willClient is a connection opened by connectWithWill.
type willClient struct {
	nc   net.Conn
	disc chan *paho.Disconnect // the server's DISCONNECT
}

// connectWithWill connects id (5.0, Session Expiry expiry s) with a QoS 1 will on will/id delayed
// by 1 s; the test may cut its connection.
func connectWithWill(t *testing.T, addr, id string, expiry uint32) *willClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	wc := &willClient{nc: nc, disc: make(chan *paho.Disconnect, 1)}
	pc := paho.NewClient(paho.ClientConfig{Conn: nc, OnServerDisconnect: func(d *paho.Disconnect) { wc.disc <- d }})
	delay := uint32(1)
	cp := &paho.Connect{ClientID: id, KeepAlive: 30, WillMessage: &paho.WillMessage{Topic: "will/" + id, QoS: 1,
		Payload: []byte(id + " gone")}, WillProperties: &paho.WillProperties{WillDelayInterval: &delay},
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}}
	if _, err := pc.Connect(ctxFor(t, 5*time.Second), cp); err != nil {
		t.Fatalf("connect %s to %s: %v", id, addr, err)
	}
	return wc
}
