package traffic

import (
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/normalize"
)

// ViberName is the Viber channel's name.
const ViberName = "viber"

// ViberKinds are the kinds the Viber channel generates, modeled on
// adapters/viber/testdata/inbound (real callbacks):
//   - text: a text message;
//   - picture: a picture with a caption;
//   - seen: a "seen" receipt, only from people who already wrote (until
//     one has, it is sent as a text and counted in Substituted).
var ViberKinds = []string{"text", "picture", "seen"}

// ViberSignatureHeader carries the hex HMAC-SHA256 of the body keyed with
// the bot's auth token.
const ViberSignatureHeader = "X-Viber-Content-Signature"

// Viber generates the callbacks of one Viber bot from Users people.
//
// Event ids are what adapters/viber derives: "viber:message:{user}:
// {message_token}" and "viber:seen:{user}:{message_token}". Message tokens
// start at a per-run offset and user ids (base64 of 16 bytes, with the +,
// / and = real ones have) carry a per-run salt, so a run never collides
// with an earlier one against the same store.
type Viber struct {
	connection string
	users      []string
	base       uint64 // first message_token of the run
	seq        atomic.Uint64
	open       // seen receipts come from people who wrote (Substituted counts the rest)
	signer     hmacSigner
}

// NewViber returns the generator of connection, signing with the bot's
// authToken. seed makes the run's ids unique; users is at most 1e6.
func NewViber(connection, authToken string, users int, seed uint64) *Viber {
	users = min(max(users, 1), 1_000_000)
	v := &Viber{
		connection: connection,
		users:      make([]string, users),
		// Real tokens are 64-bit and above 2^53: keep them so, exactly.
		base:   5_700_000_000_000_000_000 + mix64(seed^0x71be)%100_000_000_000_000_000,
		open:   newOpen(users),
		signer: newHMACSigner([]byte(authToken), ViberSignatureHeader, ""),
	}
	salt := mix64(seed ^ 0x71be5a)
	var raw [16]byte
	for i := range v.users {
		binary.BigEndian.PutUint64(raw[:8], salt)
		binary.BigEndian.PutUint64(raw[8:], mix64(uint64(i))^0xfbff)
		v.users[i] = base64.StdEncoding.EncodeToString(raw[:])
	}
	return v
}

// Name implements Channel.
func (v *Viber) Name() string { return ViberName }

// Path is the webhook route of the connection.
func (v *Viber) Path() string { return "/webhooks/viber/" + v.connection }

// Build implements Channel.
func (v *Viber) Build(w *Webhook, kind string, rnd *rand.Rand) {
	now := time.Now().UnixMilli()
	w.Channel, w.Path = ViberName, v.Path()
	kind, slot := v.pick(kind, kind == "seen", rnd)
	w.Kind = kind
	user := v.users[slot]
	token := strconv.FormatUint(v.base+v.seq.Add(1), 10)
	ev := Event{User: user, OpensWindow: true, slot: slot}
	b := append(w.Body, `{"event":"`...)
	if kind == "seen" {
		ev.ID, ev.OpensWindow = "viber:seen:"+user+":"+token, false
		b = append(b, `seen","timestamp":`...)
		b = strconv.AppendInt(b, now, 10)
		b = append(b, `,"chat_hostname":"SN-CHAT-05_","message_token":`...)
		b = append(b, token...)
		b = append(b, `,"user_id":`...)
		b = normalize.AppendString(b, user)
		b = append(b, '}')
	} else {
		ev.ID = "viber:message:" + user + ":" + token
		b = append(b, `message","timestamp":`...)
		b = strconv.AppendInt(b, now, 10)
		b = append(b, `,"chat_hostname":"SN-CHAT-05_","message_token":`...)
		b = append(b, token...)
		b = append(b, `,"sender":{"id":`...)
		b = normalize.AppendString(b, user)
		b = append(b, `,"name":`...)
		b = normalize.AppendString(b, names[slot%len(names)])
		b = append(b, `,"country":"UA","language":"uk","api_version":10},"message":{"type":`...)
		if kind == "picture" {
			b = append(b, `"picture","text":"the damaged box","media":"https://dl-media.viber.com/1/share/2/long/vibes/icon/image/0x0/95e0/`...)
			b = append(b, token...)
			b = append(b, `.jpg","thumbnail":"https://dl-media.viber.com/thumb.jpg","file_name":"IMG_0042.jpg","file_size":184320}`...)
		} else {
			b = append(b, `"text","text":`...)
			b = normalize.AppendString(b, texts[rnd.IntN(len(texts))])
			b = append(b, '}')
		}
		b = append(b, `,"silent":false}`...)
	}
	w.Body = b
	w.Events = append(w.Events, ev)
	v.signer.sign(w)
}

// Acked implements Channel: people who wrote may be sent receipts.
func (v *Viber) Acked(w *Webhook) { v.acked(w) }
