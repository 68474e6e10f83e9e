package kafka

import (
	"time"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/codec/kafka"
	"robustmq/codec/kafka/record"
	"robustmq/shard"
)

// Produce v3-v13 (v0-v2 carry message sets v0/v1, which are refused; v13
// names topics by id: an unknown id is UNKNOWN_TOPIC_ID). Each partition's Records are checked batch by batch
// (magic 2, CRC32C, compression codec known, size <= the topic's
// max.message.bytes, else MaxMessageBytes,
// count = last offset delta + 1) and each batch is appended as one opaque
// shard batch, stored as received (shard AppendBatchAsync; see "Storage"
// in doc.go). A partition holding several batches (clients send one)
// appends them in order and answers once all are done: the first batch's
// base offset, or the first error (earlier batches may then be stored). acks=0 appends and never answers; acks=1 answers
// once the records are in the engine (DurabilityNone), acks=-1 once they
// are fsynced (DurabilitySync). Idempotent batches (producer id >= 0) are
// checked against the partition's sequence state (producers.go).
// Transactional batches are refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED
// (53): transactions are not implemented.

const codeTxnRefused = kafka.ErrorCode(53) // TRANSACTIONAL_ID_AUTHORIZATION_FAILED

// produceLoopWait is how long an appended batch's completion waits for
// the connection's event loop (Conn.Do) before the answer is built: with
// robustmq_storage_segment_queue_wait_seconds and _round_seconds it
// splits a Produce's duration into storage and loop queueing.
var produceLoopWait = metrics.GetOrCreateHistogram(`robustmq_kafka_produce_loop_wait_seconds`)

func init() { register(0, 3, 13, serveProduce) }

// produce is one Produce request waiting for its appends; handler goroutine
// only.
type produce struct {
	resp    kafka.ProduceResponse
	pending int
	silent  bool
}

func serveProduce(s *Server, c *conn, sl *slot, m kafka.Message) error {
	req := m.(*kafka.ProduceRequest)
	if req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
		return c.produceError(sl, req, kafka.InvalidRequiredAcks)
	}
	if req.TransactionalID != nil {
		return c.produceError(sl, req, codeTxnRefused)
	}
	opt := shard.AppendOptions{FailFast: true}
	if req.Acks == -1 {
		opt.Durability = shard.DurabilitySync
	}
	p := &produce{silent: req.Acks == 0}
	p.resp.Topics = make([]kafka.ProduceResponseTopic, len(req.Topics))
	for ti := range req.Topics {
		rt := &req.Topics[ti]
		out := &p.resp.Topics[ti]
		out.Name = append([]byte(nil), rt.Name...) // outlives the input
		out.TopicID = rt.TopicID
		out.Partitions = make([]kafka.ProduceResponseTopicPartition, len(rt.Partitions))
		t, missing := s.topics.lookup(rt.Name, rt.TopicID, sl.version >= 13)
		for pi := range rt.Partitions {
			rp := &rt.Partitions[pi]
			op := &out.Partitions[pi]
			*op = kafka.ProduceResponseTopicPartition{Index: rp.Index, BaseOffset: -1, LogAppendTimeMs: -1,
				LogStartOffset: -1}
			if t == nil || rp.Index < 0 || int(rp.Index) >= len(t.shards) {
				code := kafka.UnknownTopicOrPartition
				if t == nil {
					code = missing
				}
				op.ErrorCode = int16(code)
				countErr(0, code)
				continue
			}
			name := t.shards[rp.Index]
			batches, seq, code := c.prepare(rp.Records, name, t.maxBytes(s.opts.MaxMessageBytes))
			if code != kafka.None {
				op.ErrorCode = int16(code)
				countErr(0, code)
				continue
			}
			if seq.dup {
				op.BaseOffset = seq.offset
				continue
			}
			p.pending++
			pp := &partAppend{op: op, name: name, seq: seq, left: len(batches)}
			for i := range batches {
				s.opts.Router.AppendBatchAsync(name, batches[i], opt, func(first int64, err error) {
					at := time.Now()
					c.later(func() {
						produceLoopWait.Update(time.Since(at).Seconds())
						c.batchAppended(sl, p, pp, i == 0, first, err)
					})
				})
			}
			if s.opts.OnProduce != nil {
				s.opts.OnProduce(t.bname, rp.Index, rp.Records)
			}
		}
	}
	if p.pending == 0 {
		c.finishProduce(sl, p)
	}
	return nil
}

// prepare validates one partition's batches and describes them as opaque
// shard batches in the connection's scratch (valid until the next
// prepare; Bytes are views of in, which AppendBatchAsync copies).
func (c *conn) prepare(in []byte, name string, maxBatch int) ([]shard.Batch, seqCheck, kafka.ErrorCode) {
	c.batches = c.batches[:0]
	var seq seqCheck
	if len(in) == 0 {
		return nil, seq, kafka.CorruptMessage
	}
	for rest := in; len(rest) > 0; {
		b, r, err := record.Next(rest)
		if err != nil {
			return nil, seq, record.ErrorCode(err)
		}
		if len(b.Raw) > maxBatch {
			return nil, seq, kafka.MessageTooLarge
		}
		if b.NumRecords != b.LastOffsetDelta+1 || b.NumRecords == 0 || b.Control() {
			return nil, seq, kafka.CorruptMessage
		}
		if b.Transactional() {
			return nil, seq, codeTxnRefused
		}
		if b.Compression() != record.None {
			// Decompress once to prove the batch is readable (a consumer
			// must not find a poisoned batch); the stored bytes stay
			// compressed.
			var err error
			if c.tmp, err = c.dec.Records(&b, c.tmp[:0]); err != nil {
				return nil, seq, record.ErrorCode(err)
			}
		}
		if b.ProducerID >= 0 {
			if len(r) > 0 || len(c.batches) > 0 {
				return nil, seq, kafka.InvalidRequest // one idempotent batch per partition, as clients send
			}
			seq = c.s.pids.check(name, &b)
			if seq.code != kafka.None || seq.dup {
				return nil, seq, seq.code
			}
		}
		// Stamp this broker's leader epoch (outside the CRC) in the
		// request, which is ours until OnData returns: stored batches are
		// then sent by Fetch as they are, without a copy to rewrite it.
		record.SetPartitionLeaderEpoch(b.Raw, 0)
		c.batches = append(c.batches, shard.Batch{Format: shard.BatchKafkaV2, Count: int(b.NumRecords),
			MaxTimestamp: max(b.MaxTimestamp, 0), Bytes: b.Raw})
		rest = r
	}
	return c.batches, seq, kafka.None
}

// partAppend is one partition of a Produce waiting for its batches'
// appends; handler goroutine only.
type partAppend struct {
	op    *kafka.ProduceResponseTopicPartition
	name  string
	seq   seqCheck
	left  int   // appends not answered yet
	first int64 // base offset of the partition's first batch
	err   error // the first append error
}

// batchAppended records one batch's append outcome; the partition's
// answer is set when its last batch is done.
func (c *conn) batchAppended(sl *slot, p *produce, pp *partAppend, isFirst bool, first int64, err error) {
	if err != nil && pp.err == nil {
		pp.err = err
	}
	if isFirst {
		pp.first = first
	}
	if pp.left--; pp.left == 0 {
		c.appended(sl, p, pp.op, pp.name, pp.seq, pp.first, pp.err)
	}
}

// produceErrors is the answer naming every partition of req with code.
func produceErrors(req *kafka.ProduceRequest, code kafka.ErrorCode) *kafka.ProduceResponse {
	resp := &kafka.ProduceResponse{Topics: make([]kafka.ProduceResponseTopic, len(req.Topics))}
	for ti := range req.Topics {
		rt := &req.Topics[ti]
		resp.Topics[ti].Name, resp.Topics[ti].TopicID = rt.Name, rt.TopicID
		for _, rp := range rt.Partitions {
			resp.Topics[ti].Partitions = append(resp.Topics[ti].Partitions, kafka.ProduceResponseTopicPartition{
				Index: rp.Index, ErrorCode: int16(code), BaseOffset: -1, LogAppendTimeMs: -1, LogStartOffset: -1})
		}
	}
	return resp
}

// appended records one partition's append outcome.
func (c *conn) appended(sl *slot, p *produce, op *kafka.ProduceResponseTopicPartition, name string, seq seqCheck,
	first int64, err error) {
	if err != nil {
		code := codeOf(err)
		op.ErrorCode = int16(code)
		countErr(0, code)
		c.s.pids.failed(seq)
	} else {
		op.BaseOffset = first
		c.s.pids.done(seq, first)
		if ls, err := c.s.opts.Router.EarliestOffset(name); err == nil {
			op.LogStartOffset = ls
		}
	}
	p.pending--
	if p.pending == 0 {
		c.finishProduce(sl, p)
		c.flush()
	}
}

func (c *conn) finishProduce(sl *slot, p *produce) {
	if p.silent {
		c.silence(sl)
		return
	}
	c.reply(sl, &p.resp)
}

// produceError answers every partition of req with code.
func (c *conn) produceError(sl *slot, req *kafka.ProduceRequest, code kafka.ErrorCode) error {
	countErr(0, code)
	if req.Acks == 0 {
		c.silence(sl)
		return nil
	}
	c.reply(sl, produceErrors(req, code))
	return nil
}
