package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestMQTTStateSurvivesRestart: a persistent session (3.1.1, clean session 0) with the QoS 1 messages
// queued while it was offline, a retained message, and a schema with its binding survive a SIGKILL and
// then a SIGTERM of the node: every message PUBACKed to the publisher is delivered after the restart.
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
	admin := "http://127.0.0.1:" + strconv.Itoa(pt["http_port"])
	for _, c := range []struct{ path, body string }{
		{"/api/mqtt/schema/create", `{"schema_name":"s1","schema_type":"json","schema":"{\"type\":\"object\"}"}`},
		{"/api/mqtt/schema-bind/create", `{"schema_name":"s1","resource_name":"state/schema"}`},
	} {
		resp, err := client.Post(admin+c.path, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %s", c.path, resp.StatusCode, body)
		}
	}

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

		var binds struct {
			Data []struct {
				Schema   string `json:"schema_name"`
				Resource string `json:"resource_name"`
			} `json:"data"`
		}
		getJSON(t, admin+"/api/mqtt/schema-bind/list", &binds)
		if len(binds.Data) != 1 || binds.Data[0].Schema != "s1" || binds.Data[0].Resource != "state/schema" {
			t.Fatalf("after %v: schema bindings %+v; want s1 on state/schema", sig, binds.Data)
		}
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0", code)
	}
}
