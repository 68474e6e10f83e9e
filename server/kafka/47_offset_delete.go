package kafka

import (
	"context"

	"robustmq/codec/kafka"
)

// OffsetDelete v0, on a worker: deletes a group's committed offsets of the
// named topics. The OffsetStore deletes per topic, so naming any partition
// deletes the topic's offsets; a group with members answers
// GROUP_SUBSCRIBED_TO_TOPIC (members are assumed subscribed).

func init() {
	register(47, 0, 0, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		req := m.(*kafka.OffsetDeleteRequest)
		group := string(req.GroupID)
		resp := &kafka.OffsetDeleteResponse{}
		var names []string
		for _, t := range req.Topics {
			rt := kafka.OffsetDeleteResponseTopic{Name: append([]byte(nil), t.Name...)}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kafka.OffsetDeleteResponseTopicPartition{Index: p.Index})
			}
			resp.Topics = append(resp.Topics, rt)
			names = append(names, string(t.Name))
		}
		if v, ok := s.groups.view(group); ok && len(v.members) > 0 {
			for ti := range resp.Topics {
				for pi := range resp.Topics[ti].Partitions {
					resp.Topics[ti].Partitions[pi].ErrorCode = int16(kafka.GroupSubscribedToTopic)
				}
			}
			countErr(47, kafka.GroupSubscribedToTopic)
			c.reply(sl, resp)
			return nil
		}
		c.offload(sl, func() kafka.Message {
			for _, n := range names {
				if err := s.opts.Offsets.DeleteTopic(context.Background(), group, n); err != nil {
					resp.ErrorCode = int16(kafka.CoordinatorNotAvailable)
				}
			}
			countErr(47, kafka.ErrorCode(resp.ErrorCode))
			return resp
		}, func() kafka.Message {
			resp.ErrorCode = int16(kafka.CoordinatorLoadInProgress)
			return resp
		})
		return nil
	})
}
