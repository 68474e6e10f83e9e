package kafka

import (
	"errors"
	"maps"

	"robustmq/codec/kafka"
	"robustmq/shard"
)

// AlterConfigs v0-v2 (v2 is v1 in the flexible encoding) replaces a topic's whole config set;
// IncrementalAlterConfigs v0-v1 (44_incremental_alter_configs.go) sets or
// deletes single configs. Both check every value first (INVALID_CONFIG
// names the culprit) and refuse broker resources (read-only here).

func init() { register(33, 0, 2, serveAlterConfigs) }

// configOp is one change: a nil value deletes (back to the default).
type configOp struct {
	name  string
	value []byte
}

// alterTopic applies ops to a topic, replacing the whole set when replace
// is set. Safe on any goroutine.
func (s *Server) alterTopic(rtype int8, name []byte, ops []configOp, replace, validate bool) (kafka.ErrorCode, string) {
	if rtype == resourceBroker {
		return kafka.InvalidRequest, "broker configs are read-only"
	}
	if rtype != resourceTopic {
		return kafka.InvalidRequest, "only topic configs can be altered"
	}
	t := s.topics.get(name)
	if t == nil {
		return kafka.UnknownTopicOrPartition, ""
	}
	for _, op := range ops {
		if code, msg := s.checkConfig(op.name, op.value); code != kafka.None {
			return code, msg
		}
	}
	if validate {
		return kafka.None, ""
	}
	next := map[string]string{}
	if !replace {
		maps.Copy(next, t.configs)
	}
	for _, op := range ops {
		if op.value == nil {
			delete(next, op.name)
		} else {
			next[op.name] = string(op.value)
		}
	}
	if err := s.topics.setConfigs(t.name, next); errors.Is(err, shard.ErrTopicNotFound) {
		return kafka.UnknownTopicOrPartition, ""
	}
	return kafka.None, ""
}

func serveAlterConfigs(s *Server, c *conn, sl *slot, m kafka.Message) error {
	req := m.(*kafka.AlterConfigsRequest)
	resp := &kafka.AlterConfigsResponse{}
	for _, r := range req.Resources {
		var ops []configOp
		for _, cf := range r.Configs {
			ops = append(ops, configOp{string(cf.Name), cf.Value})
		}
		code, msg := s.alterTopic(r.ResourceType, r.ResourceName, ops, true, req.ValidateOnly)
		countErr(33, code)
		out := kafka.AlterConfigsResponseResult{ErrorCode: int16(code), ResourceType: r.ResourceType, ResourceName: r.ResourceName}
		if msg != "" {
			out.ErrorMessage = []byte(msg)
		}
		resp.Responses = append(resp.Responses, out)
	}
	c.reply(sl, resp)
	return nil
}
