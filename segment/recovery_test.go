package segment

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"robustmq/shard"
)

// testValue is the value of the record at off: recomputable, varied length.
func testValue(off int64) []byte {
	return bytes.Repeat([]byte("v"+strconv.FormatInt(off, 10)+"."), 1+int(off%37))
}

// appendBatches appends batches of per records until latest reaches n.
func appendBatches(t testing.TB, e *EngineSegment, name string, n, per int, d shard.Durability) {
	t.Helper()
	latest, err := e.LatestOffset(name)
	if err != nil {
		t.Fatal(err)
	}
	for latest < int64(n) {
		k := min(per, n-int(latest))
		recs := make([]shard.Record, k)
		for j := range recs {
			off := latest + int64(j)
			recs[j] = shard.Record{Timestamp: 1000 + off, Key: []byte("k" + strconv.FormatInt(off%5, 10)), Value: testValue(off)}
		}
		off, err := e.Append(context.Background(), name, recs, shard.AppendOptions{Durability: d})
		if err != nil || off != latest {
			t.Fatalf("Append(%s, %d records) at %d, err %v; want offset %d", name, k, off, err, latest)
		}
		latest += int64(k)
	}
}

// checkRange reads [from, to) and checks each record's offset and value.
func checkRange(t testing.TB, e *EngineSegment, name string, from, to int64) {
	t.Helper()
	for off := from; off < to; {
		res, err := e.Read(name, off, 100, 1<<20)
		if err != nil {
			t.Fatalf("Read(%s, %d): %v", name, off, err)
		}
		if len(res.Records) == 0 {
			t.Fatalf("Read(%s, %d): no records; want up to %d", name, off, to)
		}
		for _, r := range res.Records {
			if r.Offset != off || !bytes.Equal(r.Value, testValue(off)) || r.Timestamp != 1000+off {
				t.Fatalf("Read(%s): record %d ts %d value %q; want offset %d ts %d value %q", name, r.Offset, r.Timestamp, r.Value, off, 1000+off, testValue(off))
			}
			off++
			if off == to {
				break
			}
		}
		res.Release()
	}
}

func segFiles(t testing.TB, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*", "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

func mustCreateShard(t testing.TB, e *EngineSegment, name string) {
	t.Helper()
	if err := e.CreateShard(shard.ShardConfig{Name: name, Engine: shard.EngineSegment}); err != nil {
		t.Fatal(err)
	}
}

// Damage the tail of the active segment on disk; recovery must cut exactly
// the damaged batch and what follows, keep every earlier record and append
// at the right offset again.
func TestRecoverDamagedTail(t *testing.T) {
	const n, per = 300, 3 // the last batch holds offsets 297..299
	cases := []struct {
		name     string
		damage   func(path string, size int64, lastBatch int64)
		wantNext int64
	}{
		{"cut mid record", func(p string, size, last int64) { os.Truncate(p, size-5) }, 297},
		{"cut inside header", func(p string, size, last int64) { os.Truncate(p, last+10) }, 297},
		{"flip a value byte", func(p string, size, last int64) { flipByte(t, p, size-2) }, 297},
		{"flip the base offset", func(p string, size, last int64) { flipByte(t, p, last+hdrBase) }, 297},
		{"zeros appended", func(p string, size, last int64) { appendFile(t, p, make([]byte, 4096)) }, 300},
		{"garbage appended", func(p string, size, last int64) { appendFile(t, p, bytes.Repeat([]byte{0xB5, 1, 2}, 100)) }, 300},
		{"whole file emptied", func(p string, size, last int64) { os.Truncate(p, 0) }, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(dir)
			e := openTest(t, o)
			mustCreateShard(t, e, "tail_0")
			appendBatches(t, e, "tail_0", n, per, shard.DurabilitySync)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			logs := segFiles(t, dir, logSuffix)
			active := logs[len(logs)-1]
			base, _ := strconv.ParseInt(filepath.Base(active)[:20], 10, 64)
			fi, _ := os.Stat(active)
			data, _ := os.ReadFile(active)
			last := lastBatchPos(t, data)
			tc.damage(active, fi.Size(), last)
			want := tc.wantNext
			if want < 0 {
				want = base
			}
			before := mTruncated.Get()
			e = openTest(t, o)
			defer e.Close()
			if got, _ := e.LatestOffset("tail_0"); got != want {
				t.Fatalf("after damage, Latest %d; want %d", got, want)
			}
			if want == 297 && mTruncated.Get() == before {
				t.Fatalf("recovery cut a damaged tail without counting it")
			}
			checkRange(t, e, "tail_0", 0, want)
			appendBatches(t, e, "tail_0", n+10, per, shard.DurabilitySync)
			checkRange(t, e, "tail_0", want, n+10)
		})
	}
}

func lastBatchPos(t *testing.T, data []byte) int64 {
	t.Helper()
	var last int64 = -1
	if _, _, err := scanBatches(data, 0, -1, 1<<62, func(pos int64, h *BatchHeader) error { last = pos; return nil }); err != nil || last < 0 {
		t.Fatalf("scan active segment: last batch at %d, err %v", last, err)
	}
	return last
}

func flipByte(t testing.TB, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// A flipped byte in the middle of a sealed segment is an error on read,
// never data; the rest of the log stays readable.
func TestCorruptSealedSegment(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	e := openTest(t, o)
	mustCreateShard(t, e, "mid_0")
	appendBatches(t, e, "mid_0", 600, 4, shard.DurabilitySync)
	e.Close()
	logs := segFiles(t, dir, logSuffix)
	if len(logs) < 3 {
		t.Fatalf("%d segments; want >= 3", len(logs))
	}
	data, _ := os.ReadFile(logs[0])
	flipByte(t, logs[0], int64(len(data)/2))
	// Which offsets the damaged batch holds:
	var bad BatchHeader
	scanBatches(data, 0, -1, 1<<62, func(pos int64, h *BatchHeader) error {
		if pos <= int64(len(data)/2) && int64(len(data)/2) < pos+int64(h.Len) {
			bad = *h
		}
		return nil
	})
	e = openTest(t, o)
	defer e.Close()
	before := mCorrupt.Get()
	for off := bad.BaseOffset; off <= bad.LastOffset(); off++ {
		res, err := e.Read("mid_0", off, 10, 1<<20)
		if !errors.Is(err, shard.ErrCorrupt) || res != nil {
			t.Fatalf("Read(%d) in the damaged batch: %v, %v; want ErrCorrupt and no result", off, res, err)
		}
	}
	// A read that reaches the damage returns what precedes it.
	if bad.BaseOffset > 0 {
		res, err := e.Read("mid_0", 0, 1000, 1<<30)
		if err != nil || len(res.Records) != int(bad.BaseOffset) {
			t.Fatalf("Read(0) up to the damaged batch at %d: %v; want %d records", bad.BaseOffset, err, bad.BaseOffset)
		}
		res.Release()
		checkRange(t, e, "mid_0", 0, bad.BaseOffset)
	}
	if mCorrupt.Get() == before {
		t.Fatal("corruption not counted")
	}
	// The next segment and everything after it are intact.
	next, _ := strconv.ParseInt(filepath.Base(logs[1])[:20], 10, 64)
	checkRange(t, e, "mid_0", next, 600)
}

// Missing, truncated or garbage index files are rebuilt from the log.
func TestIndexRebuild(t *testing.T) {
	damages := map[string]func(path string){
		"removed":   func(p string) { os.Remove(p) },
		"truncated": func(p string) { os.Truncate(p, 5) },
		"garbage":   func(p string) { os.WriteFile(p, bytes.Repeat([]byte{0xFF, 0x01, 0x7F}, 99), 0o644) },
		"shifted": func(p string) {
			b, _ := os.ReadFile(p)
			if len(b) > 16 {
				os.WriteFile(p, append(b[:8], b[12:]...), 0o644)
			}
		},
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(dir)
			e := openTest(t, o)
			mustCreateShard(t, e, "idx_0")
			appendBatches(t, e, "idx_0", 500, 3, shard.DurabilitySync)
			e.Close()
			for _, suf := range []string{idxSuffix, tidxSuffix} {
				for _, p := range segFiles(t, dir, suf) {
					damage(p)
				}
			}
			e = openTest(t, o)
			defer e.Close()
			for _, off := range []int64{0, 1, 77, 250, 251, 499} {
				checkRange(t, e, "idx_0", off, min(off+3, 500))
			}
			for _, ts := range []int64{0, 1000, 1333, 1499, 1500} {
				got, err := e.OffsetForTimestamp("idx_0", ts)
				if want := min(max(ts-1000, 0), 500); err != nil || got != want {
					t.Fatalf("OffsetForTimestamp(%d) = %d, %v; want %d", ts, got, err, want)
				}
			}
			appendBatches(t, e, "idx_0", 520, 3, shard.DurabilitySync)
			checkRange(t, e, "idx_0", 490, 520)
		})
	}
}

// faultOps fails writes or fsyncs on demand.
type faultOps struct {
	osOps
	mu        sync.Mutex
	writeErr  error
	partial   bool // write half the bytes before failing
	syncErr   error
	allocErr  error
	syncCalls int
}

func (f *faultOps) writeAt(file *os.File, b []byte, off int64) (int, error) {
	f.mu.Lock()
	err, partial := f.writeErr, f.partial
	f.mu.Unlock()
	if err == nil {
		return f.osOps.writeAt(file, b, off)
	}
	if partial {
		n, _ := f.osOps.writeAt(file, b[:len(b)/2], off)
		return n, err
	}
	return 0, err
}

func (f *faultOps) sync(file *os.File) error {
	f.mu.Lock()
	err := f.syncErr
	f.syncCalls++
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.osOps.sync(file)
}

func (f *faultOps) allocate(file *os.File, off, n int64) error {
	f.mu.Lock()
	err := f.allocErr
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.osOps.allocate(file, off, n)
}

func (f *faultOps) set(fn func(f *faultOps)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

// Disk full: the failing appends are not acknowledged, the shard stays
// readable, and once space returns appends go on at the next offset
// after the last acknowledged one. Nothing acknowledged is lost.
func TestDiskFull(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(f *faultOps, err error)
	}{
		{"write fails", func(f *faultOps, err error) { f.writeErr = err }},
		{"short write", func(f *faultOps, err error) { f.writeErr, f.partial = err, true }},
		{"fallocate fails", func(f *faultOps, err error) { f.allocErr = err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ops := &faultOps{}
			o := testOptions(dir)
			o.ops = ops
			e := openTest(t, o)
			mustCreateShard(t, e, "full_0")
			appendBatches(t, e, "full_0", 100, 4, shard.DurabilitySync)
			ops.set(func(f *faultOps) { tc.set(f, unix.ENOSPC) })
			for range 50 { // enough to need new preallocation
				_, err := e.Append(context.Background(), "full_0", []shard.Record{{Value: bytes.Repeat([]byte{1}, 500)}}, shard.AppendOptions{Durability: shard.DurabilitySync})
				if !errors.Is(err, ErrDiskFull) || !errors.Is(err, unix.ENOSPC) {
					if tc.name == "fallocate fails" && err == nil {
						continue // still inside the preallocated space
					}
					t.Fatalf("Append on a full disk: %v; want ErrDiskFull wrapping ENOSPC", err)
				}
			}
			latest, _ := e.LatestOffset("full_0")
			if tc.name != "fallocate fails" && latest != 100 {
				t.Fatalf("Latest %d after failed appends; want 100", latest)
			}
			checkRange(t, e, "full_0", 0, 100)
			ops.set(func(f *faultOps) { f.writeErr, f.partial, f.allocErr = nil, false, nil })
			// Records that went in while fallocate failed hold other values:
			// start the checked range after them.
			appendBatches(t, e, "full_0", int(latest)+50, 4, shard.DurabilitySync)
			checkRange(t, e, "full_0", latest, latest+50)
			e.Close()
			e = openTest(t, testOptions(dir))
			defer e.Close()
			checkRange(t, e, "full_0", 0, 100)
			checkRange(t, e, "full_0", latest, latest+50)
			if got, _ := e.LatestOffset("full_0"); got != latest+50 {
				t.Fatalf("after reopen Latest %d; want %d", got, latest+50)
			}
		})
	}
}

// A failed fsync is fatal for the shard: nothing of the batch is
// acknowledged, later appends fail, reads keep working; a reopen recovers.
func TestFsyncFailure(t *testing.T) {
	dir := t.TempDir()
	ops := &faultOps{}
	o := testOptions(dir)
	o.ops = ops
	e := openTest(t, o)
	mustCreateShard(t, e, "fs_0")
	mustCreateShard(t, e, "other_0")
	appendBatches(t, e, "fs_0", 50, 5, shard.DurabilitySync)
	ops.set(func(f *faultOps) { f.syncErr = unix.EIO })
	_, err := e.Append(context.Background(), "fs_0", []shard.Record{{Value: []byte("x")}}, shard.AppendOptions{Durability: shard.DurabilitySync})
	if !errors.Is(err, ErrFailed) || !errors.Is(err, unix.EIO) {
		t.Fatalf("Append with failing fsync: %v; want ErrFailed wrapping EIO", err)
	}
	ops.set(func(f *faultOps) { f.syncErr = nil })
	calls := ops.syncCalls
	if _, err := e.Append(context.Background(), "fs_0", []shard.Record{{Value: []byte("y")}}, shard.AppendOptions{}); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append after a failed fsync: %v; want ErrFailed", err)
	}
	if ops.syncCalls != calls {
		t.Fatal("a failed shard retried fsync")
	}
	if got, _ := e.LatestOffset("fs_0"); got != 50 {
		t.Fatalf("Latest %d after the failed fsync; want 50 (nothing acknowledged)", got)
	}
	checkRange(t, e, "fs_0", 0, 50)
	appendBatches(t, e, "other_0", 10, 5, shard.DurabilitySync) // other shards unaffected
	e.Close()
	e = openTest(t, testOptions(dir))
	defer e.Close()
	checkRange(t, e, "fs_0", 0, 50)
	latest, _ := e.LatestOffset("fs_0")
	appendBatches(t, e, "fs_0", int(latest)+5, 5, shard.DurabilitySync)
}

// slowSyncOps makes every fsync take a while, as a loaded disk does.
type slowSyncOps struct{ osOps }

func (s slowSyncOps) sync(f *os.File) error {
	time.Sleep(3 * time.Millisecond)
	return s.osOps.sync(f)
}

// Group commit: many concurrent Sync appenders share fsyncs.
func TestGroupCommit(t *testing.T) {
	o := testOptions(t.TempDir())
	o.ops = slowSyncOps{}
	e := openTest(t, o)
	defer e.Close()
	mustCreateShard(t, e, "gc_0")
	const producers, each = 32, 20
	fsyncs := mFsyncs.Get()
	var wg sync.WaitGroup
	for range producers {
		wg.Go(func() {
			for range each {
				if _, err := e.Append(t.Context(), "gc_0", []shard.Record{{Value: []byte("x")}}, shard.AppendOptions{Durability: shard.DurabilitySync}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	n := mFsyncs.Get() - fsyncs
	if n == 0 || n > producers*each/4 {
		t.Fatalf("%d sync appends took %d fsyncs; want at most a quarter (group commit)", producers*each, n)
	}
	t.Logf("%d sync appends from %d producers: %d fsyncs", producers*each, producers, n)
}

// A crash between a roll and the sealed segment's fsync leaves its seal
// unfinished (no final time index entry). Mount recovers it like an active
// segment: intact, the seal is finished; torn, the log ends there and the
// later segments (never made durable before it) are dropped.
func TestRecoverUnfinishedSeal(t *testing.T) {
	for _, torn := range []bool{false, true} {
		t.Run("torn="+strconv.FormatBool(torn), func(t *testing.T) {
			o := testOptions(t.TempDir())
			e := openTest(t, o)
			mustCreateShard(t, e, "us_0")
			appendBatches(t, e, "us_0", 500, 4, shard.DurabilityNone)
			e.Close()
			logs := segFiles(t, o.Dir, logSuffix)
			tidxs := segFiles(t, o.Dir, tidxSuffix)
			if len(logs) < 3 {
				t.Fatalf("%d segments; want >= 3", len(logs))
			}
			victim := len(logs) - 2 // the newest sealed segment
			fi, _ := os.Stat(tidxs[victim])
			os.Truncate(tidxs[victim], fi.Size()-timeEntrySize) // the final entry never made it
			base, _ := strconv.ParseInt(filepath.Base(logs[victim])[:20], 10, 64)
			next, _ := strconv.ParseInt(filepath.Base(logs[victim+1])[:20], 10, 64)
			want := int64(500)
			if torn {
				data, _ := os.ReadFile(logs[victim])
				last := lastBatchPos(t, data)
				os.Truncate(logs[victim], last+3)
				h, _ := DecodeHeader(data[last:])
				want = h.BaseOffset
			}
			e = openTest(t, o)
			defer e.Close()
			if got, _ := e.LatestOffset("us_0"); got != want {
				t.Fatalf("Latest %d after recovering the segment [%d, %d); want %d", got, base, next, want)
			}
			checkRange(t, e, "us_0", 0, want)
			if !torn && !sealFinished(&segment{base: base, dir: filepath.Dir(logs[victim])}, next) {
				t.Fatal("mount left the seal unfinished")
			}
			appendBatches(t, e, "us_0", int(want)+30, 4, shard.DurabilitySync)
			checkRange(t, e, "us_0", want, want+30)
		})
	}
}

// A segment mounted with data and rolled before this process wrote to it
// is sealed (fsync, index) like any other.
func TestRollAfterMount(t *testing.T) {
	o := testOptions(t.TempDir())
	e := openTest(t, o)
	mustCreateShard(t, e, "ram_0")
	big := bytes.Repeat([]byte{'b'}, 6<<10)
	for range 2 {
		if _, err := e.Append(t.Context(), "ram_0", []shard.Record{{Value: big}}, shard.AppendOptions{Durability: shard.DurabilitySync}); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	e = openTest(t, o)
	if _, err := e.Append(t.Context(), "ram_0", []shard.Record{{Value: big}}, shard.AppendOptions{Durability: shard.DurabilitySync}); err != nil {
		t.Fatalf("Append that rolls a mounted segment: %v", err)
	}
	if err := e.Flush(); err != nil {
		t.Fatalf("Flush after the roll: %v", err)
	}
	e.Close()
	if n := len(segFiles(t, o.Dir, logSuffix)); n != 2 {
		t.Fatalf("%d segments; want 2", n)
	}
	e = openTest(t, o)
	defer e.Close()
	res, err := e.Read("ram_0", 0, 10, 1<<20)
	if err != nil || len(res.Records) != 3 {
		t.Fatalf("Read after reopen: %v; want 3 records", err)
	}
	res.Release()
}

// A log start past the recovered end (DeleteRecords to Latest, then a crash
// that lost the unsynced tail) leaves a gap below the log start: the next
// segment starts at the log start, offsets are never reused, and the gap
// is not mistaken for a torn segment on later mounts.
func TestGapBelowLogStart(t *testing.T) {
	o := testOptions(t.TempDir())
	e := openTest(t, o)
	mustCreateShard(t, e, "gap_0")
	appendBatches(t, e, "gap_0", 100, 4, shard.DurabilitySync)
	if err := e.DeleteRecords("gap_0", 100); err != nil {
		t.Fatal(err)
	}
	e.Close()
	logs := segFiles(t, o.Dir, logSuffix)
	data, _ := os.ReadFile(logs[len(logs)-1])
	os.Truncate(logs[len(logs)-1], lastBatchPos(t, data)) // the "lost" tail: offsets 96..99
	e = openTest(t, o)
	if got, _ := e.LatestOffset("gap_0"); got != 100 {
		t.Fatalf("Latest after losing the tail below the log start: %d; want 100 (offsets never reused)", got)
	}
	appendBatches(t, e, "gap_0", 150, 4, shard.DurabilitySync)
	e.Close()
	e = openTest(t, o)
	defer e.Close()
	if lo, _ := e.EarliestOffset("gap_0"); lo != 100 {
		t.Fatalf("Earliest %d; want 100", lo)
	}
	checkRange(t, e, "gap_0", 100, 150)
}

// Reads check a batch's CRC until it is verified (doc.go, Verification):
// after a reopen, bytes recovery did not scan are checked on every read
// until one passes; then a changed byte there is served (Kafka's trade-off:
// its clients check the batch CRC), and the next mount checks it again.
func TestVerifyOnce(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	e := openTest(t, o)
	mustCreateShard(t, e, "v_0")
	appendBatches(t, e, "v_0", 60, 4, shard.DurabilitySync)
	e.Close()
	logs := segFiles(t, dir, logSuffix)
	last := logs[len(logs)-1]
	data, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) < 4*o.IndexIntervalBytes {
		t.Fatalf("active segment %s holds %d bytes; want >= %d so recovery scans only its tail", last, len(data), 4*o.IndexIntervalBytes)
	}
	h1, err := CheckBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := CheckBatch(data[h1.Len:])
	if err != nil {
		t.Fatal(err)
	}
	flipByte(t, last, BatchHeaderSize+4) // inside the first batch

	readAt := func(e *EngineSegment, off int64) (*shard.ReadResult, error) {
		t.Helper()
		res, err := e.Read("v_0", off, 100, 1<<20)
		if err == nil {
			t.Cleanup(res.Release)
		}
		return res, err
	}
	e = openTest(t, o)
	sl, err := e.get("v_0")
	if err != nil {
		t.Fatal(err)
	}
	verified := func() (int64, int64) {
		sl.mu.Lock()
		defer sl.mu.Unlock()
		v := sl.segs[len(sl.segs)-1].verified.Load()
		return int64(v >> 32), int64(uint32(v))
	}
	if lo, hi := verified(); lo <= int64(h1.Len+h2.Len) || hi != int64(len(data)) {
		t.Fatalf("verified after mount [%d, %d); want recovery's tail scan only, ending at %d", lo, hi, len(data))
	}
	for range 2 { // a failed check never marks the batch verified
		if res, err := readAt(e, h1.BaseOffset); !errors.Is(err, shard.ErrCorrupt) {
			t.Fatalf("Read(%d) of the damaged, unverified batch: %v, %v; want ErrCorrupt", h1.BaseOffset, res, err)
		}
	}
	checkRange(t, e, "v_0", h2.BaseOffset, 60)
	if lo, hi := verified(); lo != int64(h1.Len) || hi != int64(len(data)) {
		t.Fatalf("verified after reading from offset %d: [%d, %d); want [%d, %d)", h2.BaseOffset, lo, hi, h1.Len, len(data))
	}

	// The last byte of the second batch is its last record's value.
	flipByte(t, last, int64(h1.Len+h2.Len)-1)
	res, err := readAt(e, h2.BaseOffset)
	if err != nil || len(res.Records) == 0 {
		t.Fatalf("Read(%d) of a verified batch changed on disk: %v; want it served", h2.BaseOffset, err)
	}
	lastRec := h2.LastOffset() - h2.BaseOffset
	if r := res.Records[lastRec]; bytes.Equal(r.Value, testValue(r.Offset)) {
		t.Fatalf("record %d read back unchanged; the flip missed its value", r.Offset)
	}
	e.Close()
	e = openTest(t, o)
	defer e.Close()
	if res, err := readAt(e, h2.BaseOffset); !errors.Is(err, shard.ErrCorrupt) {
		t.Fatalf("Read(%d) after a reopen: %v, %v; want ErrCorrupt (the mount forgets what reads verified)", h2.BaseOffset, res, err)
	}
}
