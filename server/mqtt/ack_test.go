package mqtt

import (
	"errors"
	"sync"
	"testing"
	"time"

	"robustmq/codec/mqtt"
	"robustmq/server/message"
	"robustmq/shard"
	"robustmq/shard/memory"
)

// heldStore holds the append callbacks of one shard until release, and
// fails the appends of another, to reorder and fail acknowledgements.
type heldStore struct {
	shard.Adapter
	hold, fail string
	mu         sync.Mutex
	held       []func()
}

var errInjected = errors.New("injected append failure")

func (s *heldStore) AppendAsync(name string, recs []shard.Record, opt shard.AppendOptions, done shard.AppendFunc) {
	switch name {
	case s.fail:
		done(0, errInjected)
	case s.hold:
		s.Adapter.AppendAsync(name, recs, opt, func(first int64, err error) {
			s.mu.Lock()
			s.held = append(s.held, func() { done(first, err) })
			s.mu.Unlock()
		})
	default:
		s.Adapter.AppendAsync(name, recs, opt, done)
	}
}

func (s *heldStore) release() {
	s.mu.Lock()
	h := s.held
	s.held = nil
	s.mu.Unlock()
	for _, f := range h {
		f()
	}
}

func startHeld(t *testing.T) (*testServer, *heldStore) {
	t.Helper()
	r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{})}, shard.RouterOptions{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	st := &heldStore{Adapter: r, hold: message.ShardName("slow"), fail: message.ShardName("broken")}
	return start(t, func(o *Options) { o.Hub = message.New(message.Options{Store: st}) }), st
}

// TestAckAfterStore: PUBACK waits for the append, and acknowledgements
// leave in PUBLISH order even when a later append completes first.
func TestAckAfterStore(t *testing.T) {
	ts, st := startHeld(t)
	r := dial(t, ts.addr, mqtt.V5)
	r.connect(&mqtt.Connect{ClientID: []byte("ack"), CleanStart: true})
	r.send(publish(mqtt.V5, "slow", 1, 1, "a"))
	r.send(publish(mqtt.V5, "fast", 2, 2, "b"))
	r.silent(200 * time.Millisecond) // both wait for the held append
	waitFor(t, "held append", func() bool { st.mu.Lock(); defer st.mu.Unlock(); return len(st.held) == 1 })
	st.release()
	r.expect(mqtt.PUBACK, 1)
	r.expect(mqtt.PUBREC, 2)
}

// TestStoreFailure: a failed append answers PUBACK 0x80 in 5.0 and closes
// a 3.1.1 connection without acknowledging.
func TestStoreFailure(t *testing.T) {
	ts, _ := startHeld(t)
	r := dial(t, ts.addr, mqtt.V5)
	r.connect(&mqtt.Connect{ClientID: []byte("sf5"), CleanStart: true})
	r.send(publish(mqtt.V5, "broken", 1, 1, "a"))
	if typ := r.next(); typ != mqtt.PUBACK || r.d.Ack.Reason != mqtt.ReasonUnspecifiedError {
		t.Fatalf("got %v reason %#x; want PUBACK 0x80", typ, r.d.Ack.Reason)
	}
	r3 := dial(t, ts.addr, mqtt.V311)
	r3.connect(&mqtt.Connect{ClientID: []byte("sf3"), CleanStart: true})
	r3.send(publish(mqtt.V311, "broken", 1, 1, "a"))
	if got := r3.closed(); len(got) != 0 {
		t.Fatalf("3.1.1 got % x; want a close without PUBACK", got)
	}
}
