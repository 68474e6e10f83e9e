package admin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/bytedance/sonic"
)

// fakeClock is a settable clock for token expiry.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestServer(t *testing.T, password string, clock *fakeClock) *Server {
	t.Helper()
	s := New(Options{
		Addr: "127.0.0.1:0", Ready: func() (bool, string) { return true, "" },
		Username: "admin", Password: password, TokenTTL: time.Hour, Now: clock.now,
	})
	s.HandleFunc("GET /api/secret", func(w http.ResponseWriter, _ *http.Request) { OK(w, "s3cret") })
	return s
}

// do sends one request from remote through the server's whole handler chain.
func do(t *testing.T, h http.Handler, method, path, remote, token, body string) (int, envelope) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = remote
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var e envelope
	if err := sonic.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("%s %s from %s: body %q is not an envelope: %v", method, path, remote, w.Body, err)
	}
	if (w.Code == 200) != (e.Error == nil) || (w.Code != 200 && e.Code != w.Code) {
		t.Fatalf("%s %s: status %d with envelope %+v: code/error disagree with status", method, path, w.Code, e)
	}
	return w.Code, e
}

func login(t *testing.T, h http.Handler, user, pass string) (int, string) {
	t.Helper()
	code, e := do(t, h, "POST", "/api/v1/login", "10.1.2.3:4000", "",
		fmt.Sprintf(`{"username":%q,"password":%q}`, user, pass))
	if code != 200 {
		return code, ""
	}
	m, _ := e.Data.(map[string]any)
	tok, _ := m["token"].(string)
	if len(tok) != 64 {
		t.Fatalf("login token %q: want 64 hex chars", tok)
	}
	return code, tok
}

func deniedCount(reason string) uint64 {
	return metrics.GetOrCreateCounter(`robustmq_admin_auth_denied_total{reason="` + reason + `"}`).Get()
}

func TestAuthLoopbackPasses(t *testing.T) {
	h := newTestServer(t, "pw", &fakeClock{time.Unix(1000, 0)}).Handler()
	for _, remote := range []string{"127.0.0.1:5000", "127.9.9.9:1", "[::1]:5000", "[::ffff:127.0.0.1]:80"} {
		if code, e := do(t, h, "GET", "/api/secret", remote, "", ""); code != 200 || e.Data != "s3cret" {
			t.Errorf("GET /api/secret from %s = %d %+v; want 200 s3cret", remote, code, e)
		}
	}
	for _, remote := range []string{"10.0.0.1:5000", "[2001:db8::1]:80", "garbage"} {
		if code, _ := do(t, h, "GET", "/api/secret", remote, "", ""); code != 401 {
			t.Errorf("GET /api/secret from %s without token = %d; want 401", remote, code)
		}
	}
}

func TestAuthTokens(t *testing.T) {
	clock := &fakeClock{time.Unix(1000, 0)}
	h := newTestServer(t, "pw", clock).Handler()
	const remote = "192.0.2.7:4242"

	// Open paths need nothing.
	for _, p := range []string{"/health/live", "/health/ready"} {
		if code, _ := do(t, h, "GET", p, remote, "", ""); code != 200 {
			t.Errorf("GET %s from %s = %d; want 200", p, remote, code)
		}
	}
	missing := deniedCount("missing_token")
	if code, _ := do(t, h, "GET", "/api/secret", remote, "", ""); code != 401 {
		t.Fatalf("no token: %d; want 401", code)
	}
	if got := deniedCount("missing_token"); got != missing+1 {
		t.Fatalf("missing_token denials = %d; want %d", got, missing+1)
	}

	badLogins := deniedCount("bad_login")
	for _, c := range [][2]string{{"admin", "wrong"}, {"root", "pw"}, {"", ""}} {
		if code, _ := login(t, h, c[0], c[1]); code != 401 {
			t.Errorf("login(%q, %q) = %d; want 401", c[0], c[1], code)
		}
	}
	if got := deniedCount("bad_login"); got != badLogins+3 {
		t.Fatalf("bad_login denials = %d; want %d", got, badLogins+3)
	}
	if code, e := do(t, h, "POST", "/api/v1/login", remote, "", "{not json"); code != 400 || e.Error == nil {
		t.Fatalf("login with bad JSON = %d %+v; want 400", code, e)
	}

	code, tok := login(t, h, "admin", "pw")
	if code != 200 {
		t.Fatalf("login(admin, pw) = %d; want 200", code)
	}
	if code, e := do(t, h, "GET", "/api/secret", remote, tok, ""); code != 200 || e.Data != "s3cret" {
		t.Fatalf("with token: %d %+v; want 200 s3cret", code, e)
	}
	if code, _ := do(t, h, "GET", "/api/secret", remote, tok[:63]+"x", ""); code != 401 {
		t.Fatalf("with a wrong token: %d; want 401", code)
	}
	clock.t = clock.t.Add(time.Hour)
	if code, e := do(t, h, "GET", "/api/secret", remote, tok, ""); code != 401 || !strings.Contains(*e.Error, "expired") {
		t.Fatalf("with an expired token: %d %+v; want 401 expired", code, e)
	}
	if code, e := do(t, h, "GET", "/api/secret", remote, tok, ""); code != 401 || !strings.Contains(*e.Error, "invalid") {
		t.Fatalf("expired token used again: %d %+v; want 401 invalid (dropped at expiry)", code, e)
	}
}

func TestAuthEmptyPasswordRefusesLogin(t *testing.T) {
	h := newTestServer(t, "", &fakeClock{time.Unix(1000, 0)}).Handler()
	if code, _ := login(t, h, "admin", ""); code != 401 {
		t.Fatalf("login with no password configured = %d; want 401", code)
	}
}

func TestAuthTokensBounded(t *testing.T) {
	clock := &fakeClock{time.Unix(1000, 0)}
	a := newAuth("u", "p", time.Hour, clock.now)
	first, _, err := a.login("u", "p")
	if err != nil {
		t.Fatal(err)
	}
	for range maxTokens {
		clock.t = clock.t.Add(time.Millisecond)
		if _, _, err := a.login("u", "p"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(a.tokens); n != maxTokens {
		t.Fatalf("after %d logins: %d tokens; want %d", maxTokens+1, n, maxTokens)
	}
	if reason := a.check(first); reason != "invalid_token" {
		t.Fatalf("oldest token after eviction: check = %q; want invalid_token", reason)
	}
}

func TestReadJSON(t *testing.T) {
	f := func(body string, wantOK bool, wantStatus int) {
		t.Helper()
		w := httptest.NewRecorder()
		var v struct {
			A int `json:"a"`
		}
		ok := ReadJSON(w, httptest.NewRequest("POST", "/api/x", strings.NewReader(body)), 16, &v)
		if ok != wantOK || w.Code != wantStatus || (ok && v.A != 7) {
			t.Fatalf("ReadJSON(%q) = %v, status %d, v %+v; want %v, %d", body, ok, w.Code, v, wantOK, wantStatus)
		}
	}
	f(`{"a":7}`, true, 200)
	f(`{"a":"x"}`, false, 400)
	f(`{"a":7,"padding":"xxxxxxxx"}`, false, 413)
	f(``, false, 400)
}
