package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bytedance/sonic"

	"robustmq/server/config"
	"robustmq/server/node/component"
)

// journal records component events in order.
type journal struct {
	mu     sync.Mutex
	events []string
}

func (j *journal) add(e string) {
	j.mu.Lock()
	j.events = append(j.events, e)
	j.mu.Unlock()
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.events)
}

// fake is a component whose Start and Stop are scripted.
type fake struct {
	name     string
	j        *journal
	startErr error
	stopWait bool          // Stop blocks until its ctx expires
	release  chan struct{} // if not nil, Start blocks until it is closed
}

func (f *fake) Name() string { return f.name }

func (f *fake) Start(context.Context) error {
	f.j.add("start " + f.name)
	if f.release != nil {
		<-f.release
	}
	return f.startErr
}

func (f *fake) Stop(ctx context.Context) error {
	f.j.add("stop " + f.name)
	if f.stopWait {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func testConfig(roles ...config.Role) *config.Config {
	c := config.Default()
	c.BindIP = "127.0.0.1"
	c.GRPCPort, c.HTTPPort, c.PrometheusPort = 0, 0, 0
	c.Roles = nil
	for _, r := range roles {
		c.Roles = append(c.Roles, string(r))
	}
	c.Runtime.ShutdownTimeoutMs = 2000
	return c
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newNode builds a node whose roles are fakes from fakes (a role missing there is not built yet).
func newNode(t *testing.T, cfg *config.Config, fakes map[config.Role]*fake) *Node {
	t.Helper()
	table := map[config.Role]component.New{}
	for role, f := range fakes {
		table[role] = func(env component.Env) (component.Component, error) {
			if env.Config != cfg || env.Listeners == nil || env.HTTP == nil || env.GRPC == nil || env.SetHealth == nil {
				t.Errorf("build %s: incomplete Env %+v", role, env)
			}
			return f, nil
		}
	}
	n, err := New(Options{Config: cfg, Logger: quietLogger(), Builders: table})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func getInfo(t *testing.T, n *Node, path string, into any) {
	t.Helper()
	resp, err := http.Get("http://" + n.admin.Addr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	env := struct {
		Code  int     `json:"code"`
		Data  any     `json:"data"`
		Error *string `json:"error"`
	}{Data: into}
	if err := sonic.Unmarshal(body, &env); err != nil || resp.StatusCode != 200 || env.Code != 0 || env.Error != nil {
		t.Fatalf("GET %s = %d %s (%v); want a 200 success envelope", path, resp.StatusCode, body, err)
	}
}

func TestStartStopOrder(t *testing.T) {
	j := &journal{}
	fakes := map[config.Role]*fake{}
	for _, r := range []config.Role{config.RoleMeta, config.RoleBroker, config.RoleEngine} {
		fakes[r] = &fake{name: string(r), j: j}
	}
	n := newNode(t, testConfig(config.RoleBroker, config.RoleEngine, config.RoleMeta), fakes)
	if ok, reason := n.Ready(); ok || reason != "startup in progress" {
		t.Fatalf("before Start: Ready() = %v, %q", ok, reason)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ok, reason := n.Ready(); !ok {
		t.Fatalf("after Start: Ready() = false, %q", reason)
	}
	var info Info
	getInfo(t, n, "/api/info", &info)
	if info.Version != Version || !info.Ready || len(info.Components) != 3 {
		t.Fatalf("/api/info = %+v", info)
	}
	for _, c := range info.Components {
		if c.Status != "running" {
			t.Errorf("/api/info component %s status %q; want running", c.Role, c.Status)
		}
	}
	var names []string
	for _, l := range info.Listeners {
		if l.Status == "accepting" {
			names = append(names, l.Name)
		}
	}
	if !slices.Equal(names, []string{"grpc", "http"}) {
		t.Errorf("/api/info accepting listeners = %v; want [grpc http]", names)
	}
	if err := n.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"start meta", "start engine", "start broker", "stop broker", "stop engine", "stop meta"}
	if got := j.list(); !slices.Equal(got, want) {
		t.Fatalf("events = %v; want %v", got, want)
	}
	if ok, reason := n.Ready(); ok || reason != "stopping" {
		t.Fatalf("after Stop: Ready() = %v, %q", ok, reason)
	}
	if ps := n.reg.List(); len(ps) != 0 {
		t.Fatalf("listeners after Stop: %v; want none", ps)
	}
}

func TestStartFailureRollsBack(t *testing.T) {
	j := &journal{}
	boom := errors.New("disk on fire")
	n := newNode(t, testConfig(config.RoleMeta, config.RoleEngine, config.RoleBroker), map[config.Role]*fake{
		config.RoleMeta:   {name: "meta", j: j},
		config.RoleEngine: {name: "engine", j: j, startErr: boom},
		config.RoleBroker: {name: "broker", j: j},
	})
	err := n.Start(context.Background())
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "start engine: ") {
		t.Fatalf("Start = %v; want \"start engine: ...\" wrapping the engine's error", err)
	}
	want := []string{"start meta", "start engine", "stop meta"}
	if got := j.list(); !slices.Equal(got, want) {
		t.Fatalf("events = %v; want %v", got, want)
	}
	if ps := n.reg.List(); len(ps) != 0 {
		t.Fatalf("listeners after a failed start: %v; want none (servers stopped too)", ps)
	}
}

func TestNotBuiltRole(t *testing.T) {
	n := newNode(t, testConfig(config.RoleBroker), nil)
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer n.Stop(context.Background())
	var ci ClusterInfo
	getInfo(t, n, "/api/cluster/info", &ci)
	want := []ComponentInfo{{Role: "broker", Status: statusNotBuilt}}
	if !slices.Equal(ci.Components, want) {
		t.Fatalf("/api/cluster/info components = %+v; want %+v", ci.Components, want)
	}
	if ok, reason := n.Ready(); !ok {
		t.Fatalf("a node whose only role is not built yet is ready once its servers are: Ready() = false, %q", reason)
	}
}

func TestInterruptedStart(t *testing.T) {
	j := &journal{}
	n := newNode(t, testConfig(config.RoleMeta), map[config.Role]*fake{config.RoleMeta: {name: "meta", j: j}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Start(ctx); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Start(cancelled) = %v; want ErrInterrupted", err)
	}
	if got := j.list(); len(got) != 0 {
		t.Fatalf("events = %v; want none", got)
	}
}

type closedProbe struct{}

func (closedProbe) Name() string      { return "mqtt_tcp" }
func (closedProbe) BoundAddr() string { return "127.0.0.1:1883" }
func (closedProbe) Accepting() bool   { return false }

func TestReadyFollowsListeners(t *testing.T) {
	n := newNode(t, testConfig(), nil)
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer n.Stop(context.Background())
	if err := n.reg.Add(closedProbe{}); err != nil {
		t.Fatal(err)
	}
	if ok, reason := n.Ready(); ok || reason != "listener mqtt_tcp is not accepting" {
		t.Fatalf("with a closed listener: Ready() = %v, %q", ok, reason)
	}
	resp, err := http.Get("http://" + n.admin.Addr() + "/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("/health/ready with a closed listener = %d; want 503", resp.StatusCode)
	}
	n.reg.Remove("mqtt_tcp")
	if ok, reason := n.Ready(); !ok {
		t.Fatalf("after removing it: Ready() = false, %q", reason)
	}
}

func TestStopBounded(t *testing.T) {
	j := &journal{}
	n := newNode(t, testConfig(config.RoleEngine), map[config.Role]*fake{
		config.RoleEngine: {name: "engine", j: j, stopWait: true},
	})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := n.Stop(ctx)
	if !errors.Is(err, ErrStop) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "stop engine") {
		t.Fatalf("Stop past its bound = %v; want ErrStop naming engine with DeadlineExceeded", err)
	}
	if ps := n.reg.List(); len(ps) != 0 {
		t.Fatalf("listeners after an overrun stop: %v; want none (later steps still stopped)", ps)
	}
}

// While a component is still starting, the admin server is up and /health/ready says 503.
func TestNotReadyDuringStartup(t *testing.T) {
	j := &journal{}
	meta := &fake{name: "meta", j: j, release: make(chan struct{})}
	n := newNode(t, testConfig(config.RoleMeta), map[config.Role]*fake{config.RoleMeta: meta})
	started := make(chan error, 1)
	go func() { started <- n.Start(context.Background()) }()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(j.list(), "start meta") {
		if time.Now().After(deadline) {
			t.Fatal("meta not starting within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f := func(want int, wantBody string) {
		t.Helper()
		resp, err := http.Get("http://" + n.admin.Addr() + "/health/ready")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || string(body) != wantBody {
			t.Fatalf("/health/ready = %d %s; want %d %s", resp.StatusCode, body, want, wantBody)
		}
	}
	f(503, `{"code":503,"data":null,"error":"not ready: startup in progress"}`)
	close(meta.release)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	f(200, `{"code":0,"data":{"status":"ready"},"error":null}`)
	if err := n.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
