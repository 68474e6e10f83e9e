package main

// These tests run the real binary: TestMain builds it once (with -race when the tests run with -race),
// and each test starts it on free loopback ports with its own data directory.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bytedance/sonic"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	refpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"robustmq/server/config"
	"robustmq/server/node"
	"robustmq/server/node/nodetest"
	"robustmq/server/pb"
)

// binary is the robustmq binary built by TestMain.
var binary string

func TestMain(m *testing.M) { nodetest.Main(m, raceBuild, &binary) }

// ports maps a config port key (e.g. "http_port") to a free loopback port, for every port the default
// configuration binds.
type ports map[string]int

// freePorts picks a free port per listener key of the default configuration (see nodetest.FreePorts).
func freePorts(t *testing.T) ports {
	t.Helper()
	specs := config.Default().Listeners()
	nums, err := nodetest.FreePorts(len(specs))
	if err != nil {
		t.Fatal(err)
	}
	out := ports{}
	for i, spec := range specs {
		out[spec.Key] = nums[i]
	}
	return out
}

// toml renders the ports as dotted keys plus extra lines, for a config file. Unless extra sets
// meta_addrs, this node is the only meta node.
func (p ports) toml(dir, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "bind_ip = \"127.0.0.1\"\nbroker_ip = \"127.0.0.1\"\ndata_path = %q\n", filepath.Join(dir, "data"))
	if !strings.Contains(extra, "meta_addrs") {
		fmt.Fprintf(&b, "meta_addrs = { \"1\" = \"127.0.0.1:%d\" }\n", p["grpc_port"])
	}
	fmt.Fprintf(&b, "storage_runtime.data_path = [%q]\n", filepath.Join(dir, "data", "engine"))
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %d\n", k, p[k])
	}
	b.WriteString(extra)
	return b.String()
}

// env renders the ports as ROBUST_MQ_SERVER_* overrides, for a node started without --config.
func (p ports) env(dir string) []string {
	out := []string{
		config.EnvName("bind_ip") + "=127.0.0.1",
		config.EnvName("broker_ip") + "=127.0.0.1",
		config.EnvName("data_path") + "=" + filepath.Join(dir, "data"),
		config.EnvName("storage_runtime.data_path") + "=" + filepath.Join(dir, "data", "engine"),
		config.EnvName("meta_addrs") + `={"1" = "127.0.0.1:` + strconv.Itoa(p["grpc_port"]) + `"}`,
	}
	for k, v := range p {
		out = append(out, config.EnvName(k)+"="+strconv.Itoa(v))
	}
	return out
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "server.toml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is a bytes.Buffer that the process's output copier and the test read at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is one running robustmq.
type proc struct {
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	exited chan struct{} // closed when the process has exited; code is set then
	code   int
}

// launch runs the binary with args and extra environment; the test kills it if it is still running at
// cleanup.
func launch(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{exited: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("robustmq stdout:\n%s\nstderr:\n%s", p.stdout.String(), p.stderr.String())
		}
	})
	return p
}

// wait returns the exit code, failing the test if the process runs longer than within.
func (p *proc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.code
	case <-time.After(within):
		t.Fatalf("robustmq still running %v later", within)
		return -1
	}
}

func (p *proc) signal(t *testing.T, s os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, the process exits, or 10 s pass.
func (p *proc) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		select {
		case <-p.exited:
			t.Fatalf("waiting for %s: robustmq exited with %d", what, p.code)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within 10s", what)
		}
	}
}

var client = &http.Client{Timeout: 5 * time.Second}

func status(url string) int {
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (p *proc) waitReady(t *testing.T, httpPort int) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/health/ready", httpPort)
	p.waitFor(t, "/health/ready = 200", func() bool { return status(url) == 200 })
}

// getJSON GETs url and decodes the envelope's data into data, checking the envelope.
func getJSON(t *testing.T, url string, data any) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env struct {
		Code  *int    `json:"code"`
		Data  any     `json:"data"`
		Error *string `json:"error"`
	}
	env.Data = data
	if err := sonic.Unmarshal(body, &env); err != nil || resp.StatusCode != 200 || env.Code == nil || *env.Code != 0 ||
		env.Error != nil || !bytes.Contains(body, []byte(`"error":null`)) {
		t.Fatalf("GET %s = %d %s; want a success envelope {\"code\":0,\"data\":...,\"error\":null} (%v)", url, resp.StatusCode, body, err)
	}
}

func (p *proc) logHas(t *testing.T, patterns ...string) {
	t.Helper()
	out := p.stdout.String()
	for _, pat := range patterns {
		if !regexp.MustCompile(pat).MatchString(out) {
			t.Errorf("log has no line matching %s", pat)
		}
	}
}

const duration = `duration=[0-9.]+(ns|µs|ms|s)`

// TestStartStop runs a default node (no --config; ports moved by environment overrides), checks every
// endpoint, then stops it with SIGTERM.
func TestStartStop(t *testing.T) {
	t.Parallel()
	pt := freePorts(t)
	p := launch(t, pt.env(t.TempDir()))
	p.waitReady(t, pt["http_port"])
	base := fmt.Sprintf("http://127.0.0.1:%d", pt["http_port"])

	var info node.Info
	getJSON(t, base+"/api/info", &info)
	if info.Version != node.Version || info.ClusterName != config.Default().ClusterName || !info.Ready ||
		!slices.Equal(info.Roles, []string{"meta", "broker", "engine"}) || info.StartTime == 0 || len(info.Nodes) != 1 {
		t.Fatalf("/api/info = %+v", info)
	}
	bound := map[string]string{}
	for _, l := range info.Listeners {
		if l.Status == "accepting" {
			bound[l.Key] = l.Addr
		}
	}
	for _, key := range []string{"grpc_port", "http_port", "prometheus_port"} {
		if want := "127.0.0.1:" + strconv.Itoa(pt[key]); bound[key] != want {
			t.Errorf("/api/info listener %s = %q; want accepting on %s", key, bound[key], want)
		}
	}
	var ci node.ClusterInfo
	getJSON(t, base+"/api/cluster/info", &ci)
	for _, c := range ci.Components {
		if want := roleStatus(config.Role(c.Role)); c.Status != want {
			t.Errorf("/api/cluster/info: %s is %q; want %q", c.Role, c.Status, want)
		}
	}
	if len(ci.Components) != 3 {
		t.Errorf("/api/cluster/info components = %+v; want meta, engine, broker", ci.Components)
	}

	for _, url := range []string{base + "/metrics", fmt.Sprintf("http://127.0.0.1:%d/metrics", pt["prometheus_port"])} {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{"go_goroutines ", "process_resident_memory_bytes ", `robustmq_listener_accepted_total{listener="http"} `,
			`robustmq_node_startup_step_seconds{step="ready"} `, `robustmq_node_startup_step_seconds{step="grpc"} `} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("GET %s: no %q", url, want)
			}
		}
	}
	checkGRPC(t, pt["grpc_port"])

	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0", code)
	}
	var want []string
	for _, s := range []string{"config", "logging", "grpc", "http", "prometheus", "meta", "engine", "broker", "ready"} {
		want = append(want, `msg=start .*step=`+s+` .*`+duration)
	}
	for _, s := range []string{"prometheus", "http", "grpc"} {
		want = append(want, `msg=stop .*step=`+s+` .*`+duration)
	}
	for _, r := range []config.Role{config.RoleMeta, config.RoleEngine, config.RoleBroker} {
		if !node.Built(r) {
			want = append(want, `role=`+string(r)+` status="not built yet"`)
		}
	}
	want = append(want, `msg=stopped `)
	p.logHas(t, want...)
}

func checkGRPC(t *testing.T, port int) {
	t.Helper()
	cc, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC health = %v, %v; want SERVING", h, err)
	}
	ni, err := pb.NewNodeServiceClient(cc).GetNodeInfo(ctx, &pb.GetNodeInfoRequest{})
	if err != nil || ni.GetInfo().GetBrokerId() != 1 || ni.GetInfo().GetVersion() != node.Version || !ni.GetInfo().GetReady() {
		t.Fatalf("GetNodeInfo = %v, %v", ni, err)
	}
	stream, err := refpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&refpb.ServerReflectionRequest{MessageRequest: &refpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, "robustmq.inner.v1.NodeService") || !slices.Contains(names, "grpc.health.v1.Health") {
		t.Fatalf("reflection lists %v; want NodeService and Health", names)
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	pt := freePorts(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	pt["http_port"] = busy.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	p := launch(t, nil, "--config", writeConfig(t, pt.toml(dir, "")))
	if code := p.wait(t, 10*time.Second); code != node.ExitFail {
		t.Fatalf("exit code with http_port in use = %d; want %d", code, node.ExitFail)
	}
	want := fmt.Sprintf("robustmq: start http (http_port %d): ", pt["http_port"])
	if line := strings.TrimSpace(p.stderr.String()); !strings.HasPrefix(line, want) || !strings.Contains(line, "address already in use") ||
		strings.Count(line, "\n") != 0 {
		t.Fatalf("stderr = %q; want one line %q...address already in use", line, want)
	}
	p.logHas(t, `msg=stop .*step=grpc `) // the step before it was rolled back
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	p := launch(t, nil, "--config", writeConfig(t, "grpc_port = 70000\nhttp_port = -1\n"))
	if code := p.wait(t, 10*time.Second); code != node.ExitConfig {
		t.Fatalf("exit code with grpc_port = 70000 = %d; want %d", code, node.ExitConfig)
	}
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	var sawGRPC, sawHTTP bool
	for _, l := range lines {
		sawGRPC = sawGRPC || strings.HasPrefix(l, "robustmq: config: grpc_port: ")
		sawHTTP = sawHTTP || strings.HasPrefix(l, "robustmq: config: http_port: ")
	}
	if !sawGRPC || !sawHTTP {
		t.Fatalf("stderr = %q; want a line per bad key, naming grpc_port and http_port", lines)
	}
}

// launchProfiling starts a node with pprof on and the given shutdown bound, waits until it is ready, and
// starts a 30 s CPU profile on it: an in-flight request that holds the HTTP server's graceful stop. It
// returns once the node has accepted that request.
func launchProfiling(t *testing.T, shutdownMs int) *proc {
	t.Helper()
	pt := freePorts(t)
	p := launch(t, nil, "--config", writeConfig(t, pt.toml(t.TempDir(),
		fmt.Sprintf("runtime.pprof_enable = true\nruntime.shutdown_timeout_ms = %d\n", shutdownMs))))
	p.waitReady(t, pt["http_port"])
	before := acceptedHTTP(t, pt)
	go func() {
		// Its own transport: a new connection, which the accepted count below can see.
		c := &http.Client{Timeout: 40 * time.Second, Transport: &http.Transport{}}
		if resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=30", pt["http_port"])); err == nil {
			resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for acceptedHTTP(t, pt) == before { // scrapes go to the Prometheus port: only the profile counts here
		if time.Now().After(deadline) {
			t.Fatal("profile request not accepted within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p
}

// acceptedHTTP scrapes the node's count of accepted admin connections.
func acceptedHTTP(t *testing.T, pt ports) int {
	t.Helper()
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", pt["prometheus_port"]))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`robustmq_listener_accepted_total\{listener="http"\} (\d+)`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// A second SIGTERM while the first one's graceful stop waits on an in-flight request exits at once
// with code 1.
func TestSecondSignalForcesExit(t *testing.T) {
	t.Parallel()
	p := launchProfiling(t, 60000)
	p.signal(t, syscall.SIGTERM)
	p.waitFor(t, "the stop to begin", func() bool { return strings.Contains(p.stdout.String(), "msg=stop ") })
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 5*time.Second); code != node.ExitFail {
		t.Fatalf("exit code after a second SIGTERM = %d; want %d", code, node.ExitFail)
	}
	p.logHas(t, `msg="second signal, exiting now"`)
}

// A graceful stop that overruns runtime.shutdown_timeout_ms ends hard with code 1 and says which step.
func TestShutdownBound(t *testing.T) {
	t.Parallel()
	p := launchProfiling(t, 300)
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != node.ExitFail {
		t.Fatalf("exit code after an overrun stop = %d; want %d", code, node.ExitFail)
	}
	if errs := p.stderr.String(); !strings.Contains(errs, "stop http: ") || !strings.Contains(errs, "deadline exceeded") {
		t.Fatalf("stderr = %q; want the http step's overrun", errs)
	}
}

// A node with roles = ["broker"] starts only the broker step and the servers.
func TestBrokerOnly(t *testing.T) {
	t.Parallel()
	pt := freePorts(t)
	delete(pt, "storage_runtime.tcp_port") // engine port: not this node's
	meta := launchMeta(t)
	p := launch(t, nil, "--config", writeConfig(t, pt.toml(t.TempDir(),
		"roles = [\"broker\"]\nmeta_addrs = { \"1\" = \""+meta+"\" }\nlog.format = \"json\"\n")))
	p.waitReady(t, pt["http_port"])
	var ci node.ClusterInfo
	getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/api/cluster/info", pt["http_port"]), &ci)
	if want := []node.ComponentInfo{{Role: "broker", Status: roleStatus(config.RoleBroker)}}; !slices.Equal(ci.Components, want) {
		t.Fatalf("/api/cluster/info components = %+v; want %+v", ci.Components, want)
	}
	if ci.MetaAddrs["1"] != meta {
		t.Fatalf("/api/cluster/info meta_addrs = %v", ci.MetaAddrs)
	}
	p.signal(t, syscall.SIGINT)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGINT = %d; want 0", code)
	}
	p.logHas(t, `"step":"broker"`, `"step":"ready"`)
	if out := p.stdout.String(); strings.Contains(out, `"step":"meta"`) || strings.Contains(out, `"step":"engine"`) {
		t.Fatalf("broker-only node logged a meta or engine step:\n%s", out)
	}
}

// launchMeta starts a meta-only node (stopped at cleanup) for nodes without the meta role, and
// returns its host:grpc_port.
func launchMeta(t *testing.T) string {
	t.Helper()
	pt := freePorts(t)
	p := launch(t, nil, "--config", writeConfig(t, pt.toml(t.TempDir(), "roles = [\"meta\"]\n")))
	p.waitReady(t, pt["http_port"])
	return "127.0.0.1:" + strconv.Itoa(pt["grpc_port"])
}

func TestCommands(t *testing.T) {
	t.Parallel()
	f := func(args []string, wantCode int, wantOut string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != wantCode || !strings.Contains(stdout.String()+stderr.String(), wantOut) {
			t.Fatalf("robustmq %q = %d, stdout %q, stderr %q; want %d and %q", args, code, stdout.String(), stderr.String(), wantCode, wantOut)
		}
	}
	f([]string{"version"}, 0, "robustmq "+node.Version+" (commit ")
	f([]string{"--help"}, 0, "  version  ")
	f([]string{"help"}, 0, "  start    ")
	f([]string{"start", "-h"}, 0, "-config file")
	f([]string{"nosuch"}, node.ExitConfig, `unknown command "nosuch"`)
	f([]string{"start", "--nosuch"}, node.ExitConfig, "flag provided but not defined")
	f([]string{"start", "extra"}, node.ExitConfig, `unexpected argument "extra"`)
	f([]string{"--config", filepath.Join(t.TempDir(), "missing.toml")}, node.ExitConfig, "robustmq: config: ")
}

// roleStatus is what /api/cluster/info reports for a role of a node that is up.
func roleStatus(role config.Role) string {
	if node.Built(role) {
		return "running"
	}
	return "not built yet"
}

// ackSet collects what a node acknowledged, from many writer goroutines, and tells when n acks arrived.
// Read set only after the writers stopped.
type ackSet struct {
	mu     sync.Mutex
	set    map[string]bool // guarded by mu while writers run
	n      int
	enough chan struct{} // closed when len(set) reaches n
}

func newAckSet(n int) *ackSet {
	return &ackSet{set: map[string]bool{}, n: n, enough: make(chan struct{})}
}

func (a *ackSet) add(v string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.set[v] {
		return
	}
	a.set[v] = true
	if len(a.set) == a.n {
		close(a.enough)
	}
}

// wait fails t unless n acks (of what) arrive within 30 s.
func (a *ackSet) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-a.enough:
	case <-time.After(30 * time.Second):
		t.Fatalf("fewer than %d %s within 30s", a.n, what)
	}
}
