package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Identity proofs (web.md §3.2). A page may claim any id; only a claim
// the customer's backend made is accepted:
//
//   - user_hash = hex(HMAC-SHA256(identity_secret, id)), the legacy mode of
//     Intercom and Chatwoot. It never expires and signs only the id.
//   - a JWT, HS256, signed with one of the connection's jwt_keys (the
//     header's kid picks it, so keys rotate), carrying sub (the id), aud,
//     exp and optionally iss, iat, name, email and traits (attributes the
//     page cannot alter).

// Errors. Every refusal wraps ErrBadProof or ErrNoProof; the wrapped
// reason names what was wrong with the proof, never anything about the
// person.
var (
	ErrNoProof  = errors.New("web: identity proof required (user_hash or jwt)")
	ErrBadProof = errors.New("web: identity proof not valid")
	ErrBadID    = errors.New("web: id must be 1-255 bytes of printable UTF-8")
)

// MaxIDLen bounds a provided id (bytes), as Zendesk's external_id.
const MaxIDLen = 255

// Defaults of Verifier's optional fields.
const (
	DefaultLeeway      = 30 * time.Second
	DefaultMaxLifetime = 24 * time.Hour
)

// Verifier checks identity proofs for one web connection. Its fields are
// read-only once in use; it is safe for concurrent use.
type Verifier struct {
	// Secret keys user_hash. Empty refuses every user_hash.
	Secret []byte
	// Keys are the HS256 keys of identity JWTs by kid. A key with an empty
	// kid also verifies tokens without one. Empty refuses every JWT.
	Keys map[string][]byte
	// Audience is the aud a JWT must carry.
	Audience string
	// Issuer, when set, is the iss a JWT must carry.
	Issuer string
	// Leeway absorbs clock skew on exp, nbf and iat; 0 means DefaultLeeway.
	Leeway time.Duration
	// MaxLifetime refuses JWTs whose exp lies further ahead (or further
	// after their iat); 0 means DefaultMaxLifetime.
	MaxLifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Identity is a verified claim.
type Identity struct {
	// ID is the provided id: the id that was hashed, or the JWT's sub.
	ID string
	// Traits are the JWT's signed attributes (traits, name, email) as a
	// JSON object, or nil.
	Traits json.RawMessage
}

// Claims are an identity JWT's claims.
type Claims struct {
	jwt.RegisteredClaims
	Name   string          `json:"name,omitempty"`
	Email  string          `json:"email,omitempty"`
	Traits json.RawMessage `json:"traits,omitempty"`
}

// ValidID reports whether id can be a provided id.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// UserHash is hex(HMAC-SHA256(secret, id)): what the customer's backend
// computes and the page passes as user_hash.
func UserHash(secret []byte, id string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a claim: a JWT when token is set (its sub must equal id
// when id is given), else id with userHash. Neither is ErrNoProof.
func (v *Verifier) Verify(id, userHash, token string) (Identity, error) {
	if token != "" {
		c, err := v.CheckJWT(token)
		if err != nil {
			return Identity{}, err
		}
		if id != "" && id != c.Subject {
			return Identity{}, fmt.Errorf("%w: the jwt's sub is not the id", ErrBadProof)
		}
		return Identity{ID: c.Subject, Traits: c.traits()}, nil
	}
	if userHash == "" {
		return Identity{}, ErrNoProof
	}
	if err := v.CheckHash(id, userHash); err != nil {
		return Identity{}, err
	}
	return Identity{ID: id}, nil
}

// CheckHash verifies user_hash for id in constant time (on the decoded
// bytes; hex of either case).
func (v *Verifier) CheckHash(id, userHash string) error {
	if !ValidID(id) {
		return ErrBadID
	}
	if len(v.Secret) == 0 {
		return fmt.Errorf("%w: user_hash is not enabled", ErrBadProof)
	}
	got, err := hex.DecodeString(userHash)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: user_hash must be 64 hex digits", ErrBadProof)
	}
	m := hmac.New(sha256.New, v.Secret)
	m.Write([]byte(id))
	if !hmac.Equal(got, m.Sum(nil)) {
		return fmt.Errorf("%w: user_hash does not match", ErrBadProof)
	}
	return nil
}

// CheckJWT verifies an identity JWT: HS256 only (alg none and every other
// algorithm refused), a known kid, the audience, the issuer when
// configured, a required exp within MaxLifetime, nbf and iat when present,
// and a valid sub.
func (v *Verifier) CheckJWT(token string) (*Claims, error) {
	if len(v.Keys) == 0 {
		return nil, fmt.Errorf("%w: jwt is not enabled", ErrBadProof)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	leeway := v.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(v.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	}
	if v.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.Issuer))
	}
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, v.key, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadProof, jwtReason(err))
	}
	maxLife := v.MaxLifetime
	if maxLife == 0 {
		maxLife = DefaultMaxLifetime
	}
	exp := c.ExpiresAt.Time
	if exp.Sub(now()) > maxLife+leeway || c.IssuedAt != nil && exp.Sub(c.IssuedAt.Time) > maxLife+leeway {
		return nil, fmt.Errorf("%w: the jwt lives longer than %s", ErrBadProof, maxLife)
	}
	if !ValidID(c.Subject) {
		return nil, fmt.Errorf("%w: sub must be 1-255 bytes of printable UTF-8", ErrBadProof)
	}
	if len(c.Traits) > 0 {
		var m map[string]json.RawMessage
		if json.Unmarshal(c.Traits, &m) != nil || m == nil {
			return nil, fmt.Errorf("%w: traits must be an object", ErrBadProof)
		}
	}
	return &c, nil
}

// key picks the HS256 key by the token's kid.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if k, ok := v.Keys[kid]; ok && len(k) > 0 {
		return k, nil
	}
	return nil, errUnknownKID
}

var errUnknownKID = errors.New("unknown kid")

// jwtReason names what was wrong with a token, in words safe to return to
// the page.
func jwtReason(err error) string {
	switch {
	case errors.Is(err, errUnknownKID):
		return "unknown kid"
	case strings.Contains(err.Error(), "signing method"):
		return "unverifiable: alg must be HS256"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the jwt has expired"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong aud"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong iss"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		if strings.Contains(err.Error(), "aud") {
			return "wrong aud (missing)"
		}
		return "exp is required"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the jwt is not valid yet"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed jwt"
	}
	return "invalid jwt"
}

// traits are the signed attributes: traits, with name and email added
// when the claims carry them.
func (c *Claims) traits() json.RawMessage {
	if c.Name == "" && c.Email == "" {
		return c.Traits
	}
	m := map[string]json.RawMessage{}
	if len(c.Traits) > 0 {
		json.Unmarshal(c.Traits, &m)
	}
	if c.Name != "" {
		m["name"], _ = json.Marshal(c.Name)
	}
	if c.Email != "" {
		m["email"], _ = json.Marshal(c.Email)
	}
	b, _ := json.Marshal(m)
	return b
}
