package kafka

import "robustmq/codec/kafka"

// FindCoordinator v0-v4: this broker coordinates every group. Transaction
// coordinators (key type 1) are refused with COORDINATOR_NOT_AVAILABLE:
// transactions are not implemented.

func init() {
	register(10, 0, 4, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		req := m.(*kafka.FindCoordinatorRequest)
		code := kafka.None
		if req.KeyType != 0 {
			code = kafka.CoordinatorNotAvailable
			countErr(10, code)
		}
		resp := &kafka.FindCoordinatorResponse{ErrorCode: int16(code), NodeID: s.opts.NodeID, Host: s.host, Port: s.port.Load()}
		if code != kafka.None {
			resp.NodeID, resp.Host, resp.Port = -1, nil, -1
		}
		for _, k := range req.CoordinatorKeys {
			co := kafka.FindCoordinatorResponseCoordinator{Key: k, NodeID: resp.NodeID, Host: resp.Host,
				Port: resp.Port, ErrorCode: int16(code)}
			resp.Coordinators = append(resp.Coordinators, co)
		}
		c.reply(sl, resp)
		return nil
	})
}
