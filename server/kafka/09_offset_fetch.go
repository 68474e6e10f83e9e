package kafka

import (
	"context"

	"robustmq/codec/kafka"
	"robustmq/shard"
)

// OffsetFetch v1-v10, on a worker: one group before v8, a list of groups
// from v8; v10 names topics by id (answered with the id; an unknown id's
// partitions get UNKNOWN_TOPIC_ID). A null topic list returns every
// committed offset of the group; a partition without a commit gets offset
// -1. RequireStable needs no wait: there are no transactions.

func init() { register(9, 1, 10, serveOffsetFetch) }

type fetchGroup struct {
	id      string
	topics  map[string][]int32 // nil: all
	order   []string
	unknown []unknownTopic // v10: ids no topic has
}

// unknownTopic is a topic id an OffsetFetch v10 asked for that names no
// topic.
type unknownTopic struct {
	id    [16]byte
	parts []int32
}

func serveOffsetFetch(s *Server, c *conn, sl *slot, m kafka.Message) error {
	req := m.(*kafka.OffsetFetchRequest)
	var gs []fetchGroup
	add := func(id []byte, all bool, name func(i int) ([]byte, []int32), n int) {
		g := fetchGroup{id: string(id)}
		if !all {
			g.topics = map[string][]int32{}
			for i := range n {
				t, ps := name(i)
				g.topics[string(t)] = append(g.topics[string(t)], ps...)
				g.order = append(g.order, string(t))
			}
		}
		gs = append(gs, g)
	}
	if sl.version < 8 {
		add(req.GroupID, req.Topics == nil, func(i int) ([]byte, []int32) {
			return req.Topics[i].Name, req.Topics[i].PartitionIndexes
		}, len(req.Topics))
	}
	for _, g := range req.Groups {
		var unknown []unknownTopic
		add(g.GroupID, g.Topics == nil, func(i int) ([]byte, []int32) {
			t := &g.Topics[i]
			if sl.version < 10 {
				return t.Name, t.PartitionIndexes
			}
			if m := s.topics.getID(t.TopicID); m != nil {
				return m.bname, t.PartitionIndexes
			}
			unknown = append(unknown, unknownTopic{t.TopicID, append([]int32(nil), t.PartitionIndexes...)})
			return nil, nil
		}, len(g.Topics))
		gs[len(gs)-1].unknown = unknown
	}
	v := sl.version
	answer := func(busy bool) kafka.Message {
		resp := &kafka.OffsetFetchResponse{}
		for _, g := range gs {
			code := kafka.None
			var got []shard.GroupOffset
			if busy {
				code = kafka.CoordinatorLoadInProgress
			} else if offs, err := s.opts.Offsets.Fetch(context.Background(), g.id, ""); err != nil {
				code = kafka.CoordinatorNotAvailable
			} else {
				got = offs
			}
			countErr(9, code)
			topics := offsetTopics(g, got)
			if v < 8 {
				resp.ErrorCode = int16(code)
				for _, t := range topics {
					rt := kafka.OffsetFetchResponseTopic{Name: []byte(t.name)}
					for _, p := range t.parts {
						rt.Partitions = append(rt.Partitions, kafka.OffsetFetchResponseTopicPartition{Index: p.Partition,
							CommittedOffset: p.Offset, CommittedLeaderEpoch: -1, Metadata: []byte(p.Metadata)})
					}
					resp.Topics = append(resp.Topics, rt)
				}
				continue
			}
			rg := kafka.OffsetFetchResponseGroup{GroupID: []byte(g.id), ErrorCode: int16(code)}
			for _, t := range topics {
				if t.name == "" && len(t.parts) == 0 {
					continue // the place of an unknown id (v10), answered below
				}
				rt := kafka.OffsetFetchResponseGroupTopic{Name: []byte(t.name)}
				if m := s.topics.get([]byte(t.name)); m != nil {
					rt.TopicID = m.id
				}
				for _, p := range t.parts {
					rt.Partitions = append(rt.Partitions, kafka.OffsetFetchResponseGroupTopicPartition{Index: p.Partition,
						CommittedOffset: p.Offset, CommittedLeaderEpoch: -1, Metadata: []byte(p.Metadata)})
				}
				rg.Topics = append(rg.Topics, rt)
			}
			for _, u := range g.unknown {
				rt := kafka.OffsetFetchResponseGroupTopic{TopicID: u.id}
				for _, p := range u.parts {
					rt.Partitions = append(rt.Partitions, kafka.OffsetFetchResponseGroupTopicPartition{Index: p,
						CommittedOffset: -1, CommittedLeaderEpoch: -1, ErrorCode: int16(kafka.UnknownTopicID)})
				}
				countErr(9, kafka.UnknownTopicID)
				rg.Topics = append(rg.Topics, rt)
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	}
	c.offload(sl, func() kafka.Message { return answer(false) }, func() kafka.Message { return answer(true) })
	return nil
}

type offsetTopic struct {
	name  string
	parts []shard.GroupOffset
}

// offsetTopics lays out the answer: every committed offset when the
// request named no topics, else the asked partitions (-1 without commit).
func offsetTopics(g fetchGroup, got []shard.GroupOffset) []offsetTopic {
	var out []offsetTopic
	if g.topics == nil {
		for _, o := range got {
			if o.Topic == metaTopic {
				continue // the group's own state (group_store.go)
			}
			if len(out) == 0 || out[len(out)-1].name != o.Topic {
				out = append(out, offsetTopic{name: o.Topic})
			}
			out[len(out)-1].parts = append(out[len(out)-1].parts, o)
		}
		return out
	}
	seen := map[string]bool{}
	for _, t := range g.order {
		if seen[t] {
			continue
		}
		seen[t] = true
		ot := offsetTopic{name: t}
		for _, p := range g.topics[t] {
			o := shard.GroupOffset{Topic: t, Partition: p, Offset: -1}
			for _, c := range got {
				if c.Topic == t && c.Partition == p {
					o = c
				}
			}
			ot.parts = append(ot.parts, o)
		}
		out = append(out, ot)
	}
	return out
}
