package auth

import (
	"bytes"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzRecords: decoding stored records never panics, and what decodes
// re-encodes to a record that decodes to the same value (the encoding of
// a decoded record is stable). Each input is also fed cut in half.
func FuzzRecords(f *testing.F) {
	u := &User{Name: "u", Super: true, Created: 7}
	u.sec, _ = derive("pw", 2)
	f.Add(byte('a'), []byte("u"), u.marshal())
	r := Rule{Seq: 3, Subject: ByUser, Name: "n", Topic: "a/%u/#", IP: "10.0.0.0/8", Action: All, Allow: true}
	f.Add(byte('c'), r.key(), r.marshal())
	b := Ban{Kind: BanCIDR, Name: "10.0.0.0/8", Until: 99, Desc: "d"}
	f.Add(byte('b'), b.key(), b.marshal())
	f.Fuzz(func(t *testing.T, table byte, key, val []byte) {
		var check func(v []byte, again bool)
		check = func(v []byte, again bool) {
			var out []byte
			switch Table(table) {
			case Users:
				x, err := unmarshalUser(string(key), v)
				if err != nil {
					return
				}
				out = x.marshal()
			case ACL:
				x, err := unmarshalRule(key, v)
				if err != nil {
					return
				}
				out = x.marshal()
			case Blacklist:
				x, err := unmarshalBan(key, v)
				if err != nil {
					return
				}
				out = x.marshal()
			default:
				return
			}
			if again && !bytes.Equal(out, v) {
				t.Fatalf("table %c: re-encoded %x is not stable: %x", table, v, out)
			}
			if !again {
				check(out, true)
			}
		}
		check(val, false)
		check(val[:len(val)/2], false)
	})
}

// FuzzConnect: any CONNECT credentials (JWT-shaped or not) are answered
// without panicking, and only the right password or a token signed with
// the secret gets in.
func FuzzConnect(f *testing.F) {
	secret := []byte("fuzz-secret-fuzz-secret-fuzz-sec")
	s := newStore(f, Options{JWT: &JWT{Secret: secret, ClientIDClaim: "clientid", UsernameClaim: "username"}})
	if err := s.SetUser(ctx, "u", "right", false); err != nil {
		f.Fatal(err)
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"username": "u", "clientid": "c"}).SignedString(secret)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("u", "right", "c")
	f.Add("u", tok, "c")
	f.Add("u", "eyJhbGciOiJub25lIn0.eyJ1c2VybmFtZSI6InUifQ.", "c")
	f.Add("", "eyJ.x.y", "")
	f.Fuzz(func(t *testing.T, user, pass, client string) {
		p, err := s.Connect(&Login{ClientID: client, Username: user, HasUsername: user != "", Password: []byte(pass), HasPassword: pass != ""})
		if err != nil || user == "" {
			return
		}
		if !(user == "u" && pass == "right") && pass != tok {
			t.Fatalf("user %q password %q accepted", user, pass)
		}
		if p == nil {
			t.Fatal("accepted without a principal")
		}
	})
}
