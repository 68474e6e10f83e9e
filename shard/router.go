package shard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/shard/internal/every"
)

// RouterOptions configure a Router. Zero values take the defaults.
type RouterOptions struct {
	// Stripes is the lock-stripe count of the shard and topic tables
	// (rounded up to a power of two); default DefaultStripes.
	Stripes int
	// RetentionInterval is how often the router calls EnforceRetention on
	// every engine; default 30s, negative disables.
	RetentionInterval time.Duration
	// DefaultEngine serves shards whose config names no engine; default:
	// the only engine when there is one, else none (ErrUnknownEngine).
	DefaultEngine EngineType
	Now           func() int64 // ms clock for retention; default wall clock
	Logger        *slog.Logger // default slog.Default()
}

// TopicConfig describes a topic: Partitions shards named Name(topic, p),
// each created from Shard (its Name is ignored).
type TopicConfig struct {
	Name       string
	Partitions int32
	Shard      ShardConfig
}

// Router is the storage adapter the broker calls. It owns the engines given
// to NewRouter (Close closes them), keeps the shard table (which engine holds
// which shard) and the topic table (partition count, precomputed shard names,
// round-robin counter) in lock stripes, and delegates every call to the
// shard's engine, counting metrics on the way.
//
// Lookups take no lock (see Table) and the append and read counters live in
// each shard's route entry, summed when metrics are scraped (the router's
// metrics.Set), so appends to different shards share no lock and no written
// memory.
type Router struct {
	engines map[EngineType]*engineRef // immutable after NewRouter
	shards  *Table[*route]
	topics  *Table[*topic]
	opts    RouterOptions
	set     *metrics.Set // this router's gauges, registered until Close

	closed atomic.Bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

// topic is an entry of the topic table. Immutable but for rr.
type topic struct {
	names []string // names[p] = Name(topic, p): no allocation per write
	rr    atomic.Uint32
}

// engineRef is an engine with its error counters and the totals of its
// deleted shards, created once per engine.
type engineRef struct {
	Engine
	errs [numReasons]*metrics.Counter
	gone Stats // counts of deleted shards; fields updated atomically
}

// route is a shard table entry: the engine and the shard's own counters,
// padded so neighbouring routes do not share a cache line.
type route struct {
	*engineRef
	stats Stats // updated atomically
	_     [128 - 8 - 40]byte
}

// Stats are cumulative counts, per shard or summed per engine.
type Stats struct {
	AppendRecords, AppendBytes uint64
	ReadRecords, ReadBytes     uint64
	Shards                     int64 // in sums: shards held now
}

func (s *Stats) add(o *Stats) {
	atomic.AddUint64(&s.AppendRecords, atomic.LoadUint64(&o.AppendRecords))
	atomic.AddUint64(&s.AppendBytes, atomic.LoadUint64(&o.AppendBytes))
	atomic.AddUint64(&s.ReadRecords, atomic.LoadUint64(&o.ReadRecords))
	atomic.AddUint64(&s.ReadBytes, atomic.LoadUint64(&o.ReadBytes))
}

// Stats sums the counters of engine t's shards, deleted ones included.
func (r *Router) Stats(t EngineType) Stats {
	var s Stats
	e, ok := r.engines[t]
	if !ok {
		return s
	}
	s.add(&e.gone)
	r.shards.Range(func(_ string, rt *route) bool {
		if rt.engineRef == e {
			s.add(&rt.stats)
			s.Shards++
		}
		return true
	})
	return s
}

// Error reasons, the label values of robustmq_storage_errors_total.
const (
	reasonNotFound = iota
	reasonOutOfRange
	reasonQueueFull
	reasonClosed
	reasonTooLarge
	reasonOther
	numReasons
)

var reasonNames = [numReasons]string{"not_found", "out_of_range", "queue_full", "closed", "too_large", "other"}

func reason(err error) int {
	switch {
	case errors.Is(err, ErrShardNotFound):
		return reasonNotFound
	case errors.Is(err, ErrOffsetOutOfRange):
		return reasonOutOfRange
	case errors.Is(err, ErrQueueFull):
		return reasonQueueFull
	case errors.Is(err, ErrClosed):
		return reasonClosed
	case errors.Is(err, ErrRecordTooLarge):
		return reasonTooLarge
	}
	return reasonOther
}

func newEngineRef(e Engine) *engineRef {
	r := &engineRef{Engine: e}
	for i := range r.errs {
		r.errs[i] = metrics.GetOrCreateCounter(`robustmq_storage_errors_total{engine="` + string(e.Type()) + `",reason="` + reasonNames[i] + `"}`)
	}
	return r
}

// registerMetrics exports the sums of Stats per engine:
// robustmq_storage_{append,read}_{records,bytes}_total and
// robustmq_storage_shards, labelled by engine.
func (r *Router) registerMetrics() {
	r.set = metrics.NewSet()
	for t := range r.engines {
		l := `{engine="` + string(t) + `"}`
		for _, m := range []struct {
			name string
			get  func(*Stats) float64
		}{
			{"robustmq_storage_append_records_total", func(s *Stats) float64 { return float64(s.AppendRecords) }},
			{"robustmq_storage_append_bytes_total", func(s *Stats) float64 { return float64(s.AppendBytes) }},
			{"robustmq_storage_read_records_total", func(s *Stats) float64 { return float64(s.ReadRecords) }},
			{"robustmq_storage_read_bytes_total", func(s *Stats) float64 { return float64(s.ReadBytes) }},
			{"robustmq_storage_shards", func(s *Stats) float64 { return float64(s.Shards) }},
		} {
			r.set.NewGauge(m.name+l, func() float64 { s := r.Stats(t); return m.get(&s) })
		}
	}
	metrics.RegisterSet(r.set)
}

// fail counts err (if any) and returns it.
func (r *engineRef) fail(err error) error {
	if err != nil {
		r.errs[reason(err)].Inc()
	}
	return err
}

func (r *route) read(res *ReadResult, err error) (*ReadResult, error) {
	if err != nil {
		return nil, r.fail(err)
	}
	n := len(res.Records)
	if res.Batches != nil {
		n = 0
		for i := range res.Batches {
			n += res.Batches[i].Count
		}
	}
	atomic.AddUint64(&r.stats.ReadRecords, uint64(n))
	atomic.AddUint64(&r.stats.ReadBytes, uint64(res.Bytes))
	return res, nil
}

func (r *route) appended(recs []Record) {
	atomic.AddUint64(&r.stats.AppendRecords, uint64(len(recs)))
	atomic.AddUint64(&r.stats.AppendBytes, uint64(batchBytes(recs)))
}

// NewRouter returns a router over engines and loads the shards they already
// hold (persistent engines after a restart). A shard name held by two engines
// is an error. On success the router owns the engines (Close closes them);
// on error the caller still does.
func NewRouter(engines []Engine, opts RouterOptions) (*Router, error) {
	if opts.RetentionInterval == 0 {
		opts.RetentionInterval = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = func() int64 { return time.Now().UnixMilli() }
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Router{engines: map[EngineType]*engineRef{}, shards: NewTable[*route](opts.Stripes),
		topics: NewTable[*topic](opts.Stripes), opts: opts, stop: make(chan struct{})}
	for _, e := range engines {
		t := e.Type()
		if _, dup := r.engines[t]; dup {
			return nil, fmt.Errorf("shard: router: two engines of type %q", t)
		}
		ref := newEngineRef(e)
		r.engines[t] = ref
		infos, err := e.ListShards()
		if err != nil {
			return nil, fmt.Errorf("shard: router: list %s shards: %w", t, err)
		}
		for _, in := range infos {
			if !r.shards.Insert(in.Config.Name, &route{engineRef: ref}) {
				return nil, fmt.Errorf("%w: router: %q held by two engines", ErrShardExists, in.Config.Name)
			}
		}
	}
	if opts.DefaultEngine == "" && len(engines) == 1 {
		r.opts.DefaultEngine = engines[0].Type()
	}
	r.registerMetrics()
	if opts.RetentionInterval > 0 {
		r.wg.Add(1)
		go r.retention()
	}
	return r, nil
}

// retention runs EnforceRetention on every engine each RetentionInterval
// until Close.
func (r *Router) retention() {
	defer r.wg.Done()
	every.Run(r.stop, r.opts.RetentionInterval, func() {
		if err := r.EnforceRetention(r.opts.Now()); err != nil {
			r.opts.Logger.Error("shard: retention", "err", err)
		}
	})
}

func (r *Router) route(name string) (*route, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	e, ok := r.shards.Get(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrShardNotFound, name)
	}
	return e, nil
}

// Engine returns the engine of type t, if the router has one.
func (r *Router) Engine(t EngineType) (Engine, bool) {
	e, ok := r.engines[t]
	if !ok {
		return nil, false
	}
	return e.Engine, true
}

// CreateShard implements Adapter: it creates the shard in cfg.Engine.
func (r *Router) CreateShard(cfg ShardConfig) error {
	if r.closed.Load() {
		return ErrClosed
	}
	if cfg.Engine == "" {
		cfg.Engine = r.opts.DefaultEngine
	}
	e, ok := r.engines[cfg.Engine]
	if !ok {
		return fmt.Errorf("%w: %q for shard %q", ErrUnknownEngine, cfg.Engine, cfg.Name)
	}
	if _, ok := r.shards.Get(cfg.Name); ok {
		return fmt.Errorf("%w: %q", ErrShardExists, cfg.Name)
	}
	if err := e.CreateShard(cfg); err != nil {
		return err
	}
	if !r.shards.Insert(cfg.Name, &route{engineRef: e}) {
		// Another engine won the race for the name: undo ours.
		_ = e.DeleteShard(cfg.Name)
		return fmt.Errorf("%w: %q", ErrShardExists, cfg.Name)
	}
	return nil
}

// DeleteShard implements Adapter.
func (r *Router) DeleteShard(name string) error {
	e, err := r.route(name)
	if err != nil {
		return err
	}
	if err := e.DeleteShard(name); err != nil {
		return err
	}
	if rt, ok := r.shards.Delete(name); ok {
		rt.gone.add(&rt.stats)
	}
	return nil
}

// ListShards implements Adapter: the shards of every engine.
func (r *Router) ListShards() ([]ShardInfo, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	var out []ShardInfo
	for _, e := range r.engines {
		infos, err := e.ListShards()
		if err != nil {
			return nil, err
		}
		out = append(out, infos...)
	}
	return out, nil
}

func batchBytes(recs []Record) int {
	n := 0
	for i := range recs {
		n += recs[i].Size()
	}
	return n
}

// AppendAsync implements Adapter. It counts the outcome through a pooled
// completion object, so it allocates nothing per call in steady state.
func (r *Router) AppendAsync(shard string, recs []Record, opt AppendOptions, done AppendFunc) {
	e, err := r.route(shard)
	if err != nil {
		done(0, err)
		return
	}
	c := asyncPool.Get().(*asyncCall)
	c.r, c.n, c.size, c.done = e, uint64(len(recs)), uint64(batchBytes(recs)), done
	e.AppendAsync(shard, recs, opt, c.complete)
}

// asyncCall carries one AppendAsync's counts to its completion. complete is
// bound once per object, so handing it to the engine does not allocate.
type asyncCall struct {
	r        *route
	n, size  uint64
	done     AppendFunc
	complete AppendFunc
}

// asyncPool holds idle asyncCalls; its New is set in init (finish refers
// back to the pool).
var asyncPool sync.Pool

func init() {
	asyncPool.New = func() any {
		c := new(asyncCall)
		c.complete = c.finish
		return c
	}
}

func (c *asyncCall) finish(first int64, err error) {
	r, n, size, done := c.r, c.n, c.size, c.done
	c.r, c.done = nil, nil
	asyncPool.Put(c) // engines call complete exactly once
	if err != nil {
		r.fail(err)
	} else {
		atomic.AddUint64(&r.stats.AppendRecords, n)
		atomic.AddUint64(&r.stats.AppendBytes, size)
	}
	done(first, err)
}

// Append implements Adapter.
func (r *Router) Append(ctx context.Context, shard string, recs []Record, opt AppendOptions) (int64, error) {
	e, err := r.route(shard)
	if err != nil {
		return 0, err
	}
	first, err := e.Append(ctx, shard, recs, opt)
	if err != nil {
		return 0, e.fail(err)
	}
	e.appended(recs)
	return first, nil
}

// AppendBatchAsync implements Adapter, counting like AppendAsync (Count
// records, len(Bytes) bytes).
func (r *Router) AppendBatchAsync(shard string, b Batch, opt AppendOptions, done AppendFunc) {
	e, err := r.route(shard)
	if err != nil {
		done(0, err)
		return
	}
	c := asyncPool.Get().(*asyncCall)
	c.r, c.n, c.size, c.done = e, uint64(max(b.Count, 0)), uint64(len(b.Bytes)), done
	e.AppendBatchAsync(shard, b, opt, c.complete)
}

// AppendBatch implements Adapter.
func (r *Router) AppendBatch(ctx context.Context, shard string, b Batch, opt AppendOptions) (int64, error) {
	e, err := r.route(shard)
	if err != nil {
		return 0, err
	}
	first, err := e.AppendBatch(ctx, shard, b, opt)
	if err != nil {
		return 0, e.fail(err)
	}
	atomic.AddUint64(&e.stats.AppendRecords, uint64(b.Count))
	atomic.AddUint64(&e.stats.AppendBytes, uint64(len(b.Bytes)))
	return first, nil
}

// ReadBatches implements Adapter.
func (r *Router) ReadBatches(shard string, offset int64, maxBytes int) (*ReadResult, error) {
	e, err := r.route(shard)
	if err != nil {
		return nil, err
	}
	return e.read(e.ReadBatches(shard, offset, maxBytes))
}

// Read implements Adapter.
func (r *Router) Read(shard string, offset int64, maxRecords, maxBytes int) (*ReadResult, error) {
	e, err := r.route(shard)
	if err != nil {
		return nil, err
	}
	return e.read(e.Read(shard, offset, maxRecords, maxBytes))
}

// ReadByKey implements Adapter.
func (r *Router) ReadByKey(shard string, key []byte, from int64, maxRecords int) (*ReadResult, error) {
	e, err := r.route(shard)
	if err != nil {
		return nil, err
	}
	return e.read(e.ReadByKey(shard, key, from, maxRecords))
}

// ReadByTag implements Adapter.
func (r *Router) ReadByTag(shard string, tag []byte, from int64, maxRecords int) (*ReadResult, error) {
	e, err := r.route(shard)
	if err != nil {
		return nil, err
	}
	return e.read(e.ReadByTag(shard, tag, from, maxRecords))
}

// OffsetForTimestamp implements Adapter.
func (r *Router) OffsetForTimestamp(shard string, tsMs int64) (int64, error) {
	e, err := r.route(shard)
	if err != nil {
		return 0, err
	}
	o, err := e.OffsetForTimestamp(shard, tsMs)
	return o, e.fail(err)
}

// EarliestOffset implements Adapter.
func (r *Router) EarliestOffset(shard string) (int64, error) {
	e, err := r.route(shard)
	if err != nil {
		return 0, err
	}
	return e.EarliestOffset(shard)
}

// LatestOffset implements Adapter.
func (r *Router) LatestOffset(shard string) (int64, error) {
	e, err := r.route(shard)
	if err != nil {
		return 0, err
	}
	return e.LatestOffset(shard)
}

// DeleteRecords implements Adapter.
func (r *Router) DeleteRecords(shard string, before int64) error {
	e, err := r.route(shard)
	if err != nil {
		return err
	}
	return e.fail(e.DeleteRecords(shard, before))
}

// EnforceRetention implements Adapter on every engine.
func (r *Router) EnforceRetention(nowMs int64) error {
	if r.closed.Load() {
		return ErrClosed
	}
	var errs []error
	for _, e := range r.engines {
		errs = append(errs, e.EnforceRetention(nowMs))
	}
	return errors.Join(errs...)
}

// Wait implements Adapter.
func (r *Router) Wait(shard string, offset int64, fn func()) (func() bool, error) {
	e, err := r.route(shard)
	if err != nil {
		return nil, err
	}
	return e.Wait(shard, offset, fn)
}

// Flush implements Adapter on every engine.
func (r *Router) Flush() error {
	if r.closed.Load() {
		return ErrClosed
	}
	var errs []error
	for _, e := range r.engines {
		errs = append(errs, e.Flush())
	}
	return errors.Join(errs...)
}

// Close stops the retention loop and closes every engine.
func (r *Router) Close() error {
	if r.closed.Swap(true) {
		return ErrClosed
	}
	close(r.stop)
	r.wg.Wait()
	metrics.UnregisterSet(r.set, true)
	var errs []error
	for _, e := range r.engines {
		errs = append(errs, e.Close())
	}
	return errors.Join(errs...)
}

// CreateTopic registers a topic and creates the shards of its partitions
// that do not exist yet (after a restart, persistent engines already hold
// them). ErrTopicExists if the topic is registered.
func (r *Router) CreateTopic(cfg TopicConfig) error {
	if cfg.Partitions <= 0 {
		return fmt.Errorf("%w: topic %q: %d partitions", ErrInvalidConfig, cfg.Name, cfg.Partitions)
	}
	if _, ok := r.topics.Get(cfg.Name); ok {
		return fmt.Errorf("%w: %q", ErrTopicExists, cfg.Name)
	}
	t := &topic{names: make([]string, cfg.Partitions)}
	for p := range t.names {
		t.names[p] = Name(cfg.Name, int32(p))
		sc := cfg.Shard
		sc.Name = t.names[p]
		if err := r.CreateShard(sc); err != nil && !errors.Is(err, ErrShardExists) {
			return fmt.Errorf("shard: topic %q partition %d: %w", cfg.Name, p, err)
		}
	}
	if !r.topics.Insert(cfg.Name, t) {
		return fmt.Errorf("%w: %q", ErrTopicExists, cfg.Name)
	}
	return nil
}

// DeleteTopic unregisters a topic and deletes its shards.
func (r *Router) DeleteTopic(name string) error {
	t, ok := r.topics.Delete(name)
	if !ok {
		return fmt.Errorf("%w: %q", ErrTopicNotFound, name)
	}
	var errs []error
	for _, n := range t.names {
		if err := r.DeleteShard(n); err != nil && !errors.Is(err, ErrShardNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Partition picks the partition of topic for a write and returns it with
// its shard name (precomputed: no allocation):
//   - explicit >= 0 is used as is (ErrInvalidConfig past the partition count);
//   - else a non-nil key picks murmur2(key) & 0x7fffffff % partitions, the
//     Kafka Java client's default partitioner, so a key lands where Kafka
//     clients expect it;
//   - else round-robin on a per-topic atomic counter.
func (r *Router) Partition(topicName string, key []byte, explicit int32) (int32, string, error) {
	t, ok := r.topics.Get(topicName)
	if !ok {
		return 0, "", fmt.Errorf("%w: %q", ErrTopicNotFound, topicName)
	}
	n := uint32(len(t.names))
	var p uint32
	switch {
	case explicit >= 0:
		if uint32(explicit) >= n {
			return 0, "", fmt.Errorf("%w: topic %q has %d partitions, asked for %d", ErrInvalidConfig, topicName, n, explicit)
		}
		p = uint32(explicit)
	case key != nil:
		p = (Murmur2(key) & 0x7fffffff) % n
	default:
		p = (t.rr.Add(1) - 1) % n
	}
	return int32(p), t.names[p], nil
}

// Murmur2 is the 32-bit murmur2 hash as the Kafka Java client computes it
// (seed 0x9747b28c) for its default partitioner.
func Murmur2(b []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	h := uint32(seed) ^ uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
