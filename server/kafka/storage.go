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

// piece is one run of a Fetch answer's record bytes: a view of storage
// (view set; engine memory kept by a held ReadResult) or a range of the
// connection's fetch buffer (batches built or rewritten here), resolved
// once every partition is read, as appends may move the buffer.
type piece struct {
	view     []byte
	from, to int
}

// fetchRead is one Fetch's reading state (per connection, reused): the
// pieces of every partition in order, the buffer behind the built ones,
// and the read results holding the views, released once the answer is
// encoded (release).
type fetchRead struct {
	pieces  []piece
	buf     []byte
	held    []*shard.ReadResult
	z       record.Compressor
	scratch []byte // records of batches built for plain shard records
}

// release gives back every held read result and forgets the views.
func (f *fetchRead) release() {
	for _, res := range f.held {
		res.Release()
	}
	clear(f.held)
	f.held = f.held[:0]
	clear(f.pieces)
	f.pieces = f.pieces[:0]
	f.buf = f.buf[:0]
}

// bytesOf resolves pieces[from:to] into views, appended to dst.
func (f *fetchRead) bytesOf(dst [][]byte, from, to int) [][]byte {
	for _, pc := range f.pieces[from:to] {
		if pc.view == nil {
			pc.view = f.buf[pc.from:pc.to:pc.to]
		}
		dst = append(dst, pc.view)
	}
	return dst
}

// read adds the partition's batches from offset on to f's pieces, whole
// batches of at most maxBytes in all (with progress, the first batch goes
// whatever its size), and returns their size. It reads in storage units
// (ReadBatches): opaque Kafka batches become views of storage as stored
// (Produce stamped their leader epoch 0, the engine their base offset);
// batches of the old head/continuation layout are copied from their head
// with the base offset and leader epoch set, and runs of other records
// (MQTT and the like) are wrapped into batches built here. The views stay
// valid until release.
func (f *fetchRead) read(r *shard.Router, name string, offset int64, maxBytes int, progress bool) (int, readBatch) {
	var out readBatch
	n := 0
	first := true
	for {
		res, err := r.ReadBatches(name, offset, max(maxBytes-n, 1))
		if err != nil {
			out.err = err
			return n, out
		}
		out.hw, out.logStart = res.Latest, res.Earliest
		if first && len(res.Records) > 0 && res.Batches[0].Format == shard.BatchRecords {
			if head, back := kind(&res.Records[0]); !head && back > 0 && res.Records[0].Offset-back >= res.Earliest {
				// The fetch starts inside an old-layout batch: serve it
				// from its head (clients skip the records below their
				// offset); a head already deleted is skipped.
				first = false
				offset = res.Records[0].Offset - back
				res.Release()
				continue
			}
		}
		first = false
		f.held = append(f.held, res)
		full := false
		for i := 0; i < len(res.Batches) && !full; i++ {
			pieces, buf := len(f.pieces), len(f.buf)
			size := f.unit(&res.Batches[i])
			if n+size > maxBytes && !(progress && n == 0) {
				// Over the limit: this batch waits for the next fetch.
				clear(f.pieces[pieces:])
				f.pieces, f.buf = f.pieces[:pieces], f.buf[:buf]
				full = true
			} else {
				n += size
				full = n >= maxBytes
			}
		}
		if res.Next > offset {
			offset = res.Next
		}
		if len(res.Batches) == 0 || offset >= res.Latest || full {
			return n, out
		}
	}
}

// unit adds one ReadBatches unit as Kafka batches and returns its size.
func (f *fetchRead) unit(u *shard.Batch) int {
	if u.Format == shard.BatchKafkaV2 {
		f.pieces = append(f.pieces, piece{view: u.Bytes})
		return len(u.Bytes)
	}
	start := len(f.buf)
	recs := u.Records
	for i := 0; i < len(recs); {
		rec := &recs[i]
		head, back := kind(rec)
		switch {
		case head:
			at := len(f.buf)
			f.buf = append(f.buf, rec.Value...)
			record.SetBaseOffset(f.buf[at:], rec.Offset)
			record.SetPartitionLeaderEpoch(f.buf[at:], 0)
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
			f.buf = buildBatch(f.buf, recs[i:j], &f.z, &f.scratch)
			i = j
		}
	}
	if len(f.buf) > start {
		f.pieces = append(f.pieces, piece{from: start, to: len(f.buf)})
	}
	return len(f.buf) - start
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
