// Package engine is the Storage Engine role's component: it opens the node's storage engines, routes
// shards over them with a shard.Router, opens the local consumer-offset store, and hands both to the
// roles started after it through the node's component.Storage slot.
//
// # Directories
//
// Everything lives under the first directory of storage_runtime.data_path (call it D):
//
//	D/segment   segment.EngineSegment: file segments, one directory per shard (the default engine)
//	D/pebble    pebblestore: one pebble DB for every pebble shard
//	D/offsets   offsetstore: consumer-group offsets, until the Meta Service's offset group serves them
//
// The segment engine gets a directory of its own because it treats every directory under its root as
// a shard (and removes one without a meta file as an interrupted create). The memory engine keeps
// nothing on disk. More than one data_path: only the first is used today and Start logs a warning
// naming the others; spreading shards over disks needs the segment engine to take several roots.
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
