package viber

import (
	"context"
	"sync"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/config"
)

// Name is the channel name used in routes, events and config.
const Name = "viber"

// DefaultSenderName is the sender.name of every message when the adapter
// has none; Viber requires one (at most MaxSenderName characters).
const DefaultSenderName = "Bot"

// Doer is adapters.Doer, which Adapter.Client takes: tests swap in a fake
// or point APIBase at bench/mockviber.
type Doer = adapters.Doer

// Adapter is one Viber bot. Fill it with New (or a literal with at least
// BotID, AuthToken and APIBase); its fields are read-only once serving
// starts, and it must not be copied after first use (it pools keyed HMAC
// states). It is safe for concurrent use.
type Adapter struct {
	// Connection is the configured connection name.
	Connection string
	// BotID is the configured id of the bot, the first half of every
	// response path (Viber callbacks carry no bot id).
	BotID string
	// AuthToken keys X-Viber-Content-Signature and authenticates API calls
	// (X-Viber-Auth-Token). Never logged.
	AuthToken []byte
	// APIBase is the REST root without a trailing method
	// (https://chatapi.viber.com/pa).
	APIBase string
	// SenderName is sender.name on every message; "" means
	// DefaultSenderName. A reply's channel_data may override it per message.
	SenderName string
	// SenderAvatar is the optional sender.avatar URL.
	SenderAvatar string
	// Client sends API calls; nil means a package default *fasthttp.Client
	// with timeouts. An adapters.DeadlineDoer (as *fasthttp.Client is)
	// gets the context's deadline.
	Client Doer
	// SizeOf returns the size in bytes of the media at url. Viber requires
	// the size of a video or file message; Send asks SizeOf when the reply
	// does not give it in channel_data. nil means a HEAD request through
	// Client, reading Content-Length.
	SizeOf func(ctx context.Context, url string) (int64, error)

	macs sync.Pool // of *macState keyed with AuthToken
}

// New builds the adapter of connection name from its config section.
func New(name string, c *config.Viber) *Adapter {
	return &Adapter{
		Connection: name,
		BotID:      c.BotID,
		AuthToken:  []byte(c.AuthToken),
		APIBase:    c.APIBase,
	}
}
