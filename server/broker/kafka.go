package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"robustmq/codec/kafka/record"
	"robustmq/netpoll"
	"robustmq/server/config"
	"robustmq/server/kafka"
	"robustmq/server/message"
	"robustmq/server/message/topic"
	metaclient "robustmq/server/meta/client"
	"robustmq/shard"
	"robustmq/shard/offsetstore"
)

// startKafka builds the Kafka server over the broker's router and binds
// kafka_tcp (see the package doc, "Kafka"). REQUIRES: b.hub is set.
func (b *Broker) startKafka(spec config.ListenerSpec) error {
	cfg := b.env.Config
	router, ok := b.opts.Storage.(*shard.Router)
	if !ok {
		return errors.New("kafka needs a *shard.Router as storage, have " + fmt.Sprintf("%T", b.opts.Storage))
	}
	offsets := b.offsets
	b.mu.Lock()
	if b.meta != nil { // the Meta Service's offset group: shared by every broker, survives each
		offsets = metaclient.NewOffsetStore(b.meta)
	}
	b.mu.Unlock()
	if offsets == nil {
		dir := filepath.Join(cfg.DataPath, "broker-offsets")
		st, err := offsetstore.Open(dir, offsetstore.Options{Logger: b.env.Logger})
		if err != nil {
			return err
		}
		b.ownedOffsets, offsets = st, st
		b.env.Logger.Warn("broker: no engine role: Kafka consumer-group offsets are kept in a local store of "+
			"this broker", "dir", dir)
	}
	opts := kafka.FromConfig(cfg)
	opts.Router, opts.Offsets, opts.Logger = router, offsets, b.env.Logger
	if len(opts.SASLMechanisms) > 0 {
		opts.Users = b.Auth() // the MQTT users (admin_auth.go)
	}
	opts.Shard = shard.ShardConfig{Engine: b.opts.Engine}
	br := newBridge(cfg.KafkaRuntime.TopicMappings())
	opts.Naming = br
	hub := b.hub
	opts.OnProduce = func(topic []byte, p int32, batches []byte) { deliverProduced(hub, br, topic, p, batches) }
	opts.OnDelete = func(topic string, partitions int32) { br.forget(hub, topic, partitions) }
	ks, err := kafka.New(opts)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.kafka = ks
	b.mu.Unlock()
	lc, err := b.listenerConfig(spec, netpoll.TCP)
	if err != nil {
		return err
	}
	lc.Addr = net.JoinHostPort(cfg.BindIP, strconv.Itoa(cfg.KafkaRuntime.TCPPort))
	l, err := ks.Listen(lc)
	if err != nil {
		return err
	}
	if err := b.env.Listeners.Add(probe{l}); err != nil {
		return err
	}
	b.mu.Lock()
	b.kafkaLn = l
	b.mu.Unlock()
	advertised := opts.Advertised
	if opts.AdvertiseLocal {
		advertised = "each client's destination address (broker_ip unset)"
	}
	b.env.Logger.Info("broker: listening", "listener", spec.Name, "transport", "tcp", "addr", l.Addr().String(),
		"advertised", advertised)
	return nil
}

// stopKafka shuts the Kafka server down (its listener first) and closes
// the offset store the broker opened.
func (b *Broker) stopKafka(ctx context.Context) error {
	b.mu.Lock()
	ks, l := b.kafka, b.kafkaLn
	b.kafka, b.kafkaLn = nil, nil
	b.mu.Unlock()
	var errs []error
	if l != nil {
		b.env.Listeners.Remove(l.Name())
	}
	if ks != nil {
		if err := ks.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("broker: shutdown kafka: %w", err))
		}
	}
	if b.ownedOffsets != nil {
		if err := b.ownedOffsets.Close(); err != nil {
			errs = append(errs, fmt.Errorf("broker: close kafka offsets: %w", err))
		}
		b.ownedOffsets = nil
	}
	return errors.Join(errs...)
}

// MQTTTopic is the MQTT topic a Kafka topic is bridged to: every '.'
// becomes '/' (Kafka "a.b" is MQTT "a/b").
func MQTTTopic(kafkaTopic string) string { return strings.ReplaceAll(kafkaTopic, ".", "/") }

// KafkaTopic is the Kafka topic an MQTT topic is read from: every '/'
// becomes '.'. Only MQTT topics without '.' whose result is a legal Kafka
// name (letters, digits, '.', '_', '-', at most 249 bytes) have one.
func KafkaTopic(mqttTopic string) (string, bool) {
	if strings.IndexByte(mqttTopic, '.') >= 0 || len(mqttTopic) == 0 || len(mqttTopic) > 249 {
		return "", false
	}
	for i := 0; i < len(mqttTopic); i++ {
		c := mqttTopic[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '_' || c == '-') {
			return "", false
		}
	}
	return strings.ReplaceAll(mqttTopic, "/", "."), true
}

// Header names a Kafka record's key travels under to MQTT.
const keyProperty = "kafka.key"

var (
	keyName  = []byte(keyProperty)
	decoders = sync.Pool{New: func() any { return new(decoder) }}
)

// decoder is the scratch of one deliverProduced call, pooled.
type decoder struct {
	dec   record.Decompressor
	buf   []byte        // decompressed records
	topic []byte        // the MQTT topic
	ents  []topic.Entry // subscribers matched, only counted
}

// deliverProduced hands every record of a produced partition's batches to
// the live MQTT subscribers of the partition's MQTT topic (bridge.subscribers:
// the mapped one, else MQTTTopic(topic)), without storing them again
// (Kafka appended them). Runs on a Kafka event loop: batches were validated
// by the Kafka server, and a record that fails to decode here stops the
// delivery of its batch, never the process. Each record becomes one QoS 1
// message: value as payload, key as user property "kafka.key" (when not
// null), then the headers as user properties in order.
// With no subscriber of the topic it returns before decoding anything, so
// a Kafka-only workload pays one index match per partition and allocates
// nothing.
func deliverProduced(hub *message.Hub, br *bridge, kafkaTopic []byte, p int32, batches []byte) {
	d := decoders.Get().(*decoder)
	defer decoders.Put(d)
	mqttTopic, ok := br.subscribers(d.topic, kafkaTopic, p)
	d.topic = mqttTopic
	if !ok {
		return
	}
	d.ents = hub.Index().Match(mqttTopic, d.ents[:0])
	n := len(d.ents)
	clear(d.ents) // drop the references to the subscribers
	if n == 0 {
		return
	}
	for rest := batches; len(rest) > 0; {
		b, r, err := record.Next(rest)
		if err != nil {
			return
		}
		rest = r
		recs, err := d.dec.Records(&b, d.buf[:0])
		if err != nil {
			continue
		}
		if b.Compression() != record.None {
			d.buf = recs[:0]
		}
		it := record.NewIter(recs, b.NumRecords)
		var rec record.Record
		for it.Next(&rec) {
			hub.Fanout(produced(mqttTopic, b.FirstTimestamp, &rec))
		}
	}
}

// produced copies one Kafka record into an owned message (one allocation
// for its bytes, one for its properties).
func produced(topic []byte, firstTs int64, rec *record.Record) *message.Message {
	n := len(topic) + len(rec.Value) + len(rec.Headers)
	props := int(rec.NumHeaders)
	if rec.Key != nil {
		n += len(keyName) + len(rec.Key)
		props++
	}
	var bld message.Builder
	bld.Reserve(n)
	m := &message.Message{Topic: bld.Copy(topic), Payload: bld.Copy(rec.Value), QoS: 1,
		Timestamp: firstTs + rec.TimestampDelta}
	if m.Payload == nil {
		m.Payload = []byte{}
	}
	if props > 0 {
		m.User = make([]message.UserProperty, 0, props)
	}
	if rec.Key != nil {
		m.User = append(m.User, message.UserProperty{Key: bld.Copy(keyName), Value: bld.Copy(rec.Key)})
	}
	for h := rec.HeaderIter(); h.Next(); {
		v := h.Value
		if v == nil {
			v = []byte{}
		}
		m.User = append(m.User, message.UserProperty{Key: bld.Copy(h.Key), Value: bld.Copy(v)})
	}
	return m
}
