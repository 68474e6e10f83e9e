package mqtt

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	paho3 "github.com/eclipse/paho.mqtt.golang"
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
