package messenger

import (
	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/config"
)

// Name is the channel name used in routes, events and config.
const Name = "messenger"

// Doer is adapters.Doer, which Adapter.Client takes: tests swap in a fake
// or point APIBase at a mock Graph API.
type Doer = adapters.Doer

// Adapter is one Messenger connection: a Meta app and the Pages it serves.
// Fill it with New; its fields are read-only once serving starts.
type Adapter struct {
	// Connection is the configured connection name.
	Connection string
	// Signature verifies X-Hub-Signature-256 with the app secret:
	// Adapter{Signature: meta.Signer{Secret: s}}. Not copied after use.
	Signature meta.Signer
	// VerifyToken answers the hub.challenge handshake.
	VerifyToken []byte
	// AppID is this app's id; echoes carrying it are our own sends.
	AppID string
	// APIBase is the Graph API root, version included
	// (https://graph.facebook.com/v25.0).
	APIBase string
	// PageTokens maps a Page id to the token that sends as that Page.
	PageTokens map[string]string
	// Client sends Graph API calls; nil means a default fasthttp.Client.
	// An adapters.DeadlineDoer (as *fasthttp.Client is) gets the context's
	// deadline.
	Client Doer
	// Batch gathers Send API calls into Graph batch requests
	// (send_batch); nil sends each on its own.
	Batch *meta.Batcher
}

// New builds the adapter of connection name from its config section.
func New(name string, c *config.Messenger) *Adapter {
	a := &Adapter{
		Connection:  name,
		VerifyToken: []byte(c.VerifyToken),
		AppID:       c.AppID,
		APIBase:     c.APIBase,
		PageTokens:  meta.Tokens(c.Pages),
		Batch:       meta.NewBatcher(c.SendBatching),
	}
	a.Signature.Secret = []byte(c.AppSecret)
	return a
}
