package kafka

import (
	"context"

	"robustmq/codec/kafka"
	"robustmq/shard"
)

// OffsetCommit v2-v10 (v10 names topics by id; offsets are stored under
// the topic's name either way): the member and generation
// are checked against the group (generation -1 without member id: an
// admin commit to a group without members), then the offsets are stored in
// the OffsetStore on a worker, all partitions of the request at once.
// Partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION (an unknown
// id: UNKNOWN_TOPIC_ID).

func init() { register(8, 2, 10, serveOffsetCommit) }

func serveOffsetCommit(s *Server, c *conn, sl *slot, m kafka.Message) error {
	req := m.(*kafka.OffsetCommitRequest)
	group := string(req.GroupID)
	check := s.groups.commitCheck(group, string(req.MemberID), req.GenerationID)
	if reservedGroup(group) {
		check = kafka.InvalidGroupID
	}
	resp := &kafka.OffsetCommitResponse{Topics: make([]kafka.OffsetCommitResponseTopic, len(req.Topics))}
	var offsets []shard.GroupOffset
	for ti, rt := range req.Topics {
		out := &resp.Topics[ti]
		out.Name, out.TopicID = append([]byte(nil), rt.Name...), rt.TopicID
		known, missing := s.topics.lookup(rt.Name, rt.TopicID, sl.version >= 10)
		for _, rp := range rt.Partitions {
			code := check
			if code == kafka.None && known == nil {
				code = missing
			} else if code == kafka.None && (rp.Index < 0 || int(rp.Index) >= len(known.shards)) {
				code = kafka.UnknownTopicOrPartition
			}
			if code == kafka.None {
				offsets = append(offsets, shard.GroupOffset{Topic: known.name, Partition: rp.Index,
					Offset: rp.CommittedOffset, Metadata: string(rp.CommittedMetadata)})
			}
			out.Partitions = append(out.Partitions, kafka.OffsetCommitResponseTopicPartition{Index: rp.Index,
				ErrorCode: int16(code)})
		}
	}
	setAll := func(code kafka.ErrorCode) kafka.Message {
		for ti := range resp.Topics {
			for pi := range resp.Topics[ti].Partitions {
				if p := &resp.Topics[ti].Partitions[pi]; p.ErrorCode == 0 {
					p.ErrorCode = int16(code)
				}
			}
		}
		countErr(8, code)
		return resp
	}
	countErr(8, check)
	if len(offsets) == 0 {
		c.reply(sl, resp)
		return nil
	}
	c.offload(sl, func() kafka.Message {
		if err := s.opts.Offsets.Commit(context.Background(), group, offsets); err != nil {
			s.log.Warn("kafka: offset commit", "group", group, "err", err)
			return setAll(kafka.CoordinatorNotAvailable)
		}
		return resp
	}, func() kafka.Message { return setAll(kafka.CoordinatorNotAvailable) })
	return nil
}
