package broker

import (
	"strings"

	"robustmq/server/config"
	"robustmq/server/kafka"
	"robustmq/server/message"
)

// bridge is the MQTT <-> Kafka topic bridge: the mapping table of
// kafka_runtime.topic_mapping and, for topics it does not name, the
// default rule. It is the kafka.Naming (and kafka.Pinner) of the broker's
// Kafka server and tells deliverProduced where a Kafka partition's records
// go. Immutable after newBridge: read from any goroutine.
//
// Rule, in order, for Kafka topic k partition p:
//  1. the table maps (k, p) to MQTT topic m: p lives on m's hub shard
//     (message.ShardName(m)), and its records go to m's subscribers;
//  2. else, for p = 0, when MQTT topic MQTTTopic(k) is not in the table:
//     the default rule, the same with m = MQTTTopic(k); records of every
//     partition of such a k go to m's subscribers, as before the table;
//  3. else p is Kafka's own, shard "{k}_{p}", not bridged.
//
// A topic the table names has partitions up to its highest mapped one
// (MinPartitions), so mapping "s/2" to "temps:1" gives Kafka topic temps
// two partitions, 0 Kafka-only (or the default rule's "temps") and 1 on
// the shard of s/2. An MQTT topic in the table is not bridged by the
// default rule any more ("s/2" is not readable as Kafka "s.2").
//
// One overlap is left to the operator: a Kafka topic named exactly like a
// mapped MQTT topic without '/' ("temps" mapped to another Kafka topic)
// has Kafka's own partition-0 shard "temps_0", which is that MQTT topic's
// shard; do not produce to such a topic.
type bridge struct {
	toKafka map[string]kafkaPart // MQTT topic -> Kafka partition, mapped ones only
	toMQTT  map[string][]string  // mapped Kafka topic -> MQTT topic per partition ("": not mapped)
	byShard map[string]kafkaPart // hub shard of a mapped MQTT topic -> its Kafka partition
}

type kafkaPart struct {
	topic string
	p     int32
}

func newBridge(ms []config.KafkaTopicMapping) *bridge {
	b := &bridge{toKafka: map[string]kafkaPart{}, toMQTT: map[string][]string{}, byShard: map[string]kafkaPart{}}
	for _, m := range ms {
		kp := kafkaPart{m.Kafka, m.Partition}
		b.toKafka[m.MQTT] = kp
		b.byShard[message.ShardName(m.MQTT)] = kp
		ps := b.toMQTT[m.Kafka]
		for int32(len(ps)) <= m.Partition {
			ps = append(ps, "")
		}
		ps[m.Partition] = m.MQTT
		b.toMQTT[m.Kafka] = ps
	}
	return b
}

// mqttOf is the MQTT topic whose shard partition p of Kafka topic k lives
// on (rules 1 and 2), or "".
func (b *bridge) mqttOf(k string, p int32) string {
	if ps, ok := b.toMQTT[k]; ok && p < int32(len(ps)) && ps[p] != "" {
		return ps[p]
	}
	if p == 0 {
		if m := MQTTTopic(k); !b.mapped(m) {
			return m
		}
	}
	return ""
}

// mapped reports whether MQTT topic m is in the table.
func (b *bridge) mapped(m string) bool {
	_, ok := b.toKafka[m]
	return ok
}

// Shard implements kafka.Naming.
func (b *bridge) Shard(k string, p int32) string {
	if m := b.mqttOf(k, p); m != "" {
		return message.ShardName(m)
	}
	return kafka.ShardNaming{}.Shard(k, p)
}

// Topic implements kafka.Naming: the inverse of Shard (the Kafka loader
// checks the round trip, so a guess that does not invert is dropped).
func (b *bridge) Topic(s string) (string, int32, bool) {
	if kp, ok := b.byShard[s]; ok {
		return kp.topic, kp.p, true
	}
	prefix, p, ok := kafka.ShardNaming{}.Topic(s)
	if !ok {
		return "", 0, false
	}
	if p == 0 {
		prefix = strings.ReplaceAll(prefix, "/", ".")
	}
	return prefix, p, true
}

// MinPartitions implements kafka.Pinner: one past the highest mapped
// partition of k.
func (b *bridge) MinPartitions(k string) int32 { return int32(len(b.toMQTT[k])) }

// subscribers is the MQTT topic the records produced to partition p of
// Kafka topic k are delivered to (rules 1 and 2: a default-rule topic
// delivers every partition), written over dst; ok false when none. It does
// not allocate once dst has room.
func (b *bridge) subscribers(dst, k []byte, p int32) ([]byte, bool) {
	if ps, ok := b.toMQTT[string(k)]; ok {
		if p < int32(len(ps)) && ps[p] != "" {
			return append(dst[:0], ps[p]...), true
		}
		if p != 0 {
			return dst, false
		}
	}
	dst = append(dst[:0], k...)
	for i, c := range dst {
		if c == '.' {
			dst[i] = '/'
		}
	}
	if _, mapped := b.toKafka[string(dst)]; mapped {
		return dst, false
	}
	return dst, true
}

// forget makes the hub drop the MQTT topics Kafka topic k shared shards
// with, after k was deleted (kafka.Options.OnDelete): their next publish
// creates the shard again, which the Kafka server adopts when k is asked
// for.
func (b *bridge) forget(hub *message.Hub, k string, partitions int32) {
	for p := range partitions {
		if m := b.mqttOf(k, p); m != "" {
			hub.ForgetTopic(m)
		}
	}
}
