package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"

	metaclient "robustmq/server/meta/client"
	"robustmq/server/mqtt"
	"robustmq/server/pb"
)

// dueFollower acts on the MQTT due entries (session expiry, delayed
// wills) that the Meta Service's controller handed to this broker node
// (metaclient.TableFired, under its node id): for a session this broker
// holds, mqtt.Server.FireDue; for one it does not (its broker was lost),
// mqtt.Server.FireRecord on the stored record, stored back with a
// compare so that one broker acts once. It reads its entries whenever
// the mqtt group changes (Watch) and every dueRecheck besides, and
// deletes each entry once acted on: at least once, and a will is
// published at most once (the record's compare).
type dueFollower struct {
	meta  *metaclient.Client
	state *metaState
	srv   *mqtt.Server
	node  uint64
	log   *slog.Logger

	poke chan struct{} // cap 1: a change to look at

	handled, failures *metrics.Counter
}

// dueRecheck bounds how long an entry waits when a Watch event is missed;
// dueGap is the least time between two rounds, so that a busy mqtt group
// (every persistent CONNECT writes it) costs at most 1/dueGap reads a second.
const (
	dueRecheck = time.Second
	dueGap     = 50 * time.Millisecond
)

// followDue starts the follower; the returned func stops it and waits.
func followDue(meta *metaclient.Client, state *metaState, srv *mqtt.Server, node uint64, log *slog.Logger) (stop func()) {
	f := &dueFollower{meta: meta, state: state, srv: srv, node: node, log: log, poke: make(chan struct{}, 1),
		handled:  metrics.GetOrCreateCounter("robustmq_mqtt_due_handled_total"),
		failures: metrics.GetOrCreateCounter("robustmq_mqtt_due_errors_total")}
	ctx, cancel := context.WithCancel(context.Background())
	watched, ran := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		for ctx.Err() == nil { // Watch retries by itself; it returns on errors it cannot retry
			err := meta.Watch(ctx, "mqtt", func(uint64, bool) { f.nudge() })
			if ctx.Err() == nil {
				log.Warn("broker: mqtt due watch ended; retrying", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(dueRecheck):
				}
			}
		}
	}()
	go func() { defer close(ran); f.run(ctx) }()
	return func() { cancel(); <-watched; <-ran }
}

func (f *dueFollower) nudge() {
	select {
	case f.poke <- struct{}{}:
	default:
	}
}

func (f *dueFollower) run(ctx context.Context) {
	t := time.NewTicker(dueRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.poke:
		case <-t.C:
		}
		if err := f.round(ctx); err != nil && ctx.Err() == nil {
			f.failures.Inc()
			f.log.Warn("broker: mqtt due entries", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(dueGap):
		}
	}
}

// round acts on every entry handed to this node.
func (f *dueFollower) round(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, stateWriteTimeout)
	defer cancel()
	items, err := listTable(ctx, f.meta, pb.Space_SPACE_MQTT, metaclient.TableFired, metaclient.FiredPrefix(f.node))
	if err != nil {
		return err
	}
	var errs []error
	for _, kv := range items {
		if err := f.act(ctx, kv.GetKey(), kv.GetValue()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// act handles one fired entry k = v.
func (f *dueFollower) act(ctx context.Context, k, v []byte) error {
	fired := &pb.TxnCompare{Table: metaclient.TableFired, Key: k, Value: v}
	done := &pb.TxnOp{Table: metaclient.TableFired, Key: k, Delete: true}
	_, kind, clientID, at, err := metaclient.ParseFired(k, v)
	if err != nil { // nobody can act on it: drop it
		f.failures.Inc()
		f.log.Warn("broker: dropping a bad fired mqtt due entry", "err", err)
		_, err = f.txn(ctx, nil, done)
		return err
	}
	if kind == metaclient.DueRelease { // another broker took the session over
		v, _, err := f.state.owner(ctx, clientID)
		if err != nil {
			return err
		}
		if owner, _, _ := metaclient.ParseOwner(v); owner != f.node && !f.srv.Release(clientID) {
			return nil // a save of it is under way: look again next round
		}
		_, err = f.txn(ctx, []*pb.TxnCompare{fired}, done)
		return err
	}
	if f.srv.FireDue(kind, clientID, at) {
		f.handled.Inc()
		_, err := f.txn(ctx, []*pb.TxnCompare{fired}, done)
		return err
	}
	// Not held here: act on the stored record.
	key := []byte(clientID)
	rec, found, err := getMQTT(ctx, f.meta, string(mqtt.TableSessions), key)
	if err != nil {
		return err
	}
	if !found { // ended meanwhile
		_, err := f.txn(ctx, []*pb.TxnCompare{fired}, done)
		return err
	}
	next, after, err := f.srv.FireRecord(kind, clientID, rec)
	if err != nil {
		f.failures.Inc()
		f.log.Warn("broker: dropping a due entry of an unreadable mqtt session", "client_id", clientID, "err", err)
		_, err = f.txn(ctx, []*pb.TxnCompare{fired}, done)
		return err
	}
	cmps := []*pb.TxnCompare{fired, {Table: string(mqtt.TableSessions), Key: key, Value: rec}}
	ops := []*pb.TxnOp{done}
	if next == nil {
		ops = append(ops, &pb.TxnOp{Table: string(mqtt.TableSessions), Key: key, Delete: true},
			&pb.TxnOp{Table: metaclient.TableOwner, Key: key, Delete: true},
			dueOp(mqtt.DueExpiry, clientID, nil, 0), dueOp(mqtt.DueWill, clientID, nil, 0))
	} else {
		ops = append(ops, &pb.TxnOp{Table: string(mqtt.TableSessions), Key: key, Value: next})
	}
	ok, err := f.txn(ctx, cmps, ops...)
	switch {
	case err != nil:
		return err
	case ok:
		f.handled.Inc()
		after()
		return nil
	}
	// The record changed since the entry fell due (its broker is back, or
	// the client reconnected): the due entries written with it rule now.
	_, err = f.txn(ctx, []*pb.TxnCompare{fired}, done)
	return err
}

// txn runs one transaction on the mqtt group.
func (f *dueFollower) txn(ctx context.Context, cmps []*pb.TxnCompare, ops ...*pb.TxnOp) (bool, error) {
	ok, err := f.meta.Txn(ctx, &pb.TxnRequest{Space: pb.Space_SPACE_MQTT, Compares: cmps, Ops: ops})
	if err != nil {
		return false, fmt.Errorf("broker: mqtt due transaction: %w", err)
	}
	return ok, nil
}

// dueOp sets (or, with due nil, deletes) the due entry of kind for
// clientID, owned by node.
func dueOp(kind byte, clientID string, due *mqtt.Due, node uint64) *pb.TxnOp {
	op := &pb.TxnOp{Table: metaclient.TableDue, Key: metaclient.DueKey(kind, clientID)}
	if due == nil {
		op.Delete = true
	} else {
		op.Value = metaclient.AppendDue(nil, metaclient.Due{At: due.At, Owner: node, Lost: due.Lost})
	}
	return op
}
