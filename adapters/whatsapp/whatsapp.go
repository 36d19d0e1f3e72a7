package whatsapp

import (
	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/config"
)

// Name is the channel name used in routes, events and config.
const Name = "whatsapp"

// Adapter serves one WhatsApp Cloud API connection: the Meta app whose
// secret signs the webhooks, and the business phone numbers (bot ids) it
// sends as. New fills it from config; nothing in it changes once the
// gateway serves.
type Adapter struct {
	Connection string // the configured connection's name; events carry it

	// Receiving: Signature checks X-Hub-Signature-256 against the app
	// secret (it pools keyed HMACs, so it is never copied after first
	// use), VerifyToken is the dashboard's token for the hub.challenge GET
	// and AppID the app's id, which WhatsApp webhooks do not carry (kept
	// as the other Meta channels keep theirs).
	Signature   meta.Signer
	VerifyToken []byte
	AppID       string

	// Sending: APIBase is the Graph root with its version
	// (https://graph.facebook.com/v25.0; tests point it at
	// bench/mockgraph), Tokens the system-user token of each
	// phone_number_id, sent as "Authorization: Bearer", and Client what
	// makes the calls (nil: a shared fasthttp.Client; an
	// adapters.DeadlineDoer gets the context's deadline).
	APIBase string
	Tokens  map[string]string
	Client  adapters.Doer
}

// New builds the adapter of connection name from its config section.
func New(name string, c *config.WhatsApp) *Adapter {
	return &Adapter{
		Connection:  name,
		Signature:   meta.Signer{Secret: []byte(c.AppSecret)},
		VerifyToken: []byte(c.VerifyToken),
		AppID:       c.AppID,
		APIBase:     c.APIBase,
		Tokens:      meta.Tokens(c.PhoneNumbers),
	}
}
