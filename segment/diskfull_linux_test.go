package segment

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"robustmq/shard"
)

// A real full file system: a 2 MiB tmpfs (skipped where mounting is not
// allowed). Appends fail with ErrDiskFull, the shard stays readable; after
// DeleteRecords frees whole segments, appends succeed again.
func TestDiskFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	o := testOptions(dir)
	o.SegmentBytes, o.PreallocBytes = 256<<10, 64<<10
	e := openTest(t, o)
	defer e.Close()
	if err := e.CreateShard(shard.ShardConfig{Name: "tmpfs_0", Engine: shard.EngineSegment, SegmentBytes: 256 << 10}); err != nil {
		t.Fatal(err)
	}
	val := bytes.Repeat([]byte{'f'}, 8<<10)
	var acked int64
	var full error
	for range 1000 {
		off, err := e.Append(t.Context(), "tmpfs_0", []shard.Record{{Value: val}}, shard.AppendOptions{Durability: shard.DurabilitySync})
		if err != nil {
			full = err
			break
		}
		if off != acked {
			t.Fatalf("Append at %d; want %d", off, acked)
		}
		acked++
	}
	if !errors.Is(full, ErrDiskFull) || !errors.Is(full, unix.ENOSPC) {
		t.Fatalf("after %d appends of 8 KiB into 2 MiB: %v; want ErrDiskFull wrapping ENOSPC", acked, full)
	}
	if got, _ := e.LatestOffset("tmpfs_0"); got != acked {
		t.Fatalf("Latest %d after the failed append; want %d", got, acked)
	}
	res, err := e.Read("tmpfs_0", 0, int(acked), 1<<30)
	if err != nil || int64(len(res.Records)) != acked {
		t.Fatalf("Read on a full disk: %v; want %d records", err, acked)
	}
	res.Release()
	if err := e.DeleteRecords("tmpfs_0", acked-1); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		off, err := e.Append(t.Context(), "tmpfs_0", []shard.Record{{Value: val}}, shard.AppendOptions{Durability: shard.DurabilitySync})
		if err != nil || off != acked {
			t.Fatalf("append %d after space returned: offset %d, %v; want %d", i, off, err, acked)
		}
		acked++
	}
}
