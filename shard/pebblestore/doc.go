// Package pebblestore is the pebble storage engine (shard.EnginePebble,
// RobustMQ's RocksDB engine): every shard's records and indexes live in one
// cockroachdb/pebble DB under the data dir and survive restarts.
//
// # Key layout (frozen)
//
// Every key starts with a kind byte. id is the shard's numeric id (8 bytes
// big-endian), given at creation and never reused; off is an offset (8 bytes
// big-endian, so keys sort by offset). Values are little-endian.
//
//	'n' name                          -> 0x01 id(8 BE) retentionBytes(8) retentionMs(8) segmentBytes(8)
//	's' id                            -> 0x01 start(8) bytes(8) maxTs(8) sinceMark(8)
//	'r' id off                        -> record, shard/internal/rec encoding
//	'k' id uvarint(len) key off       -> empty   (key index)
//	't' id uvarint(len) tag off       -> empty   (tag index)
//	'm' id flip(maxBefore) off        -> empty   (sparse time index)
//
// The length prefix makes a key's index entries a contiguous range that no
// other key's entries can prefix. flip(x) is uint64(x) with the sign bit
// inverted, so signed timestamps sort as unsigned bytes. A time mark
// (maxBefore, off) says every record below off has timestamp <= maxBefore;
// marks are written every markEvery records, and since maxBefore never
// decreases the marks sort by both fields, so OffsetForTimestamp seeks to the
// last mark below the wanted time and scans records from there.
//
// The 's' state key is rewritten in every append batch, in the same pebble
// batch as the records, so recovery reads it back consistent with the data:
// the next offset is one past the last 'r' key (or start when none is left).
//
// # Durability
//
// DurabilitySync appends are applied under the shard's mutex with
// ApplyNoSyncWait (WAL order = offset order), then wait for pebble's group
// commit fsync outside the mutex: concurrent producers share fsyncs.
// AppendAsync hands that wait to one syncer goroutine through a bounded queue
// (Options.SyncQueue; full policy: FailFast fails with shard.ErrQueueFull,
// otherwise the caller waits for room; depth in
// robustmq_storage_pebble_sync_queue). DurabilityNone applies without sync;
// a flusher goroutine syncs the WAL every Options.FlushInterval. pebble
// treats a failed WAL fsync as fatal (Logger.Fatalf): never retried.
//
// Visibility: the shard's high-water mark moves to a batch's end when it is
// acknowledged (Sync: after fsync). A None batch acknowledged after a pending
// Sync batch exposes that one too (it is applied, not yet synced).
//
// # Reads
//
// pebble values are only valid until the iterator moves, so reads copy the
// encoded records into a buffer owned by the pooled ReadResult and decode
// views into it; Release returns it to the pool.
//
// # Concurrency
//
// The engine's RWMutex (closeMu) is read-held by every operation (a Sync
// Append holds it through its fsync wait) and write-held by Close. createMu
// serializes CreateShard and DeleteShard. Each shard's mutex serializes its
// appends, deletes and retention. Lock order: closeMu (read) -> createMu ->
// shard mu. Readers take no shard lock: they read the atomic start and
// high-water mark and treat a hole at the front as ErrOffsetOutOfRange
// (retention ran meanwhile). Goroutines: the syncer and the flusher, started
// by Open and stopped by Close.
package pebblestore
