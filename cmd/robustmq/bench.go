package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	benchkafka "robustmq/bench/kafka"
	benchmeta "robustmq/bench/meta"
	benchmqtt "robustmq/bench/mqtt"
	"robustmq/server/node"
)

// bench runs a load generator:
//
//	bench meta --addr host:port[,host:port...] --op put|commit --clients 1,16,256 --duration 10s
//	bench mqtt pubsub --addr 127.0.0.1:1883 --qos 0,1 --pubs 16 --subs 1 --size 64 --duration 10s [--rate 10000]
//	bench mqtt conn --addr 127.0.0.1:1883 --count 19000 --procs 4 --metrics http://127.0.0.1:8080/metrics
//	bench kafka produce|consume --brokers 127.0.0.1:9092 --topic T --records N --size 1024 --acks all
//
// Each prints one summary line per run (--json: one JSON object per run for mqtt and kafka).
func bench(args []string, stdout, stderr io.Writer) int {
	target := ""
	if len(args) > 0 {
		target = args[0]
	}
	switch target {
	case "meta":
		return benchMeta(args[1:], stdout, stderr)
	case "mqtt":
		return benchMQTT(args[1:], stdout, stderr)
	case "kafka":
		return benchKafka(args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, "robustmq: bench: want a target: bench meta|mqtt|kafka [flags] (see bench <target> -h)")
	return node.ExitConfig
}

// benchMeta is `bench meta`: one line per client count (throughput, p50, p99).
func benchMeta(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench meta", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addrs := fs.String("addr", "127.0.0.1:1228", "meta nodes' inner gRPC `addresses`, comma-separated; client i starts at node i mod n")
	op := fs.String("op", "put", "`operation`: put (KV put on the metadata group) or commit (offset commit on the offset group)")
	clients := fs.String("clients", "1,16,256", "concurrent client `counts`, comma-separated; one run each")
	dur := fs.Duration("duration", 10*time.Second, "length of each run")
	value := fs.Int("value-bytes", 64, "put: value size")
	keys := fs.Int("keys", 1024, "put: distinct keys per client, overwritten in turn")
	offsets := fs.Int("offsets", 1, "commit: partitions per commit request")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	o := benchmeta.Options{Addrs: strings.Split(*addrs, ","), Op: *op, Duration: *dur, ValueBytes: *value, Keys: *keys, Offsets: *offsets}
	for s := range strings.SplitSeq(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fmt.Fprintf(stderr, "robustmq: bench meta: --clients %q: %q is not a number\n", *clients, s)
			return node.ExitConfig
		}
		o.Clients = append(o.Clients, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "bench meta: nodes=%s op=%s duration=%v\n", *addrs, o.Op, o.Duration)
	err := benchmeta.Run(ctx, o, func(r benchmeta.Result) { fmt.Fprintln(stdout, r) })
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "robustmq:", err)
		return node.ExitFail
	}
	return node.ExitOK
}

// parseFlags parses args into fs; ok is false when the command should end
// with code (help printed: ExitOK; bad flags: ExitConfig).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return node.ExitOK, false
		}
		return node.ExitConfig, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "robustmq: %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return node.ExitConfig, false
	}
	return 0, true
}

// benchMQTT is `bench mqtt pubsub|conn`.
func benchMQTT(args []string, stdout, stderr io.Writer) int {
	mode := ""
	if len(args) > 0 {
		mode = args[0]
	}
	switch mode {
	case "pubsub", "pub/sub":
		return benchMQTTPubSub(args[1:], stdout, stderr)
	case "conn":
		return benchMQTTConn(args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, "robustmq: bench mqtt: want a mode: bench mqtt pubsub|conn [flags] (see bench mqtt <mode> -h)")
	return node.ExitConfig
}

func benchMQTTPubSub(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench mqtt pubsub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o benchmqtt.Options
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:1883", "broker `host:port` (MQTT over TCP)")
	qos := fs.String("qos", "0", "QoS `levels`, comma-separated (0, 1); one run each")
	fs.IntVar(&o.Pubs, "pubs", 1, "publishers, one connection each")
	fs.IntVar(&o.Subs, "subs", 1, "subscribers, one connection each, all on the one topic")
	fs.IntVar(&o.Size, "size", 64, "payload `bytes` (>= 20: publisher id, sequence, send time)")
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "publishing time per run")
	fs.Float64Var(&o.Rate, "rate", 0, "total publish `msg/s` over all publishers; 0 = as fast as possible")
	fs.IntVar(&o.Window, "window", 1000, "QoS 1: unacknowledged PUBLISHes per publisher (1..65535)")
	fs.DurationVar(&o.Drain, "drain", 2*time.Second, "after publishing: stop waiting for acks and deliveries once none came for this long")
	fs.StringVar(&o.Topic, "topic", "", "topic (default bench/<unix ns>, new per run)")
	asJSON := fs.Bool("json", false, "print each result as one JSON object")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	var levels []byte
	for s := range strings.SplitSeq(*qos, ",") {
		q, err := strconv.ParseUint(strings.TrimSpace(s), 10, 8)
		if err != nil || q > 1 {
			fmt.Fprintf(stderr, "robustmq: bench mqtt: --qos %q: %q is not 0 or 1\n", *qos, s)
			return node.ExitConfig
		}
		levels = append(levels, byte(q))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, q := range levels {
		o.QoS = q
		r, err := benchmqtt.Run(ctx, o)
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "robustmq:", err)
			return node.ExitFail
		}
		printResult(stdout, r, *asJSON)
		if err != nil {
			return node.ExitFail
		}
	}
	return node.ExitOK
}

func benchMQTTConn(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench mqtt conn", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o benchmqtt.ConnOptions
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:1883", "broker `host:port` (MQTT over TCP)")
	fs.IntVar(&o.Count, "count", 1000, "idle connections to hold")
	fs.IntVar(&o.Procs, "procs", 1, "spread the connections over this many child processes (one process holds < 20,000 files)")
	fs.DurationVar(&o.Hold, "hold", 0, "keep the connections this long after the memory reading")
	fs.StringVar(&o.MetricsURL, "metrics", "", "server Prometheus `URL` (http://host:port/metrics) to read process_resident_memory_bytes before and after")
	expiry := fs.Uint("session-expiry", 0, "persistent sessions: 5.0 clients with Clean Start 0 and this Session Expiry Interval (`s`); with --metrics, also time the broker's session saves")
	child := fs.Int("child", 0, "internal: run as a child holding this many connections until stdin ends")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *expiry > 0xFFFFFFFF {
		fmt.Fprintf(stderr, "robustmq: bench mqtt conn: --session-expiry %d: more than 4294967295\n", *expiry)
		return node.ExitConfig
	}
	o.SessionExpiry = uint32(*expiry)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *child > 0 {
		if err := benchmqtt.RunConnChild(ctx, o.Addr, *child, o.SessionExpiry, os.Stdin, stdout); err != nil {
			fmt.Fprintln(stderr, "robustmq:", err)
			return node.ExitFail
		}
		return node.ExitOK
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "robustmq: bench mqtt conn: finding this executable for --procs:", err)
		return node.ExitFail
	}
	o.Child = func(n int) *exec.Cmd {
		return exec.Command(self, "bench", "mqtt", "conn", "--addr", o.Addr, "--child", strconv.Itoa(n),
			"--session-expiry", strconv.FormatUint(uint64(o.SessionExpiry), 10))
	}
	r, err := benchmqtt.RunConns(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "robustmq:", err)
		return node.ExitFail
	}
	printResult(stdout, r, *asJSON)
	if r.Err != "" {
		return node.ExitFail
	}
	return node.ExitOK
}

// printResult prints r's summary line, or r as JSON.
func printResult(w io.Writer, r fmt.Stringer, asJSON bool) {
	if !asJSON {
		fmt.Fprintln(w, r)
		return
	}
	b, err := json.Marshal(r)
	if err != nil {
		b = []byte(strconv.Quote(err.Error()))
	}
	fmt.Fprintf(w, "%s\n", b)
}

// benchKafka is `bench kafka produce|consume`.
func benchKafka(args []string, stdout, stderr io.Writer) int {
	op := ""
	if len(args) > 0 {
		op = args[0]
	}
	run := map[string]func(context.Context, benchkafka.Options) (benchkafka.Result, error){
		"produce": benchkafka.Produce, "consume": benchkafka.Consume}[op]
	if run == nil {
		fmt.Fprintln(stderr, "robustmq: bench kafka: want an operation: bench kafka produce|consume [flags] (see bench kafka <op> -h)")
		return node.ExitConfig
	}
	fs := flag.NewFlagSet("bench kafka "+op, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o benchkafka.Options
	brokers := fs.String("brokers", "127.0.0.1:9092", "seed broker `addresses`, comma-separated")
	fs.StringVar(&o.Topic, "topic", "bench", "topic")
	fs.IntVar(&o.Partitions, "partitions", 4, "produce: partitions of the topic when it is created")
	fs.IntVar(&o.Records, "records", 0, "produce: records to write (0: 100000); consume: stop after this many (0: when idle)")
	fs.IntVar(&o.Size, "size", 1024, "produce: value `bytes`")
	fs.StringVar(&o.Acks, "acks", "all", "produce: all, 1 or 0")
	fs.DurationVar(&o.Linger, "linger", 0, "produce: batch linger")
	fs.IntVar(&o.Rate, "rate", 0, "produce: records per second (0: as fast as possible)")
	fs.StringVar(&o.DiskDir, "disk-dir", "", "produce: measure the raw-disk baseline (write+fdatasync) in this `dir` first")
	fs.IntVar(&o.BatchBytes, "batch-bytes", 0, "produce: max batch `bytes` (0: franz-go default)")
	fs.StringVar(&o.Compression, "compression", "none", "produce: none, gzip, snappy, lz4 or zstd")
	fs.StringVar(&o.Group, "group", "", "consume: consumer group id (default: every partition directly)")
	fetchBytes := fs.Int("fetch-bytes", 0, "consume: most `bytes` a partition answers per fetch (0: franz-go's 1 MiB)")
	fs.BoolVar(&o.NoCRC, "no-crc", false, "consume: skip the client's batch CRC check (measures the broker, not the client)")
	fs.DurationVar(&o.Duration, "duration", 60*time.Second, "bound on the run")
	fs.DurationVar(&o.Idle, "idle", 2*time.Second, "consume: stop when no record came for this long")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	o.Brokers = strings.Split(*brokers, ",")
	o.FetchBytes = int32(min(max(*fetchBytes, 0), 1<<30))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := run(ctx, o)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "robustmq:", err)
		return node.ExitFail
	}
	printResult(stdout, r, *asJSON)
	if err != nil || r.Errors > 0 {
		return node.ExitFail
	}
	return node.ExitOK
}
