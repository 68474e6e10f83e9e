package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// maxTokens bounds the live login tokens; see the package doc for the eviction policy.
const maxTokens = 1024

// maxLoginBody bounds the body of POST /api/v1/login.
const maxLoginBody = 4 << 10

// ErrBadLogin is a login with a wrong user name or password, or with no password configured.
var ErrBadLogin = errors.New("admin: login: bad username or password")

// auth checks logins and tokens.
type auth struct {
	user, pass [sha256.Size]byte // hashes, so that compares take the same time for any length
	noPass     bool              // password is empty: every login fails
	ttl        time.Duration
	now        func() time.Time

	mu     sync.Mutex
	tokens map[string]time.Time // guarded by mu; token -> expiry
}

func newAuth(user, pass string, ttl time.Duration, now func() time.Time) *auth {
	return &auth{
		user: sha256.Sum256([]byte(user)), pass: sha256.Sum256([]byte(pass)), noPass: pass == "",
		ttl: ttl, now: now, tokens: map[string]time.Time{},
	}
}

// login checks the credentials and hands out a new token.
func (a *auth) login(user, pass string) (token string, expires time.Time, err error) {
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	okUser := subtle.ConstantTimeCompare(u[:], a.user[:])
	okPass := subtle.ConstantTimeCompare(p[:], a.pass[:])
	if okUser&okPass != 1 || a.noPass {
		denied("bad_login").Inc()
		return "", time.Time{}, ErrBadLogin
	}
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it panics instead)
	token = hex.EncodeToString(b[:])
	now := a.now()
	expires = now.Add(a.ttl)

	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.tokens) >= maxTokens {
		a.evictLocked(now)
	}
	a.tokens[token] = expires
	return token, expires, nil
}

// evictLocked drops every expired token and, if that frees nothing, the one closest to expiry.
// REQUIRES: a.mu held.
func (a *auth) evictLocked(now time.Time) {
	var oldest string
	var oldestExp time.Time
	for t, exp := range a.tokens {
		if !now.Before(exp) {
			delete(a.tokens, t)
			continue
		}
		if oldest == "" || exp.Before(oldestExp) {
			oldest, oldestExp = t, exp
		}
	}
	if len(a.tokens) >= maxTokens {
		delete(a.tokens, oldest)
	}
}

// check tells why token is refused, or "" if it is live.
func (a *auth) check(token string) (reason string) {
	if token == "" {
		return "missing_token"
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.tokens[token]
	switch {
	case !ok:
		return "invalid_token"
	case !a.now().Before(exp):
		delete(a.tokens, token)
		return "expired_token"
	}
	return ""
}

// open lists the paths that need no token from anywhere.
var open = map[string]bool{"/health/live": true, "/health/ready": true, "/metrics": true, "/api/v1/login": true}

// guard lets r through to next if it comes from loopback, asks for an open path, or carries a live
// token; otherwise it answers 401.
func (a *auth) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if open[r.URL.Path] || fromLoopback(r) {
			next.ServeHTTP(w, r)
			return
		}
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if reason := a.check(strings.TrimSpace(token)); reason != "" {
			denied(reason).Inc()
			Fail(w, http.StatusUnauthorized, "admin: "+r.URL.Path+": "+strings.ReplaceAll(reason, "_", " ")+
				" (POST /api/v1/login for a bearer token)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func denied(reason string) *metrics.Counter {
	return metrics.GetOrCreateCounter(`robustmq_admin_auth_denied_total{reason="` + reason + `"}`)
}

// fromLoopback tells whether r's peer is a loopback address. An unparsable RemoteAddr is not.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	Token     string `json:"token"`
	ExpiresAt int64  `json:"expires_at"` // unix seconds
}

// handleLogin is POST /api/v1/login.
func (a *auth) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if !ReadJSON(w, r, maxLoginBody, &req) {
		return
	}
	token, exp, err := a.login(req.Username, req.Password)
	if err != nil {
		Fail(w, http.StatusUnauthorized, err.Error())
		return
	}
	OK(w, loginResponse{Token: token, ExpiresAt: exp.Unix()})
}
