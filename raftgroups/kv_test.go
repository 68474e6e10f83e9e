package raftgroups

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestKVDataDriven runs testdata/kv scenarios against the state machine.
//
//	apply            one command per input line: put K V | put-if-absent K V |
//	                 delete K | delete-prefix P | multi-put K=V... |
//	                 txn K=V K=! : K=V -K (compares, then ops) | raw HEX
//	dump [prefix=P]  List(P): every key=value, ascending
//	image            the snapshot image in hex, then a fresh machine restored
//	                 from it must dump the same state
//	restore hex=H    Restore from H (errors leave the state unchanged)
//
// Regenerate with: go test ./raftgroups -run TestKVDataDriven -rewrite
func TestKVDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/kv", func(t *testing.T, path string) {
		s := newKV()
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			switch td.Cmd {
			case "apply":
				var out strings.Builder
				for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
					val, err := s.Apply(encodeTestCmd(t, line))
					fmt.Fprintf(&out, "%s: %s\n", line, describeResult(val, err))
				}
				return out.String()
			case "dump":
				var p string
				if td.HasArg("prefix") {
					td.ScanArgs(t, "prefix", &p)
				}
				return dumpKV(s, p)
			case "image":
				img := s.Image()
				r := newKV()
				if err := r.Restore(img); err != nil {
					t.Fatalf("restore own image: %v", err)
				}
				if got, want := dumpKV(r, ""), dumpKV(s, ""); got != want {
					t.Fatalf("restored state\n%s\nwant\n%s", got, want)
				}
				return hex.EncodeToString(img) + "\n"
			case "restore":
				var h string
				td.ScanArgs(t, "hex", &h)
				b, err := hex.DecodeString(h)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Restore(b); err != nil {
					return "error: " + err.Error() + "\n"
				}
				return "ok\n"
			}
			t.Fatalf("unknown command %q", td.Cmd)
			return ""
		})
	})
}

func encodeTestCmd(t *testing.T, line string) []byte {
	t.Helper()
	f := strings.Fields(line)
	arg := func(i int) []byte {
		if i >= len(f) {
			t.Fatalf("%q: missing argument %d", line, i)
		}
		return []byte(f[i])
	}
	switch f[0] {
	case "put":
		return AppendPut(nil, arg(1), arg(2))
	case "put-if-absent":
		return AppendPutIfAbsent(nil, arg(1), arg(2))
	case "delete":
		return AppendDelete(nil, arg(1))
	case "delete-prefix":
		return AppendDeletePrefix(nil, arg(1))
	case "multi-put":
		var kvs [][]byte
		for _, p := range f[1:] {
			k, v, _ := strings.Cut(p, "=")
			kvs = append(kvs, []byte(k), []byte(v))
		}
		return AppendMultiPut(nil, kvs...)
	case "txn": // txn K=V K=! : K=V -K  (compares: equal, absent; ops: put, delete)
		var cmps []Compare
		var ops []Op
		then := false
		for _, p := range f[1:] {
			switch k, v, _ := strings.Cut(p, "="); {
			case p == ":":
				then = true
			case !then:
				cmps = append(cmps, Compare{Key: []byte(k), Value: []byte(v), Absent: v == "!"})
			case strings.HasPrefix(p, "-"):
				ops = append(ops, Op{Key: []byte(p[1:]), Delete: true})
			default:
				ops = append(ops, Op{Key: []byte(k), Value: []byte(v)})
			}
		}
		return AppendTxn(nil, cmps, ops)
	case "raw":
		b, err := hex.DecodeString(string(arg(1)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("unknown op in %q", line)
	return nil
}

func describeResult(val []byte, err error) string {
	switch {
	case errors.Is(err, ErrCorrupt):
		return "corrupt"
	case err != nil:
		return err.Error()
	case val != nil:
		n, _ := binary.Uvarint(val)
		return fmt.Sprintf("%d deleted", n)
	}
	return "ok"
}

func dumpKV(s *kv, prefix string) string {
	var out bytes.Buffer
	for _, e := range s.List([]byte(prefix)) {
		fmt.Fprintf(&out, "%s=%s\n", e.Key, e.Value)
	}
	if out.Len() == 0 {
		return "(empty)\n"
	}
	return out.String()
}
