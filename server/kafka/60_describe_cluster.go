package kafka

import "robustmq/codec/kafka"

// DescribeCluster v0-v2: this broker is the whole cluster and its
// controller, never fenced.

func init() {
	register(60, 0, 2, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		c.reply(sl, &kafka.DescribeClusterResponse{EndpointType: 1, ClusterID: []byte(s.opts.ClusterID),
			ControllerID: s.opts.NodeID, ClusterAuthorizedOperations: -2147483648,
			Brokers: []kafka.DescribeClusterResponseBroker{{BrokerID: s.opts.NodeID, Host: c.advertisedHost(), Port: s.port.Load()}}})
		return nil
	})
}
