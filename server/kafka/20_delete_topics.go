package kafka

import (
	"errors"

	"robustmq/codec/kafka"
	"robustmq/shard"
)

// DeleteTopics v0-v6, run on a worker: the topic's shards are deleted
// (parked fetches on them wake up and find the topic gone), then
// Options.OnDelete runs. v6 may name topics by id.

func init() { register(20, 0, 6, serveDeleteTopics) }

func serveDeleteTopics(s *Server, c *conn, sl *slot, m kafka.Message) error {
	req := m.(*kafka.DeleteTopicsRequest)
	type target struct {
		name string
		id   [16]byte
	}
	var ts []target
	for _, n := range req.TopicNames {
		ts = append(ts, target{name: string(n)})
	}
	for _, t := range req.Topics {
		ts = append(ts, target{name: string(t.Name), id: t.TopicID})
	}
	answer := func(busy bool) kafka.Message {
		resp := &kafka.DeleteTopicsResponse{}
		for _, t := range ts {
			missing := kafka.UnknownTopicOrPartition
			if t.name == "" && t.id != ([16]byte{}) {
				missing = kafka.UnknownTopicID
				if m := s.topics.getID(t.id); m != nil {
					t.name = m.name
				}
			}
			code := kafka.None
			var shards []string
			if m := s.topics.get([]byte(t.name)); m != nil {
				shards, t.id = m.shards, m.id // the answer names the id deleted (v6)
			}
			var err error
			if !busy {
				err = s.topics.remove(t.name)
			}
			switch {
			case busy:
				code = kafka.RequestTimedOut
			case errors.Is(err, shard.ErrTopicNotFound):
				code = missing
			case err != nil:
				code = kafka.UnknownServerError
			default:
				for _, sh := range shards {
					s.pids.forget(sh)
				}
				if s.opts.OnDelete != nil {
					s.opts.OnDelete(t.name, int32(len(shards)))
				}
			}
			countErr(20, code)
			r := kafka.DeleteTopicsResponseResult{Name: []byte(t.name), TopicID: t.id, ErrorCode: int16(code)}
			resp.Responses = append(resp.Responses, r)
		}
		return resp
	}
	c.offload(sl, func() kafka.Message { return answer(false) }, func() kafka.Message { return answer(true) })
	return nil
}
