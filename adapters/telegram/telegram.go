package telegram

import (
	"strings"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/config"
)

// Name is the channel name used in routes, events and config.
const Name = "telegram"

// Doer is adapters.Doer, which Adapter.Client takes: tests swap in a fake
// or point APIBase at bench/mocktelegram.
type Doer = adapters.Doer

// Adapter is one Telegram bot. Fill it with New; its fields are read-only
// once serving starts. The zero value with Token and SecretToken set works.
type Adapter struct {
	// Connection is the configured connection name.
	Connection string
	// BotID is the numeric prefix of Token (DESIGN §2), the bot half of
	// every response path. It may be logged; Token never is.
	BotID string
	// Token authenticates Bot API calls; it is part of every call's URL.
	Token string
	// SecretToken is what setWebhook's secret_token was set to; Telegram
	// echoes it in X-Telegram-Bot-Api-Secret-Token.
	SecretToken []byte
	// Username is the bot's @username without the @, when known (getMe,
	// see GetMe). Commands addressed to another bot (/cmd@OtherBot) are
	// marked for_bot; with Username empty every @suffix is reported.
	Username string
	// APIBase is the Bot API root without the /bot<token> part:
	// https://api.telegram.org.
	APIBase string
	// Client sends Bot API calls; nil means a default fasthttp.Client with
	// timeouts. An adapters.DeadlineDoer (as *fasthttp.Client is) gets the
	// context's deadline.
	Client Doer
}

// New builds the adapter of connection name from its config section.
// config.Validate has checked that the token looks like <bot id>:<secret>.
func New(name string, c *config.Telegram) *Adapter {
	return &Adapter{
		Connection:  name,
		BotID:       BotIDFromToken(c.Token),
		Token:       c.Token,
		SecretToken: []byte(c.SecretToken),
		APIBase:     c.APIBase,
	}
}

// BotIDFromToken returns the digits before the colon of a bot token
// ("7012345678:AA…" → "7012345678"), or "" when the token has no such
// prefix.
func BotIDFromToken(token string) string {
	id, _, ok := strings.Cut(token, ":")
	if !ok || !isIntID(id) || id[0] == '-' {
		return ""
	}
	return id
}
