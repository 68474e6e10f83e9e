// Package broker is the Broker role's component: it builds the delivery
// hub (server/message) over a storage adapter, the MQTT server
// (server/mqtt) on it, and serves MQTT on the listeners the config names:
//
//	mqtt_tcp  mqtt_runtime.server.tcp_port         tcp (gnet loops)
//	mqtt_tls  mqtt_runtime.server.tls_port         tls, broker_network.tls_cert/tls_key
//	mqtt_ws   mqtt_runtime.server.websocket_port   ws, path /mqtt, subprotocol mqtt
//	mqtt_wss  mqtt_runtime.server.websockets_port  wss, same path and certificate
//	kafka_tcp kafka_runtime.tcp_port               tcp, Kafka (server/kafka)
//
// A port of 0 disables its listener. Every listener takes its netpoll
// settings from [network] and registers a probe in the node's listener
// registry once bound (readiness, /api/info).
//
// Config mapping ([mqtt_runtime]): protocol.* and keep_alive.* as named
// in mqtt.Options; protocol.default_session_expiry_interval is the expiry
// of 3.x persistent sessions; offline_message.enable = false drops messages
// for offline sessions, max_messages_num bounds each session's queue (0:
// 1000; offline QoS 1/2 messages are also logged, see server/mqtt
// "Persistence"). Login, ACL and blacklist: server/message/auth through
// admin_auth.go ([mqtt_runtime.auth]: allow_anonymous, acl_no_match, JWT;
// auth.default_user is created as a superuser). keep_alive.default_timeout
// is not used: the timeout is 1.5 x keepalive as the spec says.
//
// Storage seam: Options.Storage is the shard.Adapter messages are appended
// to. The node's constructor (New, in the builders table) passes none, so
// Start (not New: components are built before any starts) looks in the
// node's storage slot (env.Storage): on a node with the engine role the
// Storage Engine started first and provided its router, whose default
// engine (segment) new topic shards go to, so a QoS 1 PUBACK follows the
// segment's fsync; the broker does not close it. On a node without that
// role it builds and owns a router over the memory engine (shard/memory)
// and logs a warning: remote storage engines are not wired yet.
// NewWith(env, Options{Storage: r}) uses r as given and does not close it.
// The hub is built in Start too; Hub is nil before.
//
// # Kafka
//
// With kafka_runtime.tcp_port set, Start builds a kafka.Server
// (kafka.FromConfig: advertised broker_ip, or each client's destination address, with
// that port, broker_id, cluster_name, auto-create, size limits, SASL) over
// the same router as the hub, with new partitions on the same engine (the
// Storage Engine's default, segment, when the node has that role; acks=all
// then answers after the segment's fsync). Consumer-group offsets (and the
// Kafka layer's group state and topic records kept with them) go to the
// Meta Service's offset group (metaclient.OffsetStore over meta_addrs), so
// every broker sees them and they outlive any broker; a broker built
// without MetaAddrs (tests) uses the engine's local OffsetStore, or opens
// shard/offsetstore under <data_path>/broker-offsets and logs a warning.
//
// MQTT state (sessions, offline messages' log names, retained messages,
// wills) is kept through metaState (mqttstate.go) on the Meta Service's mqtt
// group, and schemas with their bindings in its KV (admin_schema.go); the
// broker restores both before its listeners open, so it does not start
// while no meta node answers. metaState is an mqtt.DueStore: a session
// record is written with its due entries (metaclient.TableDue, owner =
// this node's broker_id) in one meta transaction, and only the sessions
// this node owns are restored. Session expiry and delayed wills are the
// metadata leader's controller's: it hands due entries to a live broker
// (metaclient.TableFired), and this node's dueFollower (mqttdue.go),
// woken by a Watch of the mqtt group and every second, acts on its own:
// FireDue for a session it holds, else FireRecord on the stored record
// (its broker was lost) under a compare, then deletes the entry. Owners:
// metaclient.TableOwner names the broker that owns each session; a
// CONNECT's save takes it (compare-and-set on the value read, the later
// CONNECT winning) and leaves a release notice (metaclient.DueRelease)
// for the previous owner, which gives the session up (mqtt Release);
// other saves compare the owner with what this node wrote and fail with
// mqtt.ErrNotOwner when another broker has it.
//
// Topic bridge (MQTT <-> Kafka). Rule: MQTT topic m is Kafka topic
// KafkaTopic(m), every '/' replaced by '.' ("a/b" <-> "a.b"), and Kafka
// topic k is MQTT topic MQTTTopic(k), every '.' replaced by '/'. MQTT
// topics holding a '.' or a byte Kafka names refuse (anything but
// [a-zA-Z0-9._-] and '/') have no Kafka name. The table
// kafka_runtime.topic_mapping maps named MQTT topics to any Kafka topic
// and partition instead (exact names; the rule order is bridge's doc, in
// kafka_bridge.go). Both protocols share one log: kafka.Options.Naming
// (bridge) puts partition 0 of Kafka topic k on the hub's shard of
// MQTTTopic(k), message.ShardName ("a/b_0"); partitions 1.. keep "{k}_{p}"
// and are Kafka-only for reading. So:
//   - MQTT -> Kafka: a publish to a/b is appended by the hub to "a/b_0";
//     a Kafka consumer of a.b reads it (the Kafka server wraps plain
//     records into v2 batches at fetch): value = payload, key = null (MQTT
//     has none), headers = mqtt.qos, mqtt.content_type, ... then the user
//     properties in order (server/message doc). A topic MQTT wrote first
//     becomes a one-partition Kafka topic when a Metadata request names it
//     (the Kafka server adopts the existing shard, auto-create or not) or
//     at restart (its loader finds "a/b_0").
//   - Kafka -> MQTT: kafka.Options.OnProduce hands each validated partition
//     of a Produce to deliverProduced on the Kafka event loop, which decodes
//     the batches and calls hub.Fanout (no second append: Kafka stored them)
//     with one QoS 1 message per record: payload = value, user properties =
//     "kafka.key" (when the key is not null) then the headers in order, to
//     the live subscribers of MQTTTopic(k), every partition. Delivery runs
//     beside the append, as MQTT's does: a record whose append fails was
//     delivered but not stored. Offline MQTT sessions queue it as any
//     publish; retained state is not touched.
//
// A Kafka DeleteTopics of a bridged topic deletes the MQTT topic's shard
// too; kafka.Options.OnDelete then makes the hub forget it
// (message.Hub.ForgetTopic), so the next MQTT publish creates the shard
// again and Kafka adopts it when the topic is asked for. Known limit:
// shards "x.y_0" written by a Kafka topic with a '.' before the bridge
// existed are not found by the loader any more (it looks for "x/y_0").
//
// Admin routes (registered in New, behind the admin server's auth):
//
//	GET /api/mqtt/topic/list   per-topic counters (message.Hub.Topics)
//	GET /api/mqtt/overview     sessions, connections per listener, delayed
//	                           messages; 503 while the broker is not running
//
// and the route families documented where they live: clients, kick,
// sessions, subscriptions, retained messages (admin_mqtt.go); users, ACL,
// blacklist (admin_auth.go); schemas and bindings (admin_schema.go). Start
// also starts the $SYS publisher (mqtt_runtime.system_monitor.
// system_topic_interval_ms; 0 = off) once the listeners are bound.
//
// Life: New wires and does no I/O; Start binds the listeners (all or none:
// a failure shuts down those already bound); Stop sends every MQTT client a
// DISCONNECT 0x8B, shuts the MQTT listeners down (waiting for every
// OnClose), then Kafka (its listener, then its workers), stops the MQTT
// server's keepalive goroutine and closes the storage and offset store it
// owns: all before the engine role stops and withdraws its storage.
package broker
