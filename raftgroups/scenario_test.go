package raftgroups

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestScenarios runs testdata/cluster scenarios: in-process clusters over
// the MemNetwork, driven by commands whose output does not depend on which
// node wins an election.
//
//	cluster nodes=N [timeout=D] [snapshot=N]  start N nodes (propose timeout D)
//	wait-leader                                every group has a leader all live nodes agree on
//	put node=I key=K value=V [retry]           write through node I (retry: on timeouts)
//	get node=I key=K                           linearizable read on node I
//	partition a=I,J b=K,L                      cut every link between the sides
//	heal                                       remove every cut
//	stop node=I | start node=I                 crash node I / restart it from its disk
//	members node=I                             each group's members on node I
//
// Regenerate with: go test ./raftgroups -run TestScenarios -rewrite
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/cluster", func(t *testing.T, path string) {
		var c *testCluster
		node := func(td *datadriven.TestData) *testNode {
			var id uint64
			td.ScanArgs(t, "node", &id)
			return c.nodes[id]
		}
		ids := func(s string) []uint64 {
			var out []uint64
			for _, f := range strings.Split(s, ",") {
				id, err := strconv.ParseUint(f, 10, 64)
				if err != nil {
					t.Fatalf("node list %q: %v", s, err)
				}
				out = append(out, id)
			}
			return out
		}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			switch td.Cmd {
			case "cluster":
				var n int
				td.ScanArgs(t, "nodes", &n)
				timeout, snapshot := "5s", uint64(0)
				td.MaybeScanArgs(t, "timeout", &timeout)
				td.MaybeScanArgs(t, "snapshot", &snapshot)
				d, err := time.ParseDuration(timeout)
				if err != nil {
					t.Fatal(err)
				}
				c = newCluster(t, n, func(cfg *Config) {
					cfg.ProposeTimeout = d
					if snapshot > 0 {
						cfg.SnapshotEntries, cfg.CompactKeepEntries = snapshot, 1
					}
				})
				return "ok\n"
			case "wait-leader":
				for _, g := range Groups {
					c.leader(g)
				}
				return "ok\n"
			case "put":
				var key, value string
				td.ScanArgs(t, "key", &key)
				td.ScanArgs(t, "value", &value)
				tn := node(td)
				if td.HasArg("retry") {
					putRetry(t, tn, key, value)
					return "ok\n"
				}
				if err := tn.meta.Put(context.Background(), "test", []byte(key), []byte(value)); err != nil {
					return err.Error() + "\n"
				}
				return "ok\n"
			case "get":
				var key string
				td.ScanArgs(t, "key", &key)
				v, ok, err := node(td).meta.Get(context.Background(), "test", []byte(key))
				switch {
				case err != nil:
					return err.Error() + "\n"
				case !ok:
					return "(absent)\n"
				}
				return string(v) + "\n"
			case "partition":
				var a, b string
				td.ScanArgs(t, "a", &a)
				td.ScanArgs(t, "b", &b)
				c.net.Partition(ids(a), ids(b))
				return "ok\n"
			case "heal":
				c.net.Heal()
				return "ok\n"
			case "stop":
				c.stop(node(td).id)
				return "ok\n"
			case "start":
				c.start(node(td).id)
				return "ok\n"
			case "members":
				var out strings.Builder
				for _, s := range node(td).m.Status() {
					fmt.Fprintf(&out, "%s: %v\n", s.Group, s.Members)
				}
				return out.String()
			}
			t.Fatalf("unknown command %q", td.Cmd)
			return ""
		})
	})
}
