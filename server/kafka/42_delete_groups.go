package kafka

import (
	"context"

	"robustmq/codec/kafka"
)

// DeleteGroups v0-v3, on a worker: a group with members is NON_EMPTY_GROUP;
// otherwise its state and committed offsets are deleted. v3 adds an error
// message, which is the code's name.

func init() {
	register(42, 0, 3, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		req := m.(*kafka.DeleteGroupsRequest)
		var ids []string
		for _, g := range req.GroupsNames {
			ids = append(ids, string(g))
		}
		answer := func(busy bool) kafka.Message {
			resp := &kafka.DeleteGroupsResponse{}
			for _, id := range ids {
				code := kafka.CoordinatorLoadInProgress
				if reservedGroup(id) {
					code = kafka.InvalidGroupID
				} else if !busy {
					if code = s.groups.drop(id); code == kafka.None {
						if err := s.opts.Offsets.DeleteGroup(context.Background(), id); err != nil {
							code = kafka.CoordinatorNotAvailable
						}
					}
				}
				countErr(42, code)
				r := kafka.DeleteGroupsResponseResult{GroupID: []byte(id), ErrorCode: int16(code)}
				if code != kafka.None {
					r.ErrorMessage = []byte(code.String())
				}
				resp.Results = append(resp.Results, r)
			}
			return resp
		}
		c.offload(sl, func() kafka.Message { return answer(false) }, func() kafka.Message { return answer(true) })
		return nil
	})
}
