// Package shard is robustmq's storage adapter: the interface the broker
// calls to store and fetch messages, and the router that spreads shards over
// storage engines.
//
// # Model
//
// A shard is an ordered, append-only log of records named "{topic}_{partition}"
// (see Name). A Kafka partition, an MQTT topic and an AMQP queue each map to
// one shard. Each Record has a dense per-shard Offset from 0, a Timestamp in
// milliseconds, an optional Key, optional Tags, Headers and a Value.
//
// Offsets: Earliest is the log start (first readable offset, advanced by
// DeleteRecords and retention); Latest is the next offset to be written
// (Kafka's high-water mark and log end offset; this package has no
// replication, so they coincide). A shard is empty when Earliest == Latest.
//
// # Engines
//
// An Engine implements Adapter for the shards it holds:
//
//	EngineMemory  shard/memory       chunked in-memory arenas; lost on restart by contract
//	EnginePebble  shard/pebblestore  records and indexes in one cockroachdb/pebble DB
//	EngineSegment segment/           file segments (imports shard; shard never imports it)
//
// The node builds the engines it is configured for and hands them to
// NewRouter; the Router dispatches each call by the shard's ShardConfig.Engine.
// Every engine passes the conformance suite in shard/shardtest.
//
// # Contracts every engine keeps
//
//   - Append copies: AppendAsync and Append copy or encode every record
//     before they return, so callers may reuse their buffers (gnet read
//     buffers) at once. A batch gets consecutive offsets; batches on one
//     shard are ordered; a batch is acknowledged whole or not at all.
//   - AppendAsync never blocks on I/O. When the engine's bounded write
//     queue is full it fails with ErrQueueFull (FailFast) or waits for room.
//     done runs exactly once, maybe inside AppendAsync, never blocks.
//   - DurabilitySync acks only after fsync returned nil; DurabilityNone acks
//     once the records are in memory. A failed fsync is fatal for the store:
//     later appends fail, nothing is retried.
//   - Visibility: a record is readable and counted in Latest once its batch
//     is acknowledged; a later batch's visibility implies every earlier
//     one's. (So in pebble a None batch acknowledged behind a Sync batch that
//     is still in fsync exposes that one a little early: applied, not synced.)
//   - Reads return views: ReadResult slices may alias engine memory and stay
//     valid until Release, which the caller must call exactly once.
//   - Read returns at least one record if one exists at offset, even when it
//     is larger than maxBytes (Kafka fetch semantics).
//   - Wait costs no goroutine: a per-shard WaitList fired by the appender,
//     with no engine lock held, so a waiter may call back into the engine
//     without blocking (reads, AppendAsync with FailFast).
//   - Timestamps need not be monotonic. Time lookups use a sparse index of
//     (running max timestamp before offset o, o) marks: every record below o
//     is older than the mark, so a lookup scans from the last mark below the
//     wanted time and is exact.
//   - Retention (EnforceRetention, DeleteRecords) only moves Earliest up;
//     offsets are never reused, also after restart for persistent engines.
//
// # Opaque batches (Kafka)
//
// AppendBatch/AppendBatchAsync store one Batch as a unit: a Kafka record
// batch v2 (BatchKafkaV2) as the producer sent it, Count records, offsets
// first..first+Count-1. The engine writes first into bytes [0, 8) of its
// own copy (Kafka's baseOffset, outside the Kafka CRC; the caller's buffer
// is untouched), so the stored bytes are exactly what a Fetch sends:
//
//	first, err := router.AppendBatch(ctx, shard, shard.Batch{Format: shard.BatchKafkaV2,
//	        Count: int(lastOffsetDelta) + 1, MaxTimestamp: maxTs, Bytes: raw}, opts)
//	res, err := router.ReadBatches(shard, fetchOffset, maxBytes)
//	for _, b := range res.Batches {
//	        if b.Format == shard.BatchKafkaV2 { /* write b.Bytes as is */ } else { /* encode b.Records */ }
//	}
//	res.Release() // after the bytes are written
//
// Only the base offset is rewritten: the rest (partition leader epoch,
// LogAppendTime stamp) is stored as given, so the caller sets those in its
// buffer before the append. ReadBatches returns a batch whole even when
// the fetch offset lies inside it (Kafka clients skip records below their
// fetch offset); the segment engine returns views of its mapping (no
// copy), memory views of its chunks, pebble a copy. Runs of ordinary
// records come as BatchRecords units. Read serves opaque batches as records too (MQTT, NATS consumers of
// a Kafka topic): it decodes them with the BatchDecoder each engine takes
// in its options (the node passes the Kafka codec's; without one such a
// Read fails with ErrNoDecoder). Time lookups and time retention see every
// record of an opaque batch at the batch's MaxTimestamp; ReadByKey and
// ReadByTag never find records inside opaque batches (not indexed).
//
// # Raft terms
//
// AppendOptions.Term is stored with the batch and read back as
// Record.Term by engines that keep it (segment); memory and pebble return 0.
//
// # Router
//
// The Router keeps the shard table and the topic table in lock stripes
// (Table: atomic copy-on-write maps per stripe, looked up without locks),
// picks partitions (explicit, Kafka murmur2 key hash, or per-topic
// round-robin) and delegates to the engines. It owns the engines (Close
// closes them) and runs EnforceRetention every RetentionInterval on one
// goroutine it starts and stops.
//
// Metrics: the router counts appends and reads per shard (Stats, in the
// shard's route entry: no counter shared between shards) and exports the
// per-engine sums at scrape time through its own metrics.Set:
// robustmq_storage_{append,read}_{records,bytes}_total{engine},
// robustmq_storage_shards{engine}, and the counter
// robustmq_storage_errors_total{engine,reason}. Engines add their own
// (robustmq_storage_memory_*, robustmq_storage_pebble_sync_queue).
//
// # Benchmarks
//
//	go test -run '^$' -bench . -benchmem -cpu 1,2 ./shard/
//
// BenchmarkAppend and BenchmarkRead per engine and record size against
// memcpy and a raw file write in the same run; BenchmarkRouterAppendParallel
// (64 shards, -cpu 1,2) against the same appends behind one global mutex;
// BenchmarkSyncAppend64 (64 producers, DurabilitySync) against rawdisk
// (bench/rawdisk.Writer: serial write+fsync and group commit).
//
// # Consumer offsets
//
// Consumer-group offsets are not message data. The broker reaches them
// through OffsetStore; shard/offsetstore is the pebble-backed local
// implementation used until the Meta Service's "offset" raft group serves
// it. Both must pass shardtest.RunOffsetStore.
//
// # Lock order
//
// The Router's stripe mutexes (Table writers: create/delete only) are never
// held while calling an engine. No engine holds two shard locks at once.
// Append callbacks and Wait callbacks run with no lock held. Engines document
// their own order (pebblestore: closeMu -> createMu -> shard mu).
package shard
