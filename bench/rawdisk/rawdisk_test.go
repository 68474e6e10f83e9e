package rawdisk

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFile(t *testing.T) {
	dir := t.TempDir()
	for _, sync := range []bool{false, true} {
		f, err := Create(dir, 4096, sync)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if err := f.WriteBatch(); err != nil {
				t.Fatal(err)
			}
		}
		name := f.f.Name()
		if n, err := ReadFile(name, 3000); err != nil || n != 5*4096 {
			t.Fatalf("ReadFile after 5 batches of 4096 (sync %v) = %d, %v; want %d", sync, n, err, 5*4096)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(name); !os.IsNotExist(err) {
			t.Fatalf("Close left %s behind", name)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 10); err == nil {
		t.Fatal("ReadFile of a missing file: no error")
	}
}

func TestWarm(t *testing.T) {
	dir := t.TempDir()
	if err := Warm(dir, 3<<20); err != nil {
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Fatalf("Warm left %d entries (err %v); want none", len(ents), err)
	}
	if err := Warm(filepath.Join(dir, "missing"), 1); err == nil {
		t.Fatal("Warm in a missing directory: no error")
	}
}
