package topic_test

import (
	"fmt"

	"robustmq/server/message/topic"
)

// An MQTT subscriber, a NATS queue group and a NATS publish in one index.
func Example() {
	ix := topic.New(topic.Config{})

	// MQTT SUBSCRIBE "sensors/+/temp": the canonical form is the MQTT form.
	f, _ := topic.ParseFilter([]byte("sensors/+/temp"), topic.MQTT, nil)
	_ = ix.Subscribe(f, topic.Subscriber{ID: 1, Target: "mqtt-session-1"}, "qos=1")

	// NATS "SUB sensors.> workers 7" from two connections.
	var buf []byte
	buf, _ = topic.FilterFromNATS(buf[:0], []byte("sensors.>"))
	q, _ := topic.ParseFilter(buf, topic.NATS, []byte("workers"))
	_ = ix.Subscribe(q, topic.Subscriber{ID: 2, Target: "nats-conn-2"}, nil)
	_ = ix.Subscribe(q, topic.Subscriber{ID: 3, Target: "nats-conn-3"}, nil)

	// NATS "PUB sensors.kitchen.temp": convert, match, deliver.
	buf, _ = topic.FromNATS(buf[:0], []byte("sensors.kitchen.temp"))
	var dst []topic.Entry
	for range 2 {
		dst = ix.Match(buf, dst[:0])
		for _, e := range dst {
			if e.Group != nil {
				fmt.Println(string(buf), "->", e.Target, "(one of group", e.Group.Name()+")")
			} else {
				fmt.Println(string(buf), "->", e.Target, e.Opts)
			}
		}
	}

	// An MQTT topic with a '.' in a level, delivered to a NATS subscriber.
	subj, _ := topic.ToNATS(nil, []byte("sensors/v1.2/temp"))
	fmt.Println(string(subj))
	// Output:
	// sensors/kitchen/temp -> nats-conn-2 (one of group workers)
	// sensors/kitchen/temp -> mqtt-session-1 qos=1
	// sensors/kitchen/temp -> nats-conn-3 (one of group workers)
	// sensors/kitchen/temp -> mqtt-session-1 qos=1
	// sensors.v1%2E2.temp
}
