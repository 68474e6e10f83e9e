package message

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"robustmq/server/message/topic"
	"robustmq/shard"
	"robustmq/shard/memory"
)

type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) Deliver(m *Message, e *topic.Entry) {
	r.mu.Lock()
	r.got = append(r.got, string(m.Topic)+"="+string(m.Payload))
	r.mu.Unlock()
}

func subscribe(t *testing.T, h *Hub, filter string, id uint64, s Subscriber) {
	t.Helper()
	f, err := topic.ParseFilter([]byte(filter), topic.MQTT, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Index().Subscribe(f, topic.Subscriber{ID: id, Target: s}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestPublish: a message reaches every matching subscriber, is stored in
// its topic's shard with its properties as headers, and done runs once.
func TestPublish(t *testing.T) {
	r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{})}, shard.RouterOptions{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := New(Options{Store: r})
	a, b := &recorder{}, &recorder{}
	subscribe(t, h, "a/#", 1, a)
	subscribe(t, h, "a/+/c", 2, b)
	subscribe(t, h, "x", 3, b)

	f := func(topicName string, wantN int, persisted bool) {
		t.Helper()
		var calls int
		var derr error
		m := &Message{Topic: []byte(topicName), Payload: []byte("p"), QoS: 1, ContentType: []byte("text/plain"),
			User: []UserProperty{{[]byte("k"), []byte("v")}}}
		if n := h.Publish(m, func(err error) { calls++; derr = err }); n != wantN {
			t.Fatalf("Publish(%q) delivered %d; want %d", topicName, n, wantN)
		}
		if calls != 1 || derr != nil { // the memory engine acks inside AppendAsync
			t.Fatalf("Publish(%q): done called %d times, err %v; want once, nil", topicName, calls, derr)
		}
		res, err := r.Read(ShardName(topicName), 0, 10, 1<<20)
		if !persisted {
			if !errors.Is(err, shard.ErrShardNotFound) {
				t.Fatalf("Publish(%q): shard read err %v; want not found (not persistent)", topicName, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		defer res.Release()
		rec := res.Records[len(res.Records)-1]
		hs := map[string]string{}
		for _, hd := range rec.Headers {
			hs[string(hd.Name)] = string(hd.Value)
		}
		if string(rec.Value) != "p" || hs["mqtt.qos"] != "1" || hs["mqtt.content_type"] != "text/plain" || hs["k"] != "v" {
			t.Fatalf("Publish(%q): stored %q headers %v", topicName, rec.Value, hs)
		}
	}
	f("a/b/c", 2, true)
	f("a", 1, true)
	f("x", 1, true)
	f("nobody", 0, true)
	f("$SYS/x", 0, false)
	f(strings.Repeat("long/", 200), 0, true) // 1000 bytes: over shard.MaxNameLen, hashed
	if len(a.got) != 2 || len(b.got) != 2 {
		t.Fatalf("a got %v, b got %v", a.got, b.got)
	}
	stats := map[string]TopicStats{}
	for _, st := range h.Topics() {
		stats[st.Topic] = st
	}
	if st := stats["a/b/c"]; len(stats) != 5 || st.Published != 1 || st.Delivered != 2 || st.Bytes != 1 || st.Shard != "a/b/c_0" {
		t.Fatalf("Topics: %d topics, a/b/c %+v; want 5 (not $SYS/x), a/b/c published 1, delivered 2, 1 byte", len(stats), st)
	}
}

// TestExpired: an expired message is neither stored nor delivered.
func TestExpired(t *testing.T) {
	h := New(Options{Now: func() int64 { return 1000 }})
	a := &recorder{}
	subscribe(t, h, "t", 1, a)
	if n := h.Publish(&Message{Topic: []byte("t"), ExpiryMs: 1000}, nil); n != 0 || len(a.got) != 0 {
		t.Fatalf("expired message delivered %d times", n)
	}
	if n := h.Publish(&Message{Topic: []byte("t"), ExpiryMs: 1001}, nil); n != 1 {
		t.Fatalf("live message delivered %d times; want 1", n)
	}
}

// TestQueue: bounded FIFO, oldest dropped when full.
func TestQueue(t *testing.T) {
	q := NewQueue[int](3)
	for i := 1; i <= 5; i++ {
		old, dropped := q.Push(i)
		if want := i > 3; dropped != want || (dropped && old != i-3) {
			t.Fatalf("Push(%d): dropped %v old %d", i, dropped, old)
		}
	}
	for _, want := range []int{3, 4, 5} {
		if v, ok := q.Pop(); !ok || v != want {
			t.Fatalf("Pop = %d, %v; want %d", v, ok, want)
		}
	}
	if _, ok := q.Pop(); ok || q.Len() != 0 {
		t.Fatal("queue not empty")
	}
}

// TestQueuePushOver: PushOver goes past the capacity in order; Push on an
// over-full queue drops one oldest item per item added.
func TestQueuePushOver(t *testing.T) {
	q := NewQueue[int](2)
	for i := 1; i <= 5; i++ {
		q.PushOver(i)
	}
	if !q.Full() || q.Len() != 5 {
		t.Fatalf("Len %d Full %v; want 5 true", q.Len(), q.Full())
	}
	if old, dropped := q.Push(6); !dropped || old != 1 || q.Len() != 5 {
		t.Fatalf("Push(6): dropped %v old %d Len %d; want true 1 5", dropped, old, q.Len())
	}
	for _, want := range []int{2, 3, 4, 5, 6} {
		if v, ok := q.Pop(); !ok || v != want {
			t.Fatalf("Pop = %d, %v; want %d", v, ok, want)
		}
	}
	if q.Full() {
		t.Fatal("empty queue Full")
	}
}

// opener counts GateOpened calls.
type opener struct{ n atomic.Int32 }

func (o *opener) GateOpened() { o.n.Add(1) }

// TestGate: the Opener runs once, when the last reference goes; an opened
// gate cannot be held again.
func TestGate(t *testing.T) {
	var o opener
	var g Gate
	g.Init(2, &o)
	if !g.Hold() {
		t.Fatal("Hold on a closed gate failed")
	}
	g.Release()
	g.Release()
	if o.n.Load() != 0 {
		t.Fatal("opened with a reference left")
	}
	g.Release()
	if o.n.Load() != 1 {
		t.Fatalf("opened %d times; want 1", o.n.Load())
	}
	if g.Hold() {
		t.Fatal("Hold on an opened gate succeeded")
	}
}

// TestPublishAt: delayed messages are delivered at their time, in time
// order, and the queue is bounded.
func TestPublishAt(t *testing.T) {
	h := New(Options{MaxDelayed: 2})
	defer h.Close()
	a := &recorder{}
	subscribe(t, h, "d/#", 1, a)
	now := time.Now().UnixMilli()
	var errs []error
	collect := func(err error) { errs = append(errs, err) }
	h.PublishAt(&Message{Topic: []byte("d/late"), Payload: []byte("2")}, now+150, collect)
	h.PublishAt(&Message{Topic: []byte("d/early"), Payload: []byte("1")}, now+50, collect)
	h.PublishAt(&Message{Topic: []byte("d/refused")}, now+10, collect)
	if len(errs) != 3 || errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], ErrDelayFull) {
		t.Fatalf("done errors %v; want nil, nil, ErrDelayFull", errs)
	}
	if got := len(a.got); got != 0 {
		t.Fatalf("delivered %d before their time", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		a.mu.Lock()
		n := len(a.got)
		a.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d of 2 delayed messages", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if el := time.Now().UnixMilli() - now; el < 150 {
		t.Fatalf("both delivered after %d ms; the later one was due at 150", el)
	}
	if a.got[0] != "d/early=1" || a.got[1] != "d/late=2" || h.Delayed() != 0 {
		t.Fatalf("got %v, %d waiting; want early then late, none waiting", a.got, h.Delayed())
	}
}

// failing is a store whose appends all fail.
type failing struct{ shard.Adapter }

var errFull = errors.New("write queue full")

func (failing) AppendAsync(_ string, _ []shard.Record, _ shard.AppendOptions, done shard.AppendFunc) {
	done(0, errFull)
}

// TestStoreFailedLog: every failed append reaches done as ErrStore, but a
// flood of them is logged once per second with the count not logged.
func TestStoreFailedLog(t *testing.T) {
	r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{})}, shard.RouterOptions{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var logs strings.Builder
	var now atomic.Int64
	now.Store(5000)
	h := New(Options{Store: failing{r}, Now: now.Load, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	f := func(n int, wantLines int, wantLast string) {
		t.Helper()
		for range n {
			var derr error
			h.Publish(&Message{Topic: []byte("t"), Payload: []byte("p"), QoS: 1}, func(err error) { derr = err })
			if !errors.Is(derr, ErrStore) || !errors.Is(derr, errFull) {
				t.Fatalf("done err %v; want ErrStore wrapping %v", derr, errFull)
			}
		}
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if len(lines) != wantLines || !strings.HasSuffix(lines[len(lines)-1], wantLast) {
			t.Fatalf("after %d more failures: log %q; want %d lines, the last ending %q", n, logs.String(), wantLines, wantLast)
		}
	}
	f(5, 1, "not_logged_before=0")
	now.Add(warnInterval - 1)
	f(3, 1, "not_logged_before=0")
	now.Add(1)
	f(1, 2, "not_logged_before=7")
}

// TestBatch: a Batch delivers at once, holds the appends of consecutive
// messages to one shard at one durability and sends them, in order, as one
// append when the shard or durability changes, when full, or on Flush;
// each done runs once the append completed.
func TestBatch(t *testing.T) {
	r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{})}, shard.RouterOptions{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := New(Options{Store: r})
	rec := &recorder{}
	subscribe(t, h, "#", 1, rec)
	b := h.NewBatch()
	var dones []string
	pub := func(topicName, payload string, qos byte) {
		m := &Message{Topic: []byte(topicName), Payload: []byte(payload), QoS: qos, ContentType: []byte(payload)}
		b.Publish(m, func(err error) {
			if err != nil {
				t.Errorf("done(%s): %v", payload, err)
			}
			dones = append(dones, payload)
		})
	}
	f := func(step string, wantDones, wantGot int) {
		t.Helper()
		if len(dones) != wantDones || len(rec.got) != wantGot {
			t.Fatalf("%s: %d dones %v, %d delivered; want %d dones, %d delivered", step, len(dones), dones, len(rec.got), wantDones, wantGot)
		}
	}
	pub("a", "a1", 1)
	pub("a", "a2", 1)
	f("two to a", 0, 2)
	pub("a", "a3", 0) // other durability
	f("QoS 0 to a", 2, 3)
	pub("b", "b1", 0) // other shard
	f("b", 3, 4)
	b.Flush()
	f("flush", 4, 4)
	b.Flush()
	f("flush again", 4, 4)
	for i := range maxBatch + 1 {
		pub("c", strconv.Itoa(i), 1)
	}
	f("maxBatch+1 to c", 4+maxBatch, 5+maxBatch)
	b.Flush()
	f("flush c", 5+maxBatch, 5+maxBatch)
	if strings.Join(dones[:4], ",") != "a1,a2,a3,b1" {
		t.Fatalf("dones %v; want a1,a2,a3,b1 first", dones[:4])
	}
	for shardTopic, want := range map[string][]string{"a": {"a1", "a2", "a3"}, "b": {"b1"}} {
		res, err := r.Read(ShardName(shardTopic), 0, 10, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, rc := range res.Records {
			if ct := rc.Headers[1]; string(ct.Name) != "mqtt.content_type" || string(ct.Value) != string(rc.Value) {
				t.Errorf("shard %s record %q: headers %v; want its own content type", shardTopic, rc.Value, rc.Headers)
			}
			got = append(got, string(rc.Value))
		}
		res.Release()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("shard %s holds %v; want %v", shardTopic, got, want)
		}
	}
	res, err := r.Read(ShardName("c"), 0, maxBatch+10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	for i, rc := range res.Records {
		if string(rc.Value) != strconv.Itoa(i) {
			t.Fatalf("shard c record %d is %q; want %d (order kept)", i, rc.Value, i)
		}
	}
	if len(res.Records) != maxBatch+1 {
		t.Fatalf("shard c holds %d records; want %d", len(res.Records), maxBatch+1)
	}
}

// TestBatchStoreFailed: a failed batched append fails every message in it.
func TestBatchStoreFailed(t *testing.T) {
	r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{})}, shard.RouterOptions{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := New(Options{Store: failing{r}, Logger: slog.New(slog.DiscardHandler)})
	b := h.NewBatch()
	var failed int
	for range 3 {
		b.Publish(&Message{Topic: []byte("t"), Payload: []byte("p"), QoS: 1}, func(err error) {
			if errors.Is(err, ErrStore) {
				failed++
			}
		})
	}
	b.Flush()
	if failed != 3 {
		t.Fatalf("%d dones failed with ErrStore; want 3", failed)
	}
}

// TestBatchNow: a Batch reads the hub's clock once until its next Flush.
func TestBatchNow(t *testing.T) {
	var reads atomic.Int64
	h := New(Options{Now: func() int64 { return 1000 + reads.Add(1) }})
	b := h.NewBatch()
	f := func(step string, want int64) {
		t.Helper()
		if got := b.Now(); got != want {
			t.Fatalf("%s: Now() = %d; want %d", step, got, want)
		}
	}
	f("first", 1001)
	f("again", 1001)
	b.Flush()
	f("after Flush", 1002)
	f("again after Flush", 1002)
}

// noter is a BatchSubscriber that notes itself in the batch.
type noter struct {
	recorder
	batched int
}

func (n *noter) DeliverBatch(m *Message, e *topic.Entry, b *Batch) {
	n.batched++
	b.Note(n)
}

// TestBatchNote: a BatchSubscriber gets DeliverBatch (and can Note) for
// deliveries through a Batch, Deliver for the others.
func TestBatchNote(t *testing.T) {
	h := New(Options{})
	n, r := &noter{}, &recorder{}
	subscribe(t, h, "a", 1, n)
	subscribe(t, h, "a", 2, r)
	b := h.NewBatch()
	b.Publish(&Message{Topic: []byte("a"), Payload: []byte("1")}, nil)
	h.Publish(&Message{Topic: []byte("a"), Payload: []byte("2")}, nil)
	b.Flush()
	if got := b.Noted(); n.batched != 1 || len(n.got) != 1 || len(r.got) != 2 || len(got) != 1 || got[0] != any(n) {
		t.Fatalf("batched %d, delivered %v, plain subscriber %v, noted %v; want 1 batched, 1 delivered, 2, the noter once", n.batched, n.got, r.got, got)
	}
	b.ClearNoted()
	if got := b.Noted(); len(got) != 0 {
		t.Fatalf("after ClearNoted: noted %v; want none", got)
	}
}
