// Package message is the protocol-neutral delivery hub every protocol front
// end (MQTT now; NATS, Kafka, AMQP and mq9 next) publishes into and
// subscribes from.
//
// # Flow
//
//	Publish(m, done)
//	  ├─ expired (m.ExpiryMs passed)?  dropped, counted, done(nil)
//	  ├─ persistent topic?  AppendAsync to the topic's shard (created on
//	  │                     first use) through the shard.Adapter; done runs
//	  │                     from the append callback with its error
//	  │   else              done(nil) before Publish returns
//	  └─ Match in the topic.Index; every Entry's Target (a Subscriber) gets
//	     Deliver(m, entry) and encodes m in its own wire format
//
// Batch.Publish is Publish for a protocol publishing a burst on one
// goroutine (MQTT: the PUBLISHes of one read): delivery happens at once,
// the appends wait in the Batch and consecutive messages to one shard at
// one durability go to the store as one AppendAsync (at most 256 messages
// or 256 KiB of payload), when the shard or durability changes, the batch
// is full or its owner calls Flush at the end of the burst. A failed
// batched append fails every message in it. Batch.Now reads the clock
// once per burst. A Subscriber that also implements BatchSubscriber gets
// the deliveries of Batch.Publish with the Batch and may Note itself
// there for the batch's owner (MQTT flushes those subscribers when the
// read ends). A failed append is logged at most once a second (the
// count not logged goes with the next line); every one is counted.
//
// PublishAt holds a message until its time (delayed publish): one heap and
// one timer for the whole hub, bounded by Options.MaxDelayed (full: the new
// message is refused with ErrDelayFull), in memory only until due.
//
// Delivery to online subscribers does not wait for the disk: the append and
// the fan-out run side by side. Whoever acknowledges the publisher (MQTT
// PUBACK/PUBREC) waits for done, so an acknowledged message is in the store
// at the durability the caller asked for (Options.Durability by QoS: Sync
// for QoS > 0 by default; the memory engine has no disk and acks in memory).
//
// # Persistence
//
// A topic is persistent when a Store is configured and Options.Persist(topic)
// says so (default: every topic not starting with '$'). Its shard is
// ShardName(topic) = "{topic}_0" (long topics: a prefix and a hash) on Options.Engine (default
// shard.EngineMemory), created with CreateShard the first time the hub
// sees the topic; an already existing shard is used as is. One record per
// message:
//
//	Timestamp  Message.Timestamp (ms)
//	Value      payload
//	Headers    mqtt.qos, mqtt.content_type, mqtt.response_topic,
//	           mqtt.correlation_data, mqtt.payload_format, then the user
//	           properties in order (name, value)
//
// Kafka, NATS and AMQP read the topic's messages from that shard.
//
// # Messages and lifetime
//
// A *Message handed to Publish is owned by the hub and every subscriber it
// reaches: nobody modifies it afterwards, so one copy (made by the protocol
// from its read buffer, see Message) serves every subscriber and every
// queue. The GC frees it when the last queue drops it.
//
// # Subscribers and queues
//
// Deliver runs on the publisher's goroutine (an event loop) and must not
// block: a subscriber puts the message in its own bounded Queue and wakes
// its connection (netpoll Conn.Do). Queue is a ring with a capacity; a
// subscriber whose queue is full either holds the message's Gate (the
// publisher's pending acknowledgement: the publisher is slowed, nothing it
// was told is taken is lost; Queue.PushOver goes past the capacity, the
// excess bounded by the publishers' in-flight windows) or drops the oldest
// message, counted as robustmq_message_dropped_total{reason="queue_full"},
// rather than growing memory without bound or blocking the publisher.
//
// # Benchmarks
//
//	go test -run '^$' -bench Publish -benchmem ./server/message/
//
// BenchmarkPublish: a 128-byte QoS 1 message with a user property to one
// subscriber, appended to its shard on the memory engine, allocates nothing
// (about 0.5 µs/op on 2 shared CPUs) against about 0.15-0.2 µs/op for the
// same hub without a store in the same run. memory-batch64 (through a
// Batch flushed every 64 messages): about 0.4-0.6 µs/op against 1.35 µs
// one by one in the same run.
//
// # Goroutines and locks
//
// The hub starts no goroutine; its delayed-publish timer (time.AfterFunc)
// runs fire on the runtime's timer goroutine, and Close stops it. Publish and Deliver may run on any goroutine
// concurrently. Locks: the topic index's shard locks are held only inside
// Match (Deliver runs after Match returned, with no hub lock held); the
// shard-name cache has one RWMutex per stripe, never held while calling out.
//
// # Metrics
//
//	robustmq_message_published_total         messages given to Publish
//	robustmq_message_delivered_total         Deliver calls
//	robustmq_message_persisted_total         appends acknowledged by the store
//	robustmq_message_dropped_total{reason}   expired | queue_full | store_error | no_subscriber | delay_full | refused
//
// Per-topic counters (published, delivered, payload bytes, shard) are kept
// for every persistent topic and read with Hub.Topics (the broker serves
// them on the admin API); they are not Prometheus series, since topic names
// are client-chosen and would make an unbounded label set.
package message
