// Package memory is the in-memory storage engine (shard.EngineMemory).
//
// Each shard is a log of records encoded (shard/internal/rec) into large
// chunk arenas, so an append allocates nothing per record: bytes are copied
// into the current chunk and an index entry is appended to a slice. Reads
// return views into the chunks and pin every chunk they touch; Release
// unpins. A chunk dropped by retention is recycled (engine free list, at most
// maxFreeChunks) only when the last pin is gone, so views stay valid until
// Release and steady-state appends allocate no chunk memory.
//
// Chunk life: chunk.state counts pins, plus retiredBit once the log dropped
// the chunk. Pins are taken under the shard's read lock, retirement under its
// write lock, so no pin is taken after retirement; whoever moves state to
// exactly retiredBit (the retiring appender, or the last Release) recycles.
//
// Indexes per shard, all pruned as the oldest records are dropped. The
// record index and every posting list are FIFO rings (ring.go), reused in
// place, so the steady-state append allocates nothing at all:
//   - offset: ents.at(i) describes offset start+i (chunk, position, length,
//     timestamp, key hash);
//   - key and tag: map from maphash of the key/tag to the ascending offsets
//     carrying it; hash collisions are resolved by comparing the bytes;
//   - time: a sparse list of marks (running max timestamp before offset o,
//     o), one per markEvery records (see package shard's doc).
//
// Limits: each shard keeps at most Options.MaxShardBytes (and its
// RetentionBytes, applied at once on append), and the engine at most
// Options.MaxBytes; past either, the oldest records are dropped and counted
// in robustmq_storage_memory_dropped_records_total. Bytes are counted as
// encoded bytes. Each shard settles its byte count into the engine-wide
// counter in steps of accountStep, so appends to different shards do not
// all write one atomic: MaxBytes holds within shards*accountStep. Past
// MaxBytes the appending shard drops its own oldest records first, then the
// other shards theirs, one shard at a time: "oldest" is per shard, not a
// global age order (that would need a global queue). Limit drops count as
// dropped; RetentionBytes and RetentionMs drops are retention and do not.
// A batch larger than a limit fails with shard.ErrRecordTooLarge.
//
// Everything is lost on restart, by contract. Durability is ignored: Sync
// appends ack like None.
//
// Concurrency: one RWMutex per shard guards its log; the shard table is a
// lock-free shard.Table. Append callbacks run inside AppendAsync. No
// method holds two shard locks; global-limit eviction takes other shards'
// locks one at a time after releasing its own.
package memory
