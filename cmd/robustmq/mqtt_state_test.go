package main

import (
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestMQTTStateSurvivesRestart: a persistent session (3.1.1, clean session 0) with the QoS 1 messages
// queued while it was offline, and a retained message, survive a SIGKILL and then a SIGTERM of the
// node: every message PUBACKed to the publisher is delivered after the restart.
func TestMQTTStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	const queued = 20
	pt := freePorts(t)
	dir := t.TempDir()
	cfg := writeConfig(t, pt.toml(dir, ""))
	url := "tcp://127.0.0.1:" + strconv.Itoa(pt["mqtt_runtime.server.tcp_port"])
	connect := func(id string, clean bool, got chan<- paho.Message) (paho.Client, bool) {
		t.Helper()
		o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(clean).
			SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
		if got != nil {
			o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- m })
		}
		c := paho.NewClient(o)
		tok := c.Connect()
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", id, tok.Error())
		}
		return c, tok.(*paho.ConnectToken).SessionPresent()
	}
	wait := func(what string, tok paho.Token) {
		t.Helper()
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("%s: %v", what, tok.Error())
		}
	}

	p := launch(t, nil, "--config", cfg)
	p.waitReady(t, pt["http_port"])
	sub, _ := connect("state-sub", false, nil)
	wait("subscribe", sub.Subscribe("state/#", 1, nil))
	sub.Disconnect(250)

	for round, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		pub, _ := connect("state-pub", true, nil)
		want := map[string]bool{}
		for i := range queued {
			payload := fmt.Sprintf("round%d-%02d", round, i)
			wait("publish "+payload, pub.Publish("state/q", 1, false, payload))
			want[payload] = true
		}
		retained := "kept-" + strconv.Itoa(round)
		wait("retained publish", pub.Publish("state/retained", 1, true, retained))
		want[retained] = true
		pub.Disconnect(250)

		p.signal(t, sig)
		p.wait(t, 20*time.Second)
		p = launch(t, nil, "--config", cfg)
		p.waitReady(t, pt["http_port"])

		got := make(chan paho.Message, 2*queued)
		sub, present := connect("state-sub", false, got)
		if !present {
			t.Fatalf("after %v: session not present", sig)
		}
		deadline := time.After(10 * time.Second)
		for len(want) > 0 {
			select {
			case m := <-got:
				delete(want, string(m.Payload()))
			case <-deadline:
				t.Fatalf("after %v: %d PUBACKed messages not delivered: %v", sig, len(want), want)
			}
		}
		sub.Disconnect(250)

		rgot := make(chan paho.Message, 4)
		reader, _ := connect("state-reader", true, nil)
		wait("subscribe retained", reader.Subscribe("state/retained", 1, func(_ paho.Client, m paho.Message) { rgot <- m }))
		select {
		case m := <-rgot:
			if string(m.Payload()) != retained || !m.Retained() {
				t.Fatalf("after %v: retained %q (retain flag %v); want %q", sig, m.Payload(), m.Retained(), retained)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("after %v: no retained message", sig)
		}
		reader.Disconnect(250)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0", code)
	}
}
