package message

import (
	"strconv"
	"testing"

	"robustmq/server/message/topic"
	"robustmq/shard"
	"robustmq/shard/memory"
)

type nopSub struct{}

func (nopSub) Deliver(*Message, *topic.Entry) {}

// BenchmarkPublish measures Publish of a 128-byte QoS 1 message with user
// properties to 1 subscriber: "memory" appends it to the topic's shard on
// the memory engine, "nostore" is the same hub without a store (baseline:
// match and deliver only).
//
//	go test -run '^$' -bench Publish -benchmem ./server/message/
func BenchmarkPublish(b *testing.B) {
	for _, store := range []string{"nostore", "memory"} {
		b.Run(store, func(b *testing.B) {
			o := Options{}
			if store == "memory" {
				r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{})}, shard.RouterOptions{RetentionInterval: -1})
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				o.Store = r
			}
			h := New(o)
			f, _ := topic.ParseFilter([]byte("bench/+"), topic.MQTT, nil)
			_ = h.Index().Subscribe(f, topic.Subscriber{ID: 1, Target: nopSub{}}, nil)
			m := &Message{Topic: []byte("bench/" + strconv.Itoa(1)), Payload: make([]byte, 128), QoS: 1,
				User: []UserProperty{{[]byte("k"), []byte("v")}}}
			done := func(error) {}
			b.ReportAllocs()
			b.SetBytes(int64(len(m.Payload)))
			for b.Loop() {
				h.Publish(m, done)
			}
		})
	}
}
