package kafka

import (
	"context"
	"slices"
	"strings"

	"robustmq/codec/kafka"
)

// ListGroups v0-v4, on a worker: the groups with members (in memory) and
// the groups that only hold committed offsets (OffsetStore, state Empty),
// filtered by state from v4 and by type from v5 (every group here is
// "classic": a types filter without it lists none).

func init() {
	register(16, 0, 5, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		req := m.(*kafka.ListGroupsRequest)
		var states []string
		for _, st := range req.StatesFilter {
			states = append(states, string(st))
		}
		classic := len(req.TypesFilter) == 0 || slices.ContainsFunc(req.TypesFilter, func(t []byte) bool {
			return strings.EqualFold(string(t), "classic")
		})
		answer := func(busy bool) kafka.Message {
			resp := &kafka.ListGroupsResponse{}
			if busy {
				resp.ErrorCode = int16(kafka.CoordinatorLoadInProgress)
				return resp
			}
			seen := map[string]bool{}
			add := func(id, state, ptype string) {
				seen[id] = true
				if !classic || len(states) > 0 && !slices.Contains(states, state) {
					return
				}
				resp.Groups = append(resp.Groups, kafka.ListGroupsResponseGroup{GroupID: []byte(id),
					ProtocolType: []byte(ptype), GroupState: []byte(state), GroupType: []byte("classic")})
			}
			for _, v := range s.groups.list() {
				add(v.id, v.state, v.protocolType)
			}
			ids, err := s.opts.Offsets.ListGroups(context.Background())
			if err != nil {
				resp.ErrorCode = int16(kafka.CoordinatorNotAvailable)
			}
			for _, id := range ids {
				if !seen[id] && !reservedGroup(id) {
					add(id, "Empty", "consumer")
				}
			}
			countErr(16, kafka.ErrorCode(resp.ErrorCode))
			return resp
		}
		c.offload(sl, func() kafka.Message { return answer(false) }, func() kafka.Message { return answer(true) })
		return nil
	})
}
