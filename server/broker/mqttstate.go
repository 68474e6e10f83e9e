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
	node uint64 // this broker's node id: the owner of the due entries it writes
	log  *slog.Logger

	mu       sync.Mutex
	dirty    map[stateKey]*stateWrite // guarded by mu
	order    []stateKey               // dirty keys, oldest first; guarded by mu
	inflight map[stateKey]bool        // keys being written; guarded by mu
	owners   map[string]uint64        // client id -> owner node, read with the session records; guarded by mu

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
	// session says value is a session record written with its due
	// entries (SaveSession): expire and will, nil for none.
	session      bool
	expire, will *mqtt.Due
}

// stateWorkers bounds the concurrent raft writes of MQTT state.
const stateWorkers = 8

// stateWriteTimeout bounds one write, retries on another meta node
// included (meta_runtime.raft_write_timeout_sec is the server's bound).
const stateWriteTimeout = 30 * time.Second

func newMetaState(meta *metaclient.Client, node uint64, log *slog.Logger) *metaState {
	s := &metaState{meta: meta, node: node, log: log, dirty: map[stateKey]*stateWrite{}, inflight: map[stateKey]bool{},
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
	s.save(stateKey{table, key}, stateWrite{value: value}, done)
}

// SaveSession implements mqtt.DueStore: the record and its due entries
// (owned by this node) in one transaction.
func (s *metaState) SaveSession(clientID string, rec []byte, expire, will *mqtt.Due, done func(error)) {
	s.save(stateKey{mqtt.TableSessions, clientID}, stateWrite{value: rec, session: true, expire: expire, will: will}, done)
}

// save queues write v of key k, superseding a queued one.
func (s *metaState) save(k stateKey, v stateWrite, done func(error)) {
	s.mu.Lock()
	w := s.dirty[k]
	if w == nil {
		w = &stateWrite{}
		s.dirty[k] = w
		s.order = append(s.order, k)
	}
	w.value, w.session, w.expire, w.will = v.value, v.session, v.expire, v.will
	if done != nil {
		w.dones = append(w.dones, done)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Load implements mqtt.StateStore. Loading the sessions also reads who
// owns them (Owned), first, so no record is newer than its owner.
func (s *metaState) Load(table byte, fn func(key string, value []byte)) error {
	ctx, cancel := context.WithTimeout(context.Background(), stateWriteTimeout)
	defer cancel()
	if table == mqtt.TableSessions {
		if err := s.loadOwners(ctx); err != nil {
			return err
		}
	}
	items, err := listTable(ctx, s.meta, pb.Space_SPACE_MQTT, string(table))
	if err != nil {
		return err
	}
	for _, kv := range items {
		fn(string(kv.GetKey()), kv.GetValue())
	}
	return nil
}

// loadOwners reads the owner of every session from its expiry entry.
func (s *metaState) loadOwners(ctx context.Context) error {
	items, err := listTable(ctx, s.meta, pb.Space_SPACE_MQTT, metaclient.TableDue)
	if err != nil {
		return err
	}
	owners := map[string]uint64{}
	for _, kv := range items {
		kind, clientID, err := metaclient.ParseDueKey(kv.GetKey())
		if err != nil || kind != mqtt.DueExpiry {
			continue
		}
		if d, err := metaclient.ParseDue(kv.GetValue()); err == nil {
			owners[clientID] = d.Owner
		}
	}
	s.mu.Lock()
	s.owners = owners
	s.mu.Unlock()
	return nil
}

// Owned implements mqtt.DueStore: a session is this broker's when its
// expiry entry names this node, or when it has none (written before due
// entries existed).
func (s *metaState) Owned(clientID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, ok := s.owners[clientID]
	return !ok || owner == s.node
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
		err := s.write(k, w)
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

func (s *metaState) write(k stateKey, w *stateWrite) error {
	ctx, cancel := context.WithTimeout(s.base, stateWriteTimeout)
	defer cancel()
	var err error
	if w.session {
		op := &pb.TxnOp{Table: string(k.table), Key: []byte(k.key), Value: w.value, Delete: w.value == nil}
		_, err = s.meta.Txn(ctx, &pb.TxnRequest{Space: pb.Space_SPACE_MQTT, Ops: []*pb.TxnOp{op,
			dueOp(mqtt.DueExpiry, k.key, w.expire, s.node), dueOp(mqtt.DueWill, k.key, w.will, s.node)}})
	} else {
		err = writeKV(ctx, s.meta, &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: string(k.table), Key: []byte(k.key), Value: w.value})
	}
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

var _ mqtt.DueStore = (*metaState)(nil)

// The mqtt package's due kinds are the due table's key bytes.
var _ = [1]struct{}{}[mqtt.DueExpiry^metaclient.DueExpiry|mqtt.DueWill^metaclient.DueWill]
