package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/server/node/listener"
)

// Options configure the admin API server.
type Options struct {
	Addr      string             // bind address, host:port
	Logger    *slog.Logger       // default slog.Default()
	Listeners *listener.Registry // the server registers its port here as "http"
	// Ready tells whether the node is ready and, if not, why. It backs GET /health/ready.
	Ready    func() (ok bool, reason string)
	Pprof    bool          // serve /debug/pprof/
	Username string        // [admin] credentials for POST /api/v1/login
	Password string        // empty disables login: only loopback gets in
	TokenTTL time.Duration // lifetime of a login token
	Now      func() time.Time
}

// Server is the admin API server. It implements component.Component and component.Router.
type Server struct {
	httpServer
	mux *http.ServeMux
}

// New builds the server; Start binds the port.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{mux: http.NewServeMux()}
	a := newAuth(o.Username, o.Password, o.TokenTTL, o.Now)
	s.init("http", o.Addr, o.Logger, o.Listeners, instrument(a.guard(s.mux)))

	s.mux.HandleFunc("GET /health/live", func(w http.ResponseWriter, _ *http.Request) {
		OK(w, map[string]string{"status": "live"})
	})
	s.mux.HandleFunc("GET /health/ready", func(w http.ResponseWriter, _ *http.Request) {
		if ok, reason := o.Ready(); !ok {
			Fail(w, http.StatusServiceUnavailable, "not ready: "+reason)
			return
		}
		OK(w, map[string]string{"status": "ready"})
	})
	s.mux.HandleFunc("GET /metrics", WriteMetrics)
	s.mux.HandleFunc("POST /api/v1/login", a.handleLogin)
	// Everything no other pattern takes (an unknown path, or a known one with another method) still
	// gets an envelope.
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		Fail(w, http.StatusNotFound, "admin: no route for "+r.Method+" "+r.URL.Path)
	})
	if o.Pprof {
		s.mux.HandleFunc("/debug/pprof/", pprof.Index)
		s.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return s
}

// HandleFunc registers a route (a ServeMux pattern with a method). It implements component.Router and
// may be called before or after Start.
func (s *Server) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	s.mux.HandleFunc(pattern, h)
}

// Handler is the whole server as an http.Handler, for tests with httptest.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// WriteMetrics writes the default metrics set with Go runtime and process metrics, in Prometheus text.
func WriteMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	metrics.WritePrometheus(w, true)
}

// Prometheus is the endpoint on prometheus_port: GET /metrics and nothing else, no authentication.
// It implements component.Component.
type Prometheus struct{ httpServer }

// NewPrometheus builds the endpoint; Start binds addr and registers it in reg as "prometheus".
func NewPrometheus(addr string, log *slog.Logger, reg *listener.Registry) *Prometheus {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", WriteMetrics)
	p := &Prometheus{}
	p.init("prometheus", addr, log, reg, mux)
	return p
}

// instrument counts requests by route pattern and status.
func instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		// ServeMux stores the matched pattern in r; "/" is the fallback, "" a request the mux refused.
		path := r.Pattern
		if path == "/" || path == "" {
			path = "unmatched"
		}
		metrics.GetOrCreateCounter(`robustmq_admin_http_requests_total{path="` + path + `",code="` +
			strconv.Itoa(sw.status) + `"}`).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer (pprof's profile and trace use it).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// httpServer is the start/stop life shared by Server and Prometheus.
type httpServer struct {
	name string
	addr string
	log  *slog.Logger
	reg  *listener.Registry
	srv  *http.Server
	ln   *listener.Listener // set by Start
	done chan struct{}      // closed when the serving goroutine returns
}

func (h *httpServer) init(name, addr string, log *slog.Logger, reg *listener.Registry, handler http.Handler) {
	if log == nil {
		log = slog.Default()
	}
	h.name, h.addr, h.log, h.reg = name, addr, log, reg
	h.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Name implements component.Component.
func (h *httpServer) Name() string { return h.name }

// Addr is the bound address after Start, else the configured one.
func (h *httpServer) Addr() string {
	if h.ln != nil {
		return h.ln.BoundAddr()
	}
	return h.addr
}

// Start binds the port and serves on a goroutine that Stop waits for.
func (h *httpServer) Start(context.Context) error {
	ln, err := listener.Bind(h.name, h.addr, h.reg)
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	h.ln = ln
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		if err := h.srv.Serve(h.ln); !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("serve stopped", "listener", h.name, "addr", h.ln.BoundAddr(), "err", err)
		}
	}()
	return nil
}

// Stop closes the listener, lets in-flight requests finish until ctx expires, then closes the rest.
func (h *httpServer) Stop(ctx context.Context) error {
	if h.done == nil {
		return nil // never started
	}
	if h.reg != nil {
		h.reg.Remove(h.name)
	}
	err := h.srv.Shutdown(ctx)
	if err != nil {
		h.srv.Close()
		err = fmt.Errorf("admin: %s: stop: %w", h.name, err)
	}
	<-h.done
	return err
}
