package kafka

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/codec/kafka"
	"robustmq/codec/kafka/record"
)

// Idempotent producers. InitProducerId hands out ids from a counter seeded
// with the start time in microseconds, so ids differ across restarts
// without being stored. Per (partition, producer id) the broker keeps the
// epoch, the next expected sequence and the last maxRecent appended batches
// (sequence, count, offset):
//
//   - a batch whose (sequence, count) is among the recent ones is a retry:
//     answered with the first answer's offset, not appended again;
//   - an older epoch is INVALID_PRODUCER_EPOCH; a newer one must start at 0;
//   - any other sequence than the expected one is OUT_OF_ORDER_SEQUENCE_NUMBER;
//   - a producer the partition never saw (or forgot at a restart) is
//     accepted at any sequence, as Kafka does after its state expired.
//
// The expected sequence advances when the batch is checked (in request
// order on the connection) and rolls back if the append fails. The state
// is in memory only and bounded by maxProducers entries: past it, batches
// of new producers are appended without checks (metric
// robustmq_kafka_producer_state_full_total).

const (
	maxRecent    = 5 // Kafka keeps 5 batches per producer: clients pipeline at most 5
	maxProducers = 1 << 17
)

var producerStateFull = metrics.GetOrCreateCounter(`robustmq_kafka_producer_state_full_total`)

type pkey struct {
	shard string
	pid   int64
}

type recent struct {
	seq, count int32
	offset     int64
}

type pstate struct {
	epoch  int16
	next   int32
	recent [maxRecent]recent
	n      int // recent entries used, ring by n % maxRecent
}

type producers struct {
	nextID atomic.Int64
	mu     sync.Mutex
	m      map[pkey]*pstate // guarded by mu
}

func newProducers() *producers {
	p := &producers{m: map[pkey]*pstate{}}
	p.nextID.Store(time.Now().UnixMicro())
	return p
}

// seqCheck is the verdict on one idempotent batch.
type seqCheck struct {
	key      pkey
	tracked  bool
	seq, cnt int32
	dup      bool
	offset   int64 // dup: the first append's offset
	code     kafka.ErrorCode
}

func (p *producers) check(shardName string, b *record.Batch) seqCheck {
	k := pkey{shardName, b.ProducerID}
	out := seqCheck{key: k, seq: b.BaseSequence, cnt: b.LastOffsetDelta + 1}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.m[k]
	if st == nil {
		if len(p.m) >= maxProducers {
			producerStateFull.Inc()
			return out
		}
		st = &pstate{epoch: b.ProducerEpoch, next: b.BaseSequence}
		p.m[k] = st
	}
	switch {
	case b.ProducerEpoch < st.epoch:
		out.code = kafka.InvalidProducerEpoch
		return out
	case b.ProducerEpoch > st.epoch:
		if b.BaseSequence != 0 {
			out.code = kafka.OutOfOrderSequenceNumber
			return out
		}
		*st = pstate{epoch: b.ProducerEpoch}
	}
	for i := range min(st.n, maxRecent) {
		if r := st.recent[i]; r.seq == b.BaseSequence && r.count == out.cnt {
			out.dup, out.offset = true, r.offset
			return out
		}
	}
	if b.BaseSequence != st.next {
		out.code = kafka.OutOfOrderSequenceNumber
		return out
	}
	st.next = b.BaseSequence + out.cnt
	if st.next < 0 {
		st.next = 0 // sequences wrap at int32 max
	}
	out.tracked = true
	return out
}

// done remembers an appended idempotent batch for duplicate detection.
func (p *producers) done(c seqCheck, first int64) {
	if !c.tracked {
		return
	}
	p.mu.Lock()
	if st := p.m[c.key]; st != nil {
		st.recent[st.n%maxRecent] = recent{c.seq, c.cnt, first}
		st.n++
	}
	p.mu.Unlock()
}

// failed rolls the expected sequence back after a failed append.
func (p *producers) failed(c seqCheck) {
	if !c.tracked {
		return
	}
	p.mu.Lock()
	if st := p.m[c.key]; st != nil && st.next == c.seq+c.cnt {
		st.next = c.seq
	}
	p.mu.Unlock()
}

// forget drops the state of a deleted partition.
func (p *producers) forget(shardName string) {
	p.mu.Lock()
	for k := range p.m {
		if k.shard == shardName {
			delete(p.m, k)
		}
	}
	p.mu.Unlock()
}
