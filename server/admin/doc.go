// Package admin is the node's HTTP side: the admin API server on http_port and the Prometheus
// endpoint on prometheus_port.
//
// Every JSON answer is one envelope, the shape RobustMQ's tools read:
//
//	{"code":0,"data":<payload>,"error":null}              success (HTTP 200)
//	{"code":<status>,"data":null,"error":"<message>"}     failure; code repeats the HTTP status
//
// and a paged list puts {"data":[...],"total_count":N} in data, cut by the query parameters limit
// (default 10000), page (from 1, default 1), sort_field (a JSON field name of the items), sort_by
// (asc or desc), and RobustMQ's filter_field, filter_values and exact_match (total_count counts what
// the filter keeps). OK, Fail and WritePage write these, and ReadJSON reads a bounded JSON body;
// every handler, here or in later packages, uses them and nothing else.
//
// Routes of the server itself:
//
//	GET  /health/live        200 while the process serves HTTP
//	GET  /health/ready       200 once the node is ready and every listener accepts, else 503
//	GET  /metrics            Prometheus text, same as prometheus_port
//	POST /api/v1/login       {"username","password"} -> {"token","expires_at"}
//	     /debug/pprof/...    only when runtime.pprof_enable = true
//	     anything else       404 in the envelope
//
// Other packages add theirs through HandleFunc (see component.Router).
//
// Authentication: requests from loopback (127.0.0.0/8, ::1) pass. Others need
// "Authorization: Bearer <token>" with a token from /api/v1/login, except on the health, metrics and
// login paths, which are always open (probes and scrapers run elsewhere; the Prometheus port is open
// anyway). Tokens are 32 random bytes, live token_ttl_hours, are kept in memory (a restart logs
// everyone out) and at most maxTokens exist: a login beyond that evicts the token closest to expiry.
// Credentials are compared in constant time.
//
// Metrics:
//
//	robustmq_admin_http_requests_total{path="<mux pattern>",code="<status>"}
//	robustmq_admin_auth_denied_total{reason="missing_token|invalid_token|expired_token|bad_login"}
//
// Goroutines: Start spawns one serving goroutine per server; Stop shuts the server down and waits for
// it. Handlers run on net/http's goroutines and must be safe for concurrent use.
package admin
