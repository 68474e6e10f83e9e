package engine

import (
	"errors"
	"fmt"
	"sync"

	"robustmq/codec/kafka/record"
	"robustmq/shard"
)

// decompressors holds idle record.Decompressors: one is used by one decode
// at a time (they keep codec state) and engines decode on many goroutines.
var decompressors = sync.Pool{New: func() any { return new(record.Decompressor) }}

// errNotKafka refuses a batch of a format this decoder does not read.
var errNotKafka = errors.New("engine: opaque batch is not a Kafka v2 batch")

// DecodeKafka is the shard.BatchDecoder the node gives every engine (and
// a broker without the engine role its memory engine): it
// serves Kafka batches stored by AppendBatch to Read (MQTT and NATS
// consumers of a Kafka topic). Records alias the stored batch, or, for a
// compressed batch, a buffer allocated per call (it must outlive the call:
// the records point into it until the ReadResult is released). Timestamps
// follow Kafka: the batch's max timestamp for LogAppendTime batches, else
// first timestamp + delta. Control records (transaction markers) come back
// like any record: they hold offsets.
func DecodeKafka(dst []shard.Record, format shard.BatchFormat, raw []byte) ([]shard.Record, error) {
	if format != shard.BatchKafkaV2 {
		return dst, fmt.Errorf("%w: format %d", errNotKafka, format)
	}
	b, rest, err := record.Next(raw)
	if err != nil {
		return dst, err
	}
	if len(rest) != 0 {
		return dst, fmt.Errorf("%w: %d bytes after the batch", errNotKafka, len(rest))
	}
	d := decompressors.Get().(*record.Decompressor)
	data, err := d.Records(&b, nil)
	decompressors.Put(d)
	if err != nil {
		return dst, err
	}
	it := record.NewIter(data, b.NumRecords)
	var r record.Record
	for it.Next(&r) {
		x := shard.Record{Timestamp: b.FirstTimestamp + r.TimestampDelta, Key: r.Key, Value: r.Value}
		if b.LogAppendTime() {
			x.Timestamp = b.MaxTimestamp
		}
		if r.NumHeaders > 0 {
			x.Headers = make([]shard.Header, 0, r.NumHeaders)
			for h := r.HeaderIter(); h.Next(); {
				x.Headers = append(x.Headers, shard.Header{Name: h.Key, Value: h.Value})
			}
		}
		dst = append(dst, x)
	}
	return dst, it.Err()
}
