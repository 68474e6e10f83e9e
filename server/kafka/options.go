package kafka

import (
	"net"
	"strconv"

	"robustmq/server/config"
)

// FromConfig fills the Options that config.toml decides: the advertised
// address (broker_ip, else each client's own destination address, and
// kafka_runtime.tcp_port),
// the node id and cluster name, auto topic creation, the fetch and message
// size limits, and the SASL mechanisms when kafka_runtime.sasl.enabled.
// The caller adds Router, Offsets, Users (with SASL) and Logger.
func FromConfig(cfg *config.Config) Options {
	kr := cfg.KafkaRuntime
	o := Options{
		Advertised:      net.JoinHostPort(cfg.AdvertiseIP(), strconv.Itoa(kr.TCPPort)),
		AdvertiseLocal:  cfg.BrokerIP == "",
		NodeID:          int32(cfg.BrokerID),
		ClusterID:       cfg.ClusterName,
		AutoCreate:      kr.AutoCreateTopicsEnable,
		MaxFetchBytes:   kr.MaxFetchBytes,
		MaxMessageBytes: kr.MaxMessageBytes,
	}
	if kr.SASL.Enabled {
		o.SASLMechanisms = kr.SASL.Mechanisms
	}
	return o
}
