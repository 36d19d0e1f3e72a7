package messenger

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/valyala/fastjson"

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

// Parse appends one canonical event per messaging[] and standby[] item of
// every entry of a Messenger webhook body, in the order Meta sent them
// (README.md has the mapping). A body it cannot read is refused whole with
// an *adapters.InputError, and dst comes back unchanged: a batch is never
// half-forwarded. An event key it does not know becomes TypeUnknown.
//
// Memory: the appended events never alias body or the parser. All strings
// of one call share one allocation, all metadata another and all
// attachments a third, so a typical text webhook costs one allocation; an
// event kept alive keeps its batch's arena alive, which is at most the
// size of the body.
//
// Event ids are stable dedup keys derived from the payload only (see
// README.md, "Event ids"); within one call, two events whose content
// differs never share an id.
func (a *Adapter) Parse(dst []normalize.Event, body []byte) ([]normalize.Event, error) {
	st := acquireState()
	defer releaseState(st, len(body))
	if err := st.parse(a, body); err != nil {
		return dst, err
	}
	return st.emit(a, dst), nil
}

// Input error codes (adapters.InputError).
const (
	codeMalformed = "malformed_json"
	codeWrongType = "wrong_type"
	codeMissing   = "missing_field"
	codeObject    = "unknown_object"
)

// span is a half-open range of the state's string arena (or of its
// metadata buffer, for draft.meta).
type span struct{ off, end int }

// draft is an event under construction: its strings are spans of the
// arena, which becomes one string only when the whole body has parsed.
type draft struct {
	typ                                                      normalize.EventType
	id, bot, person, path, sender, text, payload, native, to span
	meta                                                     span
	ts                                                       int64
	hasTS                                                    bool
	att0, att1                                               int // st.atts[att0:att1]
	loc                                                      int // st.locs[loc-1]; 0 for none
	// userRef: person is a plugin user_ref, not a PSID; replies must
	// address it as recipient.user_ref, so metadata says so.
	userRef bool
}

type draftAtt struct {
	typ                           string // canonical, a constant
	url, mediaID, name, stickerID span
}

// state is what one Parse call needs; it is pooled with its fastjson
// parser, so a warm Parse allocates only what it returns.
type state struct {
	p      fastjson.Parser
	buf    []byte // string arena
	meta   []byte // metadata arena
	drafts []draft
	atts   []draftAtt
	locs   []normalize.Location
	num    []byte // scratch for the raw text of numeric ids

	metaStart int

	// Where the walk is, for error paths like
	// entry[0].messaging[1].message.attachments[2].payload.url.
	entry, item, subI int
	list, sub         string
}

var statePool sync.Pool

// maxPooledBytes keeps a state that parsed a big body out of the pool (the
// parser keeps a copy of the body), so one 1 MiB webhook does not pin
// 1 MiB per P for good.
const maxPooledBytes = 64 << 10

func acquireState() *state {
	if st, ok := statePool.Get().(*state); ok {
		return st
	}
	return &state{}
}

func releaseState(st *state, bodyLen int) {
	if bodyLen > maxPooledBytes || cap(st.buf) > maxPooledBytes || cap(st.meta) > maxPooledBytes || len(st.drafts) > 1024 {
		return
	}
	st.buf, st.meta = st.buf[:0], st.meta[:0]
	st.drafts, st.atts, st.locs = st.drafts[:0], st.atts[:0], st.locs[:0]
	statePool.Put(st)
}

// b2s views b as a string without copying. Only for reads that end before
// the parser or buffer behind b changes; never stored.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// item is one messaging[] or standby[] element with its envelope read.
type item struct {
	v                    *fastjson.Value
	page                 []byte // entry.id
	sid, sref, rid, rref []byte // sender.id, sender.user_ref, recipient.id, recipient.user_ref
	ts                   int64
	hasTS                bool
}

func (st *state) parse(a *Adapter, body []byte) error {
	st.entry, st.list, st.sub = -1, "", ""
	// fastjson's Parse checks the structure (brackets, commas, literals,
	// depth, trailing data) but not the syntax of numbers nor control
	// characters and escapes inside strings; its Validate would, at the
	// cost of a second pass as long as the parse itself. Parse skips it:
	// every number Parse reads is checked (validNumber), and every string
	// is re-encoded by normalize.AppendString, so the events are always
	// valid JSON whatever the body's unread parts hold.
	root, err := st.p.ParseBytes(body)
	if err != nil {
		return adapters.Inputf(codeMalformed, "%v", err)
	}
	if root.Type() != fastjson.TypeObject {
		return st.wrongType("", "object", root)
	}
	obj, err := st.str(root, "object", "object")
	if err != nil {
		return err
	}
	if string(obj) != "page" {
		if obj == nil {
			return adapters.Inputf(codeObject, `object: missing, want "page"`)
		}
		if len(obj) > 64 {
			obj = obj[:64]
		}
		return adapters.Inputf(codeObject, "object: %q is not a Messenger webhook, want \"page\"", obj)
	}
	entries, err := st.arr(root, "entry", "entry")
	if err != nil {
		return err
	}
	for i, e := range entries {
		st.entry, st.list = i, ""
		if e.Type() != fastjson.TypeObject {
			return st.wrongType("", "object", e)
		}
		page, err := st.str(e, "id", "id")
		if err != nil {
			return err
		}
		for _, list := range [...]string{"messaging", "standby"} {
			st.list = ""
			items, err := st.arr(e, list, list)
			if err != nil {
				return err
			}
			st.list = list
			for j, v := range items {
				st.item = j
				if err := st.parseItem(a, v, page, list == "standby"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// kinds are the messaging-item keys handled, in the order they are looked
// for; the first present wins (a message carrying a top-level referral is
// a message with referral metadata).
var kinds = [...]string{
	"message", "postback", "message_edit", "reaction", "read", "delivery",
	"optin", "referral", "account_linking",
	"pass_thread_control", "take_thread_control", "request_thread_control", "app_roles",
	"policy-enforcement",
}

// envelope keys are not event kinds.
func envelope(k []byte) bool {
	switch string(k) {
	case "sender", "recipient", "timestamp":
		return true
	}
	return false
}

func (st *state) parseItem(a *Adapter, v *fastjson.Value, page []byte, standby bool) error {
	if v.Type() != fastjson.TypeObject {
		return st.wrongType("", "object", v)
	}
	it := item{v: v, page: page}
	sender, err := st.obj(v, "sender", "sender")
	if err != nil {
		return err
	}
	recipient, err := st.obj(v, "recipient", "recipient")
	if err != nil {
		return err
	}
	if it.sid, err = st.str(sender, "id", "sender.id"); err != nil {
		return err
	}
	if it.sref, err = st.str(sender, "user_ref", "sender.user_ref"); err != nil {
		return err
	}
	if it.rid, err = st.str(recipient, "id", "recipient.id"); err != nil {
		return err
	}
	if it.rref, err = st.str(recipient, "user_ref", "recipient.user_ref"); err != nil {
		return err
	}
	if it.ts, it.hasTS, err = st.int(v, "timestamp", "timestamp"); err != nil {
		return err
	}
	if it.hasTS && (it.ts < 0 || it.ts > maxMillis) {
		return adapters.Inputf(codeWrongType, "%s: %d out of range", st.at("timestamp"), it.ts)
	}

	var d draft
	d.ts, d.hasTS = it.ts, it.hasTS
	st.metaStart = len(st.meta)

	kind, kv := "", (*fastjson.Value)(nil)
	for _, k := range kinds {
		if x := v.Get(k); x != nil && x.Type() != fastjson.TypeNull {
			kind, kv = k, x
			break
		}
	}
	switch kind {
	case "message":
		err = st.message(a, &d, &it, kv)
	case "postback":
		err = st.postback(&d, &it, kv)
	case "message_edit":
		err = st.edit(&d, &it, kv)
	case "reaction":
		err = st.reaction(&d, &it, kv)
	case "read", "delivery":
		err = st.receipt(&d, &it, kind, kv)
	case "optin":
		err = st.optin(&d, &it, kv)
	case "referral":
		err = st.referral(&d, &it, kv)
	case "account_linking":
		err = st.accountLinking(&d, &it, kv)
	case "pass_thread_control", "take_thread_control", "request_thread_control", "app_roles":
		err = st.handover(&d, &it, kind, kv)
	case "policy-enforcement":
		err = st.policy(&d, &it, kv)
	default:
		err = st.unknown(&d, &it)
	}
	if err != nil {
		return err
	}
	if d.userRef {
		st.metaKey("user_ref")
		st.meta = normalize.AppendString(st.meta, b2s(st.buf[d.person.off:d.person.end]))
	}
	if standby {
		st.metaKey("standby")
		st.meta = append(st.meta, "true"...)
	}
	d.meta = st.metaClose()
	st.drafts = append(st.drafts, d)
	return nil
}

// maxMillis is 9999-12-31T23:59:59.999Z: later times do not format as RFC 3339.
const maxMillis = 253402300799999

// ---- addressing and ids ----

// address fills bot, person, path and sender. person may be empty (events
// with no one behind them); the Page may not.
func (st *state) address(d *draft, page, person []byte) error {
	if len(page) == 0 {
		return adapters.Inputf(codeMissing, "%s: required (the Page id)", st.entryAt("id"))
	}
	off := len(st.buf)
	st.buf = append(st.buf, page...)
	d.bot = span{off, len(st.buf)}
	if len(person) == 0 {
		return nil
	}
	st.buf = append(st.buf, "/c/"...)
	p := len(st.buf)
	st.buf = append(st.buf, person...)
	d.person = span{p, len(st.buf)}
	d.path = span{off, len(st.buf)}
	d.sender = d.person
	return nil
}

// page is the Page an event belongs to: entry.id, else recipient.id (or
// sender.id on an echo).
func (it *item) pageID(echo bool) []byte {
	switch {
	case len(it.page) > 0:
		return it.page
	case echo:
		return it.sid
	}
	return it.rid
}

// person is who a user event is about: sender.id, else sender.user_ref
// (plugin users without a PSID), which sets d.userRef.
func (it *item) person(d *draft) []byte {
	if len(it.sid) > 0 {
		return it.sid
	}
	d.userRef = len(it.sref) > 0
	return it.sref
}

// userAddress addresses an event that must come from a person.
func (st *state) userAddress(d *draft, it *item) error {
	p := it.person(d)
	if len(p) == 0 {
		return adapters.Inputf(codeMissing, "%s: required", st.at("sender.id"))
	}
	return st.address(d, it.pageID(false), p)
}

const idPrefix = Name + ":"

// midID sets id = "messenger:" + mid and native = mid, sharing bytes.
func (st *state) midID(d *draft, mid []byte) {
	off := len(st.buf)
	st.buf = append(st.buf, idPrefix...)
	m := len(st.buf)
	st.buf = append(st.buf, mid...)
	d.id, d.native = span{off, len(st.buf)}, span{m, len(st.buf)}
}

// kindID sets id = "messenger:<kind>:<page>:<person>:<disc>", the key of
// events that have no mid of their own; disc is a watermark or the
// event's timestamp.
func (st *state) kindID(d *draft, kind string, disc int64, hasDisc bool) {
	off := len(st.buf)
	st.buf = append(st.buf, idPrefix...)
	st.buf = append(st.buf, kind...)
	st.buf = append(st.buf, ':')
	st.buf = append(st.buf, st.buf[d.bot.off:d.bot.end]...)
	st.buf = append(st.buf, ':')
	st.buf = append(st.buf, st.buf[d.person.off:d.person.end]...)
	st.buf = append(st.buf, ':')
	if hasDisc {
		st.buf = strconv.AppendInt(st.buf, disc, 10)
	}
	d.id = span{off, len(st.buf)}
}

// put copies b into the arena.
func (st *state) put(b []byte) span {
	if len(b) == 0 {
		return span{}
	}
	off := len(st.buf)
	st.buf = append(st.buf, b...)
	return span{off, len(st.buf)}
}

// ---- event kinds ----

func (st *state) message(a *Adapter, d *draft, it *item, m *fastjson.Value) error {
	if m.Type() != fastjson.TypeObject {
		return st.wrongType("message", "object", m)
	}
	echo, err := st.bool(m, "is_echo", "message.is_echo")
	if err != nil {
		return err
	}
	if echo {
		// The Page sent it: sender is the Page, recipient the person.
		person := it.rid
		if len(person) == 0 {
			person, d.userRef = it.rref, true
		}
		if len(person) == 0 {
			return adapters.Inputf(codeMissing, "%s: required on an echo", st.at("recipient.id"))
		}
		if err := st.address(d, it.pageID(true), person); err != nil {
			return err
		}
		d.sender = d.bot // the Page acted
		d.typ = normalize.TypeEcho
	} else if err := st.userAddress(d, it); err != nil {
		return err
	}

	mid, err := st.str(m, "mid", "message.mid")
	if err != nil {
		return err
	}
	deleted, err := st.bool(m, "is_deleted", "message.is_deleted")
	if err != nil {
		return err
	}
	unsupported, err := st.bool(m, "is_unsupported", "message.is_unsupported")
	if err != nil {
		return err
	}
	switch {
	case len(mid) == 0:
		st.kindID(d, "message", d.ts, d.hasTS)
	case deleted && !echo:
		// The deletion is an event of its own, distinct from the message.
		off := len(st.buf)
		st.buf = append(st.buf, idPrefix+"deleted:"...)
		n := len(st.buf)
		st.buf = append(st.buf, mid...)
		d.id, d.native = span{off, len(st.buf)}, span{n, len(st.buf)}
	default:
		st.midID(d, mid)
	}

	text, err := st.str(m, "text", "message.text")
	if err != nil {
		return err
	}
	d.text = st.put(text)

	qr, err := st.obj(m, "quick_reply", "message.quick_reply")
	if err != nil {
		return err
	}
	if qr != nil {
		p, err := st.str(qr, "payload", "message.quick_reply.payload")
		if err != nil {
			return err
		}
		d.payload = st.put(p)
	}

	replyTo, err := st.obj(m, "reply_to", "message.reply_to")
	if err != nil {
		return err
	}
	if replyTo != nil {
		rmid, err := st.str(replyTo, "mid", "message.reply_to.mid")
		if err != nil {
			return err
		}
		d.to = st.put(rmid)
	}

	atts, err := st.arr(m, "attachments", "message.attachments")
	if err != nil {
		return err
	}
	if err := st.attachments(d, atts); err != nil {
		return err
	}

	switch {
	case echo:
	case deleted:
		d.typ = normalize.TypeDeleted
	case unsupported:
		d.typ = normalize.TypeUnknown
		st.metaKey("kind")
		st.meta = append(st.meta, `"unsupported"`...)
	case qr != nil:
		d.typ = normalize.TypeQuickReply
	case d.loc > 0:
		d.typ = normalize.TypeLocation
	case d.att1 > d.att0:
		d.typ = normalize.TypeAttachment
	case len(text) > 0:
		d.typ = normalize.TypeText
	default:
		d.typ = normalize.TypeUnknown
		st.metaKey("kind")
		st.meta = append(st.meta, `"message"`...)
	}

	if echo {
		appID, err := st.id(m, "app_id", "message.app_id")
		if err != nil {
			return err
		}
		if len(appID) > 0 {
			st.metaString("app_id", appID)
			if a.AppID != "" && string(appID) == a.AppID {
				st.metaKey("own")
				st.meta = append(st.meta, "true"...)
			}
		}
		md, err := st.str(m, "metadata", "message.metadata")
		if err != nil {
			return err
		}
		if md != nil {
			st.metaString("metadata", md)
		}
	}
	st.nativeTypes(atts)
	if replyTo != nil {
		if story := replyTo.Get("story"); story != nil && story.Type() != fastjson.TypeNull {
			if err := st.metaValue("reply_to_story", story, "message.reply_to.story"); err != nil {
				return err
			}
		}
	}
	// A referral rides on the first message after an ad or shop click,
	// inside the message or beside it.
	if ref := m.Get("referral"); ref != nil && ref.Type() != fastjson.TypeNull {
		return st.metaValue("referral", ref, "message.referral")
	}
	if ref := it.v.Get("referral"); ref != nil && ref.Type() != fastjson.TypeNull {
		return st.metaValue("referral", ref, "referral")
	}
	return nil
}

// attachments drafts message.attachments in order and sets d.loc when the
// message is a sole located pin.
func (st *state) attachments(d *draft, list []*fastjson.Value) error {
	d.att0 = len(st.atts)
	defer func() { st.sub = "" }()
	st.sub = "message.attachments"
	var loc normalize.Location
	located := false
	for i, v := range list {
		st.subI = i
		if v.Type() != fastjson.TypeObject {
			return st.wrongType("", "object", v)
		}
		typ, err := st.str(v, "type", "type")
		if err != nil {
			return err
		}
		p, err := st.obj(v, "payload", "payload")
		if err != nil {
			return err
		}
		var da draftAtt
		da.typ = canonicalType(typ)
		url, err := st.str(p, "url", "payload.url")
		if err != nil {
			return err
		}
		if url == nil {
			if url, err = st.str(v, "url", "url"); err != nil {
				return err
			}
		}
		da.url = st.put(url)
		title, err := st.str(v, "title", "title")
		if err != nil {
			return err
		}
		if title == nil {
			if title, err = st.str(p, "title", "payload.title"); err != nil {
				return err
			}
		}
		da.name = st.put(title)
		sticker, err := st.id(p, "sticker_id", "payload.sticker_id")
		if err != nil {
			return err
		}
		da.stickerID = st.put(sticker)
		media, err := st.id(p, "attachment_id", "payload.attachment_id")
		if err != nil {
			return err
		}
		if media == nil {
			if media, err = st.id(p, "reel_video_id", "payload.reel_video_id"); err != nil {
				return err
			}
		}
		da.mediaID = st.put(media)
		if da.typ == "location" {
			c, err := st.obj(p, "coordinates", "payload.coordinates")
			if err != nil {
				return err
			}
			if c != nil {
				if loc.Lat, err = st.float(c, "lat", "payload.coordinates.lat"); err != nil {
					return err
				}
				if loc.Long, err = st.float(c, "long", "payload.coordinates.long"); err != nil {
					return err
				}
				located = true // its name is the attachment's, set at emit
			}
		}
		st.atts = append(st.atts, da)
	}
	d.att1 = len(st.atts)
	if located && len(list) == 1 {
		st.locs = append(st.locs, loc)
		d.loc = len(st.locs)
	}
	return nil
}

// canonicalType maps a Messenger attachment type onto DESIGN §3's list;
// what is not in it (template, reel, ig_reel, post, share, like_heart, …)
// is a fallback, and nativeTypes records the original.
func canonicalType(t []byte) string {
	switch string(t) {
	case "image":
		return "image"
	case "video":
		return "video"
	case "audio":
		return "audio"
	case "file":
		return "file"
	case "sticker":
		return "sticker"
	case "location":
		return "location"
	case "story_mention":
		return "story_mention"
	}
	return "fallback"
}

// nativeTypes adds metadata "attachment_types": the Messenger type of every
// attachment, in order, when one of them was mapped to fallback.
func (st *state) nativeTypes(list []*fastjson.Value) {
	differs := false
	for _, v := range list {
		t := v.GetStringBytes("type")
		if c := canonicalType(t); c != string(t) && len(t) > 0 {
			differs = true
			break
		}
	}
	if !differs {
		return
	}
	st.metaKey("attachment_types")
	st.meta = append(st.meta, '[')
	for i, v := range list {
		if i > 0 {
			st.meta = append(st.meta, ',')
		}
		st.meta = normalize.AppendString(st.meta, b2s(v.GetStringBytes("type")))
	}
	st.meta = append(st.meta, ']')
}

func (st *state) postback(d *draft, it *item, pb *fastjson.Value) error {
	if pb.Type() != fastjson.TypeObject {
		return st.wrongType("postback", "object", pb)
	}
	if err := st.userAddress(d, it); err != nil {
		return err
	}
	d.typ = normalize.TypePostback
	mid, err := st.str(pb, "mid", "postback.mid")
	if err != nil {
		return err
	}
	if len(mid) > 0 {
		st.midID(d, mid)
	} else {
		st.kindID(d, "postback", d.ts, d.hasTS)
	}
	title, err := st.str(pb, "title", "postback.title")
	if err != nil {
		return err
	}
	d.text = st.put(title)
	payload, err := st.str(pb, "payload", "postback.payload")
	if err != nil {
		return err
	}
	d.payload = st.put(payload)
	if ref := pb.Get("referral"); ref != nil && ref.Type() != fastjson.TypeNull {
		return st.metaValue("referral", ref, "postback.referral")
	}
	return nil
}

func (st *state) edit(d *draft, it *item, e *fastjson.Value) error {
	if e.Type() != fastjson.TypeObject {
		return st.wrongType("message_edit", "object", e)
	}
	if err := st.userAddress(d, it); err != nil {
		return err
	}
	d.typ = normalize.TypeEdited
	mid, err := st.str(e, "mid", "message_edit.mid")
	if err != nil {
		return err
	}
	if len(mid) == 0 {
		return adapters.Inputf(codeMissing, "%s: required", st.at("message_edit.mid"))
	}
	n, hasN, err := st.int(e, "num_edit", "message_edit.num_edit")
	if err != nil {
		return err
	}
	off := len(st.buf)
	st.buf = append(st.buf, idPrefix+"edit:"...)
	m := len(st.buf)
	st.buf = append(st.buf, mid...)
	d.native = span{m, len(st.buf)}
	st.buf = append(st.buf, ':')
	if hasN {
		st.buf = strconv.AppendInt(st.buf, n, 10)
	} else if d.hasTS {
		// No edit counter: the edit's time keeps two edits apart.
		st.buf = append(st.buf, 't')
		st.buf = strconv.AppendInt(st.buf, d.ts, 10)
	}
	d.id = span{off, len(st.buf)}
	text, err := st.str(e, "text", "message_edit.text")
	if err != nil {
		return err
	}
	d.text = st.put(text)
	if hasN {
		st.metaKey("num_edit")
		st.meta = strconv.AppendInt(st.meta, n, 10)
	}
	return nil
}

func (st *state) reaction(d *draft, it *item, r *fastjson.Value) error {
	if r.Type() != fastjson.TypeObject {
		return st.wrongType("reaction", "object", r)
	}
	if err := st.userAddress(d, it); err != nil {
		return err
	}
	d.typ = normalize.TypeReaction
	mid, err := st.str(r, "mid", "reaction.mid")
	if err != nil {
		return err
	}
	action, err := st.str(r, "action", "reaction.action")
	if err != nil {
		return err
	}
	off := len(st.buf)
	st.buf = append(st.buf, idPrefix+"reaction:"...)
	m := len(st.buf)
	st.buf = append(st.buf, mid...)
	d.to = span{m, len(st.buf)}
	st.buf = append(st.buf, ':')
	st.buf = append(st.buf, action...)
	st.buf = append(st.buf, ':')
	if d.hasTS {
		st.buf = strconv.AppendInt(st.buf, d.ts, 10)
	}
	if len(mid) == 0 {
		// Without the reacted mid, who reacted tells reactions apart.
		st.buf = append(st.buf, ':')
		st.buf = append(st.buf, st.buf[d.person.off:d.person.end]...)
		d.to = span{}
	}
	d.id = span{off, len(st.buf)}
	return st.metaFields(d, r, "reaction", "mid")
}

// receipt is read or delivery: keyed by the watermark, since everything
// before it is read (or delivered) and a repeat says nothing new.
func (st *state) receipt(d *draft, it *item, kind string, r *fastjson.Value) error {
	if r.Type() != fastjson.TypeObject {
		return st.wrongType(kind, "object", r)
	}
	if err := st.userAddress(d, it); err != nil {
		return err
	}
	if kind == "read" {
		d.typ = normalize.TypeRead
	} else {
		d.typ = normalize.TypeDelivery
	}
	wm, hasWM, err := st.int(r, "watermark", kind+".watermark")
	if err != nil {
		return err
	}
	if !hasWM {
		wm, hasWM = d.ts, d.hasTS
	}
	st.kindID(d, kind, wm, hasWM)
	return st.metaFields(d, r, kind, "")
}

func (st *state) optin(d *draft, it *item, o *fastjson.Value) error {
	if o.Type() != fastjson.TypeObject {
		return st.wrongType("optin", "object", o)
	}
	// Checkbox-plugin optins may carry the person only as optin.user_ref.
	ref, err := st.str(o, "user_ref", "optin.user_ref")
	if err != nil {
		return err
	}
	p := it.person(d)
	if len(p) == 0 {
		// Already in the metadata, copied from the optin below.
		p = ref
	}
	if len(p) == 0 {
		return adapters.Inputf(codeMissing, "%s: required (or sender.user_ref, optin.user_ref)", st.at("sender.id"))
	}
	if err := st.address(d, it.pageID(false), p); err != nil {
		return err
	}
	d.typ = normalize.TypeOptin
	st.kindID(d, "optin", d.ts, d.hasTS)
	payload, err := st.str(o, "payload", "optin.payload")
	if err != nil {
		return err
	}
	if len(payload) == 0 {
		if payload, err = st.str(o, "ref", "optin.ref"); err != nil {
			return err
		}
	}
	d.payload = st.put(payload)
	return st.metaFields(d, o, "optin", "")
}

func (st *state) referral(d *draft, it *item, r *fastjson.Value) error {
	if r.Type() != fastjson.TypeObject {
		return st.wrongType("referral", "object", r)
	}
	if err := st.userAddress(d, it); err != nil {
		return err
	}
	d.typ = normalize.TypeReferral
	st.kindID(d, "referral", d.ts, d.hasTS)
	ref, err := st.str(r, "ref", "referral.ref")
	if err != nil {
		return err
	}
	d.payload = st.put(ref)
	return st.metaValue("referral", r, "referral")
}

func (st *state) accountLinking(d *draft, it *item, l *fastjson.Value) error {
	if l.Type() != fastjson.TypeObject {
		return st.wrongType("account_linking", "object", l)
	}
	if err := st.userAddress(d, it); err != nil {
		return err
	}
	d.typ = normalize.TypeAccountLink
	st.kindID(d, "account_linking", d.ts, d.hasTS)
	return st.metaFields(d, l, "account_linking", "")
}

// handoverAction names a handover kind as DESIGN §5 does, and gives the
// kind part of its id.
func handoverAction(kind string) (action, idKind string) {
	switch kind {
	case "pass_thread_control":
		return "pass", "handover:pass"
	case "take_thread_control":
		return "take", "handover:take"
	case "request_thread_control":
		return "request", "handover:request"
	}
	return "app_roles", "handover:app_roles"
}

func (st *state) handover(d *draft, it *item, kind string, h *fastjson.Value) error {
	if h.Type() != fastjson.TypeObject {
		return st.wrongType(kind, "object", h)
	}
	// app_roles is about the Page, not a thread: no sender.
	if kind == "app_roles" {
		if err := st.address(d, it.pageID(false), it.person(d)); err != nil {
			return err
		}
	} else if err := st.userAddress(d, it); err != nil {
		return err
	}
	d.typ = normalize.TypeHandover
	action, idKind := handoverAction(kind)
	st.kindID(d, idKind, d.ts, d.hasTS)
	st.metaKey("action")
	st.meta = normalize.AppendString(st.meta, action)
	if kind == "app_roles" {
		return st.metaValue("app_roles", h, "app_roles")
	}
	return st.metaFields(d, h, kind, "action")
}

// policy is policy-enforcement: the Page was warned, blocked or
// unblocked. It has no sender, so it is an unknown event addressed to the
// Page alone rather than an error.
func (st *state) policy(d *draft, it *item, p *fastjson.Value) error {
	if p.Type() != fastjson.TypeObject {
		return st.wrongType("policy-enforcement", "object", p)
	}
	if err := st.address(d, it.pageID(false), it.person(d)); err != nil {
		return err
	}
	d.typ = normalize.TypeUnknown
	action, err := st.str(p, "action", "policy-enforcement.action")
	if err != nil {
		return err
	}
	st.kindID(d, "policy-enforcement", d.ts, d.hasTS)
	st.buf = append(st.buf, ':')
	st.buf = append(st.buf, action...)
	d.id.end = len(st.buf)
	st.metaKey("kind")
	st.meta = append(st.meta, `"policy-enforcement"`...)
	return st.metaFields(d, p, "policy-enforcement", "")
}

// unknown is any other item: kept, with its key, never an error.
func (st *state) unknown(d *draft, it *item) error {
	if err := st.address(d, it.pageID(false), it.person(d)); err != nil {
		return err
	}
	d.typ = normalize.TypeUnknown
	var key []byte
	var val *fastjson.Value
	o, _ := it.v.Object()
	o.Visit(func(k []byte, v *fastjson.Value) {
		if key == nil && !envelope(k) {
			key, val = k, v
		}
	})
	// "messenger:unknown:<key>:<page>:<person>:<timestamp>"
	off := len(st.buf)
	st.buf = append(st.buf, idPrefix+"unknown:"...)
	st.buf = append(st.buf, key...)
	st.buf = append(st.buf, ':')
	st.buf = append(st.buf, st.buf[d.bot.off:d.bot.end]...)
	st.buf = append(st.buf, ':')
	st.buf = append(st.buf, st.buf[d.person.off:d.person.end]...)
	st.buf = append(st.buf, ':')
	if d.hasTS {
		st.buf = strconv.AppendInt(st.buf, d.ts, 10)
	}
	d.id = span{off, len(st.buf)}
	if key == nil {
		return nil
	}
	// The kind and a copy of its value, so a backend can act on an event
	// the gateway does not know yet.
	st.metaString("kind", key)
	return st.metaValue("data", val, b2s(key))
}

// ---- metadata, built append-style ----

func (st *state) metaKey(k string) {
	if len(st.meta) == st.metaStart {
		st.meta = append(st.meta, '{')
	} else {
		st.meta = append(st.meta, ',')
	}
	st.meta = normalize.AppendString(st.meta, k)
	st.meta = append(st.meta, ':')
}

func (st *state) metaString(k string, v []byte) {
	st.metaKey(k)
	st.meta = normalize.AppendString(st.meta, b2s(v))
}

// metaClose ends the event's metadata object; nothing said, nothing kept.
func (st *state) metaClose() span {
	if len(st.meta) == st.metaStart {
		return span{}
	}
	st.meta = append(st.meta, '}')
	return span{st.metaStart, len(st.meta)}
}

// metaValue adds k: a copy of v. Strings are re-encoded, numbers keep
// their exact text.
func (st *state) metaValue(k string, v *fastjson.Value, field string) error {
	st.metaKey(k)
	var ok bool
	if st.meta, ok = appendValue(st.meta, v); !ok {
		return adapters.Inputf(codeMalformed, "%s: invalid number", st.at(field))
	}
	return nil
}

// metaFields copies every member of object o into the metadata, flat, in
// order, except nulls, skip and the keys Parse writes itself (kind,
// standby, and user_ref when the person is one), so that no key appears
// twice. Numbers under keys ending in
// app_id become strings: app ids are 64-bit and a JSON reader would round
// them.
func (st *state) metaFields(d *draft, o *fastjson.Value, field, skip string) error {
	obj, err := o.Object()
	if err != nil {
		return st.wrongType(field, "object", o)
	}
	ok := true
	obj.Visit(func(k []byte, v *fastjson.Value) {
		if !ok || v.Type() == fastjson.TypeNull || string(k) == skip || string(k) == "kind" || string(k) == "standby" ||
			d.userRef && string(k) == "user_ref" {
			return
		}
		st.metaKey(b2s(k))
		if v.Type() == fastjson.TypeNumber && bytes.HasSuffix(k, []byte("app_id")) {
			n := len(st.meta)
			st.meta = v.MarshalTo(st.meta)
			if !validNumber(st.meta[n:]) {
				ok = false
				return
			}
			st.meta = append(st.meta[:n], '"')
			st.meta = v.MarshalTo(st.meta)
			st.meta = append(st.meta, '"')
			return
		}
		st.meta, ok = appendValue(st.meta, v)
	})
	if !ok {
		return adapters.Inputf(codeMalformed, "%s: invalid number", st.at(field))
	}
	return nil
}

// appendValue appends v as JSON: strings through normalize.AppendString,
// numbers as their validated raw text. Depth is bounded by fastjson's
// MaxDepth.
func appendValue(dst []byte, v *fastjson.Value) ([]byte, bool) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		ok, first := true, true
		o.Visit(func(k []byte, vv *fastjson.Value) {
			if !ok {
				return
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = normalize.AppendString(dst, b2s(k))
			dst = append(dst, ':')
			dst, ok = appendValue(dst, vv)
		})
		return append(dst, '}'), ok
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst = append(dst, '[')
		for i, vv := range a {
			if i > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, ok = appendValue(dst, vv); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return normalize.AppendString(dst, b2s(s)), true
	case fastjson.TypeNumber:
		n := len(dst)
		dst = v.MarshalTo(dst)
		return dst, validNumber(dst[n:])
	case fastjson.TypeTrue:
		return append(dst, "true"...), true
	case fastjson.TypeFalse:
		return append(dst, "false"...), true
	}
	return append(dst, "null"...), true
}

// validNumber reports whether b is a JSON number (RFC 8259 §6).
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(b)
}

// ---- typed field access; absent and null read as "not there" ----

func present(v *fastjson.Value) bool { return v != nil && v.Type() != fastjson.TypeNull }

func (st *state) str(o *fastjson.Value, key, field string) ([]byte, error) {
	v := o.Get(key)
	if !present(v) {
		return nil, nil
	}
	if v.Type() != fastjson.TypeString {
		return nil, st.wrongType(field, "string", v)
	}
	b, _ := v.StringBytes()
	if b == nil {
		b = []byte{} // present but empty
	}
	return b, nil
}

func (st *state) obj(o *fastjson.Value, key, field string) (*fastjson.Value, error) {
	v := o.Get(key)
	if !present(v) {
		return nil, nil
	}
	if v.Type() != fastjson.TypeObject {
		return nil, st.wrongType(field, "object", v)
	}
	return v, nil
}

func (st *state) arr(o *fastjson.Value, key, field string) ([]*fastjson.Value, error) {
	v := o.Get(key)
	if !present(v) {
		return nil, nil
	}
	if v.Type() != fastjson.TypeArray {
		return nil, st.wrongType(field, "array", v)
	}
	a, _ := v.Array()
	return a, nil
}

func (st *state) bool(o *fastjson.Value, key, field string) (bool, error) {
	v := o.Get(key)
	if !present(v) {
		return false, nil
	}
	switch v.Type() {
	case fastjson.TypeTrue:
		return true, nil
	case fastjson.TypeFalse:
		return false, nil
	}
	return false, st.wrongType(field, "boolean", v)
}

// number returns the raw text of number v (valid until the next call),
// refusing what is not JSON number syntax (fastjson lets "1-2" or "NaN"
// through).
func (st *state) number(v *fastjson.Value, field string) ([]byte, error) {
	st.num = v.MarshalTo(st.num[:0])
	if !validNumber(st.num) {
		return nil, adapters.Inputf(codeMalformed, "%s: invalid number", st.at(field))
	}
	return st.num, nil
}

// int reads an integer (epoch milliseconds, counters).
func (st *state) int(o *fastjson.Value, key, field string) (int64, bool, error) {
	v := o.Get(key)
	if !present(v) {
		return 0, false, nil
	}
	if v.Type() != fastjson.TypeNumber {
		return 0, false, st.wrongType(field, "integer", v)
	}
	raw, err := st.number(v, field)
	if err != nil {
		return 0, false, err
	}
	n, err := strconv.ParseInt(b2s(raw), 10, 64)
	if err != nil {
		return 0, false, adapters.Inputf(codeWrongType, "%s: want a 64-bit integer", st.at(field))
	}
	return n, true, nil
}

func (st *state) float(o *fastjson.Value, key, field string) (float64, error) {
	v := o.Get(key)
	if v == nil || v.Type() != fastjson.TypeNumber {
		return 0, st.wrongTypeOrMissing(field, "number", v)
	}
	raw, err := st.number(v, field)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(b2s(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, adapters.Inputf(codeWrongType, "%s: want a finite number", st.at(field))
	}
	return f, nil
}

// id reads an id Meta sends as a number (app ids, sticker ids) or a
// string, returning its exact decimal text: never through float64. The
// result is valid until the next call.
func (st *state) id(o *fastjson.Value, key, field string) ([]byte, error) {
	v := o.Get(key)
	if !present(v) {
		return nil, nil
	}
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return b, nil
	case fastjson.TypeNumber:
		raw, err := st.number(v, field)
		if err != nil {
			return nil, err
		}
		for _, c := range raw {
			if c < '0' || c > '9' {
				return nil, adapters.Inputf(codeWrongType, "%s: want an integer id", st.at(field))
			}
		}
		return raw, nil
	}
	return nil, st.wrongType(field, "string or integer", v)
}

// ---- errors ----

// at renders the path of field in the current item, e.g.
// entry[0].messaging[1].sender.id. Only called on error paths.
func (st *state) at(field string) string {
	b := make([]byte, 0, 64)
	if st.entry >= 0 {
		b = append(b, "entry["...)
		b = strconv.AppendInt(b, int64(st.entry), 10)
		b = append(b, ']')
		if st.list != "" {
			b = append(b, '.')
			b = append(b, st.list...)
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(st.item), 10)
			b = append(b, ']')
		}
		if st.sub != "" {
			b = append(b, '.')
			b = append(b, st.sub...)
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(st.subI), 10)
			b = append(b, ']')
		}
	}
	if field != "" {
		if len(b) > 0 {
			b = append(b, '.')
		}
		b = append(b, field...)
	}
	return string(b)
}

// entryAt is the path of a field of the current entry.
func (st *state) entryAt(field string) string {
	return "entry[" + strconv.Itoa(st.entry) + "]." + field
}

func (st *state) wrongType(field, want string, v *fastjson.Value) error {
	path := st.at(field)
	if path == "" {
		path = "body"
	}
	return adapters.Inputf(codeWrongType, "%s: want %s, got %s", path, want, v.Type())
}

func (st *state) wrongTypeOrMissing(field, want string, v *fastjson.Value) error {
	if v == nil {
		return adapters.Inputf(codeMissing, "%s: required", st.at(field))
	}
	return st.wrongType(field, want, v)
}

// ---- emit ----

// emit turns the drafts into events appended to dst: one string for all
// text, one buffer for all metadata, one slice for all attachments.
func (st *state) emit(a *Adapter, dst []normalize.Event) []normalize.Event {
	if len(st.drafts) == 0 {
		return dst
	}
	arena := string(st.buf)
	str := func(s span) string { return arena[s.off:s.end] }
	var md []byte
	if len(st.meta) > 0 {
		md = bytes.Clone(st.meta)
	}
	var atts []normalize.Attachment
	if len(st.atts) > 0 {
		atts = make([]normalize.Attachment, len(st.atts))
		for i := range st.atts {
			da := &st.atts[i]
			atts[i] = normalize.Attachment{
				Type:      da.typ,
				URL:       str(da.url),
				MediaID:   str(da.mediaID),
				Name:      str(da.name),
				StickerID: str(da.stickerID),
			}
		}
	}
	var locs []normalize.Location
	if len(st.locs) > 0 {
		locs = slices.Clone(st.locs)
	}
	dst = slices.Grow(dst, len(st.drafts))
	n := len(dst)
	for i := range st.drafts {
		d := &st.drafts[i]
		e := normalize.Event{
			ID:           str(d.id),
			Type:         d.typ,
			Channel:      Name,
			Connection:   a.Connection,
			BotID:        str(d.bot),
			ChannelID:    str(d.person),
			ResponsePath: str(d.path),
			Sender:       normalize.Sender{ID: str(d.sender)},
			Text:         str(d.text),
			Payload:      str(d.payload),
			NativeID:     str(d.native),
			ReplyTo:      str(d.to),
		}
		if d.hasTS {
			e.Timestamp = time.UnixMilli(d.ts).UTC()
		}
		if d.meta.end > d.meta.off {
			e.Metadata = md[d.meta.off:d.meta.end:d.meta.end]
		}
		if d.att1 > d.att0 {
			e.Attachments = atts[d.att0:d.att1:d.att1]
		}
		if d.loc > 0 {
			l := &locs[d.loc-1]
			l.Name = e.Attachments[0].Name
			e.Location = l
		}
		dst = append(dst, e)
	}
	uniqueIDs(dst[n:])
	return dst
}

// uniqueIDs keeps ids unique within one batch: an event whose id an
// earlier event with different content already holds gets "#2", "#3", …
// (the first free one), in order of appearance, so the same body always
// gets the same ids. Exact repeats keep the shared id, so the gateway's
// dedup drops them.
func uniqueIDs(evs []normalize.Event) {
	if !hasDuplicateID(evs) {
		return
	}
	taken := make(map[string]int, len(evs)) // id → the event holding it
	for i := range evs {
		base := evs[i].ID
		id := base
		for k := 2; ; k++ {
			j, ok := taken[id]
			if !ok {
				taken[id] = i
				break
			}
			if sameContent(&evs[j], &evs[i]) {
				break
			}
			id = base + "#" + strconv.Itoa(k)
		}
		evs[i].ID = id
	}
}

func hasDuplicateID(evs []normalize.Event) bool {
	if len(evs) < 2 {
		return false
	}
	if len(evs) <= 16 {
		for i := 1; i < len(evs); i++ {
			for j := range i {
				if evs[i].ID == evs[j].ID {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[string]struct{}, len(evs))
	for i := range evs {
		if _, ok := seen[evs[i].ID]; ok {
			return true
		}
		seen[evs[i].ID] = struct{}{}
	}
	return false
}

// sameContent compares every field but the id.
func sameContent(a, b *normalize.Event) bool {
	if a.Type != b.Type || a.BotID != b.BotID || a.ChannelID != b.ChannelID ||
		a.Sender != b.Sender || a.Text != b.Text || a.Payload != b.Payload ||
		a.NativeID != b.NativeID || a.ReplyTo != b.ReplyTo ||
		!a.Timestamp.Equal(b.Timestamp) || !bytes.Equal(a.Metadata, b.Metadata) ||
		!slices.Equal(a.Attachments, b.Attachments) {
		return false
	}
	if (a.Location == nil) != (b.Location == nil) {
		return false
	}
	return a.Location == nil || *a.Location == *b.Location
}
