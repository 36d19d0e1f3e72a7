package messenger

import (
	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/normalize"
)

var (
	_ adapters.Inbound    = (*Adapter)(nil)
	_ adapters.Handshaker = (*Adapter)(nil)
)

// Verify checks X-Hub-Signature-256 over the raw body with the app secret
// (channels/meta.md §2). It allocates nothing once warm.
func (a *Adapter) Verify(h adapters.Peeker, body []byte) error {
	return a.Signature.Verify(h, body)
}

// Handshake answers Meta's hub.challenge verification GET.
func (a *Adapter) Handshake(q adapters.Peeker) ([]byte, error) {
	return meta.Handshake(a.VerifyToken, q)
}

// parser is the shared messaging-webhook parser as Messenger uses it:
// object "page", ids "messenger:", Page changes[] skipped.
var parser = meta.MessagingParser{Channel: Name, Object: "page", Title: "Messenger", Account: "Page"}

// Parse appends one canonical event per messaging[] and standby[] item of
// every entry of a Messenger webhook body, in the order Meta sent them.
// The envelope, the event mapping and the id scheme are
// meta.MessagingParser's, shared with Instagram: see its contract (a
// refused body leaves dst unchanged; events never alias body) and
// README.md for the mapping.
func (a *Adapter) Parse(dst []normalize.Event, body []byte) ([]normalize.Event, error) {
	p := parser
	p.Connection, p.AppID = a.Connection, a.AppID
	return p.Parse(dst, body)
}
