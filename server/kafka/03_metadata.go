package kafka

import (
	"errors"

	"robustmq/codec/kafka"
	"robustmq/server/config"
	"robustmq/shard"
)

// Metadata v0-v13: this broker leads every partition (no replication yet).
// Topics carry their ids (v10+); a v10+ request may name a topic by id
// alone (null name), answered with its name or UNKNOWN_TOPIC_ID. v13's
// top-level error code is always NONE.
// A null topic list (v1+) or an empty one at v0 means every topic. Unknown
// topics are created when Options.AutoCreate is set and the request allows
// it (always before v4), with DefaultPartitions partitions. An unknown
// topic whose partition-0 shard already exists (another protocol wrote it,
// see Naming) is adopted as a one-partition topic whatever the request
// allows: it exists, only the Kafka table did not know it yet.

func init() { register(3, 0, 13, serveMetadata) }

func serveMetadata(s *Server, c *conn, sl *slot, m kafka.Message) error {
	req := m.(*kafka.MetadataRequest)
	var names []string // nil: every topic; copied out of the input
	var ids [][16]byte // per name: the id asked for when the name is null
	if !(req.Topics == nil || (sl.version == 0 && len(req.Topics) == 0)) {
		names = make([]string, len(req.Topics))
		ids = make([][16]byte, len(req.Topics))
		for i := range req.Topics {
			names[i] = string(req.Topics[i].Name)
			if req.Topics[i].Name == nil {
				ids[i] = req.Topics[i].TopicID
			}
		}
	}
	auto := s.opts.AutoCreate && (sl.version < 4 || req.AllowAutoTopicCreation)
	missing := false
	for _, n := range names {
		if s.topics.get([]byte(n)) == nil && config.KafkaTopicName(n) && (auto || s.topics.adoptable(n)) {
			missing = true
		}
	}
	if !missing {
		c.reply(sl, s.metadata(c.advertisedHost(), names, ids, false, false))
		return nil
	}
	// Creating shards may block on a persistent engine: off the loop.
	host := c.advertisedHost()
	c.offload(sl, func() kafka.Message { return s.metadata(host, names, ids, true, auto) },
		func() kafka.Message { return s.metadata(host, names, ids, false, false) })
	return nil
}

// metadata answers for names (nil: every topic; ids[i] when names[i] is
// null). With create set it adopts missing topics whose shard exists and,
// with auto too, creates the other missing ones. host is the address
// advertised to this client. Safe on any goroutine.
func (s *Server) metadata(host []byte, names []string, ids [][16]byte, create, auto bool) *kafka.MetadataResponse {
	resp := &kafka.MetadataResponse{
		Brokers:                     []kafka.MetadataResponseBroker{{NodeID: s.opts.NodeID, Host: host, Port: s.port.Load()}},
		ClusterID:                   []byte(s.opts.ClusterID),
		ControllerID:                s.opts.NodeID,
		ClusterAuthorizedOperations: -2147483648,
	}
	if names == nil {
		for _, t := range s.topics.list() {
			resp.Topics = append(resp.Topics, s.topicMetadata(t))
		}
		return resp
	}
	for i, n := range names {
		if ids[i] != ([16]byte{}) {
			if t := s.topics.getID(ids[i]); t != nil {
				resp.Topics = append(resp.Topics, s.topicMetadata(t))
			} else {
				countErr(3, kafka.UnknownTopicID)
				resp.Topics = append(resp.Topics, kafka.MetadataResponseTopic{ErrorCode: int16(kafka.UnknownTopicID),
					TopicID: ids[i], TopicAuthorizedOperations: -2147483648})
			}
			continue
		}
		t := s.topics.get([]byte(n))
		if t == nil && create && config.KafkaTopicName(n) && (auto || s.topics.adoptable(n)) {
			parts := s.opts.DefaultPartitions
			if s.topics.adoptable(n) {
				parts = 1
			}
			var err error
			t, err = s.topics.create(n, parts, nil)
			if errors.Is(err, shard.ErrTopicExists) {
				t = s.topics.get([]byte(n))
			} else if err != nil {
				s.log.Warn("kafka: auto-create topic", "topic", n, "err", err)
			}
		}
		if t == nil {
			code := kafka.UnknownTopicOrPartition
			if !config.KafkaTopicName(n) {
				code = kafka.InvalidTopic
			}
			countErr(3, code)
			resp.Topics = append(resp.Topics, kafka.MetadataResponseTopic{ErrorCode: int16(code),
				Name: []byte(n), TopicAuthorizedOperations: -2147483648})
			continue
		}
		resp.Topics = append(resp.Topics, s.topicMetadata(t))
	}
	return resp
}

func (s *Server) topicMetadata(t *topicMeta) kafka.MetadataResponseTopic {
	out := kafka.MetadataResponseTopic{Name: []byte(t.name), TopicID: t.id, TopicAuthorizedOperations: -2147483648}
	nodes := []int32{s.opts.NodeID}
	for p := range t.shards {
		out.Partitions = append(out.Partitions, kafka.MetadataResponseTopicPartition{Index: int32(p),
			LeaderID: s.opts.NodeID, LeaderEpoch: 0, ReplicaNodes: nodes, IsrNodes: nodes})
	}
	return out
}
