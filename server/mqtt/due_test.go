package mqtt

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"robustmq/codec/mqtt"
	"robustmq/server/message"
)

// dueState is a DueStore over a MemoryState: the due times of each
// session as the last SaveSession left them, and every session owned
// unless foreign says otherwise.
type dueState struct {
	*MemoryState
	mu      sync.Mutex
	dues    map[string]Due // kind + client id; guarded by mu
	refuse  bool           // saves other than a CONNECT's fail with ErrNotOwner; guarded by mu
	foreign map[string]bool
}

func newDueState() *dueState {
	return &dueState{MemoryState: NewMemoryState(), dues: map[string]Due{}, foreign: map[string]bool{}}
}

func (d *dueState) SaveSession(clientID string, rec []byte, expire, will *Due, takeAt int64, done func(error)) {
	d.mu.Lock()
	if d.refuse && takeAt == 0 {
		d.mu.Unlock()
		go done(ErrNotOwner)
		return
	}
	for kind, due := range map[byte]*Due{DueExpiry: expire, DueWill: will} {
		if k := string(kind) + clientID; due == nil {
			delete(d.dues, k)
		} else {
			d.dues[k] = *due
		}
	}
	d.mu.Unlock()
	d.Save(TableSessions, clientID, rec, done)
}

func (d *dueState) Owned(clientID string) bool { return !d.foreign[clientID] }

// due returns the due time of kind for clientID.
func (d *dueState) due(kind byte, clientID string) (Due, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.dues[string(kind)+clientID]
	return v, ok
}

func (d *dueState) record(t *testing.T, clientID string) (sessionRecord, bool) {
	t.Helper()
	var rec []byte
	_ = d.Load(TableSessions, func(k string, v []byte) {
		if k == clientID {
			rec = v
		}
	})
	if rec == nil {
		return sessionRecord{}, false
	}
	r, err := decodeSession(rec)
	if err != nil {
		t.Fatal(err)
	}
	return r, true
}

func startDue(t *testing.T, st *dueState) *testServer {
	t.Helper()
	rs := newRestartable(t)
	rs.state = st
	return rs.start()
}

// willConnect connects id (5.0, Session Expiry expiry) with a QoS 1 will
// on will/id delayed by delay seconds.
func willConnect(t *testing.T, addr, id string, expiry, delay uint32) *raw {
	t.Helper()
	r := dial(t, addr, mqtt.V5)
	cp := mqtt.Connect{ClientID: []byte(id), Will: true, WillQoS: 1, WillTopic: []byte("will/" + id),
		WillPayload: []byte(id + " gone")}
	cp.Props.SetUint(mqtt.PropSessionExpiry, expiry)
	cp.WillProps.SetUint(mqtt.PropWillDelay, delay)
	r.connect(&cp)
	return r
}

func watchWills(t *testing.T, addr string) *raw {
	t.Helper()
	w := dial(t, addr, mqtt.V5)
	w.connect(&mqtt.Connect{ClientID: []byte("watcher"), CleanStart: true})
	w.send(subscribe(mqtt.V5, 1, "will/#", 1))
	w.expect(mqtt.SUBACK, 1)
	return w
}

// TestDueTimes: with a DueStore a session's due times are saved with its
// record (counted from the broker's loss while connected, from the
// disconnect while offline) and no timer fires them: only FireDue does,
// and only for the due time the session still has.
func TestDueTimes(t *testing.T) {
	st := newDueState()
	ts := startDue(t, st)
	watcher := watchWills(t, ts.addr)

	c := willConnect(t, ts.addr, "dev", 60, 2)
	waitFor(t, "connected due times", func() bool {
		e, _ := st.due(DueExpiry, "dev")
		w, _ := st.due(DueWill, "dev")
		return e == Due{Lost: 60000} && w == Due{Lost: 2000}
	})
	_ = c.nc.Close()
	waitFor(t, "offline due times", func() bool {
		r, ok := st.record(t, "dev")
		e, _ := st.due(DueExpiry, "dev")
		w, _ := st.due(DueWill, "dev")
		return ok && r.offlineAt != 0 && e == Due{At: r.offlineAt + 60000} && w == Due{At: r.offlineAt + 2000}
	})
	s := ts.sessions.get("dev")
	s.mu.Lock()
	timers := s.expTimer != nil || s.wilTimer != nil
	s.mu.Unlock()
	if timers {
		t.Fatal("timers armed with a DueStore")
	}
	w, _ := st.due(DueWill, "dev")
	e, _ := st.due(DueExpiry, "dev")

	// Stale: a due time the session does not have changes nothing.
	if !ts.FireDue(DueWill, "dev", w.At+1) || !ts.FireDue(DueExpiry, "dev", e.At-1) {
		t.Fatal("FireDue: session not held")
	}
	watcher.silent(100 * time.Millisecond)
	if ts.sessions.get("dev") == nil {
		t.Fatal("a stale expiry ended the session")
	}

	if !ts.FireDue(DueWill, "dev", w.At) {
		t.Fatal("FireDue: session not held")
	}
	id := watcher.expectPublish("will/dev", "dev gone", 1, false)
	watcher.send(mqtt.AppendAck(nil, mqtt.V5, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: id}))
	waitFor(t, "will gone from the record", func() bool {
		r, ok := st.record(t, "dev")
		_, hasDue := st.due(DueWill, "dev")
		return ok && r.will == nil && !hasDue
	})

	ts.FireDue(DueExpiry, "dev", e.At)
	waitFor(t, "session ended", func() bool {
		_, ok := st.record(t, "dev")
		_, hasDue := st.due(DueExpiry, "dev")
		return ts.sessions.get("dev") == nil && !ok && !hasDue
	})
	watcher.silent(100 * time.Millisecond) // the will went once
	if ts.FireDue(DueExpiry, "dev", e.At) {
		t.Fatal("FireDue reports an ended session held")
	}
}

// TestDueReconnect: reconnecting makes the offline due times stale and
// saves the connected ones; Session Present still says the session was
// kept (no expiry timer marks it any more).
func TestDueReconnect(t *testing.T) {
	st := newDueState()
	ts := startDue(t, st)
	c, _ := persistentConnect(t, ts.addr, "back")
	_ = c.nc.Close()
	waitFor(t, "offline", func() bool { e, _ := st.due(DueExpiry, "back"); return e.At != 0 })
	e, _ := st.due(DueExpiry, "back")
	if _, present := persistentConnect(t, ts.addr, "back"); !present {
		t.Fatal("session not present after reconnect")
	}
	waitFor(t, "connected due time", func() bool { e, _ := st.due(DueExpiry, "back"); return e == Due{Lost: 300000} })
	ts.FireDue(DueExpiry, "back", e.At)
	if ts.sessions.get("back") == nil {
		t.Fatal("a stale expiry ended a connected session")
	}
}

// TestFireRecord: a session its broker lost is ended or has its will
// published from the stored record alone, by another server.
func TestFireRecord(t *testing.T) {
	st := newDueState()
	st.foreign["lost"] = true
	rec := sessionRecord{expiry: 60, log: "$mqtt_session/lost/1", willAt: -1,
		will: &will{delay: 5, m: &message.Message{Topic: []byte("will/lost"), Payload: []byte("lost gone"), QoS: 1}}}
	st.Save(TableSessions, "lost", rec.encode(), nil)
	ts := startDue(t, st)
	if ts.sessions.get("lost") != nil {
		t.Fatal("another broker's session restored")
	}
	watcher := watchWills(t, ts.addr)

	next, after, err := ts.FireRecord(DueWill, "lost", rec.encode())
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeSession(next)
	if err != nil || r.will != nil || r.offlineAt == 0 || r.expiry != 60 || r.log != rec.log {
		t.Fatalf("record after the will: %+v, %v; want no will, offline, the rest kept", r, err)
	}
	watcher.silent(50 * time.Millisecond) // nothing before after()
	after()
	id := watcher.expectPublish("will/lost", "lost gone", 1, false)
	watcher.send(mqtt.AppendAck(nil, mqtt.V5, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: id}))

	if again, _, err := ts.FireRecord(DueWill, "lost", next); err != nil || string(again) != string(next) {
		t.Fatalf("will of a record without one: %x, %v; want the record unchanged", again, err)
	}
	next, after, err = ts.FireRecord(DueExpiry, "lost", rec.encode())
	if err != nil || next != nil {
		t.Fatalf("expiry: next %x, %v; want nil (delete)", next, err)
	}
	after()
	id = watcher.expectPublish("will/lost", "lost gone", 1, false) // the session's end publishes a pending will
	watcher.send(mqtt.AppendAck(nil, mqtt.V5, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: id}))

	if _, _, err := ts.FireRecord(DueExpiry, "lost", []byte{9}); err == nil {
		t.Fatal("a bad record accepted")
	}
}

// TestRelease: a session another broker took over leaves this server
// (subscriptions too) with its stored record untouched; an attached
// connection gets 0x8E; a session whose save is under way stays.
func TestRelease(t *testing.T) {
	st := newDueState()
	ts := startDue(t, st)
	saved := func(id string) func() bool {
		return func() bool {
			s := ts.sessions.get(id)
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.d != nil && s.d.savesPending == 0
		}
	}
	off, _ := persistentConnect(t, ts.addr, "off")
	off.send(subscribe(mqtt.V5, 1, "r/#", 1))
	off.expect(mqtt.SUBACK, 1)
	_ = off.nc.Close()
	waitFor(t, "off offline and saved", func() bool { return !ts.online("off") && saved("off")() })
	on, _ := persistentConnect(t, ts.addr, "on")
	waitFor(t, "on saved", saved("on"))

	s := ts.sessions.get("off")
	s.mu.Lock()
	s.d.savesPending++ // a save under way
	s.mu.Unlock()
	if ts.Release("off") {
		t.Fatal("released a session with a save under way")
	}
	s.mu.Lock()
	s.d.savesPending--
	s.mu.Unlock()

	subs := ts.hub.Index().Count()
	rec, _ := st.record(t, "off")
	if !ts.Release("off") || !ts.Release("on") {
		t.Fatal("Release kept a session taken over")
	}
	if ts.sessions.get("off") != nil || ts.sessions.get("on") != nil {
		t.Fatal("released sessions still held")
	}
	if got := ts.hub.Index().Count(); got != subs-1 {
		t.Fatalf("%d subscriptions after the release; want %d", got, subs-1)
	}
	if after, ok := st.record(t, "off"); !ok || after.offlineAt != rec.offlineAt || len(after.subs) != 1 {
		t.Fatalf("stored record changed by the release: %+v, %v", after, ok)
	}
	if b := on.closed(); len(b) < 3 || b[0] != 0xE0 || b[2] != byte(mqtt.ReasonSessionTakenOver) {
		t.Fatalf("connection got % x; want DISCONNECT 0x8E", b)
	}
	if _, ok := st.record(t, "on"); !ok {
		t.Fatal("the closed connection deleted the new owner's record")
	}
}

// TestNotOwner: a save refused with ErrNotOwner (another broker took
// the session) makes the server give the session up.
func TestNotOwner(t *testing.T) {
	st := newDueState()
	ts := startDue(t, st)
	c, _ := persistentConnect(t, ts.addr, "lost")
	waitFor(t, "saved", func() bool { _, ok := st.record(t, "lost"); return ok })
	st.mu.Lock()
	st.refuse = true
	st.mu.Unlock()
	c.send(subscribe(mqtt.V5, 1, "x/#", 1)) // a save this broker may no longer make
	if b := c.closed(); !bytes.Contains(b, []byte{0xE0, 1, byte(mqtt.ReasonSessionTakenOver)}) {
		t.Fatalf("connection got % x; want DISCONNECT 0x8E", b)
	}
	waitFor(t, "released", func() bool { return ts.sessions.get("lost") == nil })
}
