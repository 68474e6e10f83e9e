// Package listener is how the node knows its bound ports: a Registry of probes that readiness and
// /api/info read, per-listener Prometheus metrics, and a counting wrapper around net.Listener.
//
// Every component that binds a port (the inner gRPC server, the admin HTTP server, the Prometheus
// endpoint, and later the protocol listeners on gnet) adds a Probe to the node's Registry once the port
// is bound and removes it when the port is closed. The node is ready only while every registered probe
// says Accepting.
//
// Invariants:
//   - Probe methods are called from admin HTTP handlers on any goroutine, so they must be safe for
//     concurrent use and cheap (an atomic load, never a dial).
//   - Registry methods are safe for concurrent use; the registry keeps registration order and refuses
//     two probes with one name.
//   - Metrics series are labelled by listener name only (and by reason for errors), so their number is
//     bounded by the number of listeners times the fixed reasons.
//
// Metrics, per listener name L:
//
//	robustmq_listener_connections{listener="L"}                   open connections now
//	robustmq_listener_accepted_total{listener="L"}                connections accepted
//	robustmq_listener_received_bytes_total{listener="L"}          bytes read from connections
//	robustmq_listener_sent_bytes_total{listener="L"}              bytes written to connections
//	robustmq_listener_errors_total{listener="L",reason="R"}       errors by reason (accept, read, write, ...)
package listener
