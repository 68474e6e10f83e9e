package mqtt

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	paho3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/golang-jwt/jwt/v5"

	"robustmq/server/message/auth"
)

var jwtSecret = []byte("0123456789abcdef0123456789abcdef")

// startAuth starts a server whose Access is a fresh store with users
// alice/pw, root/pw (superuser), no anonymous clients, JWT with jwtSecret
// and key's public half, and the rules given.
func startAuth(t *testing.T, key *rsa.PrivateKey, rules ...auth.Rule) (*testServer, *auth.Store) {
	t.Helper()
	var pub *rsa.PublicKey
	if key != nil {
		pub = &key.PublicKey
	}
	st, err := auth.New(context.Background(), auth.Options{Iterations: 256,
		JWT: &auth.JWT{Secret: jwtSecret, PublicKey: pub, ClientIDClaim: "clientid", UsernameClaim: "username"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, u := range []struct {
		name  string
		super bool
	}{{"alice", false}, {"bob", false}, {"root", true}} {
		if err := st.SetUser(ctx, u.name, "pw", u.super); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rules {
		if err := st.AddRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	return start(t, func(o *Options) { o.Access = st }), st
}

// connack5 connects a 5.0 client and returns the CONNACK reason code
// (and the client when accepted).
func connack5(t *testing.T, addr, id, user, pass string) (byte, *client5) {
	t.Helper()
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
	}
	if pass != "" {
		cp.Password, cp.PasswordFlag = []byte(pass), true
	}
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := &client5{got: make(chan *paho.Publish, 64), disc: make(chan *paho.Disconnect, 1)}
	c.Client = paho.NewClient(paho.ClientConfig{Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(p paho.PublishReceived) (bool, error) { c.got <- p.Packet; return true, nil },
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, cp)
	if ack == nil {
		t.Fatalf("connect %s: no CONNACK: %v", id, err)
	}
	if err != nil {
		_ = nc.Close()
		return ack.ReasonCode, nil
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return ack.ReasonCode, c
}

func TestAuthConnect5(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	ts, st := startAuth(t, key)
	sign := func(m jwt.SigningMethod, k any, c jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(m, c).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	exp := time.Now().Add(time.Hour).Unix()
	claims := jwt.MapClaims{"username": "dev", "clientid": "jwt1", "exp": exp}
	ctx := context.Background()
	for _, b := range []auth.Ban{{Kind: auth.BanClientID, Name: "evil"}, {Kind: auth.BanUser, Name: "bob"}} {
		if err := st.AddBan(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	f := func(name, id, user, pass string, want byte) {
		t.Helper()
		if got, _ := connack5(t, ts.addr, id, user, pass); got != want {
			t.Errorf("%s: CONNACK %#x; want %#x", name, got, want)
		}
	}
	f("password", "c1", "alice", "pw", 0)
	f("bad password", "c1", "alice", "nope", 0x86)
	f("unknown user", "c1", "mallory", "pw", 0x86)
	f("anonymous", "c1", "", "", 0x87)
	f("hs256", "jwt1", "dev", sign(jwt.SigningMethodHS256, jwtSecret, claims), 0)
	f("rs256", "jwt1", "dev", sign(jwt.SigningMethodRS256, key, claims), 0)
	f("rs256 wrong key", "jwt1", "dev", sign(jwt.SigningMethodRS256, other, claims), 0x86)
	f("hs256 wrong secret", "jwt1", "dev", sign(jwt.SigningMethodHS256, []byte("not-the-secret-not-the-secret-!!"), claims), 0x86)
	f("expired", "jwt1", "dev", sign(jwt.SigningMethodHS256, jwtSecret,
		jwt.MapClaims{"username": "dev", "exp": time.Now().Add(-time.Minute).Unix()}), 0x86)
	f("client id claim", "other", "dev", sign(jwt.SigningMethodHS256, jwtSecret, claims), 0x86)
	f("banned client id", "evil", "alice", "pw", 0x8A)
	f("banned user", "c2", "bob", "pw", 0x8A)
	if err := st.AddBan(ctx, auth.Ban{Kind: auth.BanIP, Name: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	f("banned ip", "c3", "root", "pw", 0x8A)
	if err := st.DeleteBan(ctx, auth.BanIP, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	f("unbanned ip", "c3", "root", "pw", 0)
}

func TestAuthConnect3(t *testing.T) {
	ts, _ := startAuth(t, nil)
	url := "tcp://" + ts.addr
	f := func(name, user, pass string, want byte) {
		t.Helper()
		o := paho3.NewClientOptions().AddBroker(url).SetClientID("c3-" + name).SetAutoReconnect(false).
			SetConnectTimeout(5 * time.Second).SetProtocolVersion(4).SetUsername(user).SetPassword(pass)
		c := paho3.NewClient(o)
		tok := c.Connect()
		if !tok.WaitTimeout(5 * time.Second) {
			t.Fatalf("%s: no CONNACK", name)
		}
		var code byte
		if err := tok.Error(); err != nil {
			code = 0xff
			for rc, e := range packets.ConnErrors {
				if e != nil && errors.Is(err, e) {
					code = rc
				}
			}
		} else {
			c.Disconnect(0)
		}
		if code != want {
			t.Errorf("%s: return code %d (%v); want %d", name, code, tok.Error(), want)
		}
	}
	f("password", "alice", "pw", 0)
	f("bad password", "alice", "nope", 4)
	f("anonymous", "", "", 5)
}

// TestAuthACL5: denied publishes are not delivered (QoS 1 gets PUBACK
// 0x87, QoS 0 is dropped), denied subscriptions get SUBACK 0x87, %u and
// %c resolve per client, superusers bypass.
func TestAuthACL5(t *testing.T) {
	ts, _ := startAuth(t, nil,
		auth.Rule{Subject: auth.AnyClient, Topic: "users/%u/#", Action: auth.All, Allow: true},
		auth.Rule{Subject: auth.AnyClient, Topic: "clients/%c/#", Action: auth.All, Allow: true},
		auth.Rule{Subject: auth.AnyClient, Topic: "users/#", Action: auth.All, Allow: false},
		auth.Rule{Subject: auth.AnyClient, Topic: "clients/#", Action: auth.All, Allow: false},
		auth.Rule{Subject: auth.ByUser, Name: "alice", Topic: "ro/#", Action: auth.Publish, Allow: false},
		auth.Rule{Subject: auth.AnyClient, Topic: "secret/#", Action: auth.Subscribe, Allow: false},
	)
	_, root := connack5(t, ts.addr, "root", "root", "pw")
	_, alice := connack5(t, ts.addr, "ca", "alice", "pw")
	sa := root.sub(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "#", QoS: 1}}})
	if sa.Reasons[0] != 1 {
		t.Fatalf("superuser SUBACK %v; want [1]", sa.Reasons)
	}
	pub := func(topic string, qos byte) byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := alice.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte(topic)})
		if qos == 0 {
			if err != nil {
				t.Fatalf("publish %s: %v", topic, err)
			}
			return 0
		}
		if r == nil {
			t.Fatalf("publish %s: no acknowledgement: %v", topic, err)
		}
		return r.ReasonCode
	}
	expect := func(topic string) {
		t.Helper()
		if p := root.next(t); p.Topic != topic {
			t.Fatalf("subscriber got %s; want %s (a denied publish was delivered?)", p.Topic, topic)
		}
	}
	if rc := pub("ro/x", 1); rc != 0x87 {
		t.Errorf("denied QoS 1 publish: PUBACK %#x; want 0x87", rc)
	}
	pub("ro/y", 0)
	if rc := pub("users/bob/x", 1); rc != 0x87 {
		t.Errorf("other user's topic: PUBACK %#x; want 0x87", rc)
	}
	if rc := pub("users/alice/x", 1); rc != 0 {
		t.Errorf("own %%u topic: PUBACK %#x; want 0", rc)
	}
	expect("users/alice/x") // nothing denied came before it
	if rc := pub("clients/ca/x", 1); rc != 0 {
		t.Errorf("own %%c topic: PUBACK %#x; want 0", rc)
	}
	expect("clients/ca/x")
	if rc := pub("clients/cb/x", 1); rc != 0x87 {
		t.Errorf("other client's topic: PUBACK %#x; want 0x87", rc)
	}
	if rc := pub("$delayed/1/ro/z", 1); rc != 0x87 {
		t.Errorf("delayed publish to a denied topic: PUBACK %#x; want 0x87", rc)
	}
	if rc := pub("free/x", 1); rc != 0 {
		t.Errorf("unmatched topic (default allow): PUBACK %#x; want 0", rc)
	}
	expect("free/x")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sa, err := alice.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "secret/a", QoS: 1}, {Topic: "users/alice/#", QoS: 1}, {Topic: "#", QoS: 1},
		{Topic: "$share/g/secret/b", QoS: 1}, {Topic: "users/+/x", QoS: 1}}})
	if sa == nil {
		t.Fatalf("subscribe: no SUBACK: %v", err)
	}
	if want := []byte{0x87, 1, 0x87, 0x87, 0x87}; string(sa.Reasons) != string(want) {
		t.Errorf("SUBACK %v; want %v", sa.Reasons, want)
	}
	_, rootPub := connack5(t, ts.addr, "root2", "root", "pw")
	rootPub.pub(t, &paho.Publish{Topic: "users/alice/z", QoS: 1, Payload: []byte("z")})
	if p := alice.next(t); p.Topic != "users/alice/z" {
		t.Errorf("alice got %s; want users/alice/z", p.Topic)
	}
}

// TestAuthACL3: in 3.1.1 a denied QoS 1 publish is acknowledged and
// dropped (mosquitto's behaviour), a denied subscription gets 0x80.
func TestAuthACL3(t *testing.T) {
	ts, _ := startAuth(t, nil, auth.Rule{Subject: auth.AnyClient, Topic: "ro/#", Action: auth.Publish, Allow: false},
		auth.Rule{Subject: auth.AnyClient, Topic: "secret/#", Action: auth.Subscribe, Allow: false})
	url := "tcp://" + ts.addr
	login := func(o *paho3.ClientOptions) { o.SetUsername("alice").SetPassword("pw") }
	sub := client3(t, url, "sub3", func(o *paho3.ClientOptions) { o.SetUsername("root").SetPassword("pw") })
	pub := client3(t, url, "pub3", login)
	got := make(recv3, 8)
	wait3(t, "subscribe", sub.Subscribe("#", 2, got.handler)) // a superuser: sees every delivery
	tok := pub.SubscribeMultiple(map[string]byte{"secret/x": 1}, nil)
	wait3(t, "subscribe secret", tok)
	if r := tok.(*paho3.SubscribeToken).Result(); r["secret/x"] != 0x80 {
		t.Errorf("denied 3.1.1 subscription: SUBACK %v; want 0x80", r)
	}
	for _, q := range []byte{1, 2} {
		wait3(t, "publish ro", pub.Publish("ro/x", q, false, "denied"))
	}
	wait3(t, "publish ok", pub.Publish("ok/x", 1, false, "fine"))
	got.expect(t, "ok/x", "fine", 1, false) // first: the denied ones were not delivered
	wait3(t, "publish after QoS 2 denial", pub.Publish("ok/y", 2, false, "fine"))
	got.expect(t, "ok/y", "fine", 2, false)
}

// TestAuthWill: a will to a denied topic refuses the CONNECT.
func TestAuthWill(t *testing.T) {
	ts, _ := startAuth(t, nil, auth.Rule{Subject: auth.AnyClient, Topic: "ro/#", Action: auth.Publish, Allow: false})
	o := paho3.NewClientOptions().AddBroker("tcp://"+ts.addr).SetClientID("w").SetAutoReconnect(false).
		SetConnectTimeout(5*time.Second).SetProtocolVersion(4).SetUsername("alice").SetPassword("pw").
		SetWill("ro/will", "bye", 1, false)
	tok := paho3.NewClient(o).Connect()
	if !tok.WaitTimeout(5*time.Second) || !errors.Is(tok.Error(), packets.ErrorRefusedNotAuthorised) {
		t.Fatalf("CONNECT with a denied will: %v; want not authorized", tok.Error())
	}
}
