package meta

import (
	"bytes"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// MessagingParser parses the webhooks Messenger and Instagram share
// (channels/meta.md §3, §4, §6): {object, entry[]} with per-entry
// messaging[] and standby[] items, each becoming one canonical event. It is
// the one implementation of that envelope; the two adapters differ only in
// the fields below. The zero value is not useful: Channel and Object are
// required. A MessagingParser is a small value, cheap to build per call.
type MessagingParser struct {
	// Channel names the events' channel and prefixes their ids
	// ("messenger", "instagram").
	Channel string
	// Object is the webhook's object value this channel accepts ("page",
	// "instagram"); any other is refused as unknown_object.
	Object string
	// Title and Account name, in error messages, the channel and what
	// entry.id is ("Messenger", "Page").
	Title, Account string
	// Connection is the configured connection name the events carry.
	Connection string
	// AppID is this app's id: echoes carrying it get metadata own: true.
	AppID string
	// Changes turns entry.changes[] items (Instagram comments, mentions)
	// into unknown events; when false they are skipped.
	Changes bool
}

// Parse appends one canonical event per messaging[] and standby[] item of
// every entry of body (and per changes[] item when p.Changes is set), in
// the order Meta sent them. A body it cannot read is refused whole with an
// *adapters.InputError, and dst comes back unchanged: a batch is never
// half-forwarded. An event key it does not know becomes TypeUnknown.
//
// Memory: the appended events never alias body or the parser. All strings
// of one call share one allocation, all metadata another and all
// attachments a third, so a typical text webhook costs one allocation; an
// event kept alive keeps its batch's arena alive, which is at most the
// size of the body.
//
// Event ids are stable dedup keys derived from the payload only (the
// adapters' README.md, "Event ids"); within one call, two events whose
// content differs never share an id.
func (p *MessagingParser) Parse(dst []normalize.Event, body []byte) ([]normalize.Event, error) {
	st := acquireState()
	defer releaseState(st, len(body))
	st.cfg = *p
	if err := st.parse(body); err != nil {
		return dst, err
	}
	return st.emit(dst), nil
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
	// senderName is the person's username where Meta gives one
	// (Instagram changes[] from.username).
	senderName span
}

type draftAtt struct {
	typ                           string // canonical, a constant
	url, mediaID, name, stickerID span
}

// state is what one Parse call needs; it is pooled with its fastjson
// parser, so a warm Parse allocates only what it returns.
type state struct {
	cfg    MessagingParser
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
	st.cfg = MessagingParser{}
	st.buf, st.meta = st.buf[:0], st.meta[:0]
	st.drafts, st.atts, st.locs = st.drafts[:0], st.atts[:0], st.locs[:0]
	statePool.Put(st)
}

// item is one messaging[] or standby[] element with its envelope read.
type item struct {
	v                    *fastjson.Value
	page                 []byte // entry.id
	sid, sref, rid, rref []byte // sender.id, sender.user_ref, recipient.id, recipient.user_ref
	ts                   int64
	hasTS                bool
}

func (st *state) parse(body []byte) error {
	st.entry, st.list, st.sub = -1, "", ""
	// fastjson's Parse checks the structure (brackets, commas, literals,
	// depth, trailing data) but not the syntax of numbers nor control
	// characters and escapes inside strings; its Validate would, at the
	// cost of a second pass as long as the parse itself. Parse skips it:
	// every number Parse reads is checked (adapters.ValidNumber), and
	// every string is re-encoded by normalize.AppendString, so the events
	// are always valid JSON whatever the body's unread parts hold.
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
	if string(obj) != st.cfg.Object {
		if obj == nil {
			return adapters.Inputf(codeObject, "object: missing, want %q", st.cfg.Object)
		}
		if len(obj) > 64 {
			obj = obj[:64]
		}
		return adapters.Inputf(codeObject, "object: %q is not a %s webhook, want %q", obj, st.cfg.Title, st.cfg.Object)
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
				if err := st.parseItem(v, page, list == "standby"); err != nil {
					return err
				}
			}
		}
		if st.cfg.Changes {
			if err := st.changes(e, page); err != nil {
				return err
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

func (st *state) parseItem(v *fastjson.Value, page []byte, standby bool) error {
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
		err = st.message(&d, &it, kv)
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
		st.meta = normalize.AppendString(st.meta, adapters.View(st.buf[d.person.off:d.person.end]))
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
// with no one behind them); the bot (Page or IG account) may not.
func (st *state) address(d *draft, page, person []byte) error {
	if len(page) == 0 {
		return adapters.Inputf(codeMissing, "%s: required (the %s id)", st.entryAt("id"), st.cfg.Account)
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

// pageID is the bot an event belongs to (Page or IG account): entry.id,
// else recipient.id (or sender.id on an echo).
func (it *item) pageID(echo bool) []byte {
	switch {
	case len(it.page) > 0:
		return it.page
	case echo:
		return it.sid
	}
	return it.rid
}

// person is who a user event is about: sender.id (PSID, IGSID), else
// sender.user_ref (plugin users without a PSID), which sets d.userRef.
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

// prefix appends the id prefix "<channel>:" and returns where it began.
func (st *state) prefix() int {
	off := len(st.buf)
	st.buf = append(st.buf, st.cfg.Channel...)
	st.buf = append(st.buf, ':')
	return off
}

// midID sets id = "<channel>:" + mid and native = mid, sharing bytes.
func (st *state) midID(d *draft, mid []byte) {
	off := st.prefix()
	m := len(st.buf)
	st.buf = append(st.buf, mid...)
	d.id, d.native = span{off, len(st.buf)}, span{m, len(st.buf)}
}

// kindID sets id = "<channel>:<kind>:<page>:<person>:<disc>", the key of
// events that have no mid of their own; disc is a watermark or the
// event's timestamp.
func (st *state) kindID(d *draft, kind string, disc int64, hasDisc bool) {
	off := st.kindHead(d, kind)
	if hasDisc {
		st.buf = strconv.AppendInt(st.buf, disc, 10)
	}
	d.id = span{off, len(st.buf)}
}

// kindHead appends "<channel>:<kind>:<page>:<person>:" and returns where
// it began.
func (st *state) kindHead(d *draft, kind string) int {
	off := st.prefix()
	st.buf = append(st.buf, kind...)
	st.buf = append(st.buf, ':')
	st.buf = append(st.buf, st.buf[d.bot.off:d.bot.end]...)
	st.buf = append(st.buf, ':')
	st.buf = append(st.buf, st.buf[d.person.off:d.person.end]...)
	st.buf = append(st.buf, ':')
	return off
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

// ---- emit ----

// emit turns the drafts into events appended to dst: one string for all
// text, one buffer for all metadata, one slice for all attachments.
func (st *state) emit(dst []normalize.Event) []normalize.Event {
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
			Channel:      st.cfg.Channel,
			Connection:   st.cfg.Connection,
			BotID:        str(d.bot),
			ChannelID:    str(d.person),
			ResponsePath: str(d.path),
			Sender:       normalize.Sender{ID: str(d.sender), Username: str(d.senderName)},
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
			if SameContent(&evs[j], &evs[i]) {
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

// SameContent reports whether two events are equal in every field but the
// id: the test Parse's id scheme applies within a batch, exported for the
// adapters' tests.
func SameContent(a, b *normalize.Event) bool {
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
