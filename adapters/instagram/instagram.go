package instagram

import (
	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/config"
)

// Name is the channel name used in routes, events and config.
const Name = "instagram"

// What an Instagram adapter can do, checked at compile time.
var (
	_ adapters.Inbound    = (*Adapter)(nil) // inbound.go, Verify from meta.Webhook
	_ adapters.Handshaker = (*Adapter)(nil) // meta.Webhook
	_ adapters.Outbound   = (*Adapter)(nil) // outbound.go
	_ adapters.Handover   = (*Adapter)(nil) // outbound.go
	_ adapters.Windowed   = (*Adapter)(nil) // window.go
)

// Adapter is one Instagram connection: a Meta app and the Instagram
// professional accounts it serves. Fill it with New; its fields are
// read-only once serving starts.
type Adapter struct {
	// Connection is the configured connection name.
	Connection string
	// AppID is this app's id; echoes carrying it are our own sends.
	AppID string
	// Webhook verifies signatures (Signature, the app secret) and answers
	// the hub.challenge handshake (VerifyToken), as for Messenger: it
	// gives the adapter Verify and Handshake. Not copied after use.
	meta.Webhook
	// Endpoint is where Send API calls go: APIBase, Tokens (an IG account
	// id → the token of its linked Page), Client and Batch (send_batch).
	meta.Endpoint
}

// New builds the adapter of connection name from its config section.
func New(name string, c *config.Instagram) *Adapter {
	a := &Adapter{
		Connection: name,
		AppID:      c.AppID,
		Endpoint:   meta.Endpoint{APIBase: c.APIBase, Tokens: meta.Tokens(c.Accounts), Batch: meta.NewBatcher(c.SendBatching)},
	}
	a.Signature.Secret = []byte(c.AppSecret)
	a.VerifyToken = []byte(c.VerifyToken)
	return a
}
