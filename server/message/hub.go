package message

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/server/message/topic"
	"robustmq/shard"
)

// Subscriber is what a topic.Entry's Target must implement to receive
// messages from the hub. Deliver runs on the publisher's goroutine with no
// hub lock held and must not block (see the package doc); e is only valid
// during the call.
type Subscriber interface {
	Deliver(m *Message, e *topic.Entry)
}

// Options configure a Hub. Zero values take the defaults named.
type Options struct {
	// Index is the subscription index; default a new one.
	Index *topic.Index
	// Store receives the messages of persistent topics; nil persists
	// nothing.
	Store shard.Adapter
	// Engine is the engine topic shards are created on; default memory.
	Engine shard.EngineType
	// SegmentBytes is the ShardConfig.SegmentBytes of topic shards (memory
	// engine: chunk size); 0 = engine default.
	SegmentBytes int64
	// Persist says whether a topic is persistent; default: every topic not
	// starting with '$'.
	Persist func(topic []byte) bool
	// Durability picks the append durability for a message of QoS qos;
	// default Sync for QoS > 0, None for QoS 0.
	Durability func(qos byte) shard.Durability
	// Check, when set, vets a message's topic and payload before a
	// protocol publishes it (schema validation): protocols call Hub.Check
	// first. A non-nil error wrapping ErrRefused refuses the message.
	Check func(topic, payload []byte) error
	// MaxDelayed bounds the messages waiting in PublishAt; default 100000.
	MaxDelayed int
	// Now is the clock in ms; default the wall clock.
	Now    func() int64
	Logger *slog.Logger
}

// Hub is the delivery hub. Safe for concurrent use.
type Hub struct {
	opts  Options
	index *topic.Index
	names [nameStripes]nameStripe
	seed  maphash.Seed
	match sync.Pool // *[]topic.Entry
	calls sync.Pool // *appendCall

	published, delivered, persisted            *metrics.Counter
	expired, storeErr, noSub, qfull, delayFull *metrics.Counter
	refused                                    *metrics.Counter

	// warnNext is when (hub clock, ms) the next failed append may be
	// logged, warnMuted how many were not logged since: a store refusing
	// appends under a flood (write queue full) must not cost a log line
	// per message.
	warnNext  atomic.Int64
	warnMuted atomic.Uint64

	delayMu  sync.Mutex
	delays   delayHeap   // guarded by delayMu
	delaySeq uint64      // guarded by delayMu
	timer    *time.Timer // fires for delays[0]; guarded by delayMu
	closed   bool        // guarded by delayMu
}

const nameStripes = 32

// nameStripe holds the entries of persistent topics already seen.
type nameStripe struct {
	mu sync.RWMutex
	m  map[string]*topicEntry // guarded by mu
}

// Errors.
var (
	// ErrStore wraps a failed append: the message was delivered to live
	// subscribers but is not stored, so it must not be acknowledged.
	ErrStore = errors.New("message: store append failed")
	// ErrRefused wraps Options.Check's refusal: the message is not
	// published; the protocol tells the publisher if it can.
	ErrRefused = errors.New("message: refused")
	// ErrRefusedDisconnect is ErrRefused where the publisher's connection
	// must end too.
	ErrRefusedDisconnect = fmt.Errorf("%w, publisher disconnected", ErrRefused)
)

// New returns a hub.
func New(opts Options) *Hub {
	if opts.Index == nil {
		opts.Index = topic.New(topic.Config{})
	}
	if opts.Engine == "" {
		opts.Engine = shard.EngineMemory
	}
	if opts.Persist == nil {
		opts.Persist = func(t []byte) bool { return len(t) > 0 && t[0] != '$' }
	}
	if opts.Durability == nil {
		opts.Durability = func(qos byte) shard.Durability {
			if qos > 0 {
				return shard.DurabilitySync
			}
			return shard.DurabilityNone
		}
	}
	if opts.Now == nil {
		opts.Now = func() int64 { return time.Now().UnixMilli() }
	}
	if opts.MaxDelayed <= 0 {
		opts.MaxDelayed = 100000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Hub{opts: opts, index: opts.Index, seed: maphash.MakeSeed(),
		published: metrics.GetOrCreateCounter("robustmq_message_published_total"),
		delivered: metrics.GetOrCreateCounter("robustmq_message_delivered_total"),
		persisted: metrics.GetOrCreateCounter("robustmq_message_persisted_total"),
		expired:   metrics.GetOrCreateCounter(`robustmq_message_dropped_total{reason="expired"}`),
		storeErr:  metrics.GetOrCreateCounter(`robustmq_message_dropped_total{reason="store_error"}`),
		noSub:     metrics.GetOrCreateCounter(`robustmq_message_dropped_total{reason="no_subscriber"}`),
		qfull:     metrics.GetOrCreateCounter(`robustmq_message_dropped_total{reason="queue_full"}`),
		delayFull: metrics.GetOrCreateCounter(`robustmq_message_dropped_total{reason="delay_full"}`),
		refused:   metrics.GetOrCreateCounter(`robustmq_message_dropped_total{reason="refused"}`),
	}
	h.match.New = func() any { s := make([]topic.Entry, 0, 16); return &s }
	h.calls.New = func() any { c := &appendCall{h: h}; c.fn = c.finish; return c }
	for i := range h.names {
		h.names[i].m = map[string]*topicEntry{}
	}
	return h
}

// Index is the hub's subscription index: protocols Subscribe their
// Subscribers there.
func (h *Hub) Index() *topic.Index { return h.index }

// Store is the adapter persistent topics are appended to (nil for none).
func (h *Hub) Store() shard.Adapter { return h.opts.Store }

// Engine is the engine topic shards are created on.
func (h *Hub) Engine() shard.EngineType { return h.opts.Engine }

// Check runs Options.Check on a message about to be published (views,
// valid during the call); nil when there is no check. A refusal is
// counted as robustmq_message_dropped_total{reason="refused"}.
func (h *Hub) Check(topic, payload []byte) error {
	if h.opts.Check == nil {
		return nil
	}
	err := h.opts.Check(topic, payload)
	if err != nil {
		h.refused.Inc()
	}
	return err
}

// Now is the hub's clock in ms.
func (h *Hub) Now() int64 { return h.opts.Now() }

// QueueFull counts one message a subscriber dropped because its queue was
// full (robustmq_message_dropped_total{reason="queue_full"}).
func (h *Hub) QueueFull() { h.qfull.Inc() }

// Publish stores m when its topic is persistent and hands it to every
// matching subscriber; it returns how many Deliver calls it made. The hub
// owns m from now on (see the package doc). done, when not nil, runs
// exactly once: nil when m is stored (or not persistent, or expired), an
// error wrapping ErrStore otherwise. It runs inside Publish or on a store
// goroutine and must not block.
func (h *Hub) Publish(m *Message, done func(error)) int { return h.publish(m, done, nil) }

// publish is Publish; with b the store append waits in b (see Batch).
func (h *Hub) publish(m *Message, done func(error), b *Batch) int {
	h.published.Inc()
	if m.Timestamp == 0 {
		m.Timestamp = h.opts.Now()
	}
	// The clock is read again only for a message that can expire: the
	// protocols stamp messages as they build them.
	if m.ExpiryMs != 0 && m.Expired(h.opts.Now()) {
		h.expired.Inc()
		if done != nil {
			done(nil)
		}
		return 0
	}
	var te *topicEntry
	if h.opts.Persist(m.Topic) {
		var err error
		if b != nil {
			te, err = b.topic(m.Topic)
		} else {
			te, err = h.topic(m.Topic)
		}
		switch {
		case err != nil:
			h.storeFailed(m, err, done)
		case h.opts.Store == nil:
			if done != nil {
				done(nil)
			}
		case b != nil:
			b.add(m, te.shard, done)
		default:
			c := h.calls.Get().(*appendCall)
			c.items = append(c.items, pendingAppend{m, done})
			c.send(te.shard, h.opts.Durability(m.QoS))
		}
	} else if done != nil {
		done(nil)
	}
	n := h.fanout(m, b)
	if te != nil {
		te.published.Add(1)
		te.delivered.Add(uint64(n))
		te.bytes.Add(uint64(len(m.Payload)))
	}
	return n
}

// Fanout hands m to every matching subscriber without storing it (a
// retained or will message re-delivered, a message already stored).
func (h *Hub) Fanout(m *Message) int { return h.fanout(m, nil) }

// fanout is Fanout; with b, BatchSubscribers get DeliverBatch.
func (h *Hub) fanout(m *Message, b *Batch) int {
	p := h.match.Get().(*[]topic.Entry)
	es := h.index.Match(m.Topic, (*p)[:0])
	for i := range es {
		if bs, ok := es[i].Target.(BatchSubscriber); ok && b != nil {
			bs.DeliverBatch(m, &es[i], b)
		} else if s, ok := es[i].Target.(Subscriber); ok {
			s.Deliver(m, &es[i])
		}
	}
	n := len(es)
	if n == 0 {
		h.noSub.Inc()
	}
	h.delivered.Add(n)
	clear(es)
	if cap(es) <= 1024 {
		*p = es[:0]
		h.match.Put(p)
	}
	return n
}

// appendCall is one AppendAsync of the messages of one shard at one
// durability: pooled with its record and header buffers and its callback
// bound once, so a store allocates nothing per message.
type appendCall struct {
	h     *Hub
	items []pendingAppend
	hs    []shard.Header
	ends  []int // ends[i]: the end of items[i]'s headers in hs
	recs  []shard.Record
	fn    shard.AppendFunc // c.finish, bound at creation
}

// pendingAppend is a message waiting for its append, and its done.
type pendingAppend struct {
	m    *Message
	done func(error)
}

// send appends c.items to shard name (one record each, see the package
// doc); c goes back to the pool once the append completed.
func (c *appendCall) send(name string, d shard.Durability) {
	for i := range c.items {
		c.hs = AppendHeaders(c.hs, c.items[i].m)
		c.ends = append(c.ends, len(c.hs))
	}
	start := 0
	for i := range c.items { // hs no longer grows: the records may slice it
		m := c.items[i].m
		c.recs = append(c.recs, shard.Record{Timestamp: m.Timestamp, Headers: c.hs[start:c.ends[i]:c.ends[i]], Value: m.Payload})
		start = c.ends[i]
	}
	// AppendAsync copies the records before it returns, so the buffers
	// are free again when the callback runs.
	c.h.opts.Store.AppendAsync(name, c.recs, shard.AppendOptions{Durability: d, FailFast: true}, c.fn)
}

func (c *appendCall) finish(_ int64, err error) {
	h := c.h
	clear(c.hs)
	clear(c.recs)
	c.hs, c.ends, c.recs = c.hs[:0], c.ends[:0], c.recs[:0]
	if err == nil {
		h.persisted.Add(len(c.items))
	}
	for _, it := range c.items {
		switch {
		case err != nil:
			h.storeFailed(it.m, err, it.done)
		case it.done != nil:
			it.done(nil)
		}
	}
	clear(c.items)
	c.items = c.items[:0]
	if cap(c.items) > maxBatch || cap(c.hs) > 8*maxBatch {
		c.items, c.hs, c.ends, c.recs = nil, nil, nil, nil
	}
	h.calls.Put(c)
}

func (h *Hub) storeFailed(m *Message, err error, done func(error)) {
	h.storeErr.Inc()
	h.warnStore(m, err)
	if done != nil {
		done(fmt.Errorf("%w: topic %q: %w", ErrStore, m.Topic, err))
	}
}

// warnInterval is the least time between two logged append failures.
const warnInterval = 1000 // ms

// warnStore logs a failed append, at most once per warnInterval; the
// failures not logged are counted in the next line (and all of them in
// robustmq_message_dropped_total{reason="store_error"}).
func (h *Hub) warnStore(m *Message, err error) {
	now, next := h.opts.Now(), h.warnNext.Load()
	if now < next || !h.warnNext.CompareAndSwap(next, now+warnInterval) {
		h.warnMuted.Add(1)
		return
	}
	h.opts.Logger.Warn("message: store append failed", "topic", string(m.Topic), "err", err,
		"not_logged_before", h.warnMuted.Swap(0))
}

// topicEntry is what the hub keeps per persistent topic: its shard name
// and its counters (updated atomically).
type topicEntry struct {
	shard                       string
	published, delivered, bytes atomic.Uint64
}

// TopicStats are the counters of one topic since the hub started.
type TopicStats struct {
	Topic     string `json:"topic"`
	Shard     string `json:"shard"`
	Published uint64 `json:"published"` // messages published
	Delivered uint64 `json:"delivered"` // Deliver calls (subscriber deliveries)
	Bytes     uint64 `json:"bytes"`     // payload bytes published
}

// Topics returns the counters of every persistent topic seen, in no
// particular order. Topics are kept for the hub's life (their shards
// exist), so the list is bounded by the store, not by a label set.
func (h *Hub) Topics() []TopicStats {
	var out []TopicStats
	for i := range h.names {
		st := &h.names[i]
		st.mu.RLock()
		for t, e := range st.m {
			out = append(out, TopicStats{Topic: t, Shard: e.shard, Published: e.published.Load(),
				Delivered: e.delivered.Load(), Bytes: e.bytes.Load()})
		}
		st.mu.RUnlock()
	}
	return out
}

// topic returns the entry of persistent topic t, creating its shard (when
// a Store is configured) on first use. The lookup does not allocate.
func (h *Hub) topic(t []byte) (*topicEntry, error) {
	st := &h.names[maphash.Bytes(h.seed, t)%nameStripes]
	st.mu.RLock()
	e, ok := st.m[string(t)]
	st.mu.RUnlock()
	if ok {
		return e, nil
	}
	e = &topicEntry{shard: ShardName(string(t))}
	if h.opts.Store != nil {
		err := h.opts.Store.CreateShard(shard.ShardConfig{Name: e.shard, Engine: h.opts.Engine, SegmentBytes: h.opts.SegmentBytes})
		if err != nil && !errors.Is(err, shard.ErrShardExists) {
			return nil, fmt.Errorf("message: create shard %q on %s: %w", e.shard, h.opts.Engine, err)
		}
	}
	st.mu.Lock()
	if old, ok := st.m[string(t)]; ok { // created concurrently
		e = old
	} else {
		st.m[string(t)] = e
	}
	st.mu.Unlock()
	return e, nil
}

// ShardName is the shard that holds topic t's messages: shard.Name(t, 0),
// "{topic}_0". A topic too long for a shard name (shard.MaxNameLen) keeps
// its first longPrefix bytes and a stable FNV-1a 64 hash of the whole:
// "{prefix}~{16 hex digits}_0".
func ShardName(t string) string {
	if len(t)+2 <= shard.MaxNameLen {
		return shard.Name(t, 0)
	}
	f := fnv.New64a()
	_, _ = f.Write([]byte(t))
	var h [8]byte
	binary.BigEndian.PutUint64(h[:], f.Sum64())
	return shard.Name(t[:longPrefix]+"~"+hex.EncodeToString(h[:]), 0)
}

const longPrefix = 256
