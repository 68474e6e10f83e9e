package kafka

import (
	"time"

	"robustmq/codec/kafka"
)

// JoinGroup v0-v9 (group.go): parked until the rebalance completes. v4+
// new members first get MEMBER_ID_REQUIRED with their id. Rebalance
// timeout is the session timeout before v1.

func init() {
	register(11, 0, 9, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		req := m.(*kafka.JoinGroupRequest)
		r := joinReq{group: string(req.GroupID), member: string(req.MemberID), instance: string(req.GroupInstanceID),
			protocolType: string(req.ProtocolType), clientID: c.clientID, host: c.host(),
			session:   time.Duration(req.SessionTimeoutMs) * time.Millisecond,
			rebalance: time.Duration(req.RebalanceTimeoutMs) * time.Millisecond, version: sl.version}
		if req.RebalanceTimeoutMs <= 0 {
			r.rebalance = r.session
		}
		for _, p := range req.Protocols {
			r.protocols = append(r.protocols, protocol{name: string(p.Name), meta: append([]byte(nil), p.Metadata...)})
		}
		s.groups.join(r, slotAnswer{c, sl}, sl.start)
		return nil
	})
}
