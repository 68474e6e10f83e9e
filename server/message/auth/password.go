package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"hash"
)

// Password hashing: PBKDF2-SHA256 with a random 16-byte salt per user and
// Options.Iterations rounds (default 4096, Kafka's SCRAM minimum), 32-byte
// key, compared in constant time. The SCRAM credentials (RFC 5802 section
// 3) are derived at the same time with their own salts, so Kafka SASL
// SCRAM works against the same users without the server keeping the
// password.

// DefaultIterations is the PBKDF2 iteration count of new hashes.
const DefaultIterations = 4096

const (
	saltBytes = 16
	keyBytes  = 32
)

// Mechanisms of SCRAM credentials, Kafka's names.
const (
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// Scram is what a server stores for one SCRAM mechanism instead of the
// password.
type Scram struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte // H(HMAC(SaltedPassword, "Client Key"))
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
}

// secret is the stored form of one password.
type secret struct {
	iter  int
	salt  []byte
	key   []byte   // PBKDF2-SHA256(password, salt, iter, 32)
	scram [2]Scram // SHA-256, SHA-512
}

func newSalt() []byte {
	b := make([]byte, saltBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

// derive computes the secret of password with fresh salts.
func derive(password string, iter int) (secret, error) {
	s := secret{iter: iter, salt: newSalt()}
	var err error
	if s.key, err = pbkdf2.Key(sha256.New, password, s.salt, iter, keyBytes); err != nil {
		return s, fmt.Errorf("auth: hash password: %w", err)
	}
	for i, mech := range [2]string{ScramSHA256, ScramSHA512} {
		if s.scram[i], err = NewScram(mech, password, newSalt(), iter); err != nil {
			return s, err
		}
	}
	return s, nil
}

// NewScram derives the SCRAM credential of password for mechanism
// (ScramSHA256, else SHA-512 is used for ScramSHA512).
func NewScram(mechanism, password string, salt []byte, iter int) (Scram, error) {
	h := sha256.New
	if mechanism == ScramSHA512 {
		h = sha512.New
	}
	salted, err := pbkdf2.Key(h, password, salt, iter, h().Size())
	if err != nil {
		return Scram{}, fmt.Errorf("auth: %s credential: %w", mechanism, err)
	}
	clientKey := mac(h, salted, "Client Key")
	sum := h()
	sum.Write(clientKey)
	return Scram{Salt: salt, Iterations: iter, StoredKey: sum.Sum(nil), ServerKey: mac(h, salted, "Server Key")}, nil
}

func mac(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// verify reports whether password is the one s was derived from.
func (s *secret) verify(password string) bool {
	k, err := pbkdf2.Key(sha256.New, password, s.salt, s.iter, len(s.key))
	return err == nil && subtle.ConstantTimeCompare(k, s.key) == 1
}
