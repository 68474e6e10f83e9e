package main

// Node-level tests of Kafka on the broker role: acks=all records survive SIGKILL on the segment engine,
// kcat sees the advertised address, and MQTT and Kafka read each other's messages (server/broker doc,
// "Kafka").

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/twmb/franz-go/pkg/kgo"

	"robustmq/server/node"
)

// kafkaClient is a franz-go client of the node's Kafka port, closed at cleanup. Like franz-go's default
// it does not ask for topics to be auto-created; producers add kgo.AllowAutoTopicCreation.
func kafkaClient(t *testing.T, port int, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers("127.0.0.1:" + strconv.Itoa(port)),
		kgo.RecordDeliveryTimeout(5 * time.Second), kgo.RetryTimeout(5 * time.Second),
		kgo.ProduceRequestTimeout(5 * time.Second)}, opts...)
	c, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// consumeAll reads topic from its start until want records were read or 20 s pass, and returns them.
func consumeAll(t *testing.T, port int, topic string, want int) []*kgo.Record {
	t.Helper()
	c := kafkaClient(t, port, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want && ctx.Err() == nil {
		fs := c.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			if ctx.Err() == nil {
				t.Logf("fetch %s/%d: %v", topic, p, err)
			}
		})
		out = append(out, fs.Records()...)
	}
	if len(out) < want {
		t.Fatalf("consumed %d records of %s within 20s; want %d", len(out), topic, want)
	}
	return out
}

// TestKafkaKill9 produces with acks=all into a node with every role while SIGKILLing it, restarts it on
// the same data path, and consumes: every acknowledged record is there. kcat lists the broker at its
// advertised address, and /api/info lists the kafka_tcp listener.
func TestKafkaKill9(t *testing.T) {
	t.Parallel()
	const (
		topic     = "kill9"
		killAfter = 300 // acknowledged records before the SIGKILL
	)
	pt := freePorts(t)
	kport := pt["kafka_runtime.tcp_port"]
	cfg := writeConfig(t, pt.toml(t.TempDir(), ""))
	p := launch(t, nil, "--config", cfg)
	p.waitReady(t, pt["http_port"])
	p.logHas(t, `msg="broker: storage from this node's engine" .*engine=segment`,
		`msg="broker: listening" .*listener=kafka_tcp .*addr=127.0.0.1:`+strconv.Itoa(kport))

	var info node.Info
	getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/api/info", pt["http_port"]), &info)
	if !slices.ContainsFunc(info.Listeners, func(l node.ListenerInfo) bool {
		return l.Key == "kafka_runtime.tcp_port" && l.Status == "accepting" && l.Addr == "127.0.0.1:"+strconv.Itoa(kport)
	}) {
		t.Fatalf("/api/info listeners = %+v; want kafka_runtime.tcp_port accepting on 127.0.0.1:%d", info.Listeners, kport)
	}
	if kcat, err := exec.LookPath("kcat"); err != nil {
		t.Log("kcat not installed (apt-get install -y kcat): skipping the kcat -L check")
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, kcat, "-b", "127.0.0.1:"+strconv.Itoa(kport), "-L").CombinedOutput()
		cancel()
		if want := fmt.Sprintf("broker 1 at 127.0.0.1:%d", kport); err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("kcat -L: %v\n%s\nwant %q", err, out, want)
		}
	}

	var wg sync.WaitGroup
	acks := newAckSet(killAfter) // values whose produce was acknowledged
	prod := kafkaClient(t, kport, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.AllowAutoTopicCreation(),
		kgo.RecordRetries(2))
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				v := fmt.Sprintf("w%d-%06d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := prod.ProduceSync(ctx, &kgo.Record{Key: []byte(strconv.Itoa(w)), Value: []byte(v)}).FirstErr()
				cancel()
				if err != nil {
					return // the node is gone
				}
				acks.add(v)
			}
		})
	}
	acks.wait(t, "acknowledged records")
	p.signal(t, syscall.SIGKILL)
	p.wait(t, 10*time.Second)
	prod.Close() // fails the records still in flight (an idempotent producer retries them forever)
	wg.Wait()
	acked := acks.set
	t.Logf("%d records acknowledged (acks=all) before SIGKILL", len(acked))

	p = launch(t, nil, "--config", cfg)
	p.waitReady(t, pt["http_port"])
	p.logHas(t, `msg="engine: recovered" .*segment_shards=1 `) // the partition, mounted from disk
	got := map[string]bool{}
	for _, r := range consumeAll(t, kport, topic, len(acked)) {
		got[string(r.Value)] = true
	}
	for v := range acked {
		if !got[v] {
			t.Errorf("acknowledged record %q missing after restart", v)
		}
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0", code)
	}
}

// connectMQTT5 connects a paho.golang (MQTT 5.0) client and returns it with the channel its received
// publishes go to.
func connectMQTT5(t *testing.T, port int, id string) (*paho.Client, chan *paho.Publish) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *paho.Publish, 16)
	c := paho.NewClient(paho.ClientConfig{Conn: nc, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(p paho.PublishReceived) (bool, error) { got <- p.Packet; return true, nil },
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ack, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatalf("mqtt connect %s: %v (%+v)", id, err, ack)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, got
}

// header returns the value of the first header named key, and whether there was one.
func header(hs []kgo.RecordHeader, key string) (string, bool) {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// TestKafkaMQTTBridge proves each direction of the bridge on one node: an MQTT 5 QoS 1 publish to a/b is
// read by a Kafka consumer of a.b (which does not ask for auto-creation: the topic MQTT wrote is adopted)
// with its payload, QoS and user properties as headers; a Kafka record
// produced to k2m.x reaches an MQTT subscriber of k2m/x with its value as payload and its key and
// headers as user properties.
func TestKafkaMQTTBridge(t *testing.T) {
	t.Parallel()
	pt := freePorts(t)
	kport, mport := pt["kafka_runtime.tcp_port"], pt["mqtt_runtime.server.tcp_port"]
	p := launch(t, nil, "--config", writeConfig(t, pt.toml(t.TempDir(), "")))
	p.waitReady(t, pt["http_port"])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("mqtt to kafka", func(t *testing.T) {
		pub, _ := connectMQTT5(t, mport, "bridge-pub")
		_, err := pub.Publish(ctx, &paho.Publish{Topic: "a/b", QoS: 1, Payload: []byte("from mqtt"),
			Properties: &paho.PublishProperties{User: paho.UserProperties{{Key: "k", Value: "v"}, {Key: "k", Value: "w"}}}})
		if err != nil {
			t.Fatalf("mqtt publish a/b: %v", err)
		}
		recs := consumeAll(t, kport, "a.b", 1)
		r := recs[0]
		var hs []string
		for _, h := range r.Headers {
			hs = append(hs, h.Key+"="+string(h.Value))
		}
		if want := "mqtt.qos=1,k=v,k=w"; string(r.Value) != "from mqtt" || r.Key != nil || strings.Join(hs, ",") != want {
			t.Fatalf("kafka a.b record: key %q value %q headers %s; want key null, value \"from mqtt\", headers %s",
				r.Key, r.Value, hs, want)
		}
	})

	t.Run("kafka to mqtt", func(t *testing.T) {
		sub, got := connectMQTT5(t, mport, "bridge-sub")
		if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "k2m/+", QoS: 1}}}); err != nil {
			t.Fatalf("mqtt subscribe: %v", err)
		}
		prod := kafkaClient(t, kport, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.AllowAutoTopicCreation())
		rec := &kgo.Record{Topic: "k2m.x", Key: []byte("key1"), Value: []byte("from kafka"),
			Headers: []kgo.RecordHeader{{Key: "h1", Value: []byte("v1")}, {Key: "h2", Value: []byte("v2")}}}
		if err := prod.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatalf("kafka produce k2m.x: %v", err)
		}
		select {
		case m := <-got:
			var us []string
			if m.Properties != nil {
				for _, u := range m.Properties.User {
					us = append(us, u.Key+"="+u.Value)
				}
			}
			if want := "kafka.key=key1,h1=v1,h2=v2"; m.Topic != "k2m/x" || string(m.Payload) != "from kafka" ||
				strings.Join(us, ",") != want {
				t.Fatalf("mqtt got topic %q payload %q user properties %s; want k2m/x, \"from kafka\", %s",
					m.Topic, m.Payload, us, want)
			}
		case <-ctx.Done():
			t.Fatal("no MQTT message for the Kafka record within 30s")
		}
		// The record is stored once, on the shared log: a Kafka consumer reads it back.
		if r := consumeAll(t, kport, "k2m.x", 1)[0]; string(r.Value) != "from kafka" {
			t.Fatalf("kafka k2m.x record value %q; want \"from kafka\"", r.Value)
		}
	})
}
