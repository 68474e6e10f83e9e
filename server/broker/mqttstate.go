package broker

import (
	"context"
	"errors"
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
	owners   map[string]uint64        // client id -> owner node, read with the session records, until Owned asks; guarded by mu
	mineBy   map[string][]byte        // client id -> the owner value this node wrote (its sessions); guarded by mu

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
	takeAt       int64 // a CONNECT's save: ms of the CONNECT (writeSession); 0 for others
}

// stateWorkers bounds the concurrent raft writes of MQTT state.
const stateWorkers = 8

// stateWriteTimeout bounds one write, retries on another meta node
// included (meta_runtime.raft_write_timeout_sec is the server's bound).
const stateWriteTimeout = 30 * time.Second

func newMetaState(meta *metaclient.Client, node uint64, log *slog.Logger) *metaState {
	s := &metaState{meta: meta, node: node, log: log, dirty: map[stateKey]*stateWrite{}, inflight: map[stateKey]bool{},
		mineBy: map[string][]byte{},
		wake:   make(chan struct{}, stateWorkers), stop: make(chan struct{}),
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
func (s *metaState) SaveSession(clientID string, rec []byte, expire, will *mqtt.Due, takeAt int64, done func(error)) {
	s.save(stateKey{mqtt.TableSessions, clientID}, stateWrite{value: rec, session: true, expire: expire, will: will, takeAt: takeAt}, done)
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
	w.takeAt = max(w.takeAt, v.takeAt) // a CONNECT's save superseded before it was written still takes
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
	items, err := listTable(ctx, s.meta, pb.Space_SPACE_MQTT, string(table), nil)
	if err != nil {
		return err
	}
	for _, kv := range items {
		fn(string(kv.GetKey()), kv.GetValue())
	}
	return nil
}

// loadOwners reads the owner of every session; those of this node are
// what its next saves compare with.
func (s *metaState) loadOwners(ctx context.Context) error {
	items, err := listTable(ctx, s.meta, pb.Space_SPACE_MQTT, metaclient.TableOwner, nil)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.owners = make(map[string]uint64, len(items))
	for _, kv := range items {
		node, _, err := metaclient.ParseOwner(kv.GetValue())
		if err != nil {
			continue
		}
		s.owners[string(kv.GetKey())] = node
		if node == s.node {
			s.mineBy[string(kv.GetKey())] = kv.GetValue()
		}
	}
	return nil
}

// Owned implements mqtt.DueStore: a session is this broker's when
// metaclient.TableOwner names this node, or nobody (written before owners
// were). Restore asks once per record, so the answer is dropped as it is
// given: the owners of every session are not kept for the broker's life.
func (s *metaState) Owned(clientID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, ok := s.owners[clientID]
	delete(s.owners, clientID)
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
		err = s.writeSession(ctx, k.key, w)
	} else {
		err = writeKV(ctx, s.meta, &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: string(k.table), Key: []byte(k.key), Value: w.value})
	}
	s.writes.Inc()
	if errors.Is(err, mqtt.ErrNotOwner) {
		return err
	}
	if err != nil {
		s.failures.Inc()
		return fmt.Errorf("broker: save mqtt %q record %q to the Meta Service: %w", k.table, k.key, err)
	}
	return nil
}

// writeSession writes a session record, its due entries and its owner
// (metaclient.TableOwner) in one transaction. A CONNECT's save (takeAt)
// makes this node the owner unless another broker saw a later CONNECT,
// and tells the previous owner to release the session; any other save
// is made only while the owner is what this node last wrote (a compare),
// else it fails with mqtt.ErrNotOwner.
func (s *metaState) writeSession(ctx context.Context, clientID string, w *stateWrite) error {
	if w.takeAt != 0 {
		return s.take(ctx, clientID, w)
	}
	mine := s.mine(clientID)
	ok, err := s.meta.Txn(ctx, &pb.TxnRequest{Space: pb.Space_SPACE_MQTT,
		Compares: []*pb.TxnCompare{{Table: metaclient.TableOwner, Key: []byte(clientID), Value: mine, Absent: mine == nil}},
		Ops:      s.sessionOps(clientID, w, nil)})
	if err == nil && !ok {
		return fmt.Errorf("broker: save mqtt session %q: %w", clientID, mqtt.ErrNotOwner)
	}
	if err == nil && w.value == nil {
		s.setMine(clientID, nil)
	}
	return err
}

// takeRetries bounds the owner reads of one CONNECT's save when other
// brokers change the owner in between.
const takeRetries = 3

// take is writeSession of a CONNECT's save.
func (s *metaState) take(ctx context.Context, clientID string, w *stateWrite) error {
	key := []byte(clientID)
	self := metaclient.AppendOwner(nil, s.node, w.takeAt)
	// First guess the owner is what this node knows (its own value, or
	// none for a new client id): one round trip when it holds; read it
	// when the guess fails.
	cur := s.mine(clientID)
	found := cur != nil
	for i := range takeRetries + 1 {
		if i > 0 {
			var err error
			if cur, found, err = s.owner(ctx, clientID); err != nil {
				return err
			}
		}
		cmp := &pb.TxnCompare{Table: metaclient.TableOwner, Key: key, Value: cur, Absent: !found}
		var notice *pb.TxnOp
		if node, since, err := metaclient.ParseOwner(cur); found && err == nil && node != s.node {
			if since > w.takeAt || since == w.takeAt && node > s.node {
				return fmt.Errorf("broker: save mqtt session %q: a later CONNECT on node %d: %w", clientID, node, mqtt.ErrNotOwner)
			}
			notice = &pb.TxnOp{Table: metaclient.TableFired, Key: metaclient.FiredKey(node, metaclient.DueRelease, clientID),
				Value: metaclient.AppendFired(nil, time.Now().UnixMilli())}
		}
		ops := s.sessionOps(clientID, w, self)
		if notice != nil {
			ops = append(ops, notice)
		}
		ok, err := s.meta.Txn(ctx, &pb.TxnRequest{Space: pb.Space_SPACE_MQTT, Compares: []*pb.TxnCompare{cmp}, Ops: ops})
		if err != nil {
			return err
		}
		if ok {
			if w.value == nil {
				self = nil
			}
			s.setMine(clientID, self)
			return nil
		}
	}
	return fmt.Errorf("broker: save mqtt session %q: its owner changed %d times during the save", clientID, takeRetries)
}

// sessionOps writes the record (nil: deletes it and its owner) and its
// due entries; owner, when not nil, is written as the session's owner.
func (s *metaState) sessionOps(clientID string, w *stateWrite, owner []byte) []*pb.TxnOp {
	key := []byte(clientID)
	ops := []*pb.TxnOp{{Table: string(mqtt.TableSessions), Key: key, Value: w.value, Delete: w.value == nil},
		dueOp(mqtt.DueExpiry, clientID, w.expire, s.node), dueOp(mqtt.DueWill, clientID, w.will, s.node)}
	switch {
	case w.value == nil:
		ops = append(ops, &pb.TxnOp{Table: metaclient.TableOwner, Key: key, Delete: true})
	case owner != nil:
		ops = append(ops, &pb.TxnOp{Table: metaclient.TableOwner, Key: key, Value: owner})
	}
	return ops
}

// owner reads clientID's metaclient.TableOwner value.
func (s *metaState) owner(ctx context.Context, clientID string) (value []byte, found bool, err error) {
	return getMQTT(ctx, s.meta, metaclient.TableOwner, []byte(clientID))
}

// mine is the owner value this node last wrote for clientID (nil: none).
func (s *metaState) mine(clientID string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mineBy[clientID]
}

func (s *metaState) setMine(clientID string, v []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == nil {
		delete(s.mineBy, clientID)
	} else {
		s.mineBy[clientID] = v
	}
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
