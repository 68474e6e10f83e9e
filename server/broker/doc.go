// Package broker is the Broker role's component: it builds the delivery
// hub (server/message) over a storage adapter, the MQTT server
// (server/mqtt) on it, and serves MQTT on the listeners the config names:
//
//	mqtt_tcp  mqtt_runtime.server.tcp_port         tcp (gnet loops)
//	mqtt_tls  mqtt_runtime.server.tls_port         tls, broker_network.tls_cert/tls_key
//	mqtt_ws   mqtt_runtime.server.websocket_port   ws, path /mqtt, subprotocol mqtt
//	mqtt_wss  mqtt_runtime.server.websockets_port  wss, same path and certificate
//
// A port of 0 disables its listener. Every listener takes its netpoll
// settings from [network] and registers a probe in the node's listener
// registry once bound (readiness, /api/info).
//
// Config mapping ([mqtt_runtime]): protocol.* and keep_alive.* as named
// in mqtt.Options; protocol.default_session_expiry_interval is the expiry
// of 3.x persistent sessions; offline_message.enable = false drops messages
// for offline sessions, max_messages_num bounds each session's queue (0:
// 1000, the queue is in memory). Login: with auth.secret_free_login = false
// a client giving a user name must give auth.default_user/default_password
// (else CONNACK 0x86 / return code 4); a client without a user name is
// accepted until the Meta Service holds users. keep_alive.default_timeout
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
// Admin routes (registered in New, behind the admin server's auth):
//
//	GET /api/mqtt/topic/list   per-topic counters (message.Hub.Topics)
//	GET /api/mqtt/overview     sessions, connections per listener, delayed
//	                           messages; 503 while the broker is not running
//
// Life: New wires and does no I/O; Start binds the listeners (all or none:
// a failure shuts down those already bound); Stop sends every MQTT client a
// DISCONNECT 0x8B, shuts the listeners down (waiting for every OnClose),
// stops the MQTT server's keepalive goroutine and closes the storage it owns.
package broker
