package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// keyErrors flattens a Load/Validate error into its KeyErrors.
func keyErrors(t *testing.T, err error) []*KeyError {
	t.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else if err != nil {
		errs = []error{err}
	}
	out := make([]*KeyError, 0, len(errs))
	for _, e := range errs {
		var ke *KeyError
		if !errors.As(e, &ke) {
			t.Fatalf("error %q is not a *KeyError", e)
		}
		out = append(out, ke)
	}
	return out
}

// Each class of bad value stops the load with an error naming the key.
func TestBadValues(t *testing.T) {
	cases := []struct {
		name string
		toml string
		key  string   // the error's key
		kind error    // its sentinel
		msg  []string // substrings of its text
	}{
		{"port too big", "grpc_port = 70000", "grpc_port", ErrValue, []string{"config: grpc_port: 70000 is not a port (1..65535) (bad.toml:1:1)"}},
		{"port negative", "http_port = -1", "http_port", ErrValue, []string{"-1 is not a port"}},
		{"nested port negative", "[mqtt_runtime.server]\ntcp_port = -5", "mqtt_runtime.server.tcp_port", ErrValue, []string{"-5 is not a port (1..65535) (bad.toml:2:1)"}},
		{"required port zero", "grpc_port = 0\nmeta_addrs = {1 = \"127.0.0.1:1\"}", "grpc_port", ErrValue, []string{"cannot be disabled"}},
		{"engine port zero", "[storage_runtime]\ntcp_port = 0", "storage_runtime.tcp_port", ErrValue, []string{"cannot be disabled"}},
		{"quic port checked", "[mqtt_runtime.server]\nquic_port = 65536", "mqtt_runtime.server.quic_port", ErrValue, []string{"65536"}},
		{"negative count", "[network]\nmax_connections = -1", "network.max_connections", ErrValue, []string{"-1 is negative"}},
		{"tiny read buffer", "[network]\nread_buffer_bytes = 100", "network.read_buffer_bytes", ErrValue, []string{"100 is below the minimum 512"}},
		{"no task queue", "[network]\nmax_queued_tasks = 0", "network.max_queued_tasks", ErrValue, []string{"0 is below the minimum 1"}},
		{"negative unimplemented", "[rocksdb]\nmax_open_files = -3", "rocksdb.max_open_files", ErrValue, []string{"-3 is negative"}},
		{"unknown role", `roles = ["meta", "bogus"]`, "roles", ErrValue, []string{`unknown role "bogus"`}},
		{"empty roles", `roles = []`, "roles", ErrValue, []string{"empty"}},
		{"duplicate role", `roles = ["broker", "meta", "broker"]`, "roles", ErrValue, []string{`"broker" listed twice`}},
		{"meta_addrs lacks self", "broker_id = 2", "meta_addrs", ErrValue, []string{"no entry for this node (broker_id 2), which has the meta role"}},
		{"dotted key position", "mqtt_runtime.keep_alive.max_time = 0", "mqtt_runtime.keep_alive.max_time", ErrValue, []string{"0 is outside 1..65535 (bad.toml:1:25)"}},
		{"meta_addrs empty", "roles = [\"broker\"]\nmeta_addrs = {}", "meta_addrs", ErrValue, []string{"empty"}},
		{"meta addr no port", `meta_addrs = {1 = "127.0.0.1"}`, "meta_addrs.1", ErrValue, []string{"not host:port (bad.toml:1:15)"}},
		{"meta addr bad port", `meta_addrs = {1 = "127.0.0.1:99999"}`, "meta_addrs.1", ErrValue, []string{"99999 is not a port"}},
		{"meta addr bad host", `meta_addrs = {1 = "a b:1228"}`, "meta_addrs.1", ErrValue, []string{"not host:port"}},
		{"meta id not a number", "roles = [\"broker\"]\nmeta_addrs = {x = \"127.0.0.1:1228\"}", "meta_addrs.x", ErrValue, []string{"not a node id"}},
		{"meta self port differs", `meta_addrs = {1 = "127.0.0.1:1229"}`, "meta_addrs.1", ErrValue, []string{"differs from this node's grpc_port 1228"}},
		{"two listeners one port", "[kafka_runtime]\ntcp_port = 1883", "kafka_runtime.tcp_port", ErrPortConflict,
			[]string{"port 1883 is also mqtt_runtime.server.tcp_port"}},
		{"engine on grpc port", "[storage_runtime]\ntcp_port = 1228", "storage_runtime.tcp_port", ErrPortConflict,
			[]string{"port 1228 is also grpc_port"}},
		{"unknown key", "[mqtt_runtime.server]\ntcp_prot = 1883", "mqtt_runtime.server.tcp_prot", ErrUnknownKey,
			[]string{"config: mqtt_runtime.server.tcp_prot: unknown key (bad.toml:2:1)"}},
		{"unknown top key", "grcp_port = 1", "grcp_port", ErrUnknownKey, []string{"unknown key (bad.toml:1:1)"}},
		{"unknown section", "[mqtt_server]\ntcp_port = 1", "mqtt_server", ErrUnknownKey, []string{"unknown key"}},
		{"string for int", `grpc_port = "1228"`, "grpc_port", ErrType, []string{`want an integer, got "1228" (bad.toml:1:1)`}},
		{"string for list", `roles = "meta"`, "roles", ErrType, []string{"want an array of strings"}},
		{"int in list", `roles = ["meta", 3]`, "roles", ErrType, []string{"element 1"}},
		{"value for table", `log = "x"`, "log", ErrType, []string{"want a table"}},
		{"table for value", "[grpc_port]\nx = 1", "grpc_port", ErrType, []string{"want an integer, got a table"}},
		{"float for int", "[nats_runtime]\nmax_payload = 1.5", "nats_runtime.max_payload", ErrType, []string{"got float 1.5"}},
		{"negative id", "broker_id = -1", "broker_id", ErrType, []string{"-1 is negative"}},
		{"zero id", "broker_id = 0\nmeta_addrs = {1 = \"127.0.0.1:1228\"}", "broker_id", ErrValue, []string{"not a node id"}},
		{"log level", "[log]\nlevel = \"verbose\"", "log.level", ErrValue, []string{`"verbose" is not one of debug | info | warn | error`}},
		{"log file no path", "[log]\noutput = \"file\"\nlog_path = \"\"", "log.log_path", ErrValue, []string{"must not be empty"}},
		{"segment too small", "[storage_runtime]\nmax_segment_size = 10", "storage_runtime.max_segment_size", ErrValue, []string{"10 is outside"}},
		{"no engine dirs", "[storage_runtime]\ndata_path = []", "storage_runtime.data_path", ErrValue, []string{"empty"}},
		{"keep alive order", "[mqtt_runtime.keep_alive]\ndefault_time = 100\nmax_time = 50", "mqtt_runtime.keep_alive.default_time", ErrValue,
			[]string{"100 is outside 1..50"}},
		{"packet size", "[mqtt_runtime.protocol]\nmax_packet_size = 268435456", "mqtt_runtime.protocol.max_packet_size", ErrValue, nil},
		{"bad bind ip", `bind_ip = "localhost"`, "bind_ip", ErrValue, []string{"not an IP address"}},
		{"bad broker ip", `broker_ip = "no spaces"`, "broker_ip", ErrValue, nil},
		{"tls without cert", "[broker_network]\ntls_cert = \"\"", "broker_network.tls_cert", ErrValue, nil},
		{"schema enum", "[mqtt_runtime.schema]\nstrategy = \"Some\"", "mqtt_runtime.schema.strategy", ErrValue, nil},
		{"shared strategy enum", "[mqtt_runtime.protocol]\nshared_subscription_strategy = \"first\"",
			"mqtt_runtime.protocol.shared_subscription_strategy", ErrValue, nil},
		{"client verify enum", "[mqtt_runtime.server]\ntls_client_verify = \"always\"", "mqtt_runtime.server.tls_client_verify", ErrValue, nil},
		{"client verify without ca", "[mqtt_runtime.server]\ntls_client_verify = \"require\"", "mqtt_runtime.server.tls_client_ca", ErrValue, nil},
		{"llm platform", "[llm_client]\nplatform = \"skynet\"", "llm_client.platform", ErrValue, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := load("bad.toml", []byte(tc.toml), nil)
			if err == nil {
				t.Fatalf("load(%q) succeeded; want an error on %s", tc.toml, tc.key)
			}
			if c != nil {
				t.Errorf("load(%q) returned a Config with its error", tc.toml)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("load(%q) = %v; want errors.Is %v", tc.toml, err, tc.kind)
			}
			var got *KeyError
			for _, ke := range keyErrors(t, err) {
				if ke.Key == tc.key {
					got = ke
				}
			}
			if got == nil {
				t.Fatalf("load(%q) = %v; want an error on key %s", tc.toml, err, tc.key)
			}
			if !errors.Is(got, tc.kind) {
				t.Errorf("error on %s is %v; want kind %v", tc.key, got, tc.kind)
			}
			for _, m := range append(tc.msg, "config: "+tc.key+": ") {
				if !strings.Contains(got.Error(), m) {
					t.Errorf("error %q; want it to contain %q", got, m)
				}
			}
		})
	}
}

// Values that look odd but are allowed: optional listeners off, a broker
// without the engine role keeps storage_runtime.tcp_port 0, hostnames.
func TestGoodValues(t *testing.T) {
	for _, doc := range []string{
		"prometheus_port = 0\n[kafka_runtime]\ntcp_port = 0\n[amqp_runtime]\ntcp_port = 0",
		"roles = [\"broker\"]\nmeta_addrs = {1 = \"meta-1.example:1228\"}\n[storage_runtime]\ntcp_port = 0",
		"roles = [\"engine\", \"meta\"]\n[kafka_runtime]\ntcp_port = 1228", // kafka is not bound without broker
		"broker_id = 12\ngrpc_port = 3000\nmeta_addrs = {12 = \"10.1.2.3:3000\", 2 = \"10.1.2.4:1228\"}",
		"[mqtt_runtime.server]\ntls_port = 0\nwebsockets_port = 0\n[nats_runtime]\ntls_port = 0\nwss_port = 0\n" +
			"[broker_network]\ntls_cert = \"\"\ntls_key = \"\"",
		"[mqtt_runtime.server]\ntls_client_verify = \"request\"\ntls_client_ca = \"ca.pem\"\n[mqtt_runtime.system_monitor]\nsystem_topic_interval_ms = 0",
	} {
		if _, warns, err := load("good.toml", []byte(doc), nil); err != nil || len(warns) != 0 {
			t.Errorf("load(%q) = %v, warnings %v; want success, no warnings", doc, err, warns)
		}
	}
}

// Every problem is reported at once, not just the first.
func TestAllErrorsAtOnce(t *testing.T) {
	const doc = `
grpc_port = 70000
roles = ["meta", "bogus"]
bogus_key = 1
[log]
level = 3
[mqtt_runtime.server]
tcp_prot = 1
[kafka_runtime]
tcp_port = 1883
`
	_, _, err := load("bad.toml", []byte(doc), []string{"ROBUST_MQ_SERVER_HTTP_PORT=x"})
	var keys []string
	for _, ke := range keyErrors(t, err) {
		keys = append(keys, ke.Key)
	}
	slices.Sort(keys)
	want := []string{"bogus_key", "grpc_port", "http_port", "log.level", "mqtt_runtime.server.tcp_prot", "roles"}
	// kafka_runtime.tcp_port is not bound: the roles error leaves no broker role.
	if !slices.Equal(keys, want) {
		t.Errorf("errors on %v; want exactly %v\n%v", keys, want, err)
	}
}

func TestSyntaxError(t *testing.T) {
	_, _, err := load("syntax.toml", []byte("cluster_name = \"x\"\ngrpc_port = \n"), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "config: syntax.toml:2:") {
		t.Errorf("syntax error = %v; want it to start with config: syntax.toml:2:", err)
	}
	_, _, err = Load(filepath.Join(t.TempDir(), "missing.toml"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file = %v; want os.ErrNotExist", err)
	}
}

func TestNoFileIsDefault(t *testing.T) {
	c, warns, err := Load("", nil)
	if err != nil || len(warns) != 0 || !reflect.DeepEqual(c, Default()) {
		t.Errorf("Load(\"\", nil) = %+v, %v, %v; want Default(), no warnings", c, warns, err)
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

// env > file > default, for scalars, nested keys, lists and meta_addrs.
func TestEnvPrecedence(t *testing.T) {
	const file = `
grpc_port = 1300
meta_addrs = { 1 = "127.0.0.1:1300" }
[mqtt_runtime.server]
tcp_port = 1884
[storage_runtime]
data_path = ["/d1", "/d2"]
`
	f := func(env []string, check func(c *Config) (got, want any)) {
		t.Helper()
		c, _, err := load("f.toml", []byte(file), env)
		if err != nil {
			t.Fatalf("env %q: %v", env, err)
		}
		if got, want := check(c); !reflect.DeepEqual(got, want) {
			t.Errorf("env %q: got %v; want %v", env, got, want)
		}
	}
	grpc := func(c *Config) (any, any) { return c.GRPCPort, 1300 }
	f(nil, grpc) // file beats default
	f([]string{"ROBUST_MQ_SERVER_GRPC_PORT=1400", "ROBUST_MQ_SERVER_META_ADDRS={1=\"127.0.0.1:1400\"}"},
		func(c *Config) (any, any) {
			return []any{c.GRPCPort, c.MetaAddrs}, []any{1400, map[string]string{"1": "127.0.0.1:1400"}}
		})
	f([]string{"ROBUST_MQ_SERVER_GRPC_PORT=1400", "ROBUST_MQ_SERVER_META_ADDRS=1=127.0.0.1:1400, 2=h2:1228"},
		func(c *Config) (any, any) {
			return c.MetaAddrs, map[string]string{"1": "127.0.0.1:1400", "2": "h2:1228"}
		})
	f(nil, func(c *Config) (any, any) { return c.HTTPPort, 58080 }) // default when neither sets it
	f([]string{"ROBUST_MQ_SERVER_MQTT_RUNTIME_SERVER_TCP_PORT=1885", "ROBUST_MQ_SERVER_MQTT_RUNTIME_SERVER_TLS_PORT=0"},
		func(c *Config) (any, any) {
			return []int{c.MQTTRuntime.Server.TCPPort, c.MQTTRuntime.Server.TLSPort}, []int{1885, 0}
		})
	f(nil, func(c *Config) (any, any) { return c.StorageRuntime.DataPath, []string{"/d1", "/d2"} })
	f([]string{"ROBUST_MQ_SERVER_STORAGE_RUNTIME_DATA_PATH=/e1, /e2,"},
		func(c *Config) (any, any) { return c.StorageRuntime.DataPath, []string{"/e1", "/e2"} })
	f([]string{`ROBUST_MQ_SERVER_STORAGE_RUNTIME_DATA_PATH=["/a,b"]`},
		func(c *Config) (any, any) { return c.StorageRuntime.DataPath, []string{"/a,b"} })
	f([]string{"ROBUST_MQ_SERVER_ROLES=broker,engine", "ROBUST_MQ_SERVER_META_ADDRS=1=127.0.0.1:1300"},
		func(c *Config) (any, any) { return c.Roles, []string{"broker", "engine"} })
	f([]string{"ROBUST_MQ_SERVER_LOG_LEVEL=debug", "ROBUST_MQ_SERVER_RUNTIME_PPROF_ENABLE=true",
		"ROBUST_MQ_SERVER_ADMIN_PASSWORD= spaced = kept ", "ROBUST_MQ_SERVER_MQTT_RUNTIME_SYSTEM_MONITOR_OS_CPU_HIGH_WATERMARK=55"},
		func(c *Config) (any, any) {
			return []any{c.Log.Level, c.Runtime.PprofEnable, c.Admin.Password, c.MQTTRuntime.SystemMonitor.OSCPUHighWatermark},
				[]any{"debug", true, " spaced = kept ", 55.0}
		})
	f([]string{"ROBUST_MQ_SERVER_GRPC_PORT=1500", "ROBUST_MQ_SERVER_GRPC_PORT=1300"}, grpc) // last one wins
	// RobustMQ's forms: one meta_addrs entry per variable, TOML-quoted strings.
	f([]string{"ROBUST_MQ_SERVER_META_ADDRS_3=127.0.0.1:3228", `ROBUST_MQ_SERVER_META_ADDRS_2="127.0.0.1:2228"`},
		func(c *Config) (any, any) {
			return c.MetaAddrs, map[string]string{"1": "127.0.0.1:1300", "2": "127.0.0.1:2228", "3": "127.0.0.1:3228"}
		})
	f([]string{"ROBUST_MQ_SERVER_META_ADDRS=2=h2:1", "ROBUST_MQ_SERVER_META_ADDRS_1=127.0.0.1:1300"},
		func(c *Config) (any, any) { return c.MetaAddrs, map[string]string{"1": "127.0.0.1:1300", "2": "h2:1"} })
	f([]string{`ROBUST_MQ_SERVER_CLUSTER_NAME="prod"`, `ROBUST_MQ_SERVER_BROKER_IP='10.0.0.1'`, `ROBUST_MQ_SERVER_ADMIN_USERNAME="a`},
		func(c *Config) (any, any) {
			return []string{c.ClusterName, c.BrokerIP, c.Admin.Username}, []string{"prod", "10.0.0.1", `"a`}
		})
}

func TestEnvErrors(t *testing.T) {
	f := func(env, key string, msg ...string) {
		t.Helper()
		_, _, err := load("", nil, []string{env})
		var got *KeyError
		for _, ke := range keyErrors(t, err) {
			if ke.Key == key {
				got = ke
			}
		}
		if got == nil {
			t.Fatalf("env %q: error %v; want one on %s", env, err, key)
		}
		for _, m := range msg {
			if !strings.Contains(got.Error(), m) {
				t.Errorf("env %q: error %q; want it to contain %q", env, got, m)
			}
		}
	}
	f("ROBUST_MQ_SERVER_GRPC_PORT=abc", "grpc_port", `config: grpc_port: want an integer, got "abc" (env ROBUST_MQ_SERVER_GRPC_PORT)`)
	f("ROBUST_MQ_SERVER_GRPC_PORT=70000", "grpc_port", "70000 is not a port (1..65535) (env ROBUST_MQ_SERVER_GRPC_PORT)")
	f("ROBUST_MQ_SERVER_BROKER_ID=-2", "broker_id", "-2 is negative (env ROBUST_MQ_SERVER_BROKER_ID)")
	f("ROBUST_MQ_SERVER_RUNTIME_PPROF_ENABLE=yes", "runtime.pprof_enable", `want a boolean, got "yes" (env ROBUST_MQ_SERVER_RUNTIME_PPROF_ENABLE)`)
	f("ROBUST_MQ_SERVER_ROLES=[1,2]", "roles", "element 0: want a string, got integer 1")
	f("ROBUST_MQ_SERVER_ROLES=", "roles", "empty")
	f("ROBUST_MQ_SERVER_META_ADDRS=1", "meta_addrs", `"1" is not id=host:port (env ROBUST_MQ_SERVER_META_ADDRS)`)
	f("ROBUST_MQ_SERVER_META_ADDRS=1=a:0", "meta_addrs.1", `0 is not a port (1..65535) (env ROBUST_MQ_SERVER_META_ADDRS)`)
	f("ROBUST_MQ_SERVER_GRPC_PORT=1\nx = 2", "grpc_port", `want an integer, got "1\nx = 2"`)
	f("ROBUST_MQ_SERVER_META_ADDRS_1=nowhere", "meta_addrs.1", `"nowhere" is not host:port (env ROBUST_MQ_SERVER_META_ADDRS_1)`)
	f("ROBUST_MQ_SERVER_META_ADDRS_X=127.0.0.1:1", "meta_addrs.X", "not a node id")
}

// A key we do not implement warns once, whether the file, the env or both set
// it; an env variable matching no key warns; other env variables are ignored.
func TestWarnings(t *testing.T) {
	const file = "[mqtt_runtime.server]\nquic_port = 9084\n[rocksdb]\ndata_path = \"/r\"\n"
	env := []string{
		"ROBUST_MQ_SERVER_MQTT_RUNTIME_SERVER_QUIC_PORT=9085",
		"ROBUST_MQ_SERVER_NO_SUCH_KEY=1",
		"ROBUST_MQ_SERVER_LOG_LOG_CONFIG=x.toml",
		"HOME=/root", "ROBUST_MQ_OTHER=1",
	}
	c, warns, err := load("w.toml", []byte(file), env)
	if err != nil {
		t.Fatal(err)
	}
	want := []Warning{
		{"ROBUST_MQ_SERVER_NO_SUCH_KEY", "environment variable matches no config key; ignored"},
		{"log.log_config", unimplemented},
		{"mqtt_runtime.server.quic_port", unimplemented},
		{"rocksdb.data_path", unimplemented},
	}
	if !slices.Equal(warns, want) {
		t.Errorf("warnings\n%v\nwant\n%v", warns, want)
	}
	if c.MQTTRuntime.Server.QUICPort != 9085 {
		t.Errorf("quic_port = %d; want the env's 9085", c.MQTTRuntime.Server.QUICPort)
	}
	if got := want[2].String(); got != "config: mqtt_runtime.server.quic_port: "+unimplemented {
		t.Errorf("Warning.String() = %q", got)
	}
}

// Every key has a distinct env name and a kind assign can set.
func TestLeaves(t *testing.T) {
	seen := map[string]string{}
	for _, lf := range leaves(Default()) {
		if strings.Contains(lf.key, "..") || strings.HasSuffix(lf.key, ".") || lf.key == "" {
			t.Errorf("key %q: a field lacks a toml tag", lf.key)
		}
		env := EnvName(lf.key)
		if other, dup := seen[env]; dup {
			t.Errorf("keys %s and %s share env name %s", lf.key, other, env)
		}
		seen[env] = lf.key
		switch k := lf.v.Kind(); k {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Uint64, reflect.Float64:
		case reflect.Slice, reflect.Map:
			if lf.v.Type().Elem().Kind() != reflect.String {
				t.Errorf("key %s: %s of %s cannot be loaded", lf.key, k, lf.v.Type().Elem())
			}
		default:
			t.Errorf("key %s: kind %s cannot be loaded", lf.key, k)
		}
	}
	for key, env := range map[string]string{
		"grpc_port":                    "ROBUST_MQ_SERVER_GRPC_PORT",
		"mqtt_runtime.server.tcp_port": "ROBUST_MQ_SERVER_MQTT_RUNTIME_SERVER_TCP_PORT",
	} {
		if got := EnvName(key); got != env || seen[env] != key {
			t.Errorf("EnvName(%s) = %s; want %s, a known key", key, got, env)
		}
	}
}
