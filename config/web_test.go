package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestParseIdentityAndWeb reads the identity section and every web key.
func TestParseIdentityAndWeb(t *testing.T) {
	t.Setenv("ID_KEY", "identity-key-0123456789")
	c := mustParse(t, `
backend: {url: builtin:echo}
identity: {key: "${ID_KEY}"}
connections:
  - name: site
    channel: web
    bot_id: acme-site
    identity_secret: web-identity-secret
    allowed_origins: ["https://shop.example.com", "http://localhost:3000"]
    jwt_keys:
      - {kid: wk_2025, secret: "0123456789abcdef0123456789abcdef"}
      - {kid: wk_2026, secret: "fedcba9876543210fedcba9876543210"}
    jwt_audience: "widget:acme"
    jwt_issuer: acme-backend
    session_ttl: 2h
    sessions_per_minute: 10
`)
	if c.Identity.Key != "identity-key-0123456789" {
		t.Errorf("identity.key = %q", c.Identity.Key)
	}
	want := &Web{
		BotID: "acme-site", IdentitySecret: "web-identity-secret",
		AllowedOrigins: []string{"https://shop.example.com", "http://localhost:3000"},
		JWTKeys: []JWTKey{{KID: "wk_2025", Secret: "0123456789abcdef0123456789abcdef"},
			{KID: "wk_2026", Secret: "fedcba9876543210fedcba9876543210"}},
		JWTAudience: "widget:acme", JWTIssuer: "acme-backend", SessionTTL: 2 * time.Hour, SessionsPerMinute: 10,
	}
	if diff := cmp.Diff(want, c.Connections[0].Web); diff != "" {
		t.Errorf("web section (-want +got):\n%s", diff)
	}
	// Without a key the identity section is optional: a per-install key
	// is made by the gateway.
	if c := mustParse(t, "backend: {url: builtin:echo}\n"); c.Identity.Key != "" {
		t.Errorf("default identity.key = %q", c.Identity.Key)
	}
}

func TestIdentityAndWebValidation(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"short identity key", `
backend: {url: builtin:echo}
identity: {key: short}
`, []string{"identity.key: must be at least 16 bytes"}},
		{"short identity secret", `
backend: {url: builtin:echo}
connections:
  - {name: w, channel: web, bot_id: b, identity_secret: short}
`, []string{"connections[0].identity_secret: must be at least 16 bytes"}},
		{"bot id with /c/", `
backend: {url: builtin:echo}
connections:
  - {name: w, channel: web, bot_id: "a/c/b", identity_secret: web-identity-secret}
`, []string{"connections[0].bot_id: must not contain /c/"}},
		{"bad origins", `
backend: {url: builtin:echo}
connections:
  - {name: w, channel: web, bot_id: b, identity_secret: web-identity-secret,
     allowed_origins: ["example.com", "https://example.com/path", "ftp://x", "https://ok.example.com", "*"]}
`, []string{"allowed_origins[0]: must be an origin", "allowed_origins[1]: must be an origin", "allowed_origins[2]: must be an origin"}},
		{"jwt keys", `
backend: {url: builtin:echo}
connections:
  - name: w
    channel: web
    bot_id: b
    identity_secret: web-identity-secret
    jwt_keys:
      - {kid: a, secret: "0123456789abcdef0123456789abcdef"}
      - {kid: a, secret: "0123456789abcdef0123456789abcdef"}
      - {secret: "0123456789abcdef0123456789abcdef"}
      - {kid: c, secret: tooshort}
      - {kid: d}
`, []string{"jwt_keys[1].kid: duplicate", "jwt_keys[2].kid: required", "jwt_keys[3].secret: must be at least 32 bytes", "jwt_keys[4].secret: required"}},
		{"negative durations", `
backend: {url: builtin:echo}
connections:
  - {name: w, channel: web, bot_id: b, identity_secret: web-identity-secret, session_ttl: -1s, sessions_per_minute: -2}
`, []string{"session_ttl: must not be negative", "sessions_per_minute: must not be negative"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := parseErr(t, tc.src, tc.want...)
			for _, secret := range []string{"web-identity-secret", "0123456789abcdef", "tooshort"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error echoes a secret: %s", msg)
				}
			}
		})
	}
	// Allowed: one unnamed key, "*" and real origins.
	mustParse(t, `
backend: {url: builtin:echo}
connections:
  - {name: w, channel: web, bot_id: b, identity_secret: web-identity-secret, allowed_origins: ["*", "http://127.0.0.1:8080"],
     jwt_keys: [{secret: "0123456789abcdef0123456789abcdef"}]}
`)
}
