package broker

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"robustmq/server/config"
)

// TestSchemaValidation: a JSON schema created and bound over the admin
// routes refuses non-matching publishes to the bound topics (PUBACK 0x99
// for a 5.0 client, not delivered) and lets matching ones through.
func TestSchemaValidation(t *testing.T) {
	cfg := config.Default()
	cfg.BindIP = "127.0.0.1"
	s := &cfg.MQTTRuntime.Server
	s.TCPPort, s.TLSPort, s.WebsocketPort, s.WebsocketsPort = freePort(t), 0, 0, 0
	cfg.KafkaRuntime.TCPPort = 0
	cfg.MQTTRuntime.SystemMonitor.SystemTopicIntervalMs = 0
	rt := routes{}
	startBroker(t, cfg, rt)

	for _, c := range []struct {
		pattern, body string
		want          int
	}{
		{"POST /api/mqtt/schema/create", `{"schema_name":"temp","schema_type":"json","desc":"t",
			"schema":"{\"type\":\"object\",\"properties\":{\"temp\":{\"type\":\"number\"}},\"required\":[\"temp\"]}"}`, http.StatusOK},
		{"POST /api/mqtt/schema/create", `{"schema_name":"bad","schema_type":"json","schema":"{"}`, http.StatusBadRequest},
		{"POST /api/mqtt/schema/create", `{"schema_name":"pb","schema_type":"protobuf","schema":"x"}`, http.StatusBadRequest},
		{"POST /api/mqtt/schema-bind/create", `{"schema_name":"temp","resource_name":"sensor/+/temp"}`, http.StatusOK},
		{"POST /api/mqtt/schema-bind/create", `{"schema_name":"nope","resource_name":"a"}`, http.StatusNotFound},
		{"POST /api/mqtt/schema/delete", `{"schema_name":"temp"}`, http.StatusConflict},
	} {
		if code, data := rt.call(t, c.pattern, c.pattern[5:], c.body); code != c.want {
			t.Fatalf("%s %s: %d %s; want %d", c.pattern, c.body, code, data, c.want)
		}
	}
	if rows, total := rt.page(t, "GET /api/mqtt/schema/list", "/api/mqtt/schema/list"); total != 1 || rows[0]["name"] != "temp" ||
		rows[0]["schema_type"] != "json" {
		t.Fatalf("schema list = %v", rows)
	}
	if rows, total := rt.page(t, "GET /api/mqtt/schema-bind/list", "/api/mqtt/schema-bind/list"); total != 1 ||
		rows[0]["resource_name"] != "sensor/+/temp" {
		t.Fatalf("binding list = %v", rows)
	}

	nc, err := net.DialTimeout("tcp", "127.0.0.1:"+itoa(s.TCPPort), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	c := paho5.NewClient(paho5.ClientConfig{Conn: nc, OnPublishReceived: []func(paho5.PublishReceived) (bool, error){
		func(p paho5.PublishReceived) (bool, error) { got <- string(p.Packet.Payload); return true, nil },
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho5.Connect{ClientID: "schema5", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(&paho5.Disconnect{})
	if _, err := c.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: "sensor/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		topic, payload string
		code           byte
	}{
		{"sensor/1/temp", `{"temp": 20}`, 0},
		{"sensor/1/temp", `{"humidity": 3}`, 0x99},
		{"sensor/1/temp", `oops`, 0x99},
		{"sensor/1/other", `oops`, 0}, // not bound
	} {
		r, err := c.Publish(ctx, &paho5.Publish{Topic: p.topic, QoS: 1, Payload: []byte(p.payload)})
		var code byte
		if r != nil {
			code = r.ReasonCode
		}
		if code != p.code || (err != nil) != (p.code != 0) {
			t.Fatalf("publish %s %q: reason %#x err %v; want %#x", p.topic, p.payload, code, err, p.code)
		}
	}
	for _, want := range []string{`{"temp": 20}`, `oops`} {
		select {
		case m := <-got:
			if m != want {
				t.Fatalf("delivered %q; want %q (refused messages are not delivered)", m, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no delivery of %q", want)
		}
	}
	if code, data := rt.call(t, "POST /api/mqtt/schema-bind/delete", "/api/mqtt/schema-bind/delete",
		`{"schema_name":"temp","resource_name":"sensor/+/temp"}`); code != http.StatusOK {
		t.Fatalf("unbind: %d %s", code, data)
	}
	if r, err := c.Publish(ctx, &paho5.Publish{Topic: "sensor/2/temp", QoS: 1, Payload: []byte("free")}); err != nil || r.ReasonCode != 0 {
		t.Fatalf("after unbind: %v %+v", err, r)
	}
}
