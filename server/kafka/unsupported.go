package kafka

import "robustmq/codec/kafka"

// Unregistered versions of the APIs whose errors are only per topic and
// partition (Produce v0-v2, Fetch v0-v3, ListOffsets v0 and v11,
// OffsetCommit v0-v1, OffsetFetch v0): the codec still speaks them, so the
// request is decoded and answered at its own version with
// UNSUPPORTED_VERSION on every partition it names, and the connection
// stays open (see "Requests and answers" in doc.go). A body that does not
// decode closes the connection, as any malformed request does.

// unsupportedAnswer decodes body at h's version and returns the answer
// naming every partition with UNSUPPORTED_VERSION; ok false when the API
// is not one of the above or the body is malformed. silent: an acks=0
// Produce, which gets no answer.
func unsupportedAnswer(h kafka.RequestHeader, body []byte) (m kafka.Message, silent, ok bool) {
	req := kafka.NewRequest(h.APIKey)
	if req == nil || req.ReadFrom(body, h.APIVersion) != nil {
		return nil, false, false
	}
	const code = int16(kafka.UnsupportedVersion)
	switch r := req.(type) {
	case *kafka.ProduceRequest:
		return produceErrors(r, kafka.UnsupportedVersion), r.Acks == 0, true
	case *kafka.FetchRequest:
		resp := &kafka.FetchResponse{}
		for _, t := range r.Topics {
			rt := kafka.FetchResponseTopic{Name: t.Name, TopicID: t.TopicID}
			for _, p := range t.Partitions {
				op := kafka.FetchResponseTopicPartition{Index: p.Index, ErrorCode: code, HighWatermark: -1,
					LastStableOffset: -1, LogStartOffset: -1, PreferredReadReplica: -1, Records: []byte{}}
				op.DivergingEpoch.Epoch, op.DivergingEpoch.EndOffset = -1, -1
				op.CurrentLeader.LeaderID, op.CurrentLeader.LeaderEpoch = -1, -1
				op.SnapshotID.EndOffset, op.SnapshotID.Epoch = -1, -1
				rt.Partitions = append(rt.Partitions, op)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, false, true
	case *kafka.ListOffsetsRequest:
		resp := &kafka.ListOffsetsResponse{}
		for _, t := range r.Topics {
			rt := kafka.ListOffsetsResponseTopic{Name: t.Name}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kafka.ListOffsetsResponseTopicPartition{Index: p.Index, ErrorCode: code,
					Timestamp: -1, Offset: -1, LeaderEpoch: -1})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, false, true
	case *kafka.OffsetCommitRequest:
		resp := &kafka.OffsetCommitResponse{}
		for _, t := range r.Topics {
			rt := kafka.OffsetCommitResponseTopic{Name: t.Name, TopicID: t.TopicID}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kafka.OffsetCommitResponseTopicPartition{Index: p.Index, ErrorCode: code})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, false, true
	case *kafka.OffsetFetchRequest:
		resp := &kafka.OffsetFetchResponse{ErrorCode: code}
		for _, t := range r.Topics {
			rt := kafka.OffsetFetchResponseTopic{Name: t.Name}
			for _, p := range t.PartitionIndexes {
				rt.Partitions = append(rt.Partitions, kafka.OffsetFetchResponseTopicPartition{Index: p, CommittedOffset: -1,
					CommittedLeaderEpoch: -1, ErrorCode: code})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		for _, g := range r.Groups {
			rg := kafka.OffsetFetchResponseGroup{GroupID: g.GroupID, ErrorCode: code}
			for _, t := range g.Topics {
				rt := kafka.OffsetFetchResponseGroupTopic{Name: t.Name, TopicID: t.TopicID}
				for _, p := range t.PartitionIndexes {
					rt.Partitions = append(rt.Partitions, kafka.OffsetFetchResponseGroupTopicPartition{Index: p,
						CommittedOffset: -1, CommittedLeaderEpoch: -1, ErrorCode: code})
				}
				rg.Topics = append(rg.Topics, rt)
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return resp, false, true
	}
	return nil, false, false
}
