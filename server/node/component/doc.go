// Package component is the contract between the node and the parts it runs: the Meta Service, the
// Storage Engine and the Broker (and the node's own servers). It has no logic, only the types both
// sides import, so that a component package never imports server/node (which imports it back through
// the node's role table).
//
// Life of a component, all driven by the node's one startup goroutine:
//
//  1. New(env) builds it. A constructor is cheap and does no I/O: it only wires things and registers
//     what must exist before the servers run — gRPC services on env.GRPC (grpc-go refuses services
//     registered after Serve) and admin HTTP routes on env.HTTP.
//  2. Start(ctx) does the real work (open storage, bind ports, join raft) and returns once the
//     component is usable, or with an error that says what and where. ctx is cancelled if the node is
//     told to stop during startup; Start must then return promptly.
//  3. Stop(ctx) is called once, in reverse start order, only if Start returned nil. It closes the
//     component's listeners first, drains in-flight writes, flushes storage, and returns when done or
//     when ctx expires (then it closes hard and returns ctx's error). Stop owns every goroutine Start
//     began and waits for them.
//
// The servers run before the first component starts and after the last one stops, so gRPC handlers
// and admin routes a component registered can be called before its Start returns and after its Stop:
// they must answer "unavailable" (gRPC codes.Unavailable, HTTP 503) then, never touch a closed store.
//
// A component that binds a port adds a listener.Probe to env.Listeners once bound and removes it in
// Stop; the node is ready only while every registered probe accepts.
package component
