package broker

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"

	"robustmq/codec/mqtt"
	"robustmq/server/config"
)

// call runs the route registered as pattern with method, target (path and
// query) and body, and returns the status and the envelope's data.
func (r routes) call(t *testing.T, pattern, target, body string) (int, json.RawMessage) {
	t.Helper()
	h := r[pattern]
	if h == nil {
		t.Fatalf("route %q not registered", pattern)
	}
	method, _, _ := strings.Cut(pattern, " ")
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(method, target, strings.NewReader(body)))
	var env struct {
		Code  int             `json:"code"`
		Data  json.RawMessage `json:"data"`
		Error *string         `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("%s %s: body %q is no envelope: %v", method, target, rec.Body, err)
	}
	return rec.Code, env.Data
}

// page calls a list route and returns its rows and total_count.
func (r routes) page(t *testing.T, pattern, target string) ([]map[string]any, int) {
	t.Helper()
	code, data := r.call(t, pattern, target, "")
	var p struct {
		Data       []map[string]any `json:"data"`
		TotalCount int              `json:"total_count"`
	}
	if code != http.StatusOK || json.Unmarshal(data, &p) != nil {
		t.Fatalf("%s: %d %s", target, code, data)
	}
	return p.Data, p.TotalCount
}

// connect3 connects a paho.mqtt.golang client to the broker at url.
func connect3(t *testing.T, url, id string, tune func(*paho.ClientOptions)) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetAutoReconnect(false).
		SetConnectTimeout(5 * time.Second)
	if tune != nil {
		tune(o)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s to %s: %v", id, url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func wait(t *testing.T, what string, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("%s: %v", what, tok.Error())
	}
}

// TestAdminMQTT drives the MQTT admin routes against real clients: list,
// filter and page clients, sessions, subscriptions and retained messages,
// delete a retained message, kick a 5.0 client (DISCONNECT 0x98); and
// reads $SYS byte counters fed by the listeners' netpoll metrics.
func TestAdminMQTT(t *testing.T) {
	cfg := config.Default()
	cfg.BindIP = "127.0.0.1"
	s := &cfg.MQTTRuntime.Server
	s.TCPPort, s.TLSPort, s.WebsocketPort, s.WebsocketsPort = freePort(t), 0, 0, 0
	cfg.KafkaRuntime.TCPPort = 0
	cfg.MQTTRuntime.SystemMonitor.SystemTopicIntervalMs = 20
	rt := routes{}
	b, _ := startBroker(t, cfg, rt)
	url := "tcp://127.0.0.1:" + itoa(s.TCPPort)

	c3 := connect3(t, url, "adm3", func(o *paho.ClientOptions) { o.SetCleanSession(false) })
	wait(t, "subscribe", c3.Subscribe("adm/#", 1, nil))
	wait(t, "retain", c3.Publish("adm/r", 1, true, "kept"))
	nc, err := net.DialTimeout("tcp", "127.0.0.1:"+itoa(s.TCPPort), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	disc := make(chan *paho5.Disconnect, 1)
	c5 := paho5.NewClient(paho5.ClientConfig{Conn: nc, OnServerDisconnect: func(d *paho5.Disconnect) { disc <- d }})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c5.Connect(ctx, &paho5.Connect{ClientID: "adm5", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := c5.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: "$share/g/adm/+", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}

	rows, total := rt.page(t, "GET /api/mqtt/client/list", "/api/mqtt/client/list?sort_field=client_id&sort_by=desc")
	if total != 2 || len(rows) != 2 || rows[0]["client_id"] != "adm5" || rows[0]["protocol"] != "MQTT5" ||
		rows[0]["keep_alive"] != 30.0 || rows[1]["connection_type"] != "Tcp" || rows[1]["listener"] != "mqtt_tcp" {
		t.Fatalf("client list = %v (total %d); want adm5 (MQTT5, keepalive 30) then adm3 over mqtt_tcp", rows, total)
	}
	for _, c := range []struct {
		query string
		want  int
	}{
		{"client_id=adm5", 1}, {"client_id=adm", 2}, {"source_ip=127.0.0.1", 2}, {"source_ip=10.9.9.9", 0},
		{"connection_id=" + strconv.FormatUint(uint64(rows[0]["connection_id"].(float64)), 10), 1},
		{"filter_field=protocol&filter_values=MQTT4", 1}, {"limit=1&page=2", 2},
	} {
		if got, total := rt.page(t, "GET /api/mqtt/client/list", "/api/mqtt/client/list?"+c.query); total != c.want ||
			len(got) > 1 && strings.Contains(c.query, "limit=1") {
			t.Errorf("client list ?%s: total %d, rows %v; want total %d", c.query, total, got, c.want)
		}
	}
	if rows, _ := rt.page(t, "GET /api/mqtt/subscribe/list", "/api/mqtt/subscribe/list?client_id=adm5"); len(rows) != 1 ||
		rows[0]["path"] != "$share/g/adm/+" || rows[0]["share_group"] != "g" || rows[0]["is_share_sub"] != true {
		t.Errorf("subscribe list ?client_id=adm5 = %v; want the shared subscription", rows)
	}
	if rows, _ := rt.page(t, "GET /api/mqtt/retain/list", "/api/mqtt/retain/list?topic_name=adm/"); len(rows) != 1 ||
		rows[0]["topic_name"] != "adm/r" || rows[0]["payload_size"] != 4.0 {
		t.Errorf("retain list ?topic_name=adm/ = %v; want adm/r of 4 bytes", rows)
	}
	if code, _ := rt.call(t, "POST /api/mqtt/retain/delete", "/api/mqtt/retain/delete", `{"topic_name":"adm/r"}`); code != 200 {
		t.Errorf("retain delete adm/r: %d; want 200", code)
	}
	if code, _ := rt.call(t, "POST /api/mqtt/retain/delete", "/api/mqtt/retain/delete", `{"topic_name":"adm/r"}`); code != 404 {
		t.Errorf("retain delete adm/r again: %d; want 404", code)
	}

	// $SYS byte counters come from the listener's netpoll metrics. The
	// retained value may be from the round before any client connected
	// ("0"): the next rounds (every 20 ms) must count bytes.
	bytesIn := make(chan string, 64)
	wait(t, "subscribe $SYS", c3.Subscribe("$SYS/brokers/+/metrics/bytes/received", 0,
		func(_ paho.Client, m paho.Message) {
			select {
			case bytesIn <- string(m.Payload()):
			default:
			}
		}))
	for deadline, last := time.After(5*time.Second), ""; ; {
		select {
		case v := <-bytesIn:
			if n, err := strconv.Atoi(v); err != nil {
				t.Fatalf("metrics/bytes/received = %q; want a number", v)
			} else if n <= 0 {
				last = v
				continue
			}
		case <-deadline:
			t.Fatalf("no positive $SYS metrics/bytes/received within 5s (last %q)", last)
		}
		break
	}

	for _, c := range []struct {
		body string
		want int
	}{{`{"client_id":"adm5"}`, 200}, {`{"client_id":"nobody"}`, 404}, {`{}`, 400}, {`not json`, 400}} {
		if code, data := rt.call(t, "POST /api/mqtt/client/kick", "/api/mqtt/client/kick", c.body); code != c.want {
			t.Errorf("kick %s: %d %s; want %d", c.body, code, data, c.want)
		}
	}
	select {
	case d := <-disc:
		if d.ReasonCode != byte(mqtt.ReasonAdministrativeAction) {
			t.Errorf("kicked adm5 got DISCONNECT %#x; want 0x98", d.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Error("kicked adm5 got no DISCONNECT")
	}
	c3.Disconnect(50)
	deadline := time.Now().Add(5 * time.Second)
	for {
		rows, _ := rt.page(t, "GET /api/mqtt/session/list", "/api/mqtt/session/list")
		if len(rows) == 1 && rows[0]["client_id"] == "adm3" && rows[0]["connected"] == false {
			break // adm5 (expiry 0) ended; adm3's persistent session stays, offline
		}
		if time.Now().After(deadline) {
			t.Fatalf("session list = %v; want only adm3, offline", rows)
		}
		time.Sleep(5 * time.Millisecond)
	}

	if err := b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"GET /api/mqtt/client/list", "GET /api/mqtt/session/list", "GET /api/mqtt/subscribe/list",
		"GET /api/mqtt/retain/list", "POST /api/mqtt/client/kick", "POST /api/mqtt/retain/delete"} {
		if code, _ := rt.call(t, p, strings.Fields(p)[1], `{"client_id":"x","topic_name":"x"}`); code != http.StatusServiceUnavailable {
			t.Errorf("%s after Stop: %d; want 503", p, code)
		}
	}
}
