package traffic

import (
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/normalize"
)

// WhatsAppName is the WhatsApp channel's name.
const WhatsAppName = "whatsapp"

// WhatsAppKinds are the kinds the WhatsApp channel generates, modeled on
// adapters/whatsapp/testdata/inbound (real Cloud API payloads):
//   - text: a text message;
//   - button: a tapped reply button (interactive button_reply);
//   - image: an image with a caption (a media id, as the Cloud API sends);
//   - read: the status "read" of a message the bot sent, only for people
//     whose 24-hour window is open (a reply to it must fall inside it);
//     until one is, it is sent as a text and counted in Substituted.
var WhatsAppKinds = []string{"text", "button", "image", "read"}

// WhatsApp generates the webhooks of one WhatsApp Business Account
// connection with one phone number, from Users people.
//
// Event ids are what adapters/whatsapp derives: "whatsapp:" + the message's
// wamid, and "whatsapp:status:{wamid}:{status}" for statuses. Wamids and
// phone numbers carry per-run values, so a run never collides with an
// earlier one against the same store.
type WhatsApp struct {
	connection string
	waba       string
	phoneID    string
	users      []string // wa_ids
	run        string
	seq        atomic.Uint64
	open       // reads go to open windows only (Substituted counts the rest)
	signer     hmacSigner
}

// NewWhatsApp returns the generator of connection (business account waba,
// phone number phoneID), signing with appSecret. seed makes the run's ids
// unique; users is at most 1e6.
func NewWhatsApp(connection string, appSecret []byte, waba, phoneID string, users int, seed uint64) *WhatsApp {
	users = min(max(users, 1), 1_000_000)
	w := &WhatsApp{
		connection: connection,
		waba:       waba,
		phoneID:    phoneID,
		users:      make([]string, users),
		run:        strconv.FormatUint(mix64(seed^0x3a11)%(1<<40), 36),
		open:       newOpen(users),
		signer:     newMetaSigner(appSecret),
	}
	salt := mix64(seed^0x3a11a9) % 10_000
	for i := range w.users {
		// E.164 digits without "+", as wa_id: 1 and 14 digits.
		w.users[i] = strconv.FormatUint(100_000_000_000_000+salt*1_000_000_000+uint64(i), 10)
	}
	return w
}

// Name implements Channel.
func (g *WhatsApp) Name() string { return WhatsAppName }

// Path is the webhook route of the connection.
func (g *WhatsApp) Path() string { return "/webhooks/whatsapp/" + g.connection }

// Build implements Channel.
func (g *WhatsApp) Build(w *Webhook, kind string, rnd *rand.Rand) {
	now := time.Now().Unix()
	w.Channel, w.Path = WhatsAppName, g.Path()
	kind, slot := g.pick(kind, kind == "read", rnd)
	w.Kind = kind
	user := g.users[slot]
	seq := g.seq.Add(1)
	b := append(w.Body, `{"object":"whatsapp_business_account","entry":[{"id":"`...)
	b = append(b, g.waba...)
	b = append(b, `","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"`...)
	b = append(b, g.phoneID...)
	b = append(b, `"},`...)
	ev := Event{User: user, OpensWindow: true, slot: slot}
	var buf [64]byte
	if kind == "read" {
		wamid := g.appendWamid(buf[:0], "out", seq)
		ev.ID, ev.OpensWindow = "whatsapp:status:"+string(wamid)+":read", false
		b = append(b, `"statuses":[{"id":"`...)
		b = append(b, wamid...)
		b = append(b, `","status":"read","timestamp":"`...)
		b = strconv.AppendInt(b, now, 10)
		b = append(b, `","recipient_id":"`...)
		b = append(b, user...)
		b = append(b, `"}]`...)
	} else {
		wamid := g.appendWamid(buf[:0], "in", seq)
		ev.ID = "whatsapp:" + string(wamid)
		b = append(b, `"contacts":[{"profile":{"name":`...)
		b = normalize.AppendString(b, names[slot%len(names)])
		b = append(b, `},"wa_id":"`...)
		b = append(b, user...)
		b = append(b, `"}],"messages":[{"from":"`...)
		b = append(b, user...)
		b = append(b, `","id":"`...)
		b = append(b, wamid...)
		b = append(b, `","timestamp":"`...)
		b = strconv.AppendInt(b, now, 10)
		switch kind {
		case "button":
			qr := quickReplies[rnd.IntN(len(quickReplies))]
			b = append(b, `","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":`...)
			b = normalize.AppendString(b, qr[1])
			b = append(b, `,"title":`...)
			b = normalize.AppendString(b, qr[0])
			b = append(b, `}},"context":{"from":"15550783881","id":"`...)
			b = g.appendWamid(b, "out", seq)
			b = append(b, `"}}]`...)
		case "image":
			b = append(b, `","type":"image","image":{"caption":"this one, in blue","mime_type":"image/jpeg","sha256":"1wRnTm1Kb5xL8Yx2hG0pvdDqk1JmQb8d8VfJfJxQ9sQ=","id":"`...)
			b = strconv.AppendUint(b, 1_000_000_000_000_000+seq, 10)
			b = append(b, `"}}]`...)
		default: // text
			b = append(b, `","type":"text","text":{"body":`...)
			b = normalize.AppendString(b, texts[rnd.IntN(len(texts))])
			b = append(b, `}}]`...)
		}
	}
	w.Body = append(b, `},"field":"messages"}]}]}`...)
	w.Events = append(w.Events, ev)
	g.signer.sign(w)
}

// Acked implements Channel: people who wrote now have an open window.
func (g *WhatsApp) Acked(w *Webhook) { g.acked(w) }

// appendWamid appends a wamid of the run: "wamid." and a base64-looking
// body as long as the Cloud API's.
func (g *WhatsApp) appendWamid(b []byte, dir string, seq uint64) []byte {
	b = append(b, "wamid.HBgL"...)
	b = append(b, g.run...)
	b = append(b, dir...)
	var d [20]byte
	s := strconv.AppendUint(d[:0], seq, 10)
	for range 12 - len(s) {
		b = append(b, '0')
	}
	b = append(b, s...)
	return append(b, "AA=="...)
}

var names = []string{"Kerry Fisher", "Ana Souza", "Rahul Mehta", "Chen Wei", "Fatima Zahra", "Olu Ade"}
