package segment

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"robustmq/shard"
	"robustmq/shard/shardtest"
)

// The crash test re-executes this test binary as a child that appends with
// DurabilitySync from several goroutines and reports every acknowledged
// batch on a pipe; the parent SIGKILLs it at a random moment, reopens the
// engine and checks every acknowledged record. 100 rounds by default,
// ROBUSTMQ_SOAK=1 for 2000.

const (
	crashDirEnv  = "SEGMENT_CRASH_DIR"
	crashSeedEnv = "SEGMENT_CRASH_SEED"
	crashShard   = "crash_0"
	crashWriters = 6
)

func crashOptions(dir string) Options {
	return Options{Dir: dir, SegmentBytes: 48 << 10, PreallocBytes: 16 << 10, IndexIntervalBytes: 1024,
		IndexIntervalRecords: 16, FlushInterval: -1, RetentionInterval: -1, Logger: quiet, Decoder: shardtest.Decoder}
}

// opaqueWriter says whether writer w appends its batches as opaque batches
// (AppendBatch, the suite's format: no headers) rather than records.
func opaqueWriter(w int) bool { return w%2 == 1 }

// crashTerm is the raft term the child of round gives its appends.
func crashTerm(round int) uint64 { return uint64(round) + 1 }

// crashRecord derives a record from its key (writer, sequence, index in
// batch), so the parent can rebuild the exact bytes from the report.
func crashRecord(round, w, seq, j int) shard.Record {
	key := []byte("r" + strconv.Itoa(round) + "w" + strconv.Itoa(w) + "-" + strconv.Itoa(seq) + "-" + strconv.Itoa(j))
	r := rand.New(rand.NewPCG(uint64(crc32.ChecksumIEEE(key)), 7))
	val := make([]byte, r.IntN(1500))
	for i := range val {
		val[i] = byte(r.Uint32())
	}
	rec := shard.Record{Timestamp: int64(seq + 1), Key: key, Value: val}
	if j%3 == 0 {
		rec.Headers = []shard.Header{{Name: []byte("h"), Value: key}}
	}
	return rec
}

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrash as a child process")
	}
	round, _ := strconv.Atoi(os.Getenv(crashSeedEnv))
	e, err := Open(crashOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CreateShard(shard.ShardConfig{Name: crashShard, Engine: shard.EngineSegment}); err != nil && !errors.Is(err, shard.ErrShardExists) {
		t.Fatal(err)
	}
	report := os.NewFile(3, "report")
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(round), uint64(w)))
			for seq := 0; ; seq++ {
				n := 1 + r.IntN(4)
				recs := make([]shard.Record, n)
				for j := range recs {
					recs[j] = crashRecord(round, w, seq, j)
				}
				opt := shard.AppendOptions{Durability: shard.DurabilitySync, Term: crashTerm(round)}
				var (
					off int64
					err error
				)
				if opaqueWriter(w) {
					off, err = e.AppendBatch(context.Background(), crashShard, shard.Batch{Format: shard.BatchKafkaV2, Count: n, Bytes: shardtest.EncodeBatch(recs)}, opt)
				} else {
					off, err = e.Append(context.Background(), crashShard, recs, opt)
				}
				if err != nil {
					t.Error(err)
					return
				}
				line := strconv.FormatInt(off, 10) + " " + strconv.Itoa(n) + " " + strconv.Itoa(w) + " " + strconv.Itoa(seq) + "\n"
				mu.Lock()
				_, err = report.WriteString(line)
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
}

type ackedBatch struct {
	off       int64
	n, w, seq int
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short")
	}
	// A full check reads the whole log; it runs every fullEvery rounds and
	// at the end, the others check what the round's child wrote.
	rounds, fullEvery := 100, 10
	if os.Getenv("ROBUSTMQ_SOAK") != "" {
		rounds, fullEvery = 2000, 200
	}
	dir := t.TempDir()
	var acked [][]ackedBatch
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var from int64 // log end before this round: what the round may have changed
	for round := range rounds {
		acks := runCrashChild(t, dir, round, rng.IntN(30))
		acked = append(acked, acks)
		if round%fullEvery == fullEvery-1 || round == rounds-1 {
			from = 0
		}
		from = verifyCrash(t, dir, round, from, acked)
	}
	n := 0
	for _, acks := range acked {
		for _, a := range acks {
			n += a.n
		}
	}
	t.Logf("%d SIGKILL rounds, %d acknowledged records verified, next offset %d, %d torn bytes cut by recovery",
		rounds, n, from, mTruncated.Get())
}

// runCrashChild starts a child, lets it run for killAfter ms past its first
// acknowledgement, SIGKILLs it and returns the batches it acknowledged.
func runCrashChild(t *testing.T, dir string, round, killAfter int) []ackedBatch {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashSeedEnv+"="+strconv.Itoa(round))
	cmd.ExtraFiles = []*os.File{pw}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	// Whatever happens below, the child does not outlive the round (it
	// appends forever).
	defer cmd.Process.Kill()
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var acks []ackedBatch
	parse := func(l string) {
		var a ackedBatch
		if _, err := fmt.Sscan(l, &a.off, &a.n, &a.w, &a.seq); err != nil {
			t.Fatalf("round %d: bad report line %q: %v", round, l, err)
		}
		acks = append(acks, a)
	}
	deadline := time.After(20 * time.Second)
	select {
	case l, ok := <-lines:
		if !ok {
			cmd.Wait()
			t.Fatalf("round %d: child exited before its first ack: %s", round, stderr.String())
		}
		parse(l)
	case <-deadline:
		cmd.Process.Kill()
		t.Fatalf("round %d: no ack from child within 20s", round)
	}
	kill := time.After(time.Duration(killAfter) * time.Millisecond)
	for killed := false; ; {
		select {
		case <-deadline:
			t.Fatalf("round %d: child not gone within 20s", round)
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				pr.Close()
				if !killed {
					t.Fatalf("round %d: child exited on its own: %s", round, stderr.String())
				}
				return acks
			}
			parse(l)
		case <-kill:
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
}

// verifyCrash reopens the engine and checks, from offset from on: every
// acknowledged record is there with its exact bytes, no key appears twice,
// nothing is corrupt, and the next append gets the next offset, which it
// returns.
func verifyCrash(t *testing.T, dir string, round int, from int64, acked [][]ackedBatch) int64 {
	t.Helper()
	e := openTest(t, crashOptions(dir))
	defer e.Close()
	latest, err := e.LatestOffset(crashShard)
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	seen := make(map[string]int64, latest) // key -> offset: no record twice
	byOff := make(map[int64]shard.Record, latest)
	for off := from; off < latest; {
		res, err := e.Read(crashShard, off, 500, 1<<20)
		if err != nil {
			t.Fatalf("round %d: Read(%d): %v", round, off, err)
		}
		for _, r := range res.Records {
			if r.Offset != off {
				t.Fatalf("round %d: record at offset %d; want %d", round, r.Offset, off)
			}
			if r.Key != nil {
				if prev, dup := seen[string(r.Key)]; dup {
					t.Fatalf("round %d: record %q at offsets %d and %d", round, r.Key, prev, off)
				}
				seen[string(r.Key)] = off
			}
			byOff[off] = shard.Record{Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value), Headers: cloneHeaders(r.Headers), Term: r.Term}
			off++
		}
		res.Release()
	}
	for ri, acks := range acked {
		for _, a := range acks {
			if a.off < from {
				continue
			}
			for j := range a.n {
				want := crashRecord(ri, a.w, a.seq, j)
				if opaqueWriter(a.w) {
					want.Headers = nil
				}
				got, ok := byOff[a.off+int64(j)]
				if !ok {
					t.Fatalf("round %d: acknowledged record %d (%s) lost; latest %d", round, a.off+int64(j), want.Key, latest)
				}
				if !bytes.Equal(got.Key, want.Key) || !bytes.Equal(got.Value, want.Value) || len(got.Headers) != len(want.Headers) || got.Term != crashTerm(ri) {
					t.Fatalf("round %d: record %d: key %q, %d value bytes, %d headers, term %d; want key %q, %d bytes, %d headers, term %d",
						round, a.off+int64(j), got.Key, len(got.Value), len(got.Headers), got.Term, want.Key, len(want.Value), len(want.Headers), crashTerm(ri))
				}
			}
		}
	}
	off, err := e.Append(context.Background(), crashShard, []shard.Record{{Value: []byte("probe")}}, shard.AppendOptions{Durability: shard.DurabilitySync})
	if err != nil || off != latest {
		t.Fatalf("round %d: append after recovery at %d, err %v; want offset %d", round, off, err, latest)
	}
	return latest + 1
}

func cloneHeaders(hs []shard.Header) []shard.Header {
	out := make([]shard.Header, len(hs))
	for i, h := range hs {
		out[i] = shard.Header{Name: bytes.Clone(h.Name), Value: bytes.Clone(h.Value)}
	}
	return out
}
