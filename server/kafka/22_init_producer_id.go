package kafka

import "robustmq/codec/kafka"

// InitProducerId v0-v5 (v5, KIP-890, changes transactions only): a fresh producer id at epoch 0 for idempotent
// producers. A transactional id is refused with
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED: transactions are not implemented.

func init() {
	register(22, 0, 5, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		req := m.(*kafka.InitProducerIDRequest)
		if req.TransactionalID != nil {
			countErr(22, codeTxnRefused)
			c.reply(sl, &kafka.InitProducerIDResponse{ErrorCode: int16(codeTxnRefused), ProducerID: -1, ProducerEpoch: -1})
			return nil
		}
		c.reply(sl, &kafka.InitProducerIDResponse{ProducerID: s.pids.nextID.Add(1)})
		return nil
	})
}
