package kafka

import "robustmq/codec/kafka"

// Heartbeat v0-v4 (group.go): extends the member's session; answers
// REBALANCE_IN_PROGRESS while the group waits for rejoins.

func init() {
	register(12, 0, 4, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		req := m.(*kafka.HeartbeatRequest)
		code := s.groups.heartbeat(string(req.GroupID), string(req.MemberID), req.GenerationID, sl.start)
		countErr(12, code)
		c.reply(sl, &kafka.HeartbeatResponse{ErrorCode: int16(code)})
		return nil
	})
}
