package mqtt

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	paho3 "github.com/eclipse/paho.mqtt.golang"

	"robustmq/server/message"
	"robustmq/server/message/topic"
)

// TestSys subscribes to $SYS with paho over a real socket: retained values
// arrive on subscribe, connections/count follows clients connecting, the
// static topics and the Bytes hook are published, and a '#' subscription
// sees none of it.
func TestSys(t *testing.T) {
	ts := start(t, nil)
	var bytesIn atomic.Uint64
	sys := ts.StartSys(SysOptions{Node: "n1", Version: "v-test", Interval: 20 * time.Millisecond,
		Bytes: func() (uint64, uint64) { return bytesIn.Add(1), 42 }})
	defer sys.Close()
	url := "tcp://" + ts.addr

	all := make(recv3, 64)
	wild := client3(t, url, "wild", nil)
	wait3(t, "subscribe #", wild.Subscribe("#", 0, all.handler))

	latest := make(chan map[string]string, 1)
	latest <- map[string]string{}
	sub := client3(t, url, "sys", nil)
	wait3(t, "subscribe $SYS", sub.Subscribe("$SYS/brokers/+/#", 0, func(_ paho3.Client, m paho3.Message) {
		v := <-latest
		v[m.Topic()] = string(m.Payload())
		latest <- v
	}))
	value := func(name string) string {
		v := <-latest
		defer func() { latest <- v }()
		return v["$SYS/brokers/n1/"+name]
	}
	waitFor(t, "connections/count 2", func() bool { return value("stats/connections/count") == "2" })
	client3(t, url, "third", nil)
	waitFor(t, "connections/count 3", func() bool { return value("stats/connections/count") == "3" })
	waitFor(t, "connections/max 3", func() bool { return value("stats/connections/max") == "3" })
	waitFor(t, "subscriptions/count 2", func() bool { return value("stats/subscriptions/count") == "2" })
	if v := value("version"); v != "v-test" {
		t.Errorf("version = %q; want v-test", v)
	}
	if v := value("metrics/bytes/sent"); v != "42" {
		t.Errorf("metrics/bytes/sent = %q; want 42 from the Bytes hook", v)
	}
	first := value("metrics/bytes/received")
	waitFor(t, "metrics/bytes/received to change", func() bool { return value("metrics/bytes/received") != first })
	for _, name := range []string{"uptime", "datetime", "metrics/messages/received", "metrics/messages/retained"} {
		if _, err := strconv.ParseUint(value(name), 10, 64); err != nil {
			t.Errorf("%s = %q; want a number", name, value(name))
		}
	}
	// A late subscriber gets every value at once, retained.
	got := make(recv3, 64)
	late := client3(t, url, "late", nil)
	wait3(t, "subscribe version", late.Subscribe("$SYS/brokers/n1/version", 0, got.handler))
	got.expect(t, "$SYS/brokers/n1/version", "v-test", 0, true)

	all.none(t, 100*time.Millisecond) // five rounds: '#' does not match $SYS [MQTT-4.7.2-1]
}

// BenchmarkStats is the cost of one $SYS round's walk (Stats) over n
// offline sessions with one subscription each, against the baseline
// Sessions (stripe locks only, no per-session lock) in the same run.
func BenchmarkStats(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		srv, err := New(Options{Hub: message.New(message.Options{})})
		if err != nil {
			b.Fatal(err)
		}
		f, err := topic.ParseFilter([]byte("a/+"), topic.MQTT, nil)
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			s, _, _, _ := srv.sessions.attach(srv, "c"+strconv.Itoa(i), nil, true, 60)
			s.subs = map[string]*sub{"a/+": {f: f, opts: &subOpts{qos: 1}}}
		}
		b.Run("sessions="+strconv.Itoa(n)+"/baseline=Sessions", func(b *testing.B) {
			for b.Loop() {
				if srv.Sessions() != n {
					b.Fatal("lost sessions")
				}
			}
		})
		b.Run("sessions="+strconv.Itoa(n)+"/Stats", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if st := srv.Stats(); st.Subscriptions != n {
					b.Fatalf("Stats() = %+v", st)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/session")
		})
		srv.Close()
	}
}
