package meta

import "github.com/switchboard-gw/switchboard/adapters"

// Webhook is the receiving side of one Meta app connection: the app
// secret's signer and the dashboard's verify token. Embedded in an
// adapter it gives it Verify (adapters.Inbound's half) and Handshake
// (adapters.Handshaker). Signature must not be copied after first use.
type Webhook struct {
	// Signature verifies X-Hub-Signature-256 with the app secret:
	// Webhook{Signature: Signer{Secret: s}}.
	Signature Signer
	// VerifyToken answers the hub.challenge handshake.
	VerifyToken []byte
}

// Verify checks X-Hub-Signature-256 over the raw body with the app secret
// (channels/meta.md §2). It allocates nothing once warm.
func (w *Webhook) Verify(h adapters.Peeker, body []byte) error {
	return w.Signature.Verify(h, body)
}

// Handshake answers Meta's hub.challenge verification GET.
func (w *Webhook) Handshake(q adapters.Peeker) ([]byte, error) {
	return Handshake(w.VerifyToken, q)
}
