package mqtt

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"robustmq/netpoll"
	"robustmq/server/message"
	servermqtt "robustmq/server/mqtt"
	"robustmq/shard"
	"robustmq/shard/memory"
)

// startBroker is a server/mqtt Server over a memory router on
// 127.0.0.1:0, stopped at cleanup; it returns the listener's address. Its
// session queues hold a whole run (as the mosquitto peer is configured):
// the default 1,000 drops the oldest QoS 1 message of a subscriber that
// falls behind, which the tool reports as lost.
func startBroker(t *testing.T) string {
	t.Helper()
	r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{ChunkBytes: 64 << 10})}, shard.RouterOptions{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := servermqtt.New(servermqtt.Options{Hub: message.New(message.Options{Store: r}), MaxQueued: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	l, err := netpoll.Listen(netpoll.ListenerConfig{Name: "bench_mqtt", Transport: netpoll.TCP, Addr: "127.0.0.1:0", EventLoops: 1}, srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.Shutdown(ctx)
		srv.Close()
		_ = r.Close()
	})
	return l.Addr().String()
}

// fields parses a summary line of kind mqtt.
func fields(t *testing.T, line string) map[string]string {
	t.Helper()
	kind, m, err := ParseLine(line)
	if err != nil || kind != "mqtt" {
		t.Fatalf("line %q: kind %q, %v; want kind mqtt", line, kind, err)
	}
	return m
}

func us(t *testing.T, line, v string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(strings.TrimSuffix(v, "us"), 64)
	if err != nil || !strings.HasSuffix(v, "us") {
		t.Fatalf("line %q: %q is not a duration in us", line, v)
	}
	return f
}

// TestRun runs each scenario shape for a short while against an in-process
// broker: every message sent is received once by every subscriber.
func TestRun(t *testing.T) {
	addr := startBroker(t)
	f := func(o Options) {
		t.Helper()
		o.Addr, o.Duration = addr, 300*time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r, err := Run(ctx, o)
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		line := r.String()
		m := fields(t, line)
		switch {
		case r.Sent == 0 || r.Err != "":
			t.Fatalf("%+v: %s: nothing sent or an error", o, line)
		case r.Dup != 0 || r.Bad != 0 || r.Recv+r.Lost != r.Sent*uint64(r.Subs):
			t.Fatalf("%+v: %s: want recv + lost = sent*subs, dup=bad=0", o, line)
		case (o.QoS == 1 || o.Rate > 0) && r.Lost != 0: // unpaced QoS 0 may be dropped by the broker
			t.Fatalf("%+v: %s: want lost=0", o, line)
		case o.QoS == 1 && (r.Acked != r.Sent || r.LostAcked != 0):
			t.Fatalf("%+v: %s: acked != sent", o, line)
		case r.P50 <= 0 || r.P50 > r.P99 || r.P99 > r.Max:
			t.Fatalf("%+v: %s: want 0 < p50 <= p99 <= max", o, line)
		case m["sent"] != strconv.FormatUint(r.Sent, 10) || m["lost"] != strconv.FormatUint(r.Lost, 10) || m["dup"] != "0" ||
			us(t, line, m["p50"]) > us(t, line, m["p99"]):
			t.Fatalf("%+v: line %q does not carry the result", o, line)
		}
		if o.Rate > 0 && r.SendRate() > 2*o.Rate {
			t.Fatalf("%+v: %s: send rate %.0f over twice the target", o, line, r.SendRate())
		}
	}
	f(Options{QoS: 0})
	f(Options{QoS: 1})
	f(Options{QoS: 1, Pubs: 4, Subs: 1})
	f(Options{QoS: 1, Pubs: 1, Subs: 4})
	f(Options{QoS: 1, Window: 1})
	f(Options{QoS: 0, Rate: 2000})
}

// TestAccount feeds the subscriber accounting duplicates, gaps, reordering
// and garbage and checks every one is counted.
func TestAccount(t *testing.T) {
	p := make([]byte, 64)
	a := newAccount(2)
	deliver := func(pub uint32, seqs ...uint64) {
		for _, s := range seqs {
			putHeader(p, pub, s, 1000)
			a.add(p, 3000)
		}
	}
	deliver(0, 0, 1, 2, 2, 4, 3, 3, 200) // dup 2 and 3 (3 out of order), 200 past what was sent
	deliver(1, 70, 0, 63, 64)            // only 4 of 100
	a.add(p[:10], 3000)                  // short
	putHeader(p, 7, 0, 1000)             // unknown publisher
	a.add(p, 3000)
	f := func(got, want uint64, what string) {
		t.Helper()
		if got != want {
			t.Fatalf("%s = %d; want %d", what, got, want)
		}
	}
	f(a.dup, 2, "dup")
	f(a.bad, 2, "bad")
	f(a.recv, 14, "recv")
	f(a.lost([]uint64{6, 100}), 1+96, "lost") // publisher 0 misses 5; publisher 1 has 4 of 100
	f(a.lost([]uint64{5, 0}), 0, "lost with nothing missing")
	var acked [2]bitset
	for _, s := range []uint64{0, 1, 5, 200, 201} { // 5 and 201 never received
		acked[0].set(s)
	}
	acked[1].set(1) // never received
	acked[1].set(63)
	f(a.lostAcked(acked[:]), 3, "lost acked")
	if v := a.hist.ValueAtQuantile(50); v < 1980 || v > 2020 { // 2 significant digits
		t.Fatalf("latency p50 = %d ns; want 2000 ns within 1%%", v)
	}
}

// TestRunRefused reports where a connection fails.
func TestRunRefused(t *testing.T) {
	_, err := Run(context.Background(), Options{Addr: "127.0.0.1:1", Duration: time.Millisecond, ConnectTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "bench/mqtt: dial 127.0.0.1:1") {
		t.Fatalf("err %v; want a dial error naming the address", err)
	}
	_, err = Run(context.Background(), Options{Size: 8})
	if err == nil || !strings.Contains(err.Error(), "size 8") {
		t.Fatalf("err %v; want the size refused", err)
	}
}

// TestParseLine reads kinds, fields and quoted values, and refuses junk.
func TestParseLine(t *testing.T) {
	f := func(line, wantKind string, want map[string]string, wantErr bool) {
		t.Helper()
		kind, m, err := ParseLine(line)
		if (err != nil) != wantErr || (err == nil && (kind != wantKind || !maps.Equal(m, want))) {
			t.Fatalf("ParseLine(%q) = %q, %v, %v; want %q, %v, error %v", line, kind, m, err, wantKind, want, wantErr)
		}
	}
	f("mqtt qos=1 lost=0", "mqtt", map[string]string{"qos": "1", "lost": "0"}, false)
	f("mqtt conn count=3 error=\"dial x: no route\" per_conn=1KiB", "mqtt conn",
		map[string]string{"count": "3", "error": "dial x: no route", "per_conn": "1KiB"}, false)
	f("mqtt qos=1 junk", "", nil, true)
	f("qos=1", "", nil, true)
	f(`mqtt error="open`, "", nil, true)
	_, m, err := ParseLine(Result{Err: `a "b" c`, Lost: 7}.String())
	if err != nil || m["error"] != `a "b" c` || m["lost"] != "7" {
		t.Fatalf("round trip: %v %v", m, err)
	}
}
