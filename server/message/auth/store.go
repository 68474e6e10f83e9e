package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Options configure a Store.
type Options struct {
	// Backend keeps users, rules and bans; nil: NewMemory().
	Backend Backend
	// AllowAnonymous accepts clients without a user name.
	AllowAnonymous bool
	// SecretFree accepts every client without checking its password
	// (RobustMQ's secret_free_login); the blacklist and ACL still apply.
	SecretFree bool
	// DenyNoMatch denies a publish or subscribe no rule matched (default:
	// allow, RobustMQ's and EMQX's default).
	DenyNoMatch bool
	// JWT enables JWT passwords; nil or empty keys: off.
	JWT *JWT
	// Iterations of PBKDF2 for new passwords; default DefaultIterations.
	Iterations int
	// SlowChecksPerSecond bounds the PBKDF2 password checks (about 2 ms
	// each, on the caller's goroutine) the store runs per second, burst
	// included; over it a login is refused with ErrBusy. Default
	// DefaultSlowChecks.
	SlowChecksPerSecond int
	// Now is the clock of ban expiry; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Denial reasons, the label of robustmq_auth_denied_total.
const (
	ReasonPassword     = "password"
	ReasonBusy         = "busy"
	ReasonAnonymous    = "anonymous"
	ReasonJWT          = "jwt"
	ReasonBlacklist    = "blacklist"
	ReasonACLPublish   = "acl_publish"
	ReasonACLSubscribe = "acl_subscribe"
)

var (
	deniedPassword  = denied(ReasonPassword)
	deniedBusy      = denied(ReasonBusy)
	deniedAnonymous = denied(ReasonAnonymous)
	deniedJWT       = denied(ReasonJWT)
	deniedBlacklist = denied(ReasonBlacklist)
	deniedPublish   = denied(ReasonACLPublish)
	deniedSubscribe = denied(ReasonACLSubscribe)
	reloadErrors    = metrics.GetOrCreateCounter(`robustmq_auth_reload_errors_total`)
)

func denied(reason string) *metrics.Counter {
	return metrics.GetOrCreateCounter(`robustmq_auth_denied_total{reason="` + reason + `"}`)
}

// Sentinel errors of Connect and the writers.
var (
	ErrBadPassword = errors.New("auth: bad user name or password")
	ErrAnonymous   = errors.New("auth: anonymous clients are not allowed")
	ErrBanned      = errors.New("auth: blacklisted")
	ErrNoUser      = errors.New("auth: no such user")
	ErrNoRule      = errors.New("auth: no such ACL rule")
	ErrNoBan       = errors.New("auth: no such blacklist entry")
	ErrBadUser     = errors.New("auth: bad user")
)

// Store is the user store, the ACL and the blacklist. Readers (Connect,
// CheckPassword, SCRAM, Principal checks) answer from an immutable
// snapshot behind an atomic pointer: no lock, safe on event loops.
// Writers (AddUser, ...) and reloads block on the backend and are
// serialized by wmu; each publishes a new snapshot.
type Store struct {
	opts Options
	be   Backend
	jwt  *jwtVerifier
	log  *slog.Logger
	slow *slowBudget // PBKDF2 checks left this second

	wmu  sync.Mutex // serializes writers and reloads
	snap atomic.Pointer[snapshot]
	// loaded is the backend's version token read before the last reload,
	// when known (Versioned backends); guarded by wmu.
	loaded      []byte
	loadedKnown bool

	stop context.CancelFunc // ends Follow's goroutines; nil when not following
	wg   sync.WaitGroup     // Follow's goroutines
}

// snapshot is the state readers see. Never modified once published.
type snapshot struct {
	gen   uint64 // bumped by every publish; principals recompile on change
	users map[string]*User
	rules []Rule // by Seq
	bans  []Ban  // as listed, for List
	bs    bans
}

// New builds a Store and loads its tables from the backend.
func New(ctx context.Context, o Options) (*Store, error) {
	if o.Backend == nil {
		o.Backend = NewMemory()
	}
	if o.Iterations <= 0 {
		o.Iterations = DefaultIterations
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SlowChecksPerSecond <= 0 {
		o.SlowChecksPerSecond = DefaultSlowChecks
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Store{opts: o, be: o.Backend, jwt: newJWTVerifier(o.JWT), log: o.Logger, slow: newSlowBudget(o.SlowChecksPerSecond)}
	s.snap.Store(&snapshot{users: map[string]*User{}})
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Follow keeps the snapshot current while the backend reports changes
// (Watcher backends only; others are current through their writers). It
// starts two goroutines (the watch stream, the reloader), ended and
// waited for by Close. Changes coalesce: one reload runs at a time and
// changes during it cause one more. REQUIRES: called once, before Close,
// from the Store's owner.
func (s *Store) Follow() {
	w, ok := s.be.(Watcher)
	if !ok || s.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	kick := make(chan struct{}, 1) // one slot: extra changes coalesce
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := w.Watch(ctx, func() {
			select {
			case kick <- struct{}{}:
			default:
			}
		}); err != nil {
			s.log.Error("auth: watching the Meta Service stopped; changes made on other nodes no longer arrive", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
				rctx, c := context.WithTimeout(ctx, 10*time.Second)
				if err := s.refresh(rctx); err != nil && ctx.Err() == nil {
					reloadErrors.Inc()
					s.log.Warn("auth: reload after a meta change failed; serving the previous state", "err", err)
				}
				c()
				// The mqtt group also holds sessions: under connection churn
				// its changes are constant, so reloads are spaced.
				select {
				case <-ctx.Done():
					return
				case <-time.After(followGap):
				}
			}
		}
	}()
}

// followGap is the least time between two reloads driven by Watch; a
// write through this Store is visible at once, one through another node
// within about followGap.
const followGap = 250 * time.Millisecond

// Close stops Follow's goroutines and waits for them.
func (s *Store) Close() {
	if s.stop != nil {
		s.stop()
		s.wg.Wait()
		s.stop = nil
	}
}

// Reload reads the three tables from the backend and publishes them. A
// record that does not decode is skipped and logged, never fatal.
func (s *Store) Reload(ctx context.Context) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.reloadLocked(ctx)
}

// refresh is Follow's reload: skipped when a Versioned backend's token
// is the one read at the last reload (the change was to other tables of
// the group).
func (s *Store) refresh(ctx context.Context) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if v, ok := s.be.(Versioned); ok && s.loadedKnown {
		token, err := v.Version(ctx)
		if err == nil && bytes.Equal(token, s.loaded) {
			return nil
		}
	}
	return s.reloadLocked(ctx)
}

func (s *Store) reloadLocked(ctx context.Context) error {
	s.loaded, s.loadedKnown = nil, false
	if v, ok := s.be.(Versioned); ok {
		token, err := v.Version(ctx) // before the tables: a write after it makes the next refresh reload
		if err != nil {
			return fmt.Errorf("auth: read the tables' version: %w", err)
		}
		s.loaded, s.loadedKnown = token, true
	}
	old := s.snap.Load()
	users, err := load(ctx, s, Users, "user", func(k, v []byte) (*User, error) { return unmarshalUser(string(k), v) })
	if err != nil {
		return err
	}
	n := &snapshot{gen: old.gen + 1, users: make(map[string]*User, len(users))}
	for _, u := range users {
		if o := old.users[u.Name]; o != nil && slices.Equal(o.sec.key, u.sec.key) {
			u.fast.Store(o.fast.Load()) // same password: keep the fast check
		}
		n.users[u.Name] = u
	}
	if n.rules, err = load(ctx, s, ACL, "ACL rule", unmarshalRule); err != nil {
		return err
	}
	if n.bans, err = load(ctx, s, Blacklist, "blacklist entry", unmarshalBan); err != nil {
		return err
	}
	n.bs = newBans(n.bans)
	s.snap.Store(n)
	return nil
}

// load lists table t and decodes its records in key order; a record that
// does not decode is logged and skipped.
func load[T any](ctx context.Context, s *Store, t Table, what string, dec func(k, v []byte) (T, error)) ([]T, error) {
	kvs, err := s.be.List(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("auth: load %s table: %w", what, err)
	}
	out := make([]T, 0, len(kvs))
	for _, kv := range kvs {
		x, err := dec(kv.Key, kv.Value)
		if err != nil {
			s.log.Error("auth: skipping a stored "+what, "key", string(kv.Key), "err", err)
			continue
		}
		out = append(out, x)
	}
	return out, nil
}

// write runs one backend change and reloads, under wmu.
func (s *Store) write(ctx context.Context, fn func(*snapshot) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := fn(s.snap.Load()); err != nil {
		return err
	}
	return s.reloadLocked(ctx)
}

// ---- users ----

// SetUser creates user name or replaces its password and superuser flag.
// It derives the hashes (a few ms: PBKDF2 three times) and writes through
// the backend; call it off the event loops.
func (s *Store) SetUser(ctx context.Context, name, password string, super bool) error {
	if name == "" || len(name) > 256 || password == "" {
		return fmt.Errorf("%w: user name must be 1-256 bytes and the password non-empty", ErrBadUser)
	}
	sec, err := derive(password, s.opts.Iterations)
	if err != nil {
		return err
	}
	u := &User{Name: name, Super: super, Created: s.opts.Now().Unix(), sec: sec}
	err = s.write(ctx, func(sn *snapshot) error {
		if o := sn.users[name]; o != nil {
			u.Created = o.Created
		}
		return s.be.Put(ctx, Users, []byte(name), u.marshal())
	})
	if nu := s.snap.Load().users[name]; err == nil && nu != nil && slices.Equal(nu.sec.key, sec.key) {
		sum := fastSum(password) // this node knows the password now: its first login is fast too
		nu.fast.Store(&sum)
	}
	return err
}

// EnsureUser creates user name unless it exists (the configured default
// user at startup: a later password change through the API is kept).
func (s *Store) EnsureUser(ctx context.Context, name, password string, super bool) error {
	if _, ok := s.snap.Load().users[name]; ok {
		return nil
	}
	return s.SetUser(ctx, name, password, super)
}

// DeleteUser removes user name.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return s.write(ctx, func(sn *snapshot) error {
		if sn.users[name] == nil {
			return fmt.Errorf("%w: %q", ErrNoUser, name)
		}
		return s.be.Delete(ctx, Users, []byte(name))
	})
}

// Users lists the users by name.
func (s *Store) Users() []UserInfo {
	sn := s.snap.Load()
	out := make([]UserInfo, 0, len(sn.users))
	for _, u := range sn.users {
		out = append(out, UserInfo{u.Name, u.Super, u.Created})
	}
	slices.SortFunc(out, func(a, b UserInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// CheckPassword reports whether password is user's (Kafka SASL PLAIN).
// Counts a denial as reason "password".
func (s *Store) CheckPassword(user, password string) bool {
	u := s.snap.Load().users[user]
	if u == nil {
		deniedPassword.Inc()
		return false
	}
	switch err := u.check(password, s.slow, s.opts.Now()); {
	case errors.Is(err, ErrBusy):
		deniedBusy.Inc()
		return false
	case err != nil:
		deniedPassword.Inc()
		return false
	}
	return true
}

// SCRAM returns user's credential for mechanism ScramSHA256 or
// ScramSHA512 (Kafka SASL SCRAM).
func (s *Store) SCRAM(user, mechanism string) (Scram, bool) {
	u := s.snap.Load().users[user]
	i := slices.Index([]string{ScramSHA256, ScramSHA512}, mechanism)
	if u == nil || i < 0 {
		return Scram{}, false
	}
	return u.sec.scram[i], true
}

// ---- ACL ----

// AddRule appends r (its Seq is assigned: after every existing rule).
func (s *Store) AddRule(ctx context.Context, r Rule) error {
	if err := r.check(); err != nil {
		return err
	}
	return s.write(ctx, func(sn *snapshot) error {
		r.Seq = 1
		if n := len(sn.rules); n > 0 {
			r.Seq = sn.rules[n-1].Seq + 1
		}
		return s.be.Put(ctx, ACL, r.key(), r.marshal())
	})
}

// DeleteRule removes the first rule equal to r but for Seq.
func (s *Store) DeleteRule(ctx context.Context, r Rule) error {
	return s.write(ctx, func(sn *snapshot) error {
		for i := range sn.rules {
			if sn.rules[i].same(&r) {
				return s.be.Delete(ctx, ACL, sn.rules[i].key())
			}
		}
		return ErrNoRule
	})
}

// Rules lists the ACL in evaluation order.
func (s *Store) Rules() []Rule { return slices.Clone(s.snap.Load().rules) }

// ---- blacklist ----

// AddBan adds or replaces a blacklist entry.
func (s *Store) AddBan(ctx context.Context, b Ban) error {
	if err := b.check(); err != nil {
		return err
	}
	return s.write(ctx, func(*snapshot) error { return s.be.Put(ctx, Blacklist, b.key(), b.marshal()) })
}

// DeleteBan removes the entry of kind and name.
func (s *Store) DeleteBan(ctx context.Context, kind BanKind, name string) error {
	b := Ban{Kind: kind, Name: name}
	return s.write(ctx, func(sn *snapshot) error {
		if !slices.ContainsFunc(sn.bans, func(o Ban) bool { return o.Kind == kind && o.Name == name }) {
			return ErrNoBan
		}
		return s.be.Delete(ctx, Blacklist, b.key())
	})
}

// Bans lists the blacklist, expired entries included.
func (s *Store) Bans() []Ban { return slices.Clone(s.snap.Load().bans) }

// ---- connect and authorize ----

// Login is what a client presents.
type Login struct {
	ClientID    string
	Username    string
	HasUsername bool
	Password    []byte
	HasPassword bool
	IP          netip.Addr // invalid when unknown
}

// SlowLogin reports whether Connect(l) would run the slow password check
// (PBKDF2: the user's first login since this process started, or since
// its password changed): the caller should then call Connect off its
// event loop. Every other login costs microseconds.
func (s *Store) SlowLogin(l *Login) bool {
	if s.opts.SecretFree || !l.HasUsername || s.jwt != nil && l.HasPassword && looksLikeJWT(string(l.Password)) {
		return false
	}
	u := s.snap.Load().users[l.Username]
	return u != nil && u.fast.Load() == nil
}

// Connect authenticates l (see the package doc for the order) and returns
// the client's Principal, or an error wrapping ErrBanned, ErrAnonymous,
// ErrBadPassword, ErrBusy or ErrJWT. Each refusal is counted. Runs on the
// caller's goroutine from memory; the first login of a user costs one
// PBKDF2 (SlowLogin says so beforehand).
func (s *Store) Connect(l *Login) (*Principal, error) {
	sn := s.snap.Load()
	if sn.bs.banned(l.ClientID, l.Username, l.HasUsername, l.IP, s.opts.Now().Unix()) {
		deniedBlacklist.Inc()
		return nil, ErrBanned
	}
	p := &Principal{ClientID: l.ClientID, Username: l.Username, IP: l.IP, s: s}
	switch {
	case s.jwt != nil && l.HasPassword && looksLikeJWT(string(l.Password)):
		user, err := s.jwt.verify(string(l.Password), l.ClientID, l.Username)
		if err != nil {
			deniedJWT.Inc()
			return nil, err
		}
		p.Username = user
		if user != l.Username && sn.bs.banned("", user, true, netip.Addr{}, s.opts.Now().Unix()) {
			deniedBlacklist.Inc()
			return nil, ErrBanned
		}
	case s.opts.SecretFree:
	case !l.HasUsername:
		if !s.opts.AllowAnonymous {
			deniedAnonymous.Inc()
			return nil, ErrAnonymous
		}
	default:
		u := sn.users[l.Username]
		if u == nil {
			deniedPassword.Inc()
			return nil, ErrBadPassword
		}
		if err := u.check(string(l.Password), s.slow, s.opts.Now()); err != nil {
			if errors.Is(err, ErrBusy) {
				deniedBusy.Inc()
			} else {
				deniedPassword.Inc()
			}
			return nil, err
		}
		p.Super = u.Super
	}
	return p, nil
}

// Principal is one authenticated client, the subject of its ACL checks.
// Its fields are set by Connect. REQUIRES: one goroutine at a time uses a
// Principal (its connection's): the compiled rules are cached in it.
type Principal struct {
	ClientID string
	Username string // "" for anonymous
	IP       netip.Addr
	Super    bool // superusers bypass ACL

	s     *Store
	gen   uint64  // snapshot generation rules were compiled from; 0 = never
	rules []crule // the rules that apply to this client, placeholders resolved
}

// NewPrincipal builds a Principal without authenticating (other
// protocols' authentication, tests).
func (s *Store) NewPrincipal(clientID, username string, ip netip.Addr, super bool) *Principal {
	return &Principal{ClientID: clientID, Username: username, IP: ip, Super: super, s: s}
}

// refresh recompiles the rules after the ACL changed.
func (p *Principal) refresh() {
	sn := p.s.snap.Load()
	if p.gen != sn.gen {
		p.rules, p.gen = compile(sn.rules, p), sn.gen
	}
}

// MayPublish reports whether the client may publish to topic name t.
// No allocation unless the ACL changed since the last check.
func (p *Principal) MayPublish(t []byte) bool {
	if p.Super {
		return true
	}
	p.refresh()
	for i := range p.rules {
		r := &p.rules[i]
		if r.action&Publish != 0 && matchTopic(r.levels, t) {
			if !r.allow {
				deniedPublish.Inc()
			}
			return r.allow
		}
	}
	return p.noMatch(deniedPublish)
}

// MaySubscribe reports whether the client may subscribe to filter f (the
// plain filter: a shared subscription's "$share/{group}/" stripped). An
// allow rule matches a filter it covers, a deny rule one it overlaps (see
// the package doc).
func (p *Principal) MaySubscribe(f []byte) bool {
	if p.Super {
		return true
	}
	p.refresh()
	for i := range p.rules {
		r := &p.rules[i]
		if r.action&Subscribe == 0 {
			continue
		}
		if !r.allow && overlaps(r.levels, f) {
			deniedSubscribe.Inc()
			return false
		}
		if r.allow && covers(r.levels, f) {
			return true
		}
	}
	return p.noMatch(deniedSubscribe)
}

func (p *Principal) noMatch(c *metrics.Counter) bool {
	if p.s.opts.DenyNoMatch {
		c.Inc()
		return false
	}
	return true
}
