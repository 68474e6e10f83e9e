package shard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// EngineType names a storage engine. The value is what config.toml and the
// shard table carry, so the strings are frozen.
type EngineType string

const (
	EngineMemory  EngineType = "memory"  // shard/memory: lost on restart by contract
	EnginePebble  EngineType = "pebble"  // shard/pebblestore: one pebble DB for all shards
	EngineSegment EngineType = "segment" // segment/: file segments, mmap reads
)

// Valid reports whether t is one of the known engine types.
func (t EngineType) Valid() bool {
	return t == EngineMemory || t == EnginePebble || t == EngineSegment
}

// Durability says when an append is acknowledged.
type Durability uint8

const (
	// DurabilityNone acknowledges once the records are in the engine's memory
	// (memory engine, page cache, pebble memtable + unsynced WAL). They become
	// durable at the engine's next flush or at the next Sync append on the
	// same engine, whichever comes first.
	DurabilityNone Durability = iota
	// DurabilitySync acknowledges only after the records are on stable storage
	// (fsync returned nil). Engines group-commit concurrent Sync appends.
	// The memory engine treats Sync as None: it has no stable storage.
	DurabilitySync
)

func (d Durability) String() string {
	switch d {
	case DurabilityNone:
		return "none"
	case DurabilitySync:
		return "sync"
	}
	return "durability(" + strconv.Itoa(int(d)) + ")"
}

// Header is one record header. Name and Value are bytes so decoders can hand
// out views of their input; a nil Value is distinct from an empty one and
// engines round-trip the difference (Kafka null header values).
type Header struct {
	Name  []byte
	Value []byte
}

// Record is one entry of a shard.
//
// On Append, Offset is ignored (the engine assigns it) and a zero Timestamp is
// replaced by the engine's clock, read once per batch. Key and Value keep the
// difference between nil and empty (Kafka null key, tombstone value).
//
// On Read, every slice may alias engine memory: see ReadResult for how long.
type Record struct {
	Offset    int64    // dense per shard, from 0
	Timestamp int64    // milliseconds since the Unix epoch
	Key       []byte   // optional
	Tags      [][]byte // optional; ReadByTag finds records by any of them
	Headers   []Header // optional, order kept
	Value     []byte
	// Term is the raft term the record was appended in
	// (AppendOptions.Term); ignored on Append. Engines without
	// replication support (memory, pebble) always return 0.
	Term uint64
}

// Size is the number of payload bytes of r: key, tags, header names and
// values, and value. maxBytes limits and byte metrics count this, not the
// engine's encoding.
func (r *Record) Size() int {
	n := len(r.Key) + len(r.Value)
	for _, t := range r.Tags {
		n += len(t)
	}
	for i := range r.Headers {
		n += len(r.Headers[i].Name) + len(r.Headers[i].Value)
	}
	return n
}

// ShardConfig describes a shard at creation. Zero limits mean unlimited,
// a zero SegmentBytes means the engine default.
type ShardConfig struct {
	Name           string     // "{topic}_{partition}", see Name
	Engine         EngineType // which engine holds it; the router dispatches on it
	RetentionBytes int64      // keep at most about this many bytes; oldest dropped first
	RetentionMs    int64      // drop records older than this (by record timestamp)
	SegmentBytes   int64      // segment engine: segment file size; memory engine: chunk size
}

// ShardInfo is what ListShards reports per shard.
type ShardInfo struct {
	Config   ShardConfig
	Earliest int64 // log start: first offset still readable
	Latest   int64 // next offset to be written (high-water mark)
	Bytes    int64 // bytes held, in the engine's own accounting
}

// Name returns the shard name of a topic partition: "{topic}_{partition}".
// It allocates; hot paths use the names the Router precomputes per topic.
func Name(topic string, partition int32) string {
	return topic + "_" + strconv.FormatInt(int64(partition), 10)
}

// AppendOptions tune one append.
type AppendOptions struct {
	Durability Durability
	// FailFast makes an append that finds the engine's write queue full fail
	// at once with ErrQueueFull instead of waiting for room. Callers on an
	// event loop set it; everything else lets the append wait (backpressure).
	FailFast bool
	// Term is the raft term stored with the batch (the segment batch
	// header's term field) and returned as Record.Term; 0 until the shard
	// is a raft group. Only the segment engine keeps it.
	Term uint64
}

// AppendFunc receives the outcome of AppendAsync: the offset given to the
// first record of the batch, or an error (then no record of the batch is
// acknowledged). It runs once, either inside AppendAsync or on an engine
// goroutine, and must not block: it hands the result to its owner (for
// example with gnet's AsyncWrite or Wake) and returns.
type AppendFunc func(first int64, err error)

// ReadResult is what a read returns.
//
// Lifetime: the byte slices of Records may alias engine memory (chunk
// arenas, mmap'd segments) or a buffer owned by the result. They stay valid
// until Release. The caller must call Release exactly once when it is done
// (after the bytes were written to the socket); the result and its Records
// must not be touched afterwards, as engines pool them.
type ReadResult struct {
	Records []Record
	// Next is the offset to read from next: one past the last record
	// returned, or the requested offset when nothing was returned. For
	// ReadByKey/ReadByTag it is where to continue the lookup: past the last
	// record returned and at or before the first match left out (at most
	// Latest), so continuing from Next neither repeats nor skips a match.
	Next     int64
	Earliest int64 // log start when the read ran
	Latest   int64 // high-water mark when the read ran
	Bytes    int   // sum of Record.Size over Records (ReadBatches: plus opaque batch lengths)
	// Batches is set by ReadBatches only: the result in storage units, in
	// offset order (runs of Records and opaque batches).
	Batches []Batch

	// ReleaseFunc is set by the engine that built the result and called by
	// Release. Engines outside this package fill it; callers never do.
	ReleaseFunc func(*ReadResult)
}

// Release gives the result back to its engine. Calling it on nil is a no-op.
func (r *ReadResult) Release() {
	if r == nil {
		return
	}
	if f := r.ReleaseFunc; f != nil {
		r.ReleaseFunc = nil
		f(r)
	}
}

// Adapter is what the broker calls. The Router implements it over all
// engines; each Engine implements it for its own shards.
//
// All methods are safe for concurrent use. None blocks on I/O except Append
// (by design), Flush and Close, and, for persistent engines, Create/Delete.
type Adapter interface {
	// CreateShard creates an empty shard. ErrShardExists if the name is taken,
	// ErrInvalidConfig for a bad name or limit.
	CreateShard(cfg ShardConfig) error
	// DeleteShard removes a shard and its data. Waiters on it fire.
	// ErrShardNotFound if there is none.
	DeleteShard(name string) error
	// ListShards reports every shard, in no particular order.
	ListShards() ([]ShardInfo, error)

	// AppendAsync appends recs as one batch: their offsets are consecutive
	// and no other batch interleaves. It copies or encodes every record
	// synchronously before returning, so the caller may reuse recs and all
	// their byte slices (e.g. a gnet read buffer) as soon as it returns.
	// done is called exactly once; see AppendFunc. It never blocks on I/O;
	// with FailFast=false it may wait for room in a full write queue.
	// An empty batch completes with (Latest, nil).
	AppendAsync(shard string, recs []Record, opt AppendOptions, done AppendFunc)
	// Append is the blocking form: it returns when the batch is acknowledged
	// per opt.Durability. If ctx ends first it returns ctx.Err() and the
	// batch may or may not be appended (like a timed-out produce).
	Append(ctx context.Context, shard string, recs []Record, opt AppendOptions) (first int64, err error)
	// AppendBatchAsync appends one opaque batch (ValidateBatch) as one
	// unit: its b.Count records get offsets first..first+Count-1, no
	// other batch interleaves, and the engine writes first into its copy
	// of the bytes (PutBatchBase). Like AppendAsync it copies b.Bytes
	// before returning and calls done exactly once. ReadBatches returns
	// the batch as stored; Read decodes it with the engine's BatchDecoder.
	// ReadByKey and ReadByTag never return records of opaque batches.
	AppendBatchAsync(shard string, b Batch, opt AppendOptions, done AppendFunc)
	// AppendBatch is the blocking form of AppendBatchAsync (see Append).
	AppendBatch(ctx context.Context, shard string, b Batch, opt AppendOptions) (first int64, err error)

	// Read returns records from offset on, at most maxRecords and, past the
	// first record, at most maxBytes (Record.Size): the first record is
	// always returned even if it is larger than maxBytes (Kafka fetch
	// semantics, so one big record cannot stall a consumer).
	// offset == Latest returns an empty result; offset < Earliest or
	// offset > Latest returns ErrOffsetOutOfRange. maxRecords <= 0 means 1.
	// The caller must Release the result.
	Read(shard string, offset int64, maxRecords, maxBytes int) (*ReadResult, error)
	// ReadBatches is Read in storage units, for Kafka Fetch: Batches holds,
	// in offset order, runs of records (from offset on) and opaque
	// batches as stored, whole, even when offset lies inside one (Kafka
	// clients skip records below their fetch offset), possibly holding
	// offsets below Earliest. Past the first unit it stops before one that
	// would pass maxBytes (Record.Size per record, len(Bytes) per opaque
	// batch), and runs hold at most MaxRunRecords records. Records holds the runs' records; Next is one past the last
	// offset returned. Offset bounds and Release as for Read.
	ReadBatches(shard string, offset int64, maxBytes int) (*ReadResult, error)
	// ReadByKey returns records whose Key equals key, at offsets >= from,
	// ascending, at most maxRecords (<= 0 means 1). from below Earliest
	// starts at Earliest. Records with a nil Key are never found.
	ReadByKey(shard string, key []byte, from int64, maxRecords int) (*ReadResult, error)
	// ReadByTag returns records carrying tag, at offsets >= from, ascending,
	// at most maxRecords (<= 0 means 1). from below Earliest starts at
	// Earliest.
	ReadByTag(shard string, tag []byte, from int64, maxRecords int) (*ReadResult, error)
	// OffsetForTimestamp returns the smallest offset >= Earliest whose record
	// has Timestamp >= tsMs, or Latest if there is none (Kafka ListOffsets).
	// Timestamps need not be monotonic.
	OffsetForTimestamp(shard string, tsMs int64) (int64, error)
	// EarliestOffset returns the log start: the first readable offset.
	EarliestOffset(shard string) (int64, error)
	// LatestOffset returns the next offset to be written (Kafka's high-water
	// mark / log end offset); the shard is empty when it equals Earliest.
	LatestOffset(shard string) (int64, error)
	// DeleteRecords advances the log start to before (Kafka DeleteRecords):
	// offsets below it become unreadable. before is clamped to Latest;
	// before <= Earliest is a no-op.
	DeleteRecords(shard string, before int64) error
	// EnforceRetention applies every shard's RetentionBytes and RetentionMs
	// as of nowMs: the log start moves past the oldest records while the
	// shard holds more than RetentionBytes or the oldest record's Timestamp
	// is below nowMs-RetentionMs. Record-granular engines (memory, pebble)
	// are exact; segment engines drop whole segments and may keep up to one
	// segment more. The router calls it periodically.
	EnforceRetention(nowMs int64) error

	// Wait arranges for fn to run once, when a record at offset exists
	// (Latest > offset), or when the shard is deleted or the engine closes.
	// If that is already true fn runs before Wait returns. fn runs on the
	// appending goroutine without engine locks held and must not block; it
	// re-reads to find out what happened. cancel removes the waiter and
	// reports whether fn will not run (false: it ran or is running).
	// No goroutine is started per waiter.
	Wait(shard string, offset int64, fn func()) (cancel func() bool, err error)

	// Flush makes every acknowledged append durable (fsync); no-op for memory.
	Flush() error
	// Close flushes, fires all waiters and releases the engine. Later calls
	// return ErrClosed.
	Close() error
}

// Engine is one storage engine: an Adapter for the shards it holds.
// The Router owns engines and dispatches by ShardConfig.Engine.
type Engine interface {
	Adapter
	// Type is the engine's EngineType.
	Type() EngineType
}

// Sentinel errors. Engines wrap them with the shard name and the offending
// value (fmt.Errorf("%w: ...")), so callers branch with errors.Is.
var (
	ErrShardNotFound    = errors.New("shard: shard not found")
	ErrShardExists      = errors.New("shard: shard already exists")
	ErrOffsetOutOfRange = errors.New("shard: offset out of range")
	ErrQueueFull        = errors.New("shard: write queue full")
	ErrClosed           = errors.New("shard: engine closed")
	ErrInvalidConfig    = errors.New("shard: invalid shard config")
	ErrUnknownEngine    = errors.New("shard: unknown engine type")
	ErrRecordTooLarge   = errors.New("shard: record too large")
	ErrTopicNotFound    = errors.New("shard: topic not found")
	ErrTopicExists      = errors.New("shard: topic already exists")
	ErrCorrupt          = errors.New("shard: corrupt data")
	ErrInvalidArgument  = errors.New("shard: invalid argument")
)

// ValidateConfig checks the fields every engine relies on. Engines call it
// in CreateShard; the error wraps ErrInvalidConfig and names the field.
func ValidateConfig(cfg *ShardConfig) error {
	switch {
	case cfg.Name == "":
		return fmt.Errorf("%w: name is empty", ErrInvalidConfig)
	case len(cfg.Name) > MaxNameLen:
		return fmt.Errorf("%w: %.32s...: name is %d bytes, limit %d", ErrInvalidConfig, cfg.Name, len(cfg.Name), MaxNameLen)
	case cfg.RetentionBytes < 0:
		return fmt.Errorf("%w: %s: retention_bytes %d < 0", ErrInvalidConfig, cfg.Name, cfg.RetentionBytes)
	case cfg.RetentionMs < 0:
		return fmt.Errorf("%w: %s: retention_ms %d < 0", ErrInvalidConfig, cfg.Name, cfg.RetentionMs)
	case cfg.SegmentBytes < 0:
		return fmt.Errorf("%w: %s: segment_bytes %d < 0", ErrInvalidConfig, cfg.Name, cfg.SegmentBytes)
	}
	return nil
}

// MaxNameLen bounds shard names (topic + "_" + partition).
const MaxNameLen = 512
