package mqtt

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"robustmq/codec/mqtt"
	"robustmq/netpoll"
	"robustmq/server/message"
	"robustmq/shard"
	"robustmq/shard/memory"
)

func TestSessionRecordRoundTrip(t *testing.T) {
	for _, s := range []*session{
		{expiry: 60},
		{expiry: 9, willAt: 77, will: &will{delay: 5, ttlMs: 3000, m: &message.Message{Topic: []byte("w"), Payload: []byte("bye"),
			QoS: 1, Retain: true}}},
		{expiry: 0xFFFFFFFF, offlineAt: 1700000000123, d: &durable{log: "$mqtt_session/c/x_0"}, subs: map[string]*sub{
			"a/+":          {opts: &subOpts{qos: 1, noLocal: true, subID: 7}},
			"$share/g/b/#": {opts: &subOpts{qos: 2, rap: true}},
		}},
	} {
		r, err := decodeSession(s.recordLocked().encode())
		if err != nil {
			t.Fatal(err)
		}
		if r.expiry != s.expiry || r.offlineAt != s.offlineAt || r.log != s.logName() || len(r.subs) != len(s.subs) ||
			r.willAt != s.willAt || (r.will == nil) != (s.will == nil) {
			t.Fatalf("decoded %+v from %+v", r, s)
		}
		if w := r.will; w != nil && (w.delay != s.will.delay || w.ttlMs != s.will.ttlMs || string(w.m.Topic) != "w" ||
			string(w.m.Payload) != "bye" || w.m.QoS != 1 || !w.m.Retain) {
			t.Fatalf("decoded will %+v %+v", w, w.m)
		}
		for _, sr := range r.subs {
			if want := s.subs[sr.filter]; want == nil || *want.opts != sr.opts {
				t.Fatalf("subscription %q: got %+v", sr.filter, sr.opts)
			}
		}
	}
	for _, bad := range [][]byte{nil, {2}, {1, 0, 0}, append(new(session).recordLocked().encode(), 0)} {
		if _, err := decodeSession(bad); err == nil {
			t.Fatalf("decodeSession(% x) accepted", bad)
		}
	}
}

func TestRetainedRecordRoundTrip(t *testing.T) {
	for _, m := range []*message.Message{
		{Topic: []byte("a"), Payload: []byte("x"), QoS: 1, Retain: true, Timestamp: 5},
		{Topic: []byte("a/b"), Payload: []byte("hello"), QoS: 2, Retain: true, Timestamp: 9, ExpiryMs: 99,
			HasFormat: true, PayloadFormat: 1, ContentType: []byte("text/plain"), ResponseTopic: []byte("r"),
			CorrelationData: []byte{0, 1}, User: []message.UserProperty{{Key: []byte("k"), Value: []byte("v")}}},
	} {
		got, err := decodeRetained(string(m.Topic), encodeRetained(m))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("decoded %+v; want %+v", got, m)
		}
	}
	if _, err := decodeRetained("a", []byte{1, 0}); err == nil {
		t.Fatal("short retained record accepted")
	}
}

// restartable is a server over a store and state that outlive it: start
// builds a new Server (new hub and index) over them and restores.
type restartable struct {
	t     *testing.T
	store shard.Adapter
	state StateStore
}

func newRestartable(t *testing.T) *restartable {
	r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{ChunkBytes: 16 << 10})}, shard.RouterOptions{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return &restartable{t: t, store: r, state: NewMemoryState()}
}

func (rs *restartable) start() *testServer {
	t := rs.t
	t.Helper()
	srv, err := New(Options{Hub: message.New(message.Options{Store: rs.store}), State: rs.state, MaxQueued: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Restore(); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, store: rs.store}
	l := ts.listen(t, netpoll.TCP, nil)
	ts.addr = l.Addr().String()
	t.Cleanup(srv.Close)
	return ts
}

// persistentConnect connects client id as a 5.0 client with a session
// expiry of 300 s and returns the CONNACK's Session Present.
func persistentConnect(t *testing.T, addr, id string) (*raw, bool) {
	t.Helper()
	r := dial(t, addr, mqtt.V5)
	cp := mqtt.Connect{ClientID: []byte(id)}
	cp.Props.SetUint(mqtt.PropSessionExpiry, 300)
	return r, r.connect(&cp).SessionPresent
}

// TestRestoreSessionAndRetained: a persistent session's subscriptions and
// the QoS 1 messages queued while it was offline, and retained messages,
// come back in a new Server over the same state and store; a session
// that ended and a retained message deleted do not.
func TestRestoreSessionAndRetained(t *testing.T) {
	rs := newRestartable(t)
	one := rs.start()
	sub, _ := persistentConnect(t, one.addr, "keep")
	sub.send(subscribe(mqtt.V5, 1, "p/#", 1))
	sub.expect(mqtt.SUBACK, 1)
	gone, _ := persistentConnect(t, one.addr, "gone")
	gone.send(subscribe(mqtt.V5, 1, "p/#", 1))
	gone.expect(mqtt.SUBACK, 1)
	_ = sub.nc.Close()
	waitFor(t, "keep offline", func() bool { return !one.online("keep") })
	// gone ends its session: DISCONNECT with Session Expiry 0.
	var d mqtt.Disconnect
	d.Props.SetUint(mqtt.PropSessionExpiry, 0)
	gone.send(mqtt.AppendDisconnect(nil, mqtt.V5, &d))
	waitFor(t, "gone ended", func() bool { return one.sessions.get("gone") == nil })

	pub := dial(t, one.addr, mqtt.V5)
	pub.connect(&mqtt.Connect{ClientID: []byte("pub"), CleanStart: true})
	for i, m := range []string{"1", "2", "3", "4"} {
		pub.send(publish(mqtt.V5, "p/q", 1, uint16(i+1), m))
		pub.expect(mqtt.PUBACK, uint16(i+1))
	}
	for i, topic := range []string{"r/kept", "r/deleted"} {
		pub.send(mqtt.AppendPublish(nil, mqtt.V5, &mqtt.Publish{Topic: []byte(topic), QoS: 1, Retain: true,
			PacketID: uint16(10 + i), Payload: []byte("retained " + topic)}))
		pub.expect(mqtt.PUBACK, uint16(10+i))
	}
	pub.send(mqtt.AppendPublish(nil, mqtt.V5, &mqtt.Publish{Topic: []byte("r/deleted"), Retain: true}))
	waitFor(t, "retained delete saved", func() bool {
		n := 0
		_ = rs.state.Load(TableRetained, func(string, []byte) { n++ })
		return n == 1
	})

	two := rs.start()
	if two.sessions.get("gone") != nil {
		t.Fatal("an ended session was restored")
	}
	back, present := persistentConnect(t, two.addr, "keep")
	if !present {
		t.Fatal("restored session not present")
	}
	// MaxQueued 3: the newest three of the four queued messages.
	for _, want := range []string{"2", "3", "4"} {
		id := back.expectPublish("p/q", want, 1, false)
		back.send(mqtt.AppendAck(nil, mqtt.V5, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: id}))
	}
	back.silent(100 * time.Millisecond)
	// The restored subscription is live.
	pub2 := dial(t, two.addr, mqtt.V5)
	pub2.connect(&mqtt.Connect{ClientID: []byte("pub2"), CleanStart: true})
	pub2.send(publish(mqtt.V5, "p/live", 1, 1, "live"))
	pub2.expect(mqtt.PUBACK, 1)
	id := back.expectPublish("p/live", "live", 1, false)
	back.send(mqtt.AppendAck(nil, mqtt.V5, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: id}))

	r := dial(t, two.addr, mqtt.V5)
	r.connect(&mqtt.Connect{ClientID: []byte("reader"), CleanStart: true})
	r.send(subscribe(mqtt.V5, 1, "r/#", 1))
	r.expect(mqtt.SUBACK, 1)
	if typ := r.next(); typ != mqtt.PUBLISH || string(r.d.Publish.Topic) != "r/kept" || !r.d.Publish.Retain {
		t.Fatalf("got %v %q retain %v; want the retained r/kept", typ, r.d.Publish.Topic, r.d.Publish.Retain)
	}
	r.silent(100 * time.Millisecond)

	// Everything delivered and acknowledged: the log is emptied.
	s := two.sessions.get("keep")
	waitFor(t, "log trimmed", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.logName() == "" {
			return false
		}
		e, err1 := rs.store.EarliestOffset(s.logName())
		l, err2 := rs.store.LatestOffset(s.logName())
		return err1 == nil && err2 == nil && e == l
	})
}

// TestRestoreDeletesOrphanLogs: a session log no session record names
// (a crash between ending a session and deleting its log) is deleted.
func TestRestoreDeletesOrphanLogs(t *testing.T) {
	rs := newRestartable(t)
	name := message.ShardName(logPrefix + "orphan/1")
	if err := rs.store.CreateShard(shard.ShardConfig{Name: name, Engine: shard.EngineMemory}); err != nil {
		t.Fatal(err)
	}
	rs.start()
	waitFor(t, "orphan deleted", func() bool {
		infos, _ := rs.store.ListShards()
		for _, in := range infos {
			if strings.HasPrefix(in.Config.Name, logPrefix) {
				return false
			}
		}
		return true
	})
}

// TestRetainedAckWaitsForSave: the PUBACK of a retained QoS 1 message
// comes only after its save completed.
func TestRetainedAckWaitsForSave(t *testing.T) {
	st := &slowState{MemoryState: NewMemoryState(), release: make(chan struct{})}
	ts := start(t, func(o *Options) { o.State = st })
	pub := dial(t, ts.addr, mqtt.V5)
	pub.connect(&mqtt.Connect{ClientID: []byte("rp"), CleanStart: true})
	pub.send(mqtt.AppendPublish(nil, mqtt.V5, &mqtt.Publish{Topic: []byte("rt"), QoS: 1, Retain: true, PacketID: 1,
		Payload: []byte("v")}))
	pub.silent(200 * time.Millisecond)
	close(st.release)
	pub.expect(mqtt.PUBACK, 1)
}

// slowState completes retained saves only after release is closed.
type slowState struct {
	*MemoryState
	release chan struct{}
}

func (s *slowState) Save(table byte, key string, value []byte, done func(error)) {
	if table != TableRetained {
		s.MemoryState.Save(table, key, value, done)
		return
	}
	v := bytes.Clone(value)
	go func() {
		<-s.release
		s.MemoryState.Save(table, key, v, done)
	}()
}

// TestRestoreWills: the wills of persistent sessions that were connected
// when the broker stopped are published after a restart as if their
// connections had closed then: at once without a Will Delay Interval,
// after it otherwise.
func TestRestoreWills(t *testing.T) {
	rs := newRestartable(t)
	one := rs.start()
	sub, _ := persistentConnect(t, one.addr, "watcher")
	sub.send(subscribe(mqtt.V5, 1, "will/#", 1))
	sub.expect(mqtt.SUBACK, 1)
	_ = sub.nc.Close()
	waitFor(t, "watcher offline", func() bool { return !one.online("watcher") })
	for _, c := range []struct {
		id    string
		delay uint32
	}{{"now", 0}, {"later", 1}} {
		r := dial(t, one.addr, mqtt.V5)
		cp := mqtt.Connect{ClientID: []byte(c.id), Will: true, WillQoS: 1, WillTopic: []byte("will/" + c.id),
			WillPayload: []byte(c.id + " gone")}
		cp.Props.SetUint(mqtt.PropSessionExpiry, 300)
		cp.WillProps.SetUint(mqtt.PropWillDelay, c.delay)
		r.connect(&cp)
	}
	// "Crash": a second server over the same state while the first still
	// holds both connections (their wills were saved with the sessions).
	waitFor(t, "wills saved", func() bool {
		n := 0
		_ = rs.state.Load(TableSessions, func(_ string, v []byte) {
			if r, err := decodeSession(v); err == nil && r.will != nil {
				n++
			}
		})
		return n == 2
	})
	two := rs.start()
	back, present := persistentConnect(t, two.addr, "watcher")
	if !present {
		t.Fatal("watcher session not present")
	}
	t0 := time.Now()
	id := back.expectPublish("will/now", "now gone", 1, false)
	back.send(mqtt.AppendAck(nil, mqtt.V5, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: id}))
	id = back.expectPublish("will/later", "later gone", 1, false)
	back.send(mqtt.AppendAck(nil, mqtt.V5, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: id}))
	if d := time.Since(t0); d < 500*time.Millisecond {
		t.Fatalf("delayed will after %v; want its 1 s delay", d)
	}
	back.silent(200 * time.Millisecond)
}

// FuzzRecords: the persisted session and retained records decode without
// panicking whatever the bytes, and what decodes re-encodes to a record
// that decodes the same.
func FuzzRecords(f *testing.F) {
	s := &session{expiry: 60, offlineAt: 5, d: &durable{log: "l"}, subs: map[string]*sub{"a/+": {opts: &subOpts{qos: 1, subID: 3}}},
		will: &will{delay: 2, m: &message.Message{Topic: []byte("w"), Payload: []byte("p")}}, willAt: 9}
	f.Add(s.recordLocked().encode(), []byte(nil))
	f.Add(new(session).recordLocked().encode(), encodeRetained(&message.Message{Topic: []byte("t"), Payload: []byte("v"), QoS: 1,
		User: []message.UserProperty{{Key: []byte("k"), Value: []byte("v")}}}))
	f.Fuzz(func(t *testing.T, sess, ret []byte) {
		if r, err := decodeSession(sess); err == nil {
			r2, err := decodeSession(r.encode())
			if err != nil || r2.expiry != r.expiry || r2.offlineAt != r.offlineAt || r2.log != r.log ||
				!reflect.DeepEqual(r2.subs, r.subs) || (r2.will == nil) != (r.will == nil) || r2.willAt != r.willAt {
				t.Fatalf("re-encoded session: %+v, %v; want %+v", r2, err, r)
			}
		}
		if m, err := decodeRetained("t", ret); err == nil {
			m2, err := decodeRetained("t", encodeRetained(m))
			if err != nil || string(m2.Payload) != string(m.Payload) || m2.QoS != m.QoS || len(m2.User) != len(m.User) {
				t.Fatalf("re-encoded retained: %+v, %v; want %+v", m2, err, m)
			}
		}
	})
}
