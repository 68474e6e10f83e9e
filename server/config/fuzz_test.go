package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary TOML and one env variable to the loader. It must
// never panic; a success is a valid config with no port bound twice; a
// failure is either a syntax error or a list of KeyErrors naming their keys.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"server.toml", "server.toml.template", "cluster/server-2.toml"} {
		data, err := os.ReadFile(filepath.Join(repoConfig, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "ROBUST_MQ_SERVER_GRPC_PORT=1229")
	}
	f.Add([]byte("grpc_port = 70000\n[mqtt_runtime.server]\ntcp_prot = 1"), "ROBUST_MQ_SERVER_ROLES=[1]")
	f.Add([]byte("meta_addrs = {1 = \"127.0.0.1:1228\", x = 3}"), "ROBUST_MQ_SERVER_META_ADDRS=1=a:1")
	f.Fuzz(func(t *testing.T, data []byte, env string) {
		c, _, err := load("fuzz.toml", data, []string{env})
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("loaded config fails Validate: %v", verr)
			}
			ports := map[int]bool{}
			for _, l := range c.Listeners() {
				if ports[l.Port] || l.Port < 1 || l.Port > 65535 {
					t.Fatalf("listener %+v: bad or repeated port", l)
				}
				ports[l.Port] = true
			}
			return
		}
		if strings.HasPrefix(err.Error(), "config: fuzz.toml:") {
			return // syntax error, positioned
		}
		for _, ke := range keyErrors(t, err) {
			if ke.Key == "" || ke.Kind == nil || !errors.Is(err, ke.Kind) {
				t.Fatalf("malformed KeyError %#v", ke)
			}
		}
	})
}
