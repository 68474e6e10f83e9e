package kafka

import (
	"bytes"
	"encoding/binary"

	"robustmq/codec/kafka/record"
	"robustmq/shard"
)

// Header names marking the shard records that carry Kafka batches (see the
// package doc, "Storage"). Frozen: they are on disk.
var (
	hdrBatch = []byte("\x00kb") // head: Value is a whole v2 batch
	hdrCont  = []byte("\x00kc") // continuation: Value nil, header value = uint32 BE distance to the head
)

// batchRecords appends the shard records of one validated batch b to recs:
// a head holding b.Raw and one continuation per further offset, so shard
// offsets stay Kafka offsets. marks and hdrs hold the continuations'
// header values and headers; the caller sizes them first (4 bytes and one
// Header per offset) so the views taken here stay put and nothing is
// allocated per record.
func batchRecords(recs []shard.Record, marks []byte, hdrs []shard.Header, b *record.Batch) ([]shard.Record, []byte, []shard.Header) {
	n := int(b.LastOffsetDelta) + 1
	hdrs = append(hdrs, shard.Header{Name: hdrBatch})
	recs = append(recs, shard.Record{Timestamp: b.FirstTimestamp, Value: b.Raw, Headers: hdrs[len(hdrs)-1 : len(hdrs) : len(hdrs)]})
	for i := 1; i < n; i++ {
		start := len(marks)
		marks = binary.BigEndian.AppendUint32(marks, uint32(i))
		hdrs = append(hdrs, shard.Header{Name: hdrCont, Value: marks[start:len(marks):len(marks)]})
		recs = append(recs, shard.Record{Timestamp: b.MaxTimestamp, Headers: hdrs[len(hdrs)-1 : len(hdrs) : len(hdrs)]})
	}
	return recs, marks, hdrs
}

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

// readChunk is how many shard records one engine read returns at most.
const readChunk = 1024

// appendBatches appends the partition's batches from offset on to dst,
// whole batches of at most maxBytes in all (with progress, the first batch
// goes whatever its size): stored Kafka batches as they are with their
// base offset set, other records (MQTT and the like) wrapped into batches
// built here.
func appendBatches(r *shard.Router, dst []byte, name string, offset int64, maxBytes int, progress bool,
	z *record.Compressor, tmp *[]byte) ([]byte, readBatch) {
	start := len(dst)
	var out readBatch
	first := true
	for {
		res, err := r.Read(name, offset, readChunk, max(maxBytes-(len(dst)-start), 1))
		if err != nil {
			out.err = err
			return dst, out
		}
		out.hw, out.logStart = res.Latest, res.Earliest
		recs := res.Records
		if first && len(recs) > 0 {
			first = false
			if head, back := kind(&recs[0]); !head && back > 0 {
				// The fetch starts inside a batch: serve that batch from
				// its head when it is still there (clients skip the
				// records below their offset), else skip to the next head.
				if recs[0].Offset-back >= res.Earliest {
					offset = recs[0].Offset - back
					res.Release()
					continue
				}
			}
		}
		i, full := 0, false
		for i < len(recs) && !full {
			rec := &recs[i]
			head, back := kind(rec)
			at := len(dst)
			switch {
			case head:
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
			if n := len(dst) - start; n > maxBytes && !(progress && at == start) {
				dst = dst[:at] // over the limit: this batch waits for the next fetch
				full = true
			} else {
				full = n >= maxBytes
			}
		}
		if len(recs) > 0 {
			offset = recs[i-1].Offset + 1
		}
		done := len(recs) == 0 || offset >= res.Latest || full
		res.Release()
		if done {
			return dst, out
		}
	}
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
