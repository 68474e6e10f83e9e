package kafka

import (
	"context"

	"robustmq/codec/kafka"
	"robustmq/shard"
)

// OffsetFetch v1-v9 (v10 names topics by id), on a worker: one group
// before v8, a list of groups from v8. A null topic list returns every
// committed offset of the group; a partition without a commit gets offset
// -1. RequireStable needs no wait: there are no transactions.

func init() { register(9, 1, 9, serveOffsetFetch) }

type fetchGroup struct {
	id     string
	topics map[string][]int32 // nil: all
	order  []string
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
		add(g.GroupID, g.Topics == nil, func(i int) ([]byte, []int32) {
			return g.Topics[i].Name, g.Topics[i].PartitionIndexes
		}, len(g.Topics))
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
				rt := kafka.OffsetFetchResponseGroupTopic{Name: []byte(t.name)}
				for _, p := range t.parts {
					rt.Partitions = append(rt.Partitions, kafka.OffsetFetchResponseGroupTopicPartition{Index: p.Partition,
						CommittedOffset: p.Offset, CommittedLeaderEpoch: -1, Metadata: []byte(p.Metadata)})
				}
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
