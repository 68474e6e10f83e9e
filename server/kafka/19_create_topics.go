package kafka

import (
	"errors"

	"robustmq/codec/kafka"
	"robustmq/server/config"
	"robustmq/shard"
)

// CreateTopics v0-v7, run on a worker (creating shards may block).
// NumPartitions -1 takes DefaultPartitions; replication factor must be -1
// or 1 (one copy: no replication yet); manual assignments are refused;
// configs are kept for DescribeConfigs. ValidateOnly checks without
// creating.

func init() { register(19, 0, 7, serveCreateTopics) }

type topicSpec struct {
	name       string
	partitions int32
	rf         int16
	manual     bool
	configs    map[string]string
	bad        kafka.ErrorCode
	badMsg     string
}

func serveCreateTopics(s *Server, c *conn, sl *slot, m kafka.Message) error {
	req := m.(*kafka.CreateTopicsRequest)
	specs := make([]topicSpec, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		specs[i] = topicSpec{name: string(rt.Name), partitions: rt.NumPartitions, rf: rt.ReplicationFactor,
			manual: len(rt.Assignments) > 0}
		for _, cf := range rt.Configs {
			if specs[i].configs == nil {
				specs[i].configs = map[string]string{}
			}
			specs[i].configs[string(cf.Name)] = string(cf.Value)
			if code, msg := s.checkConfig(string(cf.Name), cf.Value); code != kafka.None && specs[i].bad == kafka.None {
				specs[i].bad, specs[i].badMsg = code, msg
			}
		}
	}
	validate := req.ValidateOnly
	answer := func(busy bool) kafka.Message {
		resp := &kafka.CreateTopicsResponse{}
		for _, sp := range specs {
			code, msg := kafka.None, ""
			if sp.partitions == -1 {
				sp.partitions = s.opts.DefaultPartitions
			}
			var id [16]byte // zero unless created (validate_only too)
			parts := sp.partitions
			switch {
			case busy:
				code = kafka.RequestTimedOut
			case !config.KafkaTopicName(sp.name):
				code = kafka.InvalidTopic
			case sp.partitions <= 0 || sp.partitions > 1<<16:
				code, msg = kafka.InvalidPartitions, "partitions must be in 1..65536"
			case sp.rf != -1 && sp.rf != 1:
				code, msg = kafka.InvalidReplicationFactor, "this broker keeps one copy: replication factor 1"
			case sp.manual:
				code, msg = kafka.InvalidRequest, "manual partition assignments are not supported"
			case sp.bad != kafka.None:
				code, msg = sp.bad, sp.badMsg
			case s.topics.get([]byte(sp.name)) != nil:
				code = kafka.TopicAlreadyExists
			case !validate:
				if m, err := s.topics.create(sp.name, sp.partitions, sp.configs); errors.Is(err, shard.ErrTopicExists) {
					code = kafka.TopicAlreadyExists
				} else if err != nil {
					code, msg = kafka.UnknownServerError, err.Error()
				} else {
					id, parts = m.id, int32(len(m.shards))
				}
			}
			countErr(19, code)
			t := kafka.CreateTopicsResponseTopic{Name: []byte(sp.name), ErrorCode: int16(code),
				NumPartitions: -1, ReplicationFactor: -1, TopicID: id}
			if code == kafka.None {
				t.NumPartitions, t.ReplicationFactor = parts, 1
			}
			if msg != "" {
				t.ErrorMessage = []byte(msg)
			}
			resp.Topics = append(resp.Topics, t)
		}
		return resp
	}
	c.offload(sl, func() kafka.Message { return answer(false) }, func() kafka.Message { return answer(true) })
	return nil
}
