package engine

// The dropped-topic watcher ("dropper" step): an engine node deletes its local shards of topics
// deleted in the Meta Service.
//
// DeleteTopic on the Meta Service leaves a tombstone (metadata KV namespace client.NSDropped:
// topic -> deletion id) that stays until a topic of that name is created again. The dropper
// watches the metadata group (MetaService.Watch through meta_addrs) and on every event, resync
// included, reads the tombstones and this node's acknowledgements (client.NSDroppedAck,
// "<broker_id>/<topic>" -> deletion id). For each deletion not acknowledged yet it deletes every
// local shard that client.TopicShard says belongs to the topic, unregisters the topic from the
// node's router (DeleteTopic), then acknowledges the deletion; so a topic that a broker creates
// again locally afterwards (Kafka auto-create) is not dropped again. An engine that was down when a
// topic was deleted drops its shards when it comes back (the first event of a watch is a resync);
// a crash between dropping and acknowledging drops again (the same shards: harmless). A pass that
// failed (meta unreachable) is retried every retryEvery even without a new event.
//
// Goroutines: Start starts two, owned by the dropper and ended by Stop: the watch (which only
// signals) and the worker (which lists and deletes). Stop runs before the engine's Stop (reverse
// start order), so the router is never used after it closed.
//
// Known gaps: a topic deleted and created again in the Meta Service while this engine was away
// keeps the old data (the tombstone is gone by the time it looks); acknowledgements are never
// removed (one small key per engine node and deleted topic name).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/server/meta/client"
	"robustmq/server/node/component"
	"robustmq/server/pb"
	"robustmq/shard"
)

// droppedSource is what the dropper needs of the Meta Service (client.Client).
type droppedSource interface {
	Watch(ctx context.Context, group string, onEvent func(revision uint64, resync bool)) error
	List(ctx context.Context, ns string, prefix []byte) ([]*pb.KVPair, error)
	Put(ctx context.Context, ns string, key, value []byte) error
}

// retryEvery is how often a failed pass is tried again without a new event.
const retryEvery = 5 * time.Second

var shardsDropped = metrics.NewCounter(`robustmq_storage_dropped_shards_total`)

// Dropper is the "dropper" step's component. Create it with NewDropper.
type Dropper struct {
	env component.Env
	log *slog.Logger
	src droppedSource // nil until Start (then a client over meta_addrs) unless a test set it

	cancel context.CancelFunc
	done   chan struct{} // closed when both goroutines ended
}

// NewDropper is the component.New of the dropper step, which runs right after the engine role.
func NewDropper(env component.Env) (component.Component, error) {
	d := &Dropper{env: env, log: env.Logger}
	if d.log == nil {
		d.log = slog.Default()
	}
	return d, nil
}

// Name implements component.Component.
func (d *Dropper) Name() string { return "dropper" }

// Start implements component.Component: it needs the engine's router in env.Storage.
func (d *Dropper) Start(context.Context) error {
	h, ok := d.env.Storage.Lookup()
	if !ok {
		return errors.New("engine: dropper: no storage provided (the engine role must start first)")
	}
	var closeSrc func()
	if d.src == nil {
		var addrs []string
		for _, n := range d.env.Config.MetaNodes() {
			addrs = append(addrs, n.Addr)
		}
		cl, err := client.New(addrs...)
		if err != nil {
			return fmt.Errorf("engine: dropper: meta_addrs: %w", err)
		}
		d.src, closeSrc = cl, cl.Close
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan struct{})
	events := make(chan struct{}, 1) // one-slot signal: a pass is due
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		err := d.src.Watch(ctx, "metadata", func(uint64, bool) {
			select {
			case events <- struct{}{}:
			default:
			}
		})
		if err != nil {
			d.log.Error("engine: dropper: watch ended", "err", err)
		}
	}()
	go func() {
		defer close(d.done)
		defer func() {
			<-watched
			if closeSrc != nil {
				closeSrc()
			}
		}()
		d.work(ctx, h.Router, events)
	}()
	return nil
}

// work runs a pass per event, and every retryEvery while the last pass failed, until ctx ends.
func (d *Dropper) work(ctx context.Context, r *shard.Router, events <-chan struct{}) {
	t := time.NewTicker(retryEvery)
	defer t.Stop()
	failed := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-events:
		case <-t.C:
			if !failed {
				continue
			}
		}
		err := d.pass(ctx, r)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("engine: dropper: pass failed, retrying", "err", err)
		}
		failed = err != nil
	}
}

// pass drops the local shards of every deletion this node has not acknowledged, then acknowledges it.
func (d *Dropper) pass(ctx context.Context, r *shard.Router) error {
	lctx, cancel := context.WithTimeout(ctx, retryEvery)
	defer cancel()
	tombs, err := d.src.List(lctx, client.NSDropped, nil)
	if err != nil {
		return fmt.Errorf("list tombstones: %w", err)
	}
	if len(tombs) == 0 {
		return nil
	}
	me := strconv.FormatUint(d.env.Config.BrokerID, 10) + "/"
	acks, err := d.src.List(lctx, client.NSDroppedAck, []byte(me))
	if err != nil {
		return fmt.Errorf("list acknowledgements: %w", err)
	}
	done := make(map[string]string, len(acks)) // topic -> deletion id handled
	for _, a := range acks {
		done[strings.TrimPrefix(string(a.GetKey()), me)] = string(a.GetValue())
	}
	infos, err := r.ListShards()
	if err != nil {
		return fmt.Errorf("list local shards: %w", err)
	}
	var errs []error
	for _, tb := range tombs {
		topic := string(tb.GetKey())
		if id, ok := done[topic]; ok && id == string(tb.GetValue()) {
			continue
		}
		if err := d.drop(r, topic, infos); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := d.src.Put(lctx, client.NSDroppedAck, []byte(me+topic), tb.GetValue()); err != nil {
			errs = append(errs, fmt.Errorf("acknowledge topic %q: %w", topic, err))
		}
	}
	return errors.Join(errs...)
}

// drop deletes topic's local shards (of infos) and unregisters it from the router.
func (d *Dropper) drop(r *shard.Router, topic string, infos []shard.ShardInfo) error {
	var errs []error
	for _, in := range infos {
		name := in.Config.Name
		if !client.TopicShard(name, topic) {
			continue
		}
		switch err := r.DeleteShard(name); {
		case err == nil:
			shardsDropped.Inc()
			d.log.Info("engine: dropped shard of a deleted topic", "topic", topic, "shard", name)
		case !errors.Is(err, shard.ErrShardNotFound):
			errs = append(errs, fmt.Errorf("shard %q: %w", name, err))
		}
	}
	// Its shards are gone (not found is fine): unregister the topic too.
	if err := r.DeleteTopic(topic); err != nil && !errors.Is(err, shard.ErrTopicNotFound) {
		errs = append(errs, fmt.Errorf("topic %q: %w", topic, err))
	}
	return errors.Join(errs...)
}

// Stop implements component.Component: it ends both goroutines and waits for them.
func (d *Dropper) Stop(ctx context.Context) error {
	if d.cancel == nil {
		return nil
	}
	d.cancel()
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("engine: dropper: stop: %w", ctx.Err())
	}
}
