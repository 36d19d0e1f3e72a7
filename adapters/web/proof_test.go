package web

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testSecret = "test-identity-secret-0123456789"
	keyOld     = "old-jwt-key-0123456789-0123456789"
	keyNew     = "new-jwt-key-0123456789-0123456789"
)

var testNow = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func testVerifier() *Verifier {
	return &Verifier{
		Secret:   []byte(testSecret),
		Keys:     map[string][]byte{"k2025": []byte(keyOld), "k2026": []byte(keyNew)},
		Audience: "widget:acme",
		Issuer:   "acme-backend",
		Now:      func() time.Time { return testNow },
	}
}

// sign makes an HS256 token with kid over claims.
func sign(t testing.TB, key, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "acme-backend", "aud": "widget:acme", "sub": "cust_88413",
		"iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix(), "jti": "9b1e0c6a",
		"email": "ana@example.com", "traits": map[string]any{"plan": "pro"},
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestUserHash(t *testing.T) {
	v := testVerifier()
	good := UserHash([]byte(testSecret), "alice")
	if len(good) != 64 {
		t.Fatalf("user hash %q", good)
	}
	if err := v.CheckHash("alice", good); err != nil {
		t.Fatalf("valid hash refused: %v", err)
	}
	if err := v.CheckHash("alice", strings.ToUpper(good)); err != nil {
		t.Fatalf("upper-case hex refused: %v", err)
	}
	forged := map[string]string{
		"other id's hash":      UserHash([]byte(testSecret), "bob"),
		"other secret":         UserHash([]byte("attacker-secret-0123456789"), "alice"),
		"one digit changed":    good[:63] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", good[63])+1)%16]),
		"truncated":            good[:62],
		"not hex":              strings.Repeat("zz", 32),
		"bare id (no proof)":   "alice",
		"sha256 without a key": "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90",
	}
	for name, h := range forged {
		if err := v.CheckHash("alice", h); !errors.Is(err, ErrBadProof) {
			t.Errorf("%s: %v, want ErrBadProof", name, err)
		}
	}
	if err := v.CheckHash("", good); !errors.Is(err, ErrBadID) {
		t.Errorf("empty id: %v", err)
	}
	if err := v.CheckHash("a\nb", UserHash([]byte(testSecret), "a\nb")); !errors.Is(err, ErrBadID) {
		t.Errorf("control character in id: %v", err)
	}
	none := &Verifier{}
	if err := none.CheckHash("alice", UserHash(nil, "alice")); !errors.Is(err, ErrBadProof) {
		t.Errorf("no secret configured: %v", err)
	}
}

func TestVerifyPicksTheProof(t *testing.T) {
	v := testVerifier()
	if _, err := v.Verify("alice", "", ""); !errors.Is(err, ErrNoProof) {
		t.Errorf("bare id: %v, want ErrNoProof", err)
	}
	id, err := v.Verify("alice", UserHash([]byte(testSecret), "alice"), "")
	if err != nil || id.ID != "alice" || id.Traits != nil {
		t.Errorf("hash: %+v %v", id, err)
	}
	tok := sign(t, keyNew, "k2026", goodClaims())
	id, err = v.Verify("", "", tok)
	if err != nil || id.ID != "cust_88413" {
		t.Fatalf("jwt: %+v %v", id, err)
	}
	var traits map[string]string
	json.Unmarshal(id.Traits, &traits)
	if traits["plan"] != "pro" || traits["email"] != "ana@example.com" {
		t.Errorf("traits %s", id.Traits)
	}
	if _, err := v.Verify("cust_88413", "", tok); err != nil {
		t.Errorf("jwt with matching id: %v", err)
	}
	if _, err := v.Verify("someone_else", "", tok); !errors.Is(err, ErrBadProof) {
		t.Errorf("jwt for another id: %v", err)
	}
	// A JWT wins over a user_hash: a bad JWT is not rescued by a hash.
	if _, err := v.Verify("alice", UserHash([]byte(testSecret), "alice"), tok+"x"); !errors.Is(err, ErrBadProof) {
		t.Errorf("bad jwt with good hash: %v", err)
	}
}

func TestJWT(t *testing.T) {
	v := testVerifier()
	hs512 := jwt.NewWithClaims(jwt.SigningMethodHS512, goodClaims())
	hs512.Header["kid"] = "k2026"
	hs512s, _ := hs512.SignedString([]byte(keyNew))
	none := jwt.NewWithClaims(jwt.SigningMethodNone, goodClaims())
	none.Header["kid"] = "k2026"
	nones, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	// alg none with a signature made by the right key still is alg none.
	good := sign(t, keyNew, "k2026", goodClaims())
	noneWithSig := strings.Replace(good, strings.Split(good, ".")[0], strings.Split(nones, ".")[0], 1)
	cases := []struct {
		name, token, reason string
	}{
		{"valid, new key", good, ""},
		{"valid, old key still configured (rotation)", sign(t, keyOld, "k2025", goodClaims()), ""},
		{"expired", sign(t, keyNew, "k2026", with(goodClaims(), "exp", testNow.Add(-time.Minute).Unix())), "expired"},
		{"expired within leeway", sign(t, keyNew, "k2026", with(goodClaims(), "exp", testNow.Add(-10*time.Second).Unix())), ""},
		{"no exp", sign(t, keyNew, "k2026", with(goodClaims(), "exp", nil)), "exp is required"},
		{"wrong aud", sign(t, keyNew, "k2026", with(goodClaims(), "aud", "widget:other")), "wrong aud"},
		{"no aud", sign(t, keyNew, "k2026", with(goodClaims(), "aud", nil)), "wrong aud"},
		{"aud list holding ours", sign(t, keyNew, "k2026", with(goodClaims(), "aud", []string{"x", "widget:acme"})), ""},
		{"wrong iss", sign(t, keyNew, "k2026", with(goodClaims(), "iss", "mallory")), "wrong iss"},
		{"wrong kid", sign(t, keyNew, "k1999", goodClaims()), "unknown kid"},
		{"no kid", sign(t, keyNew, "", goodClaims()), "unknown kid"},
		{"right kid, other key", sign(t, keyOld, "k2026", goodClaims()), "bad signature"},
		{"forged with an unknown key", sign(t, "attacker-key-0123456789-0123456789", "k2026", goodClaims()), "bad signature"},
		{"identity_secret as jwt key", sign(t, testSecret, "k2026", goodClaims()), "bad signature"},
		{"alg none", nones, "unverifiable"},
		{"alg none, real signature", noneWithSig, "unverifiable"},
		{"HS512", hs512s, "unverifiable"},
		{"not yet valid", sign(t, keyNew, "k2026", with(goodClaims(), "nbf", testNow.Add(time.Hour).Unix())), "not valid yet"},
		{"issued in the future", sign(t, keyNew, "k2026", with(goodClaims(), "iat", testNow.Add(time.Hour).Unix())), "not valid yet"},
		{"lives two days", sign(t, keyNew, "k2026", with(goodClaims(), "exp", testNow.Add(48*time.Hour).Unix())), "lives longer"},
		{"no sub", sign(t, keyNew, "k2026", with(goodClaims(), "sub", nil)), "sub must be"},
		{"traits not an object", sign(t, keyNew, "k2026", with(goodClaims(), "traits", []int{1})), "traits must be"},
		{"malformed", "abc.def", "malformed"},
		{"tampered payload", good[:len(good)-50] + "A" + good[len(good)-49:], ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			claims, err := v.CheckJWT(c.token)
			if c.name == "tampered payload" {
				if err == nil {
					t.Fatal("tampered token accepted")
				}
				return
			}
			if c.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if claims.Subject != "cust_88413" {
					t.Fatalf("sub %q", claims.Subject)
				}
				return
			}
			if !errors.Is(err, ErrBadProof) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("err = %v, want ErrBadProof with %q", err, c.reason)
			}
		})
	}
}

// TestJWTKeyRotation: after the old key is removed from the config, its
// tokens stop working while the new key's go on.
func TestJWTKeyRotation(t *testing.T) {
	v := testVerifier()
	old := sign(t, keyOld, "k2025", goodClaims())
	if _, err := v.CheckJWT(old); err != nil {
		t.Fatalf("old key before rotation: %v", err)
	}
	v.Keys = map[string][]byte{"k2026": []byte(keyNew)}
	if _, err := v.CheckJWT(old); !errors.Is(err, ErrBadProof) {
		t.Fatalf("old key after rotation: %v", err)
	}
	if _, err := v.CheckJWT(sign(t, keyNew, "k2026", goodClaims())); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	// A single key configured without a kid verifies tokens without one.
	single := &Verifier{Keys: map[string][]byte{"": []byte(keyNew)}, Audience: "widget:acme", Now: v.Now}
	if _, err := single.CheckJWT(sign(t, keyNew, "", goodClaims())); err != nil {
		t.Fatalf("single key, no kid: %v", err)
	}
	if _, err := single.CheckJWT(sign(t, keyNew, "k2026", goodClaims())); !errors.Is(err, ErrBadProof) {
		t.Fatalf("single unnamed key, named token: %v", err)
	}
	disabled := &Verifier{Secret: []byte(testSecret), Audience: "widget:acme", Now: v.Now}
	if _, err := disabled.CheckJWT(sign(t, testSecret, "", goodClaims())); !errors.Is(err, ErrBadProof) {
		t.Fatalf("no jwt keys: %v", err)
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"cust_88413": true, "ana@example.com": true, "名前": true, "a/c/b": true,
		"": false, "a\x00b": false, "a\tb": false, strings.Repeat("x", 256): false, "\xff": false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v", id, got)
		}
	}
}
