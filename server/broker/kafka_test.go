package broker

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/twmb/franz-go/pkg/kgo"

	"robustmq/codec/kafka/record"
	"robustmq/server/config"
	"robustmq/server/message"
	"robustmq/server/message/topic"
	"robustmq/shard"
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

	n := newBridge([]config.KafkaTopicMapping{{MQTT: "s/1", Kafka: "temps", Partition: 0},
		{MQTT: "s/2", Kafka: "temps", Partition: 2}, {MQTT: "x/y", Kafka: "other", Partition: 0}})
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
	shardOf("temps", 0, message.ShardName("s/1")) // mapped
	shardOf("temps", 1, "temps_1")                // between mapped partitions: Kafka's own
	shardOf("temps", 2, message.ShardName("s/2"))
	shardOf("temps", 3, "temps_3")
	shardOf("other", 0, message.ShardName("x/y"))
	shardOf("x.y", 0, "x.y_0") // x/y is mapped: no default bridge for x.y
	shardOf("s.1", 0, "s.1_0")
	for k, want := range map[string]int32{"temps": 3, "other": 1, "orders": 0, "a.b": 0} {
		if got := n.MinPartitions(k); got != want {
			t.Errorf("MinPartitions(%q) = %d; want %d", k, got, want)
		}
	}
	subs := func(k string, p int32, want string, wantOK bool) {
		t.Helper()
		if got, ok := n.subscribers(nil, []byte(k), p); string(got) != want && wantOK || ok != wantOK {
			t.Errorf("subscribers(%q, %d) = %q, %v; want %q, %v", k, p, got, ok, want, wantOK)
		}
	}
	subs("temps", 0, "s/1", true)
	subs("temps", 1, "", false)
	subs("temps", 2, "s/2", true)
	subs("a.b", 3, "a/b", true) // default rule: every partition
	subs("x.y", 0, "", false)
	if _, _, ok := n.Topic("nopartition"); ok {
		t.Error(`Topic("nopartition") ok; want not a Kafka shard`)
	}
}

// TestBrokerKafka starts a broker without an engine role and with
// kafka_tcp: the probe is registered, the group offsets go to a store
// under data_path, a record produced with acks=all to k.v reaches an MQTT
// subscriber of k/v and reads back from the shard (batch and record), and
// Stop removes the probe and closes the port.
func TestBrokerKafka(t *testing.T) {
	cfg := config.Default()
	cfg.BindIP, cfg.BrokerIP, cfg.DataPath = "127.0.0.1", "127.0.0.1", t.TempDir()
	s := &cfg.MQTTRuntime.Server
	s.TCPPort, s.TLSPort, s.WebsocketPort, s.WebsocketsPort = freePort(t), 0, 0, 0
	cfg.KafkaRuntime.TCPPort = freePort(t)
	b, reg := startBroker(t, cfg, routes{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if names := probeNames(reg); len(names) != 2 || names[0] != "mqtt_tcp" || names[1] != "kafka_tcp" {
		t.Fatalf("probes %v; want mqtt_tcp, kafka_tcp", names)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataPath, "broker-offsets")); err != nil {
		t.Fatalf("offset store: %v", err)
	}

	sub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://127.0.0.1:" + itoa(s.TCPPort)).SetClientID("ksub").
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer sub.Disconnect(0)
	kc, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:"+itoa(cfg.KafkaRuntime.TCPPort)), kgo.AllowAutoTopicCreation(),
		kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	if m := kafkaToMQTT(t, ctx, sub, kc, "k/v", "k.v", "to mqtt"); m.Qos() != 1 {
		t.Fatalf("mqtt got qos %d; want 1", m.Qos())
	}
	res, err := b.opts.Storage.ReadBatches(message.ShardName("k/v"), 0, 1<<20)
	if err != nil || len(res.Batches) != 1 || res.Batches[0].Format != shard.BatchKafkaV2 {
		t.Fatalf("shard of k/v: %v %+v; want the produced batch", err, res)
	}
	res.Release()
	// The broker's own memory engine decodes Kafka batches for plain reads
	// (MQTT and NATS consumers of the shard).
	recs, err := b.opts.Storage.Read(message.ShardName("k/v"), 0, 10, 1<<20)
	if err != nil || len(recs.Records) != 1 || string(recs.Records[0].Value) != "to mqtt" {
		t.Fatalf("Read of k/v: %v %+v; want the produced record", err, recs)
	}
	recs.Release()

	kc.Close()
	sub.Disconnect(0)
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if ps := reg.List(); len(ps) != 0 {
		t.Fatalf("probes after Stop: %d", len(ps))
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+itoa(cfg.KafkaRuntime.TCPPort), time.Second); err == nil {
		c.Close()
		t.Fatal("kafka_tcp still accepts after Stop")
	}
}

// kafkaToMQTT subscribes sub to mqttTopic, produces value to kafkaTopic
// with kc, and returns the MQTT message it brought.
func kafkaToMQTT(t *testing.T, ctx context.Context, sub paho.Client, kc *kgo.Client, mqttTopic, kafkaTopic, value string) paho.Message {
	t.Helper()
	got := make(chan paho.Message, 1)
	if tok := sub.Subscribe(mqttTopic, 1, func(_ paho.Client, m paho.Message) { got <- m }); !tok.WaitTimeout(5 * time.Second) {
		t.Fatalf("subscribe %s timed out", mqttTopic)
	}
	if err := kc.ProduceSync(ctx, &kgo.Record{Topic: kafkaTopic, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("produce %s: %v", kafkaTopic, err)
	}
	select {
	case m := <-got:
		if m.Topic() != mqttTopic || string(m.Payload()) != value {
			t.Fatalf("mqtt got %q %q; want %s %q", m.Topic(), m.Payload(), mqttTopic, value)
		}
		return m
	case <-ctx.Done():
		t.Fatalf("no MQTT message on %s for the record produced to %s", mqttTopic, kafkaTopic)
		return nil
	}
}

// sink is a hub subscriber keeping what it is given.
type sink struct{ got []*message.Message }

func (s *sink) Deliver(m *message.Message, _ *topic.Entry) { s.got = append(s.got, m) }

// TestDeliverProduced: a produced batch reaches a subscriber of the MQTT
// topic record by record (key and headers as user properties), and costs
// no allocation while the topic has no subscriber.
func TestDeliverProduced(t *testing.T) {
	var body []byte
	body = record.AppendRecord(body, &record.Record{Key: []byte("k"), Value: []byte("v0"), NumHeaders: 1,
		Headers: record.AppendHeader(nil, []byte("h"), []byte("x"))})
	body = record.AppendRecord(body, &record.Record{OffsetDelta: 1, TimestampDelta: 5, Value: []byte("v1")})
	batch, err := record.AppendBatch(nil, record.Header{LastOffsetDelta: 1, FirstTimestamp: 1000, MaxTimestamp: 1005,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, body, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	hub := message.New(message.Options{})
	br := newBridge(nil)
	if n := testing.AllocsPerRun(100, func() { deliverProduced(hub, br, []byte("d.e"), 0, batch) }); n != 0 {
		t.Errorf("deliverProduced without subscribers: %v allocs; want 0", n)
	}
	s := &sink{}
	f, err := topic.ParseFilter([]byte("d/+"), topic.MQTT, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Index().Subscribe(f, topic.Subscriber{ID: 1, Target: s}, nil); err != nil {
		t.Fatal(err)
	}
	deliverProduced(hub, br, []byte("d.e"), 0, batch)
	check := func(m *message.Message, payload, props string, ts int64) {
		t.Helper()
		var us []string
		for _, u := range m.User {
			us = append(us, string(u.Key)+"="+string(u.Value))
		}
		if string(m.Topic) != "d/e" || string(m.Payload) != payload || strings.Join(us, ",") != props ||
			m.Timestamp != ts || m.QoS != 1 {
			t.Errorf("got topic %q payload %q props %v ts %d qos %d; want d/e %q %q %d 1", m.Topic, m.Payload, us,
				m.Timestamp, m.QoS, payload, props, ts)
		}
	}
	if len(s.got) != 2 {
		t.Fatalf("delivered %d messages; want 2", len(s.got))
	}
	check(s.got[0], "v0", "kafka.key=k,h=x", 1000)
	check(s.got[1], "v1", "", 1005)
}
