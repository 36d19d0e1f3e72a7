package traffic

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/normalize"
)

// TelegramName is the Telegram channel's name.
const TelegramName = "telegram"

// TelegramKinds are the kinds the Telegram channel generates, modeled on
// adapters/telegram/testdata/inbound (real updates), all in private chats:
//   - text: a message with text;
//   - command: /start with a deep-link payload, or /help;
//   - callback: a tapped inline-keyboard button (callback_query) under a
//     message the bot sent.
var TelegramKinds = []string{"text", "command", "callback"}

// TelegramSecretHeader carries the webhook's secret_token.
const TelegramSecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// Telegram generates the updates of one bot's webhook, from Users people
// in private chats with it.
//
// Event ids are what adapters/telegram derives: "telegram:{bot id}:
// {update_id}". Update ids start at a per-run offset and only grow, and
// user ids carry a per-run salt, so a run never collides with an earlier
// one against the same store.
type Telegram struct {
	connection string
	botID      string
	secret     []byte
	users      []string // user ids = private chat ids
	base       uint64   // first update_id of the run
	seq        atomic.Uint64
}

// NewTelegram returns the generator of connection for the bot whose token
// is token, sending secretToken. seed makes the run's ids unique; users is
// at most 1e6.
func NewTelegram(connection, token, secretToken string, users int, seed uint64) *Telegram {
	users = min(max(users, 1), 1_000_000)
	botID, _, _ := strings.Cut(token, ":")
	t := &Telegram{
		connection: connection,
		botID:      botID,
		secret:     []byte(secretToken),
		base:       100_000_000 + mix64(seed^0x7e1e)%800_000_000,
		users:      make([]string, users),
	}
	salt := mix64(seed^0x7e1e9a) % 1_000_000
	for i := range t.users {
		// Telegram user ids are below 2^52; these are ~10^12.
		t.users[i] = strconv.FormatUint(1_000_000_000_000+salt*1_000_000+uint64(i), 10)
	}
	return t
}

// Name implements Channel.
func (t *Telegram) Name() string { return TelegramName }

// Path is the webhook route of the connection.
func (t *Telegram) Path() string { return "/webhooks/telegram/" + t.connection }

// Build implements Channel.
func (t *Telegram) Build(w *Webhook, kind string, rnd *rand.Rand) {
	now := time.Now().Unix()
	w.Channel, w.Path, w.Kind = TelegramName, t.Path(), kind
	slot := rnd.IntN(len(t.users))
	user := t.users[slot]
	upd := t.base + t.seq.Add(1)
	b := append(w.Body, `{"update_id":`...)
	b = strconv.AppendUint(b, upd, 10)
	switch kind {
	case "callback":
		b = append(b, `,"callback_query":{"id":"`...)
		b = strconv.AppendUint(b, upd*7919, 16)
		b = append(b, `","from":`...)
		b = t.appendUser(b, user, slot)
		b = append(b, `,"message":{"message_id":`...)
		b = strconv.AppendUint(b, upd%1_000_000, 10)
		b = append(b, `,"from":{"id":`...)
		b = append(b, t.botID...)
		b = append(b, `,"is_bot":true,"first_name":"Bench","username":"bench_bot"},"chat":`...)
		b = t.appendChat(b, user, slot)
		b = append(b, `,"date":`...)
		b = strconv.AppendInt(b, now-5, 10)
		b = append(b, `,"text":"Cancel order A-1043?","reply_markup":{"inline_keyboard":[[{"text":"Yes","callback_data":"c:9f2a"},{"text":"No","callback_data":"n:9f2a"}]]}},"chat_instance":"-3125478965412365478","data":`...)
		b = normalize.AppendString(b, callbackData[rnd.IntN(len(callbackData))])
		b = append(b, '}')
	default:
		b = append(b, `,"message":{"message_id":`...)
		b = strconv.AppendUint(b, upd%1_000_000, 10)
		b = append(b, `,"from":`...)
		b = t.appendUser(b, user, slot)
		b = append(b, `,"chat":`...)
		b = t.appendChat(b, user, slot)
		b = append(b, `,"date":`...)
		b = strconv.AppendInt(b, now, 10)
		b = append(b, `,"text":`...)
		if kind == "command" {
			cmd := commands[rnd.IntN(len(commands))]
			b = normalize.AppendString(b, cmd)
			end, _, _ := strings.Cut(cmd, " ")
			b = append(b, `,"entities":[{"offset":0,"length":`...)
			b = strconv.AppendInt(b, int64(len(end)), 10)
			b = append(b, `,"type":"bot_command"}]`...)
		} else {
			b = normalize.AppendString(b, texts[rnd.IntN(len(texts))])
		}
		b = append(b, '}')
	}
	w.Body = append(b, '}')
	w.Events = append(w.Events, Event{
		ID:   "telegram:" + t.botID + ":" + strconv.FormatUint(upd, 10),
		User: user, OpensWindow: true, slot: slot,
	})
	h := w.addHeader(TelegramSecretHeader)
	h.Value = append(h.Value, t.secret...)
}

// Acked implements Channel: Telegram has no messaging window to track.
func (t *Telegram) Acked(*Webhook) {}

func (t *Telegram) appendUser(b []byte, user string, slot int) []byte {
	b = append(b, `{"id":`...)
	b = append(b, user...)
	b = append(b, `,"is_bot":false,"first_name":`...)
	b = normalize.AppendString(b, names[slot%len(names)])
	return append(b, `,"language_code":"en"}`...)
}

func (t *Telegram) appendChat(b []byte, user string, slot int) []byte {
	b = append(b, `{"id":`...)
	b = append(b, user...)
	b = append(b, `,"first_name":`...)
	b = normalize.AppendString(b, names[slot%len(names)])
	return append(b, `,"type":"private"}`...)
}

var commands = []string{"/start", "/start ref_summer24", "/help"}

var callbackData = []string{"c:9f2a", "n:9f2a", `{"a":"buy","sku":"JKT-0042"}`}
