package kafka

import (
	"slices"

	"robustmq/codec/kafka"
)

// SaslHandshake v1 only (v0 is followed by raw tokens without Kafka
// framing, which this server does not read): picks the mechanism the
// SaslAuthenticate requests then speak. sasl.go has the rest.

const (
	keySaslHandshake    = 17
	keySaslAuthenticate = 36
)

func init() {
	register(keySaslHandshake, 1, 1, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		req := m.(*kafka.SaslHandshakeRequest)
		resp := &kafka.SaslHandshakeResponse{}
		for _, mech := range s.opts.SASLMechanisms {
			resp.Mechanisms = append(resp.Mechanisms, []byte(mech))
		}
		switch {
		case c.sasl == nil: // SASL off: no mechanism is offered
			resp.ErrorCode = int16(kafka.UnsupportedSaslMechanism)
		case c.sasl.done || c.sasl.mech != "":
			resp.ErrorCode = int16(kafka.IllegalSaslState)
		case !slices.Contains(s.opts.SASLMechanisms, string(req.Mechanism)):
			resp.ErrorCode = int16(kafka.UnsupportedSaslMechanism)
		default:
			c.sasl.mech = string(req.Mechanism)
		}
		countErr(keySaslHandshake, kafka.ErrorCode(resp.ErrorCode))
		c.reply(sl, resp)
		return nil
	})
}
