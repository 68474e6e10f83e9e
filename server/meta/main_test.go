package meta_test

// These tests run real robustmq processes: TestMain builds the binary once (with -race when the
// tests run with -race); each test writes its configs into a temp dir, with free loopback ports and
// short raft ticks, and talks to the nodes over the admin HTTP API and the Meta gRPC API.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"robustmq/raftgroups"
	"robustmq/server/meta"
	"robustmq/server/meta/client"
	"robustmq/server/node/nodetest"
)

var binary string

func TestMain(m *testing.M) { nodetest.Main(m, raceBuild, &binary) }

// freePorts returns n distinct free loopback ports (see nodetest.FreePorts).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	out, err := nodetest.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// node is one robustmq process of a test cluster.
type node struct {
	id             uint64
	grpc, http     int
	engine         int    // storage_runtime.tcp_port of a non-meta node
	metaAddrs      string // this node's meta_addrs entries when not the cluster's
	config, logDir string
	cmd            *exec.Cmd
	exited         chan struct{}
}

// cluster writes n configs (roles = ["meta"]) sharing one meta_addrs.
type cluster struct {
	t     *testing.T
	dir   string
	addrs string // meta_addrs' entries
	nodes []*node
	env   []string
}

// timing of the test configs: 20 ms raft ticks (elections after 200 ms), heartbeat timeout 1 s,
// writes time out after 1 s.
const testConfig = `
broker_ip = "127.0.0.1"
bind_ip = "127.0.0.1"
prometheus_port = 0

[meta_runtime]
raft_tick_ms = 20
heartbeat_timeout_ms = 1000
heartbeat_check_time_ms = 100
raft_write_timeout_sec = 1

[log]
level = "info"
`

func newCluster(t *testing.T, n int, snapshotEntries int) *cluster {
	t.Helper()
	dir := t.TempDir()
	ps := freePorts(t, 2*n)
	c := &cluster{t: t, dir: dir, env: append(os.Environ(), meta.SnapshotEntriesEnv+"="+strconv.Itoa(snapshotEntries))}
	var addrs []string
	for i := range n {
		nd := c.newNode(uint64(i+1), ps[2*i], ps[2*i+1])
		c.nodes = append(c.nodes, nd)
		addrs = append(addrs, fmt.Sprintf("%d = \"127.0.0.1:%d\"", nd.id, nd.grpc))
	}
	c.addrs = strings.Join(addrs, ", ")
	for _, nd := range c.nodes {
		c.writeConfig(nd, `["meta"]`, "")
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			c.kill(nd)
		}
	})
	return c
}

// newNode names node id's config file and directory.
func (c *cluster) newNode(id uint64, grpc, http int) *node {
	return &node{id: id, grpc: grpc, http: http,
		config: filepath.Join(c.dir, fmt.Sprintf("server-%d.toml", id)), logDir: filepath.Join(c.dir, fmt.Sprintf("node-%d", id))}
}

// writeConfig writes nd's config: its roles, the cluster's meta_addrs, the shared test settings,
// then sections (TOML tables).
func (c *cluster) writeConfig(nd *node, roles, sections string) {
	c.t.Helper()
	addrs := c.addrs
	if nd.metaAddrs != "" {
		addrs = nd.metaAddrs
	}
	cfg := fmt.Sprintf("broker_id = %d\ngrpc_port = %d\nhttp_port = %d\ndata_path = %q\nmeta_addrs = { %s }\nroles = %s\n",
		nd.id, nd.grpc, nd.http, nd.logDir, addrs, roles) + testConfig + sections
	if err := os.WriteFile(nd.config, []byte(cfg), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// addNode adds node id with roles (no meta role: it joins through meta_addrs); every listener of
// the broker role is off. It is killed at cleanup.
func (c *cluster) addNode(id uint64, roles string) *node {
	c.t.Helper()
	ps := freePorts(c.t, 3)
	nd := c.newNode(id, ps[0], ps[1])
	nd.engine = ps[2]
	c.writeConfig(nd, roles, sections(nd, 0))
	c.t.Cleanup(func() { c.kill(nd) })
	return nd
}

// sections is the TOML tables of a non-meta test node: its engine directory and port, Kafka on
// kafka (0: off) and every other listener of the broker role off.
func sections(nd *node, kafka int) string {
	return fmt.Sprintf(`
[kafka_runtime]
tcp_port = %d

[storage_runtime]
tcp_port = %d
data_path = [%q]

[mqtt_runtime.server]
tcp_port = 0
tls_port = 0
websocket_port = 0
websockets_port = 0

[nats_runtime]
tcp_port = 0
tls_port = 0
ws_port = 0
wss_port = 0

[amqp_runtime]
tcp_port = 0
`, kafka, nd.engine, filepath.Join(nd.logDir, "engine"))
}

// start launches nd; its output goes to logDir/out.log, printed if the test fails.
func (c *cluster) start(nd *node) {
	c.t.Helper()
	if err := os.MkdirAll(nd.logDir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	out, err := os.OpenFile(filepath.Join(nd.logDir, "out.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	nd.cmd = exec.Command(binary, "start", "--config", nd.config)
	nd.cmd.Env = c.env
	nd.cmd.Stdout, nd.cmd.Stderr = out, out
	if err := nd.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	nd.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		out.Close()
		close(done)
	}(nd.cmd, nd.exited)
	c.t.Cleanup(func() {
		if c.t.Failed() {
			b, _ := os.ReadFile(filepath.Join(nd.logDir, "out.log"))
			c.t.Logf("node %d output (last 4 KiB):\n%s", nd.id, tail(b, 4096))
		}
	})
}

func tail(b []byte, n int) []byte { return b[max(0, len(b)-n):] }

// kill SIGKILLs nd if it runs and waits for it.
func (c *cluster) kill(nd *node) {
	if nd.cmd == nil {
		return
	}
	nd.cmd.Process.Signal(syscall.SIGKILL)
	<-nd.exited
	nd.cmd = nil
}

// stop SIGTERMs nd and waits for a clean exit.
func (c *cluster) stop(nd *node) {
	c.t.Helper()
	nd.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-nd.exited:
	case <-time.After(10 * time.Second):
		c.t.Fatalf("node %d did not stop within 10s of SIGTERM", nd.id)
	}
	if code := nd.cmd.ProcessState.ExitCode(); code != 0 {
		c.t.Fatalf("node %d exited with %d after SIGTERM; want 0", nd.id, code)
	}
	nd.cmd = nil
}

func (nd *node) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", nd.http, path) }
func (nd *node) addr() string           { return fmt.Sprintf("127.0.0.1:%d", nd.grpc) }

// getJSON GETs path from nd and decodes the envelope's data into v.
func getJSON(nd *node, path string, v any) error {
	resp, err := http.Get(nd.url(path))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeEnvelope(resp, v)
}

func postJSON(nd *node, path, body string) error {
	resp, err := http.Post(nd.url(path), "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeEnvelope(resp, nil)
}

func decodeEnvelope(resp *http.Response, v any) error {
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Code  int             `json:"code"`
		Data  json.RawMessage `json:"data"`
		Error *string         `json:"error"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("%s: %w", b, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(env.Data, v)
}

// raft returns nd's /api/cluster/raft by group name.
func raft(nd *node) (map[string]raftgroups.GroupStatus, error) {
	var st []raftgroups.GroupStatus
	if err := getJSON(nd, "/api/cluster/raft", &st); err != nil {
		return nil, err
	}
	out := map[string]raftgroups.GroupStatus{}
	for _, s := range st {
		out[s.Group] = s
	}
	return out, nil
}

// poll calls f until it returns nil or d passes; then the test fails with f's last error.
func poll(t *testing.T, d time.Duration, what string, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < d {
		if err = f(); err == nil {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %v", what, d, err)
	return 0
}

// leaders returns, for every group, the leader all of nodes agree on, or an error.
func leaders(nodes []*node) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, nd := range nodes {
		st, err := raft(nd)
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", nd.id, err)
		}
		for _, g := range raftgroups.Groups {
			s := st[g.String()]
			if s.Leader == 0 {
				return nil, fmt.Errorf("node %d: group %s has no leader", nd.id, g)
			}
			if l, ok := out[g.String()]; ok && l != s.Leader {
				return nil, fmt.Errorf("group %s: node %d says leader %d, another says %d", g, nd.id, s.Leader, l)
			}
			out[g.String()] = s.Leader
		}
	}
	return out, nil
}

func dial(t *testing.T, nodes ...*node) *client.Client {
	t.Helper()
	var addrs []string
	for _, nd := range nodes {
		addrs = append(addrs, nd.addr())
	}
	c, err := client.New(addrs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// metric reads one sample of nd's /metrics; 0 if absent.
func metric(nd *node, name string) float64 {
	resp, err := http.Get(nd.url("/metrics"))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}
