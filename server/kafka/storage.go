package kafka

import (
	"bytes"
	"encoding/binary"

	"robustmq/codec/kafka/record"
	"robustmq/shard"
)

// Header names marking the shard records that carry Kafka batches in the
// layout written before the shard Adapter had opaque batches (see the
// package doc, "Storage"). Frozen: they are on disk, and Fetch still
// serves them; Produce no longer writes them.
var (
	hdrBatch = []byte("\x00kb") // head: Value is a whole v2 batch
	hdrCont  = []byte("\x00kc") // continuation: Value nil, header value = uint32 BE distance to the head
)

// kind tells the three sorts of stored record apart.
func kind(r *shard.Record) (head bool, back int64) {
	if len(r.Headers) == 1 {
		h := &r.Headers[0]
		if bytes.Equal(h.Name, hdrBatch) {
			return true, 0
		}
		if bytes.Equal(h.Name, hdrCont) && len(h.Value) == 4 {
			return false, int64(binary.BigEndian.Uint32(h.Value))
		}
	}
	return false, -1
}

// readBatch is the outcome of reading one partition for Fetch.
type readBatch struct {
	hw, logStart int64
	err          error
}

// appendBatches appends the partition's batches from offset on to dst,
// whole batches of at most maxBytes in all (with progress, the first batch
// goes whatever its size). It reads in storage units (ReadBatches): opaque
// Kafka batches are copied as stored (their base offset is already the
// one the engine gave them; the leader epoch is set to 0, outside the
// CRC), batches of the old head/continuation layout likewise from their
// head, and runs of other records (MQTT and the like) are wrapped into
// batches built here.
func appendBatches(r *shard.Router, dst []byte, name string, offset int64, maxBytes int, progress bool,
	z *record.Compressor, tmp *[]byte) ([]byte, readBatch) {
	start := len(dst)
	var out readBatch
	first := true
	for {
		res, err := r.ReadBatches(name, offset, max(maxBytes-(len(dst)-start), 1))
		if err != nil {
			out.err = err
			return dst, out
		}
		out.hw, out.logStart = res.Latest, res.Earliest
		if first && len(res.Records) > 0 && res.Batches[0].Format == shard.BatchRecords {
			first = false
			if head, back := kind(&res.Records[0]); !head && back > 0 && res.Records[0].Offset-back >= res.Earliest {
				// The fetch starts inside an old-layout batch: serve it
				// from its head (clients skip the records below their
				// offset); a head already deleted is skipped.
				offset = res.Records[0].Offset - back
				res.Release()
				continue
			}
		}
		first = false
		full := false
		for i := 0; i < len(res.Batches) && !full; i++ {
			at := len(dst)
			dst = appendUnit(dst, &res.Batches[i], z, tmp)
			if n := len(dst) - start; n > maxBytes && !(progress && at == start) {
				dst = dst[:at] // over the limit: this batch waits for the next fetch
				full = true
			} else {
				full = n >= maxBytes
			}
		}
		if res.Next > offset {
			offset = res.Next
		}
		done := len(res.Batches) == 0 || offset >= res.Latest || full
		res.Release()
		if done {
			return dst, out
		}
	}
}

// appendUnit appends one ReadBatches unit as Kafka batches.
func appendUnit(dst []byte, u *shard.Batch, z *record.Compressor, tmp *[]byte) []byte {
	if u.Format == shard.BatchKafkaV2 {
		at := len(dst)
		dst = append(dst, u.Bytes...)
		if len(dst)-at >= record.HeaderSize {
			record.SetPartitionLeaderEpoch(dst[at:], 0)
		}
		return dst
	}
	recs := u.Records
	for i := 0; i < len(recs); {
		rec := &recs[i]
		head, back := kind(rec)
		switch {
		case head:
			at := len(dst)
			dst = append(dst, rec.Value...)
			record.SetBaseOffset(dst[at:], rec.Offset)
			record.SetPartitionLeaderEpoch(dst[at:], 0)
			i++
		case back >= 0:
			i++ // continuation of a batch served (or cut off by DeleteRecords)
		default:
			j := i
			for j < len(recs) {
				if h, b := kind(&recs[j]); h || b >= 0 {
					break
				}
				j++
			}
			dst = buildBatch(dst, recs[i:j], z, tmp)
			i = j
		}
	}
	return dst
}

// buildBatch wraps plain shard records (written by another protocol) into
// one uncompressed v2 batch with their offsets and timestamps.
func buildBatch(dst []byte, recs []shard.Record, z *record.Compressor, tmp *[]byte) []byte {
	base, ts := recs[0].Offset, recs[0].Timestamp
	maxTS := ts
	body := (*tmp)[:0]
	for i := range recs {
		r := &recs[i]
		maxTS = max(maxTS, r.Timestamp)
		kr := record.Record{TimestampDelta: r.Timestamp - ts, OffsetDelta: int32(r.Offset - base),
			Key: r.Key, Value: r.Value, NumHeaders: int32(len(r.Headers))}
		var hs []byte
		for _, h := range r.Headers {
			hs = record.AppendHeader(hs, h.Name, h.Value)
		}
		kr.Headers = hs
		body = record.AppendRecord(body, &kr)
	}
	*tmp = body
	h := record.Header{BaseOffset: base, LastOffsetDelta: int32(recs[len(recs)-1].Offset - base),
		FirstTimestamp: ts, MaxTimestamp: maxTS, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	out, err := record.AppendBatch(dst, h, body, int32(len(recs)), z)
	if err != nil { // uncompressed batches cannot fail
		return dst
	}
	return out
}
