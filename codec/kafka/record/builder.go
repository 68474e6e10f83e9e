package record

import (
	"encoding/binary"
	"hash/crc32"
)

// AppendRecord appends one record (length-prefixed, as inside a batch) to
// dst. Headers are given as alternating key, value slices; a nil value is
// null.
func AppendRecord(dst []byte, r *Record) []byte {
	var tmp [64]byte
	body := tmp[:0]
	body = append(body, byte(r.Attributes))
	body = binary.AppendVarint(body, r.TimestampDelta)
	body = binary.AppendVarint(body, int64(r.OffsetDelta))
	n := len(body) + lenBytesSize(r.Key) + lenBytesSize(r.Value) + varintSize(int64(r.NumHeaders)) + len(r.Headers)
	dst = binary.AppendVarint(dst, int64(n))
	dst = append(dst, body...)
	dst = appendLenBytes(dst, r.Key)
	dst = appendLenBytes(dst, r.Value)
	dst = binary.AppendVarint(dst, int64(r.NumHeaders))
	return append(dst, r.Headers...)
}

// AppendHeader appends one header (key, value; nil value is null) to an
// encoded headers section, for Record.Headers.
func AppendHeader(dst, key, value []byte) []byte {
	return appendLenBytes(appendLenBytes(dst, key), value)
}

func appendLenBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	return append(binary.AppendVarint(dst, int64(len(b))), b...)
}

func lenBytesSize(b []byte) int {
	if b == nil {
		return 1
	}
	return varintSize(int64(len(b))) + len(b)
}

func varintSize(v int64) int {
	var tmp [binary.MaxVarintLen64]byte
	return len(binary.AppendVarint(tmp[:0], v))
}

// AppendBatch appends a v2 batch holding records (already encoded with
// AppendRecord, count of them) to dst. From h it takes BaseOffset,
// PartitionLeaderEpoch, Attributes (whose compression bits choose the
// codec), LastOffsetDelta, timestamps, producer id/epoch and base sequence;
// it fills Length, Magic, CRC and NumRecords. z may be nil when the batch is
// not compressed.
func AppendBatch(dst []byte, h Header, records []byte, count int32, z *Compressor) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	var err error
	if c := h.Compression(); c == None {
		dst = append(dst, records...)
	} else if dst, err = z.Compress(dst, records, c); err != nil {
		return nil, err
	}
	b := dst[start:]
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(h.BaseOffset))
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-lengthOverhead))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(h.PartitionLeaderEpoch))
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(h.Attributes))
	binary.BigEndian.PutUint32(b[offLastDelta:], uint32(h.LastOffsetDelta))
	binary.BigEndian.PutUint64(b[offFirstTime:], uint64(h.FirstTimestamp))
	binary.BigEndian.PutUint64(b[offMaxTime:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(h.ProducerID))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(h.ProducerEpoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(h.BaseSequence))
	binary.BigEndian.PutUint32(b[offCount:], uint32(count))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return dst, nil
}
