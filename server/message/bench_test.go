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
	// memory-batch64 publishes through a Batch flushed every 64 messages
	// (an MQTT read burst).
	for _, store := range []string{"nostore", "memory", "memory-batch64"} {
		b.Run(store, func(b *testing.B) {
			o := Options{}
			if store != "nostore" {
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
			if store != "memory-batch64" {
				for b.Loop() {
					h.Publish(m, done)
				}
				return
			}
			bt, n := h.NewBatch(), 0
			for b.Loop() {
				bt.Publish(m, done)
				if n++; n%64 == 0 {
					bt.Flush()
				}
			}
			bt.Flush()
		})
	}
}
