package auth

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"os"

	"github.com/golang-jwt/jwt/v5"
)

// JWT is the configuration of JWT passwords. A CONNECT whose password has
// a JWT's shape (three base64url parts, the first starting "eyJ") is
// checked as a token when JWT is configured, never as a stored password.
type JWT struct {
	// Secret verifies HS256/384/512 tokens; empty refuses them.
	Secret []byte
	// PublicKey verifies RS256/384/512 tokens; nil refuses them.
	PublicKey *rsa.PublicKey
	// ClientIDClaim and UsernameClaim name the claims that, when present,
	// must equal the CONNECT's client id and user name (a token without a
	// user name claim and a CONNECT without a user name: the principal has
	// no user name; with the claim and no CONNECT user name, the claim's).
	ClientIDClaim, UsernameClaim string
}

// LoadRSAPublicKey reads a PEM RSA public key (PKIX or PKCS#1, or a
// certificate's) from file.
func LoadRSAPublicKey(file string) (*rsa.PublicKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("auth: jwt public key: %w", err)
	}
	k, err := jwt.ParseRSAPublicKeyFromPEM(b)
	if err != nil {
		return nil, fmt.Errorf("auth: jwt public key %s: %w", file, err)
	}
	return k, nil
}

// ErrJWT marks a refused token.
var ErrJWT = errors.New("auth: jwt refused")

type jwtVerifier struct {
	cfg    JWT
	parser *jwt.Parser
}

func newJWTVerifier(c *JWT) *jwtVerifier {
	if c == nil || len(c.Secret) == 0 && c.PublicKey == nil {
		return nil
	}
	var methods []string
	if len(c.Secret) > 0 {
		methods = append(methods, "HS256", "HS384", "HS512")
	}
	if c.PublicKey != nil {
		methods = append(methods, "RS256", "RS384", "RS512")
	}
	// exp and nbf are checked when present (jwt/v5's validator).
	return &jwtVerifier{cfg: *c, parser: jwt.NewParser(jwt.WithValidMethods(methods))}
}

func (v *jwtVerifier) key(t *jwt.Token) (any, error) {
	switch t.Method.(type) {
	case *jwt.SigningMethodHMAC:
		return v.cfg.Secret, nil
	case *jwt.SigningMethodRSA:
		return v.cfg.PublicKey, nil
	}
	return nil, errors.New("unexpected signing method")
}

// looksLikeJWT: three base64url parts, a JSON header ("eyJ" is `{"`).
func looksLikeJWT(p string) bool {
	if len(p) < 10 || p[:3] != "eyJ" {
		return false
	}
	dots := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '.':
			dots++
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '=':
		default:
			return false
		}
	}
	return dots == 2
}

// verify checks token and its claims against the CONNECT; it returns the
// principal's user name.
func (v *jwtVerifier) verify(token, clientID, user string) (string, error) {
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, v.key); err != nil {
		return "", fmt.Errorf("%w: %w", ErrJWT, err)
	}
	if n := v.cfg.ClientIDClaim; n != "" {
		if c, ok := claims[n]; ok && c != clientID {
			return "", fmt.Errorf("%w: claim %s is not the client id", ErrJWT, n)
		}
	}
	if n := v.cfg.UsernameClaim; n != "" {
		if c, ok := claims[n]; ok {
			s, isStr := c.(string)
			switch {
			case !isStr:
				return "", fmt.Errorf("%w: claim %s is not a string", ErrJWT, n)
			case user == "":
				user = s
			case s != user:
				return "", fmt.Errorf("%w: claim %s is not the user name", ErrJWT, n)
			}
		}
	}
	return user, nil
}
