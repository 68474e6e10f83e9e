package kafka

import "robustmq/codec/kafka"

// ListOffsets v1-v10: timestamp -2 is the log start, and so is -4
// (earliest local offset, v9+: every offset is local here), -1 the
// high-water mark
// (also the last stable offset: no transactions), -3 (max timestamp, v7+)
// the offset of the last record, and any other value the first offset
// whose record timestamp is at or after it (shard.OffsetForTimestamp;
// for a stored Kafka batch that is the batch's head or an offset inside
// it, see doc.go). Lookups are in-memory index reads: answered on the
// loop. v10's timeout is for waiting on replicas: there are none. (v11's
// -5, earliest pending upload to tiered storage, is not served.)

func init() { register(2, 1, 10, serveListOffsets) }

func serveListOffsets(s *Server, c *conn, sl *slot, m kafka.Message) error {
	req := m.(*kafka.ListOffsetsRequest)
	r := s.opts.Router
	resp := &kafka.ListOffsetsResponse{Topics: make([]kafka.ListOffsetsResponseTopic, len(req.Topics))}
	for ti, rt := range req.Topics {
		out := &resp.Topics[ti]
		out.Name = rt.Name
		for _, rp := range rt.Partitions {
			op := kafka.ListOffsetsResponseTopicPartition{Index: rp.Index, Timestamp: -1, Offset: -1, LeaderEpoch: 0}
			name := s.topics.shardOf(rt.Name, rp.Index)
			var err error
			switch {
			case name == "":
				op.ErrorCode = int16(kafka.UnknownTopicOrPartition)
			case rp.Timestamp == -2 || rp.Timestamp == -4 && sl.version >= 9:
				op.Offset, err = r.EarliestOffset(name)
			case rp.Timestamp == -1:
				op.Offset, err = r.LatestOffset(name)
			case rp.Timestamp == -3:
				var latest, earliest int64
				if latest, err = r.LatestOffset(name); err == nil {
					earliest, err = r.EarliestOffset(name)
					if err == nil && latest > earliest {
						op.Offset = latest - 1
					}
				}
			default:
				op.Offset, err = r.OffsetForTimestamp(name, rp.Timestamp)
				if latest, lerr := r.LatestOffset(name); err == nil && lerr == nil && op.Offset >= latest {
					op.Offset = -1 // Kafka: no record at or after the timestamp
				} else if err == nil {
					op.Timestamp = rp.Timestamp
				}
			}
			if err != nil {
				op.ErrorCode = int16(codeOf(err))
			}
			countErr(2, kafka.ErrorCode(op.ErrorCode))
			out.Partitions = append(out.Partitions, op)
		}
	}
	c.reply(sl, resp)
	return nil
}
