package auth

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/golang-jwt/jwt/v5"
)

func newStore(t testing.TB, o Options) *Store {
	t.Helper()
	if o.Iterations == 0 {
		o.Iterations = 64 // keep tests fast; the format stores the count
	}
	s, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func deniedCount(reason string) uint64 {
	return metrics.GetOrCreateCounter(`robustmq_auth_denied_total{reason="` + reason + `"}`).Get()
}

var ctx = context.Background()

func TestUsers(t *testing.T) {
	be := NewMemory()
	s := newStore(t, Options{Backend: be})
	if err := s.SetUser(ctx, "alice", "s3cret", false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUser(ctx, "root", "toor", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUser(ctx, "", "x", false); !errors.Is(err, ErrBadUser) {
		t.Fatalf("empty name: got %v; want ErrBadUser", err)
	}
	before := deniedCount(ReasonPassword)
	for _, c := range []struct {
		user, pass string
		want       bool
	}{{"alice", "s3cret", true}, {"alice", "s3cret", true}, {"alice", "wrong", false}, {"bob", "s3cret", false}, {"root", "toor", true}} {
		if got := s.CheckPassword(c.user, c.pass); got != c.want {
			t.Errorf("CheckPassword(%q, %q) = %v; want %v", c.user, c.pass, got, c.want)
		}
	}
	if d := deniedCount(ReasonPassword) - before; d != 2 {
		t.Errorf("password denials counted %d; want 2", d)
	}
	// The stored record holds no password and survives a new Store over the same backend.
	kvs, _ := be.List(ctx, Users)
	for _, kv := range kvs {
		if containsBytes(kv.Value, "s3cret") || containsBytes(kv.Value, "toor") {
			t.Fatalf("record of %s holds the password", kv.Key)
		}
	}
	s2 := newStore(t, Options{Backend: be})
	got := s2.Users()
	if len(got) != 2 || got[0].Name != "alice" || got[0].Super || got[1].Name != "root" || !got[1].Super {
		t.Fatalf("reloaded users %+v; want alice, root (superuser)", got)
	}
	if !s2.CheckPassword("alice", "s3cret") || s2.CheckPassword("alice", "nope") {
		t.Fatal("reloaded store checks passwords wrongly")
	}
	// Password change: the old one stops working (the fast check is dropped).
	if err := s2.SetUser(ctx, "alice", "new", false); err != nil {
		t.Fatal(err)
	}
	if s2.CheckPassword("alice", "s3cret") || !s2.CheckPassword("alice", "new") {
		t.Fatal("password change not effective")
	}
	if err := s2.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s2.DeleteUser(ctx, "alice"); !errors.Is(err, ErrNoUser) {
		t.Fatalf("second delete: got %v; want ErrNoUser", err)
	}
	if s2.CheckPassword("alice", "new") {
		t.Fatal("deleted user still logs in")
	}
}

func containsBytes(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return true
		}
	}
	return false
}

// TestSCRAMCredential: the stored SCRAM credential is the RFC 5802
// derivation of the password (checked against a fresh derivation with the
// same salt).
func TestSCRAMCredential(t *testing.T) {
	s := newStore(t, Options{})
	if err := s.SetUser(ctx, "k", "pw", false); err != nil {
		t.Fatal(err)
	}
	for i, mech := range []string{ScramSHA256, ScramSHA512} {
		c, ok := s.SCRAM("k", mech)
		if !ok {
			t.Fatalf("SCRAM(k, %s) missing", mech)
		}
		h := [2]func() hash.Hash{sha256.New, sha512.New}[i]
		salted, _ := pbkdf2.Key(h, "pw", c.Salt, c.Iterations, h().Size())
		sum := h()
		sum.Write(mac(h, salted, "Client Key"))
		want := Scram{StoredKey: sum.Sum(nil), ServerKey: mac(h, salted, "Server Key")}
		if string(c.StoredKey) != string(want.StoredKey) || string(c.ServerKey) != string(want.ServerKey) {
			t.Errorf("%s credential differs from a fresh derivation", mech)
		}
	}
	if _, ok := s.SCRAM("k", "SCRAM-SHA-1"); ok {
		t.Error("unknown mechanism answered")
	}
	if _, ok := s.SCRAM("nobody", ScramSHA256); ok {
		t.Error("unknown user answered")
	}
}

func login(user string, pass string, client string, ip string) *Login {
	l := &Login{ClientID: client, Username: user, HasUsername: user != "", Password: []byte(pass), HasPassword: pass != ""}
	if ip != "" {
		l.IP = netip.MustParseAddr(ip)
	}
	return l
}

func TestConnect(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	s := newStore(t, Options{Now: func() time.Time { return now }})
	if err := s.SetUser(ctx, "alice", "pw", false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUser(ctx, "root", "pw", true); err != nil {
		t.Fatal(err)
	}
	for _, b := range []Ban{
		{Kind: BanClientID, Name: "evil"},
		{Kind: BanUser, Name: "root", Until: now.Unix() + 10},
		{Kind: BanIP, Name: "10.0.0.9"},
		{Kind: BanCIDR, Name: "192.168.0.0/16"},
		{Kind: BanClientID, Name: "expired", Until: now.Unix() - 1},
		{Kind: BanClientIDMatch, Name: `^bot-[0-9]+$`},
		{Kind: BanUserMatch, Name: `^guest`},
		{Kind: BanUserMatch, Name: `^old`, Until: now.Unix() - 1},
	} {
		if err := s.AddBan(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	f := func(l *Login, want error, super bool) {
		t.Helper()
		p, err := s.Connect(l)
		if !errors.Is(err, want) || err == nil && p.Super != super {
			t.Errorf("Connect(%+v) = %v, %v; want %v super=%v", l, p, err, want, super)
		}
	}
	f(login("alice", "pw", "c1", "127.0.0.1"), nil, false)
	f(login("alice", "bad", "c1", ""), ErrBadPassword, false)
	f(login("nobody", "pw", "c1", ""), ErrBadPassword, false)
	f(login("", "", "c1", ""), ErrAnonymous, false)
	f(login("alice", "pw", "evil", ""), ErrBanned, false)
	f(login("root", "pw", "c2", ""), ErrBanned, false) // banned for 10 more seconds
	f(login("alice", "pw", "c2", "10.0.0.9"), ErrBanned, false)
	f(login("alice", "pw", "c2", "::ffff:10.0.0.9"), ErrBanned, false)
	f(login("alice", "pw", "c2", "192.168.4.4"), ErrBanned, false)
	f(login("alice", "pw", "expired", "10.0.0.8"), nil, false)
	f(login("alice", "pw", "bot-42", ""), ErrBanned, false)
	f(login("alice", "pw", "bot-42x", ""), nil, false) // anchored: not a match
	f(login("guest7", "pw", "c3", ""), ErrBanned, false)
	f(login("alice", "pw", "guest", ""), nil, false) // a client id, not a user name
	if err := s.SetUser(ctx, "oldtimer", "pw", false); err != nil {
		t.Fatal(err)
	}
	f(login("oldtimer", "pw", "c4", ""), nil, false) // that pattern expired
	now = now.Add(11 * time.Second)
	f(login("root", "pw", "c2", ""), nil, true)
	if err := s.DeleteBan(ctx, BanClientID, "evil"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBan(ctx, BanClientID, "evil"); !errors.Is(err, ErrNoBan) {
		t.Fatalf("second DeleteBan: %v; want ErrNoBan", err)
	}
	f(login("alice", "pw", "evil", ""), nil, false)
	for _, bad := range []Ban{{Kind: BanCIDR, Name: "nonsense"}, {Kind: BanClientIDMatch, Name: "a("},
		{Kind: BanUserMatch, Name: ""}, {Kind: BanUserMatch, Name: strings.Repeat("a", maxBanPattern+1)}} {
		if err := s.AddBan(ctx, bad); !errors.Is(err, ErrBadBan) {
			t.Fatalf("AddBan(%v %q): %v; want ErrBadBan", bad.Kind, bad.Name, err)
		}
	}

	anon := newStore(t, Options{AllowAnonymous: true})
	if _, err := anon.Connect(login("", "", "c", "")); err != nil {
		t.Fatalf("anonymous refused with AllowAnonymous: %v", err)
	}
	free := newStore(t, Options{SecretFree: true})
	if _, err := free.Connect(login("who", "ever", "c", "")); err != nil {
		t.Fatalf("secret-free refused: %v", err)
	}
}

func TestJWT(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	secret := []byte("0123456789abcdef0123456789abcdef")
	s := newStore(t, Options{JWT: &JWT{Secret: secret, PublicKey: &key.PublicKey, ClientIDClaim: "clientid", UsernameClaim: "username"}})
	exp := time.Now().Add(time.Hour).Unix()
	sign := func(m jwt.SigningMethod, k any, c jwt.MapClaims) string {
		t.Helper()
		tok, err := jwt.NewWithClaims(m, c).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	f := func(name, tok, user, client string, want error, wantUser string) {
		t.Helper()
		p, err := s.Connect(login(user, tok, client, ""))
		if !errors.Is(err, want) || err == nil && p.Username != wantUser {
			t.Errorf("%s: Connect = %+v, %v; want %v user %q", name, p, err, want, wantUser)
		}
	}
	ok := jwt.MapClaims{"username": "dev", "clientid": "c1", "exp": exp}
	f("hs256", sign(jwt.SigningMethodHS256, secret, ok), "dev", "c1", nil, "dev")
	f("hs512", sign(jwt.SigningMethodHS512, secret, ok), "dev", "c1", nil, "dev")
	f("rs256", sign(jwt.SigningMethodRS256, key, ok), "dev", "c1", nil, "dev")
	f("rs512", sign(jwt.SigningMethodRS512, key, ok), "dev", "c1", nil, "dev")
	f("user from claim", sign(jwt.SigningMethodHS256, secret, ok), "", "c1", nil, "dev")
	f("no claims", sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"exp": exp}), "x", "any", nil, "x")
	f("wrong secret", sign(jwt.SigningMethodHS256, []byte("other-secret-other-secret-other!"), ok), "dev", "c1", ErrJWT, "")
	f("wrong rsa key", sign(jwt.SigningMethodRS256, other, ok), "dev", "c1", ErrJWT, "")
	f("expired", sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()}), "dev", "c1", ErrJWT, "")
	f("not yet", sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"nbf": time.Now().Add(time.Hour).Unix()}), "dev", "c1", ErrJWT, "")
	f("client claim", sign(jwt.SigningMethodHS256, secret, ok), "dev", "c2", ErrJWT, "")
	f("user claim", sign(jwt.SigningMethodHS256, secret, ok), "eve", "c1", ErrJWT, "")
	none := sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, ok)
	f("alg none", none, "dev", "c1", ErrJWT, "")

	hmacOnly := newStore(t, Options{JWT: &JWT{Secret: secret}})
	if _, err := hmacOnly.Connect(login("dev", sign(jwt.SigningMethodRS256, key, ok), "c1", "")); !errors.Is(err, ErrJWT) {
		t.Errorf("RS256 token with only a secret configured: %v; want ErrJWT", err)
	}
}
