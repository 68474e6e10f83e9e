// Package engine is the Storage Engine role's component: it opens the node's storage engines, routes
// shards over them with a shard.Router, opens the local consumer-offset store, and hands both to the
// roles started after it through the node's component.Storage slot.
//
// # Directories
//
// Under the first directory of storage_runtime.data_path (call it D) and every other one (Dn):
//
//	D/segment   segment.EngineSegment: file segments, one directory per shard (the default engine)
//	Dn/segment  more segment roots (other disks): segment shards spread over all data paths
//	D/pebble    pebblestore: one pebble DB for every pebble shard
//	D/offsets   offsetstore: consumer-group offsets, until the Meta Service's offset group serves them
//
// The segment engine gets a directory of its own because it treats every directory under its root as
// a shard (and removes one without a meta file as an interrupted create). A new segment shard goes to
// the data path holding the fewest shards (the first on ties); on restart each shard is mounted where
// it is, so data paths may be added (new shards fill them) but not removed while they hold shards (a
// shard found in two is an error). pebble and the offsets stay on D. The memory engine keeps nothing
// on disk.
//
// Every engine gets DecodeKafka as its shard.BatchDecoder, so Kafka batches stored whole by
// AppendBatch read back as records for the other protocols.
//
// Config mapping ([storage_runtime]): io_thread_num is the segment engine's worker count (one group
// commit per worker round), max_segment_size its default segment size (a shard's own SegmentBytes
// wins). tcp_port is not bound yet: nothing serves remote brokers until the cluster work adds the
// engine's data protocol, so the port does not hold readiness back.
//
// # Life
//
// New registers the admin routes and does no I/O. Start opens, in order, segment (recovering every
// shard: torn tails are cut and counted), pebble, memory, the router (segment is its DefaultEngine,
// so a shard config naming no engine is a segment shard) and the offset store; on a failure it closes
// what it opened and returns an error naming storage_runtime.data_path and the directory. It then logs
// one recovery line (shards per engine, duration, bytes truncated by segment recovery) and provides
// the router and offset store on env.Storage. Stop withdraws them, closes the offset store and then
// the router, which flushes and closes every engine (fsync of everything acknowledged). Stop runs after
// the broker's Stop (reverse start order), so no append is in flight from this node's protocols.
// Stop is bounded by its ctx: if the close overruns it, Stop returns ctx's error and the close goes
// on in the background (an fsync cannot be interrupted); the process exits soon after anyway.
//
// # Admin routes (behind the admin server's auth)
//
//	GET  /api/storage-engine/shard/list   paged (see server/admin): name, engine, earliest, latest, bytes
//	POST /api/storage-engine/shard/list   the same, RobustMQ's form: JSON {"shard_name","limit","page"}
//
// shard_name (POST) or filter_field=name&filter_values=... (GET) narrows the list. Both answer 503
// while the engine is not running.
//
// # Goroutines
//
// The component starts none itself; the engines and the router own theirs and Stop waits for them
// through their Close. The admin handlers run on net/http goroutines and read the router under mu.
package engine
