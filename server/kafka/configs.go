package kafka

import (
	"slices"
	"strconv"

	"robustmq/codec/kafka"
	"robustmq/shard"
)

// Topic configs: the settings clients may read and set per topic. Values
// set by CreateTopics, AlterConfigs or IncrementalAlterConfigs are kept in
// the topic table and stored with the topic's id (topic_store.go), so they
// survive a restart. retention.ms, retention.bytes and segment.bytes given at
// CreateTopics shape the partitions' shards; altering them later is
// recorded and reported but applies to new partitions only (the shard
// Adapter cannot change a shard's limits yet).

const (
	resourceTopic  = 2
	resourceBroker = 4
)

// configDef is one topic config: its default (as reported) and whether the
// value must be an integer.
type configDef struct {
	name, def string
	numeric   bool
	values    []string // allowed values when not empty
}

func (s *Server) configDefs() []configDef {
	return []configDef{
		{name: "cleanup.policy", def: "delete", values: []string{"delete"}},
		{name: "compression.type", def: "producer", values: []string{"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}},
		{name: "max.message.bytes", def: strconv.Itoa(s.opts.MaxMessageBytes), numeric: true},
		{name: "message.timestamp.type", def: "CreateTime", values: []string{"CreateTime"}},
		{name: "min.insync.replicas", def: "1", numeric: true},
		{name: "retention.bytes", def: strconv.FormatInt(orNeg(s.opts.Shard.RetentionBytes), 10), numeric: true},
		{name: "retention.ms", def: strconv.FormatInt(orNeg(s.opts.Shard.RetentionMs), 10), numeric: true},
		{name: "segment.bytes", def: strconv.FormatInt(max(s.opts.Shard.SegmentBytes, 1<<30), 10), numeric: true},
	}
}

func orNeg(v int64) int64 {
	if v <= 0 {
		return -1
	}
	return v
}

// checkConfig validates one (name, value) for a topic.
func (s *Server) checkConfig(name string, value []byte) (kafka.ErrorCode, string) {
	i := slices.IndexFunc(s.configDefs(), func(d configDef) bool { return d.name == name })
	if i < 0 {
		return kafka.InvalidConfig, "unknown or unsupported topic config " + strconv.Quote(name)
	}
	d := s.configDefs()[i]
	if value == nil {
		return kafka.None, ""
	}
	if d.numeric {
		if _, err := strconv.ParseInt(string(value), 10, 64); err != nil {
			return kafka.InvalidConfig, name + ": " + strconv.Quote(string(value)) + " is not an integer"
		}
	}
	if len(d.values) > 0 && !slices.Contains(d.values, string(value)) {
		return kafka.InvalidConfig, name + ": " + strconv.Quote(string(value)) + " is not supported"
	}
	return kafka.None, ""
}

// shardConfig applies a new topic's retention configs to the template.
func shardConfig(tmpl shard.ShardConfig, configs map[string]string) shard.ShardConfig {
	set := func(dst *int64, key string) {
		if v, err := strconv.ParseInt(configs[key], 10, 64); err == nil {
			*dst = max(v, 0)
		}
	}
	set(&tmpl.RetentionMs, "retention.ms")
	set(&tmpl.RetentionBytes, "retention.bytes")
	set(&tmpl.SegmentBytes, "segment.bytes")
	return tmpl
}
