package kafka

import (
	"errors"

	"robustmq/codec/kafka"
	"robustmq/shard"
)

// CreatePartitions v0-v3, run on a worker: a topic's partition count only
// grows; manual assignments are refused.

func init() { register(37, 0, 3, serveCreatePartitions) }

func serveCreatePartitions(s *Server, c *conn, sl *slot, m kafka.Message) error {
	req := m.(*kafka.CreatePartitionsRequest)
	type grow struct {
		name   string
		count  int32
		manual bool
	}
	gs := make([]grow, len(req.Topics))
	for i, t := range req.Topics {
		gs[i] = grow{string(t.Name), t.Count, t.Assignments != nil}
	}
	validate := req.ValidateOnly
	answer := func(busy bool) kafka.Message {
		resp := &kafka.CreatePartitionsResponse{}
		for _, g := range gs {
			code, msg := kafka.None, ""
			t := s.topics.get([]byte(g.name))
			switch {
			case busy:
				code = kafka.RequestTimedOut
			case t == nil:
				code = kafka.UnknownTopicOrPartition
			case g.manual:
				code, msg = kafka.InvalidRequest, "manual partition assignments are not supported"
			case int(g.count) <= len(t.shards) || g.count > 1<<16:
				code, msg = kafka.InvalidPartitions, "the partition count can only grow, up to 65536"
			case !validate:
				if err := s.topics.grow(g.name, g.count); errors.Is(err, shard.ErrTopicNotFound) {
					code = kafka.UnknownTopicOrPartition
				} else if err != nil {
					code, msg = kafka.UnknownServerError, err.Error()
				}
			}
			countErr(37, code)
			r := kafka.CreatePartitionsResponseResult{Name: []byte(g.name), ErrorCode: int16(code)}
			if msg != "" {
				r.ErrorMessage = []byte(msg)
			}
			resp.Results = append(resp.Results, r)
		}
		return resp
	}
	c.offload(sl, func() kafka.Message { return answer(false) }, func() kafka.Message { return answer(true) })
	return nil
}
