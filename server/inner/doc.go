// Package inner is the node's inner gRPC server on grpc_port: the port other robustmq nodes and the
// admin tools use. It serves the standard health service (grpc.health.v1.Health), server reflection,
// and robustmq.inner.v1.NodeService (server/pb); the Meta Service and the Storage Engine register
// their services on Registrar while the node builds them, before Start.
//
// Health: the overall status ("") and NodeService's are NOT_SERVING until the node calls
// SetServing(true) at its "ready" step, and go back to NOT_SERVING when it starts to stop. Services
// that components register report their own status through SetHealth.
//
// Metrics:
//
//	robustmq_grpc_requests_total{method="/pkg.Service/Method",code="OK"}   finished calls by status code
//
// Method labels come only from registered methods (grpc-go rejects unknown ones before interceptors
// run), so the series are bounded.
//
// Goroutines: Start spawns the serving goroutine; Stop drains calls with GracefulStop until its ctx
// expires, then stops hard, and waits for the goroutine.
package inner
