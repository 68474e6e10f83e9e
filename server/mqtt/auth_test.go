package mqtt

import (
	"bytes"
	"errors"
	"testing"

	"robustmq/codec/mqtt"
)

// reverse is a test method: the server challenges with "abc", the client
// answers it reversed.
type reverse struct{}

func (reverse) Method() string { return "REVERSE" }

func (reverse) Step(state any, data []byte) (any, []byte, bool, error) {
	if state == nil {
		return "abc", []byte("abc"), false, nil
	}
	if string(data) != "cba" {
		return nil, nil, false, errors.New("wrong answer")
	}
	return nil, []byte("welcome"), true, nil
}

func authPacket(code mqtt.ReasonCode, method, data string) []byte {
	var a mqtt.Auth
	a.Reason = code
	a.Props.SetBytes(mqtt.PropAuthMethod, []byte(method))
	if data != "" {
		a.Props.SetBytes(mqtt.PropAuthData, []byte(data))
	}
	return mqtt.AppendAuth(nil, &a)
}

func (r *raw) expectAuth(code mqtt.ReasonCode, data string) {
	r.t.Helper()
	typ := r.next()
	d, _ := r.d.Auth.Props.Bytes(mqtt.PropAuthData)
	if typ != mqtt.AUTH || r.d.Auth.Reason != code || string(d) != data {
		r.t.Fatalf("got %v reason %#x data %q; want AUTH %#x %q", typ, r.d.Auth.Reason, d, code, data)
	}
}

// TestEnhancedAuth: CONNECT with a configured method runs the AUTH
// exchange before CONNACK; a wrong answer gets CONNACK 0x87; another packet
// during the exchange is a Protocol Error; re-authentication (0x19) works
// on the authenticated connection.
func TestEnhancedAuth(t *testing.T) {
	ts := start(t, func(o *Options) { o.Auth = reverse{} })
	connect := func(r *raw, method string) {
		var cp mqtt.Connect
		cp.Version, cp.ClientID, cp.CleanStart = mqtt.V5, []byte("auth"), true
		cp.Props.SetBytes(mqtt.PropAuthMethod, []byte(method))
		r.send(mqtt.AppendConnect(nil, &cp))
	}

	r := dial(t, ts.addr, mqtt.V5)
	connect(r, "REVERSE")
	r.expectAuth(mqtt.ReasonContinueAuthentication, "abc")
	r.send(authPacket(mqtt.ReasonContinueAuthentication, "REVERSE", "cba"))
	if typ := r.next(); typ != mqtt.CONNACK || r.d.Connack.Code != 0 {
		t.Fatalf("got %v code %#x; want CONNACK 0", typ, r.d.Connack.Code)
	}
	if d, _ := r.d.Connack.Props.Bytes(mqtt.PropAuthData); string(d) != "welcome" {
		t.Fatalf("CONNACK Authentication Data %q; want the method's last reply", d)
	}
	r.send(authPacket(mqtt.ReasonReAuthenticate, "REVERSE", ""))
	r.expectAuth(mqtt.ReasonContinueAuthentication, "abc")
	r.send(authPacket(mqtt.ReasonContinueAuthentication, "REVERSE", "cba"))
	r.expectAuth(mqtt.ReasonSuccess, "welcome")

	wrong := dial(t, ts.addr, mqtt.V5)
	connect(wrong, "REVERSE")
	wrong.expectAuth(mqtt.ReasonContinueAuthentication, "abc")
	wrong.send(authPacket(mqtt.ReasonContinueAuthentication, "REVERSE", "abc"))
	if typ := wrong.next(); typ != mqtt.CONNACK || wrong.d.Connack.Code != byte(mqtt.ReasonNotAuthorized) {
		t.Fatalf("got %v code %#x; want CONNACK 0x87", typ, wrong.d.Connack.Code)
	}
	wrong.closed()

	early := dial(t, ts.addr, mqtt.V5)
	connect(early, "REVERSE")
	early.expectAuth(mqtt.ReasonContinueAuthentication, "abc")
	early.send(mqtt.AppendPingreq(nil))
	if typ := early.next(); typ != mqtt.CONNACK || early.d.Connack.Code != byte(mqtt.ReasonProtocolError) {
		t.Fatalf("got %v code %#x; want CONNACK 0x82", typ, early.d.Connack.Code)
	}

	other := dial(t, ts.addr, mqtt.V5)
	connect(other, "SCRAM-SHA-1")
	if typ := other.next(); typ != mqtt.CONNACK || other.d.Connack.Code != byte(mqtt.ReasonBadAuthenticationMethod) {
		t.Fatalf("got %v code %#x; want CONNACK 0x8C", typ, other.d.Connack.Code)
	}
}

// TestLogin: the Login hook refuses with 0x86 in 5.0 and return code 4 in
// 3.1.1, and accepts the right credentials.
func TestLogin(t *testing.T) {
	ts := start(t, func(o *Options) {
		o.Login = func(c *mqtt.Connect) mqtt.ReasonCode {
			if string(c.Username) == "u" && string(c.Password) == "p" {
				return mqtt.ReasonSuccess
			}
			return mqtt.ReasonBadUserNameOrPassword
		}
	})
	for _, c := range []struct {
		v          mqtt.Version
		user, pass string
		want       []byte
	}{
		{mqtt.V5, "u", "bad", connackReason(0x86, "login refused")},
		{mqtt.V311, "u", "bad", []byte{0x20, 2, 0, 4}},
		{mqtt.V311, "u", "p", []byte{0x20, 2, 0, 0}},
	} {
		r := dial(t, ts.addr, c.v)
		cp := mqtt.Connect{Version: c.v, ClientID: []byte("login"), CleanStart: true, HasUsername: true,
			Username: []byte(c.user), HasPassword: true, Password: []byte(c.pass)}
		r.send(mqtt.AppendConnect(nil, &cp))
		if c.want[3] == 0 {
			if typ := r.next(); typ != mqtt.CONNACK || r.d.Connack.Code != 0 {
				t.Fatalf("%v %s/%s: got %v %#x; want CONNACK 0", c.v, c.user, c.pass, typ, r.d.Connack.Code)
			}
			continue
		}
		if got := r.closed(); !bytes.Equal(got, c.want) {
			t.Fatalf("%v %s/%s: got % x; want % x", c.v, c.user, c.pass, got, c.want)
		}
	}
}
