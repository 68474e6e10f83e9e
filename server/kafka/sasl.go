package kafka

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"strings"

	"robustmq/server/message/auth"
)

// SASL: PLAIN and SCRAM-SHA-256/512 (RFC 5802, RFC 7677) over
// SaslHandshake v1 + SaslAuthenticate. When Options.SASLMechanisms is not
// empty, a connection may only send ApiVersions, SaslHandshake and
// SaslAuthenticate until it authenticated; anything else closes it with
// ErrSASLRequired. A failed authentication is answered
// SASL_AUTHENTICATION_FAILED and the connection closes after the answer.
//
// Users come from a UserStore; the broker passes its *auth.Store
// (server/message/auth), so Kafka and MQTT share one user table. Its methods are called
// on the event loop, so implementations answer from memory.

// UserStore looks users up for SASL.
type UserStore interface {
	// CheckPassword reports whether password is user's (PLAIN).
	CheckPassword(user, password string) bool
	// SCRAM returns user's credentials for mechanism ("SCRAM-SHA-256" or
	// "SCRAM-SHA-512"); false if the user has none.
	SCRAM(user, mechanism string) (ScramCredential, bool)
}

// ScramCredential is what a server stores for SCRAM instead of the
// password (RFC 5802 section 3), the user store's type, so *auth.Store
// is a UserStore.
type ScramCredential = auth.Scram

// StaticUsers is an in-memory UserStore from plaintext passwords (tests,
// config files); SCRAM credentials are derived once, at construction.
type StaticUsers struct {
	pass  map[string]string
	scram map[string]ScramCredential // key mechanism + "\x00" + user
}

// NewStaticUsers derives the SCRAM credentials of users (name -> password)
// with 4096 iterations, Kafka's minimum.
func NewStaticUsers(users map[string]string) (*StaticUsers, error) {
	s := &StaticUsers{pass: users, scram: map[string]ScramCredential{}}
	for u, p := range users {
		for _, mech := range []string{mechSHA256, mechSHA512} {
			salt := make([]byte, 16)
			if _, err := rand.Read(salt); err != nil {
				return nil, err
			}
			c, err := auth.NewScram(mech, p, salt, 4096)
			if err != nil {
				return nil, err
			}
			s.scram[mech+"\x00"+u] = c
		}
	}
	return s, nil
}

func (s *StaticUsers) CheckPassword(user, password string) bool {
	p, ok := s.pass[user]
	return ok && subtle.ConstantTimeCompare([]byte(p), []byte(password)) == 1
}

func (s *StaticUsers) SCRAM(user, mechanism string) (ScramCredential, bool) {
	c, ok := s.scram[mechanism+"\x00"+user]
	return c, ok
}

const (
	mechPlain  = "PLAIN"
	mechSHA256 = "SCRAM-SHA-256"
	mechSHA512 = "SCRAM-SHA-512"
)

func scramHash(mech string) func() hash.Hash {
	if mech == mechSHA512 {
		return sha512.New
	}
	return sha256.New
}

func mac(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Sentinel errors of SASL.
var (
	ErrSASLRequired = errors.New("kafka: request before SASL authentication")
	ErrSASLFailed   = errors.New("kafka: SASL authentication failed")
)

// saslState is one connection's authentication. Handler goroutine only.
type saslState struct {
	mech   string // chosen by SaslHandshake
	done   bool
	failed bool
	// SCRAM between the first and the final message
	user, clientFirstBare, serverFirst, nonce string
	cred                                      ScramCredential
	step                                      int
}

// allows reports whether key may be sent now.
func (st *saslState) allows(key int16) bool {
	return st == nil || st.done || key == keyApiVersions || key == keySaslHandshake || key == keySaslAuthenticate
}

// next answers one SaslAuthenticate token: the reply bytes, or an error
// message for SASL_AUTHENTICATION_FAILED.
func (st *saslState) next(users UserStore, token []byte) ([]byte, string) {
	switch st.mech {
	case mechPlain:
		// authzid \0 authcid \0 passwd
		parts := bytes.Split(token, []byte{0})
		if len(parts) != 3 || !users.CheckPassword(string(parts[1]), string(parts[2])) {
			return nil, "invalid username or password"
		}
		st.done = true
		return []byte{}, ""
	case mechSHA256, mechSHA512:
		if st.step == 0 {
			return st.scramFirst(users, string(token))
		}
		return st.scramFinal(string(token))
	}
	return nil, "no mechanism chosen"
}

func (st *saslState) scramFirst(users UserStore, msg string) ([]byte, string) {
	// gs2 header "n,," or "n,a=authzid,"; channel binding is not offered.
	if !strings.HasPrefix(msg, "n,") {
		return nil, "channel binding is not supported"
	}
	i := strings.Index(msg[2:], ",")
	if i < 0 {
		return nil, "malformed client-first message"
	}
	st.clientFirstBare = msg[3+i:]
	var user, cnonce string
	for _, attr := range strings.Split(st.clientFirstBare, ",") {
		switch {
		case strings.HasPrefix(attr, "n="):
			user = strings.NewReplacer("=2C", ",", "=3D", "=").Replace(attr[2:])
		case strings.HasPrefix(attr, "r="):
			cnonce = attr[2:]
		case strings.HasPrefix(attr, "m="):
			return nil, "mandatory extensions are not supported"
		}
	}
	cred, ok := users.SCRAM(user, st.mech)
	if user == "" || cnonce == "" || !ok {
		return nil, "invalid username or password"
	}
	var nb [18]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return nil, "server nonce: " + err.Error()
	}
	st.user, st.cred, st.step = user, cred, 1
	st.nonce = cnonce + base64.RawStdEncoding.EncodeToString(nb[:])
	st.serverFirst = "r=" + st.nonce + ",s=" + base64.StdEncoding.EncodeToString(cred.Salt) +
		",i=" + strconv.Itoa(cred.Iterations)
	return []byte(st.serverFirst), ""
}

func (st *saslState) scramFinal(msg string) ([]byte, string) {
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return nil, "malformed client-final message"
	}
	withoutProof := msg[:i]
	proof, err := base64.StdEncoding.DecodeString(msg[i+3:])
	if err != nil {
		return nil, "malformed proof"
	}
	var nonce string
	for _, attr := range strings.Split(withoutProof, ",") {
		if strings.HasPrefix(attr, "r=") {
			nonce = attr[2:]
		}
	}
	if nonce != st.nonce {
		return nil, "nonce mismatch"
	}
	h := scramHash(st.mech)
	auth := st.clientFirstBare + "," + st.serverFirst + "," + withoutProof
	sig := mac(h, st.cred.StoredKey, auth)
	if len(proof) != len(sig) {
		return nil, "invalid username or password"
	}
	for j := range sig {
		sig[j] ^= proof[j] // now the client key
	}
	sum := h()
	sum.Write(sig)
	if subtle.ConstantTimeCompare(sum.Sum(nil), st.cred.StoredKey) != 1 {
		return nil, "invalid username or password"
	}
	st.done = true
	return []byte("v=" + base64.StdEncoding.EncodeToString(mac(h, st.cred.ServerKey, auth))), ""
}
