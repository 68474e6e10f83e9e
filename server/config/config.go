package config

import (
	"log/slog"
	"path/filepath"
	"time"
)

// Role is one of the three parts a node can run, chosen by the top-level
// `roles` key.
type Role string

// The roles RobustMQ knows. A node runs any non-empty combination.
const (
	RoleMeta   Role = "meta"   // Meta Service: the raft groups holding cluster metadata.
	RoleBroker Role = "broker" // protocol front ends: MQTT, Kafka, NATS, AMQP.
	RoleEngine Role = "engine" // storage engine: segments on local disks.
)

// Config is a node's whole configuration. Field tags are RobustMQ's own key
// names, so a RobustMQ config.toml loads unchanged.
//
// A field tagged `impl:"no"` (or inside a section so tagged) is a key
// RobustMQ accepts that this node does not act on yet: Load accepts it and
// returns one Warning naming it when the file or the environment sets it.
type Config struct {
	ClusterName string `toml:"cluster_name"`
	BrokerID    uint64 `toml:"broker_id"` // also the raft node id: never 0.
	// BrokerIP is the address other nodes and clients are told to use. Empty
	// means detect it (AdvertiseIP).
	BrokerIP string `toml:"broker_ip"`
	// BindIP is the address every listener binds. Not a RobustMQ key:
	// RobustMQ always binds 0.0.0.0, which is the default.
	BindIP         string   `toml:"bind_ip"`
	Roles          []string `toml:"roles"`
	GRPCPort       int      `toml:"grpc_port"`
	HTTPPort       int      `toml:"http_port"`
	PrometheusPort int      `toml:"prometheus_port"` // 0 disables the separate Prometheus listener.
	DataPath       string   `toml:"data_path"`       // meta data (raft logs, snapshots).
	// MetaAddrs maps a meta node's broker_id (decimal) to its "host:grpc_port".
	MetaAddrs map[string]string `toml:"meta_addrs"`

	Log            LogConfig            `toml:"log"`
	Runtime        RuntimeConfig        `toml:"runtime"`
	MetaRuntime    MetaRuntimeConfig    `toml:"meta_runtime"`
	StorageRuntime StorageRuntimeConfig `toml:"storage_runtime"`
	BrokerNetwork  BrokerNetworkConfig  `toml:"broker_network"`
	Network        NetworkConfig        `toml:"network"`
	Admin          AdminConfig          `toml:"admin"`
	MQTTRuntime    MQTTRuntimeConfig    `toml:"mqtt_runtime"`
	KafkaRuntime   KafkaRuntimeConfig   `toml:"kafka_runtime"`
	NATSRuntime    NATSRuntimeConfig    `toml:"nats_runtime"`
	AMQPRuntime    AMQPRuntimeConfig    `toml:"amqp_runtime"`

	RocksDB      RocksDBConfig      `toml:"rocksdb" impl:"no"` // we store metadata in pebble under data_path.
	DelayTask    DelayTaskConfig    `toml:"delay_task" impl:"no"`
	DelayMessage DelayMessageConfig `toml:"delay_message" impl:"no"`
	ClusterLimit ClusterLimitConfig `toml:"cluster_limit" impl:"no"`
	LLMClient    LLMClientConfig    `toml:"llm_client" impl:"no"`
}

// LogConfig is [log]. RobustMQ's log_config names a log4rs/tracing file we do
// not read; level, format and output are ours.
type LogConfig struct {
	LogConfig string `toml:"log_config" impl:"no"`
	LogPath   string `toml:"log_path"` // directory of the log file when output = "file".
	Level     string `toml:"level"`    // debug | info | warn | error
	Format    string `toml:"format"`   // text | json
	Output    string `toml:"output"`   // stdout | stderr | file (<log_path>/robustmq.log)
}

// RuntimeConfig is [runtime].
type RuntimeConfig struct {
	ChannelsPerAddress       int  `toml:"channels_per_address" impl:"no"`
	ServerWorkerThreads      int  `toml:"server_worker_threads" impl:"no"`
	PprofEnable              bool `toml:"pprof_enable"` // serve /debug/pprof/ on http_port.
	DefaultTopicPartitionNum int  `toml:"default_topic_partition_num"`
	DefaultTopicReplicaNum   int  `toml:"default_topic_replica_num"`
	// ShutdownTimeoutMs bounds a graceful stop: after it, connections are
	// closed hard. Not a RobustMQ key.
	ShutdownTimeoutMs int `toml:"shutdown_timeout_ms"`
}

// MetaRuntimeConfig is [meta_runtime]: heartbeats and raft.
type MetaRuntimeConfig struct {
	HeartbeatTimeoutMs               int `toml:"heartbeat_timeout_ms"`
	HeartbeatCheckTimeMs             int `toml:"heartbeat_check_time_ms"`
	RaftWriteTimeoutSec              int `toml:"raft_write_timeout_sec"`
	OffsetRaftGroupNum               int `toml:"offset_raft_group_num" impl:"no"`
	DataRaftGroupNum                 int `toml:"data_raft_group_num" impl:"no"`
	GroupOffsetExpireSec             int `toml:"group_offset_expire_sec" impl:"no"`
	SegmentLeaderRebalanceIntervalMs int `toml:"segment_leader_rebalance_interval_ms" impl:"no"`
	SegmentLeaderRebalanceMaxMoves   int `toml:"segment_leader_rebalance_max_moves" impl:"no"`
	MetaWorkerThreads                int `toml:"meta_worker_threads" impl:"no"`
	// RaftTickMs is the raft tick; elections take 10 ticks, heartbeats 1. Not
	// a RobustMQ key.
	RaftTickMs int `toml:"raft_tick_ms"`
}

// StorageRuntimeConfig is [storage_runtime]: the storage engine.
type StorageRuntimeConfig struct {
	TCPPort        int      `toml:"tcp_port"`
	MaxSegmentSize int64    `toml:"max_segment_size"` // bytes
	IOThreadNum    int      `toml:"io_thread_num"`
	DataPath       []string `toml:"data_path"` // one directory per disk.

	OffsetEnableCache           bool `toml:"offset_enable_cache" impl:"no"`
	ExpireScanTaskNum           int  `toml:"expire_scan_task_num" impl:"no"`
	NumReplicaFetchers          int  `toml:"num_replica_fetchers" impl:"no"`
	ReplicaFetchMinBytes        int  `toml:"replica_fetch_min_bytes" impl:"no"`
	ReplicaFetchMaxWaitMs       int  `toml:"replica_fetch_max_wait_ms" impl:"no"`
	ReplicaFetchBackoffMs       int  `toml:"replica_fetch_backoff_ms" impl:"no"`
	ReplicaLagTimeMaxMs         int  `toml:"replica_lag_time_max_ms" impl:"no"`
	MetadataReconcileIntervalMs int  `toml:"metadata_reconcile_interval_ms" impl:"no"`
	IsrMaintainIntervalMs       int  `toml:"isr_maintain_interval_ms" impl:"no"`
}

// BrokerNetworkConfig is [broker_network]. RobustMQ's thread and queue keys
// are accepted; our event loops are sized by [network].
type BrokerNetworkConfig struct {
	AcceptThreadNum  int    `toml:"accept_thread_num" impl:"no"`
	HandlerThreadNum int    `toml:"handler_thread_num" impl:"no"`
	QueueSize        int    `toml:"queue_size" impl:"no"`
	TLSCert          string `toml:"tls_cert"` // PEM, used by every TLS listener.
	TLSKey           string `toml:"tls_key"`
}

// NetworkConfig is [network]: the protocol listeners' netpoll settings, one
// key per netpoll.ListenerConfig field. Not a RobustMQ section.
type NetworkConfig struct {
	EventLoopNum   int `toml:"event_loop_num"`  // TCP event loops shared by every TCP listener; 0 = netpoll default (half the CPUs, at least 1).
	MaxConnections int `toml:"max_connections"` // per listener; more are closed at accept. 0 = unlimited.
	// ReadBufferBytes is the read size: per event loop on TCP, per
	// connection on TLS/WS. 0 = netpoll's default (64 KiB TCP, 4 KiB others).
	ReadBufferBytes int `toml:"read_buffer_bytes"`
	// MaxOutboundBytes bounds the unsent output of one connection; a
	// connection over it is a slow consumer and is closed.
	MaxOutboundBytes int `toml:"max_outbound_bytes"`
	// MaxInboundBytes bounds the unconsumed input of one connection. 0 =
	// derived per listener from its protocol's largest frame (MaxInboundBytes).
	MaxInboundBytes int `toml:"max_inbound_bytes"`
	// MaxQueuedTasks bounds the async replies queued for one connection; a
	// full queue closes it as a slow consumer.
	MaxQueuedTasks     int `toml:"max_queued_tasks"`
	SocketRecvBytes    int `toml:"socket_recv_bytes"` // SO_RCVBUF; 0 = OS default.
	SocketSendBytes    int `toml:"socket_send_bytes"` // SO_SNDBUF; 0 = OS default.
	TCPKeepAliveSec    int `toml:"tcp_keepalive_sec"` // 0 = no TCP keepalive probes.
	HandshakeTimeoutMs int `toml:"handshake_timeout_ms"`
	CloseLingerMs      int `toml:"close_linger_ms"` // flush budget of a closing TLS/WS connection.
}

// AdminConfig is [admin]: the admin HTTP API (POST /api/v1/login).
type AdminConfig struct {
	Username      string `toml:"username"`
	Password      string `toml:"password"`
	JWTSecret     string `toml:"jwt_secret"`
	TokenTTLHours int    `toml:"token_ttl_hours"`
}

// MQTTRuntimeConfig is [mqtt_runtime] and its sub-tables.
type MQTTRuntimeConfig struct {
	BrokerWorkerThreads int                      `toml:"broker_worker_threads" impl:"no"`
	Server              MQTTServerConfig         `toml:"server"`
	KeepAlive           MQTTKeepAliveConfig      `toml:"keep_alive"`
	Auth                MQTTAuthConfig           `toml:"auth"`
	OfflineMessage      MQTTOfflineMessageConfig `toml:"offline_message"`
	Protocol            MQTTProtocolConfig       `toml:"protocol"`
	SlowSubscribe       MQTTSlowSubscribeConfig  `toml:"slow_subscribe" impl:"no"`
	FlappingDetect      MQTTFlappingDetectConfig `toml:"flapping_detect" impl:"no"`
	Schema              MQTTSchemaConfig         `toml:"schema"`
	SystemMonitor       MQTTSystemMonitorConfig  `toml:"system_monitor"`
	Limit               MQTTLimitConfig          `toml:"limit" impl:"no"`
}

// MQTTServerConfig is [mqtt_runtime.server]. A port of 0 disables that
// listener.
type MQTTServerConfig struct {
	TCPPort        int `toml:"tcp_port"`
	TLSPort        int `toml:"tls_port"`
	WebsocketPort  int `toml:"websocket_port"`
	WebsocketsPort int `toml:"websockets_port"`
	QUICPort       int `toml:"quic_port" impl:"no"` // no QUIC listener yet.
	// TLSClientVerify asks clients of the TLS and WSS listeners for a
	// certificate: "none", "request" (verified against TLSClientCA when
	// given) or "require" (a client without one is refused). Not a
	// RobustMQ key (mosquitto: require_certificate).
	TLSClientVerify string `toml:"tls_client_verify"`
	TLSClientCA     string `toml:"tls_client_ca"` // PEM CA bundle that signs client certificates.
}

// MQTTKeepAliveConfig is [mqtt_runtime.keep_alive], in seconds.
type MQTTKeepAliveConfig struct {
	Enable         bool `toml:"enable"`
	DefaultTime    int  `toml:"default_time"`    // used when the client asks for 0.
	MaxTime        int  `toml:"max_time"`        // larger client values are lowered to it.
	DefaultTimeout int  `toml:"default_timeout"` // a client silent for keep_alive*this is closed.
}

// MQTTAuthConfig is [mqtt_runtime.auth].
type MQTTAuthConfig struct {
	DefaultUser            string `toml:"default_user"`
	DefaultPassword        string `toml:"default_password"`
	DurableSessionsEnable  bool   `toml:"durable_sessions_enable"`
	SecretFreeLogin        bool   `toml:"secret_free_login"`
	IsSelfProtectionStatus bool   `toml:"is_self_protection_status" impl:"no"`
	// AllowAnonymous accepts a CONNECT without a user name.
	AllowAnonymous bool `toml:"allow_anonymous"`
	// ACLNoMatch decides a publish or subscribe no ACL rule matched: allow | deny.
	ACLNoMatch string `toml:"acl_no_match"`
	// JWT: a password that is a JWT is verified with JWTSecret (HS256/384/512) or the PEM
	// public key in JWTPublicKeyFile (RS256/384/512); both empty = JWT off.
	JWTSecret        string `toml:"jwt_secret"`
	JWTPublicKeyFile string `toml:"jwt_public_key_file"`
	// JWTClientIDClaim and JWTUsernameClaim name the claims that, when present, must equal
	// the CONNECT's client id and user name.
	JWTClientIDClaim string `toml:"jwt_client_id_claim"`
	JWTUsernameClaim string `toml:"jwt_username_claim"`
}

// MQTTOfflineMessageConfig is [mqtt_runtime.offline_message].
type MQTTOfflineMessageConfig struct {
	Enable         bool `toml:"enable"`
	ExpireMs       int  `toml:"expire_ms"`        // 0 = never expires.
	MaxMessagesNum int  `toml:"max_messages_num"` // per session queue; 0 = 1000 while sessions are in memory; oldest dropped past it, counted.
}

// MQTTProtocolConfig is [mqtt_runtime.protocol].
type MQTTProtocolConfig struct {
	MaxSessionExpiryInterval     int  `toml:"max_session_expiry_interval"`     // seconds
	DefaultSessionExpiryInterval int  `toml:"default_session_expiry_interval"` // seconds
	TopicAliasMax                int  `toml:"topic_alias_max"`
	MaxPacketSize                int  `toml:"max_packet_size"` // bytes
	ReceiveMax                   int  `toml:"receive_max"`
	MaxMessageExpiryInterval     int  `toml:"max_message_expiry_interval"` // seconds
	ClientPkidPersistent         bool `toml:"client_pkid_persistent" impl:"no"`
	// SharedSubscriptionStrategy is how a $share group picks the member
	// a message goes to: round_robin | random (ours).
	SharedSubscriptionStrategy string `toml:"shared_subscription_strategy"`
}

// MQTTSlowSubscribeConfig is [mqtt_runtime.slow_subscribe].
type MQTTSlowSubscribeConfig struct {
	Enable     bool   `toml:"enable"`
	RecordTime int    `toml:"record_time"`
	DelayType  string `toml:"delay_type"` // Whole | Partial
}

// MQTTFlappingDetectConfig is [mqtt_runtime.flapping_detect].
type MQTTFlappingDetectConfig struct {
	Enable               bool `toml:"enable"`
	WindowTime           int  `toml:"window_time"`
	MaxClientConnections int  `toml:"max_client_connections"`
	BanTime              int  `toml:"ban_time"`
}

// MQTTSchemaConfig is [mqtt_runtime.schema].
type MQTTSchemaConfig struct {
	Enable          bool   `toml:"enable"`
	Strategy        string `toml:"strategy"`         // ALL | Any
	FailedOperation string `toml:"failed_operation"` // Discard | DisconnectAndDiscard | Ignore
	EchoLog         bool   `toml:"echo_log"`
	LogLevel        string `toml:"log_level"`
}

// MQTTSystemMonitorConfig is [mqtt_runtime.system_monitor].
type MQTTSystemMonitorConfig struct {
	Enable                bool    `toml:"enable" impl:"no"`
	OSCPUHighWatermark    float64 `toml:"os_cpu_high_watermark" impl:"no"`
	OSMemoryHighWatermark float64 `toml:"os_memory_high_watermark" impl:"no"`
	// SystemTopicIntervalMs is the period of the $SYS/brokers/... topics;
	// 0 publishes none.
	SystemTopicIntervalMs int `toml:"system_topic_interval_ms"`
}

// MQTTLimitConfig is [mqtt_runtime.limit.cluster] and [mqtt_runtime.limit.tenant].
type MQTTLimitConfig struct {
	Cluster LimitQuota `toml:"cluster"`
	Tenant  LimitQuota `toml:"tenant"`
}

// LimitQuota is one [mqtt_runtime.limit.*] table.
type LimitQuota struct {
	MaxConnectionsPerNode int `toml:"max_connections_per_node"`
	MaxConnectionRate     int `toml:"max_connection_rate"`
	MaxTopics             int `toml:"max_topics"`
	MaxSessions           int `toml:"max_sessions"`
	MaxPublishRate        int `toml:"max_publish_rate"`
}

// KafkaRuntimeConfig is [kafka_runtime]. tcp_port 0 disables Kafka.
type KafkaRuntimeConfig struct {
	TCPPort                    int             `toml:"tcp_port"`
	MaxFetchBytes              int             `toml:"max_fetch_bytes"`   // per partition in one Fetch.
	MaxMessageBytes            int             `toml:"max_message_bytes"` // one produced record batch.
	MaxDescribeTopicPartitions int             `toml:"max_describe_topic_partitions" impl:"no"`
	AutoCreateTopicsEnable     bool            `toml:"auto_create_topics_enable"`
	SASL                       KafkaSASLConfig `toml:"sasl"` // users are the MQTT user store's
	// TopicMapping bridges MQTT topics to Kafka partitions by exact name:
	// MQTT topic -> "kafka_topic" or "kafka_topic:partition" (partition 0
	// when left out). Topics not named keep the default rule ('/' <-> '.',
	// partition 0; server/broker doc). Parsed by TopicMappings.
	TopicMapping map[string]string `toml:"topic_mapping"`
}

// KafkaTopicMapping is one kafka_runtime.topic_mapping entry, parsed:
// MQTT topic MQTT is partition Partition of Kafka topic Kafka.
type KafkaTopicMapping struct {
	MQTT      string
	Kafka     string
	Partition int32
}

// KafkaSASLConfig is [kafka_runtime.sasl].
type KafkaSASLConfig struct {
	Enabled    bool     `toml:"enabled"`
	Mechanisms []string `toml:"mechanisms"`
}

// NATSRuntimeConfig is [nats_runtime]. A port of 0 disables that listener.
type NATSRuntimeConfig struct {
	TCPPort              int  `toml:"tcp_port"`
	TLSPort              int  `toml:"tls_port"`
	WSPort               int  `toml:"ws_port"`
	WSSPort              int  `toml:"wss_port"`
	MaxPayload           int  `toml:"max_payload"` // bytes, announced in INFO.
	AuthRequired         bool `toml:"auth_required"`
	PingInterval         int  `toml:"ping_interval"` // seconds
	PingMax              int  `toml:"ping_max"`      // unanswered PINGs before close.
	PingSendChunk        int  `toml:"ping_send_chunk" impl:"no"`
	CoreShardNum         int  `toml:"core_shard_num" impl:"no"`
	PushThreadNum        int  `toml:"push_thread_num" impl:"no"`
	PushQueueThreadNum   int  `toml:"push_queue_thread_num" impl:"no"`
	MQ9MailboxDefaultTTL int  `toml:"mq9_mailbox_default_ttl"` // seconds
}

// AMQPRuntimeConfig is [amqp_runtime]. tcp_port 0 disables AMQP.
type AMQPRuntimeConfig struct {
	TCPPort int `toml:"tcp_port"`
}

// RocksDBConfig is RobustMQ's [rocksdb]; accepted, not used.
type RocksDBConfig struct {
	DataPath     string `toml:"data_path"`
	MaxOpenFiles int    `toml:"max_open_files"`
}

// DelayTaskConfig is RobustMQ's [delay_task]; accepted, not used.
type DelayTaskConfig struct {
	DelayTaskQueueNum           int `toml:"delay_task_queue_num"`
	DelayTaskHandlerConcurrency int `toml:"delay_task_handler_concurrency"`
}

// DelayMessageConfig is RobustMQ's [delay_message]; accepted, not used.
type DelayMessageConfig struct {
	MaxRetries           int `toml:"max_retries"`
	InitialRetryDelaySec int `toml:"initial_retry_delay_sec"`
}

// ClusterLimitConfig is RobustMQ's [cluster_limit]; accepted, not used.
type ClusterLimitConfig struct {
	MaxNetworkConnection     int `toml:"max_network_connection"`
	MaxNetworkConnectionRate int `toml:"max_network_connection_rate"`
	MaxConnectionPerIP       int `toml:"max_connection_per_ip"`
	MaxAdminHTTPURIRate      int `toml:"max_admin_http_uri_rate"`
}

// LLMClientConfig is RobustMQ's [llm_client]; accepted, not used.
type LLMClientConfig struct {
	Platform           string `toml:"platform"`
	Model              string `toml:"model"`
	Token              string `toml:"token"`
	BaseURL            string `toml:"base_url"`
	Embedding          string `toml:"embedding"`
	EmbeddingModelPath string `toml:"embedding_model_path"`
}

// Default returns the built-in configuration: a standalone node running
// meta, broker and engine, broker_id 1, data under ./data. Every value equals
// RobustMQ's default except where a comment in server.toml.template says
// otherwise. Each call returns a fresh copy.
func Default() *Config {
	return &Config{
		ClusterName:    "robust_mq_cluster_default",
		BrokerID:       1,
		BindIP:         "0.0.0.0",
		Roles:          []string{string(RoleMeta), string(RoleBroker), string(RoleEngine)},
		GRPCPort:       1228,
		HTTPPort:       58080,
		PrometheusPort: 9090,
		DataPath:       "./data",
		MetaAddrs:      map[string]string{"1": "127.0.0.1:1228"},
		Log: LogConfig{
			LogConfig: "./config/logger.toml",
			LogPath:   "./data/logs",
			Level:     "info",
			Format:    "text",
			Output:    "stdout",
		},
		Runtime: RuntimeConfig{
			ChannelsPerAddress:       4,
			DefaultTopicPartitionNum: 1,
			DefaultTopicReplicaNum:   1,
			ShutdownTimeoutMs:        10000,
		},
		MetaRuntime: MetaRuntimeConfig{
			HeartbeatTimeoutMs:               30000,
			HeartbeatCheckTimeMs:             1000,
			RaftWriteTimeoutSec:              30,
			OffsetRaftGroupNum:               1,
			DataRaftGroupNum:                 1,
			GroupOffsetExpireSec:             7 * 24 * 3600,
			SegmentLeaderRebalanceIntervalMs: 60000,
			SegmentLeaderRebalanceMaxMoves:   50,
			RaftTickMs:                       100,
		},
		StorageRuntime: StorageRuntimeConfig{
			TCPPort:                     1778,
			MaxSegmentSize:              1 << 30,
			IOThreadNum:                 8,
			DataPath:                    []string{"./data/engine"},
			OffsetEnableCache:           true,
			ExpireScanTaskNum:           16,
			NumReplicaFetchers:          4,
			ReplicaFetchMinBytes:        1,
			ReplicaFetchMaxWaitMs:       500,
			ReplicaFetchBackoffMs:       1000,
			ReplicaLagTimeMaxMs:         10000,
			MetadataReconcileIntervalMs: 30000,
			IsrMaintainIntervalMs:       1000,
		},
		BrokerNetwork: BrokerNetworkConfig{
			AcceptThreadNum:  1,
			HandlerThreadNum: 16,
			QueueSize:        1000,
			TLSCert:          "./config/certs/cert.pem",
			TLSKey:           "./config/certs/key.pem",
		},
		Network: NetworkConfig{
			MaxConnections:     1000000,
			MaxOutboundBytes:   4 << 20,
			MaxQueuedTasks:     4096,
			TCPKeepAliveSec:    60,
			HandshakeTimeoutMs: 10000,
			CloseLingerMs:      1000,
		},
		Admin: AdminConfig{
			Username:      "admin",
			Password:      "admin",
			JWTSecret:     "robustmq-change-me-in-production",
			TokenTTLHours: 8,
		},
		MQTTRuntime: MQTTRuntimeConfig{
			Server: MQTTServerConfig{
				TCPPort:         1883,
				TLSPort:         1885,
				WebsocketPort:   8083,
				WebsocketsPort:  8085,
				QUICPort:        9083,
				TLSClientVerify: "none",
			},
			KeepAlive: MQTTKeepAliveConfig{Enable: true, DefaultTime: 180, MaxTime: 3600, DefaultTimeout: 2},
			Auth: MQTTAuthConfig{DefaultUser: "admin", DefaultPassword: "robustmq", AllowAnonymous: true,
				ACLNoMatch: "allow", JWTClientIDClaim: "clientid", JWTUsernameClaim: "username"},
			OfflineMessage: MQTTOfflineMessageConfig{
				Enable: true,
			},
			Protocol: MQTTProtocolConfig{
				MaxSessionExpiryInterval:     1800,
				DefaultSessionExpiryInterval: 30,
				TopicAliasMax:                65535,
				MaxPacketSize:                10 << 20,
				ReceiveMax:                   65535,
				MaxMessageExpiryInterval:     3600,
				SharedSubscriptionStrategy:   "round_robin",
			},
			SlowSubscribe:  MQTTSlowSubscribeConfig{RecordTime: 1000, DelayType: "Whole"},
			FlappingDetect: MQTTFlappingDetectConfig{WindowTime: 1, MaxClientConnections: 15, BanTime: 5},
			Schema: MQTTSchemaConfig{
				Enable: true, Strategy: "ALL", FailedOperation: "Discard", EchoLog: true, LogLevel: "info",
			},
			SystemMonitor: MQTTSystemMonitorConfig{
				OSCPUHighWatermark: 70, OSMemoryHighWatermark: 80, SystemTopicIntervalMs: 60000,
			},
			Limit: MQTTLimitConfig{
				Cluster: LimitQuota{
					MaxConnectionsPerNode: 10000000, MaxConnectionRate: 100000,
					MaxTopics: 5000000, MaxSessions: 50000000, MaxPublishRate: 10000,
				},
				Tenant: LimitQuota{
					MaxConnectionsPerNode: 1000000, MaxConnectionRate: 10000,
					MaxTopics: 500000, MaxSessions: 5000000, MaxPublishRate: 10000,
				},
			},
		},
		KafkaRuntime: KafkaRuntimeConfig{
			TCPPort:                    9092,
			MaxFetchBytes:              4 << 20,
			MaxMessageBytes:            1048588,
			MaxDescribeTopicPartitions: 2000,
			AutoCreateTopicsEnable:     true,
			TopicMapping:               map[string]string{},
			SASL:                       KafkaSASLConfig{Mechanisms: []string{"SCRAM-SHA-256", "SCRAM-SHA-512"}},
		},
		NATSRuntime: NATSRuntimeConfig{
			TCPPort:              4222,
			TLSPort:              4223,
			WSPort:               4080,
			WSSPort:              4443,
			MaxPayload:           1 << 20,
			PingInterval:         60,
			PingMax:              3,
			PingSendChunk:        10000,
			CoreShardNum:         10,
			PushThreadNum:        1,
			PushQueueThreadNum:   10,
			MQ9MailboxDefaultTTL: 86400,
		},
		AMQPRuntime: AMQPRuntimeConfig{TCPPort: 5672},
		RocksDB:     RocksDBConfig{DataPath: "./data", MaxOpenFiles: 10000},
		DelayTask:   DelayTaskConfig{DelayTaskQueueNum: 100, DelayTaskHandlerConcurrency: 100},
		DelayMessage: DelayMessageConfig{
			MaxRetries: 3, InitialRetryDelaySec: 2,
		},
		ClusterLimit: ClusterLimitConfig{
			MaxNetworkConnection: 100000000, MaxNetworkConnectionRate: 10000,
			MaxConnectionPerIP: 5000, MaxAdminHTTPURIRate: 50,
		},
	}
}

// SlogLevel is Level as a slog.Level. REQUIRES: a validated config.
func (l LogConfig) SlogLevel() slog.Level {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(l.Level)) // validated: debug|info|warn|error.
	return lv
}

// File is the log file for output = "file", and "" otherwise.
func (l LogConfig) File() string {
	if l.Output != "file" {
		return ""
	}
	return filepath.Join(l.LogPath, "robustmq.log")
}

// ShutdownTimeout is shutdown_timeout_ms as a duration.
func (r RuntimeConfig) ShutdownTimeout() time.Duration {
	return time.Duration(r.ShutdownTimeoutMs) * time.Millisecond
}

// TCPKeepAlive is tcp_keepalive_sec as a duration.
func (n NetworkConfig) TCPKeepAlive() time.Duration {
	return time.Duration(n.TCPKeepAliveSec) * time.Second
}

// HandshakeTimeout is handshake_timeout_ms as a duration.
func (n NetworkConfig) HandshakeTimeout() time.Duration {
	return time.Duration(n.HandshakeTimeoutMs) * time.Millisecond
}

// CloseLinger is close_linger_ms as a duration.
func (n NetworkConfig) CloseLinger() time.Duration {
	return time.Duration(n.CloseLingerMs) * time.Millisecond
}

// TokenTTL is token_ttl_hours as a duration.
func (a AdminConfig) TokenTTL() time.Duration {
	return time.Duration(a.TokenTTLHours) * time.Hour
}
