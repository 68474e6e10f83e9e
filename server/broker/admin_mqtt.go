package broker

// MQTT operations: admin routes over the MQTT server's inspection
// snapshots (server/mqtt/inspect.go) and the $SYS publisher's wiring.
//
// Routes (RobustMQ's /api/mqtt/... paths where RobustMQ has one; lists take
// admin's paging and filter parameters, plus the listed shortcuts):
//
//	GET  /api/mqtt/client/list     connected clients; source_ip (host), connection_id, client_id (substring)
//	POST /api/mqtt/client/kick     {"client_id"}: DISCONNECT 0x98 (5.0) or close (3.x); 404 if not connected
//	GET  /api/mqtt/session/list    sessions, online and offline; client_id (substring)
//	GET  /api/mqtt/subscribe/list  subscriptions; client_id (substring)
//	GET  /api/mqtt/retain/list     retained messages (no payloads); topic_name (substring)
//	POST /api/mqtt/retain/delete   {"topic_name"}: delete one retained message; 404 if none
//
// All answer 503 while the broker is not running.

import (
	"errors"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/server/admin"
	"robustmq/server/mqtt"
	"robustmq/server/node/component"
)

// maxAdminBody bounds the JSON body of the POST routes.
const maxAdminBody = 4 << 10

func (b *Broker) registerMQTTAdmin(r component.Router) {
	r.HandleFunc("GET /api/mqtt/client/list", b.clientList)
	r.HandleFunc("POST /api/mqtt/client/kick", b.clientKick)
	r.HandleFunc("GET /api/mqtt/session/list", b.sessionList)
	r.HandleFunc("GET /api/mqtt/subscribe/list", b.subscribeList)
	r.HandleFunc("GET /api/mqtt/retain/list", b.retainList)
	r.HandleFunc("POST /api/mqtt/retain/delete", b.retainDelete)
}

// running returns the MQTT server, or answers 503 and returns nil.
func (b *Broker) running(w http.ResponseWriter) *mqtt.Server {
	srv := b.MQTT()
	if srv == nil {
		admin.Fail(w, http.StatusServiceUnavailable, "broker: not running")
	}
	return srv
}

// contains reports whether the query parameter key is absent or s contains
// its value.
func contains(r *http.Request, key, s string) bool {
	v := r.URL.Query().Get(key)
	return v == "" || strings.Contains(s, v)
}

func (b *Broker) clientList(w http.ResponseWriter, r *http.Request) {
	srv := b.running(w)
	if srv == nil {
		return
	}
	q := r.URL.Query()
	ip, id := q.Get("source_ip"), q.Get("connection_id")
	cs := slices.DeleteFunc(srv.Clients(), func(c mqtt.Client) bool {
		host, _, _ := net.SplitHostPort(c.SourceIPAddr)
		return ip != "" && host != ip || id != "" && strconv.FormatUint(c.ConnectionID, 10) != id ||
			!contains(r, "client_id", c.ClientID)
	})
	admin.WritePage(w, r, cs)
}

func (b *Broker) sessionList(w http.ResponseWriter, r *http.Request) {
	if srv := b.running(w); srv != nil {
		admin.WritePage(w, r, slices.DeleteFunc(srv.SessionList(), func(s mqtt.Session) bool {
			return !contains(r, "client_id", s.ClientID)
		}))
	}
}

func (b *Broker) subscribeList(w http.ResponseWriter, r *http.Request) {
	if srv := b.running(w); srv != nil {
		admin.WritePage(w, r, slices.DeleteFunc(srv.Subscriptions(), func(s mqtt.Subscription) bool {
			return !contains(r, "client_id", s.ClientID)
		}))
	}
}

func (b *Broker) retainList(w http.ResponseWriter, r *http.Request) {
	srv := b.running(w)
	if srv == nil {
		return
	}
	rs, err := srv.RetainedList()
	if err != nil {
		admin.Fail(w, http.StatusNotImplemented, "broker: "+err.Error())
		return
	}
	admin.WritePage(w, r, slices.DeleteFunc(rs, func(m mqtt.Retained) bool { return !contains(r, "topic_name", m.Topic) }))
}

func (b *Broker) clientKick(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ClientID string `json:"client_id"`
	}
	srv := b.running(w)
	if srv == nil || !admin.ReadJSON(w, r, maxAdminBody, &req) {
		return
	}
	if req.ClientID == "" {
		admin.Fail(w, http.StatusBadRequest, "broker: POST /api/mqtt/client/kick: client_id is empty")
		return
	}
	switch err := srv.Kick(req.ClientID); {
	case errors.Is(err, mqtt.ErrNoClient):
		admin.Fail(w, http.StatusNotFound, "broker: client "+strconv.Quote(req.ClientID)+" is not connected")
	case err != nil:
		admin.Fail(w, http.StatusInternalServerError, "broker: kick "+strconv.Quote(req.ClientID)+": "+err.Error())
	default:
		admin.OK(w, "success")
	}
}

func (b *Broker) retainDelete(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Topic string `json:"topic_name"`
	}
	srv := b.running(w)
	if srv == nil || !admin.ReadJSON(w, r, maxAdminBody, &req) {
		return
	}
	switch err := srv.DeleteRetained(req.Topic); {
	case errors.Is(err, mqtt.ErrNoRetained):
		admin.Fail(w, http.StatusNotFound, "broker: no retained message on topic "+strconv.Quote(req.Topic))
	case errors.Is(err, mqtt.ErrRetainNotListable):
		admin.Fail(w, http.StatusNotImplemented, "broker: "+err.Error())
	case err != nil:
		admin.Fail(w, http.StatusInternalServerError, "broker: delete retained "+strconv.Quote(req.Topic)+": "+err.Error())
	default:
		admin.OK(w, "success")
	}
}

// startSys starts the $SYS publisher when mqtt_runtime.system_monitor.
// system_topic_interval_ms is not 0: node level = the advertised IP
// (RobustMQ uses the broker's IP), bytes = the MQTT listeners' netpoll
// counters.
func (b *Broker) startSys() {
	cfg := b.env.Config
	ms := cfg.MQTTRuntime.SystemMonitor.SystemTopicIntervalMs
	if ms <= 0 {
		return
	}
	var in, out []*metrics.Counter
	for _, l := range b.Listeners() {
		// netpoll's per-listener counters (netpoll/metrics.go).
		label := `{listener="` + l.Name() + `"}`
		in = append(in, metrics.GetOrCreateCounter("robustmq_netpoll_read_bytes_total"+label))
		out = append(out, metrics.GetOrCreateCounter("robustmq_netpoll_written_bytes_total"+label))
	}
	sum := func(cs []*metrics.Counter) uint64 {
		var n uint64
		for _, c := range cs {
			n += c.Get()
		}
		return n
	}
	sys := b.MQTT().StartSys(mqtt.SysOptions{Node: cfg.AdvertiseIP(), Version: buildVersion(),
		Interval: time.Duration(ms) * time.Millisecond, Bytes: func() (uint64, uint64) { return sum(in), sum(out) }})
	b.mu.Lock()
	b.sys = sys
	b.mu.Unlock()
}

// buildVersion is the main module's version and VCS revision as the Go
// toolchain stamped them. The node's version string (server/node.Version)
// is out of reach: server/node imports this package.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}
