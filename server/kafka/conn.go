package kafka

import (
	"errors"
	"net"
	"strconv"
	"time"

	"robustmq/codec/kafka"
	"robustmq/codec/kafka/record"
	"robustmq/netpoll"
	"robustmq/shard"
)

// handler adapts Server to netpoll.Handler.
type handler struct{ s *Server }

// conn is one client connection's state. Handler goroutine only, like
// every field below: OnData, Do functions and OnClose of this connection.
type conn struct {
	nc       netpoll.Conn
	s        *Server
	pending  []*slot // answers in request order; head written first
	free     []*slot // recycled slots
	reqs     [128]kafka.Message
	closed   bool
	maxOut   int        // the listener's MaxOutboundBytes: a larger Write closes the connection
	clientID string     // from the first request header
	sasl     *saslState // nil when SASL is off

	// produce scratch, reused per partition (AppendBatchAsync copies)
	batches []shard.Batch
	dec     record.Decompressor
	tmp     []byte
	// fetch scratch (runFetch): what the partitions read, their views
	fr    fetchRead
	spans []span
	parts [][]byte
	spare []byte     // one large answer buffer kept between fetches (flush, runFetch)
	plan  *fetchPlan // the last answered fetch's plan, reused by the next (serveFetch)
	// waits are this connection's parked fetches, cancelled on close.
	waits map[*fetchWait]struct{}
}

// maxSpareBytes bounds the answer buffer a connection keeps between
// fetches (conn.spare): a bit over the default MaxOutboundBytes.
const maxSpareBytes = 8 << 20

// slot is one request's place in the answer order.
type slot struct {
	key     int16
	version int16
	corr    int32
	start   time.Time
	out     []byte
	ready   bool
	silent  bool // acks=0 Produce: no answer on the wire
}

func (h handler) OnOpen(c netpoll.Conn) error {
	cs := &conn{nc: c, s: h.s, maxOut: h.s.outboundLimit(c.Listener())}
	if len(h.s.opts.SASLMechanisms) > 0 {
		cs.sasl = &saslState{}
	}
	c.SetContext(cs)
	return nil
}

// outboundLimit is the MaxOutboundBytes of the listener named name, as
// Listen set it; netpoll's default for a Handler served some other way.
func (s *Server) outboundLimit(name string) int {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if n, ok := s.outMax[name]; ok {
		return n
	}
	return netpoll.DefaultMaxOutboundBytes
}

// outRoom is how many more answer bytes c can write before netpoll closes
// it as a slow consumer: the limit less the unsent output and the ready
// answers queued behind an unanswered request.
func (c *conn) outRoom() int {
	n := c.maxOut - c.nc.OutboundBuffered()
	for _, sl := range c.pending {
		if sl.ready && !sl.silent {
			n -= len(sl.out)
		}
	}
	return n
}

func (h handler) OnClose(c netpoll.Conn, reason error) {
	cs, _ := c.Context().(*conn)
	if cs == nil {
		return
	}
	cs.closed = true
	if closedByProtocol(reason) {
		// Never a silent close: the client's mistake is in the log and in
		// robustmq_kafka_errors_total (counted where it was found).
		h.s.log.Info("kafka: connection closed", "remote", cs.host(), "client", cs.clientID, "reason", reason)
	}
	for w := range cs.waits {
		w.cancel()
	}
	cs.waits = nil
}

func (h handler) OnData(c netpoll.Conn, in []byte) (int, error) {
	cs := c.Context().(*conn)
	s := h.s
	now := s.opts.Now()
	consumed := 0
	for {
		frame, n, err := kafka.Frame(in[consumed:], s.opts.MaxFrameBytes)
		if err != nil {
			return consumed, err
		}
		if n == 0 {
			break
		}
		consumed += n
		if err := cs.request(frame, now); err != nil {
			return consumed, err
		}
	}
	cs.flush()
	return consumed, nil
}

// request decodes and dispatches one frame.
func (c *conn) request(frame []byte, now time.Time) error {
	s := c.s
	h, body, err := kafka.ReadRequestHeader(frame)
	inCodec := err == nil // the codec speaks (key, version): it can encode an answer
	if err == nil && !s.reg.Supports(h.APIKey, h.APIVersion) {
		err = kafka.ErrUnsupportedVersion
	}
	if errors.Is(err, kafka.ErrUnsupportedVersion) {
		countErr(h.APIKey, kafka.UnsupportedVersion)
		if h.APIKey == keyApiVersions {
			sl := c.slot(h, now)
			sl.version = 0 // the client can read v0 whatever it sent
			c.reply(sl, &kafka.ApiVersionsResponse{ErrorCode: int16(kafka.UnsupportedVersion),
				ApiKeys: s.reg.AppendAPIKeys(nil)})
			return nil
		}
		if inCodec && len(c.pending) < s.opts.MaxInflight {
			if resp, ok := kafka.ErrorResponse(h.APIKey, h.APIVersion, kafka.UnsupportedVersion); ok {
				c.reply(c.slot(h, now), resp)
				return nil
			}
			if resp, silent, ok := unsupportedAnswer(h, body); ok {
				if sl := c.slot(h, now); silent {
					c.silence(sl)
				} else {
					c.reply(sl, resp)
				}
				return nil
			}
		}
		return &detailed{ErrUnsupported, "key " + strconv.Itoa(int(h.APIKey)) + " version " +
			strconv.Itoa(int(h.APIVersion))}
	}
	if err != nil {
		return err
	}
	a := apis[h.APIKey]
	if !c.sasl.allows(h.APIKey) {
		return ErrSASLRequired
	}
	if c.sasl != nil && c.sasl.failed {
		return ErrSASLFailed
	}
	if c.clientID == "" && len(h.ClientID) > 0 {
		c.clientID = string(h.ClientID)
	}
	m := c.reqs[h.APIKey]
	if m == nil {
		m = kafka.NewRequest(h.APIKey)
		c.reqs[h.APIKey] = m
	}
	if err := m.ReadFrom(body, h.APIVersion); err != nil {
		countErr(h.APIKey, kafka.InvalidRequest)
		return err
	}
	a.requests.Inc()
	if len(c.pending) >= s.opts.MaxInflight {
		return ErrTooManyInflight
	}
	return a.serve(s, c, c.slot(h, now), m)
}

// slot queues a place for the answer to h.
func (c *conn) slot(h kafka.RequestHeader, now time.Time) *slot {
	var sl *slot
	if n := len(c.free); n > 0 {
		sl = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		sl = new(slot)
	}
	*sl = slot{key: h.APIKey, version: h.APIVersion, corr: h.CorrelationID, start: now, out: sl.out[:0]}
	c.pending = append(c.pending, sl)
	return sl
}

// reply encodes m as sl's answer. Handler goroutine only; the answer
// leaves once every earlier one has.
func (c *conn) reply(sl *slot, m kafka.Message) {
	sl.out = kafka.AppendResponse(sl.out[:0], sl.corr, sl.version, m)
	sl.ready = true
}

// replyLater is reply from a Do function: it also flushes.
func (c *conn) replyLater(sl *slot, m kafka.Message) {
	c.reply(sl, m)
	c.flush()
}

// silence marks sl as answered without bytes (acks=0).
func (c *conn) silence(sl *slot) {
	sl.silent, sl.ready = true, true
}

// flush writes the ready answers at the head of the queue.
func (c *conn) flush() {
	i := 0
	now := time.Time{}
	for ; i < len(c.pending) && c.pending[i].ready; i++ {
		sl := c.pending[i]
		if !sl.silent && !c.closed {
			if err := c.nc.Write(sl.out); err != nil {
				// Once per connection; ErrSlowConsumer (an answer over
				// MaxOutboundBytes) is otherwise silent here.
				c.closed = true
				c.s.log.Warn("kafka: answer not written, connection closing", "remote", c.host(),
					"client", c.clientID, "api_key", sl.key, "bytes", len(sl.out), "err", err)
			}
		}
		if now.IsZero() {
			now = c.s.opts.Now()
		}
		apis[sl.key].latency.Update(now.Sub(sl.start).Seconds())
		if cap(sl.out) > 1<<20 {
			// Oversize buffers leave the slot; the largest up to
			// maxSpareBytes is kept for the next big answer (Fetch), so a
			// consumer does not allocate and clear megabytes per fetch.
			if cap(sl.out) > cap(c.spare) && cap(sl.out) <= maxSpareBytes {
				c.spare = sl.out[:0]
			}
			sl.out = nil
		}
		c.free = append(c.free, sl)
	}
	if i > 0 {
		n := copy(c.pending, c.pending[i:])
		clear(c.pending[n:])
		c.pending = c.pending[:n]
	}
}

// later runs fn on c's handler goroutine (from any goroutine). When the
// connection is gone fn never runs, which drops the answer with it.
func (c *conn) later(fn func()) {
	_ = c.nc.Do(func(netpoll.Conn) {
		if !c.closed {
			fn()
		}
	})
}

// offload runs job on a worker (it may block: storage admin calls, the
// OffsetStore) and answers sl with its result on the handler goroutine.
// A full worker queue answers busy() at once.
func (c *conn) offload(sl *slot, job func() kafka.Message, busy func() kafka.Message) {
	ok := c.s.offload(func() {
		m := job()
		c.later(func() { c.replyLater(sl, m) })
	})
	if !ok {
		c.reply(sl, busy())
	}
}

// host is the client's address without port (DescribeGroups).
// advertisedHost is the host this client is told to connect to: Options.Advertised's, or with
// AdvertiseLocal the address the client reached this connection on.
func (c *conn) advertisedHost() []byte {
	if !c.s.opts.AdvertiseLocal {
		return c.s.host
	}
	if a, ok := c.nc.LocalAddr().(*net.TCPAddr); ok {
		return []byte(a.IP.String())
	}
	return c.s.host
}

func (c *conn) host() string {
	a := c.nc.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(a); err == nil {
		return h
	}
	return a
}

// closedByProtocol tells the closes this package decided (bad input,
// unsupported versions, SASL, limits) from peers leaving and shutdown.
func closedByProtocol(reason error) bool {
	var de *kafka.DecodeError
	return errors.Is(reason, ErrUnsupported) || errors.Is(reason, ErrTooManyInflight) ||
		errors.Is(reason, ErrSASLRequired) || errors.Is(reason, ErrSASLFailed) ||
		errors.Is(reason, kafka.ErrFrameTooLarge) || errors.As(reason, &de)
}
