package broker

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/eclipse/paho.golang/paho"
	"google.golang.org/grpc"

	"robustmq/netpoll"
	"robustmq/server/message"
	"robustmq/server/message/topic"
	metaclient "robustmq/server/meta/client"
	"robustmq/server/mqtt"
	"robustmq/server/pb"
)

// fakeMQTTGroup is the mqtt group as the Meta API shows it: Get, List
// (prefix), Txn with compares; Watch sends nothing. beforeTxn, when set,
// runs before each transaction is applied (a concurrent writer).
type fakeMQTTGroup struct {
	pb.UnimplementedMetaServiceServer
	mu        sync.Mutex
	kv        map[string][]byte // table + "\x00" + key; guarded by mu
	beforeTxn func()            // guarded by mu
}

func fkey(table string, key []byte) string { return table + "\x00" + string(key) }

func (f *fakeMQTTGroup) get(table string, key []byte) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.kv[fkey(table, key)]
	return v, ok
}

func (f *fakeMQTTGroup) put(table string, key, value []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kv[fkey(table, key)] = value
}

func (f *fakeMQTTGroup) Get(_ context.Context, r *pb.KVRequest) (*pb.KVValue, error) {
	v, ok := f.get(r.GetTable(), r.GetKey())
	return &pb.KVValue{Found: ok, Value: v}, nil
}

func (f *fakeMQTTGroup) List(_ context.Context, r *pb.KVRequest) (*pb.KVList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &pb.KVList{}
	p := fkey(r.GetTable(), r.GetKey())
	for k, v := range f.kv {
		if strings.HasPrefix(k, p) {
			out.Items = append(out.Items, &pb.KVPair{Key: []byte(k[len(r.GetTable())+1:]), Value: v})
		}
	}
	return out, nil
}

func (f *fakeMQTTGroup) Txn(_ context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	f.mu.Lock()
	hook := f.beforeTxn
	f.beforeTxn = nil
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range r.GetCompares() {
		v, ok := f.kv[fkey(c.GetTable(), c.GetKey())]
		if ok == c.GetAbsent() || ok && !bytes.Equal(v, c.GetValue()) {
			return &pb.TxnResponse{}, nil
		}
	}
	for _, op := range r.GetOps() {
		if op.GetDelete() {
			delete(f.kv, fkey(op.GetTable(), op.GetKey()))
		} else {
			f.kv[fkey(op.GetTable(), op.GetKey())] = op.GetValue()
		}
	}
	return &pb.TxnResponse{Succeeded: true}, nil
}

func (f *fakeMQTTGroup) Watch(_ *pb.WatchRequest, st pb.MetaService_WatchServer) error {
	<-st.Context().Done()
	return nil
}

// willTap is a hub subscriber of will/#.
type willTap struct{ got chan string }

func (w *willTap) Deliver(m *message.Message, _ *topic.Entry) { w.got <- string(m.Topic) }

// dueBroker is an MQTT server of node id over the fake group, as a
// broker runs it, with a will/# tap on its hub.
type dueBroker struct {
	srv   *mqtt.Server
	state *metaState
	addr  string
	wills *willTap
}

func startDueBroker(t *testing.T, meta *metaclient.Client, id uint64) *dueBroker {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := message.New(message.Options{})
	st := newMetaState(meta, id, log)
	srv, err := mqtt.New(mqtt.Options{Hub: hub, State: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Restore(); err != nil {
		t.Fatal(err)
	}
	l, err := netpoll.Listen(netpoll.ListenerConfig{Name: "due_test", Transport: netpoll.TCP, Addr: "127.0.0.1:0", EventLoops: 1}, srv)
	if err != nil {
		t.Fatal(err)
	}
	tap := &willTap{got: make(chan string, 8)}
	f, err := topic.ParseFilter([]byte("will/#"), topic.MQTT, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Index().Subscribe(f, topic.Subscriber{ID: 1 << 62, Target: tap}, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.Shutdown(ctx)
		srv.Close()
		st.Close(ctx)
	})
	return &dueBroker{srv: srv, state: st, addr: l.Addr().String(), wills: tap}
}

func (b *dueBroker) follower(meta *metaclient.Client, id uint64) *dueFollower {
	set := metrics.NewSet() // counters of this follower only
	return &dueFollower{meta: meta, state: b.state, srv: b.srv, node: id, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		handled: set.NewCounter("handled"), failures: set.NewCounter("failures")}
}

// TestDueFollower: broker 2 acts on the entries the controller hands it
// for sessions of broker 1, which it does not hold: the will (once), the
// expiry (record, owner and due entries gone), nothing when the record
// changed meanwhile, and bad or orphan entries dropped.
func TestDueFollower(t *testing.T) {
	fake := &fakeMQTTGroup{kv: map[string][]byte{}}
	gs := grpc.NewServer()
	pb.RegisterMetaServiceServer(gs, fake)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	meta, err := metaclient.New(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(meta.Close)

	// Broker 1 holds three sessions with wills, then is lost (its clients
	// are cut when it stops: their records say connected).
	one := startDueBroker(t, meta, 1)
	for _, id := range []string{"w", "e", "moved"} {
		nc, err := net.Dial("tcp", one.addr)
		if err != nil {
			t.Fatal(err)
		}
		expiry, delay := uint32(60), uint32(5)
		pc := paho.NewClient(paho.ClientConfig{Conn: nc})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = pc.Connect(ctx, &paho.Connect{ClientID: id, KeepAlive: 30,
			WillMessage:    &paho.WillMessage{Topic: "will/" + id, QoS: 0, Payload: []byte(id)},
			WillProperties: &paho.WillProperties{WillDelayInterval: &delay},
			Properties:     &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	waitSaved := func(id string) []byte {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if _, ok := fake.get(metaclient.TableOwner, []byte(id)); ok {
				rec, _ := fake.get(string(mqtt.TableSessions), []byte(id))
				return rec
			}
		}
		t.Fatalf("session %q not saved", id)
		return nil
	}
	for _, id := range []string{"w", "e", "moved"} {
		waitSaved(id)
	}

	two := startDueBroker(t, meta, 2)
	f := two.follower(meta, 2)
	fire := func(kind byte, id string) []byte {
		k := metaclient.FiredKey(2, kind, id)
		fake.put(metaclient.TableFired, k, metaclient.AppendFired(nil, 1))
		return k
	}
	round := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := f.round(ctx); err != nil {
			t.Fatal(err)
		}
	}
	will := func(want string) {
		t.Helper()
		select {
		case got := <-two.wills.got:
			if got != want {
				t.Fatalf("will %q published; want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("will %q not published", want)
		}
	}
	none := func() {
		t.Helper()
		select {
		case got := <-two.wills.got:
			t.Fatalf("will %q published; want none", got)
		default:
		}
	}
	gone := func(table string, key []byte) bool { _, ok := fake.get(table, key); return !ok }

	// The will: published once, taken out of the record, which stays.
	kw := fire(mqtt.DueWill, "w")
	round()
	will("will/w")
	if !gone(metaclient.TableFired, kw) || gone(string(mqtt.TableSessions), []byte("w")) {
		t.Fatal("after the will: the fired entry stays, or the record went")
	}
	fire(mqtt.DueWill, "w")
	round()
	none()

	// The expiry: the record, its owner and due entries go; the pending
	// will goes out as the session ends.
	ke := fire(mqtt.DueExpiry, "e")
	round()
	will("will/e")
	for _, k := range []struct {
		table string
		key   []byte
	}{{metaclient.TableFired, ke}, {string(mqtt.TableSessions), []byte("e")}, {metaclient.TableOwner, []byte("e")},
		{metaclient.TableDue, metaclient.DueKey(mqtt.DueExpiry, "e")}, {metaclient.TableDue, metaclient.DueKey(mqtt.DueWill, "e")}} {
		if !gone(k.table, k.key) {
			t.Fatalf("after the expiry: table %s still has %q", k.table, k.key)
		}
	}

	// The record changes between the read and the write (its broker came
	// back): nothing is published, the new record stays, the entry goes.
	km := fire(mqtt.DueExpiry, "moved")
	newer := append(waitSaved("moved"), 0) // any other bytes
	fake.mu.Lock()
	fake.beforeTxn = func() { fake.put(string(mqtt.TableSessions), []byte("moved"), newer) }
	fake.mu.Unlock()
	round()
	none()
	if rec, _ := fake.get(string(mqtt.TableSessions), []byte("moved")); !bytes.Equal(rec, newer) || !gone(metaclient.TableFired, km) {
		t.Fatal("a changed record was acted on, or the stale entry stayed")
	}

	// A session that ended meanwhile, a bad entry, a release notice: dropped.
	for _, k := range [][]byte{fire(mqtt.DueExpiry, "never-saved"), fire(metaclient.DueRelease, "w")} {
		round()
		if !gone(metaclient.TableFired, k) {
			t.Fatalf("entry %q not dropped", k)
		}
	}
	bad := append(metaclient.FiredPrefix(2), 'x')
	fake.put(metaclient.TableFired, bad, []byte{1})
	round()
	if !gone(metaclient.TableFired, bad) || f.failures.Get() == 0 {
		t.Fatal("a bad entry stayed, or was not counted")
	}
	none()
}
