package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"sync/atomic"
	"time"
)

// User is one entry of the user store. Immutable once published in a
// snapshot, except fast.
type User struct {
	Name    string
	Super   bool  // superusers bypass ACL
	Created int64 // unix seconds
	sec     secret
	// fast is HMAC-SHA256(fastKey, password) of the last password that
	// passed PBKDF2: later logins of this user cost one HMAC instead of
	// Options.Iterations rounds (CONNECT runs on an event loop). It lives
	// in memory only, under a key drawn at process start, so it adds
	// nothing to an offline attack on stored hashes.
	fast atomic.Pointer[[sha256.Size]byte]
}

// UserInfo is what listing shows of a user (never the secret).
type UserInfo struct {
	Name    string `json:"username"`
	Super   bool   `json:"is_superuser"`
	Created int64  `json:"create_time"`
}

// fastKey keys User.fast; drawn once per process.
var fastKey = newSalt()

func fastSum(password string) (out [sha256.Size]byte) {
	m := hmac.New(sha256.New, fastKey)
	m.Write([]byte(password))
	m.Sum(out[:0])
	return out
}

// check returns nil when password is u's, ErrBadPassword when it is not,
// and ErrBusy when only the slow check could tell and slow has no budget
// left (see slowBudget).
func (u *User) check(password string, slow *slowBudget, now time.Time) error {
	sum := fastSum(password)
	if f := u.fast.Load(); f != nil {
		if subtle.ConstantTimeCompare(f[:], sum[:]) == 1 {
			return nil
		}
		return ErrBadPassword
	}
	if !slow.take(now) {
		return ErrBusy
	}
	if !u.sec.verify(password) {
		return ErrBadPassword
	}
	u.fast.Store(&sum)
	return nil
}

// User record, table Users, key = user name (frozen):
//
//	version  byte 1
//	flags    byte (bit 0: superuser)
//	created  uvarint unix seconds
//	hash     iterations uvarint | salt bytes | key bytes     PBKDF2-SHA256
//	scram    2 x (iterations uvarint | salt | stored key | server key bytes), SHA-256 then SHA-512
//	(bytes = uvarint length, then the bytes)
func (u *User) marshal() []byte {
	b := []byte{recordVersion, 0}
	if u.Super {
		b[1] = 1
	}
	b = appendUvarint(b, uint64(u.Created))
	b = appendUvarint(b, uint64(u.sec.iter))
	b = appendBytes(b, u.sec.salt)
	b = appendBytes(b, u.sec.key)
	for _, c := range u.sec.scram {
		b = appendUvarint(b, uint64(c.Iterations))
		b = appendBytes(b, c.Salt)
		b = appendBytes(b, c.StoredKey)
		b = appendBytes(b, c.ServerKey)
	}
	return b
}

// maxIterations bounds a stored iteration count, so a corrupt record
// cannot make a login spin.
const maxIterations = 1 << 22

func unmarshalUser(name string, b []byte) (*User, error) {
	r := reader{b: b}
	r.version()
	u := &User{Name: name}
	u.Super = r.byte("flags")&1 != 0
	u.Created = int64(r.uvarint("created"))
	iter := func() int {
		n := r.uvarint("iterations")
		if r.err == nil && (n == 0 || n > maxIterations) {
			r.fail("iterations out of range")
		}
		return int(n)
	}
	u.sec.iter = iter()
	u.sec.salt = r.bytes("salt")
	u.sec.key = r.bytes("key")
	if r.err == nil && len(u.sec.key) == 0 {
		r.fail("empty key")
	}
	for i := range u.sec.scram {
		c := &u.sec.scram[i]
		c.Iterations = iter()
		c.Salt = r.bytes("scram salt")
		c.StoredKey = r.bytes("scram stored key")
		c.ServerKey = r.bytes("scram server key")
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return u, nil
}
