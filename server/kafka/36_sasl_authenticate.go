package kafka

import "robustmq/codec/kafka"

// SaslAuthenticate v0-v2: one token each way per request (sasl.go). A
// failure is answered SASL_AUTHENTICATION_FAILED and the connection is
// closed after the answer.

func init() {
	register(keySaslAuthenticate, 0, 2, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		req := m.(*kafka.SaslAuthenticateRequest)
		resp := &kafka.SaslAuthenticateResponse{AuthBytes: []byte{}}
		switch st := c.sasl; {
		case st == nil || st.done || st.mech == "" || st.failed:
			resp.ErrorCode = int16(kafka.IllegalSaslState)
		default:
			out, failure := st.next(s.opts.Users, req.AuthBytes)
			if failure != "" {
				st.failed = true
				resp.ErrorCode = int16(kafka.SaslAuthenticationFailed)
				resp.ErrorMessage = []byte("Authentication failed: " + failure)
				s.log.Info("kafka: SASL authentication failed", "remote", c.host(), "mechanism", st.mech, "reason", failure)
			} else {
				resp.AuthBytes = out
			}
		}
		countErr(keySaslAuthenticate, kafka.ErrorCode(resp.ErrorCode))
		c.reply(sl, resp)
		if c.sasl != nil && c.sasl.failed {
			c.flush()
			return ErrSASLFailed
		}
		return nil
	})
}
