package engine

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"robustmq/server/config"
	"robustmq/server/node/component"
	"robustmq/shard"
)

// newEnv is an Env over dataPath with a fresh storage slot and a mux for the admin routes.
func newEnv(t *testing.T, dataPath ...string) (component.Env, *http.ServeMux) {
	t.Helper()
	cfg := config.Default()
	cfg.StorageRuntime.DataPath = dataPath
	cfg.StorageRuntime.IOThreadNum = 2
	mux := http.NewServeMux()
	return component.Env{Config: cfg, Logger: slog.New(slog.DiscardHandler), HTTP: mux,
		Storage: new(component.Storage)}, mux
}

func build(t *testing.T, env component.Env) component.Component {
	t.Helper()
	c, err := New(env)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func start(t *testing.T, c component.Component) component.Component {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return c
}

func stop(t *testing.T, c component.Component) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// list calls the shard list route and decodes its page.
func list(t *testing.T, mux *http.ServeMux, method, query, body string) (int, []ShardRow) {
	t.Helper()
	req := httptest.NewRequest(method, "/api/storage-engine/shard/list"+query, strings.NewReader(body))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	var env struct {
		Data struct {
			Data  []ShardRow `json:"data"`
			Total int        `json:"total_count"`
		} `json:"data"`
	}
	if w.Code == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatalf("%s %s: %v in %s", method, query, err, w.Body)
		}
	}
	return w.Code, env.Data.Data
}

// TestRestart: the engine provides a router whose default engine is segment; what it acknowledged
// with DurabilitySync is there after Stop and a new Start on the same data path, and the admin list
// shows it; the slot is empty while stopped and the routes answer 503.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	env, mux := newEnv(t, dir)
	c := build(t, env)
	if code, _ := list(t, mux, "GET", "", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("list before Start: code %d; want 503", code)
	}
	start(t, c)
	h, ok := env.Storage.Lookup()
	if !ok || h.Engine != shard.EngineSegment || h.Offsets == nil {
		t.Fatalf("slot after Start: %+v, %v; want segment router and offsets", h, ok)
	}
	if err := h.Router.CreateShard(shard.ShardConfig{Name: "t_0"}); err != nil {
		t.Fatal(err)
	}
	if err := h.Router.CreateShard(shard.ShardConfig{Name: "m_0", Engine: shard.EngineMemory}); err != nil {
		t.Fatal(err)
	}
	const n = 5
	for i := range n {
		if _, err := h.Router.Append(context.Background(), "t_0", []shard.Record{{Value: []byte{byte(i)}}},
			shard.AppendOptions{Durability: shard.DurabilitySync}); err != nil {
			t.Fatal(err)
		}
	}
	err := h.Offsets.Commit(context.Background(), "g", []shard.GroupOffset{{Topic: "t", Offset: 3}})
	if err != nil {
		t.Fatal(err)
	}
	stop(t, c)
	if _, ok := env.Storage.Lookup(); ok {
		t.Fatal("slot filled after Stop")
	}
	if code, _ := list(t, mux, "POST", "", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("list after Stop: code %d; want 503", code)
	}
	for _, sub := range []string{dirSegment, dirPebble, dirOffsets} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			t.Fatalf("%s: %v; want a directory", sub, err)
		}
	}

	env2, mux2 := newEnv(t, dir)
	c = start(t, build(t, env2))
	defer stop(t, c)
	code, rows := list(t, mux2, "GET", "", "")
	want := []ShardRow{{Name: "t_0", Engine: "segment", Earliest: 0, Latest: n}}
	if code != http.StatusOK || len(rows) != 1 || rows[0].Name != want[0].Name || rows[0].Engine != want[0].Engine ||
		rows[0].Latest != n || rows[0].Earliest != 0 {
		t.Fatalf("GET list after restart: %d %+v; want 200 %+v (memory shard gone)", code, rows, want)
	}
	code, rows = list(t, mux2, "POST", "", `{"shard_name":"t_0","limit":1,"page":1}`)
	if code != http.StatusOK || len(rows) != 1 || rows[0].Latest != n {
		t.Fatalf("POST list: %d %+v; want t_0 with latest %d", code, rows, n)
	}
	code, rows = list(t, mux2, "POST", "", `{"shard_name":"nope"}`)
	if code != http.StatusOK || len(rows) != 0 {
		t.Fatalf("POST list of an unknown shard: %d %+v; want 200 and none", code, rows)
	}
	h, _ = env2.Storage.Lookup()
	got, err := h.Offsets.Fetch(context.Background(), "g", "t")
	if err != nil || len(got) != 1 || got[0].Offset != 3 {
		t.Fatalf("offsets after restart: %+v, %v; want t/0 at 3", got, err)
	}
}

// TestDataPathErrors: a Start that cannot use its directories fails naming
// storage_runtime.data_path, leaves the slot empty and closes what it opened (a later Start on a
// fixed path works).
func TestDataPathErrors(t *testing.T) {
	f := func(name string, setup func(dir string) (dataPath string, fix func())) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			dataPath, fix := setup(t.TempDir())
			env, _ := newEnv(t, dataPath)
			c := build(t, env)
			err := c.Start(context.Background())
			if !errors.Is(err, ErrDataPath) || !strings.Contains(err.Error(), "storage_runtime.data_path[0] \""+dataPath+"\"") {
				t.Fatalf("Start: %v; want ErrDataPath naming storage_runtime.data_path[0] %q", err, dataPath)
			}
			if _, ok := env.Storage.Lookup(); ok {
				t.Fatal("slot filled after a failed Start")
			}
			if fix != nil {
				fix()
				stop(t, start(t, c))
			}
		})
	}
	file := func(path string) {
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f("data path is a file", func(dir string) (string, func()) {
		p := filepath.Join(dir, "d")
		file(p)
		return p, nil
	})
	f("data path under a file", func(dir string) (string, func()) {
		file(filepath.Join(dir, "f"))
		return filepath.Join(dir, "f", "d"), nil
	})
	f("pebble directory is a file", func(dir string) (string, func()) {
		p := filepath.Join(dir, dirPebble)
		file(p)
		return dir, func() { _ = os.Remove(p) }
	})
	f("offsets directory is a file", func(dir string) (string, func()) {
		p := filepath.Join(dir, dirOffsets)
		file(p)
		return dir, func() { _ = os.Remove(p) }
	})
}

// TestDataPaths: segment shards spread over every data_path (the one holding fewest first), are
// found where they are after a restart, and pebble stays on data_path[0].
func TestDataPaths(t *testing.T) {
	first, second := t.TempDir(), filepath.Join(t.TempDir(), "second")
	paths := []string{first, second}
	env, _ := newEnv(t, paths...)
	c := start(t, build(t, env))
	h, _ := env.Storage.Lookup()
	names := []string{"a_0", "a_1", "a_2", "a_3"}
	for _, n := range names {
		if err := h.Router.CreateShard(shard.ShardConfig{Name: n}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Router.Append(context.Background(), n, []shard.Record{{Value: []byte(n)}},
			shard.AppendOptions{Durability: shard.DurabilitySync}); err != nil {
			t.Fatal(err)
		}
	}
	stop(t, c)
	for i, n := range names {
		want := paths[i%2]
		if _, err := os.Stat(filepath.Join(want, dirSegment, n, "shard.meta")); err != nil {
			t.Fatalf("shard %s: %v; want it under data_path[%d] %s", n, err, i%2, want)
		}
	}
	if _, err := os.Stat(filepath.Join(second, dirPebble)); !os.IsNotExist(err) {
		t.Fatalf("pebble under data_path[1]: stat err %v; want none there", err)
	}

	env2, _ := newEnv(t, paths...)
	c = start(t, build(t, env2))
	defer stop(t, c)
	h, _ = env2.Storage.Lookup()
	for _, n := range names {
		res, err := h.Router.Read(n, 0, 10, 1<<20)
		if err != nil {
			t.Fatalf("Read(%s) after restart: %v", n, err)
		}
		if len(res.Records) != 1 || string(res.Records[0].Value) != n {
			t.Fatalf("Read(%s) after restart: %d records; want 1 with value %q", n, len(res.Records), n)
		}
		res.Release()
	}
}

// TestStopWithoutStart: Stop of a component that never started (or failed to) is a no-op.
func TestStopWithoutStart(t *testing.T) {
	env, _ := newEnv(t, t.TempDir())
	if err := build(t, env).Stop(context.Background()); err != nil {
		t.Fatalf("Stop before Start: %v; want nil", err)
	}
}
