package broker

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/twmb/franz-go/pkg/kgo"

	"robustmq/server/config"
	"robustmq/server/message"
	"robustmq/server/node/component"
	"robustmq/server/node/listener"
)

// TestTopicNaming: the bridge rule both ways, and shard names that round
// trip through bridgeNaming (the Kafka loader keeps a shard only then).
func TestTopicNaming(t *testing.T) {
	toKafka := func(mqtt, want string, ok bool) {
		t.Helper()
		if got, gotOK := KafkaTopic(mqtt); got != want || gotOK != ok {
			t.Errorf("KafkaTopic(%q) = %q, %v; want %q, %v", mqtt, got, gotOK, want, ok)
		}
		if ok && MQTTTopic(want) != mqtt {
			t.Errorf("MQTTTopic(%q) = %q; want %q", want, MQTTTopic(want), mqtt)
		}
	}
	toKafka("a/b", "a.b", true)
	toKafka("sensors/room-1/temp_c", "sensors.room-1.temp_c", true)
	toKafka("plain", "plain", true)
	toKafka("/lead", ".lead", true)
	toKafka("a.b/c", "", false) // '.' would come back as '/'
	toKafka("a b", "", false)
	toKafka("$SYS/x", "", false)
	toKafka("", "", false)

	var n bridgeNaming
	shardOf := func(topic string, p int32, want string) {
		t.Helper()
		if got := n.Shard(topic, p); got != want {
			t.Errorf("Shard(%q, %d) = %q; want %q", topic, p, got, want)
		}
		if tp, pp, ok := n.Topic(want); !ok || tp != topic || pp != p {
			t.Errorf("Topic(%q) = %q, %d, %v; want %q, %d, true", want, tp, pp, ok, topic, p)
		}
	}
	shardOf("a.b", 0, message.ShardName("a/b"))
	shardOf("a.b", 1, "a.b_1")
	shardOf("orders", 0, "orders_0")
	if _, _, ok := n.Topic("nopartition"); ok {
		t.Error(`Topic("nopartition") ok; want not a Kafka shard`)
	}
}

// TestBrokerKafka starts a broker without an engine role and with
// kafka_tcp: the probe is registered, the group offsets go to a store
// under data_path, a record produced with acks=all to k.v reaches an MQTT
// subscriber of k/v, and Stop removes the probe and closes the port.
func TestBrokerKafka(t *testing.T) {
	cfg := config.Default()
	cfg.BindIP, cfg.BrokerIP, cfg.DataPath = "127.0.0.1", "127.0.0.1", t.TempDir()
	s := &cfg.MQTTRuntime.Server
	s.TCPPort, s.TLSPort, s.WebsocketPort, s.WebsocketsPort = freePort(t), 0, 0, 0
	cfg.KafkaRuntime.TCPPort = freePort(t)
	reg := &listener.Registry{}
	b, err := NewWith(component.Env{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Listeners: reg}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = b.Stop(ctx)
		}
	}()
	var names []string
	for _, p := range reg.List() {
		names = append(names, p.Name())
	}
	if len(names) != 2 || names[0] != "mqtt_tcp" || names[1] != "kafka_tcp" {
		t.Fatalf("probes %v; want mqtt_tcp, kafka_tcp", names)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataPath, "broker-offsets")); err != nil {
		t.Fatalf("offset store: %v", err)
	}

	got := make(chan paho.Message, 1)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://127.0.0.1:" + itoa(s.TCPPort)).SetClientID("ksub").
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer sub.Disconnect(0)
	if tok := sub.Subscribe("k/v", 1, func(_ paho.Client, m paho.Message) { got <- m }); !tok.WaitTimeout(5 * time.Second) {
		t.Fatal("subscribe timed out")
	}
	kc, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:"+itoa(cfg.KafkaRuntime.TCPPort)), kgo.AllowAutoTopicCreation(),
		kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	if err := kc.ProduceSync(ctx, &kgo.Record{Topic: "k.v", Value: []byte("to mqtt")}).FirstErr(); err != nil {
		t.Fatalf("produce k.v: %v", err)
	}
	select {
	case m := <-got:
		if m.Topic() != "k/v" || string(m.Payload()) != "to mqtt" || m.Qos() != 1 {
			t.Fatalf("mqtt got %q %q qos %d; want k/v \"to mqtt\" qos 1", m.Topic(), m.Payload(), m.Qos())
		}
	case <-ctx.Done():
		t.Fatal("no MQTT message for the Kafka record")
	}
	res, err := b.opts.Storage.Read(message.ShardName("k/v"), 0, 10, 1<<20)
	if err != nil || len(res.Records) != 1 {
		t.Fatalf("shard of k/v: %v %+v; want the produced batch", err, res)
	}
	res.Release()

	kc.Close()
	sub.Disconnect(0)
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if ps := reg.List(); len(ps) != 0 {
		t.Fatalf("probes after Stop: %d", len(ps))
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+itoa(cfg.KafkaRuntime.TCPPort), time.Second); err == nil {
		c.Close()
		t.Fatal("kafka_tcp still accepts after Stop")
	}
}
