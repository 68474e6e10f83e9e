package raftgroups

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"robustmq/raftgroups/internal/harness"
)

// TestCrashKeepsAckedWrites crashes a standalone node to its synced bytes
// only (pebble's crashable MemFS) while writers are busy. Every write
// acknowledged before the crash must be there after recovery: a proposal is
// reported committed only after its entry was synced.
func TestCrashKeepsAckedWrites(t *testing.T) {
	fs := vfs.NewCrashableMem()
	start := func(fs vfs.FS) (*Manager, func()) {
		db, err := openDB("db", fs, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg := testConfig()
		cfg.NodeID, cfg.DB, cfg.SnapshotEntries = 1, db, 50
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m.Start()
		return m, func() {
			m.Stop()
			_ = db.Close()
		}
	}
	m, stop := start(fs)
	meta := NewMeta(m)

	var mu sync.Mutex
	acked := make(map[string]bool)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				k := fmt.Sprintf("w%d-%d", w, i)
				if meta.Put(ctx, "crash", []byte(k), []byte(k)) == nil {
					mu.Lock()
					acked[k] = true
					mu.Unlock()
				}
			}
		})
	}
	harness.WaitFor(t, 10*time.Second, "200 acked writes", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 200
	})
	mu.Lock()
	before := make([]string, 0, len(acked))
	for k := range acked {
		before = append(before, k)
	}
	mu.Unlock()
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	cancel()
	wg.Wait()
	stop()

	m2, stop2 := start(crashed)
	defer stop2()
	meta2 := NewMeta(m2)
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	kvs, err := meta2.List(rctx, "crash", nil)
	if err != nil {
		t.Fatal(err)
	}
	have := make(map[string]bool, len(kvs))
	for _, kv := range kvs {
		have[string(kv.Key)] = true
	}
	for _, k := range before {
		if !have[k] {
			t.Fatalf("write %s was acknowledged before the crash but is gone after recovery (%d of %d acked writes survived)", k, len(have), len(before))
		}
	}
	t.Logf("%d writes acked before the crash, %d recovered", len(before), len(have))
}
