package node

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bytedance/sonic"

	"robustmq/server/config"
)

func TestNewLogger(t *testing.T) {
	dir := t.TempDir()
	f := func(c config.LogConfig, wantOut, wantErr, wantFile bool) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		log, closer, err := NewLogger(c, &stdout, &stderr)
		if err != nil {
			t.Fatalf("NewLogger(%+v): %v", c, err)
		}
		log.Debug("hidden unless debug")
		log.Info("hello", "step", "x")
		closer.Close()
		var fileOut []byte
		if c.Output == "file" {
			fileOut, _ = os.ReadFile(filepath.Join(c.LogPath, "robustmq.log"))
		}
		for _, w := range []struct {
			name string
			out  []byte
			want bool
		}{{"stdout", stdout.Bytes(), wantOut}, {"stderr", stderr.Bytes(), wantErr}, {"file", fileOut, wantFile}} {
			if (len(w.out) > 0) != w.want {
				t.Fatalf("NewLogger(%+v): %s got %q; want output %v", c, w.name, w.out, w.want)
			}
			if !w.want {
				continue
			}
			if debug := bytes.Contains(w.out, []byte("hidden")); debug != (c.Level == "debug") {
				t.Fatalf("NewLogger(%+v): debug line shown = %v", c, debug)
			}
			line := w.out[bytes.LastIndexByte(w.out[:len(w.out)-1], '\n')+1:]
			if c.Format == "json" {
				var m map[string]any
				if err := sonic.Unmarshal(line, &m); err != nil || m["msg"] != "hello" || m["step"] != "x" {
					t.Fatalf("NewLogger(%+v): JSON line %q: %v", c, line, err)
				}
			} else if !strings.Contains(string(line), "msg=hello step=x") {
				t.Fatalf("NewLogger(%+v): text line %q", c, line)
			}
		}
	}
	f(config.LogConfig{Level: "info", Format: "text", Output: "stdout"}, true, false, false)
	f(config.LogConfig{Level: "debug", Format: "json", Output: "stderr"}, false, true, false)
	f(config.LogConfig{Level: "warn", Format: "text", Output: "stdout"}, false, false, false)
	f(config.LogConfig{Level: "debug", Format: "text", Output: "file", LogPath: filepath.Join(dir, "logs")}, false, false, true)
}
