// Package auth is the protocol-neutral security layer: the user store
// (salted password hashes and SCRAM credentials), JWT passwords, the ACL
// and the blacklist. MQTT uses it at CONNECT, PUBLISH and SUBSCRIBE
// (server/mqtt), Kafka SASL PLAIN and SCRAM authenticate against the same
// users (a *Store is their kafka.UserStore), and the admin
// HTTP API manages it (server/broker/admin_auth.go).
//
// # Goroutines and state
//
// Readers (Connect, CheckPassword, SCRAM, Principal.MayPublish and
// MaySubscribe) run on event loops: they read an immutable snapshot
// through one atomic pointer, take no lock and never block. Writers
// (SetUser, AddRule, AddBan, the deletes) and Reload run off the loops:
// they are serialized by Store.wmu, write through the Backend (the Meta
// Service's mqtt group in a cluster, Memory otherwise), then reload the
// three tables and publish a new snapshot, so a write is visible to
// readers when it returns. Follow (Watcher backends) starts one goroutine
// that reloads after every change of the Meta Service's mqtt group, so
// writes made through another node reach this one; changes coalesce into
// one pending reload (a one-slot channel), reloads are at least followGap
// (250 ms) apart because the mqtt group also carries session writes, and
// Close stops it. Lock order:
// wmu is a leaf (held across backend calls only).
//
// A Principal belongs to one connection's goroutine: it caches the rules
// that apply to it, compiled (placeholders resolved, levels split), and
// recompiles when the snapshot generation changed. So an ACL check
// allocates nothing unless the ACL changed since the previous check.
//
// # Connect (authentication) order
//
//  1. Blacklist: client id, user name (if any) and IP address, exact, the
//     IP against CIDR entries, then the client id and user name against
//     every ClientIdMatch / UserMatch regular expression (Go regexp, RE2:
//     linear time; unanchored unless the pattern says ^...$); an entry
//     whose end time passed is ignored. Banned -> ErrBanned (even for
//     superusers).
//  2. JWT, when configured and the password has a JWT's shape: signature
//     (HS256/384/512 with the secret, RS256/384/512 with the public key;
//     no other algorithm, never "none"), exp and nbf when present, then
//     the client id and user name claims, when present, must equal the
//     CONNECT's. Refused -> ErrJWT. A JWT principal is never a superuser.
//  3. Secret-free login (secret_free_login): accepted as presented.
//  4. No user name: accepted when anonymous clients are allowed, else
//     ErrAnonymous.
//  5. User name: the stored user's password, else ErrBadPassword.
//
// # ACL evaluation order
//
// Superusers bypass the ACL. Otherwise the rules that apply to the client
// (subject All, or its user name, or its client id, or an IP/CIDR holding
// its address; and the rule's optional extra IP condition) are walked in
// creation order (Rule.Seq, the backend's key order); the first rule whose
// action covers the request and whose topic matches decides allow or
// deny. No match: Options.DenyNoMatch (acl_no_match, default allow). This
// is EMQX's first-match model (RobustMQ's own ACL only knows "a matching
// deny wins, else allow", which is the same answer when every rule is a
// deny). "%u" and "%c" in a rule's topic are replaced by the client's
// user name and client id; a rule whose placeholder cannot be resolved
// (anonymous client, empty client id) applies to nobody.
//
// Topic matching: for a publish, the rule's topic is a filter matched
// against the topic name as MQTT does ('+' one level, '#' the rest and
// the parent, a leading wildcard never matches a '$' topic). For a
// subscribe the request is itself a filter: an allow rule matches when
// it covers the filter (every topic the filter can match, the rule
// matches: "a/+" covers "a/b" and "a/+", not "a/#"), a deny rule matches
// when it overlaps the filter (some topic matches both: deny "a/b" refuses
// "a/#"), so no subscription can receive a topic a matching deny rule
// names.
//
// # Hash format
//
// Password: PBKDF2-SHA256 (crypto/pbkdf2), a random 16-byte salt per user,
// Options.Iterations rounds (default 4096), a 32-byte key compared with
// subtle.ConstantTimeCompare. SCRAM-SHA-256 and SCRAM-SHA-512 credentials
// (RFC 5802 StoredKey and ServerKey) are derived at the same time, each
// with its own salt and the same iteration count. The password itself is
// never stored. After a user's first successful login (or its creation
// through this Store) the store keeps, in memory only, HMAC-SHA256 of the
// password under a per-process random key, so later logins and failed
// attempts (on the event loop) cost one HMAC rather than 4096 rounds
// (about 1.7 ms). Until then, after a restart or on another node, each
// attempt for that user costs one PBKDF2: Store.SlowLogin says so before
// Connect, and the MQTT server then runs Connect on its auth workers, off
// the event loops (server/mqtt authz.go, "Slow logins"). An unknown user
// is refused at once (which tells a prober the name does not exist).
// Those slow checks are bounded per store (Options.SlowChecksPerSecond,
// default 100 a second, burst included: at most about 0.2 s of CPU a
// second): over the budget a login is refused with ErrBusy (MQTT 0x89
// Server busy, 3.1.1 return code 3), so a flood of wrong passwords cannot
// eat the CPU and a legitimate client is told to retry, not that its
// password is wrong. Counted as robustmq_auth_denied_total{reason="busy"}.
// Kafka SASL PLAIN still checks on its event loop, under the same budget.
//
// # Records (frozen; the Meta Service's mqtt group tables 'a', 'c', 'b')
//
// Strings and bytes are a uvarint length, then the bytes; numbers are
// uvarints.
//
//	user       key: user name
//	  +---------+-------+---------+------+------+-----+-------------------------------+
//	  | version | flags | created | iter | salt | key | 2 x scram (SHA-256, SHA-512)  |
//	  |  0x01   | bit0  | unix s  |      |      |     | iter|salt|stored key|server key|
//	  +---------+-------+---------+------+------+-----+-------------------------------+
//	acl rule   key: Seq, 8 bytes big-endian (evaluation order)
//	  +---------+---------+--------+-------+------+-------+----+
//	  | version | subject | action | allow | name | topic | ip |
//	  |  0x01   |  1 byte | 1 byte | 0|1   | str  |  str  | str|
//	  +---------+---------+--------+-------+------+-------+----+
//	  subject: 0 All, 1 Username, 2 ClientId, 3 IpAddress; action: 1 publish, 2 subscribe, 3 all
//	blacklist  key: kind byte (1 ClientId, 2 Username, 3 IpAddress, 4 IPCIDR, 5 ClientIdMatch, 6 UserMatch) | name
//	  +---------+--------------------+------+
//	  | version | until (unix s, 0 = | desc |
//	  |  0x01   | never)             | str  |
//	  +---------+--------------------+------+
//
// A record that does not decode (ErrCorrupt) is logged and skipped at
// load, never fatal.
//
// # Metrics
//
// robustmq_auth_denied_total{reason="password|anonymous|jwt|blacklist|acl_publish|acl_subscribe"}
// counts every refusal; robustmq_auth_reload_errors_total counts failed
// reloads after a Meta Service change (the previous snapshot keeps
// serving).
package auth
