package broker

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"robustmq/server/config"
	"robustmq/server/message"
	"robustmq/server/node/component"
	"robustmq/server/node/listener"
)

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// routes records the admin routes the component registers.
type routes map[string]func(http.ResponseWriter, *http.Request)

func (r routes) HandleFunc(p string, h func(w http.ResponseWriter, r *http.Request)) { r[p] = h }

// get calls a registered route and returns its status and body.
func (r routes) get(t *testing.T, pattern string) (int, string) {
	t.Helper()
	h := r[pattern]
	if h == nil {
		t.Fatalf("route %q not registered", pattern)
	}
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest("GET", "/", nil))
	return rec.Code, rec.Body.String()
}

// TestBroker starts the component from a config with all four MQTT
// listeners, checks their probes, runs a QoS 1 round trip from TCP to
// WebSocket, checks the message reached the topic's shard, and stops.
func TestBroker(t *testing.T) {
	cfg := config.Default()
	cfg.BindIP = "127.0.0.1"
	s := &cfg.MQTTRuntime.Server
	s.TCPPort, s.TLSPort, s.WebsocketPort, s.WebsocketsPort = freePort(t), freePort(t), freePort(t), freePort(t)
	cfg.BrokerNetwork.TLSCert, cfg.BrokerNetwork.TLSKey = "../../config/certs/cert.pem", "../../config/certs/key.pem"
	cfg.KafkaRuntime.TCPPort = 0 // no Kafka: TestBrokerKafka
	rt := routes{}
	b, reg := startBroker(t, cfg, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if names := probeNames(reg); len(names) != 4 || names[0] != "mqtt_tcp" || names[3] != "mqtt_wss" {
		t.Fatalf("probes %v; want mqtt_tcp, mqtt_tls, mqtt_ws, mqtt_wss", names)
	}

	connect := func(url, id string) paho.Client {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetAutoReconnect(false).
			SetConnectTimeout(5 * time.Second))
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", url, tok.Error())
		}
		return c
	}
	got := make(chan string, 1)
	sub := connect("ws://127.0.0.1:"+itoa(s.WebsocketPort)+"/mqtt", "bsub")
	if tok := sub.Subscribe("b/#", 1, func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }); !tok.WaitTimeout(5 * time.Second) {
		t.Fatal("subscribe timed out")
	}
	pub := connect("tcp://127.0.0.1:"+itoa(s.TCPPort), "bpub")
	if tok := pub.Publish("b/1", 1, false, "stored"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case p := <-got:
		if p != "stored" {
			t.Fatalf("got %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message over WebSocket")
	}
	if code, body := rt.get(t, "GET /api/mqtt/topic/list"); code != 200 || !strings.Contains(body, `"topic":"b/1"`) ||
		!strings.Contains(body, `"published":1`) {
		t.Fatalf("topic list: %d %s", code, body)
	}
	if code, body := rt.get(t, "GET /api/mqtt/overview"); code != 200 || !strings.Contains(body, `"sessions":2`) {
		t.Fatalf("overview: %d %s", code, body)
	}
	res, err := b.opts.Storage.Read(message.ShardName("b/1"), 0, 10, 1<<20)
	if err != nil || len(res.Records) != 1 || string(res.Records[0].Value) != "stored" {
		t.Fatalf("shard b/1_0: %v %+v", err, res)
	}
	res.Release()

	pub.Disconnect(0)
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if code, _ := rt.get(t, "GET /api/mqtt/overview"); code != http.StatusServiceUnavailable {
		t.Fatalf("overview after Stop: %d; want 503", code)
	}
	if ps := reg.List(); len(ps) != 0 {
		t.Fatalf("probes after Stop: %d", len(ps))
	}
	if _, err := net.DialTimeout("tcp", "127.0.0.1:"+itoa(s.TCPPort), time.Second); err == nil {
		t.Fatal("mqtt_tcp still accepts after Stop")
	}
}

func itoa(p int) string { return strconv.Itoa(p) }

// startBroker starts a broker over cfg with a fresh listener registry and
// admin routes rt; one the test did not stop is stopped at cleanup.
func startBroker(t *testing.T, cfg *config.Config, rt routes) (*Broker, *listener.Registry) {
	t.Helper()
	reg := &listener.Registry{}
	b, err := NewWith(component.Env{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Listeners: reg,
		HTTP: rt}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if b.MQTT() != nil {
			_ = b.Stop(context.Background())
		}
	})
	return b, reg
}

// probeNames lists the names of the registered listener probes.
func probeNames(reg *listener.Registry) []string {
	var names []string
	for _, p := range reg.List() {
		names = append(names, p.Name())
	}
	return names
}

func TestServerCertificateFallback(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	def := config.Default().BrokerNetwork
	cases := []struct {
		name    string
		nw      config.BrokerNetworkConfig
		wantErr bool
	}{
		{"default paths missing: ephemeral", def, false},
		{"operator paths missing: error", config.BrokerNetworkConfig{TLSCert: dir + "/c.pem", TLSKey: dir + "/k.pem"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Chdir(dir) // the default relative paths do not exist here
			cert, err := serverCertificate(c.nw, "127.0.0.1", log)
			if (err != nil) != c.wantErr {
				t.Fatalf("serverCertificate(%+v) err = %v; want error %v", c.nw, err, c.wantErr)
			}
			if err == nil && len(cert.Certificate) != 1 {
				t.Fatalf("got %d certificates; want 1", len(cert.Certificate))
			}
			if err != nil && !strings.Contains(err.Error(), "broker_network.tls_cert/tls_key") {
				t.Fatalf("err = %v; want it to name broker_network.tls_cert/tls_key", err)
			}
		})
	}
}
