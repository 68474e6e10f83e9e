package kafka

import "robustmq/codec/kafka"

// FindCoordinator v0-v6 (v5 and v6 change no field: v5 allows
// TRANSACTION_ABORTABLE, v6 share-group keys, type 2, answered
// INVALID_REQUEST like any other type): this broker coordinates every group, and answers
// for transactional ids too (key type 1) so a transactional producer gets
// InitProducerId's clear refusal (TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
// instead of retrying COORDINATOR_NOT_AVAILABLE. Other key types are
// INVALID_REQUEST.

func init() {
	register(10, 0, 6, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		req := m.(*kafka.FindCoordinatorRequest)
		code := kafka.None
		if req.KeyType != 0 && req.KeyType != 1 {
			code = kafka.InvalidRequest
			countErr(10, code)
		}
		resp := &kafka.FindCoordinatorResponse{ErrorCode: int16(code), NodeID: s.opts.NodeID, Host: c.advertisedHost(), Port: s.port.Load()}
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
