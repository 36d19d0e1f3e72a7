package traffic

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/normalize"
)

// MessengerName is the Messenger channel's name.
const MessengerName = "messenger"

// InstagramName is the Instagram channel's name.
const InstagramName = "instagram"

// InstagramKinds are the kinds the Instagram channel generates: Messenger's
// envelope and kinds (adapters/instagram/testdata/inbound), without the
// ones Instagram never sends (NLP, delivery receipts); its read receipt
// names the mid that was seen instead of a watermark.
var InstagramKinds = []string{"text", "quick_reply", "postback", "attachment", "read", "batch"}

// MessengerKinds are the kinds the Messenger channel generates, modeled
// on adapters/messenger/testdata/inbound (real payloads):
//   - text: a message with text;
//   - text_nlp: the same with Meta's built-in NLP block (about 1 KB);
//   - quick_reply: a tapped quick reply (text + payload);
//   - postback: a button press (title + payload, with a mid);
//   - attachment: an image attachment;
//   - read, delivery: receipts for a person already talking to the Page;
//   - batch: one POST carrying one entry per Page (up to two), each with
//     one to three messages and sometimes a read, as Meta batches them.
var MessengerKinds = []string{"text", "text_nlp", "quick_reply", "postback", "attachment", "read", "delivery", "batch"}

// SignatureHeader is the header Meta signs webhooks in.
const SignatureHeader = "X-Hub-Signature-256"

// Messenger generates webhooks of one Messenger connection serving Pages,
// with Users people spread over them.
//
// Event ids are what adapters/messenger derives (its README, "Event ids"):
// "messenger:" + mid for messages and postbacks, and
// "messenger:{read|delivery}:{page}:{psid}:{watermark}" for receipts. Mids
// and watermarks are unique per run, and PSIDs carry a per-run salt, so a
// run never collides with an earlier one against the same store.
type Messenger struct {
	name       string // MessengerName or InstagramName
	object     string // "page" or "instagram"
	connection string
	pages      []string
	users      []string // PSIDs; user i talks to pages[i%len(pages)]
	run        string   // unique per run, in every mid
	midTail    string   // pads mids to the length Meta's have
	epochMS    int64    // base of watermarks

	seq atomic.Uint64
	open
	signer hmacSigner
}

// NewMessenger returns the generator of connection, signing with
// appSecret. seed makes the run's ids unique; users is at most 1e6.
func NewMessenger(connection string, appSecret []byte, pages []string, users int, seed uint64) *Messenger {
	users = min(max(users, 1), 1_000_000)
	m := &Messenger{
		name:       MessengerName,
		object:     "page",
		connection: connection,
		pages:      append([]string(nil), pages...),
		run:        strconv.FormatUint(mix64(seed^0xb5ad4eceda1ce2a9)%(36*36*36*36*36*36), 36),
		epochMS:    time.Now().UnixMilli(),
		open:       newOpen(users),
		signer:     newMetaSigner(appSecret),
	}
	for len(m.run) < 6 {
		m.run = "0" + m.run
	}
	salt := mix64(seed) % 1_000_000_000
	m.users = make([]string, users)
	for i := range m.users {
		m.users[i] = strconv.FormatUint(7_000_000_000_000_000+salt*1_000_000+uint64(i), 10)
	}
	tail := make([]byte, 0, 72)
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
	for len(tail) < cap(tail) {
		tail = append(tail, alphabet[r.IntN(len(alphabet))])
	}
	m.midTail = string(tail)
	return m
}

// NewInstagram returns the generator of an Instagram connection serving
// accounts (Instagram professional account ids), with NewMessenger's
// arguments otherwise. Event ids are what adapters/instagram derives:
// "instagram:" + mid, and "instagram:read:{account}:{igsid}:{mid}".
func NewInstagram(connection string, appSecret []byte, accounts []string, users int, seed uint64) *Messenger {
	m := NewMessenger(connection, appSecret, accounts, users, seed^0x1a57a)
	m.name, m.object = InstagramName, "instagram"
	return m
}

// mix64 is SplitMix64's finalizer: nearby seeds give unrelated values.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Name implements Channel.
func (m *Messenger) Name() string { return m.name }

// Path is the webhook route of the connection.
func (m *Messenger) Path() string { return "/webhooks/" + m.name + "/" + m.connection }

// Users returns the PSIDs the generator uses.
func (m *Messenger) Users() []string { return m.users }

// Build implements Channel.
func (m *Messenger) Build(w *Webhook, kind string, rnd *rand.Rand) {
	now := time.Now().UnixMilli()
	w.Channel, w.Path = m.name, m.Path()
	b := append(w.Body, `{"object":"`...)
	b = append(b, m.object...)
	b = append(b, `","entry":[`...)
	if kind == "batch" {
		b = m.batch(w, b, rnd, now)
	} else {
		var slot int
		kind, slot = m.pick(kind, kind == "read" || kind == "delivery", rnd)
		page := m.pages[slot%len(m.pages)]
		b = m.entryStart(b, page, now)
		b = m.item(w, b, kind, page, slot, rnd, now)
		b = append(b, "]}"...)
	}
	w.Kind = kind
	w.Body = append(b, "]}"...)
	m.sign(w)
}

// Acked implements Channel: people who acted now have an open window.
func (m *Messenger) Acked(w *Webhook) { m.acked(w) }

// open tracks the people whose messaging window is open: receipts are
// only built for them.
type open struct {
	opened   []atomic.Bool
	openList []atomic.Int32 // slot+1 of each opened user, in order
	openN    atomic.Int64

	// Substituted counts receipts built as texts because no window was
	// open yet (the first moments of a run).
	Substituted atomic.Uint64
}

func newOpen(users int) open {
	return open{opened: make([]atomic.Bool, users), openList: make([]atomic.Int32, users)}
}

// acked records the people whose events in w opened their window.
func (o *open) acked(w *Webhook) {
	for _, ev := range w.Events {
		if ev.OpensWindow && !o.opened[ev.slot].Swap(true) {
			i := o.openN.Add(1) - 1
			o.openList[i].Store(int32(ev.slot) + 1)
		}
	}
}

// pick chooses who sends a webhook of kind: for a receipt, someone whose
// window is open; with none open yet, the receipt is built as a text
// (counted in Substituted) by anyone. It returns the kind to build.
func (o *open) pick(kind string, receipt bool, rnd *rand.Rand) (string, int) {
	if receipt {
		if slot := o.openUser(rnd); slot >= 0 {
			return kind, slot
		}
		o.Substituted.Add(1)
		kind = "text"
	}
	return kind, rnd.IntN(len(o.opened))
}

// openUser picks a person whose window is open, or -1.
func (o *open) openUser(rnd *rand.Rand) int {
	n := o.openN.Load()
	if n == 0 {
		return -1
	}
	return int(o.openList[rnd.Int64N(n)].Load()) - 1 // 0 while being stored: -1
}

// batch writes one entry per Page (up to two), each with one to three
// person actions and, half the time, a read by the last of them.
func (m *Messenger) batch(w *Webhook, b []byte, rnd *rand.Rand, now int64) []byte {
	kinds := [...]string{"text", "text", "quick_reply", "postback"}
	np := min(2, len(m.pages))
	first := rnd.IntN(len(m.pages))
	for e := range np {
		p := (first + e) % len(m.pages)
		if e > 0 {
			b = append(b, ',')
		}
		b = m.entryStart(b, m.pages[p], now)
		n := 1 + rnd.IntN(3)
		slot := 0
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			slot = m.userOf(p, rnd)
			b = m.item(w, b, kinds[rnd.IntN(len(kinds))], m.pages[p], slot, rnd, now)
		}
		if rnd.IntN(2) == 0 {
			b = append(b, ',')
			b = m.item(w, b, "read", m.pages[p], slot, rnd, now)
		}
		b = append(b, "]}"...)
	}
	return b
}

// userOf picks a person of page index p.
func (m *Messenger) userOf(p int, rnd *rand.Rand) int {
	np := len(m.pages)
	n := (len(m.users) - p + np - 1) / np
	if n <= 0 {
		return rnd.IntN(len(m.users))
	}
	return p + np*rnd.IntN(n)
}

func (m *Messenger) entryStart(b []byte, page string, now int64) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, page...)
	b = append(b, `","time":`...)
	b = strconv.AppendInt(b, now, 10)
	return append(b, `,"messaging":[`...)
}

// item writes one messaging[] item of kind from user slot and records
// its event.
func (m *Messenger) item(w *Webhook, b []byte, kind, page string, slot int, rnd *rand.Rand, now int64) []byte {
	psid := m.users[slot]
	seq := m.seq.Add(1)
	b = append(b, `{"sender":{"id":"`...)
	b = append(b, psid...)
	b = append(b, `"},"recipient":{"id":"`...)
	b = append(b, page...)
	b = append(b, `"},"timestamp":`...)
	b = strconv.AppendInt(b, now, 10)
	ev := Event{User: psid, OpensWindow: true, slot: slot}
	switch {
	case kind == "read" && m.name == InstagramName:
		var buf [32]byte
		seen := append(append(append(buf[:0], "aWdf_seen_"...), m.run...), '_')
		seen = strconv.AppendUint(seen, seq, 10)
		ev.OpensWindow = false
		ev.ID = InstagramName + ":read:" + page + ":" + psid + ":" + string(seen)
		b = append(b, `,"read":{"mid":"`...)
		b = append(b, seen...)
		b = append(b, `"}}`...)
	case kind == "read" || kind == "delivery":
		wm := m.epochMS + int64(seq)
		ev.OpensWindow = false
		ev.ID = m.name + ":" + kind + ":" + page + ":" + psid + ":" + strconv.FormatInt(wm, 10)
		b = append(b, `,"`...)
		b = append(b, kind...)
		b = append(b, `":{`...)
		if kind == "delivery" {
			b = append(b, `"mids":["m_out_`...)
			b = append(b, m.run...)
			b = append(b, '_')
			b = strconv.AppendUint(b, seq, 10)
			b = append(b, `"],`...)
		}
		b = append(b, `"watermark":`...)
		b = strconv.AppendInt(b, wm, 10)
		b = append(b, "}}"...)
	default:
		var buf [128]byte
		mid := m.appendMid(buf[:0], seq)
		ev.ID = m.name + ":" + string(mid)
		switch kind {
		case "postback":
			pb := postbacks[rnd.IntN(len(postbacks))]
			b = append(b, `,"postback":{"mid":"`...)
			b = append(b, mid...)
			b = append(b, `","title":`...)
			b = normalize.AppendString(b, pb[0])
			b = append(b, `,"payload":`...)
			b = normalize.AppendString(b, pb[1])
			b = append(b, "}}"...)
		default:
			b = append(b, `,"message":{"mid":"`...)
			b = append(b, mid...)
			b = append(b, '"')
			switch kind {
			case "quick_reply":
				qr := quickReplies[rnd.IntN(len(quickReplies))]
				b = append(b, `,"text":`...)
				b = normalize.AppendString(b, qr[0])
				b = append(b, `,"quick_reply":{"payload":`...)
				b = normalize.AppendString(b, qr[1])
				b = append(b, '}')
			case "attachment":
				b = append(b, `,"attachments":[{"type":"image","payload":{"url":"https:\/\/scontent.xx.fbcdn.net\/v\/t1.15752-9\/`...)
				b = strconv.AppendUint(b, seq, 10)
				b = append(b, `_n.jpg?_nc_cat=1&ccb=1-7&_nc_sid=fc17b8&oh=03_Q7cD1QF&oe=6A0B"}}]`...)
			case "text_nlp":
				b = append(b, `,"text":`...)
				b = normalize.AppendString(b, texts[rnd.IntN(len(texts))])
				b = append(b, nlpBlock...)
			default: // text
				b = append(b, `,"text":`...)
				b = normalize.AppendString(b, texts[rnd.IntN(len(texts))])
			}
			b = append(b, "}}"...)
		}
	}
	w.Events = append(w.Events, ev)
	return b
}

// appendMid appends a mid as long as Meta's (about 90 characters).
func (m *Messenger) appendMid(b []byte, seq uint64) []byte {
	b = append(b, "m_"...)
	b = append(b, m.run...)
	b = append(b, '_')
	var d [20]byte
	s := strconv.AppendUint(d[:0], seq, 10)
	for range 10 - len(s) {
		b = append(b, '0')
	}
	b = append(b, s...)
	b = append(b, '_')
	return append(b, m.midTail...)
}

// sign sets X-Hub-Signature-256 over the body.
func (m *Messenger) sign(w *Webhook) { m.signer.sign(w) }

// hmacSigner sets header to prefix + the hex HMAC-SHA256 of the body,
// with pooled keyed HMACs: Meta's X-Hub-Signature-256 ("sha256=") and
// Viber's X-Viber-Content-Signature (no prefix).
type hmacSigner struct {
	macs           *sync.Pool
	header, prefix string
}

func newHMACSigner(key []byte, header, prefix string) hmacSigner {
	key = append([]byte(nil), key...)
	return hmacSigner{macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}, header: header, prefix: prefix}
}

// newMetaSigner signs as Meta does, with the app secret.
func newMetaSigner(appSecret []byte) hmacSigner {
	return newHMACSigner(appSecret, SignatureHeader, "sha256=")
}

func (s hmacSigner) sign(w *Webhook) {
	mac := s.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(w.Body)
	var sum [sha256.Size]byte
	h := w.addHeader(s.header)
	h.Value = append(h.Value, s.prefix...)
	h.Value = hex.AppendEncode(h.Value, mac.Sum(sum[:0]))
	s.macs.Put(mac)
}

var texts = []string{
	"hi",
	"Hello!",
	"What are your opening hours?",
	"Is my order #4521 on its way?",
	"Can I change the delivery address to 22 Baker Street?",
	"I'd like to talk to a person please",
	"thanks 🙏",
	"¿Tienen envío a Madrid?",
	"Merci beaucoup, à demain !",
	"The app keeps crashing when I open the cart on my iPhone, I already reinstalled it twice. Can someone help?",
	"ok",
	"Do you have this jacket in size M, in navy or black?",
	"Wie lange dauert die Lieferung nach Österreich?",
	"price?",
	"Can I return an item I bought in store online? I lost the receipt but I paid by card.",
	"😂😂",
}

var quickReplies = [][2]string{
	{"Red", "COLOR_RED"}, {"Yes", "CONFIRM_YES"}, {"No thanks", "CONFIRM_NO"},
	{"Track my order", "MENU_TRACK"}, {"Size M", "SIZE_M"},
}

var postbacks = [][2]string{
	{"Get Started", "GET_STARTED"}, {"Talk to agent", "AGENT"}, {"Menu", "MENU"},
	{"Buy now", `{"action":"buy","sku":"JKT-0042"}`},
}

// nlpBlock is Meta's built-in NLP annotation (text_with_nlp.json), closed
// with the message object it sits in.
const nlpBlock = `,"nlp":{"intents":[{"id":"759237218516745","name":"opening_hours","confidence":0.9712}],` +
	`"entities":{"wit$datetime:datetime":[{"id":"1178483649263426","name":"wit$datetime","role":"datetime","start":29,"end":43,` +
	`"body":"tomorrow at 9am","confidence":0.9438,"entities":[],"type":"value","grain":"hour","value":"2024-06-11T09:00:00.000+00:00"}],` +
	`"wit$number:number":[{"id":"893027204729273","name":"wit$number","role":"number","start":69,"end":73,"body":"4521",` +
	`"confidence":0.9912,"entities":[],"type":"value","value":4521}]},"traits":{"wit$sentiment":[{"id":"5ac2b50a-44e4-466e-9d49-bad6bd40092c",` +
	`"value":"neutral","confidence":0.5412}],"wit$greetings":[{"id":"5900cc2d-41b7-45b2-b21f-b950d3ae3c5c","value":"true","confidence":0.9987}]},` +
	`"detected_locales":[{"locale":"en_XX","confidence":0.9871}]}`
