package pebblestore

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"robustmq/shard"
)

// TestReadFaults injects I/O errors into sstable reads: every read API must
// return an error naming the shard (no panic, no partial or wrong records),
// and work again once the disk recovers.
func TestReadFaults(t *testing.T) {
	var failing atomic.Bool
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if failing.Load() && (op.Kind == errorfs.OpFileReadAt || op.Kind == errorfs.OpFileRead) && strings.HasSuffix(op.Path, ".sst") {
			return errorfs.ErrInjected
		}
		return nil
	}))
	po := defaultPebbleOptions()
	po.FS = fs
	po.CacheSize = 1 // every read goes to the "disk"
	e, err := Open("/db", Options{Pebble: po, FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.CreateShard(shard.ShardConfig{Name: "f_0"}); err != nil {
		t.Fatal(err)
	}
	recs := make([]shard.Record, 200)
	for i := range recs {
		recs[i] = shard.Record{Timestamp: int64(1000 + i), Key: []byte("k"), Tags: [][]byte{[]byte("t")}, Value: make([]byte, 1000)}
	}
	if _, err := e.Append(context.Background(), "f_0", recs, shard.AppendOptions{Durability: shard.DurabilitySync}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Flush(); err != nil { // records now live in sstables
		t.Fatal(err)
	}
	reads := []struct {
		name string
		fn   func() error
	}{
		{"Read", func() error { res, err := e.Read("f_0", 0, 500, 1<<30); res.Release(); return err }},
		{"ReadByKey", func() error { res, err := e.ReadByKey("f_0", []byte("k"), 0, 500); res.Release(); return err }},
		{"ReadByTag", func() error { res, err := e.ReadByTag("f_0", []byte("t"), 0, 500); res.Release(); return err }},
		{"OffsetForTimestamp", func() error { _, err := e.OffsetForTimestamp("f_0", 1150); return err }},
	}
	failing.Store(true)
	for _, r := range reads {
		err := r.fn()
		if err == nil {
			t.Fatalf("%s with failing reads: no error", r.name)
		}
		if !strings.Contains(err.Error(), "pebblestore:") || !strings.Contains(err.Error(), `"f_0"`) || !strings.Contains(err.Error(), "injected") {
			t.Fatalf("%s with failing reads: error %q does not name the store, the shard and the cause", r.name, err)
		}
	}
	failing.Store(false)
	for _, r := range reads {
		if err := r.fn(); err != nil {
			t.Fatalf("%s after the disk recovered: %v", r.name, err)
		}
	}
	res, err := e.Read("f_0", 0, 500, 1<<30)
	if err != nil || len(res.Records) != len(recs) {
		t.Fatalf("Read after recovery: %d records, %v; want %d", len(res.Records), err, len(recs))
	}
	res.Release()
}
