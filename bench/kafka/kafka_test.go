package kafka

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	benchmqtt "robustmq/bench/mqtt"
	"robustmq/netpoll"
	serverkafka "robustmq/server/kafka"
	"robustmq/shard"
	"robustmq/shard/memory"
	"robustmq/shard/offsetstore"
)

// startBroker is a server/kafka Server over a memory router and an
// OffsetStore in a temp dir on 127.0.0.1:0, stopped at cleanup.
func startBroker(t *testing.T) string {
	t.Helper()
	r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{ChunkBytes: 64 << 10})}, shard.RouterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	offs, err := offsetstore.Open(t.TempDir(), offsetstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := serverkafka.New(serverkafka.Options{Router: r, Offsets: offs, Advertised: "127.0.0.1:0", AutoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Listen(netpoll.ListenerConfig{Addr: "127.0.0.1:0", EventLoops: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		offs.Close()
		r.Close()
	})
	return l.Addr().String()
}

// fields parses a summary line of kind kafka.
func fields(t *testing.T, line string) map[string]string {
	t.Helper()
	kind, m, err := benchmqtt.ParseLine(line)
	if err != nil || kind != "kafka" {
		t.Fatalf("line %q: kind %q, %v; want kind kafka", line, kind, err)
	}
	return m
}

// TestProduceConsume produces with each acks setting and compression, then
// reads everything back directly and as a group.
func TestProduceConsume(t *testing.T) {
	addr := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	check := func(o Options, r Result, err error, want int64) {
		t.Helper()
		line := r.String()
		m := fields(t, line)
		switch {
		case err != nil || r.Errors != 0:
			t.Fatalf("%+v: %v: %s", o, err, line)
		case r.Records != want || r.Bytes != want*int64(max(o.Size, 1024)):
			t.Fatalf("%+v: %s: want %d records of %d bytes", o, line, want, max(o.Size, 1024))
		case r.P50 <= 0 || r.P50 > r.P99 || r.P99 > r.P999 || r.P999 > r.Max || r.Elapsed <= 0:
			t.Fatalf("%+v: %s: want 0 < p50 <= p99 <= p999 <= max and a time", o, line)
		case m["records"] != strconv.FormatInt(want, 10) || m["errors"] != "0" || !strings.HasSuffix(m["mb"], "MB/s"):
			t.Fatalf("%+v: line %q does not carry the result", o, line)
		}
	}
	var total int64
	for _, o := range []Options{
		{Acks: "all", Records: 2000, DiskDir: t.TempDir()},
		{Acks: "1", Records: 1000, Compression: "lz4", Linger: time.Millisecond},
		{Acks: "1", Records: 200, Rate: 2000}, // paced: takes at least 199/2000 s
		{Acks: "0", Records: 500, Size: 100},
	} {
		o.Brokers, o.Topic, o.Partitions = []string{addr}, "t", 3
		r, err := Produce(ctx, o)
		if o.Acks == "0" { // no answer: nothing to time, and the bytes differ
			if err != nil || r.Records != 500 || r.Errors != 0 {
				t.Fatalf("acks=0: %v: %s", err, r)
			}
		} else {
			check(o, r, err, int64(o.Records))
		}
		if (o.DiskDir != "") != (r.DiskMBs > 0) || (r.DiskMBs > 0) != strings.Contains(r.String(), " disk=") {
			t.Fatalf("%+v: %s: want a disk baseline exactly when DiskDir is set", o, r)
		}
		// Pacing sends a record at most a millisecond before it is due.
		if o.Rate > 0 && r.Elapsed < time.Duration(o.Records-1)*time.Second/time.Duration(o.Rate)-time.Millisecond {
			t.Fatalf("rate %d: %d records in %v; pacing sends them no faster than the rate", o.Rate, o.Records, r.Elapsed)
		}
		total += int64(o.Records)
	}
	for _, group := range []string{"", "g"} {
		o := Options{Brokers: []string{addr}, Topic: "t", Group: group, Records: int(total), Idle: 5 * time.Second}
		r, err := Consume(ctx, o)
		if err != nil || r.Errors != 0 || r.Records != total || r.Bytes != 3200*1024+500*100 {
			t.Fatalf("consume group %q: %v: %s; want %d records", group, err, r, total)
		}
		if r.P50 <= 0 || r.P50 > r.P99 {
			t.Fatalf("consume group %q: %s: want 0 < p50 <= p99", group, r)
		}
	}
}

// TestErrors names what is wrong and where.
func TestErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f := func(o Options, want string) {
		t.Helper()
		_, err := Produce(ctx, o)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%+v: err %v; want it to say %q", o, err, want)
		}
	}
	f(Options{Acks: "2"}, `acks "2"`)
	f(Options{Compression: "brotli"}, `compression "brotli"`)
	f(Options{Brokers: []string{"127.0.0.1:1"}, Duration: time.Second}, "create topic bench")
}
