package kafka

import "robustmq/codec/kafka"

// ApiVersions v0-v4. The answer lists exactly the registered APIs (one
// register call per NN_name.go file). An unknown version is answered at v0
// with UNSUPPORTED_VERSION (conn.request), so a newer client can retry.

const keyApiVersions = 18

func init() {
	register(keyApiVersions, 0, 4, func(s *Server, c *conn, sl *slot, _ kafka.Message) error {
		c.reply(sl, &kafka.ApiVersionsResponse{ApiKeys: s.reg.AppendAPIKeys(nil), FinalizedFeaturesEpoch: -1})
		return nil
	})
}
