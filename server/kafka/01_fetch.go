package kafka

import (
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/codec/kafka"
)

// Fetch v4-v18. From v13 topics are named by id (an unknown id answers
// UNKNOWN_TOPIC_ID); v15's replica state, v17's replica directory id and
// v18's high-water mark hint are follower fields, read and ignored (no
// replicas); v16's node endpoints are left empty (every partition leads
// here, at the address Metadata gave). Every partition is read from the
// shard with appendBatches: stored batches are sent as stored, their base
// offset set. A request is answered at once when it found MinBytes or
// MaxWaitMs is 0; otherwise it is parked (fetchWait): a shard.Wait per
// partition and one runtime timer for MaxWaitMs, no goroutine, nothing
// held on the event loop. The first append to any of the partitions (or
// the timer) re-runs the read on the connection's handler goroutine; it
// answers when MinBytes is reached or the time is up, else parks again.
//
// Sizes: a partition gets at most min(its MaxBytes, MaxFetchBytes), the
// response at most the request's MaxBytes and at most what the connection
// may still queue (its listener's MaxOutboundBytes less unsent output:
// netpoll closes a connection whose Write passes it, so an answer over it
// would never arrive and the client would retry the same fetch forever).
// Batches are whole and never pass these limits, except that the first
// batch of the first partition with data always goes (Kafka's progress
// rule). Isolation
// levels are the same: without transactions the last stable offset is the
// high-water mark. Fetch sessions are not kept: SessionID 0 ("no
// session") makes clients send full requests.

func init() { register(1, 4, 18, serveFetch) }

var fetchParked = metrics.GetOrCreateCounter(`robustmq_kafka_fetch_parked_total`)

// fetchPart is one partition of a fetch, copied out of the request.
type fetchPart struct {
	shard    string          // "" when the topic or partition is unknown
	missing  kafka.ErrorCode // the error when shard is "": unknown partition, topic or topic id
	offset   int64
	maxBytes int
}

// fetchPlan is a Fetch request copied out of the input buffer.
type fetchPlan struct {
	minBytes, maxBytes int
	overhead           int // encoded response bytes besides the records, a bound
	deadline           time.Time
	resp               kafka.FetchResponse
	parts              [][]fetchPart // per response topic, per partition
}

func serveFetch(s *Server, c *conn, sl *slot, m kafka.Message) error {
	req := m.(*kafka.FetchRequest)
	p := c.plan // reused: a fetch allocates nothing once the connection has served one like it
	if p == nil {
		p = &fetchPlan{}
	}
	c.plan = nil
	p.minBytes, p.maxBytes = int(req.MinBytes), int(req.MaxBytes)
	p.deadline = sl.start.Add(time.Duration(max(req.MaxWaitMs, 0)) * time.Millisecond)
	if p.maxBytes <= 0 {
		p.maxBytes = 1 << 30
	}
	p.resp = kafka.FetchResponse{Topics: resize(p.resp.Topics, len(req.Topics))}
	p.parts = resize(p.parts, len(req.Topics))
	p.overhead = fetchFixedBytes
	for ti := range req.Topics {
		rt := &req.Topics[ti]
		p.overhead += fetchTopicBytes + len(rt.Name) + fetchPartBytes*len(rt.Partitions)
		t, missing := s.topics.lookup(rt.Name, rt.TopicID, sl.version >= 13)
		out := &p.resp.Topics[ti]
		*out = kafka.FetchResponseTopic{Name: append(out.Name[:0], rt.Name...), TopicID: rt.TopicID,
			Partitions: resize(out.Partitions, len(rt.Partitions))}
		p.parts[ti] = resize(p.parts[ti], len(rt.Partitions))
		for pi, rp := range rt.Partitions {
			fp := &p.parts[ti][pi]
			*fp = fetchPart{offset: rp.FetchOffset, maxBytes: min(int(rp.MaxBytes), s.opts.MaxFetchBytes),
				missing: kafka.UnknownTopicOrPartition}
			if t == nil {
				fp.missing = missing
			} else if rp.Index >= 0 && int(rp.Index) < len(t.shards) {
				fp.shard = t.shards[rp.Index]
			}
			out.Partitions[pi].Index = rp.Index
		}
	}
	c.runFetch(sl, p, true)
	return nil
}

// resize returns s with length n, reusing its array (and the elements'
// own slices, which the caller overwrites field by field) when it is big
// enough.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// maxPlanParts bounds the partitions of a fetch plan a connection keeps
// for its next fetch (conn.plan); a bigger one is left to the GC.
const maxPlanParts = 1024

// recycle keeps p, answered, for the connection's next fetch.
func (c *conn) recycle(p *fetchPlan) {
	n := 0
	for _, ps := range p.parts {
		n += cap(ps)
	}
	if n <= maxPlanParts {
		c.plan = p
	}
}

// Bounds of a Fetch response's bytes besides the records (v12 with its
// tagged fields): the frame and fixed fields, each topic besides its name,
// each partition.
const (
	fetchFixedBytes = 64
	fetchTopicBytes = 32
	fetchPartBytes  = 64
)

// runFetch reads every partition; it answers or parks (first time only
// from serveFetch; again from the wait's wake-up).
func (c *conn) runFetch(sl *slot, p *fetchPlan, mayPark bool) {
	s := c.s
	total := 0
	respMax := min(p.maxBytes, c.outRoom()-p.overhead)
	// Every partition's batches become pieces of c.fr: views of storage
	// (held until the answer is encoded) or ranges of its buffer; they are
	// resolved after the last read (appends may move the buffer) and
	// copied once, by reply, into the answer.
	fr := &c.fr
	spans := c.spans[:0]
	for ti := range p.parts {
		for pi := range p.parts[ti] {
			fp := &p.parts[ti][pi]
			op := &p.resp.Topics[ti].Partitions[pi]
			*op = kafka.FetchResponseTopicPartition{Index: op.Index, HighWatermark: -1, LastStableOffset: -1,
				LogStartOffset: -1, PreferredReadReplica: -1, Records: []byte{}} // empty, not null: librdkafka refuses null
			op.DivergingEpoch.Epoch, op.DivergingEpoch.EndOffset = -1, -1
			op.CurrentLeader.LeaderID, op.CurrentLeader.LeaderEpoch = -1, -1
			op.SnapshotID.EndOffset, op.SnapshotID.Epoch = -1, -1
			if fp.shard == "" {
				op.ErrorCode = int16(fp.missing)
				countErr(1, fp.missing)
				continue
			}
			limit := min(fp.maxBytes, respMax-total)
			if total == 0 {
				limit = max(limit, 1) // progress: the first batch always goes
			}
			var rb readBatch
			start, n := len(fr.pieces), 0
			if limit > 0 {
				n, rb = fr.read(s.opts.Router, fp.shard, fp.offset, limit, total == 0)
			} else {
				rb.hw, rb.err = s.opts.Router.LatestOffset(fp.shard)
				rb.logStart, _ = s.opts.Router.EarliestOffset(fp.shard)
			}
			if rb.err != nil {
				code := codeOf(rb.err)
				op.ErrorCode = int16(code)
				countErr(1, code)
				if code == kafka.OffsetOutOfRange {
					op.HighWatermark, _ = s.opts.Router.LatestOffset(fp.shard)
					op.LogStartOffset, _ = s.opts.Router.EarliestOffset(fp.shard)
					op.LastStableOffset = op.HighWatermark
				}
				continue
			}
			op.HighWatermark, op.LastStableOffset, op.LogStartOffset = rb.hw, rb.hw, rb.logStart
			spans = append(spans, span{ti, pi, start, len(fr.pieces)})
			total += n
		}
	}
	c.spans = spans
	if mayPark && total < p.minBytes && s.opts.Now().Before(p.deadline) && c.park(sl, p) {
		fr.release() // the wake-up reads again
		return
	}
	parts := c.parts[:0]
	for _, sp := range spans {
		if sp.to > sp.from {
			from := len(parts)
			parts = fr.bytesOf(parts, sp.from, sp.to)
			p.resp.Topics[sp.ti].Partitions[sp.pi].RecordsParts = parts[from:len(parts):len(parts)]
		}
	}
	// Size the answer once: growing it while the records are encoded
	// copied and cleared every byte again (17% of a consuming broker's CPU).
	if need := total + p.overhead; cap(sl.out) < need {
		if cap(c.spare) >= need {
			sl.out, c.spare = c.spare, nil
		} else {
			sl.out = make([]byte, 0, need)
		}
	}
	c.reply(sl, &p.resp)
	for _, sp := range spans { // the views die with the read results
		p.resp.Topics[sp.ti].Partitions[sp.pi].RecordsParts = nil
	}
	clear(parts)
	c.parts = parts[:0]
	fr.release()
	c.recycle(p)
}

// span locates one partition's pieces in the connection's fetchRead.
type span struct{ ti, pi, from, to int }

// fetchWait is a parked Fetch. fired is set by the first wake-up (a
// shard.Wait callback on an appender goroutine, or the timer), which
// queues finish on the connection; everything else is handler goroutine
// only.
type fetchWait struct {
	c       *conn
	sl      *slot
	p       *fetchPlan
	cancels []func() bool
	timer   *time.Timer
	fired   atomic.Bool
}

// park registers the waits; false if a partition cannot be waited on (the
// caller answers at once).
func (c *conn) park(sl *slot, p *fetchPlan) bool {
	w := &fetchWait{c: c, sl: sl, p: p}
	for ti := range p.parts {
		for pi := range p.parts[ti] {
			fp := &p.parts[ti][pi]
			if fp.shard == "" {
				continue
			}
			at := max(fp.offset, p.resp.Topics[ti].Partitions[pi].HighWatermark)
			cancel, err := c.s.opts.Router.Wait(fp.shard, at, w.wake)
			if err != nil {
				w.cancel()
				return false
			}
			w.cancels = append(w.cancels, cancel)
		}
	}
	if c.waits == nil {
		c.waits = map[*fetchWait]struct{}{}
	}
	c.waits[w] = struct{}{}
	fetchParked.Inc()
	w.timer = time.AfterFunc(p.deadline.Sub(c.s.opts.Now()), w.wake)
	return true
}

// wake runs on any goroutine, at most once per parking.
func (w *fetchWait) wake() {
	if w.fired.CompareAndSwap(false, true) {
		w.c.later(w.finish)
	}
}

// cancel removes the waits and the timer.
func (w *fetchWait) cancel() {
	w.fired.Store(true)
	if w.timer != nil {
		w.timer.Stop()
	}
	for _, cancel := range w.cancels {
		cancel()
	}
	w.cancels = w.cancels[:0]
}

// finish re-reads on the handler goroutine and answers or parks again.
func (w *fetchWait) finish() {
	c := w.c
	delete(c.waits, w)
	w.cancel()
	c.runFetch(w.sl, w.p, true)
	c.flush()
}
