package auth

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"robustmq/server/meta/client"
	"robustmq/server/pb"
)

// fakeMeta is the MQTT-table part of the Meta Service: Put, Delete, List
// over a Memory backend (which checks the space and table names reach it
// as the real service expects them), and Watch sending one event per write.
type fakeMeta struct {
	pb.UnimplementedMetaServiceServer
	mem   *Memory
	mu    sync.Mutex
	rev   uint64
	ch    chan uint64 // writes for the Watch stream
	bad   []string    // requests that were not SPACE_MQTT with a one-letter table
	lists int         // List calls
}

func (f *fakeMeta) table(r *pb.KVRequest) Table {
	if r.GetSpace() != pb.Space_SPACE_MQTT || len(r.GetTable()) != 1 || !strings.Contains("acbv", r.GetTable()) {
		f.mu.Lock()
		f.bad = append(f.bad, r.String())
		f.mu.Unlock()
	}
	return Table(r.GetTable()[0])
}

func (f *fakeMeta) wrote() {
	f.mu.Lock()
	f.rev++
	rev := f.rev
	f.mu.Unlock()
	select {
	case f.ch <- rev:
	default:
	}
}

func (f *fakeMeta) Put(ctx context.Context, r *pb.KVRequest) (*pb.MetaEmpty, error) {
	err := f.mem.Put(ctx, f.table(r), r.GetKey(), r.GetValue())
	f.wrote()
	return &pb.MetaEmpty{}, err
}

func (f *fakeMeta) Delete(ctx context.Context, r *pb.KVRequest) (*pb.MetaEmpty, error) {
	err := f.mem.Delete(ctx, f.table(r), r.GetKey())
	f.wrote()
	return &pb.MetaEmpty{}, err
}

// Txn applies a transaction without compares (the backend's writes).
func (f *fakeMeta) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	for _, op := range r.GetOps() {
		kr := &pb.KVRequest{Space: r.GetSpace(), Table: op.GetTable()}
		if op.GetDelete() {
			_ = f.mem.Delete(ctx, f.table(kr), op.GetKey())
		} else {
			_ = f.mem.Put(ctx, f.table(kr), op.GetKey(), op.GetValue())
		}
	}
	f.wrote()
	return &pb.TxnResponse{Succeeded: len(r.GetCompares()) == 0}, nil
}

func (f *fakeMeta) Get(ctx context.Context, r *pb.KVRequest) (*pb.KVValue, error) {
	kvs, err := f.mem.List(ctx, f.table(r))
	for _, kv := range kvs {
		if string(kv.Key) == string(r.GetKey()) {
			return &pb.KVValue{Found: true, Value: kv.Value}, err
		}
	}
	return &pb.KVValue{}, err
}

func (f *fakeMeta) List(ctx context.Context, r *pb.KVRequest) (*pb.KVList, error) {
	f.mu.Lock()
	f.lists++
	f.mu.Unlock()
	kvs, err := f.mem.List(ctx, f.table(r))
	out := &pb.KVList{}
	for _, kv := range kvs {
		out.Items = append(out.Items, &pb.KVPair{Key: kv.Key, Value: kv.Value})
	}
	return out, err
}

func (f *fakeMeta) Watch(r *pb.WatchRequest, st pb.MetaService_WatchServer) error {
	for {
		select {
		case rev := <-f.ch:
			if err := st.Send(&pb.WatchEvent{Group: r.GetGroup(), Revision: rev}); err != nil {
				return err
			}
		case <-st.Context().Done():
			return nil
		}
	}
}

// TestMetaBackend: a Store over the Meta backend persists through the
// service, a second Store (another broker) loads what the first wrote,
// and follows its later writes through Watch.
func TestMetaBackend(t *testing.T) {
	fm := &fakeMeta{mem: NewMemory(), ch: make(chan uint64, 1)}
	gs := grpc.NewServer()
	pb.RegisterMetaServiceServer(gs, fm)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)
	c, err := client.New(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	a := newStore(t, Options{Backend: NewMeta(c)})
	if err := a.SetUser(ctx, "alice", "pw", true); err != nil {
		t.Fatal(err)
	}
	addRules(t, a, Rule{Subject: ByUser, Name: "alice", Topic: "x/#", Action: Publish})
	if err := a.AddBan(ctx, Ban{Kind: BanClientID, Name: "evil"}); err != nil {
		t.Fatal(err)
	}
	b := newStore(t, Options{Backend: NewMeta(c)})
	if !b.CheckPassword("alice", "pw") || len(b.Rules()) != 1 || len(b.Bans()) != 1 {
		t.Fatalf("second store loaded users %v rules %v bans %v; want alice, 1 rule, 1 ban", b.Users(), b.Rules(), b.Bans())
	}
	b.Follow()
	if err := a.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.CheckPassword("alice", "pw") {
		if time.Now().After(deadline) {
			t.Fatal("the following store never saw the deletion")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Changes of the mqtt group outside these tables (sessions) move no
	// version: no reload, so no List.
	time.Sleep(2 * followGap) // a reload of the deletion may still be listing
	fm.mu.Lock()
	lists := fm.lists
	fm.mu.Unlock()
	for range 5 {
		fm.wrote()
		time.Sleep(followGap / 2)
	}
	fm.mu.Lock()
	if fm.lists != lists {
		t.Errorf("%d Lists after changes of other tables; want none (a reload per change)", fm.lists-lists)
	}
	fm.mu.Unlock()
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if len(fm.bad) > 0 {
		t.Fatalf("requests outside the MQTT tables: %v", fm.bad)
	}
}
