package web

import (
	"time"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/config"
)

// Name is the channel name used in routes, events and config.
const Name = "web"

// Defaults of a web connection's optional settings (config.Web).
const (
	DefaultSessionTTL        = 24 * time.Hour
	DefaultSessionsPerMinute = 30
)

// Adapter is one web-widget bot. Fill it with New; its fields are
// read-only once serving starts. It is safe for concurrent use.
type Adapter struct {
	// Connection is the configured connection name.
	Connection string
	// BotID is the widget's configured id, the first half of every
	// response path.
	BotID string
	// Verifier checks identity proofs for this connection.
	Verifier *Verifier
	// Transport stores and delivers rendered frames; the gateway sets it
	// before serving. Nil makes Send fail with a configuration error.
	Transport Transport
}

var _ adapters.Outbound = (*Adapter)(nil)

// New builds the adapter of connection name from its config section.
func New(name string, c *config.Web) *Adapter {
	v := &Verifier{
		Secret:   []byte(c.IdentitySecret),
		Audience: c.JWTAudience,
		Issuer:   c.JWTIssuer,
	}
	if v.Audience == "" {
		v.Audience = c.BotID
	}
	if len(c.JWTKeys) > 0 {
		v.Keys = make(map[string][]byte, len(c.JWTKeys))
		for _, k := range c.JWTKeys {
			v.Keys[k.KID] = []byte(k.Secret)
		}
	}
	return &Adapter{Connection: name, BotID: c.BotID, Verifier: v}
}

// SessionTTL is c's session lifetime, defaulted.
func SessionTTL(c *config.Web) time.Duration {
	if c.SessionTTL > 0 {
		return c.SessionTTL
	}
	return DefaultSessionTTL
}

// SessionsPerMinute is c's session-creation rate per client, defaulted.
func SessionsPerMinute(c *config.Web) int {
	if c.SessionsPerMinute > 0 {
		return c.SessionsPerMinute
	}
	return DefaultSessionsPerMinute
}
