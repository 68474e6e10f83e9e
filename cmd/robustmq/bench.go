package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	benchmeta "robustmq/bench/meta"
	"robustmq/server/node"
)

// bench runs a load generator: `bench meta --addr host:port[,host:port...] --op put|commit
// --clients 1,16,256 --duration 10s`. It prints one line per client count (throughput, p50, p99).
func bench(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "meta" {
		fmt.Fprintln(stderr, "robustmq: bench: want a target: bench meta [flags] (see bench meta -h)")
		return node.ExitConfig
	}
	fs := flag.NewFlagSet("bench meta", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addrs := fs.String("addr", "127.0.0.1:1228", "meta nodes' inner gRPC `addresses`, comma-separated; client i starts at node i mod n")
	op := fs.String("op", "put", "`operation`: put (KV put on the metadata group) or commit (offset commit on the offset group)")
	clients := fs.String("clients", "1,16,256", "concurrent client `counts`, comma-separated; one run each")
	dur := fs.Duration("duration", 10*time.Second, "length of each run")
	value := fs.Int("value-bytes", 64, "put: value size")
	keys := fs.Int("keys", 1024, "put: distinct keys per client, overwritten in turn")
	offsets := fs.Int("offsets", 1, "commit: partitions per commit request")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return node.ExitOK
		}
		return node.ExitConfig
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
