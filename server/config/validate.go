package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
)

// ListenerSpec is one port this node binds.
type ListenerSpec struct {
	Name string // "grpc", "http", "prometheus", "mqtt_tcp", "mqtt_tls", "mqtt_ws", "mqtt_wss",
	// "kafka_tcp", "nats_tcp", "nats_tls", "nats_ws", "nats_wss", "amqp_tcp", "engine_tcp".
	Key  string // config key of the port, e.g. "mqtt_runtime.server.tcp_port".
	Addr string // bind address, bind_ip:port.
	Port int
	TLS  bool // serve TLS with broker_network.tls_cert/tls_key.
}

// portDef describes one port key. role "" means every node binds it.
type portDef struct {
	name     string
	key      string
	role     Role
	required bool // 0 is an error when the role is on; otherwise 0 disables.
	tls      bool
	unbound  bool // validated as a port, never bound (quic_port).
	get      func(*Config) int
}

// ports is every port key, in Listeners order.
var ports = []portDef{
	{name: "grpc", key: "grpc_port", required: true, get: func(c *Config) int { return c.GRPCPort }},
	{name: "http", key: "http_port", required: true, get: func(c *Config) int { return c.HTTPPort }},
	{name: "prometheus", key: "prometheus_port", get: func(c *Config) int { return c.PrometheusPort }},
	{name: "mqtt_tcp", key: "mqtt_runtime.server.tcp_port", role: RoleBroker,
		get: func(c *Config) int { return c.MQTTRuntime.Server.TCPPort }},
	{name: "mqtt_tls", key: "mqtt_runtime.server.tls_port", role: RoleBroker, tls: true,
		get: func(c *Config) int { return c.MQTTRuntime.Server.TLSPort }},
	{name: "mqtt_ws", key: "mqtt_runtime.server.websocket_port", role: RoleBroker,
		get: func(c *Config) int { return c.MQTTRuntime.Server.WebsocketPort }},
	{name: "mqtt_wss", key: "mqtt_runtime.server.websockets_port", role: RoleBroker, tls: true,
		get: func(c *Config) int { return c.MQTTRuntime.Server.WebsocketsPort }},
	{name: "mqtt_quic", key: "mqtt_runtime.server.quic_port", role: RoleBroker, unbound: true,
		get: func(c *Config) int { return c.MQTTRuntime.Server.QUICPort }},
	{name: "kafka_tcp", key: "kafka_runtime.tcp_port", role: RoleBroker,
		get: func(c *Config) int { return c.KafkaRuntime.TCPPort }},
	{name: "nats_tcp", key: "nats_runtime.tcp_port", role: RoleBroker,
		get: func(c *Config) int { return c.NATSRuntime.TCPPort }},
	{name: "nats_tls", key: "nats_runtime.tls_port", role: RoleBroker, tls: true,
		get: func(c *Config) int { return c.NATSRuntime.TLSPort }},
	{name: "nats_ws", key: "nats_runtime.ws_port", role: RoleBroker,
		get: func(c *Config) int { return c.NATSRuntime.WSPort }},
	{name: "nats_wss", key: "nats_runtime.wss_port", role: RoleBroker, tls: true,
		get: func(c *Config) int { return c.NATSRuntime.WSSPort }},
	{name: "amqp_tcp", key: "amqp_runtime.tcp_port", role: RoleBroker,
		get: func(c *Config) int { return c.AMQPRuntime.TCPPort }},
	{name: "engine_tcp", key: "storage_runtime.tcp_port", role: RoleEngine, required: true,
		get: func(c *Config) int { return c.StorageRuntime.TCPPort }},
}

// HasRole reports whether roles lists r.
func (c *Config) HasRole(r Role) bool { return slices.Contains(c.Roles, string(r)) }

// Listeners lists every port this node binds given its roles, in a fixed
// order: grpc, http, prometheus, then the broker's protocol listeners, then
// engine_tcp. An optional listener whose port is 0 is left out. mqtt quic is
// never listed: there is no QUIC listener yet.
func (c *Config) Listeners() []ListenerSpec {
	var out []ListenerSpec
	for i := range ports {
		p := &ports[i]
		if p.unbound || (p.role != "" && !c.HasRole(p.role)) {
			continue
		}
		port := p.get(c)
		if port == 0 {
			continue
		}
		out = append(out, ListenerSpec{
			Name: p.name, Key: p.key, Port: port, TLS: p.tls,
			Addr: net.JoinHostPort(c.BindIP, strconv.Itoa(port)),
		})
	}
	return out
}

// MaxInboundBytes is the bound on one connection's unconsumed input for the
// listener named name (a ListenerSpec.Name): network.max_inbound_bytes when
// set, else the largest frame the listener's protocol accepts plus one read
// buffer (64 KiB) for the start of the next frame:
//
//	mqtt_*   mqtt_runtime.protocol.max_packet_size + 5 (fixed header)
//	nats_*   nats_runtime.max_payload + 4 KiB (control line, as nats-server)
//	kafka_*  100 MiB (Kafka's socket.request.max.bytes: one Produce request
//	         carries a batch of up to max_message_bytes per partition)
//	others   1 MiB
func (c *Config) MaxInboundBytes(name string) int {
	if n := c.Network.MaxInboundBytes; n != 0 {
		return n
	}
	const readBuffer = 64 << 10
	switch {
	case strings.HasPrefix(name, "mqtt_"):
		return c.MQTTRuntime.Protocol.MaxPacketSize + 5 + readBuffer
	case strings.HasPrefix(name, "nats_"):
		return c.NATSRuntime.MaxPayload + 4<<10 + readBuffer
	case strings.HasPrefix(name, "kafka_"):
		return 100<<20 + readBuffer
	}
	return 1<<20 + readBuffer
}

// MetaNode is one entry of meta_addrs.
type MetaNode struct {
	ID   uint64
	Addr string // host:grpc_port
}

// MetaNodes is meta_addrs sorted by id. REQUIRES: a validated config.
func (c *Config) MetaNodes() []MetaNode {
	out := make([]MetaNode, 0, len(c.MetaAddrs))
	for k, addr := range c.MetaAddrs {
		id, _ := strconv.ParseUint(k, 10, 64) // validated.
		out = append(out, MetaNode{ID: id, Addr: addr})
	}
	slices.SortFunc(out, func(a, b MetaNode) int { return cmpUint(a.ID, b.ID) })
	return out
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// AdvertiseIP is the address this node gives to others: broker_ip when set,
// else the first non-loopback IPv4 address of an interface that is up, else
// 127.0.0.1 (RobustMQ also detects the local IP when broker_ip is unset).
func (c *Config) AdvertiseIP() string {
	if c.BrokerIP != "" {
		return c.BrokerIP
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return "127.0.0.1"
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// Validate checks every value and returns all problems at once, as
// errors.Join of *KeyError, or nil.
func (c *Config) Validate() error {
	ps := c.problems()
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// checker collects at most one problem per key.
type checker struct {
	out  []*KeyError
	seen map[string]bool
}

func (k *checker) add(key string, kind error, format string, args ...any) {
	if k.seen[key] {
		return
	}
	k.seen[key] = true
	k.out = append(k.out, &KeyError{Key: key, Msg: fmt.Sprintf(format, args...), Kind: kind})
}

// atLeast checks v >= lo.
func (k *checker) atLeast(key string, v, lo int) {
	if v < lo {
		k.add(key, ErrValue, "%d is below the minimum %d", v, lo)
	}
}

// between checks lo <= v <= hi.
func (k *checker) between(key string, v, lo, hi int) {
	if v < lo || v > hi {
		k.add(key, ErrValue, "%d is outside %d..%d", v, lo, hi)
	}
}

// oneOf checks that v is one of allowed.
func (k *checker) oneOf(key, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		k.add(key, ErrValue, "%q is not one of %s", v, strings.Join(allowed, " | "))
	}
}

func (k *checker) nonEmpty(key, v string) {
	if strings.TrimSpace(v) == "" {
		k.add(key, ErrValue, "must not be empty")
	}
}

// problems is Validate's list, in a stable order.
func (c *Config) problems() []*KeyError {
	k := &checker{seen: map[string]bool{}}
	c.checkPorts(k)
	c.checkNode(k)
	c.checkSections(k)
	// Last, so the specific messages above win: no count or size is negative.
	for _, lf := range leaves(c) {
		if lf.v.CanInt() && lf.v.Int() < 0 {
			k.add(lf.key, ErrValue, "%d is negative", lf.v.Int())
		}
	}
	return k.out
}

func (c *Config) checkPorts(k *checker) {
	for i := range ports {
		p := &ports[i]
		v := p.get(c)
		on := p.role == "" || c.HasRole(p.role)
		switch {
		case v < 0 || v > 65535:
			k.add(p.key, ErrValue, "%d is not a port (1..65535)", v)
		case v == 0 && p.required && on:
			k.add(p.key, ErrValue, "0 is not a port (1..65535); this listener cannot be disabled")
		}
	}
	byPort := map[int]string{}
	for _, l := range c.Listeners() {
		if other, dup := byPort[l.Port]; dup {
			k.add(l.Key, ErrPortConflict, "port %d is also %s", l.Port, other)
			continue
		}
		byPort[l.Port] = l.Key
	}
}

func (c *Config) checkNode(k *checker) {
	k.nonEmpty("cluster_name", c.ClusterName)
	if c.BrokerID == 0 {
		k.add("broker_id", ErrValue, "0 is not a node id (raft ids start at 1)")
	}
	if c.BrokerIP != "" && !isHost(c.BrokerIP) {
		k.add("broker_ip", ErrValue, "%q is not an IP address or host name", c.BrokerIP)
	}
	if net.ParseIP(c.BindIP) == nil {
		k.add("bind_ip", ErrValue, "%q is not an IP address", c.BindIP)
	}
	k.nonEmpty("data_path", c.DataPath)

	if len(c.Roles) == 0 {
		k.add("roles", ErrValue, "empty: list at least one of meta, broker, engine")
	}
	for i, r := range c.Roles {
		switch {
		case r != string(RoleMeta) && r != string(RoleBroker) && r != string(RoleEngine):
			k.add("roles", ErrValue, "unknown role %q (want meta, broker or engine)", r)
		case slices.Index(c.Roles, r) != i:
			k.add("roles", ErrValue, "role %q listed twice", r)
		}
	}

	for _, id := range sortedKeys(c.MetaAddrs) {
		key := "meta_addrs." + id
		if n, err := strconv.ParseUint(id, 10, 64); err != nil || n == 0 {
			k.add(key, ErrValue, "%q is not a node id (a positive integer)", id)
			continue
		}
		addr := c.MetaAddrs[id]
		host, port, err := net.SplitHostPort(addr)
		if err != nil || !isHost(host) {
			k.add(key, ErrValue, "%q is not host:port", addr)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			k.add(key, ErrValue, "%q: %s is not a port (1..65535)", addr, port)
		}
	}
	self := strconv.FormatUint(c.BrokerID, 10)
	switch addr, ok := c.MetaAddrs[self]; {
	case len(c.MetaAddrs) == 0:
		k.add("meta_addrs", ErrValue, "empty: list every meta node as id = \"host:grpc_port\"")
	case c.HasRole(RoleMeta) && !ok:
		k.add("meta_addrs", ErrValue, "has no entry for this node (broker_id %s), which has the meta role", self)
	case c.HasRole(RoleMeta) && !k.seen["meta_addrs."+self] && !k.seen["grpc_port"]:
		if _, port, _ := net.SplitHostPort(addr); port != strconv.Itoa(c.GRPCPort) {
			k.add("meta_addrs."+self, ErrValue, "%q: port differs from this node's grpc_port %d", addr, c.GRPCPort)
		}
	}
}

func (c *Config) checkSections(k *checker) {
	l := &c.Log
	k.oneOf("log.level", l.Level, "debug", "info", "warn", "error")
	k.oneOf("log.format", l.Format, "text", "json")
	k.oneOf("log.output", l.Output, "stdout", "stderr", "file")
	if l.Output == "file" {
		k.nonEmpty("log.log_path", l.LogPath)
	}

	k.atLeast("runtime.default_topic_partition_num", c.Runtime.DefaultTopicPartitionNum, 1)
	k.atLeast("runtime.default_topic_replica_num", c.Runtime.DefaultTopicReplicaNum, 1)
	k.atLeast("runtime.shutdown_timeout_ms", c.Runtime.ShutdownTimeoutMs, 1)

	m := &c.MetaRuntime
	k.atLeast("meta_runtime.heartbeat_check_time_ms", m.HeartbeatCheckTimeMs, 1)
	if m.HeartbeatTimeoutMs <= m.HeartbeatCheckTimeMs {
		k.add("meta_runtime.heartbeat_timeout_ms", ErrValue, "%d must exceed heartbeat_check_time_ms %d",
			m.HeartbeatTimeoutMs, m.HeartbeatCheckTimeMs)
	}
	k.atLeast("meta_runtime.raft_write_timeout_sec", m.RaftWriteTimeoutSec, 1)
	k.atLeast("meta_runtime.raft_tick_ms", m.RaftTickMs, 1)
	k.atLeast("meta_runtime.offset_raft_group_num", m.OffsetRaftGroupNum, 1)
	k.atLeast("meta_runtime.data_raft_group_num", m.DataRaftGroupNum, 1)

	s := &c.StorageRuntime
	if s.MaxSegmentSize < 1<<20 || s.MaxSegmentSize > 1<<32-1 {
		k.add("storage_runtime.max_segment_size", ErrValue, "%d is outside 1 MiB..4 GiB-1", s.MaxSegmentSize)
	}
	k.atLeast("storage_runtime.io_thread_num", s.IOThreadNum, 1)
	if len(s.DataPath) == 0 {
		k.add("storage_runtime.data_path", ErrValue, "empty: list at least one directory")
	}
	for i, p := range s.DataPath {
		switch {
		case strings.TrimSpace(p) == "":
			k.add("storage_runtime.data_path", ErrValue, "element %d is empty", i)
		case slices.Index(s.DataPath, p) != i:
			k.add("storage_runtime.data_path", ErrValue, "%q listed twice", p)
		}
	}

	for _, l := range c.Listeners() {
		if l.TLS {
			k.nonEmpty("broker_network.tls_cert", c.BrokerNetwork.TLSCert)
			k.nonEmpty("broker_network.tls_key", c.BrokerNetwork.TLSKey)
			break
		}
	}

	n := &c.Network
	if n.ReadBufferBytes != 0 {
		k.atLeast("network.read_buffer_bytes", n.ReadBufferBytes, 512)
	}
	k.atLeast("network.max_outbound_bytes", n.MaxOutboundBytes, 4096)
	if n.MaxInboundBytes != 0 {
		k.atLeast("network.max_inbound_bytes", n.MaxInboundBytes, 4096)
	}
	k.atLeast("network.max_queued_tasks", n.MaxQueuedTasks, 1)
	k.atLeast("network.handshake_timeout_ms", n.HandshakeTimeoutMs, 1)

	k.nonEmpty("admin.username", c.Admin.Username)
	k.nonEmpty("admin.password", c.Admin.Password)
	k.nonEmpty("admin.jwt_secret", c.Admin.JWTSecret)
	k.atLeast("admin.token_ttl_hours", c.Admin.TokenTTLHours, 1)

	c.checkMQTT(k)

	k.oneOf("mqtt_runtime.auth.acl_no_match", c.MQTTRuntime.Auth.ACLNoMatch, "allow", "deny")

	k.atLeast("kafka_runtime.max_fetch_bytes", c.KafkaRuntime.MaxFetchBytes, 1)
	k.atLeast("kafka_runtime.max_message_bytes", c.KafkaRuntime.MaxMessageBytes, 1)
	for _, mech := range c.KafkaRuntime.SASL.Mechanisms {
		k.oneOf("kafka_runtime.sasl.mechanisms", mech, "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
	}
	c.KafkaRuntime.topicMappings(k)

	k.between("nats_runtime.max_payload", c.NATSRuntime.MaxPayload, 1, 64<<20)
	k.atLeast("nats_runtime.ping_interval", c.NATSRuntime.PingInterval, 1)
	k.atLeast("nats_runtime.ping_max", c.NATSRuntime.PingMax, 1)

	if p := c.LLMClient.Platform; p != "" {
		k.oneOf("llm_client.platform", p, "open_ai", "open_ai_resp", "gemini", "anthropic", "fireworks",
			"together", "groq", "mimo", "nebius", "xai", "deep_seek", "zai", "big_model", "cohere", "ollama")
	}
}

func (c *Config) checkMQTT(k *checker) {
	ka := &c.MQTTRuntime.KeepAlive
	k.between("mqtt_runtime.keep_alive.max_time", ka.MaxTime, 1, 65535)
	k.between("mqtt_runtime.keep_alive.default_time", ka.DefaultTime, 1, ka.MaxTime)
	k.atLeast("mqtt_runtime.keep_alive.default_timeout", ka.DefaultTimeout, 1)

	p := &c.MQTTRuntime.Protocol
	k.between("mqtt_runtime.protocol.max_packet_size", p.MaxPacketSize, 64, 268435455)
	k.between("mqtt_runtime.protocol.receive_max", p.ReceiveMax, 1, 65535)
	k.between("mqtt_runtime.protocol.topic_alias_max", p.TopicAliasMax, 0, 65535)
	k.between("mqtt_runtime.protocol.default_session_expiry_interval", p.DefaultSessionExpiryInterval,
		0, p.MaxSessionExpiryInterval)

	k.oneOf("mqtt_runtime.slow_subscribe.delay_type", c.MQTTRuntime.SlowSubscribe.DelayType, "Whole", "Partial")
	k.oneOf("mqtt_runtime.schema.strategy", c.MQTTRuntime.Schema.Strategy, "ALL", "Any")
	k.oneOf("mqtt_runtime.protocol.shared_subscription_strategy", c.MQTTRuntime.Protocol.SharedSubscriptionStrategy,
		"round_robin", "random")
	k.oneOf("mqtt_runtime.schema.failed_operation", c.MQTTRuntime.Schema.FailedOperation,
		"Discard", "DisconnectAndDiscard", "Ignore")
	sv := &c.MQTTRuntime.Server
	k.oneOf("mqtt_runtime.server.tls_client_verify", sv.TLSClientVerify, "none", "request", "require")
	if sv.TLSClientVerify != "none" {
		k.nonEmpty("mqtt_runtime.server.tls_client_ca", sv.TLSClientCA)
	}
	sm := &c.MQTTRuntime.SystemMonitor
	if sm.OSCPUHighWatermark < 0 || sm.OSCPUHighWatermark > 100 {
		k.add("mqtt_runtime.system_monitor.os_cpu_high_watermark", ErrValue, "%g is not a percentage", sm.OSCPUHighWatermark)
	}
	if sm.OSMemoryHighWatermark < 0 || sm.OSMemoryHighWatermark > 100 {
		k.add("mqtt_runtime.system_monitor.os_memory_high_watermark", ErrValue, "%g is not a percentage",
			sm.OSMemoryHighWatermark)
	}
}

// isHost reports whether s is an IP address or a syntactically valid host
// name (letters, digits, '-', '.'; labels of 1..63 bytes).
func isHost(s string) bool {
	if net.ParseIP(s) != nil {
		return true
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// TopicMappings parses kafka_runtime.topic_mapping, sorted by MQTT topic;
// entries Validate refuses are left out.
func (k KafkaRuntimeConfig) TopicMappings() []KafkaTopicMapping {
	return k.topicMappings(&checker{seen: map[string]bool{}})
}

// MaxMappedPartition bounds a mapped partition (the Kafka topic gets at
// least that many partitions plus one).
const MaxMappedPartition = 1023

// topicMappings parses kafka_runtime.topic_mapping and reports each bad
// entry under its own key (kafka_runtime.topic_mapping.<mqtt topic>): an
// MQTT topic that is empty, holds a wildcard ('+', '#') or NUL, or starts
// with '$'; a Kafka topic that is not a legal name ([a-zA-Z0-9._-], 1-249
// bytes, not "." or ".."); a partition that is not an integer in
// 0..MaxMappedPartition; a Kafka partition mapped from two MQTT topics.
func (k KafkaRuntimeConfig) topicMappings(ck *checker) []KafkaTopicMapping {
	var out []KafkaTopicMapping
	owner := map[KafkaTopicMapping]string{} // (kafka, partition) -> MQTT topic
	for _, mqtt := range slices.Sorted(maps.Keys(k.TopicMapping)) {
		key := "kafka_runtime.topic_mapping." + mqtt
		if mqtt == "" || mqtt[0] == '$' || strings.ContainsAny(mqtt, "+#\x00") {
			ck.add(key, ErrValue, "%q is not an MQTT topic name (no wildcard, no leading '$')", mqtt)
			continue
		}
		name, part, hasPart := strings.Cut(k.TopicMapping[mqtt], ":")
		m := KafkaTopicMapping{MQTT: mqtt, Kafka: name}
		if !KafkaTopicName(name) {
			ck.add(key, ErrValue, "%q is not a Kafka topic name ([a-zA-Z0-9._-], 1-249 bytes)", name)
			continue
		}
		if hasPart {
			p, err := strconv.ParseInt(part, 10, 32)
			if err != nil || p < 0 || p > MaxMappedPartition {
				ck.add(key, ErrValue, "partition %q is not an integer in 0..%d", part, MaxMappedPartition)
				continue
			}
			m.Partition = int32(p)
		}
		kp := KafkaTopicMapping{Kafka: m.Kafka, Partition: m.Partition}
		if other, dup := owner[kp]; dup {
			ck.add(key, ErrValue, "Kafka %s partition %d is already mapped from %q", m.Kafka, m.Partition, other)
			continue
		}
		owner[kp] = mqtt
		out = append(out, m)
	}
	return out
}

// KafkaTopicName reports whether s is a legal Kafka topic name: 1-249
// bytes of [a-zA-Z0-9._-], not "." or "..". The Kafka server checks
// topic names with it too.
func KafkaTopicName(s string) bool {
	if s == "" || len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
