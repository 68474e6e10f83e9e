// Package kafka is the Kafka load generator behind `robustmq bench kafka`:
// Produce writes Records records of Size bytes to a topic through franz-go
// (acks, linger, batch size and compression chosen by Options) and reports
// MB/s, records/s and the produce latency (Produce call to promise) as HDR
// percentiles (p50, p99, p99.9, max; 2 significant digits); Consume reads the topic from the earliest offset, directly
// from every partition or as a group member, and reports the rate and the
// end-to-end latency (consume time minus the record's produce timestamp,
// meaningful when producing runs at the same time).
//
// With Rate set, Produce paces its records (an open-loop load: records are
// due at fixed times whatever the answers do), so the percentiles are the
// broker's answer time at that load rather than the client's queue.
//
// Both are bounded: Produce stops at Records or Duration and then flushes
// for at most 10 s more; Consume stops at Records, at Duration, or when
// no record came for Idle once one had.
//
// Goroutines: Produce's promises run on franz-go's goroutines and share
// one histogram under a mutex; Consume polls on the calling goroutine. The
// franz-go client is created and closed by each call.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"robustmq/bench/rawdisk"
)

// Options configures a produce or consume run.
type Options struct {
	Brokers    []string      // seed brokers (default 127.0.0.1:9092)
	Topic      string        // default "bench"
	Partitions int           // produce: create the topic with this many partitions if missing (default 4)
	Records    int           // records to produce; consume: stop after this many (0: until idle); default 100,000 for produce
	Size       int           // produce: value bytes (default 1024)
	Acks       string        // produce: "all" (default), "1" or "0"
	Linger     time.Duration // produce: kgo.ProducerLinger (default 0)
	// Rate paces produce at this many records per second (0: as fast as
	// the client buffers take them). Latency percentiles mean something at
	// a rate the broker sustains; unpaced, they measure the client's queue.
	Rate int
	// DiskDir, for produce, first measures the raw-disk baseline in that
	// directory (bench/rawdisk: pwrite + fdatasync per 1 MiB batch, the
	// same bytes as the run, at most 1 GiB) and reports it beside the
	// result: the broker's disk, when it is on the same file system.
	DiskDir    string
	BatchBytes int // produce: kgo.ProducerBatchMaxBytes (0: franz-go's default)
	// Compression is none (default), gzip, snappy, lz4 or zstd.
	Compression string
	Group       string // consume: group id; empty consumes every partition directly
	// FetchBytes, for consume, is the most a partition answers per fetch
	// (kgo.FetchMaxPartitionBytes; 0: franz-go's 1 MiB). NoCRC skips the
	// client's batch CRC check (kgo.DisableFetchCRCValidation): both
	// measure what the broker serves rather than what the client checks.
	FetchBytes int32
	NoCRC      bool
	Duration   time.Duration // bound on the run (default 60s)
	Idle       time.Duration // consume: stop when no record came for this long (default 2s)
}

// Result is one run.
type Result struct {
	Op         string        `json:"op"` // produce or consume
	Topic      string        `json:"topic"`
	Acks       string        `json:"acks,omitempty"`
	Size       int           `json:"size"` // value bytes (consume: mean)
	Records    int64         `json:"records"`
	Bytes      int64         `json:"bytes"` // value bytes
	Errors     int64         `json:"errors"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	DiskMBs    float64       `json:"disk_mb_s,omitempty"` // raw-disk baseline (DiskDir), same run
	P50        time.Duration `json:"p50_ns"`
	P99        time.Duration `json:"p99_ns"`
	P999       time.Duration `json:"p999_ns"`
	Max        time.Duration `json:"max_ns"`
	FirstError string        `json:"first_error,omitempty"`
}

// String is the summary line: key=value fields in a fixed order.
func (r Result) String() string {
	sec := r.Elapsed.Seconds()
	rate, mbs := 0.0, 0.0
	if sec > 0 {
		rate, mbs = float64(r.Records)/sec, float64(r.Bytes)/sec/1e6
	}
	s := "kafka op=" + r.Op + " topic=" + r.Topic
	if r.Acks != "" {
		s += " acks=" + r.Acks
	}
	s += " size=" + strconv.Itoa(r.Size) + " records=" + strconv.FormatInt(r.Records, 10) +
		" rate=" + strconv.FormatFloat(rate, 'f', 0, 64) + "/s mb=" + strconv.FormatFloat(mbs, 'f', 1, 64) + "MB/s"
	if r.DiskMBs > 0 {
		s += " disk=" + strconv.FormatFloat(r.DiskMBs, 'f', 1, 64) + "MB/s ratio=" + strconv.FormatFloat(mbs/r.DiskMBs, 'f', 2, 64)
	}
	s +=
		" p50=" + us(r.P50) + " p99=" + us(r.P99) + " p999=" + us(r.P999) + " max=" + us(r.Max) +
			" errors=" + strconv.FormatInt(r.Errors, 10)
	if r.FirstError != "" {
		s += " first_error=" + strconv.Quote(r.FirstError)
	}
	return s
}

func us(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e3, 'f', 1, 64) + "us" }

func (o *Options) defaults(produce bool) error {
	if len(o.Brokers) == 0 {
		o.Brokers = []string{"127.0.0.1:9092"}
	}
	if o.Topic == "" {
		o.Topic = "bench"
	}
	if o.Partitions == 0 {
		o.Partitions = 4
	}
	if o.Records == 0 && produce {
		o.Records = 100_000
	}
	if o.Size == 0 {
		o.Size = 1024
	}
	if o.Acks == "" {
		o.Acks = "all"
	}
	if o.Duration == 0 {
		o.Duration = 60 * time.Second
	}
	if o.Idle == 0 {
		o.Idle = 2 * time.Second
	}
	if o.Partitions < 1 || o.Records < 0 || o.Size < 0 || o.Duration < 0 || o.Idle < 0 || o.BatchBytes < 0 || o.Rate < 0 {
		return fmt.Errorf("bench/kafka: partitions %d records %d size %d: want partitions >= 1, the others >= 0",
			o.Partitions, o.Records, o.Size)
	}
	return nil
}

// clientOpts are the kgo options o asks for.
func (o *Options) clientOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(o.Brokers...), kgo.DefaultProduceTopic(o.Topic), kgo.RetryTimeout(10 * time.Second),
		kgo.MaxBufferedRecords(1 << 16), kgo.ProducerLinger(o.Linger)}
	switch o.Acks {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return nil, fmt.Errorf("bench/kafka: acks %q: want all, 1 or 0", o.Acks)
	}
	if o.BatchBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(int32(o.BatchBytes)))
	}
	codecs := map[string]kgo.CompressionCodec{"": kgo.NoCompression(), "none": kgo.NoCompression(),
		"gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(),
		"zstd": kgo.ZstdCompression()}
	c, ok := codecs[o.Compression]
	if !ok {
		return nil, fmt.Errorf("bench/kafka: compression %q: want none, gzip, snappy, lz4 or zstd", o.Compression)
	}
	return append(opts, kgo.ProducerBatchCompression(c)), nil
}

// errs counts errors and keeps the first.
type errs struct {
	mu    sync.Mutex
	n     int64
	first error
}

func (e *errs) add(err error) {
	e.mu.Lock()
	e.n++
	if e.first == nil {
		e.first = err
	}
	e.mu.Unlock()
}

func (e *errs) fill(r *Result) {
	r.Errors = e.n
	if e.first != nil {
		r.FirstError = e.first.Error()
	}
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, 60e9, 2) }

func (r *Result) quantiles(h *hdrhistogram.Histogram) {
	if h.TotalCount() > 0 {
		r.P50, r.P99, r.P999 = time.Duration(h.ValueAtQuantile(50)), time.Duration(h.ValueAtQuantile(99)),
			time.Duration(h.ValueAtQuantile(99.9))
		r.Max = time.Duration(h.Max())
	}
}

// Produce runs a produce measurement.
func Produce(ctx context.Context, o Options) (Result, error) {
	if err := o.defaults(true); err != nil {
		return Result{}, err
	}
	opts, err := o.clientOpts()
	if err != nil {
		return Result{}, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return Result{}, fmt.Errorf("bench/kafka: client for %s: %w", strings.Join(o.Brokers, ","), err)
	}
	defer cl.Close()
	if err := createTopic(ctx, cl, o.Topic, o.Partitions); err != nil {
		return Result{}, err
	}
	// Produce blocks while the client's buffer is full and Flush until every
	// record is answered: both end at Duration plus flushGrace, so a broker
	// that stops answering cannot hold the run forever.
	ctx, cancel := context.WithTimeout(ctx, o.Duration+flushGrace)
	defer cancel()
	r := Result{Op: "produce", Topic: o.Topic, Acks: o.Acks, Size: o.Size}
	if o.DiskDir != "" {
		if r.DiskMBs, err = diskBaseline(o.DiskDir, min(int64(o.Records)*int64(o.Size), 1<<30)); err != nil {
			return r, err
		}
	}
	var (
		mu   sync.Mutex // guards h, ok, bytes (promises run on franz-go goroutines)
		h    = newHist()
		ok   int64
		e    errs
		last time.Time
	)
	promise := func(rec *kgo.Record, err error) {
		now := time.Now()
		if err != nil {
			e.add(fmt.Errorf("bench/kafka: produce to %s: %w", o.Topic, err))
			return
		}
		mu.Lock()
		_ = h.RecordValue(max(int64(now.Sub(rec.Timestamp)), 1))
		ok++
		if now.After(last) { // promises of different partitions run on different goroutines
			last = now
		}
		mu.Unlock()
	}
	value := make([]byte, o.Size)
	start := time.Now()
	end := start.Add(o.Duration)
	for i := 0; i < o.Records && ctx.Err() == nil; i++ {
		now := time.Now()
		if i&1023 == 0 && now.After(end) {
			break
		}
		if o.Rate > 0 {
			// Record i is due at start + i/Rate; sleeping only when more
			// than a millisecond ahead keeps the pacing cheap at high
			// rates (a record may leave up to 1 ms early). A
			// record sent late is timed from when it was due, so a stalled
			// broker shows in the percentiles (no coordinated omission).
			due := start.Add(time.Duration(i) * time.Second / time.Duration(o.Rate))
			if d := due.Sub(now); d > time.Millisecond {
				time.Sleep(d)
			}
			now = due
		}
		// Timestamp is set here (franz-go keeps one set by the caller), so
		// the promise measures Produce call to answer.
		cl.Produce(ctx, &kgo.Record{Value: value, Timestamp: now}, promise)
	}
	if err := cl.Flush(ctx); err != nil {
		e.add(fmt.Errorf("bench/kafka: flush to %s: %w", o.Topic, err))
	}
	mu.Lock()
	defer mu.Unlock()
	r.Records, r.Bytes = ok, ok*int64(o.Size)
	if !last.IsZero() {
		r.Elapsed = last.Sub(start)
	}
	r.quantiles(h)
	e.fill(&r)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return r, nil // the run's own bound: the unanswered records are in r.Errors
	}
	return r, ctx.Err()
}

// diskBaseline writes n bytes (at least one batch) in 1 MiB batches, each
// fdatasynced, in a temporary file of dir, and returns the MB/s.
func diskBaseline(dir string, n int64) (float64, error) {
	const batch = 1 << 20
	f, err := rawdisk.Create(dir, batch, true)
	if err != nil {
		return 0, fmt.Errorf("bench/kafka: disk baseline: %w", err)
	}
	start := time.Now()
	var done int64
	for done < max(n, batch) {
		if err := f.WriteBatch(); err != nil {
			f.Close()
			return 0, fmt.Errorf("bench/kafka: disk baseline: %w", err)
		}
		done += batch
	}
	el := time.Since(start)
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("bench/kafka: disk baseline: %w", err)
	}
	return float64(done) / el.Seconds() / 1e6, nil
}

// flushGrace is how long Produce waits for answers after Duration.
const flushGrace = 10 * time.Second

// createTopic creates topic with n partitions; an existing topic is fine.
func createTopic(ctx context.Context, cl *kgo.Client, topic string, n int) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = topic, int32(n), 1
	req.Topics = append(req.Topics, t)
	req.TimeoutMillis = 10_000
	res, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("bench/kafka: create topic %s: %w", topic, err)
	}
	for _, rt := range res.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("bench/kafka: create topic %s (%d partitions): %w", topic, n, err)
		}
	}
	return nil
}

// Consume runs a consume measurement from the earliest offset.
func Consume(ctx context.Context, o Options) (Result, error) {
	if err := o.defaults(false); err != nil {
		return Result{}, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(o.Brokers...), kgo.ConsumeTopics(o.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RetryTimeout(10 * time.Second)}
	if o.Group != "" {
		opts = append(opts, kgo.ConsumerGroup(o.Group))
	}
	if o.FetchBytes > 0 {
		opts = append(opts, kgo.FetchMaxPartitionBytes(o.FetchBytes))
	}
	if o.NoCRC {
		opts = append(opts, kgo.DisableFetchCRCValidation())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return Result{}, fmt.Errorf("bench/kafka: client for %s: %w", strings.Join(o.Brokers, ","), err)
	}
	defer cl.Close()
	r := Result{Op: "consume", Topic: o.Topic}
	h := newHist()
	var e errs
	start := time.Now()
	end := start.Add(o.Duration)
	var last time.Time
	for ctx.Err() == nil && (o.Records == 0 || r.Records < int64(o.Records)) {
		now := time.Now()
		wait := end.Sub(now)
		if !last.IsZero() {
			wait = min(wait, last.Add(o.Idle).Sub(now))
		}
		if wait <= 0 {
			break
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		fs := cl.PollFetches(pctx)
		cancel()
		now = time.Now()
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				e.add(fmt.Errorf("bench/kafka: fetch %s/%d: %w", t, p, err))
			}
		})
		n := 0
		fs.EachRecord(func(rec *kgo.Record) {
			n++
			r.Bytes += int64(len(rec.Value))
			_ = h.RecordValue(max(int64(now.Sub(rec.Timestamp)), 1))
		})
		if n > 0 {
			r.Records += int64(n)
			last = now
		}
	}
	if !last.IsZero() {
		r.Elapsed = last.Sub(start)
	}
	if r.Records > 0 {
		r.Size = int(r.Bytes / r.Records)
	}
	r.quantiles(h)
	e.fill(&r)
	return r, ctx.Err()
}
