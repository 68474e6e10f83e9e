package pebblestore

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"robustmq/shard"
)

func openFS(t *testing.T, fs vfs.FS) *Engine {
	t.Helper()
	po := defaultPebbleOptions()
	po.FS = fs
	e, err := Open("/db", Options{Pebble: po, FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestCrashKeepsAcknowledged appends from several writers, Sync and None
// mixed, and "crashes" the filesystem (pebble's CrashClone keeps synced data
// and a random share of unsynced data) while they run. After recovery every
// Sync append acknowledged before the crash must be there, and the shard
// must be a dense prefix from offset 0: no holes.
func TestCrashKeepsAcknowledged(t *testing.T) {
	for _, unsynced := range []int{0, 50, 100} {
		fs := vfs.NewCrashableMem()
		e := openFS(t, fs)
		if err := e.CreateShard(shard.ShardConfig{Name: "c_0"}); err != nil {
			t.Fatal(err)
		}
		var (
			mu    sync.Mutex
			acked = map[uint64]bool{} // ids of acknowledged Sync records
			stop  = make(chan struct{})
			wg    sync.WaitGroup
		)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := uint64(w)<<32 | uint64(i)
					val := binary.BigEndian.AppendUint64(nil, id)
					d := shard.DurabilitySync
					if i%3 == 0 {
						d = shard.DurabilityNone
					}
					if _, err := e.Append(context.Background(), "c_0", []shard.Record{{Timestamp: 1, Value: val}}, shard.AppendOptions{Durability: d}); err != nil {
						t.Error(err)
						return
					}
					if d == shard.DurabilitySync {
						mu.Lock()
						acked[id] = true
						mu.Unlock()
					}
				}
			}()
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= 200 || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		want := make([]uint64, 0, len(acked))
		for id := range acked {
			want = append(want, id)
		}
		crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: unsynced, RNG: rand.New(rand.NewPCG(uint64(unsynced), 1))})
		mu.Unlock()
		close(stop)
		wg.Wait()
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 {
			t.Fatal("no Sync append acknowledged before the deadline")
		}

		e = openFS(t, crashed)
		latest, err := e.LatestOffset("c_0")
		if err != nil {
			t.Fatalf("unsynced %d%%: after crash: %v", unsynced, err)
		}
		got := map[uint64]bool{}
		for off := int64(0); off < latest; {
			res, err := e.Read("c_0", off, 500, 1<<20)
			if err != nil {
				t.Fatalf("unsynced %d%%: read %d of %d: %v", unsynced, off, latest, err)
			}
			for _, r := range res.Records {
				got[binary.BigEndian.Uint64(r.Value)] = true
			}
			off = res.Next
			res.Release()
		}
		if int64(len(got)) != latest {
			t.Fatalf("unsynced %d%%: %d distinct records in [0, %d)", unsynced, len(got), latest)
		}
		for _, id := range want {
			if !got[id] {
				t.Fatalf("unsynced %d%%: acknowledged record %x lost (%d acked, %d recovered)", unsynced, id, len(want), latest)
			}
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSyncQueueFull fills the sync queue's slots and checks both full
// policies: FailFast fails at once, the default waits for room.
func TestSyncQueueFull(t *testing.T) {
	e, err := Open(t.TempDir(), Options{SyncQueue: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.CreateShard(shard.ShardConfig{Name: "q_0"}); err != nil {
		t.Fatal(err)
	}
	e.slots <- struct{}{} // the queue is now full
	e.slots <- struct{}{}
	rec := []shard.Record{{Value: []byte("v")}}
	var gotErr error
	e.AppendAsync("q_0", rec, shard.AppendOptions{Durability: shard.DurabilitySync, FailFast: true}, func(_ int64, err error) { gotErr = err })
	if !errors.Is(gotErr, shard.ErrQueueFull) {
		t.Fatalf("FailFast on a full queue: %v; want ErrQueueFull", gotErr)
	}
	if l, _ := e.LatestOffset("q_0"); l != 0 {
		t.Fatalf("a refused append moved Latest to %d", l)
	}
	done := make(chan error, 1)
	go e.AppendAsync("q_0", rec, shard.AppendOptions{Durability: shard.DurabilitySync}, func(_ int64, err error) { done <- err })
	select {
	case err := <-done:
		t.Fatalf("waiting append completed (%v) while the queue was full", err)
	case <-time.After(50 * time.Millisecond):
	}
	<-e.slots // make room: the waiting append proceeds
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-e.slots
}
