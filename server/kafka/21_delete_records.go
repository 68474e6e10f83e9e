package kafka

import "robustmq/codec/kafka"

// DeleteRecords v0-v2, on a worker: moves each partition's log start to
// the given offset (-1: the high-water mark). A cut inside a stored Kafka
// batch leaves the batch's head unreadable; Fetch then skips to the next
// whole batch (doc.go, "Storage").

func init() { register(21, 0, 2, serveDeleteRecords) }

func serveDeleteRecords(s *Server, c *conn, sl *slot, m kafka.Message) error {
	req := m.(*kafka.DeleteRecordsRequest)
	type cut struct {
		topic []byte
		index int32
		name  string
		off   int64
	}
	var cuts []cut
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			cuts = append(cuts, cut{append([]byte(nil), t.Name...), p.Index, s.topics.shardOf(t.Name, p.Index), p.Offset})
		}
	}
	answer := func(busy bool) kafka.Message {
		resp := &kafka.DeleteRecordsResponse{}
		for _, k := range cuts {
			if len(resp.Topics) == 0 || string(resp.Topics[len(resp.Topics)-1].Name) != string(k.topic) {
				resp.Topics = append(resp.Topics, kafka.DeleteRecordsResponseTopic{Name: k.topic})
			}
			t := &resp.Topics[len(resp.Topics)-1]
			p := kafka.DeleteRecordsResponseTopicPartition{Index: k.index, LowWatermark: -1}
			r := s.opts.Router
			switch {
			case busy:
				p.ErrorCode = int16(kafka.RequestTimedOut)
			case k.name == "":
				p.ErrorCode = int16(kafka.UnknownTopicOrPartition)
			default:
				hw, err := r.LatestOffset(k.name)
				if k.off == -1 {
					k.off = hw
				}
				if err == nil && (k.off < 0 || k.off > hw) {
					p.ErrorCode = int16(kafka.OffsetOutOfRange)
					break
				}
				if err == nil {
					err = r.DeleteRecords(k.name, k.off)
				}
				if err == nil {
					p.LowWatermark, err = r.EarliestOffset(k.name)
				}
				p.ErrorCode = int16(codeOf(err))
			}
			countErr(21, kafka.ErrorCode(p.ErrorCode))
			t.Partitions = append(t.Partitions, p)
		}
		return resp
	}
	c.offload(sl, func() kafka.Message { return answer(false) }, func() kafka.Message { return answer(true) })
	return nil
}
