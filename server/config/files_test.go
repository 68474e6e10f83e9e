package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// repoConfig is the repository's config/ folder, seen from this package.
const repoConfig = "../../config"

func loadFile(t *testing.T, path string) (*Config, []Warning) {
	t.Helper()
	c, warns, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return c, warns
}

// unimplementedKeys is every leaf key Load warns about when set.
func unimplementedKeys() []string {
	var out []string
	for _, lf := range leaves(Default()) {
		if lf.unimpl {
			out = append(out, lf.key)
		}
	}
	slices.Sort(out)
	return out
}

func warnKeys(ws []Warning) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Key
	}
	return out
}

// presentKeys lists the leaf keys a TOML document sets.
func presentKeys(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	isLeaf := map[string]bool{}
	for _, lf := range leaves(Default()) {
		isLeaf[lf.key] = true
	}
	var out []string
	var walk func(m map[string]any, prefix string)
	walk = func(m map[string]any, prefix string) {
		for k, v := range m {
			key := join(prefix, k)
			if sub, ok := v.(map[string]any); ok && !isLeaf[key] {
				walk(sub, key)
				continue
			}
			out = append(out, key)
		}
	}
	walk(raw, "")
	slices.Sort(out)
	return out
}

// The template documents every key with its default: it sets every key, and
// loading it gives exactly Default(). So it cannot drift from the code.
func TestTemplateIsDefault(t *testing.T) {
	path := filepath.Join(repoConfig, "server.toml.template")
	c, warns := loadFile(t, path)
	if want := Default(); !reflect.DeepEqual(c, want) {
		for _, lf := range leaves(c) {
			for _, wf := range leaves(want) {
				if lf.key == wf.key && !reflect.DeepEqual(lf.v.Interface(), wf.v.Interface()) {
					t.Errorf("template %s = %v; Default() has %v", lf.key, lf.v.Interface(), wf.v.Interface())
				}
			}
		}
		t.Fatal("template differs from Default()")
	}
	var all []string
	for _, lf := range leaves(Default()) {
		all = append(all, lf.key)
	}
	slices.Sort(all)
	if got := presentKeys(t, path); !slices.Equal(got, all) {
		t.Errorf("template sets keys\n%v\nwant every key\n%v", got, all)
	}
	if got, want := warnKeys(warns), unimplementedKeys(); !slices.Equal(got, want) {
		t.Errorf("template warnings for\n%v\nwant one per unimplemented key\n%v", got, want)
	}
}

// The template's "not implemented" comments, on a key or on its table
// header, name exactly the keys tagged impl:"no".
func TestTemplateMarksUnimplemented(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoConfig, "server.toml.template"))
	if err != nil {
		t.Fatal(err)
	}
	const mark = "not implemented"
	var marked []string
	table, tableMarked := "", false
	for line := range strings.Lines(string(data)) {
		code, comment, _ := strings.Cut(line, "#")
		code = strings.TrimSpace(code)
		switch {
		case strings.HasPrefix(code, "["):
			table = strings.Trim(code, "[]")
			tableMarked = strings.Contains(comment, mark)
		case strings.Contains(code, "="):
			key := join(table, strings.TrimSpace(strings.SplitN(code, "=", 2)[0]))
			if table == "meta_addrs" {
				key = table
			}
			if tableMarked || strings.Contains(comment, mark) {
				marked = append(marked, key)
			}
		}
	}
	slices.Sort(marked)
	if want := unimplementedKeys(); !slices.Equal(marked, want) {
		t.Errorf("template marks as %q\n%v\nwant the impl:\"no\" keys\n%v", mark, marked, want)
	}
}

func TestServerTomlMinimal(t *testing.T) {
	c, warns := loadFile(t, filepath.Join(repoConfig, "server.toml"))
	if len(warns) != 0 {
		t.Errorf("server.toml warnings %v; want none", warns)
	}
	for _, r := range []Role{RoleMeta, RoleBroker, RoleEngine} {
		if !c.HasRole(r) {
			t.Errorf("server.toml lacks role %s", r)
		}
	}
	if got := c.MetaNodes(); len(got) != 1 || got[0] != (MetaNode{1, "127.0.0.1:1228"}) {
		t.Errorf("MetaNodes() = %v; want [{1 127.0.0.1:1228}]", got)
	}
}

// The three cluster files validate alone and can run side by side on one
// host: no port is bound twice across them, no data directory is shared, and
// they agree on the meta nodes.
func TestClusterFiles(t *testing.T) {
	byPort := map[int]string{}
	dirs := map[string]string{}
	var meta []MetaNode
	for n := 1; n <= 3; n++ {
		name := "server-" + strconv.Itoa(n) + ".toml"
		c, warns := loadFile(t, filepath.Join(repoConfig, "cluster", name))
		if len(warns) != 0 {
			t.Errorf("%s: warnings %v; want none", name, warns)
		}
		if c.BrokerID != uint64(n) {
			t.Errorf("%s: broker_id %d; want %d", name, c.BrokerID, n)
		}
		if got := len(c.Roles); got != 3 {
			t.Errorf("%s: roles %v; want meta, broker, engine", name, c.Roles)
		}
		ls := c.Listeners()
		if len(ls) != 14 {
			t.Errorf("%s: %d listeners; want all 14", name, len(ls))
		}
		for _, l := range ls {
			if other, dup := byPort[l.Port]; dup {
				t.Errorf("%s: %s port %d is also %s", name, l.Key, l.Port, other)
			}
			byPort[l.Port] = name + " " + l.Key
		}
		for _, d := range append([]string{c.DataPath, c.Log.LogPath}, c.StorageRuntime.DataPath...) {
			if other, dup := dirs[d]; dup {
				t.Errorf("%s: directory %s also used by %s", name, d, other)
			}
			dirs[d] = name
		}
		nodes := c.MetaNodes()
		if meta == nil {
			meta = nodes
		} else if !slices.Equal(nodes, meta) {
			t.Errorf("%s: meta_addrs %v; server-1 has %v", name, nodes, meta)
		}
		self := c.BrokerIP + ":" + strconv.Itoa(c.GRPCPort)
		if len(nodes) != 3 || nodes[n-1].Addr != self {
			t.Errorf("%s: meta_addrs %v; want 3 nodes with node %d at %s", name, nodes, n, self)
		}
	}
}

// A RobustMQ config using keys we do not implement still loads, with one
// warning per such key.
func TestRobustMQConfigLoads(t *testing.T) {
	const rmq = `
cluster_name = "robustmq-cluster"
broker_id = 1
broker_ip = "127.0.0.1"
roles = ["meta", "broker", "engine"]
grpc_port = 1228
http_port = 58080
meta_addrs = { 1 = "127.0.0.1:1228", 2 = "127.0.0.1:2228", 3 = "127.0.0.1:3228" }
data_path = "./data/broker-1/data"

[log]
log_config = "./config/cluster/logger-1.toml"
log_path = "./data/broker-1/logs"

[broker_network]
accept_thread_num = 1
handler_thread_num = 64
queue_size = 5000
tls_cert = "./config/certs/cert.pem"
tls_key = "./config/certs/key.pem"

[rocksdb]
data_path = "./data"
max_open_files = 10000

[mqtt_runtime.server]
tcp_port = 1883
quic_port = 9083
`
	c, warns, err := load("robustmq.toml", []byte(rmq), nil)
	if err != nil {
		t.Fatalf("RobustMQ config: %v", err)
	}
	want := []string{
		"broker_network.accept_thread_num", "broker_network.handler_thread_num", "broker_network.queue_size",
		"log.log_config", "mqtt_runtime.server.quic_port", "rocksdb.data_path", "rocksdb.max_open_files",
	}
	if got := warnKeys(warns); !slices.Equal(got, want) {
		t.Errorf("warnings for %v; want %v", got, want)
	}
	if c.BrokerNetwork.HandlerThreadNum != 64 || c.Log.LogPath != "./data/broker-1/logs" {
		t.Errorf("values not applied: handler_thread_num %d, log_path %q",
			c.BrokerNetwork.HandlerThreadNum, c.Log.LogPath)
	}
}
