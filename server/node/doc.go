// Package node runs one robustmq node: it loads the configuration, sets up logging, builds the
// components of the configured roles, starts them in the architecture's order, serves until a signal,
// and stops them in reverse.
//
// Startup order (each step logged as msg=start step=<name> duration=<d>):
//
//	config -> logging -> grpc (grpc_port) -> http (http_port) -> prometheus (prometheus_port, if not 0)
//	       -> meta (if role) -> engine (if role) -> dropper (if engine) -> broker (if role)
//	       -> member (if not meta) -> ready
//
// dropper (server/engine dropped.go) deletes the engine's local shards of topics deleted in the
// Meta Service, which it watches through meta_addrs.
// member (member.go) is how a node without the meta role joins the cluster: it registers with the
// Meta Service at meta_addrs and heartbeats until stop, so the meta nodes list it and mark it down
// when it goes silent.
//
// A step that fails stops the steps already started, in reverse, and Run returns exit code 1 with one
// line on stderr naming the step, the config key of its port and the cause. Components are built
// (component.New) before the first step so that they can register gRPC services and admin routes;
// their work happens in Start. The role -> constructor table is builders in roles.go: a role whose
// constructor is nil is "not built yet", which the node logs (role=<r> status="not built yet") and
// reports in /api/info and /api/cluster/info instead of running a stand-in.
//
// Readiness: the node is ready after the "ready" step and while every probe in its listener.Registry
// accepts; GET /health/ready and the gRPC health service follow it. Ports of components that are not
// built yet are not in the registry and do not hold readiness back.
//
// Shutdown: the first SIGINT or SIGTERM makes the node not ready (health NOT_SERVING, /health/ready
// 503) and stops the started steps in reverse order — the broker closes its listeners and drains
// in-flight writes, the engine flushes storage, then meta, prometheus, http, grpc — all within
// runtime.shutdown_timeout_ms; each stop is logged as msg=stop step=<name> duration=<d>. A second
// signal exits at once with code 1.
//
// Exit codes of Run: 0 clean stop (also when a signal interrupts startup and the rollback is clean);
// 1 a startup step failed, the stop failed or overran its bound, or a second signal forced exit;
// 2 the configuration is invalid (every problem printed, one per line) or logging cannot be set up.
//
// Metrics: robustmq_node_startup_step_seconds{step="<name>"} is how long each started step took, and
// {step="ready"} the whole startup since the process began.
//
// Goroutines: Run owns one signal goroutine, stopped before it returns; each server component owns its
// serving goroutine. Node methods are called from Run's goroutine only, except Ready and Info, which
// the admin and gRPC handlers call on theirs.
package node
