package kafka

import "robustmq/codec/kafka"

// LeaveGroup v0-v5 (group.go): v0-v2 one member id, v3+ a list of members
// by id or group instance id.

func init() {
	register(13, 0, 5, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		req := m.(*kafka.LeaveGroupRequest)
		var ids, instances []string
		if sl.version < 3 {
			ids, instances = []string{string(req.MemberID)}, []string{""}
		}
		for _, lm := range req.Members {
			ids = append(ids, string(lm.MemberID))
			instances = append(instances, string(lm.GroupInstanceID))
		}
		codes := s.groups.leave(string(req.GroupID), ids, instances, sl.start)
		resp := &kafka.LeaveGroupResponse{}
		if sl.version < 3 {
			resp.ErrorCode = int16(codes[0])
		}
		for i, lm := range req.Members {
			resp.Members = append(resp.Members, kafka.LeaveGroupResponseMember{MemberID: lm.MemberID,
				GroupInstanceID: lm.GroupInstanceID, ErrorCode: int16(codes[i])})
		}
		for _, code := range codes {
			countErr(13, code)
		}
		c.reply(sl, resp)
		return nil
	})
}
