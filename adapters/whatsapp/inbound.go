package whatsapp

import (
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/normalize"
)

var (
	_ adapters.Inbound    = (*Adapter)(nil)
	_ adapters.Handshaker = (*Adapter)(nil)
)

// Object is the webhook object of the WhatsApp Business Account.
const Object = "whatsapp_business_account"

// Verify checks X-Hub-Signature-256 over the raw body with the app secret
// (channels/meta.md §2), through meta.Signer: allocation-free once warm.
func (a *Adapter) Verify(h adapters.Peeker, body []byte) error {
	return a.Signature.Verify(h, body)
}

// Handshake answers Meta's hub.challenge verification GET.
func (a *Adapter) Handshake(q adapters.Peeker) ([]byte, error) {
	return meta.Handshake(a.VerifyToken, q)
}

// Parse appends the canonical events of a WhatsApp webhook to dst: for
// every entry, every change, one event per value.messages[] item, then one
// per value.statuses[] item, then one for value.errors[] when present; a
// change of another field (template or account updates…) is one unknown
// event. Order is Meta's. README.md has the mapping.
//
// A body it cannot read is refused whole with an *adapters.InputError and
// dst comes back unchanged. Message types and fields it does not know
// become TypeUnknown events or are ignored, never errors.
//
// Memory: the events never alias body. The strings of one call share one
// allocation, the metadata a second and the attachments and locations a
// third and fourth, so a text webhook costs one allocation.
//
// Ids are the dedup keys of channels/meta.md §3, derived from the payload
// alone: "whatsapp:" + wamid for a message, "whatsapp:status:" + wamid +
// ":" + status for a status (a message has one event per status). An exact
// repeat in one POST shares the id; within one POST, two events whose
// content differs never do (see distinctIDs).
func (a *Adapter) Parse(dst []normalize.Event, body []byte) ([]normalize.Event, error) {
	w := getWalker()
	defer putWalker(w, len(body))
	err := w.walk(body)
	if err == nil {
		dst = w.events(dst, a.Connection)
	}
	return dst, err
}

// The codes of the *adapters.InputError Parse returns: not JSON, a field
// of the wrong JSON type, a required field missing, a webhook of another
// object.
const (
	errMalformed, errType, errMissing, errObject = "malformed_json", "wrong_type", "missing_field", "unknown_object"
)

// ref is a part of the walker's string arena or metadata buffer.
type ref struct{ off, end int32 }

// pending is an event whose strings still point into the arena, which
// becomes one string once the whole body has been read.
type pending struct {
	typ                                    normalize.EventType
	id, native, bot, channel, path         ref
	name, username, text, payload, replyTo ref
	placeName, placeAddress                ref
	md                                     ref
	at                                     time.Time
	media, place                           int  // index+1 in walker.media / walker.places; 0 for none
	sender                                 bool // the person acted: Sender is filled
}

type pendingMedia struct {
	typ                          string // canonical attachment type, a constant
	id, mime, name, caption, url ref
}

// walker reads one body. It is pooled with its fastjson parser, so a warm
// Parse allocates only what it returns.
type walker struct {
	fj     fastjson.Parser
	arena  []byte
	md     []byte
	out    []pending
	media  []pendingMedia
	places []normalize.Location

	mdStart int // where the metadata of the event being read starts in md

	// The value being read: its phone number id (in the arena) and the
	// contacts[] that name the senders of its messages.
	bot      ref
	contacts []*fastjson.Value

	// Where the walk is, for errors: entry[e].changes[c].value.<list>[i].
	entry, change, item int
	list, scope         string
}

// walkers pools walkers with their parser. A walker that read more than
// keepBelow bytes is not pooled: the fastjson parser holds a copy of the
// body, and one large webhook should not pin that much memory per P.
var walkers = sync.Pool{New: func() any { return new(walker) }}

const keepBelow = 64 << 10

func getWalker() *walker { return walkers.Get().(*walker) }

func putWalker(w *walker, bodyLen int) {
	if max(bodyLen, cap(w.arena), cap(w.md)) > keepBelow || cap(w.out) > 1024 {
		return
	}
	w.reset()
	walkers.Put(w)
}

// reset empties w for the next body, keeping its capacity and dropping
// its references into the last one.
func (w *walker) reset() {
	w.arena, w.md, w.out = w.arena[:0], w.md[:0], w.out[:0]
	w.media, w.places = w.media[:0], w.places[:0]
	clear(w.contacts[:cap(w.contacts)])
	w.contacts = w.contacts[:0]
}

func (w *walker) walk(body []byte) error {
	w.entry, w.change, w.item, w.list, w.scope = -1, -1, -1, "", ""
	// fastjson checks the structure, not the syntax of numbers nor the
	// escapes inside strings. Every number Parse reads or copies is checked
	// (number), and every string is re-encoded by normalize.AppendString,
	// so events are valid JSON whatever the unread parts of body hold.
	root, err := w.fj.ParseBytes(body)
	if err != nil {
		return adapters.Inputf(errMalformed, "%v", err)
	}
	if root.Type() != fastjson.TypeObject {
		return w.typeErr("", "object", root)
	}
	obj, err := w.text(root, "object")
	if err != nil {
		return err
	}
	if string(obj) != Object {
		if obj == nil {
			return adapters.Inputf(errObject, "object: missing, want %q", Object)
		}
		return adapters.Inputf(errObject, "object: %q is not a WhatsApp webhook, want %q", obj[:min(len(obj), 64)], Object)
	}
	entries, err := w.array(root, "entry")
	if err != nil {
		return err
	}
	for i, e := range entries {
		w.entry, w.change = i, -1
		if e.Type() != fastjson.TypeObject {
			return w.typeErr("", "object", e)
		}
		waba, err := w.text(e, "id")
		if err != nil {
			return err
		}
		changes, err := w.array(e, "changes")
		if err != nil {
			return err
		}
		for j, c := range changes {
			w.change = j
			if err := w.changeItem(c, waba); err != nil {
				return err
			}
		}
	}
	return nil
}

// changeItem reads one entry.changes[] item: a "messages" change holds
// chat traffic; any other field becomes one unknown event.
func (w *walker) changeItem(c *fastjson.Value, waba []byte) error {
	w.list, w.item, w.scope = "", -1, ""
	if c.Type() != fastjson.TypeObject {
		return w.typeErr("", "object", c)
	}
	field, err := w.text(c, "field")
	if err != nil {
		return err
	}
	value, err := w.object(c, "value")
	if err != nil || value == nil {
		return err
	}
	w.scope = "value"
	defer func() { w.scope = "" }()
	md, err := w.object(value, "metadata")
	if err != nil {
		return err
	}
	var phone []byte
	if md != nil {
		w.scope = "value.metadata"
		if phone, err = w.text(md, "phone_number_id"); err != nil {
			return err
		}
		w.scope = "value"
	}
	if field != nil && string(field) != "messages" {
		return w.otherChange(field, waba, phone, value)
	}

	messages, err := w.array(value, "messages")
	if err != nil {
		return err
	}
	statuses, err := w.array(value, "statuses")
	if err != nil {
		return err
	}
	errs, err := w.array(value, "errors")
	if err != nil {
		return err
	}
	if len(messages)+len(statuses)+len(errs) == 0 {
		return nil // contacts alone, or nothing: no event
	}
	if len(phone) == 0 {
		return adapters.Inputf(errMissing, "%s: required (the bot's phone_number_id)", w.at("metadata.phone_number_id"))
	}
	w.bot = w.keep(phone)
	contacts, err := w.array(value, "contacts")
	if err != nil {
		return err
	}
	w.contacts = append(w.contacts[:0], contacts...)
	for _, ct := range w.contacts {
		if ct.Type() != fastjson.TypeObject {
			return w.typeErr("contacts[]", "object", ct)
		}
	}

	w.list = "messages"
	for i, m := range messages {
		w.item = i
		if err := w.message(m); err != nil {
			return err
		}
	}
	w.list = "statuses"
	for i, s := range statuses {
		w.item = i
		if err := w.status(s); err != nil {
			return err
		}
	}
	w.list, w.item, w.scope = "", -1, "value"
	if len(errs) > 0 {
		return w.valueErrors(value.Get("errors"))
	}
	return nil
}

// ---- messages ----

// message reads one value.messages[] item.
func (w *walker) message(m *fastjson.Value) error {
	w.scope = ""
	if m.Type() != fastjson.TypeObject {
		return w.typeErr("", "object", m)
	}
	from, err := w.text(m, "from")
	if err != nil {
		return err
	}
	userID, err := w.text(m, "from_user_id")
	if err != nil {
		return err
	}
	person := from
	if len(person) == 0 {
		person = userID
	}
	if len(person) == 0 {
		return adapters.Inputf(errMissing, "%s: required (or from_user_id)", w.at("from"))
	}
	var p pending
	w.address(&p, person)
	p.sender = true
	if p.at, err = w.time(m, "timestamp"); err != nil {
		return err
	}
	wamid, err := w.text(m, "id")
	if err != nil {
		return err
	}
	if len(wamid) > 0 {
		w.nativeID(&p, prefix, wamid, "")
	} else {
		w.syntheticID(&p, "message", person, p.at)
	}
	typ, err := w.text(m, "type")
	if err != nil {
		return err
	}
	contact := w.contactOf(from, userID)

	w.beginMeta()
	if err := w.content(&p, m, typ); err != nil {
		return err
	}
	if err := w.common(&p, m, from, userID, contact); err != nil {
		return err
	}
	p.md = w.endMeta()
	w.out = append(w.out, p)
	return nil
}

// Canonical attachment type of each media message type.
var mediaTypes = map[string]string{
	"image":    "image",
	"video":    "video",
	"audio":    "audio",
	"document": "file",
	"sticker":  "sticker",
}

// objectTypes are the message types whose content is an object keyed by
// the type's name.
var objectTypes = map[string]bool{
	"text": true, "image": true, "video": true, "audio": true, "document": true, "sticker": true,
	"location": true, "interactive": true, "button": true, "reaction": true,
	"order": true, "system": true, "unsupported": true, "unknown": true,
}

// content maps the body keyed by the message's type.
func (w *walker) content(p *pending, m *fastjson.Value, typ []byte) error {
	t := adapters.View(typ) // a view of the parser's memory, read while parsing only
	var body *fastjson.Value
	if objectTypes[t] {
		var err error
		if body, err = w.object(m, t); err != nil {
			return err
		}
	}
	w.scope = t
	defer func() { w.scope = "" }()
	switch t {
	case "text":
		p.typ = normalize.TypeText
		if body != nil {
			return w.keepField(&p.text, body, "body")
		}
		return nil
	case "image", "video", "audio", "document", "sticker":
		return w.mediaMessage(p, body, mediaTypes[t])
	case "location":
		return w.location(p, body)
	case "contacts":
		p.typ = normalize.TypeContact
		if list := m.Get("contacts"); present(list) {
			if list.Type() != fastjson.TypeArray {
				return w.typeErr("", "array", list)
			}
			w.scope = ""
			return w.metaCopy("contacts", list, "contacts")
		}
		return nil
	case "interactive":
		return w.interactive(p, body)
	case "button":
		// A quick-reply button of a template message.
		p.typ = normalize.TypeQuickReply
		w.metaString("reply", "button")
		if body == nil {
			return nil
		}
		if err := w.keepField(&p.text, body, "text"); err != nil {
			return err
		}
		return w.keepField(&p.payload, body, "payload")
	case "reaction":
		return w.reaction(p, body)
	case "request_welcome":
		p.typ = normalize.TypeConversationStarted
		return nil
	case "order", "system":
		p.typ = normalize.TypeUnknown
		w.metaString("kind", t)
		if body == nil {
			return nil
		}
		field := "text"
		if t == "system" {
			field = "body"
		}
		if err := w.keepField(&p.text, body, field); err != nil {
			return err
		}
		return w.metaCopy("data", body, "")
	case "unsupported", "unknown":
		p.typ = normalize.TypeUnknown
		w.metaString("kind", "unsupported")
		if body != nil {
			return w.metaCopy("data", body, "")
		}
		return nil
	}
	// A type this adapter does not know yet: kept, with its body.
	p.typ = normalize.TypeUnknown
	if t == "" {
		t = "message"
	}
	w.metaString("kind", t)
	if v := m.Get(t); present(v) && len(typ) > 0 {
		w.scope = ""
		return w.metaCopy("data", v, t)
	}
	return nil
}

func (w *walker) mediaMessage(p *pending, body *fastjson.Value, canonical string) error {
	p.typ = normalize.TypeAttachment
	pm := pendingMedia{typ: canonical}
	if body == nil {
		w.media = append(w.media, pm)
		p.media = len(w.media)
		return nil
	}
	for _, f := range [...]struct {
		key string
		dst *ref
	}{{"id", &pm.id}, {"mime_type", &pm.mime}, {"caption", &pm.caption}, {"filename", &pm.name}, {"url", &pm.url}} {
		if err := w.keepField(f.dst, body, f.key); err != nil {
			return err
		}
	}
	p.text = pm.caption // the caption is the message's text too
	w.media = append(w.media, pm)
	p.media = len(w.media)
	sha, err := w.text(body, "sha256")
	if err != nil {
		return err
	}
	if len(sha) > 0 {
		w.metaBytes("sha256", sha)
	}
	for _, flag := range [...]string{"voice", "animated"} {
		on, err := w.flag(body, flag)
		if err != nil {
			return err
		}
		if on {
			w.metaTrue(flag)
		}
	}
	return nil
}

func (w *walker) location(p *pending, body *fastjson.Value) error {
	p.typ = normalize.TypeLocation
	if body == nil {
		return nil
	}
	lat, hasLat, err := w.float(body, "latitude")
	if err != nil {
		return err
	}
	long, hasLong, err := w.float(body, "longitude")
	if err != nil {
		return err
	}
	name, err := w.text(body, "name")
	if err != nil {
		return err
	}
	addr, err := w.text(body, "address")
	if err != nil {
		return err
	}
	u, err := w.text(body, "url")
	if err != nil {
		return err
	}
	if hasLat && hasLong {
		// Name and Address are filled from the arena at emit time.
		w.places = append(w.places, normalize.Location{Lat: lat, Long: long})
		p.place = len(w.places)
		p.placeName, p.placeAddress = w.keep(name), w.keep(addr)
	} else if len(name) > 0 || len(addr) > 0 {
		w.metaBytes("name", name)
		w.metaBytes("address", addr)
	}
	if len(u) > 0 {
		w.metaBytes("url", u)
	}
	return nil
}

func (w *walker) interactive(p *pending, body *fastjson.Value) error {
	if body == nil {
		p.typ = normalize.TypeUnknown
		w.metaString("kind", "interactive")
		return nil
	}
	it, err := w.text(body, "type")
	if err != nil {
		return err
	}
	kind := string(it)
	reply, err := w.object(body, kind)
	if err != nil && kind != "" {
		return err
	}
	w.scope = "interactive." + kind
	switch {
	case reply != nil && (kind == "button_reply" || kind == "list_reply"):
		p.typ = normalize.TypeQuickReply
		w.metaString("reply", kind)
		if err := w.keepField(&p.payload, reply, "id"); err != nil {
			return err
		}
		if err := w.keepField(&p.text, reply, "title"); err != nil {
			return err
		}
		desc, err := w.text(reply, "description")
		if err != nil {
			return err
		}
		if len(desc) > 0 {
			w.metaBytes("description", desc)
		}
		return nil
	case reply != nil && kind == "nfm_reply":
		// A WhatsApp Flow completed: its answers are response_json.
		p.typ = normalize.TypePostback
		w.metaString("reply", kind)
		if err := w.keepField(&p.payload, reply, "response_json"); err != nil {
			return err
		}
		if err := w.keepField(&p.text, reply, "body"); err != nil {
			return err
		}
		name, err := w.text(reply, "name")
		if err != nil {
			return err
		}
		if len(name) > 0 {
			w.metaBytes("name", name)
		}
		return nil
	}
	p.typ = normalize.TypeUnknown
	w.metaString("kind", "interactive")
	w.scope = "interactive"
	return w.metaCopy("data", body, "")
}

func (w *walker) reaction(p *pending, body *fastjson.Value) error {
	p.typ = normalize.TypeReaction
	if body == nil {
		return nil
	}
	if err := w.keepField(&p.replyTo, body, "message_id"); err != nil {
		return err
	}
	emoji, err := w.text(body, "emoji")
	if err != nil {
		return err
	}
	// An absent or empty emoji removes the person's reaction.
	if len(emoji) == 0 {
		w.metaString("action", "unreact")
		return nil
	}
	w.metaString("action", "react")
	w.metaBytes("emoji", emoji)
	return nil
}

// common reads what any message may carry beside its content: the
// sender's profile, the BSUID, context (replies, forwards), an ad
// referral, a group and errors.
func (w *walker) common(p *pending, m *fastjson.Value, from, userID []byte, contact *fastjson.Value) error {
	if contact != nil {
		var err error
		if userID, err = w.profile(p, contact, from, userID); err != nil {
			return err
		}
	}
	w.scope = ""
	if len(from) > 0 && len(userID) > 0 {
		w.metaBytes("user_id", userID)
	}
	group, err := w.text(m, "group_id")
	if err != nil {
		return err
	}
	if len(group) > 0 {
		w.metaBytes("group_id", group)
	}

	ctx, err := w.object(m, "context")
	if err != nil {
		return err
	}
	if ctx != nil {
		w.scope = "context"
		if p.replyTo.end == 0 {
			if err := w.keepField(&p.replyTo, ctx, "id"); err != nil {
				return err
			}
		}
		for _, flag := range [...]string{"forwarded", "frequently_forwarded"} {
			on, err := w.flag(ctx, flag)
			if err != nil {
				return err
			}
			if on {
				w.metaTrue(flag)
			}
		}
		if rp := ctx.Get("referred_product"); present(rp) {
			if err := w.metaCopy("referred_product", rp, "referred_product"); err != nil {
				return err
			}
		}
		w.scope = ""
	}
	for _, key := range [...]string{"referral", "errors"} {
		if v := m.Get(key); present(v) {
			if err := w.metaCopy(key, v, key); err != nil {
				return err
			}
		}
	}
	return nil
}

// profile fills the sender's name and username from a contacts[] item, and
// returns the BSUID: userID, else the contact's user_id when the person
// has a wa_id too.
func (w *walker) profile(p *pending, contact *fastjson.Value, from, userID []byte) ([]byte, error) {
	w.scope = "contacts[]"
	profile, err := w.object(contact, "profile")
	if err != nil {
		return nil, err
	}
	if len(userID) == 0 && len(from) > 0 {
		if userID, err = w.text(contact, "user_id"); err != nil {
			return nil, err
		}
	}
	if profile == nil {
		return userID, nil
	}
	w.scope = "contacts[].profile"
	if err := w.keepField(&p.name, profile, "name"); err != nil {
		return nil, err
	}
	return userID, w.keepField(&p.username, profile, "username")
}

// contactOf finds the value.contacts[] item of a message's sender: the
// one whose wa_id is from, or whose user_id is the BSUID; else the only
// one there is.
func (w *walker) contactOf(from, userID []byte) *fastjson.Value {
	for _, c := range w.contacts {
		for _, k := range [...]struct {
			key  string
			want []byte
		}{{"wa_id", from}, {"user_id", userID}} {
			if len(k.want) == 0 {
				continue
			}
			v := c.Get(k.key)
			if v != nil && v.Type() == fastjson.TypeString && string(v.GetStringBytes()) == string(k.want) {
				return c
			}
		}
	}
	if len(w.contacts) == 1 {
		return w.contacts[0]
	}
	return nil
}

// ---- statuses, errors, other changes ----

// status reads one value.statuses[] item: the fate of a message the bot
// sent, addressed to the person it was sent to.
func (w *walker) status(s *fastjson.Value) error {
	w.scope = ""
	if s.Type() != fastjson.TypeObject {
		return w.typeErr("", "object", s)
	}
	var p pending
	p.typ = normalize.TypeStatus
	person, err := w.text(s, "recipient_id")
	if err != nil {
		return err
	}
	if len(person) == 0 {
		if person, err = w.text(s, "recipient_user_id"); err != nil {
			return err
		}
	}
	w.address(&p, person)
	if p.at, err = w.time(s, "timestamp"); err != nil {
		return err
	}
	state, err := w.text(s, "status")
	if err != nil {
		return err
	}
	wamid, err := w.text(s, "id")
	if err != nil {
		return err
	}
	if len(wamid) > 0 {
		w.nativeID(&p, prefix+"status:", wamid, adapters.View(state))
	} else {
		w.syntheticID(&p, "status", person, p.at)
		w.arena = append(w.arena, ':')
		w.arena = append(w.arena, state...)
		p.id.end = int32(len(w.arena))
	}

	w.beginMeta()
	w.metaBytes("status", state)
	obj, _ := s.Object()
	var copyErr error
	obj.Visit(func(k []byte, v *fastjson.Value) {
		if copyErr != nil || !present(v) {
			return
		}
		switch string(k) {
		case "id", "status", "timestamp":
			return
		}
		copyErr = w.metaCopy(adapters.View(k), v, adapters.View(k))
	})
	if copyErr != nil {
		return copyErr
	}
	p.md = w.endMeta()
	w.out = append(w.out, p)
	return nil
}

// valueErrors turns value.errors[] (problems not tied to one message) into
// one unknown event addressed to the bot.
func (w *walker) valueErrors(errs *fastjson.Value) error {
	var p pending
	p.typ = normalize.TypeUnknown
	w.address(&p, nil)
	w.beginMeta()
	w.metaString("kind", "errors")
	if err := w.metaCopy("errors", errs, "errors"); err != nil {
		return err
	}
	p.md = w.endMeta()
	w.hashedID(&p, "errors", w.arena[p.bot.off:p.bot.end])
	w.out = append(w.out, p)
	return nil
}

// otherChange turns a change of a field other than messages (template,
// quality or account updates, calls, flows…) into one unknown event: to
// the phone number when the value names one, else to the WABA (entry.id).
func (w *walker) otherChange(field, waba, phone []byte, value *fastjson.Value) error {
	var p pending
	p.typ = normalize.TypeUnknown
	owner := phone
	if len(owner) == 0 {
		owner = waba
	}
	if len(owner) == 0 {
		return adapters.Inputf(errMissing, "%s: required (the WABA) when value.metadata names no phone number", w.entryAt("id"))
	}
	w.bot = w.keep(owner)
	w.address(&p, nil)
	w.beginMeta()
	w.metaBytes("kind", field)
	if len(waba) > 0 {
		w.metaBytes("waba_id", waba)
	}
	w.scope = ""
	if err := w.metaCopy("data", value, "value"); err != nil {
		return err
	}
	p.md = w.endMeta()
	w.hashedID(&p, adapters.View(field), waba)
	w.out = append(w.out, p)
	return nil
}

// ---- addressing and ids ----

const prefix = Name + ":"

// keep copies b into the arena.
func (w *walker) keep(b []byte) ref {
	if len(b) == 0 {
		return ref{}
	}
	off := len(w.arena)
	w.arena = append(w.arena, b...)
	return ref{int32(off), int32(len(w.arena))}
}

// keepField copies the string o[key], if any, into the arena.
func (w *walker) keepField(dst *ref, o *fastjson.Value, key string) error {
	b, err := w.text(o, key)
	if err != nil {
		return err
	}
	*dst = w.keep(b)
	return nil
}

// address writes "<bot>/c/<person>" once and points bot, channel and path
// into it; without a person the event goes to the bot alone.
func (w *walker) address(p *pending, person []byte) {
	bot := w.arena[w.bot.off:w.bot.end]
	if len(person) == 0 {
		p.bot = w.bot
		return
	}
	start := len(w.arena)
	w.arena = append(w.arena, bot...)
	w.arena = append(w.arena, "/c/"...)
	at := len(w.arena)
	w.arena = append(w.arena, person...)
	end := len(w.arena)
	p.bot = ref{int32(start), int32(at - 3)}
	p.channel = ref{int32(at), int32(end)}
	p.path = ref{int32(start), int32(end)}
}

// nativeID writes head + wamid (+ ":" + tail) as the id, the wamid being
// the native id inside it.
func (w *walker) nativeID(p *pending, head string, wamid []byte, tail string) {
	start := len(w.arena)
	w.arena = append(w.arena, head...)
	at := len(w.arena)
	w.arena = append(w.arena, wamid...)
	p.native = ref{int32(at), int32(len(w.arena))}
	if tail != "" {
		w.arena = append(w.arena, ':')
		w.arena = append(w.arena, tail...)
	}
	p.id = ref{int32(start), int32(len(w.arena))}
}

// syntheticID is the id of an item without a wamid:
// "whatsapp:<kind>:<bot>:<person>:<unix seconds>".
func (w *walker) syntheticID(p *pending, kind string, person []byte, at time.Time) {
	start := len(w.arena)
	w.arena = append(w.arena, prefix...)
	w.arena = append(w.arena, kind...)
	w.arena = append(w.arena, ':')
	w.arena = append(w.arena, w.arena[w.bot.off:w.bot.end]...)
	w.arena = append(w.arena, ':')
	w.arena = append(w.arena, person...)
	w.arena = append(w.arena, ':')
	if !at.IsZero() {
		w.arena = strconv.AppendInt(w.arena, at.Unix(), 10)
	}
	p.id = ref{int32(start), int32(len(w.arena))}
}

// hashedID is the id of an event with neither wamid nor time:
// "whatsapp:<kind>:<owner>:<FNV-64a of its metadata>", the same for the
// same content however often Meta delivers it.
func (w *walker) hashedID(p *pending, kind string, owner []byte) {
	h := fnv.New64a()
	h.Write(w.md[p.md.off:p.md.end])
	start := len(w.arena)
	w.arena = append(w.arena, prefix...)
	w.arena = append(w.arena, kind...)
	w.arena = append(w.arena, ':')
	w.arena = append(w.arena, owner...)
	w.arena = append(w.arena, ':')
	w.arena = strconv.AppendUint(w.arena, h.Sum64(), 16)
	p.id = ref{int32(start), int32(len(w.arena))}
}

// ---- metadata, one JSON object per event ----

func (w *walker) beginMeta() { w.mdStart = len(w.md) }

func (w *walker) endMeta() ref {
	if len(w.md) == w.mdStart {
		return ref{}
	}
	w.md = append(w.md, '}')
	return ref{int32(w.mdStart), int32(len(w.md))}
}

func (w *walker) metaKey(k string) {
	w.md = adapters.AppendObjectKey(w.md, w.mdStart, k)
}

func (w *walker) metaString(k, v string) {
	w.metaKey(k)
	w.md = normalize.AppendString(w.md, v)
}

// metaBytes adds k: v unless v is empty.
func (w *walker) metaBytes(k string, v []byte) {
	if len(v) > 0 {
		w.metaString(k, adapters.View(v))
	}
}

func (w *walker) metaTrue(k string) {
	w.metaKey(k)
	w.md = append(w.md, "true"...)
}

// metaCopy adds k: a copy of v, strings re-encoded and numbers checked
// (adapters.AppendJSONValue).
func (w *walker) metaCopy(k string, v *fastjson.Value, field string) error {
	w.metaKey(k)
	var ok bool
	if w.md, ok = adapters.AppendJSONValue(w.md, v); !ok {
		return adapters.Inputf(errMalformed, "%s: invalid number", w.at(field))
	}
	return nil
}

// ---- typed reads: absent and null are "not there" ----

func present(v *fastjson.Value) bool { return v != nil && v.Type() != fastjson.TypeNull }

// text reads the string o[key]; nil when absent, empty but not nil when "".
func (w *walker) text(o *fastjson.Value, key string) ([]byte, error) {
	v := o.Get(key)
	switch {
	case !present(v):
		return nil, nil
	case v.Type() != fastjson.TypeString:
		return nil, w.typeErr(key, "string", v)
	}
	if b := v.GetStringBytes(); b != nil {
		return b, nil
	}
	return []byte{}, nil
}

func (w *walker) object(o *fastjson.Value, key string) (*fastjson.Value, error) {
	v := o.Get(key)
	switch {
	case !present(v):
		return nil, nil
	case v.Type() != fastjson.TypeObject:
		return nil, w.typeErr(key, "object", v)
	}
	return v, nil
}

func (w *walker) array(o *fastjson.Value, key string) ([]*fastjson.Value, error) {
	v := o.Get(key)
	switch {
	case !present(v):
		return nil, nil
	case v.Type() != fastjson.TypeArray:
		return nil, w.typeErr(key, "array", v)
	}
	a, _ := v.Array()
	return a, nil
}

func (w *walker) flag(o *fastjson.Value, key string) (bool, error) {
	v := o.Get(key)
	switch {
	case !present(v):
		return false, nil
	case v.Type() == fastjson.TypeTrue:
		return true, nil
	case v.Type() == fastjson.TypeFalse:
		return false, nil
	}
	return false, w.typeErr(key, "boolean", v)
}

func (w *walker) float(o *fastjson.Value, key string) (float64, bool, error) {
	v := o.Get(key)
	if !present(v) {
		return 0, false, nil
	}
	var raw []byte
	switch v.Type() {
	case fastjson.TypeNumber:
		raw = v.MarshalTo(nil)
		if !adapters.ValidNumber(raw) {
			return 0, false, adapters.Inputf(errMalformed, "%s: invalid number", w.at(key))
		}
	case fastjson.TypeString: // some relays send coordinates as strings
		raw = v.GetStringBytes()
	default:
		return 0, false, w.typeErr(key, "number", v)
	}
	f, err := strconv.ParseFloat(adapters.View(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false, adapters.Inputf(errType, "%s: want a finite number", w.at(key))
	}
	return f, true, nil
}

// Timestamps are epoch seconds as a decimal string; a number is taken too,
// and values from 1e12 on are read as milliseconds (courier does the
// same).
const (
	msThreshold = 1_000_000_000_000
	maxSeconds  = 253402300799 // 9999-12-31T23:59:59Z: later times are not RFC 3339
)

func (w *walker) time(o *fastjson.Value, key string) (time.Time, error) {
	v := o.Get(key)
	if !present(v) {
		return time.Time{}, nil
	}
	var digits []byte
	switch v.Type() {
	case fastjson.TypeString:
		digits = v.GetStringBytes()
	case fastjson.TypeNumber:
		var buf [24]byte
		digits = v.MarshalTo(buf[:0])
	default:
		return time.Time{}, w.typeErr(key, "epoch seconds", v)
	}
	if len(digits) == 0 {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(adapters.View(digits), 10, 64)
	switch {
	case err != nil || n < 0:
		return time.Time{}, adapters.Inputf(errType, "%s: want epoch seconds, got %q", w.at(key), digits[:min(len(digits), 32)])
	case n >= msThreshold:
		if n/1000 > maxSeconds {
			return time.Time{}, adapters.Inputf(errType, "%s: %d out of range", w.at(key), n)
		}
		return time.UnixMilli(n).UTC(), nil
	}
	return time.Unix(n, 0).UTC(), nil
}

// ---- error paths ----

// at renders where field is: entry[0].changes[1].value.messages[2].text.body.
// Only called on error paths.
func (w *walker) at(field string) string {
	b := make([]byte, 0, 96)
	if w.entry >= 0 {
		b = append(b, "entry["...)
		b = strconv.AppendInt(b, int64(w.entry), 10)
		b = append(b, ']')
	}
	if w.change >= 0 {
		b = append(b, ".changes["...)
		b = strconv.AppendInt(b, int64(w.change), 10)
		b = append(b, ']')
		if w.list != "" {
			b = append(b, ".value."...)
			b = append(b, w.list...)
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(w.item), 10)
			b = append(b, ']')
		}
	}
	for _, part := range [...]string{w.scope, field} {
		if part == "" {
			continue
		}
		if len(b) > 0 {
			b = append(b, '.')
		}
		b = append(b, part...)
	}
	return string(b)
}

// entryAt is the path of a field of the current entry.
func (w *walker) entryAt(field string) string {
	return "entry[" + strconv.Itoa(w.entry) + "]." + field
}

func (w *walker) typeErr(field, want string, v *fastjson.Value) error {
	path := w.at(field)
	if path == "" {
		path = "body"
	}
	return adapters.Inputf(errType, "%s: want %s, got %s", path, want, v.Type())
}

// ---- emit ----

// events turns the pending events into canonical ones appended to dst.
func (w *walker) events(dst []normalize.Event, conn string) []normalize.Event {
	if len(w.out) == 0 {
		return dst
	}
	all := string(w.arena)
	s := func(r ref) string { return all[r.off:r.end] }
	var md []byte
	if len(w.md) > 0 {
		md = append(make([]byte, 0, len(w.md)), w.md...)
	}
	var atts []normalize.Attachment
	if len(w.media) > 0 {
		atts = make([]normalize.Attachment, len(w.media))
		for i, m := range w.media {
			atts[i] = normalize.Attachment{Type: m.typ, MediaID: s(m.id), MimeType: s(m.mime), Name: s(m.name), Caption: s(m.caption), URL: s(m.url)}
		}
	}
	places := slices.Clone(w.places)
	dst = slices.Grow(dst, len(w.out))
	for i := range w.out {
		p := &w.out[i]
		e := normalize.Event{
			ID:           s(p.id),
			Type:         p.typ,
			Channel:      Name,
			Connection:   conn,
			BotID:        s(p.bot),
			ChannelID:    s(p.channel),
			ResponsePath: s(p.path),
			Text:         s(p.text),
			Payload:      s(p.payload),
			NativeID:     s(p.native),
			ReplyTo:      s(p.replyTo),
			Timestamp:    p.at,
		}
		if p.sender {
			e.Sender = normalize.Sender{ID: e.ChannelID, Name: s(p.name), Username: s(p.username)}
		}
		if p.md.end > p.md.off {
			e.Metadata = md[p.md.off:p.md.end:p.md.end]
		}
		if p.media > 0 {
			e.Attachments = atts[p.media-1 : p.media : p.media]
		}
		if p.place > 0 {
			l := &places[p.place-1]
			l.Name, l.Address = s(p.placeName), s(p.placeAddress)
			e.Location = l
		}
		dst = append(dst, e)
	}
	distinctIDs(dst[len(dst)-len(w.out):])
	return dst
}

// distinctIDs keeps the ids of one batch apart: an event whose id an
// earlier event holds with other content (the same wamid twice, differing)
// gets the first free suffix "#2", "#3"…, in order, so a retried POST gets
// the same ids; an exact repeat keeps the id, and the gateway's dedup drops
// it. Content is compared with meta.SameContent, as for Messenger.
func distinctIDs(evs []normalize.Event) {
	if len(evs) < 2 {
		return
	}
	var first map[string]int // id → the earliest event holding it; only for big batches
	if len(evs) > 16 {
		first = make(map[string]int, len(evs))
	}
	holder := func(i int, id string) int {
		if first != nil {
			if j, ok := first[id]; ok {
				return j
			}
			return -1
		}
		for j := range i {
			if evs[j].ID == id {
				return j
			}
		}
		return -1
	}
	for i := range evs {
		base := evs[i].ID
		for n := 2; ; n++ {
			j := holder(i, evs[i].ID)
			if j < 0 || meta.SameContent(&evs[j], &evs[i]) {
				break
			}
			evs[i].ID = base + "#" + strconv.Itoa(n)
		}
		if _, taken := first[evs[i].ID]; first != nil && !taken {
			first[evs[i].ID] = i
		}
	}
}
