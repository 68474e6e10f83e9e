package shard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// BatchFormat names the encoding of a Batch. The values are on disk (the
// segment batch header's format bits, pebble record kinds), so they are
// frozen.
type BatchFormat uint8

const (
	// BatchRecords is a run of records appended with Append or
	// AppendAsync. In a ReadBatches result its Records are set and its
	// Bytes are nil. AppendBatch refuses it.
	BatchRecords BatchFormat = 0
	// BatchKafkaV2 is one Kafka record batch (magic 2) stored verbatim.
	// Its first 8 bytes are Kafka's baseOffset (big-endian int64, outside
	// the Kafka CRC): the engine writes the offset it assigns there in its
	// own copy (see PutBatchBase), so the stored bytes are what a Fetch
	// sends, and the caller's buffer is never written.
	BatchKafkaV2 BatchFormat = 1
)

// Valid reports whether f is a known format.
func (f BatchFormat) Valid() bool { return f == BatchRecords || f == BatchKafkaV2 }

// MaxRunRecords bounds the records of one ReadBatches result, so records
// of zero Size cannot make it unbounded.
const MaxRunRecords = 4096

// BatchBaseBytes is the size of the base-offset field that opens every
// opaque batch (see BatchKafkaV2); an opaque batch is at least this long.
const BatchBaseBytes = 8

// Batch is the unit of AppendBatch and ReadBatches: either an opaque batch
// (a Kafka record batch stored and returned as one block of bytes) or, in
// ReadBatches results only, a run of ordinary records.
type Batch struct {
	Format BatchFormat
	// Base is the offset of the batch's first record. ReadBatches sets it;
	// AppendBatch ignores it (the engine assigns offsets).
	Base int64
	// Count is the number of records: offsets Base..Base+Count-1. > 0.
	Count int
	// MaxTimestamp (ms) is what time lookups (OffsetForTimestamp) and
	// time retention see for every record of an opaque batch: the engine
	// does not look inside the batch. 0 on append means the engine's clock.
	// Read returns each record's own timestamp, as decoded.
	MaxTimestamp int64
	// Bytes is an opaque batch as stored, base offset included. On read it
	// aliases engine memory (the segment mapping) like Record slices: valid
	// until the ReadResult is released.
	Bytes []byte
	// Records holds the records of a BatchRecords run (a sub-slice of
	// ReadResult.Records).
	Records []Record
}

// BatchDecoder decodes an opaque batch so that Read, which returns records,
// can serve it: it appends one Record per record of batch, in offset order,
// to dst and returns dst. The engine sets each Offset (Base+i) afterwards,
// so the decoder needs to fill Timestamp, Key, Headers and Value; slices may
// alias batch (engine memory, valid until Release) or memory the decoder
// allocates (decompressed batches). An error, or a record count other than
// the batch's, makes the read fail with ErrCorrupt.
//
// Engines take it in their options; the layer that owns the format (Kafka)
// provides it, so this package does not depend on any protocol codec.
type BatchDecoder func(dst []Record, format BatchFormat, batch []byte) ([]Record, error)

// ErrNoDecoder is returned by Read over an opaque batch when the engine has
// no BatchDecoder. ReadBatches does not need one.
var ErrNoDecoder = errors.New("shard: no decoder for opaque batch")

// ValidateBatch checks an AppendBatch argument; the error wraps
// ErrInvalidArgument and names the shard and field.
func ValidateBatch(shard string, b *Batch) error {
	switch {
	case b.Format == BatchRecords || !b.Format.Valid():
		return fmt.Errorf("%w: shard %s: batch format %d is not an opaque format", ErrInvalidArgument, shard, b.Format)
	case b.Count <= 0 || b.Count > math.MaxInt32:
		return fmt.Errorf("%w: shard %s: batch record count %d not in [1, %d]", ErrInvalidArgument, shard, b.Count, math.MaxInt32)
	case len(b.Bytes) < BatchBaseBytes:
		return fmt.Errorf("%w: shard %s: batch of %d bytes, shorter than its %d-byte base offset", ErrInvalidArgument, shard, len(b.Bytes), BatchBaseBytes)
	}
	return nil
}

// PutBatchBase writes base into the base-offset field of an opaque batch.
// Engines call it on their stored copy. REQUIRES: len(b) >= BatchBaseBytes.
func PutBatchBase(b []byte, base int64) { binary.BigEndian.PutUint64(b, uint64(base)) }

// DecodeBatch decodes the opaque batch b (format, at offset base, count
// records) with dec, appending the records to dst with their offsets set.
// Engines call it from Read.
func DecodeBatch(dec BatchDecoder, dst []Record, format BatchFormat, b []byte, base int64, count int) ([]Record, error) {
	if dec == nil {
		return dst, fmt.Errorf("%w: format %d at offset %d", ErrNoDecoder, format, base)
	}
	n := len(dst)
	out, err := dec(dst, format, b)
	if err != nil {
		return dst, fmt.Errorf("%w: batch at offset %d: %w", ErrCorrupt, base, err)
	}
	if len(out)-n != count {
		return dst, fmt.Errorf("%w: batch at offset %d holds %d records, its header says %d", ErrCorrupt, base, len(out)-n, count)
	}
	for i := n; i < len(out); i++ {
		out[i].Offset = base + int64(i-n)
	}
	return out, nil
}

// KeepDecoded keeps, of the records r.Records[n:] just decoded from one
// batch (DecodeBatch), those at offsets >= from while r holds fewer than
// maxRecords records and, past its first record, their Size fits
// maxBytes; it drops the rest, adds the kept sizes to r.Bytes and returns
// how many it kept. Engines call it from Read.
func (r *ReadResult) KeepDecoded(n int, from int64, maxRecords, maxBytes int) int {
	w := n
	for i := n; i < len(r.Records); i++ {
		if r.Records[i].Offset < from {
			continue
		}
		size := r.Records[i].Size()
		if w >= maxRecords || (w > 0 && r.Bytes+size > maxBytes) {
			break
		}
		r.Records[w] = r.Records[i]
		r.Bytes += size
		w++
	}
	clear(r.Records[w:])
	r.Records = r.Records[:w]
	return w - n
}

// AddToRun counts the record at offset off, just appended to res.Records,
// into res.Batches: it extends the trailing BatchRecords run or opens one.
// Engines building a ReadBatches result call it, and LinkRuns at the end.
func (r *ReadResult) AddToRun(off int64) {
	if n := len(r.Batches); n > 0 && r.Batches[n-1].Format == BatchRecords {
		r.Batches[n-1].Count++
		return
	}
	r.Batches = append(r.Batches, Batch{Format: BatchRecords, Base: off, Count: 1})
}

// LinkRuns points the Records of every BatchRecords run at its part of
// r.Records (runs take consecutive records, in order). Engines call it
// once r.Records is complete: appending to it may move the array.
func (r *ReadResult) LinkRuns() {
	k := 0
	for i := range r.Batches {
		b := &r.Batches[i]
		if b.Format == BatchRecords {
			b.Records = r.Records[k : k+b.Count : k+b.Count]
			k += b.Count
		}
	}
}
