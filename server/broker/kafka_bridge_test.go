package broker

import (
	"context"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"robustmq/server/config"
)

// TestBrokerKafkaMapping runs the mapping table over real sockets (paho
// and franz-go): an MQTT publish to a mapped topic is read from its Kafka
// partition, a Kafka record produced to a mapped partition reaches the
// MQTT subscribers of its topic, and after a Kafka DeleteTopics of the
// mapped topic an MQTT publish stores again (PUBACK success) and is read
// from Kafka once more.
func TestBrokerKafkaMapping(t *testing.T) {
	cfg := config.Default()
	cfg.BindIP, cfg.BrokerIP, cfg.DataPath = "127.0.0.1", "127.0.0.1", t.TempDir()
	s := &cfg.MQTTRuntime.Server
	s.TCPPort, s.TLSPort, s.WebsocketPort, s.WebsocketsPort = freePort(t), 0, 0, 0
	cfg.KafkaRuntime.TCPPort = freePort(t)
	cfg.KafkaRuntime.TopicMapping = map[string]string{"sensors/room1/temp": "room1-temp", "sensors/room2/temp": "temps:1"}
	startBroker(t, cfg, routes{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kafkaAddr := "127.0.0.1:" + itoa(cfg.KafkaRuntime.TCPPort)

	mq := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://127.0.0.1:" + itoa(s.TCPPort)).SetClientID("map").
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	if tok := mq.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer mq.Disconnect(0)
	publish := func(topic, payload string) {
		t.Helper()
		if tok := mq.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
	// consume reads partition p of topic from offset 0 with a new client
	// (fresh metadata) until it has want values.
	consume := func(topic string, p int32, want ...string) {
		t.Helper()
		kc, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			topic: {p: kgo.NewOffset().AtStart()}}))
		if err != nil {
			t.Fatal(err)
		}
		defer kc.Close()
		var got []string
		for len(got) < len(want) {
			fs := kc.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("%s[%d]: got %q before the deadline; want %q", topic, p, got, want)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if r.Partition != p {
					t.Errorf("%s: record from partition %d; want %d", topic, r.Partition, p)
				}
				got = append(got, string(r.Value))
			})
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s[%d] = %q; want %q", topic, p, got, want)
			}
		}
	}

	// MQTT -> Kafka through the mapped name: partition 1 of temps.
	publish("sensors/room2/temp", "21.5")
	consume("temps", 1, "21.5")

	// Kafka -> MQTT: room1-temp partition 0 is sensors/room1/temp.
	kc, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr), kgo.AllowAutoTopicCreation(), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	kafkaToMQTT(t, ctx, mq, kc, "sensors/room1/temp", "room1-temp", "19.0")
	consume("room1-temp", 0, "19.0") // stored once, on the MQTT topic's shard

	// DeleteTopics, then MQTT publishes store again and Kafka reads them:
	// a mapped topic and one bridged by the default rule.
	publish("plain/rule", "a")
	consume("plain.rule", 0, "a")
	for _, topic := range []string{"temps", "plain.rule"} {
		req := kmsg.NewPtrDeleteTopicsRequest()
		dt := kmsg.NewDeleteTopicsRequestTopic()
		dt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, dt)
		resp, err := req.RequestWith(ctx, kc)
		if err != nil || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
			t.Fatalf("DeleteTopics %s: %v %+v; want error code 0", topic, err, resp)
		}
	}
	publish("sensors/room2/temp", "22.0")
	consume("temps", 1, "22.0")
	publish("plain/rule", "b")
	consume("plain.rule", 0, "b")
}
