// Package rawdisk is the raw-disk baseline that storage benchmarks measure
// in the same run as the engine they judge: plain appends to one file with
// fsync, no engine, no encoding. It is not internal on purpose: segment/
// and other storage packages import it for their own benchmarks, so every
// engine is compared with the same yardstick.
//
// Two modes, for the two honest comparisons:
//   - AppendSerial: write + fsync per call, callers serialized. What a naive
//     engine without group commit gets.
//   - Append: group commit. Writes are serialized; one caller (the leader)
//     fsyncs for everyone whose write landed before its fsync began, the
//     others wait for it. The ceiling for an engine with group commit.
//
// Writer is safe for concurrent use. It is a measuring tool: an fsync error
// is returned, not treated as fatal.
//
// bench/rawdisk is the single-writer baseline (pwrite + fdatasync per batch,
// bounded file) that segment/ measures against; this package is the one for
// many concurrent producers, where group commit is what an engine must
// match.
package rawdisk
