package segment

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"robustmq/shard"
)

// shardRoot returns which of roots holds shard name's directory, or "".
func shardRoot(t *testing.T, roots []string, name string) string {
	t.Helper()
	found := ""
	for _, r := range roots {
		if _, err := os.Stat(filepath.Join(r, dirName(name), metaFile)); err == nil {
			if found != "" {
				t.Fatalf("shard %s is in %s and %s", name, found, r)
			}
			found = r
		}
	}
	return found
}

func TestRoots(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	roots := []string{a, b}
	o := testOptions(a)
	o.Dirs = []string{b}
	e := openTest(t, o)
	names := []string{"s_0", "s_1", "s_2", "s_3"}
	for i, n := range names {
		if err := e.CreateShard(shard.ShardConfig{Name: n}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Append(context.Background(), n, []shard.Record{{Value: []byte(n)}}, shard.AppendOptions{Durability: shard.DurabilitySync}); err != nil {
			t.Fatal(err)
		}
		// The root with the fewest shards, the first on ties: a, b, a, b.
		if got, want := shardRoot(t, roots, n), roots[i%2]; got != want {
			t.Fatalf("shard %s created in %q; want %q", n, got, want)
		}
	}
	if err := e.DeleteShard("s_1"); err != nil {
		t.Fatal(err)
	}
	if got := shardRoot(t, roots, "s_1"); got != "" {
		t.Fatalf("deleted shard s_1 still in %s", got)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen: every shard found where it is; b now holds fewer shards.
	e = openTest(t, o)
	for _, n := range []string{"s_0", "s_2", "s_3"} {
		res, err := e.Read(n, 0, 10, 1<<20)
		if err != nil {
			t.Fatalf("Read(%s) after reopen: %v", n, err)
		}
		if len(res.Records) != 1 || string(res.Records[0].Value) != n {
			t.Fatalf("Read(%s) after reopen: %d records; want 1 with value %q", n, len(res.Records), n)
		}
		res.Release()
	}
	if err := e.CreateShard(shard.ShardConfig{Name: "s_4"}); err != nil {
		t.Fatal(err)
	}
	if got := shardRoot(t, roots, "s_4"); got != b {
		t.Fatalf("s_4 created in %q; want %q (fewest shards)", got, b)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	// A shard in two roots is refused, naming both.
	if err := os.CopyFS(filepath.Join(b, dirName("s_0")), os.DirFS(filepath.Join(a, dirName("s_0")))); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(o); err == nil || !strings.Contains(err.Error(), "s_0 is in both") {
		t.Fatalf("Open with s_0 in both roots: %v; want an error naming both", err)
	}
	o.Dirs = []string{a + "/"}
	if _, err := Open(o); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Fatalf("Open with a root given twice: %v; want an error", err)
	}
}
