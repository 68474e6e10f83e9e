package kafka

import "robustmq/codec/kafka"

// SyncGroup v0-v5 (group.go): the leader's request carries every member's
// assignment; the others wait for it.

func init() {
	register(14, 0, 5, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		req := m.(*kafka.SyncGroupRequest)
		r := syncReq{group: string(req.GroupID), member: string(req.MemberID), generation: req.GenerationID}
		if len(req.Assignments) > 0 {
			r.assignments = make(map[string][]byte, len(req.Assignments))
			for _, a := range req.Assignments {
				r.assignments[string(a.MemberID)] = append([]byte(nil), a.Assignment...)
			}
		}
		s.groups.sync(r, slotAnswer{c, sl}, sl.start)
		return nil
	})
}
