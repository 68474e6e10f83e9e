package mqtt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"robustmq/codec/mqtt"
)

// Options configures a pubsub run.
type Options struct {
	Addr     string        // broker host:port (default 127.0.0.1:1883)
	QoS      byte          // 0 or 1, for PUBLISH and SUBSCRIBE
	Pubs     int           // publishers (default 1)
	Subs     int           // subscribers (default 1)
	Size     int           // payload bytes, >= 20 (default 64)
	Duration time.Duration // publishing time (default 5s)
	// Rate paces all publishers together to this many msg/s (each gets
	// Rate/Pubs); 0 publishes as fast as the window and the socket allow.
	Rate float64
	// Window bounds the unacknowledged QoS 1 PUBLISHes per publisher
	// (1..65535, default 1000); the publisher waits for PUBACKs when full.
	Window int
	// Drain bounds the wait for PUBACKs and deliveries once publishing
	// stopped: the run ends when every subscriber has everything or none
	// made progress for Drain (default 2s).
	Drain time.Duration
	// Topic is published and subscribed to (default "bench/<unix ns>", so
	// runs never share a topic).
	Topic          string
	ConnectTimeout time.Duration // per connection and SUBSCRIBE (default 10s)
}

// Result is one run.
type Result struct {
	QoS      byte    `json:"qos"`
	Pubs     int     `json:"pubs"`
	Subs     int     `json:"subs"`
	Size     int     `json:"size"`
	Target   float64 `json:"target_rate"` // Options.Rate; 0 = unlimited
	Sent     uint64  `json:"sent"`        // PUBLISHes written, all publishers
	Acked    uint64  `json:"acked"`       // PUBACKs received (QoS 1)
	Expected uint64  `json:"expected"`    // Sent * Subs
	Recv     uint64  `json:"recv"`        // deliveries, duplicates included
	Lost     uint64  `json:"lost"`        // expected deliveries never received
	// LostAcked counts the lost deliveries the broker had acknowledged
	// (PUBACK) to the publisher: a broken promise, not a dropped QoS 0.
	LostAcked uint64 `json:"lost_acked"`
	Dup       uint64 `json:"dup"`
	Bad       uint64 `json:"bad"` // deliveries whose payload did not parse
	// Elapsed runs from the first PUBLISH to the last delivery.
	Elapsed time.Duration `json:"elapsed_ns"`
	// SendElapsed runs from the first to the last PUBLISH written.
	SendElapsed time.Duration `json:"send_elapsed_ns"`
	P50         time.Duration `json:"p50_ns"`
	P99         time.Duration `json:"p99_ns"`
	P999        time.Duration `json:"p999_ns"`
	Max         time.Duration `json:"max_ns"`
	Err         string        `json:"error,omitempty"` // first connection error during the run
}

// Rate is deliveries per second.
func (r Result) Rate() float64 { return perSec(r.Recv, r.Elapsed) }

// SendRate is PUBLISHes written per second.
func (r Result) SendRate() float64 { return perSec(r.Sent, r.SendElapsed) }

func perSec(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// String is the summary line: space-separated key=value fields in a fixed
// order, durations in microseconds.
func (r Result) String() string {
	b := make([]byte, 0, 256)
	b = append(b, "mqtt qos="...)
	b = strconv.AppendUint(b, uint64(r.QoS), 10)
	b = appendInt(b, " pubs=", int64(r.Pubs))
	b = appendInt(b, " subs=", int64(r.Subs))
	b = appendInt(b, " size=", int64(r.Size))
	b = appendInt(b, " sent=", int64(r.Sent))
	b = appendInt(b, " recv=", int64(r.Recv))
	b = append(b, " rate="...)
	b = strconv.AppendFloat(b, r.Rate(), 'f', 0, 64)
	b = append(b, "/s send_rate="...)
	b = strconv.AppendFloat(b, r.SendRate(), 'f', 0, 64)
	b = append(b, "/s target="...)
	b = strconv.AppendFloat(b, r.Target, 'f', 0, 64)
	b = append(b, "/s"...)
	for _, f := range []struct {
		k string
		d time.Duration
	}{{" p50=", r.P50}, {" p99=", r.P99}, {" p999=", r.P999}, {" max=", r.Max}} {
		b = append(b, f.k...)
		b = strconv.AppendFloat(b, float64(f.d)/1e3, 'f', 1, 64)
		b = append(b, "us"...)
	}
	b = appendInt(b, " acked=", int64(r.Acked))
	b = appendInt(b, " lost=", int64(r.Lost))
	b = appendInt(b, " lost_acked=", int64(r.LostAcked))
	b = appendInt(b, " dup=", int64(r.Dup))
	b = appendInt(b, " bad=", int64(r.Bad))
	if r.Err != "" {
		b = append(b, " error="...)
		b = strconv.AppendQuote(b, r.Err)
	}
	return string(b)
}

func appendInt(b []byte, k string, v int64) []byte { return strconv.AppendInt(append(b, k...), v, 10) }

func (o *Options) defaults() error {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:1883"
	}
	o.Pubs = cmp0(o.Pubs, 1)
	o.Subs = cmp0(o.Subs, 1)
	o.Size = cmp0(o.Size, 64)
	o.Window = cmp0(o.Window, 1000)
	if o.Duration == 0 {
		o.Duration = 5 * time.Second
	}
	if o.Drain == 0 {
		o.Drain = 2 * time.Second
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.Topic == "" {
		o.Topic = "bench/" + strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	switch {
	case o.QoS > 1:
		return fmt.Errorf("bench/mqtt: qos %d: want 0 or 1", o.QoS)
	case o.Pubs < 1 || o.Subs < 0:
		return fmt.Errorf("bench/mqtt: pubs %d subs %d: want pubs >= 1, subs >= 0", o.Pubs, o.Subs)
	case o.Size < headerBytes:
		return fmt.Errorf("bench/mqtt: size %d: want >= %d (publisher id, sequence, timestamp)", o.Size, headerBytes)
	case o.Window < 1 || o.Window > 65535:
		return fmt.Errorf("bench/mqtt: window %d: want 1..65535 (packet ids)", o.Window)
	case o.Duration < 0 || o.Drain < 0 || o.Rate < 0:
		return errors.New("bench/mqtt: duration, drain and rate must be >= 0")
	}
	return nil
}

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// firstErr keeps the first error of a run.
type firstErr struct {
	once sync.Once
	err  error
}

func (f *firstErr) set(err error) { f.once.Do(func() { f.err = err }) }

// sub is one subscriber; its fields belong to its goroutine until it ends,
// except recv and lastNs, read by Run while it runs.
type sub struct {
	c      *client
	acct   *account
	recv   atomic.Uint64
	lastNs atomic.Int64 // receive time of the latest delivery
}

// pub is one publisher; acked, low and wake are shared with its PUBACK
// reader, ackedSeqs belongs to the reader until it ended.
type pub struct {
	c     *client
	id    uint32
	sent  uint64 // written by the publisher goroutine
	acked atomic.Uint64
	// low is the lowest unacknowledged sequence. The publisher keeps
	// sent-low below the window (<= 65535), so the packet ids in flight
	// (seq mod 65535 + 1) are distinct and a PUBACK's id names one sequence.
	low       atomic.Uint64
	ackedSeqs bitset
	wake      chan struct{} // one-slot signal: a PUBACK arrived
	firstNs   int64
	lastNs    int64
}

// Run runs one pubsub scenario. Connection failures before publishing are
// returned; failures during the run end that connection, are counted in
// the result (as lost messages) and reported in Result.Err.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.defaults(); err != nil {
		return Result{}, err
	}
	stamp := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	subs := make([]*sub, o.Subs)
	pubs := make([]*pub, o.Pubs)
	var closeAll sync.Once
	closeConns := func() {
		closeAll.Do(func() {
			for _, s := range subs {
				if s != nil {
					s.c.nc.Close()
				}
			}
			for _, p := range pubs {
				if p != nil {
					p.c.nc.Close()
				}
			}
		})
	}
	defer closeConns()
	err := parallel(o.Subs, func(i int) error {
		c, err := dial(o.Addr, "bench-"+stamp+"-s"+strconv.Itoa(i), o.ConnectTimeout)
		if err != nil {
			return err
		}
		subs[i] = &sub{c: c, acct: newAccount(o.Pubs)}
		return c.subscribe(o.Topic, o.QoS, o.ConnectTimeout)
	})
	if err == nil {
		err = parallel(o.Pubs, func(i int) error {
			c, err := dial(o.Addr, "bench-"+stamp+"-p"+strconv.Itoa(i), o.ConnectTimeout)
			if err != nil {
				return err
			}
			pubs[i] = &pub{c: c, id: uint32(i), wake: make(chan struct{}, 1)}
			return nil
		})
	}
	if err != nil {
		return Result{}, err
	}

	var fe firstErr
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Go(func() {
			if err := s.run(); err != nil && !isClosed(err) {
				fe.set(err)
			}
		})
	}
	var pwg sync.WaitGroup
	start := time.Now()
	end := start.Add(o.Duration)
	for _, p := range pubs {
		if o.QoS == 1 {
			wg.Go(func() {
				if err := p.readAcks(); err != nil && !isClosed(err) {
					fe.set(err)
				}
			})
		}
		pwg.Go(func() {
			if err := p.run(ctx, o, start, end); err != nil {
				fe.set(err)
			}
		})
	}
	pwg.Wait()
	var sent uint64
	sentBy := make([]uint64, len(pubs))
	firstNs, lastSendNs := int64(0), int64(0)
	for i, p := range pubs {
		sentBy[i] = p.sent
		sent += p.sent
		if p.firstNs != 0 && (firstNs == 0 || p.firstNs < firstNs) {
			firstNs = p.firstNs
		}
		lastSendNs = max(lastSendNs, p.lastNs)
	}
	// Drain: PUBACKs and deliveries, until complete or stalled for o.Drain.
	expected := sent * uint64(len(subs))
	progress, stall := uint64(0), time.Now()
	for ctx.Err() == nil {
		var got, acked uint64
		for _, s := range subs {
			got += min(s.recv.Load(), sent)
		}
		for _, p := range pubs {
			acked += p.acked.Load()
		}
		done := got >= expected && (o.QoS == 0 || acked >= sent)
		if done || time.Since(stall) > o.Drain {
			break
		}
		if got+acked != progress {
			progress, stall = got+acked, time.Now()
		}
		time.Sleep(5 * time.Millisecond) // polling a deadline: nothing to wait on across goroutines
	}
	closeConns()
	wg.Wait()

	r := Result{QoS: o.QoS, Pubs: o.Pubs, Subs: o.Subs, Size: o.Size, Target: o.Rate, Sent: sent, Expected: expected}
	for _, p := range pubs {
		r.Acked += p.acked.Load()
	}
	ackedBy := make([]bitset, len(pubs))
	for i, p := range pubs {
		ackedBy[i] = p.ackedSeqs
	}
	h := newHist()
	lastRecvNs := int64(0)
	for _, s := range subs {
		a := s.acct
		r.Recv += a.recv
		r.Dup += a.dup
		r.Bad += a.bad
		r.Lost += a.lost(sentBy)
		r.LostAcked += a.lostAcked(ackedBy)
		h.Merge(a.hist)
		lastRecvNs = max(lastRecvNs, s.lastNs.Load())
	}
	if firstNs != 0 {
		r.SendElapsed = time.Duration(lastSendNs - firstNs)
		r.Elapsed = time.Duration(max(lastRecvNs, lastSendNs) - firstNs)
	}
	r.P50, r.P99, r.P999, r.Max = quantiles(h)
	if fe.err != nil {
		r.Err = fe.err.Error()
	}
	return r, ctx.Err()
}

// quantiles reads p50, p99, p99.9 and max from h.
func quantiles(h *hdrhistogram.Histogram) (p50, p99, p999, mx time.Duration) {
	if h.TotalCount() == 0 {
		return
	}
	return time.Duration(h.ValueAtQuantile(50)), time.Duration(h.ValueAtQuantile(99)),
		time.Duration(h.ValueAtQuantile(99.9)), time.Duration(h.Max())
}

// isClosed is the error of a connection Run closed itself.
func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

// parallel runs f(0..n-1) on at most 64 goroutines at once (so 1,000
// connects do not overflow the listen backlog) and returns the first error.
func parallel(n int, f func(i int) error) error {
	var fe firstErr
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(i); err != nil {
				fe.set(err)
			}
		})
	}
	wg.Wait()
	return fe.err
}

// run is the subscriber's read loop: every PUBLISH of a read batch is
// counted, their PUBACKs (QoS 1) go out in one write after the batch.
func (s *sub) run() error {
	c := s.c
	ack := mqtt.Ack{Type: mqtt.PUBACK}
	var now int64
	n := uint64(0)
	handle := func(t mqtt.Type) { // made once: the loop allocates nothing per batch
		if t != mqtt.PUBLISH {
			return
		}
		s.acct.add(c.d.Publish.Payload, now)
		n++
		if c.d.Publish.QoS == 1 {
			ack.PacketID = c.d.Publish.PacketID
			c.out = mqtt.AppendAck(c.out, mqtt.V311, &ack)
		}
	}
	for {
		if err := c.fill(); err != nil {
			return err
		}
		now, n = time.Now().UnixNano(), 0
		if err := c.decoded(handle); err != nil {
			return err
		}
		if n > 0 {
			s.lastNs.Store(now)
			s.recv.Add(n)
		}
		if err := c.flush(); err != nil {
			return err
		}
	}
}

// maxBatch bounds the PUBLISHes built into one write.
const maxBatch = 128

// run publishes until end (or ctx ends), paced to o.Rate/o.Pubs msg/s when
// o.Rate > 0 and, at QoS 1, at most o.Window unacknowledged.
func (p *pub) run(ctx context.Context, o Options, start, end time.Time) error {
	c := p.c
	payload := make([]byte, o.Size)
	msg := mqtt.Publish{QoS: o.QoS, Topic: []byte(o.Topic), Payload: payload}
	rate := o.Rate / float64(o.Pubs)
	window := uint64(o.Window)
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		n := uint64(maxBatch)
		if rate > 0 {
			due := uint64(now.Sub(start).Seconds() * rate)
			if due <= p.sent {
				next := start.Add(time.Duration(float64(p.sent+1) / rate * 1e9))
				time.Sleep(min(next.Sub(now), end.Sub(now)))
				continue
			}
			n = min(n, due-p.sent)
		}
		if o.QoS == 1 {
			inflight := p.sent - p.low.Load()
			if inflight >= window {
				select {
				case <-p.wake:
				case <-time.After(end.Sub(now)):
				}
				continue
			}
			n = min(n, window-inflight)
		}
		ns := now.UnixNano()
		if p.firstNs == 0 {
			p.firstNs = ns
		}
		for range n {
			putHeader(payload, p.id, p.sent, ns)
			if o.QoS == 1 {
				msg.PacketID = uint16(p.sent%65535) + 1
			}
			c.out = mqtt.AppendPublish(c.out, mqtt.V311, &msg)
			p.sent++
		}
		if err := c.flush(); err != nil {
			return fmt.Errorf("bench/mqtt: publisher %d: %w", p.id, err)
		}
		p.lastNs = ns
	}
	return nil
}

// readAcks records PUBACKs and signals the publisher after each read batch.
func (p *pub) readAcks() error {
	c := p.c
	low, n := uint64(0), uint64(0)
	handle := func(t mqtt.Type) {
		if t != mqtt.PUBACK {
			return
		}
		seq := low + (uint64(c.d.Ack.PacketID)+65535-1-low%65535)%65535
		if added, _ := p.ackedSeqs.set(seq); added {
			n++
		}
	}
	for {
		if err := c.fill(); err != nil {
			return err
		}
		n = 0
		if err := c.decoded(handle); err != nil {
			return err
		}
		if n > 0 {
			for p.ackedSeqs.has(low) {
				low++
			}
			p.low.Store(low)
			p.acked.Add(n)
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}
}
