package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/server/admin"
	"robustmq/server/config"
	"robustmq/server/inner"
	"robustmq/server/node/component"
	"robustmq/server/node/listener"
)

var (
	// ErrInterrupted is returned by Start when its context is cancelled between steps.
	ErrInterrupted = errors.New("node: startup interrupted")
	// ErrStop marks an error of Stop: a component failed to stop or the stop overran its bound.
	ErrStop = errors.New("node: stop")
)

// Options configure a Node.
type Options struct {
	Config *config.Config // REQUIRES: validated
	Logger *slog.Logger   // default slog.Default()
	// Builders replaces the role -> constructor table (tests); nil uses the built-in one.
	Builders map[config.Role]component.New
	// StartTime is when the process started (shown as start_time); zero means now.
	StartTime time.Time
}

// Node is one running robustmq node.
type Node struct {
	cfg     *config.Config
	base    *slog.Logger // components' loggers derive from it
	log     *slog.Logger // base with component=node
	startAt time.Time
	ip      string // advertised IP, detected once

	reg   listener.Registry
	inner *inner.Server
	admin *admin.Server
	steps []*step

	mu      sync.Mutex
	running int // guarded by mu; steps[:running] started and not stopped

	ready    atomic.Bool
	stopping atomic.Bool
}

// step is one startup step after logging.
type step struct {
	name string
	key  string // config key of the port it binds, "" for roles
	port int
	role config.Role         // "" for the node's own servers
	c    component.Component // nil: the role's component is not built yet

	status atomic.Pointer[string] // "not started", "starting", "running", "stopped", "failed", statusNotBuilt
}

func (s *step) setStatus(v string) { s.status.Store(&v) }

// New builds the node: its servers and the components of its roles, which register their gRPC
// services and admin routes here. Nothing is bound until Start.
func New(o Options) (*Node, error) {
	cfg := o.Config
	n := &Node{cfg: cfg, base: o.Logger, startAt: o.StartTime, ip: cfg.AdvertiseIP()}
	if n.base == nil {
		n.base = slog.Default()
	}
	n.log = n.logger("node")
	if n.startAt.IsZero() {
		n.startAt = time.Now()
	}
	table := o.Builders
	if table == nil {
		table = builders
	}

	n.inner = inner.New(inner.Options{
		Addr: bindAddr(cfg, cfg.GRPCPort), Logger: n.logger("grpc"), Listeners: &n.reg, Info: n.pbInfo,
	})
	n.admin = admin.New(admin.Options{
		Addr: bindAddr(cfg, cfg.HTTPPort), Logger: n.logger("admin"), Listeners: &n.reg,
		Ready: n.Ready, Pprof: cfg.Runtime.PprofEnable,
		Username: cfg.Admin.Username, Password: cfg.Admin.Password, TokenTTL: cfg.Admin.TokenTTL(),
	})
	n.admin.HandleFunc("GET /api/info", func(w http.ResponseWriter, _ *http.Request) { admin.OK(w, n.Info()) })
	n.admin.HandleFunc("GET /api/cluster/info", func(w http.ResponseWriter, _ *http.Request) {
		admin.OK(w, n.Info().ClusterInfo)
	})
	n.steps = append(n.steps,
		&step{name: "grpc", key: "grpc_port", port: cfg.GRPCPort, c: n.inner},
		&step{name: "http", key: "http_port", port: cfg.HTTPPort, c: n.admin})
	if cfg.PrometheusPort != 0 {
		p := admin.NewPrometheus(bindAddr(cfg, cfg.PrometheusPort), n.logger("prometheus"), &n.reg)
		n.steps = append(n.steps, &step{name: "prometheus", key: "prometheus_port", port: cfg.PrometheusPort, c: p})
	}

	storage := new(component.Storage) // one slot per node: the engine fills it, the broker reads it
	for _, role := range roleOrder {
		if !cfg.HasRole(role) {
			continue
		}
		st := &step{name: string(role), role: role}
		env := component.Env{
			Config: cfg, Logger: n.logger(string(role)), Listeners: &n.reg,
			HTTP: n.admin, GRPC: n.inner.Registrar(), SetHealth: n.inner.SetHealth, Storage: storage,
		}
		if build := table[role]; build != nil {
			c, err := build(env)
			if err != nil {
				return nil, fmt.Errorf("node: build %s: %w", role, err)
			}
			st.c = c
		}
		n.steps = append(n.steps, st)
		if cp, ok := companions[role]; ok && o.Builders == nil && st.c != nil {
			env.Logger = n.logger(cp.name)
			c, err := cp.build(env)
			if err != nil {
				return nil, fmt.Errorf("node: build %s: %w", cp.name, err)
			}
			n.steps = append(n.steps, &step{name: cp.name, c: c})
		}
	}
	if !cfg.HasRole(config.RoleMeta) {
		n.steps = append(n.steps, &step{name: "member", c: newMember(cfg, n.logger("member"), n.startAt)})
	}
	for _, st := range n.steps {
		if st.c == nil {
			st.setStatus(statusNotBuilt)
		} else {
			st.setStatus("not started")
		}
	}
	return n, nil
}

func (n *Node) logger(component string) *slog.Logger { return n.base.With("component", component) }

func bindAddr(cfg *config.Config, port int) string {
	return net.JoinHostPort(cfg.BindIP, strconv.Itoa(port))
}

// Start runs the steps in order and then the "ready" step. If a step fails, or ctx is cancelled
// between steps, it stops what it started (bounded by the shutdown timeout) and returns the error.
func (n *Node) Start(ctx context.Context) error {
	for i, st := range n.steps {
		if ctx.Err() != nil {
			return n.abort(fmt.Errorf("%w before step %s", ErrInterrupted, st.name))
		}
		t0 := time.Now()
		if st.c == nil {
			n.log.Warn("start", "step", st.name, "role", st.name,
				"status", statusNotBuilt, "duration", time.Since(t0))
			continue
		}
		st.setStatus("starting")
		if err := st.c.Start(ctx); err != nil {
			st.setStatus("failed")
			if st.key != "" {
				err = fmt.Errorf("start %s (%s %d): %w", st.name, st.key, st.port, err)
			} else {
				err = fmt.Errorf("start %s: %w", st.name, err)
			}
			return n.abort(err)
		}
		st.setStatus("running")
		n.mu.Lock()
		n.running = i + 1
		n.mu.Unlock()
		took := time.Since(t0)
		stepSeconds(st.name).Set(took.Seconds())
		attrs := []any{"step", st.name, "duration", took}
		if a, ok := st.c.(interface{ Addr() string }); ok {
			// The configured host with the bound port: Go binds 0.0.0.0 dual-stack and names it [::].
			_, port, _ := net.SplitHostPort(a.Addr())
			attrs = append(attrs, "addr", net.JoinHostPort(n.cfg.BindIP, port))
		}
		n.log.Info("start", attrs...)
	}
	t0 := time.Now()
	n.ready.Store(true)
	n.inner.SetServing(true)
	total := time.Since(n.startAt)
	stepSeconds("ready").Set(total.Seconds())
	n.log.Info("start", "step", "ready", "duration", time.Since(t0),
		"total", total, "roles", n.cfg.Roles)
	return nil
}

// stepSeconds is the gauge of how long a startup step took; for "ready", the whole startup since the
// process began.
func stepSeconds(step string) *metrics.Gauge {
	return metrics.GetOrCreateGauge(`robustmq_node_startup_step_seconds{step="`+step+`"}`, nil)
}

// abort stops the started steps after a failed start and returns cause, joined with any stop error.
func (n *Node) abort(cause error) error {
	n.log.Error("start failed; stopping what started", "err", cause)
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.Runtime.ShutdownTimeout())
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// Stop makes the node not ready and stops the started steps in reverse order. Each Stop gets ctx; once
// ctx expires the rest still get their Stop call (they close hard). It returns every stop error.
func (n *Node) Stop(ctx context.Context) error {
	n.stopping.Store(true)
	n.ready.Store(false)
	n.inner.SetServing(false)
	n.mu.Lock()
	running := n.running
	n.running = 0
	n.mu.Unlock()

	var errs []error
	for i := running - 1; i >= 0; i-- {
		st := n.steps[i]
		if st.c == nil {
			continue
		}
		t0 := time.Now()
		err := st.c.Stop(ctx)
		if err != nil {
			st.setStatus("failed")
			errs = append(errs, fmt.Errorf("stop %s: %w", st.name, err))
			n.log.Error("stop", "step", st.name, "duration", time.Since(t0), "err", err)
			continue
		}
		st.setStatus("stopped")
		n.log.Info("stop", "step", st.name, "duration", time.Since(t0))
	}
	if err := ctx.Err(); err != nil && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("overran its bound: %w", err))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrStop, errors.Join(errs...))
}

// Ready tells whether the node passed its ready step and every registered listener accepts; if not,
// reason says why.
func (n *Node) Ready() (ok bool, reason string) {
	switch {
	case n.stopping.Load():
		return false, "stopping"
	case !n.ready.Load():
		return false, "startup in progress"
	}
	if ok, down := n.reg.Accepting(); !ok {
		return false, "listener " + down + " is not accepting"
	}
	return true, ""
}
