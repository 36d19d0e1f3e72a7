package instagram

import (
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Verify and Handshake are meta.Webhook's, embedded in Adapter: the
// X-Hub-Signature-256 check and the hub.challenge answer of every Meta
// channel (channels/meta.md §1, §2).

// parser is the shared messaging-webhook parser as Instagram uses it:
// object "instagram", ids "instagram:…", and changes[] kept as unknown
// events.
var parser = meta.MessagingParser{
	Channel: Name,
	Object:  "instagram",
	Title:   "Instagram",
	Account: "Instagram account",
	Changes: true,
}

// Parse appends the canonical events of an Instagram webhook body: one per
// messaging[] and standby[] item, then one unknown event per changes[]
// item, entry by entry, in the order Meta sent them. bot_id is the IG
// professional account id (entry.id), channel_id the person's IGSID. The
// envelope, the event mapping and the id scheme are meta.MessagingParser's,
// shared with Messenger: see its contract (a refused body leaves dst
// unchanged; events never alias body) and README.md for the mapping.
func (a *Adapter) Parse(dst []normalize.Event, body []byte) ([]normalize.Event, error) {
	p := parser
	p.Connection, p.AppID = a.Connection, a.AppID
	return p.Parse(dst, body)
}
