package kafka

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/codec/kafka"
	"robustmq/codec/kafka/record"
	"robustmq/netpoll"
	"robustmq/shard"
)

// Options configure a Server. Zero values take the defaults named per field.
type Options struct {
	// Router stores the partitions. Required.
	Router *shard.Router
	// Offsets keeps consumer-group offsets. Required.
	Offsets shard.OffsetStore
	// Advertised is the host:port clients are told to connect to (Metadata,
	// FindCoordinator). Required. Port 0 advertises the port the first
	// Listen bound (tests on 127.0.0.1:0).
	Advertised string
	// AdvertiseLocal advertises, to each client, the local address of its own connection instead of
	// Advertised's host (its port stays): with broker_ip unset, a client that dialled 127.0.0.1 is sent
	// back to 127.0.0.1 and one that dialled the host's address to that address.
	AdvertiseLocal bool
	// NodeID is this broker's id in Metadata. Default 0.
	NodeID int32
	// ClusterID is reported in Metadata and DescribeCluster. Default "robustmq".
	ClusterID string
	// AutoCreate creates unknown topics asked for by Metadata
	// (kafka_runtime.auto_create_topics_enable).
	AutoCreate bool
	// DefaultPartitions of auto-created topics and of CreateTopics asking
	// for -1. Default 1.
	DefaultPartitions int32
	// Shard is the shard template of new topics' partitions (engine,
	// retention). Default: memory engine.
	Shard shard.ShardConfig
	// MaxMessageBytes bounds one produced record batch
	// (kafka_runtime.max_message_bytes). Default 1048588.
	MaxMessageBytes int
	// MaxFetchBytes bounds one partition of one Fetch
	// (kafka_runtime.max_fetch_bytes). Default 4 MiB.
	MaxFetchBytes int
	// MaxFrameBytes bounds one request frame; a larger declared size closes
	// the connection before it is buffered. It is also the input a
	// connection may hold unconsumed (Listen's MaxInboundBytes), so it
	// bounds memory per connection. Default 16 MiB (Kafka's
	// socket.request.max.bytes is 100 MiB; clients send produce requests
	// of a few MiB).
	MaxFrameBytes int
	// MaxInflight bounds the requests of one connection waiting for their
	// answer (Kafka clients send at most 5); a client past it is closed
	// with ErrTooManyInflight. Default 256.
	MaxInflight int
	// Workers run blocking OffsetStore calls off the event loops; their
	// queue holds WorkQueue jobs and a full queue answers
	// COORDINATOR_NOT_AVAILABLE (retriable). Defaults 2 and 1024.
	Workers, WorkQueue int
	// SASLMechanisms turns SASL on: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	// (kafka_runtime.sasl.mechanisms when sasl.enabled). Users is then
	// required.
	SASLMechanisms []string
	Users          UserStore
	// Naming maps topics onto shard names and back; default ShardNaming,
	// "{topic}_{p}". The broker passes one that puts a topic's partition 0
	// on the MQTT hub's shard of the same topic (server/broker).
	Naming Naming
	// OnProduce, when set, is called on the connection's event loop for
	// every partition whose batches passed validation and were handed to
	// the append (before it completes): topic, partition and the record
	// batches exactly as produced (a view into the request, valid only
	// during the call; compressed batches stay compressed). It must not
	// block and must copy what it keeps. The broker uses it to deliver
	// produced records to live MQTT subscribers; a record whose append
	// then fails has been delivered but not stored, as with MQTT.
	OnProduce func(topic []byte, partition int32, batches []byte)
	// OnDelete, when set, is called after DeleteTopics removed a topic and
	// its partitions' shards, on a worker goroutine: the topic and how many
	// partitions it had. The broker uses it to make the MQTT hub forget
	// the shards it shared with the topic (message.Hub.ForgetTopic).
	OnDelete func(topic string, partitions int32)
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger // default slog.Default()
}

// DefaultMaxFrameBytes is Options.MaxFrameBytes' default.
const DefaultMaxFrameBytes = 16 << 20

// Sentinel errors; every close reason and construction error wraps one.
var (
	ErrConfig          = errors.New("kafka: invalid options")
	ErrTooManyInflight = errors.New("kafka: too many requests in flight on one connection")
	ErrUnsupported     = errors.New("kafka: unsupported api key or version")
)

// Server is the Kafka protocol front end: a netpoll.Handler answering
// Kafka requests over the shard Router. Create it with New, serve it with
// Listen (or hand Handler to netpoll.Listen), stop it with Shutdown.
type Server struct {
	opts    Options
	log     *slog.Logger
	reg     kafka.Registry
	host    []byte
	port    atomic.Int32
	topics  *topics
	groups  *coordinator
	pids    *producers
	work    chan func() // bounded; full: COORDINATOR_NOT_AVAILABLE
	stop    chan struct{}
	wg      sync.WaitGroup // workers and the group ticker
	lnMu    sync.Mutex
	lns     []*netpoll.Listener // guarded by lnMu
	outMax  map[string]int      // listener name -> MaxOutboundBytes (outboundLimit); guarded by lnMu
	stopped sync.Once
}

// New checks opts, restores the topic table from the router's shards and
// starts the workers and the group session ticker (stopped by Shutdown).
func New(opts Options) (*Server, error) {
	var errs []error
	if opts.Router == nil {
		errs = append(errs, errors.New("Router is nil"))
	}
	if opts.Offsets == nil {
		errs = append(errs, errors.New("Offsets is nil"))
	}
	host, portStr, err := net.SplitHostPort(opts.Advertised)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || port < 0 || port > 65535 || host == "" {
		errs = append(errs, errors.New("Advertised "+strconv.Quote(opts.Advertised)+" is not host:port"))
	}
	for _, m := range opts.SASLMechanisms {
		if m != mechPlain && m != mechSHA256 && m != mechSHA512 {
			errs = append(errs, errors.New("SASLMechanisms: "+strconv.Quote(m)+" is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"))
		}
	}
	if len(opts.SASLMechanisms) > 0 && opts.Users == nil {
		errs = append(errs, errors.New("SASLMechanisms set without Users"))
	}
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, &detailed{ErrConfig, strings.Join(msgs, "; ")}
	}
	setDefault(&opts.DefaultPartitions, 1)
	setDefault(&opts.MaxMessageBytes, 1048588)
	setDefault(&opts.MaxFetchBytes, 4<<20)
	setDefault(&opts.MaxFrameBytes, DefaultMaxFrameBytes)
	setDefault(&opts.MaxInflight, 256)
	setDefault(&opts.Workers, 2)
	setDefault(&opts.WorkQueue, 1024)
	if opts.ClusterID == "" {
		opts.ClusterID = "robustmq"
	}
	if opts.Shard.Engine == "" {
		opts.Shard.Engine = shard.EngineMemory
	}
	if opts.Naming == nil {
		opts.Naming = ShardNaming{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{
		opts: opts, log: opts.Logger, host: []byte(host),
		work: make(chan func(), opts.WorkQueue), stop: make(chan struct{}),
		pids: newProducers(),
	}
	s.port.Store(int32(port))
	for _, a := range apis {
		if a == nil {
			continue
		}
		if err := s.reg.Register(a.key, a.min, a.max); err != nil {
			return nil, err
		}
	}
	s.topics, err = loadTopics(opts.Router, opts.Shard, opts.Naming, opts.Offsets, opts.Logger)
	if err != nil {
		return nil, err
	}
	s.groups = newCoordinator(s)
	s.groups.dirty, s.groups.kick = map[string]struct{}{}, make(chan struct{}, 1)
	if err := s.groups.load(opts.Offsets, opts.Now()); err != nil {
		return nil, err
	}
	s.wg.Add(1)
	go s.groups.persist(opts.Offsets, s.stop, &s.wg)
	for range opts.Workers {
		s.wg.Add(1)
		go s.worker()
	}
	s.wg.Add(1)
	go s.groups.tick(s.stop, &s.wg)
	return s, nil
}

func setDefault[T int | int32](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Handler is what netpoll serves; the broker may call netpoll.Listen with it
// itself instead of Listen.
func (s *Server) Handler() netpoll.Handler { return handler{s} }

// Listen opens a listener serving Kafka (cfg.Name defaults to "kafka",
// Transport to TCP). MaxInboundBytes defaults to MaxFrameBytes plus the
// size field, so every frame the server accepts can be buffered.
func (s *Server) Listen(cfg netpoll.ListenerConfig) (*netpoll.Listener, error) {
	if cfg.Name == "" {
		cfg.Name = "kafka"
	}
	if cfg.Transport == 0 {
		cfg.Transport = netpoll.TCP
	}
	if cfg.MaxInboundBytes == 0 {
		cfg.MaxInboundBytes = s.opts.MaxFrameBytes + 4
	}
	if cfg.Logger == nil {
		cfg.Logger = s.log
	}
	if cfg.MaxOutboundBytes == 0 {
		cfg.MaxOutboundBytes = netpoll.DefaultMaxOutboundBytes
	}
	s.lnMu.Lock()
	if s.outMax == nil {
		s.outMax = map[string]int{}
	}
	s.outMax[cfg.Name] = cfg.MaxOutboundBytes // before Listen: its connections read it in OnOpen
	s.lnMu.Unlock()
	l, err := netpoll.Listen(cfg, s.Handler())
	if err != nil {
		return nil, err
	}
	if a, ok := l.Addr().(*net.TCPAddr); ok {
		s.port.CompareAndSwap(0, int32(a.Port))
	}
	s.lnMu.Lock()
	s.lns = append(s.lns, l)
	s.lnMu.Unlock()
	return l, nil
}

// Shutdown closes the listeners opened by Listen, then stops the workers
// and the ticker and waits for them. The Router and OffsetStore belong to
// the caller and stay open.
func (s *Server) Shutdown(ctx context.Context) error {
	s.lnMu.Lock()
	lns := s.lns
	s.lns = nil
	s.lnMu.Unlock()
	var errs []error
	for _, l := range lns {
		errs = append(errs, l.Shutdown(ctx))
	}
	s.stopped.Do(func() { close(s.stop) })
	s.wg.Wait()
	return errors.Join(errs...)
}

// worker runs queued blocking jobs until stop.
func (s *Server) worker() {
	defer s.wg.Done()
	for {
		select {
		case fn := <-s.work:
			fn()
		case <-s.stop:
			return
		}
	}
}

// offload queues fn on a worker; false when the queue is full.
func (s *Server) offload(fn func()) bool {
	select {
	case s.work <- fn:
		return true
	default:
		workFull.Inc()
		return false
	}
}

var workFull = metrics.GetOrCreateCounter(`robustmq_kafka_work_queue_full_total`)

// api is one registered API: the file NN_name.go of each API registers it
// in init, and ApiVersions is answered from these registrations.
type api struct {
	key, min, max int16
	name          string
	// serve answers one request: body is the decoded-at-version request
	// (aliasing the input, valid only during the call). It either calls
	// c.reply(sl, resp) before returning or arranges a later reply on the
	// connection's handler goroutine. An error closes the connection.
	serve    func(s *Server, c *conn, sl *slot, req kafka.Message) error
	requests *metrics.Counter
	latency  *metrics.Histogram
}

var apis [128]*api

func register(key, min, max int16, serve func(s *Server, c *conn, sl *slot, req kafka.Message) error) {
	a, ok := kafka.LookupAPI(key)
	if !ok {
		panic("kafka: register: key " + strconv.Itoa(int(key)) + " not in codec")
	}
	lbl := `{api="` + a.Name + `"}`
	apis[key] = &api{key: key, min: min, max: max, name: a.Name, serve: serve,
		requests: metrics.GetOrCreateCounter(`robustmq_kafka_requests_total` + lbl),
		latency:  metrics.GetOrCreateHistogram(`robustmq_kafka_request_duration_seconds` + lbl)}
}

// countErr counts one error code answered by an API. Error paths only: it
// builds the metric name.
func countErr(key int16, code kafka.ErrorCode) {
	if code == kafka.None {
		return
	}
	name := "unknown"
	if key >= 0 && int(key) < len(apis) && apis[key] != nil {
		name = apis[key].name
	}
	metrics.GetOrCreateCounter(`robustmq_kafka_errors_total{api="` + name + `",code="` + code.String() + `"}`).Inc()
}

// codeOf maps a storage error to a Kafka code.
func codeOf(err error) kafka.ErrorCode {
	switch {
	case err == nil:
		return kafka.None
	case errors.Is(err, shard.ErrShardNotFound), errors.Is(err, shard.ErrTopicNotFound):
		return kafka.UnknownTopicOrPartition
	case errors.Is(err, shard.ErrOffsetOutOfRange):
		return kafka.OffsetOutOfRange
	case errors.Is(err, shard.ErrQueueFull):
		return kafka.RequestTimedOut
	case errors.Is(err, shard.ErrRecordTooLarge):
		return kafka.MessageTooLarge
	case errors.Is(err, record.ErrTruncated), errors.Is(err, record.ErrCorrupt), errors.Is(err, record.ErrCRC),
		errors.Is(err, record.ErrLegacyFormat), errors.Is(err, record.ErrCompression), errors.Is(err, record.ErrTooLarge):
		return record.ErrorCode(err)
	case errors.Is(err, shard.ErrClosed), errors.Is(err, shard.ErrCorrupt):
		return kafka.KafkaStorageError
	}
	return kafka.UnknownServerError
}

// detailed wraps a sentinel with what and where: "<sentinel>: <detail>".
type detailed struct {
	err    error
	detail string
}

func (e *detailed) Error() string { return e.err.Error() + ": " + e.detail }
func (e *detailed) Unwrap() error { return e.err }
