package broker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"robustmq/server/config"
	"robustmq/server/node/component"
	"robustmq/server/node/listener"
)

// authBroker starts a broker with anonymous clients refused, Kafka SASL
// on, and the admin routes served over real HTTP.
func authBroker(t *testing.T) (cfg *config.Config, api string) {
	t.Helper()
	cfg = config.Default()
	cfg.BindIP, cfg.BrokerIP, cfg.DataPath = "127.0.0.1", "127.0.0.1", t.TempDir()
	s := &cfg.MQTTRuntime.Server
	s.TCPPort, s.TLSPort, s.WebsocketPort, s.WebsocketsPort = freePort(t), 0, 0, 0
	cfg.MQTTRuntime.Auth.AllowAnonymous = false
	cfg.KafkaRuntime.TCPPort = freePort(t)
	cfg.KafkaRuntime.SASL = config.KafkaSASLConfig{Enabled: true, Mechanisms: []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}}
	mux := http.NewServeMux()
	b, err := NewWith(component.Env{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Listeners: &listener.Registry{}, HTTP: mux}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Stop(ctx)
	})
	return cfg, hs.URL
}

// call does one admin request and decodes the envelope's data.
func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// mqttCode connects a 3.1.1 client and returns its CONNACK return code.
func mqttCode(t *testing.T, port int, id, user, pass string, after func(paho.Client)) byte {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://127.0.0.1:" + itoa(port)).SetClientID(id).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatalf("connect %s: no CONNACK", id)
	}
	if err := tok.Error(); err != nil {
		for rc, e := range packets.ConnErrors {
			if e != nil && errors.Is(err, e) {
				return rc
			}
		}
		t.Fatalf("connect %s: %v", id, err)
	}
	if after != nil {
		after(c)
	}
	c.Disconnect(0)
	return 0
}

// TestAdminAuth: users, ACL rules and blacklist entries made over the
// admin HTTP API take effect on MQTT clients and on Kafka SASL.
func TestAdminAuth(t *testing.T) {
	cfg, api := authBroker(t)
	port := cfg.MQTTRuntime.Server.TCPPort
	f := func(method, path, body string, wantCode int, wantIn string) string {
		t.Helper()
		code, got := call(t, method, api+path, body)
		if code != wantCode || !strings.Contains(got, wantIn) {
			t.Fatalf("%s %s %s: %d %s; want %d containing %q", method, path, body, code, got, wantCode, wantIn)
		}
		return got
	}
	f("POST", "/api/mqtt/user/create", `{"username":"alice","password":"pw","is_superuser":false}`, 200, "Created successfully!")
	f("POST", "/api/mqtt/user/create", `{"username":"","password":"pw"}`, 400, "user")
	body := f("GET", "/api/mqtt/user/list?sort_field=username", "", 200, `"total_count":2`)
	var list struct {
		Data struct {
			Data []struct {
				Username string `json:"username"`
				Super    bool   `json:"is_superuser"`
			} `json:"data"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Data.Data) != 2 ||
		list.Data.Data[0].Username != "admin" || !list.Data.Data[0].Super || list.Data.Data[1].Username != "alice" {
		t.Fatalf("user list %s (%v); want admin (superuser), alice", body, err)
	}
	if body := f("GET", "/api/mqtt/user/list", "", 200, "alice"); strings.Contains(body, "pw") {
		t.Fatalf("user list shows a password: %s", body)
	}

	// MQTT: the default user and alice log in; a wrong password and anonymous clients do not.
	code := func(id, user, pass string, want byte) {
		t.Helper()
		if got := mqttCode(t, port, id, user, pass, nil); got != want {
			t.Errorf("CONNECT %s %s/%s: return code %d; want %d", id, user, pass, got, want)
		}
	}
	code("a1", "alice", "pw", 0)
	code("a2", "admin", "robustmq", 0)
	code("a3", "alice", "nope", 4)
	code("a4", "", "", 5)

	// ACL: deny alice subscribing to secret/#.
	rule := `{"resource_type":"Username","resource_name":"alice","topic":"secret/#","ip":"","action":"Subscribe","permission":"Deny"}`
	f("POST", "/api/mqtt/acl/create", rule, 200, "Created successfully!")
	f("POST", "/api/mqtt/acl/create", `{"resource_type":"Nobody","topic":"x","action":"All","permission":"Allow"}`, 400, "resource_type")
	f("GET", "/api/mqtt/acl/list", "", 200, `"topic":"secret/#"`)
	mqttCode(t, port, "a5", "alice", "pw", func(c paho.Client) {
		tok := c.SubscribeMultiple(map[string]byte{"secret/a": 1, "open/a": 1}, nil)
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
		if r := tok.(*paho.SubscribeToken).Result(); r["secret/a"] != 0x80 || r["open/a"] != 1 {
			t.Errorf("SUBACK %v; want secret/a 0x80, open/a 1", r)
		}
	})
	f("POST", "/api/mqtt/acl/delete", rule, 200, "Deleted successfully!")
	f("POST", "/api/mqtt/acl/delete", rule, 404, "no such ACL rule")

	// Blacklist by client id, with and without an end time.
	f("POST", "/api/mqtt/blacklist/create", `{"blacklist_type":"ClientId","resource_name":"bad","end_time":0,"desc":"test"}`, 200, "Created")
	f("POST", "/api/mqtt/blacklist/create", `{"blacklist_type":"IPCIDR","resource_name":"not-a-cidr"}`, 400, "CIDR")
	f("GET", "/api/mqtt/blacklist/list", "", 200, `"resource_name":"bad"`)
	code("bad", "alice", "pw", 5)
	f("POST", "/api/mqtt/blacklist/delete", `{"blacklist_type":"ClientId","resource_name":"bad"}`, 200, "Deleted")
	code("bad", "alice", "pw", 0)
	// By client id pattern (a regular expression).
	f("POST", "/api/mqtt/blacklist/create", `{"blacklist_type":"ClientIdMatch","resource_name":"^bot-[0-9]+$"}`, 200, "Created")
	f("POST", "/api/mqtt/blacklist/create", `{"blacklist_type":"UserMatch","resource_name":"a("}`, 400, "missing closing")
	code("bot-7", "alice", "pw", 5)
	code("bot-7b", "alice", "pw", 0)

	// Kafka SASL against the same users: a produce with the right password,
	// a ping (no produce retries) with a wrong one.
	kafka := func(m sasl.Mechanism, produce bool) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		kc, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:"+itoa(cfg.KafkaRuntime.TCPPort)), kgo.SASL(m),
			kgo.AllowAutoTopicCreation(), kgo.RequestRetries(0), kgo.RetryTimeout(0))
		if err != nil {
			t.Fatal(err)
		}
		defer kc.Close()
		if !produce {
			return kc.Ping(ctx)
		}
		return kc.ProduceSync(ctx, &kgo.Record{Topic: "sasl.t", Value: []byte("x")}).FirstErr()
	}
	for name, mech := range map[string]func(u, p string) sasl.Mechanism{
		"plain":     func(u, p string) sasl.Mechanism { return plain.Auth{User: u, Pass: p}.AsMechanism() },
		"scram-256": func(u, p string) sasl.Mechanism { return scram.Auth{User: u, Pass: p}.AsSha256Mechanism() },
		"scram-512": func(u, p string) sasl.Mechanism { return scram.Auth{User: u, Pass: p}.AsSha512Mechanism() },
	} {
		if err := kafka(mech("alice", "pw"), true); err != nil {
			t.Errorf("kafka %s alice/pw: %v", name, err)
		}
		if err := kafka(mech("alice", "wrong"), false); err == nil {
			t.Errorf("kafka %s alice/wrong accepted", name)
		}
	}

	f("POST", "/api/mqtt/user/delete", `{"username":"alice"}`, 200, "Deleted successfully!")
	f("POST", "/api/mqtt/user/delete", `{"username":"alice"}`, 404, "no such user")
	code("a6", "alice", "pw", 4)
	if err := kafka(plain.Auth{User: "alice", Pass: "pw"}.AsMechanism(), false); err == nil {
		t.Error("kafka: deleted user accepted")
	}
}
