// Package config reads a node's config.toml. The keys are RobustMQ's own, so
// an existing RobustMQ config starts our node; config/server.toml.template in
// the repository documents every key with its default.
//
// # Loading
//
// Load(path, os.Environ()) builds a Config in three layers, later ones
// winning: Default(), the TOML file, then environment variables named
// ROBUST_MQ_SERVER_<KEY PATH> (upper case, "." -> "_"), e.g.
// ROBUST_MQ_SERVER_GRPC_PORT or ROBUST_MQ_SERVER_MQTT_RUNTIME_SERVER_TCP_PORT.
// An env value is read with the key's type: strings as they are, numbers and
// booleans as TOML values, lists as a TOML array or a comma list
// (ROBUST_MQ_SERVER_ROLES=meta,broker), meta_addrs as a TOML inline table or
// "1=h1:1228,2=h2:1228". Lists and meta_addrs are replaced whole, never merged;
// ROBUST_MQ_SERVER_META_ADDRS_<ID>=host:port sets one entry. A string may
// also be written TOML-quoted (CLUSTER_NAME='"prod"'), as RobustMQ, which
// splices env values into its file as TOML, requires; so RobustMQ's env
// settings work here too.
//
// Reading is strict. A key the Config does not have is an error naming its
// full path ("config: mqtt_runtime.server.tcp_prot: unknown key
// (server.toml:12:1)"); so is a value of the wrong type. A key RobustMQ
// accepts that this node does not act on yet (struct tag impl:"no") is
// accepted with one Warning naming it, when the file or the environment sets
// it. An env variable with our prefix that matches no key is a Warning too.
//
// # Validation
//
// After loading, Validate checks every value. Errors from reading and from
// validation are all collected and returned together (errors.Join of
// *KeyError), one per key, so an operator fixes everything in one go. Each
// reads "config: <key.path>: <what is wrong>", followed by where the value
// came from when Load knows it:
//
//	config: grpc_port: 70000 is not a port (1..65535) (server.toml:4:1)
//	config: grpc_port: want an integer, got "x" (env ROBUST_MQ_SERVER_GRPC_PORT)
//
// A file that is not TOML is the one exception: its first syntax error is
// returned alone, as "config: <file>:<line>:<col>: ...". The sentinels
// ErrUnknownKey, ErrType, ErrValue and ErrPortConflict allow errors.Is.
//
// # Listeners and ports
//
// Listeners returns the ports this node binds given its roles: every node
// binds grpc_port, http_port and prometheus_port; the broker role adds MQTT
// (tcp, tls, websocket, websockets), Kafka, NATS (tcp, tls, ws, wss) and AMQP;
// the engine role adds storage_runtime.tcp_port. All bind bind_ip (default
// 0.0.0.0, as RobustMQ binds); broker_ip is the advertised address and, when
// unset, is detected (AdvertiseIP).
//
// A port is 1..65535. grpc_port, http_port and (with the engine role)
// storage_runtime.tcp_port are required; for every other listener 0 means
// disabled, so a broker can, say, run MQTT without Kafka. quic_port is
// checked but never bound (no QUIC yet). Two listeners of one node on one
// port is an error naming both keys. TLS listeners use
// broker_network.tls_cert and tls_key.
//
// [network] is ours: one key per netpoll.ListenerConfig field, shared by
// every protocol listener; MaxInboundBytes derives the per-listener input
// bound from the protocol's largest frame.
//
// # Implemented keys
//
// Which RobustMQ keys this node acts on is written once, as impl:"no" struct
// tags in config.go; the template's "not implemented" comments mirror them
// (TestTemplateIsDefault checks the template warns for exactly those keys).
// Whoever implements a key removes its tag and its comment.
//
// # Concurrency
//
// Load, Validate and Default use reflection and are for start-up only. A
// loaded Config is a plain value: read it from any goroutine, never mutate it
// after the node starts.
package config
