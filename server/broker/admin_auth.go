package broker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"robustmq/server/admin"
	"robustmq/server/kafka"
	"robustmq/server/message/auth"
)

// Security: one auth.Store per broker, built in Start before the
// protocol servers and closed in Stop. It authenticates and authorizes
// MQTT clients (mqtt.Options.Access) and is the Kafka server's UserStore
// (SASL PLAIN/SCRAM), and the admin API below manages it.
//
// Where it keeps its tables: with the broker's meta client
// (Options.MetaAddrs, from meta_addrs), in the Meta Service's mqtt group
// (tables 'a', 'c', 'b'), followed through Watch so changes made on
// another node arrive here. Without one (tests), in memory, with a
// warning at start: users, rules and bans are then lost on restart. The
// configured default user (mqtt_runtime.auth.default_user) is created as
// a superuser when absent.

// security is the broker's auth state; guarded by Broker.mu.
type security struct {
	store *auth.Store
}

// authWriteTimeout bounds one admin write (a raft commit) and the load at start.
const authWriteTimeout = 10 * time.Second

// startAuth builds the store from [mqtt_runtime.auth] over b.meta (set
// before it in Start) or memory.
func (b *Broker) startAuth(ctx context.Context) (*auth.Store, error) {
	cfg := b.env.Config
	a := &cfg.MQTTRuntime.Auth
	o := auth.Options{AllowAnonymous: a.AllowAnonymous, SecretFree: a.SecretFreeLogin,
		DenyNoMatch: a.ACLNoMatch == "deny", Logger: b.env.Logger}
	if a.JWTSecret != "" || a.JWTPublicKeyFile != "" {
		o.JWT = &auth.JWT{Secret: []byte(a.JWTSecret), ClientIDClaim: a.JWTClientIDClaim, UsernameClaim: a.JWTUsernameClaim}
		if a.JWTPublicKeyFile != "" {
			k, err := auth.LoadRSAPublicKey(a.JWTPublicKeyFile)
			if err != nil {
				return nil, fmt.Errorf("broker: mqtt_runtime.auth.jwt_public_key_file: %w", err)
			}
			o.JWT.PublicKey = k
		}
	}
	b.mu.Lock()
	meta := b.meta
	b.mu.Unlock()
	if meta != nil {
		o.Backend = auth.NewMeta(meta)
	} else {
		b.env.Logger.Warn("broker: no Meta Service (meta_addrs): MQTT users, ACL and blacklist are kept in " +
			"memory on this broker and lost on restart")
	}
	lctx, cancel := context.WithTimeout(ctx, authWriteTimeout)
	defer cancel()
	st, err := auth.New(lctx, o)
	if err == nil && a.DefaultUser != "" {
		err = st.EnsureUser(lctx, a.DefaultUser, a.DefaultPassword, true)
	}
	if err != nil {
		return nil, fmt.Errorf("broker: auth: %w", err)
	}
	st.Follow()
	b.mu.Lock()
	b.sec = security{store: st}
	b.mu.Unlock()
	return st, nil
}

// stopAuth stops following the Meta Service. REQUIRES: before the meta
// client closes.
func (b *Broker) stopAuth() {
	b.mu.Lock()
	sec := b.sec
	b.sec = security{}
	b.mu.Unlock()
	if sec.store != nil {
		sec.store.Close()
	}
}

// Auth is the user store, ACL and blacklist; nil before Start.
func (b *Broker) Auth() *auth.Store {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sec.store
}

// *auth.Store is the Kafka server's UserStore (SASL PLAIN and SCRAM).
var _ kafka.UserStore = (*auth.Store)(nil)

// ---- admin HTTP: RobustMQ's /api/mqtt/{user,acl,blacklist}/{list,create,delete} ----

// maxAuthBody bounds a create/delete request body.
const maxAuthBody = 16 << 10

// registerAuthRoutes adds the user, ACL and blacklist routes. Lists page
// and filter through server/admin (limit, page, sort_field, ...).
func (b *Broker) registerAuthRoutes(r interface {
	HandleFunc(string, func(http.ResponseWriter, *http.Request))
}) {
	r.HandleFunc("GET /api/mqtt/user/list", b.withAuth(func(st *auth.Store, w http.ResponseWriter, r *http.Request) {
		admin.WritePage(w, r, st.Users())
	}))
	r.HandleFunc("POST /api/mqtt/user/create", b.withAuth(func(st *auth.Store, w http.ResponseWriter, r *http.Request) {
		var req struct {
			Username string `json:"username"`
			Password string `json:"password"`
			Super    bool   `json:"is_superuser"`
		}
		if admin.ReadJSON(w, r, maxAuthBody, &req) {
			answer(w, "Created successfully!", write(r, func(ctx context.Context) error {
				return st.SetUser(ctx, req.Username, req.Password, req.Super)
			}))
		}
	}))
	r.HandleFunc("POST /api/mqtt/user/delete", b.withAuth(func(st *auth.Store, w http.ResponseWriter, r *http.Request) {
		var req struct {
			Username string `json:"username"`
		}
		if admin.ReadJSON(w, r, maxAuthBody, &req) {
			answer(w, "Deleted successfully!", write(r, func(ctx context.Context) error { return st.DeleteUser(ctx, req.Username) }))
		}
	}))
	r.HandleFunc("GET /api/mqtt/acl/list", b.withAuth(func(st *auth.Store, w http.ResponseWriter, r *http.Request) {
		rules := st.Rules()
		out := make([]aclJSON, len(rules))
		for i, rl := range rules {
			out[i] = aclJSON{rl.Subject.String(), rl.Name, rl.Topic, rl.IP, rl.Action.String(), permission(rl.Allow)}
		}
		admin.WritePage(w, r, out)
	}))
	aclWrite := func(ok string, fn func(*auth.Store, context.Context, auth.Rule) error) func(http.ResponseWriter, *http.Request) {
		return b.withAuth(func(st *auth.Store, w http.ResponseWriter, r *http.Request) {
			var req aclJSON
			if !admin.ReadJSON(w, r, maxAuthBody, &req) {
				return
			}
			rl, err := req.rule()
			if err == nil {
				err = write(r, func(ctx context.Context) error { return fn(st, ctx, rl) })
			}
			answer(w, ok, err)
		})
	}
	r.HandleFunc("POST /api/mqtt/acl/create", aclWrite("Created successfully!", (*auth.Store).AddRule))
	r.HandleFunc("POST /api/mqtt/acl/delete", aclWrite("Deleted successfully!", (*auth.Store).DeleteRule))
	r.HandleFunc("GET /api/mqtt/blacklist/list", b.withAuth(func(st *auth.Store, w http.ResponseWriter, r *http.Request) {
		bans := st.Bans()
		out := make([]banJSON, len(bans))
		for i, bn := range bans {
			out[i] = banJSON{bn.Kind.String(), bn.Name, bn.Until, bn.Desc}
		}
		admin.WritePage(w, r, out)
	}))
	r.HandleFunc("POST /api/mqtt/blacklist/create", b.withAuth(func(st *auth.Store, w http.ResponseWriter, r *http.Request) {
		var req banJSON
		if admin.ReadJSON(w, r, maxAuthBody, &req) {
			answer(w, "Created successfully!", req.do(r, func(ctx context.Context, b auth.Ban) error { return st.AddBan(ctx, b) }))
		}
	}))
	r.HandleFunc("POST /api/mqtt/blacklist/delete", b.withAuth(func(st *auth.Store, w http.ResponseWriter, r *http.Request) {
		var req banJSON
		if admin.ReadJSON(w, r, maxAuthBody, &req) {
			answer(w, "Deleted successfully!", req.do(r, func(ctx context.Context, b auth.Ban) error {
				return st.DeleteBan(ctx, b.Kind, b.Name)
			}))
		}
	}))
}

// aclJSON is an ACL rule in RobustMQ's admin API.
type aclJSON struct {
	Type       string `json:"resource_type"` // All | ClientId | Username | IpAddress
	Name       string `json:"resource_name"`
	Topic      string `json:"topic"`
	IP         string `json:"ip"`
	Action     string `json:"action"`     // Publish | Subscribe | All
	Permission string `json:"permission"` // Allow | Deny
}

func permission(allow bool) string {
	if allow {
		return "Allow"
	}
	return "Deny"
}

func (a *aclJSON) rule() (auth.Rule, error) {
	s, ok1 := auth.ParseSubject(a.Type)
	act, ok2 := auth.ParseAction(a.Action)
	allow := a.Permission == "Allow" || a.Permission == "allow"
	switch {
	case !ok1:
		return auth.Rule{}, fmt.Errorf("%w: resource_type %q is not All, ClientId, Username or IpAddress", auth.ErrBadRule, a.Type)
	case !ok2:
		return auth.Rule{}, fmt.Errorf("%w: action %q is not Publish, Subscribe or All", auth.ErrBadRule, a.Action)
	case !allow && a.Permission != "Deny" && a.Permission != "deny":
		return auth.Rule{}, fmt.Errorf("%w: permission %q is not Allow or Deny", auth.ErrBadRule, a.Permission)
	}
	return auth.Rule{Subject: s, Name: a.Name, Topic: a.Topic, IP: a.IP, Action: act, Allow: allow}, nil
}

// banJSON is a blacklist entry in RobustMQ's admin API; end_time is unix
// seconds, 0 = never expires.
type banJSON struct {
	Type    string `json:"blacklist_type"` // ClientId | Username | IpAddress | IPCIDR | ClientIdMatch | UserMatch
	Name    string `json:"resource_name"`
	EndTime int64  `json:"end_time"`
	Desc    string `json:"desc"`
}

// do runs fn with the entry b describes, bounded by authWriteTimeout.
func (b *banJSON) do(r *http.Request, fn func(context.Context, auth.Ban) error) error {
	kind, ok := auth.ParseBanKind(b.Type)
	if !ok {
		return fmt.Errorf("%w: blacklist_type %q is not ClientId, Username, IpAddress, IPCIDR, ClientIdMatch or UserMatch", auth.ErrBadBan, b.Type)
	}
	return write(r, func(ctx context.Context) error {
		return fn(ctx, auth.Ban{Kind: kind, Name: b.Name, Until: b.EndTime, Desc: b.Desc})
	})
}

// withAuth answers 503 while the broker is not running.
func (b *Broker) withAuth(h func(*auth.Store, http.ResponseWriter, *http.Request)) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		st := b.Auth()
		if st == nil {
			admin.Fail(w, http.StatusServiceUnavailable, "broker: not running")
			return
		}
		h(st, w, r)
	}
}

// write runs one store write bounded by authWriteTimeout.
func write(r *http.Request, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(r.Context(), authWriteTimeout)
	defer cancel()
	return fn(ctx)
}

// answer writes ok, or err with its status: 400 for bad input, 404 for
// what does not exist, 500 otherwise (backend failures).
func answer(w http.ResponseWriter, ok string, err error) {
	switch {
	case err == nil:
		admin.OK(w, ok)
	case errors.Is(err, auth.ErrBadUser), errors.Is(err, auth.ErrBadRule), errors.Is(err, auth.ErrBadBan):
		admin.Fail(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, auth.ErrNoUser), errors.Is(err, auth.ErrNoRule), errors.Is(err, auth.ErrNoBan):
		admin.Fail(w, http.StatusNotFound, err.Error())
	default:
		admin.Fail(w, http.StatusInternalServerError, err.Error())
	}
}
