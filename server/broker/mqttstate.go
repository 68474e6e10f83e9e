package broker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	metaclient "robustmq/server/meta/client"
	"robustmq/server/mqtt"
	"robustmq/server/pb"
)

// metaState is the broker's mqtt.StateStore: the Meta Service's mqtt
// group (session and retained records), through the meta client.
//
// Saves are coalesced per key: the latest value waits in dirty while an
// older one is being written, so one key is never written by two workers
// at once (order kept) and a burst of changes to one session costs one
// or two raft writes. stateWorkers goroutines write; dirty holds at most
// one entry per session or retained topic (bounded by the state itself).
type metaState struct {
	meta *metaclient.Client
	log  *slog.Logger

	mu       sync.Mutex
	dirty    map[stateKey]*stateWrite // guarded by mu
	order    []stateKey               // dirty keys, oldest first; guarded by mu
	inflight map[stateKey]bool        // keys being written; guarded by mu

	wake   chan struct{}
	stop   chan struct{}
	wg     sync.WaitGroup
	base   context.Context // writes' parent; cancelled by Close
	cancel context.CancelFunc

	writes, failures *metrics.Counter
}

type stateKey struct {
	table byte
	key   string
}

type stateWrite struct {
	value []byte // nil: delete
	dones []func(error)
}

// stateWorkers bounds the concurrent raft writes of MQTT state.
const stateWorkers = 8

// stateWriteTimeout bounds one write, retries on another meta node
// included (meta_runtime.raft_write_timeout_sec is the server's bound).
const stateWriteTimeout = 30 * time.Second

func newMetaState(meta *metaclient.Client, log *slog.Logger) *metaState {
	s := &metaState{meta: meta, log: log, dirty: map[stateKey]*stateWrite{}, inflight: map[stateKey]bool{},
		wake: make(chan struct{}, stateWorkers), stop: make(chan struct{}),
		writes:   metrics.GetOrCreateCounter("robustmq_mqtt_state_writes_total"),
		failures: metrics.GetOrCreateCounter("robustmq_mqtt_state_write_failures_total")}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(stateWorkers)
	for range stateWorkers {
		go s.worker()
	}
	return s
}

// Save implements mqtt.StateStore.
func (s *metaState) Save(table byte, key string, value []byte, done func(error)) {
	k := stateKey{table, key}
	s.mu.Lock()
	w := s.dirty[k]
	if w == nil {
		w = &stateWrite{}
		s.dirty[k] = w
		s.order = append(s.order, k)
	}
	w.value = value
	if done != nil {
		w.dones = append(w.dones, done)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Load implements mqtt.StateStore.
func (s *metaState) Load(table byte, fn func(key string, value []byte)) error {
	ctx, cancel := context.WithTimeout(context.Background(), stateWriteTimeout)
	defer cancel()
	items, err := listTable(ctx, s.meta, pb.Space_SPACE_MQTT, string(table))
	if err != nil {
		return err
	}
	for _, kv := range items {
		fn(string(kv.GetKey()), kv.GetValue())
	}
	return nil
}

// next takes the oldest dirty key not being written.
func (s *metaState) next() (stateKey, *stateWrite, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.order {
		if s.inflight[k] {
			continue
		}
		w := s.dirty[k]
		delete(s.dirty, k)
		s.order = slices.Delete(s.order, i, i+1)
		s.inflight[k] = true
		return k, w, true
	}
	return stateKey{}, nil, false
}

func (s *metaState) worker() {
	defer s.wg.Done()
	for {
		k, w, ok := s.next()
		if !ok {
			select {
			case <-s.wake:
				continue
			case <-s.stop:
				return
			}
		}
		err := s.write(k, w.value)
		s.mu.Lock()
		delete(s.inflight, k)
		again := s.dirty[k] != nil
		s.mu.Unlock()
		if again {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
		for _, done := range w.dones {
			done(err)
		}
	}
}

func (s *metaState) write(k stateKey, value []byte) error {
	ctx, cancel := context.WithTimeout(s.base, stateWriteTimeout)
	defer cancel()
	err := writeKV(ctx, s.meta, &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: string(k.table), Key: []byte(k.key), Value: value})
	s.writes.Inc()
	if err != nil {
		s.failures.Inc()
		return fmt.Errorf("broker: save mqtt %q record %q to the Meta Service: %w", k.table, k.key, err)
	}
	return nil
}

// Close waits (until ctx ends) for the queued saves to be written, then
// cancels what is still being written and stops the workers; saves left
// are dropped with an error log (their done callbacks do not run).
func (s *metaState) Close(ctx context.Context) {
	for left := s.pending(); left > 0; left = s.pending() {
		if ctx.Err() != nil {
			s.log.Error("broker: mqtt state not saved at shutdown", "records", left, "err", ctx.Err())
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.cancel()
	close(s.stop)
	s.wg.Wait()
}

// pending is the number of saves queued or being written.
func (s *metaState) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.dirty) + len(s.inflight)
}

var _ mqtt.StateStore = (*metaState)(nil)
