// Package segment is robustmq's file-segment storage engine
// (shard.EngineSegment), the default for persistent topics. EngineSegment
// implements shard.Engine; it passes the shard/shardtest conformance suite.
//
// # Layout
//
// One directory per shard under a root (the shard name, %XX-escaped; the
// real name is in the meta file). The roots are Options.Dir and
// Options.Dirs (other disks): CreateShard picks the root holding the fewest
// shards (the first on ties), Open mounts every root and refuses a shard
// found in two. In a shard directory:
//
//	shard.meta                    config and log start offset (atomic rewrite)
//	00000000000000000000.log      segment data: batches, back to back
//	00000000000000000000.index    sparse offset index of that segment
//	00000000000000000000.timeindex time index of that segment
//	00000000000000004711.log      next segment, named by its base offset
//	...
//
// The last segment is active (written); the others are sealed. A segment
// rolls when the next batch would pass the shard's SegmentBytes (default
// 1 GiB) or the segment is older than Options.SegmentMaxAge. A batch larger
// than SegmentBytes gets a segment of its own (at most MaxBatchBytes).
//
// # Batch format (frozen)
//
// All integers little endian. A batch is what one AppendAsync or
// AppendBatchAsync appends:
//
//	offset size field
//	0      4    length          whole batch, header included
//	4      4    crc             CRC32C (Castagnoli) of bytes [8, length)
//	8      1    magic           0xB5
//	9      1    version         1
//	10     2    attributes      bits 0-2 format: 0 robustmq record frames,
//	                            1 a verbatim Kafka v2 batch; rest 0
//	12     4    record count    > 0
//	16     8    base offset     offset of the first record
//	24     4    last delta      offset delta of the last record
//	28     2    producer epoch  -1: none
//	30     2    reserved        0
//	32     8    first timestamp ms; record timestamps are deltas from it
//	40     8    max timestamp   ms
//	48     8    raft term       AppendOptions.Term (0: not replicated)
//	56     8    producer id     -1: none
//	64     4    base sequence   -1: none
//	68     4    reserved        0
//	72     ...  format 0: record frames, count of them;
//	            format 1: the Kafka batch as appended, its first 8 bytes
//	            set to the base offset (big endian, shard.PutBatchBase);
//	            last delta = count-1, first = max timestamp = the
//	            Batch's MaxTimestamp
//
// A record frame (varint = zig-zag signed, uvarint = unsigned LEB128;
// "bytes" is a varint length, -1 for nil, then the bytes):
//
//	uvarint  body length    bytes after the CRC
//	4        crc            CRC32C of the body
//	body:
//	1        attributes     0
//	uvarint  offset delta   strictly increasing within the batch
//	varint   timestamp delta from the batch's first timestamp
//	bytes    key
//	uvarint  header count;  per header: uvarint name length, name, bytes value
//	uvarint  tag count;     per tag: uvarint length, tag
//	bytes    value
//
// So every record carries its own CRC32C and the batch a CRC over header
// and payload (for format 1 only the batch CRC: the payload is opaque).
// Reads give every record its batch's term (Record.Term). Read decodes a
// format 1 batch with Options.Decoder; ReadBatches returns its payload as a
// view of the mapping; ReadByKey/ReadByTag skip it; time lookups see its
// max timestamp; TruncateTo refuses an offset inside it. Recovery and index
// rebuilds check both; reads check the batch CRC (which covers every
// record) of each batch they return records from, once (see
// Verification). The decoder returns views into the mapping and never
// copies.
//
// # Index formats (frozen)
//
// The offset index is a sequence of 8-byte entries (rel uint32, pos uint32):
// the batch with base offset segment base + rel starts at byte pos. The
// first entry is (0, 0); rel and pos strictly increase. An entry is taken
// for a segment's first batch and then for the first batch after
// IndexIntervalBytes (4 KiB) of log or IndexIntervalRecords records.
//
// The time index is a sequence of 12-byte entries (ts int64, rel uint32),
// one per offset index entry: every record of the segment below rel has a
// timestamp <= ts (the running max before that batch). A sealed segment's
// time index ends with one more entry (segment max timestamp, record
// count). Timestamps need not be monotonic: a lookup for t starts at the
// last entry whose ts < t, which is exact.
//
// Indexes are hints checked against the log: on mount (active segment) and
// at first use (sealed segments, loaded lazily) a missing, short or
// inconsistent index is rebuilt from the log. Index entries are written
// only after the fsync that made their batch durable, so a persisted entry
// never points past durable data; index files are themselves never fsynced
// except when a seal finishes. The active segment's entries reach the file in
// groups of indexPersistEntries (32), so recovery rescans at most that many
// intervals.
//
// # Meta file (frozen)
//
//	0  4 "RMQS"   4  4 version 1   8 8 retention bytes   16 8 retention ms
//	24 8 segment bytes   32 8 log start offset   40 2 name length   42 n name
//	42+n 4 CRC32C of everything before it
//
// # Write path and group commit
//
// AppendAsync computes the batch size, reserves that many bytes in the
// shard's worker queue (Options.QueueBytes per worker; when full the caller
// waits, or gets shard.ErrQueueFull with FailFast), then, under the shard's
// mu, assigns offsets (dense, in call order) and encodes the batch into the
// shard's pending buffer, so callers may reuse their buffers at once (the
// buffer grows by doubling; the clock is read only for records without a
// timestamp). Bytes leave the queue when the worker takes the buffer, so
// appenders fill the next one while it is written (the round being written
// is the second buffer, bounded by what the queue held). The
// shard is queued on its worker at most once (shard -> worker by hash, so
// one shard's batches stay ordered; Options.Workers, default 2 x
// GOMAXPROCS). A worker round takes every queued shard, swaps out each
// pending buffer (double buffered: no allocation in steady state), writes
// it with one pwrite per segment touched, then issues one fdatasync per
// active segment that a Sync append or a flush needs (group commit), then
// publishes the new high-water mark and completes every append of the
// round in order. DurabilityNone appends complete after the write, without
// waiting for an fsync; they are readable at once and may be lost by a
// crash (not by a process kill: they are in the page cache) until the next
// fsync (a Sync append on the shard, Flush, or the FlushInterval tick).
//
// A roll does not fsync on the write path (a 1 GiB segment's writeback
// would stall every shard of the worker): the sealed segment goes to the
// engine's syncer goroutine (queue bounded; when full it is left to the
// next durable round or flush tick), which fsyncs it without the shard's
// ioMu and then finishes the seal (final index entries, index fsync,
// preallocation released). A round that needs durability first makes any
// still-unsynced sealed segments durable, oldest first, so segments always
// become durable in order and a durable byte never follows a hole.
//
// Before taking the queue a worker yields (at most maxYields times, each
// returning at once when nothing else is runnable) while less is queued than
// its last round wrote, so producers woken by the last round's callbacks
// join the next group instead of trailing it.
//
// Memory: each shard double-buffers its encoded appends; both buffers are
// bounded by the worker's QueueBytes (plus one oversized batch), and the
// FlushInterval tick drops buffers that recent rounds fill to less than a
// quarter, so a burst's memory does not stay with a quiet shard.
//
// Readers see a batch only once it is acknowledged: a segment's visible
// length and the shard's high-water mark move at completion.
//
// Failures: a write or fallocate error (ENOSPC: ErrDiskFull) cuts what the
// write left in the file, fails that append and every one queued behind it
// (their offsets are given back), and leaves the shard readable and
// writable. A failed fsync is fatal for the shard (ErrFailed): nothing of
// the round is acknowledged, later appends fail, nothing is retried; a
// reopen recovers from what is really on disk.
//
// # Files and mappings
//
// Data is written with pwrite on the file descriptor, never through the
// mapping, so a torn write is a short or garbled file tail. Files grow in
// fallocate(KEEP_SIZE) steps of PreallocBytes, so the file size is the data
// size. A segment is mapped read-only (MAP_SHARED) on its first read, over
// SegmentBytes for the active one so it never needs a remap; reads are
// bounded by the visible length, which never exceeds the file size, so no
// read faults past EOF (no SIGBUS). Mapped memory is not Go heap.
//
// File descriptors: a mounted segment holds none until it is read or
// written; a written active segment holds three (log, two indexes), a read
// sealed segment one. A broker with many busy shards needs its fd limit
// raised accordingly (like Kafka).
//
// Segments are reference counted: the shard holds one reference while the
// segment is in its list, each ReadResult one per segment it has views
// into, taken under the shard's mu. The last release unmaps and closes
// (and, after TruncateTo with live readers, cuts the file). A file is never
// shrunk below what a live reader may look at.
//
// # Recovery
//
// Open mounts every shard directory in parallel. Sealed segments cost one
// directory entry each (opened, mapped and index-checked on first use),
// plus one 12-byte read of the newest one's time index (is its seal
// finished?).
// The active segment is opened, its indexes loaded and checked (the last
// entry must point at an intact batch with the offset it names; walk back
// until one does), and the log is scanned from there: every batch must
// pass its CRC, decode, and continue the offsets. The first batch that
// does not (torn write, bad CRC) and everything after it are cut; the cut
// is logged and counted (robustmq_storage_segment_truncated_bytes_total).
// Sealed segments whose seal never finished (their time index lacks the
// final entry) are found by walking back from the newest and recovered the
// same way; an intact one is fsynced and its seal finished, a torn one ends
// the log and the segments after it are dropped (segments become durable
// in order, so nothing after it was ever durable).
// A bad batch anywhere else is reported on read as ErrCorrupt (wrapping
// shard.ErrCorrupt), never returned as data.
//
// # Verification
//
// Each segment keeps one verified byte range [lo, hi) in memory (packed in
// an atomic; lost on close): batches inside it are read without their CRC
// check, which was a third of a consuming Kafka broker's CPU. The range
// grows from three sources, always batch-aligned and only by intervals
// that touch or overlap it (a disjoint one is dropped unless the range is
// empty):
//   - recovery's tail scan and index rebuilds (they checked every CRC);
//   - each round's publish: bytes this process encoded, CRC'd and wrote
//     whole (pwrite returned them all) before they became visible;
//   - reads: the contiguous batches a read checked (or found verified),
//     so the first read of a region pays for it and later ones do not.
//
// A batch outside the range is checked on every read until one passes,
// so corruption in bytes nobody verified since the mount (a sealed
// segment of an earlier run, the active segment before recovery's last
// index entry) is still reported as ErrCorrupt. The trade-off, Kafka's:
// a byte that changes on disk after verification (bit rot under an
// evicted page) is served as is until the next mount. Kafka brokers do
// not re-verify batches on fetch either; Kafka clients check each batch's
// CRC themselves (the stored Kafka v2 batch keeps the client's CRC), and
// recovery still verifies torn tails. The range never covers bytes past
// visible that a later write could replace: a failed write is cut before
// publish, and TruncateTo seals the cut segment (new data goes to a new
// segment).
//
// # Replication hooks
//
// Every batch header carries the raft term of its append
// (AppendOptions.Term), kept through recovery. TruncateTo removes a suffix
// (indexes included) crash-safely: the surviving part of the batch holding
// the cut is written to a new segment before anything is removed, later
// segments are unlinked newest first, and readers holding views of the
// removed records keep them until they release.
//
// # Retention
//
// EnforceRetention (and a ticker every RetentionInterval) deletes whole
// sealed segments from the front while the rest still holds RetentionBytes,
// or whose max timestamp is older than RetentionMs, or that lie wholly
// below the log start. DeleteRecords persists the new log start in the
// meta file first. Reads below the log start fail with
// shard.ErrOffsetOutOfRange. The active segment is never deleted.
//
// # Reads
//
// Read, ReadByKey, ReadByTag and OffsetForTimestamp find the segment by
// base offset, start at the floor entry of its offset index (checked
// against the batch it names; a sealed segment's index is rebuilt if they
// disagree) and decode forward. A read that reaches a corrupt batch after
// returning records stops there without error; one that starts at it fails
// with ErrCorrupt. ReadByKey and ReadByTag examine at most maxLookupScan
// (64 MiB) of log per call; Next says where to continue.
//
// # Shard directories
//
// CreateShard and DeleteShard are serialized per engine (adminMu).
// DeleteShard renames the directory to ".trash-N-<name>" under its root before
// removing it, so a shard of the same name can be created at once; mount
// removes trash and directories without a meta file (interrupted creates).
//
// # Benchmarks
//
//	go test -run '^$' -bench . -benchmem ./segment/
//
// prints each engine benchmark next to its bench/rawdisk baseline from the
// same run (x_raw is the ratio): Sync appends of 1 KiB records from 1
// producer against a write+fdatasync loop, and from 64 producers against
// rawdisk.Writer's group commit (64 goroutines) in paired rounds whose
// median ratio is x_raw (x_raw_min, x_raw_max: the spread); None appends
// against plain pwrites of the record size, each bounded to the same
// footprint (the baseline wraps its file, the engine deletes its shard)
// so both measure the page cache rather than the disk, with the process
// CPU per append (cpu-ns/op, steadier than wall time on a loaded machine);
// cached reads against pread of the same file (ReadBatches also against
// itself with every read checking every CRC, as before verified ranges:
// x_crc_every_read), and the mount of 10,000
// shards. TestCrash (100 SIGKILL rounds; ROBUSTMQ_SOAK=1 or make
// soak for 2000) proves acknowledged records survive.
//
// # Lock order
//
// shardLog.ioMu -> shardLog.mu -> worker.mu / WaitList.mu. ioMu serializes
// everything that writes a shard's files (the worker's round, TruncateTo,
// retention, delete, close); a worker holds the ioMu of every shard of its
// round from write to completion, and nothing holding an ioMu waits for a
// worker. Append and Wait callbacks run on the worker with no lock held;
// they must not block (they hand the result to their owner), as the next
// round of every shard of that worker waits for them.
package segment
