package telegram

import (
	"crypto/hmac"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

var _ adapters.Inbound = (*Adapter)(nil)

// SecretHeader carries setWebhook's secret_token on every delivery
// (channels/telegram-viber.md §1.2). Telegram signs nothing else.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// Errors of Verify; errors.Is matches both these and the shared adapters
// sentinels they wrap.
var (
	ErrMissingSignature = fmt.Errorf("telegram: %w", adapters.ErrMissingSignature)
	ErrBadSignature     = fmt.Errorf("telegram: %w", adapters.ErrBadSignature)
)

// Preallocated so that a refused request costs no allocation.
var (
	errNoHeader = fmt.Errorf("%w: no %s header", ErrMissingSignature, SecretHeader)
	errMismatch = fmt.Errorf("%w: %s does not match the configured secret_token", ErrBadSignature, SecretHeader)
	errNoSecret = fmt.Errorf("%w: no secret_token configured", ErrBadSignature)
)

// Verify compares X-Telegram-Bot-Api-Secret-Token with the configured
// secret in constant time (hmac.Equal; only the length can leak). The body
// carries no signature and is not looked at. An adapter without a secret
// refuses everything. It allocates nothing.
func (a *Adapter) Verify(h adapters.Peeker, _ []byte) error {
	if len(a.SecretToken) == 0 {
		return errNoSecret
	}
	got := h.Peek(SecretHeader)
	if len(got) == 0 {
		return errNoHeader
	}
	if !hmac.Equal(got, a.SecretToken) {
		return errMismatch
	}
	return nil
}

// Input error codes (adapters.InputError).
const (
	codeMalformed = "malformed_json"
	codeWrongType = "wrong_type"
	codeMissing   = "missing_field"
)

// Update fields this adapter maps to a canonical type other than unknown,
// in the order they are looked for (an Update carries at most one).
var knownKinds = [...]string{
	"message", "edited_message", "channel_post", "edited_channel_post",
	"callback_query", "my_chat_member", "chat_member", "chat_join_request",
	"message_reaction",
}

// Parse appends the one canonical event of a Telegram Update to dst
// (README.md has the mapping). A body it cannot read is refused with an
// *adapters.InputError and dst comes back unchanged; an update kind it does
// not know becomes TypeUnknown with metadata {"kind": "<field>"}.
//
// Ids (update, chat, user, message) are copied as the exact digits
// Telegram wrote, never through float64; one that is not an integer that
// fits int64 is wrong_type.
//
// Memory: the event never aliases body or the parser. Its strings and its
// metadata share one allocation (the strings are immutable views of the
// front of it, Metadata is the capped tail), an attachment and a location
// cost one more each; a text message costs one allocation in all.
func (a *Adapter) Parse(dst []normalize.Event, body []byte) ([]normalize.Event, error) {
	st := acquireState()
	defer releaseState(st)
	if err := st.parse(a, body); err != nil {
		return dst, err
	}
	return append(dst, st.emit(a)), nil
}

// span is a half-open range of the state's string arena.
type span struct{ off, end int }

func (s span) empty() bool { return s.end == s.off }

// draft is the event under construction; its strings are spans of st.buf.
type draft struct {
	typ                              normalize.EventType
	id, path, channel                span
	sid, sname, suser, slang         span
	text, payload, cmd, args, native span
	replyTo                          span
	ts                               int64 // Unix seconds; 0 for none
	att                              draftAtt
	hasAtt                           bool
	loc                              normalize.Location // Name, Address unused: see locName
	locName, locAddr                 span
	hasLoc                           bool
}

type draftAtt struct {
	typ                                string // canonical, a constant
	mediaID, mime, name, caption, stkr span
	size                               int64
}

// state is what one Parse needs; pooled with its fastjson parser, so a
// warm Parse allocates only what it returns.
type state struct {
	p    fastjson.Parser
	buf  []byte // string arena
	meta []byte // metadata object, "{" … "}"
	num  []byte // scratch for the raw digits of one number
	kind string // the update field being parsed, for error paths
	d    draft
}

var statePool sync.Pool

// maxPooledBytes keeps a state that parsed a huge update out of the pool.
const maxPooledBytes = 64 << 10

func acquireState() *state {
	if st, ok := statePool.Get().(*state); ok {
		return st
	}
	return &state{}
}

func releaseState(st *state) {
	if cap(st.buf) > maxPooledBytes || cap(st.meta) > maxPooledBytes {
		return
	}
	st.buf, st.meta, st.num = st.buf[:0], st.meta[:0], st.num[:0]
	st.d, st.kind = draft{}, ""
	statePool.Put(st)
}

// emit builds the event from the draft: one allocation holds every string
// and, after them, the metadata.
func (st *state) emit(a *Adapter) normalize.Event {
	d := &st.d
	n := len(st.buf)
	out := make([]byte, n+len(st.meta))
	copy(out, st.buf)
	copy(out[n:], st.meta)
	// out[:n] is never written again: the strings may view it.
	s := unsafe.String(unsafe.SliceData(out), n)
	str := func(sp span) string { return s[sp.off:sp.end] }
	e := normalize.Event{
		ID:           str(d.id),
		Type:         d.typ,
		Channel:      Name,
		Connection:   a.Connection,
		BotID:        a.BotID,
		ChannelID:    str(d.channel),
		ResponsePath: str(d.path),
		Sender: normalize.Sender{
			ID:       str(d.sid),
			Name:     str(d.sname),
			Username: str(d.suser),
			Language: str(d.slang),
		},
		Text:     str(d.text),
		Payload:  str(d.payload),
		Command:  str(d.cmd),
		Args:     str(d.args),
		NativeID: str(d.native),
		ReplyTo:  str(d.replyTo),
	}
	if d.ts != 0 {
		e.Timestamp = time.Unix(d.ts, 0).UTC()
	}
	if len(st.meta) > 0 {
		e.Metadata = out[n:len(out):len(out)]
	}
	if d.hasAtt {
		e.Attachments = []normalize.Attachment{{
			Type:      d.att.typ,
			MediaID:   str(d.att.mediaID),
			MimeType:  str(d.att.mime),
			Name:      str(d.att.name),
			Size:      d.att.size,
			Caption:   str(d.att.caption),
			StickerID: str(d.att.stkr),
		}}
	}
	if d.hasLoc {
		loc := d.loc
		loc.Name, loc.Address = str(d.locName), str(d.locAddr)
		e.Location = &loc
	}
	return e
}

// Arena and metadata writers.

func (st *state) add(b []byte) span {
	off := len(st.buf)
	st.buf = append(st.buf, b...)
	return span{off, len(st.buf)}
}

func (st *state) metaKey(key string) {
	st.meta = adapters.AppendObjectKey(st.meta, 0, key)
}

func (st *state) metaStr(key string, v []byte) {
	st.metaKey(key)
	st.meta = normalize.AppendString(st.meta, adapters.View(v))
}

func (st *state) metaString(key, v string) {
	st.metaKey(key)
	st.meta = normalize.AppendString(st.meta, v)
}

// metaID writes an id (raw integer digits) as a JSON string, so that
// backends in languages without 64-bit integers keep it exact.
func (st *state) metaID(key string, digits []byte) {
	st.metaKey(key)
	st.meta = append(st.meta, '"')
	st.meta = append(st.meta, digits...)
	st.meta = append(st.meta, '"')
}

func (st *state) metaTrue(key string) {
	st.metaKey(key)
	st.meta = append(st.meta, "true"...)
}

func (st *state) metaInt(key string, n int64) {
	st.metaKey(key)
	st.meta = strconv.AppendInt(st.meta, n, 10)
}

func (st *state) closeMeta() {
	if len(st.meta) > 0 {
		st.meta = append(st.meta, '}')
	}
}

// Error paths: at names where a field sits, joined only when an error is
// built, so that the success path formats nothing.

type at struct {
	seg [3]string // kind, then nested fields; joined with "." on error
	n   int
	i   int // index after the last segment, or -1
}

func here(kind string) at {
	p := at{i: -1}
	if kind != "" {
		p.seg[0], p.n = kind, 1
	}
	return p
}

// in is p's field f. Paths are at most three deep here; a deeper one would
// fold its tail into the last segment.
func (p at) in(f string) at {
	p.i = -1
	if p.n < len(p.seg) {
		p.seg[p.n] = f
		p.n++
	} else {
		p.seg[len(p.seg)-1] += "." + f
	}
	return p
}

// index is p's array f at element i.
func (p at) index(f string, i int) at {
	p = p.in(f)
	p.i = i
	return p
}

func (p at) key(k string) string {
	s := strings.Join(p.seg[:p.n], ".")
	if p.i >= 0 {
		s += "[" + strconv.Itoa(p.i) + "]"
	}
	if s == "" {
		return k
	}
	if k == "" {
		return s
	}
	return s + "." + k
}

func wrongType(p at, key, want string, got *fastjson.Value) error {
	return adapters.Inputf(codeWrongType, "%s: want %s, got %s", orBody(p.key(key)), want, got.Type())
}

func missing(p at, key string) error {
	return adapters.Inputf(codeMissing, "%s: missing", p.key(key))
}

func orBody(s string) string {
	if s == "" {
		return "body"
	}
	return s
}

// Typed field access. Each returns the member key of v; a JSON null is the
// same as an absent member.

func field(v *fastjson.Value, key string) *fastjson.Value {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return nil
	}
	return f
}

func object(v *fastjson.Value, p at, key string) (*fastjson.Value, error) {
	f := field(v, key)
	if f != nil && f.Type() != fastjson.TypeObject {
		return nil, wrongType(p, key, "object", f)
	}
	return f, nil
}

func array(v *fastjson.Value, p at, key string) ([]*fastjson.Value, bool, error) {
	f := field(v, key)
	if f == nil {
		return nil, false, nil
	}
	if f.Type() != fastjson.TypeArray {
		return nil, false, wrongType(p, key, "array", f)
	}
	arr, _ := f.Array()
	return arr, true, nil
}

// str returns the unescaped bytes of a string member; they alias the
// parser and must be copied before the next Parse.
func str(v *fastjson.Value, p at, key string) ([]byte, bool, error) {
	f := field(v, key)
	if f == nil {
		return nil, false, nil
	}
	if f.Type() != fastjson.TypeString {
		return nil, false, wrongType(p, key, "string", f)
	}
	b, _ := f.StringBytes()
	return b, true, nil
}

// strReader reads optional string members of one object: after the first
// error (kept in err) it reads nothing, so a run of reads needs one check.
type strReader struct {
	v   *fastjson.Value
	p   at
	err error
}

func (r *strReader) get(key string) []byte {
	if r.err != nil {
		return nil
	}
	b, _, err := str(r.v, r.p, key)
	r.err = err
	return b
}

// id returns the raw digits of an integer id member in st.num, valid until
// the next call. Floats, exponents, strings and integers outside int64 are
// wrong_type: an id that went through a float upstream is not trusted.
func (st *state) id(v *fastjson.Value, p at, key string) ([]byte, bool, error) {
	f := field(v, key)
	if f == nil {
		return nil, false, nil
	}
	if f.Type() != fastjson.TypeNumber {
		return nil, false, wrongType(p, key, "integer id", f)
	}
	st.num = f.MarshalTo(st.num[:0])
	if !isIntID(adapters.View(st.num)) {
		return nil, false, adapters.Inputf(codeWrongType, "%s: want a 64-bit integer id, got %s", p.key(key), st.num)
	}
	return st.num, true, nil
}

func (st *state) requiredID(v *fastjson.Value, p at, key string) ([]byte, error) {
	raw, ok, err := st.id(v, p, key)
	if err == nil && !ok {
		err = missing(p, key)
	}
	return raw, err
}

// integer reads an integer member that is not an id (a date, a size).
func integer(v *fastjson.Value, p at, key string) (int64, bool, error) {
	f := field(v, key)
	if f == nil {
		return 0, false, nil
	}
	if f.Type() != fastjson.TypeNumber {
		return 0, false, wrongType(p, key, "integer", f)
	}
	n, err := f.Int64()
	if err != nil {
		return 0, false, adapters.Inputf(codeWrongType, "%s: want a 64-bit integer", p.key(key))
	}
	return n, true, nil
}

func float(v *fastjson.Value, p at, key string) (float64, bool, error) {
	f := field(v, key)
	if f == nil {
		return 0, false, nil
	}
	if f.Type() != fastjson.TypeNumber {
		return 0, false, wrongType(p, key, "number", f)
	}
	x, err := f.Float64()
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, false, adapters.Inputf(codeWrongType, "%s: want a finite number", p.key(key))
	}
	return x, true, nil
}

func boolean(v *fastjson.Value, p at, key string) (bool, error) {
	f := field(v, key)
	if f == nil {
		return false, nil
	}
	switch f.Type() {
	case fastjson.TypeTrue:
		return true, nil
	case fastjson.TypeFalse:
		return false, nil
	}
	return false, wrongType(p, key, "boolean", f)
}

// maxUnix is 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
const maxUnix = 253402300799

// date reads a Unix-seconds member into the draft's timestamp.
func (st *state) date(v *fastjson.Value, p at, key string) error {
	n, ok, err := integer(v, p, key)
	if err != nil || !ok {
		return err
	}
	if n < 0 || n > maxUnix {
		return adapters.Inputf(codeWrongType, "%s: %d is out of range for a Unix time", p.key(key), n)
	}
	if n != 0 { // 0 marks an inaccessible message: no time
		st.d.ts = n
	}
	return nil
}

// isIntID reports whether s is a decimal integer that fits int64, as JSON
// writes one: an optional minus sign and digits, nothing else.
func isIntID(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	i := 0
	if s[0] == '-' {
		i = 1
	}
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// The parse.

func (st *state) parse(a *Adapter, body []byte) error {
	// fastjson's parser skips number and string checks its validator
	// makes; validate first so that what passes is JSON.
	if err := fastjson.ValidateBytes(body); err != nil {
		return adapters.Inputf(codeMalformed, "%v", err)
	}
	root, err := st.p.ParseBytes(body)
	if err != nil {
		return adapters.Inputf(codeMalformed, "%v", err)
	}
	if root.Type() != fastjson.TypeObject {
		return wrongType(here(""), "", "object", root)
	}
	upd, err := st.requiredID(root, here(""), "update_id")
	if err != nil {
		return err
	}
	// Event id: update ids are per bot (§1.3), so the bot id scopes them.
	off := len(st.buf)
	st.buf = append(st.buf, "telegram:"...)
	st.buf = append(st.buf, a.BotID...)
	st.buf = append(st.buf, ':')
	st.buf = append(st.buf, upd...)
	st.d.id = span{off, len(st.buf)}

	kind, v := findKind(root)
	st.kind = kind
	if kind != "" {
		st.metaString("kind", kind)
	}
	p := here(kind)
	switch kind {
	case "message", "channel_post":
		err = st.message(a, v, p, false)
	case "edited_message", "edited_channel_post":
		err = st.message(a, v, p, true)
	case "callback_query":
		err = st.callback(a, v, p)
	case "my_chat_member", "chat_member":
		err = st.member(a, v, p)
	case "chat_join_request":
		err = st.joinRequest(a, v, p)
	case "message_reaction":
		err = st.reaction(a, v, p)
	default:
		st.unknown(a, v)
	}
	if err != nil {
		return err
	}
	st.closeMeta()
	return nil
}

// findKind returns the update field present and its value: the first of
// knownKinds, else the first member other than update_id (an update kind
// this adapter does not map), else "".
func findKind(root *fastjson.Value) (string, *fastjson.Value) {
	for _, k := range knownKinds {
		if v := field(root, k); v != nil {
			return k, v
		}
	}
	var kind string
	var val *fastjson.Value
	o, _ := root.Object()
	o.Visit(func(key []byte, v *fastjson.Value) {
		if kind == "" && string(key) != "update_id" && v.Type() != fastjson.TypeNull {
			kind, val = string(key), v
		}
	})
	return kind, val
}

func (st *state) needObject(v *fastjson.Value, p at) error {
	if v.Type() != fastjson.TypeObject {
		return wrongType(here(""), p.key(""), "object", v)
	}
	return nil
}

// chat reads a Chat: its id becomes the channel id and response path
// (groups answer to the group, §1.7).
func (st *state) chat(a *Adapter, c *fastjson.Value, p at) error {
	id, err := st.requiredID(c, p, "id")
	if err != nil {
		return err
	}
	st.setChannel(a, id)
	r := strReader{v: c, p: p}
	typ, title := r.get("type"), r.get("title")
	if r.err != nil {
		return r.err
	}
	if len(typ) > 0 {
		st.metaStr("chat_type", typ)
	}
	if len(title) > 0 {
		st.metaStr("chat_title", title)
	}
	return nil
}

// setChannel makes id (raw digits) the conversation: path = bot/c/id, the
// channel id a view of its tail.
func (st *state) setChannel(a *Adapter, id []byte) {
	off := len(st.buf)
	st.buf = normalize.AppendResponsePath(st.buf, a.BotID, adapters.View(id))
	st.d.path = span{off, len(st.buf)}
	st.d.channel = span{len(st.buf) - len(id), len(st.buf)}
}

// user reads a User into the sender: id, "first last", username,
// language_code.
func (st *state) user(u *fastjson.Value, p at) error {
	if err := st.needObject(u, p); err != nil {
		return err
	}
	id, err := st.requiredID(u, p, "id")
	if err != nil {
		return err
	}
	st.d.sid = st.add(id)
	r := strReader{v: u, p: p}
	first, last, user, lang := r.get("first_name"), r.get("last_name"), r.get("username"), r.get("language_code")
	if r.err != nil {
		return r.err
	}
	off := len(st.buf)
	st.buf = append(st.buf, first...)
	if len(first) > 0 && len(last) > 0 {
		st.buf = append(st.buf, ' ')
	}
	st.buf = append(st.buf, last...)
	st.d.sname = span{off, len(st.buf)}
	st.d.suser = st.add(user)
	st.d.slang = st.add(lang)
	return nil
}

// senderChat reads a Chat that acted (a channel post, an anonymous group
// admin, a linked channel) into the sender: id, title, username.
func (st *state) senderChat(c *fastjson.Value, p at) error {
	if err := st.needObject(c, p); err != nil {
		return err
	}
	id, err := st.requiredID(c, p, "id")
	if err != nil {
		return err
	}
	st.d.sid = st.add(id)
	r := strReader{v: c, p: p}
	title, user := r.get("title"), r.get("username")
	if r.err != nil {
		return r.err
	}
	st.d.sname = st.add(title)
	st.d.suser = st.add(user)
	st.d.slang = span{}
	st.metaTrue("sender_chat")
	return nil
}

// message reads a Message (message, edited_message, channel_post,
// edited_channel_post).
func (st *state) message(a *Adapter, m *fastjson.Value, p at, edited bool) error {
	if err := st.needObject(m, p); err != nil {
		return err
	}
	if err := st.messageEnvelope(a, m, p); err != nil {
		return err
	}
	if edited {
		if err := st.date(m, p, "edit_date"); err != nil {
			return err
		}
	}
	if err := st.content(a, m, p); err != nil {
		return err
	}
	if edited {
		st.d.typ = normalize.TypeEdited
	}
	return nil
}

// messageEnvelope reads what every message has: id, chat, sender, date,
// thread, reply and album.
func (st *state) messageEnvelope(a *Adapter, m *fastjson.Value, p at) error {
	mid, err := st.requiredID(m, p, "message_id")
	if err != nil {
		return err
	}
	st.d.native = st.add(mid)
	c, err := object(m, p, "chat")
	if err != nil {
		return err
	}
	if c == nil {
		return missing(p, "chat")
	}
	if err := st.chat(a, c, p.in("chat")); err != nil {
		return err
	}
	// Anonymous admins and linked channels post as sender_chat; from is
	// then a placeholder bot (GroupAnonymousBot, Channel_Bot).
	if sc := field(m, "sender_chat"); sc != nil {
		if err := st.senderChat(sc, p.in("sender_chat")); err != nil {
			return err
		}
	} else if u := field(m, "from"); u != nil {
		if err := st.user(u, p.in("from")); err != nil {
			return err
		}
	}
	if err := st.date(m, p, "date"); err != nil {
		return err
	}
	thread, ok, err := st.id(m, p, "message_thread_id")
	if err != nil {
		return err
	}
	if ok {
		st.metaID("thread_id", thread)
	}
	topic, err := boolean(m, p, "is_topic_message")
	if err != nil {
		return err
	}
	if topic {
		st.metaTrue("is_topic_message")
	}
	if r, err := object(m, p, "reply_to_message"); err != nil {
		return err
	} else if r != nil {
		rid, ok, err := st.id(r, p.in("reply_to_message"), "message_id")
		if err != nil {
			return err
		}
		if ok {
			st.d.replyTo = st.add(rid)
		}
	}
	group, ok, err := str(m, p, "media_group_id")
	if err != nil {
		return err
	}
	if ok {
		st.metaStr("media_group_id", group)
	}
	return nil
}

// content reads what a message says into the event's type and fields.
// Exactly one branch applies; the order follows the Bot API's "at most
// one of" groups, animation before document (a GIF sets both) and venue
// before location (a venue sets both).
func (st *state) content(a *Adapter, m *fastjson.Value, p at) error {
	d := &st.d
	if text, ok, err := str(m, p, "text"); err != nil {
		return err
	} else if ok {
		d.typ = normalize.TypeText
		d.text = st.add(text)
		st.command(a)
		return nil
	}
	caption, _, err := str(m, p, "caption")
	if err != nil {
		return err
	}
	media := func(key, typ, flag string, name bool) (bool, error) {
		f := field(m, key)
		if f == nil {
			return false, nil
		}
		if err := st.file(f, p.in(key), typ, name); err != nil {
			return false, err
		}
		if flag != "" {
			st.metaTrue(flag)
		}
		d.typ = normalize.TypeAttachment
		d.text = st.add(caption)
		return true, nil
	}
	for _, mt := range [...]struct {
		key, typ, flag string
		name           bool
	}{
		{"animation", "video", "animation", true},
		{"document", "file", "", true},
		{"audio", "audio", "", true},
		{"voice", "audio", "voice", false},
		{"video", "video", "", true},
		{"video_note", "video", "video_note", false},
	} {
		if ok, err := media(mt.key, mt.typ, mt.flag, mt.name); ok || err != nil {
			return err
		}
	}
	if sizes, ok, err := array(m, p, "photo"); err != nil {
		return err
	} else if ok && len(sizes) > 0 {
		if err := st.photo(sizes, p); err != nil {
			return err
		}
		d.typ = normalize.TypeAttachment
		d.text = st.add(caption)
		return nil
	}
	if s := field(m, "sticker"); s != nil {
		return st.sticker(s, p.in("sticker"))
	}
	if v := field(m, "venue"); v != nil {
		return st.venue(v, p.in("venue"))
	}
	if l := field(m, "location"); l != nil {
		if err := st.location(l, p.in("location")); err != nil {
			return err
		}
		d.typ = normalize.TypeLocation
		return nil
	}
	if c := field(m, "contact"); c != nil {
		return st.contact(c, p.in("contact"))
	}
	if ok, err := st.serviceMembers(m, p); ok || err != nil {
		return err
	}
	if ok, err := st.migration(a, m, p); ok || err != nil {
		return err
	}
	// Anything else (poll, dice, game, invoice, story, pinned_message,
	// forum-topic events, …): unknown, naming what it carried.
	d.typ = normalize.TypeUnknown
	d.text = st.add(caption)
	if k := contentKey(m); k != "" {
		st.metaString("content", k)
	}
	return nil
}

// command splits "/name[@bot] args" out of the text just read (README.md,
// "Commands"): Command is name without the @suffix, Args the rest trimmed.
// A suffix naming another bot than a.Username (or any suffix, when the
// username is unknown) is reported as metadata for_bot.
func (st *state) command(a *Adapter) {
	d := &st.d
	t := st.buf[d.text.off:d.text.end]
	name, bot, args, ok := splitCommand(t)
	if !ok {
		return
	}
	base := d.text.off
	d.cmd = span{base + name.off, base + name.end}
	d.args = span{base + args.off, base + args.end}
	if !bot.empty() {
		b := t[bot.off:bot.end]
		if a.Username == "" || !strings.EqualFold(adapters.View(b), a.Username) {
			st.metaStr("for_bot", b)
		}
	}
}

// splitCommand parses t as Telegram clients write a bot command: "/", a
// name of letters, digits and underscores, optionally "@" and a bot
// username, then the end or whitespace. Offsets are relative to t.
func splitCommand(t []byte) (name, bot, args span, ok bool) {
	if len(t) < 2 || t[0] != '/' {
		return
	}
	i := 1
	for i < len(t) && isCommandChar(t[i]) {
		i++
	}
	if i == 1 {
		return
	}
	name = span{1, i}
	if i < len(t) && t[i] == '@' {
		j := i + 1
		for j < len(t) && isCommandChar(t[j]) {
			j++
		}
		if j == i+1 {
			return span{}, span{}, span{}, false
		}
		bot = span{i + 1, j}
		i = j
	}
	if i < len(t) && !isSpace(t[i]) {
		return span{}, span{}, span{}, false
	}
	for i < len(t) && isSpace(t[i]) {
		i++
	}
	end := len(t)
	for end > i && isSpace(t[end-1]) {
		end--
	}
	return name, bot, span{i, end}, true
}

func isCommandChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// file reads a Document, Audio, Voice, Video, VideoNote or Animation.
func (st *state) file(f *fastjson.Value, p at, typ string, withName bool) error {
	if err := st.needObject(f, p); err != nil {
		return err
	}
	d := &st.d
	id, ok, err := str(f, p, "file_id")
	if err != nil {
		return err
	}
	if !ok {
		return missing(p, "file_id")
	}
	d.hasAtt = true
	d.att.typ = typ
	d.att.mediaID = st.add(id)
	mime, _, err := str(f, p, "mime_type")
	if err != nil {
		return err
	}
	d.att.mime = st.add(mime)
	if withName {
		name, _, err := str(f, p, "file_name")
		if err != nil {
			return err
		}
		d.att.name = st.add(name)
	}
	size, _, err := integer(f, p, "file_size")
	if err != nil {
		return err
	}
	d.att.size = size
	return nil
}

// photo picks the largest PhotoSize by width × height (the array's order
// is not relied on, §1.5); ties go to the larger file, then the later one.
func (st *state) photo(sizes []*fastjson.Value, p at) error {
	best, bestArea, bestSize := -1, int64(-1), int64(-1)
	for i, s := range sizes {
		q := p.index("photo", i)
		if err := st.needObject(s, q); err != nil {
			return err
		}
		w, _, err := integer(s, q, "width")
		if err != nil {
			return err
		}
		h, _, err := integer(s, q, "height")
		if err != nil {
			return err
		}
		size, _, err := integer(s, q, "file_size")
		if err != nil {
			return err
		}
		if _, ok, err := str(s, q, "file_id"); err != nil {
			return err
		} else if !ok {
			return missing(q, "file_id")
		}
		area := w * h
		if w < 0 || h < 0 || w > math.MaxInt32 || h > math.MaxInt32 {
			area = 0
		}
		if area > bestArea || area == bestArea && size >= bestSize {
			best, bestArea, bestSize = i, area, size
		}
	}
	id, _ := sizes[best].Get("file_id").StringBytes()
	st.d.hasAtt = true
	st.d.att.typ = "image"
	st.d.att.mediaID = st.add(id)
	st.d.att.size = max(bestSize, 0)
	return nil
}

func (st *state) sticker(s *fastjson.Value, p at) error {
	if err := st.needObject(s, p); err != nil {
		return err
	}
	d := &st.d
	id, ok, err := str(s, p, "file_id")
	if err != nil {
		return err
	}
	if !ok {
		return missing(p, "file_id")
	}
	r := strReader{v: s, p: p}
	emoji, set := r.get("emoji"), r.get("set_name")
	if r.err != nil {
		return r.err
	}
	size, _, err := integer(s, p, "file_size")
	if err != nil {
		return err
	}
	d.typ = normalize.TypeAttachment
	d.hasAtt = true
	d.att.typ = "sticker"
	d.att.stkr = st.add(id)
	d.att.mediaID = d.att.stkr
	d.att.caption = st.add(emoji)
	d.att.size = size
	if len(emoji) > 0 {
		st.metaStr("emoji", emoji)
	}
	if len(set) > 0 {
		st.metaStr("sticker_set", set)
	}
	return nil
}

// location reads a Location into the draft.
func (st *state) location(l *fastjson.Value, p at) error {
	if err := st.needObject(l, p); err != nil {
		return err
	}
	lat, ok, err := float(l, p, "latitude")
	if err != nil {
		return err
	}
	if !ok {
		return missing(p, "latitude")
	}
	long, ok, err := float(l, p, "longitude")
	if err != nil {
		return err
	}
	if !ok {
		return missing(p, "longitude")
	}
	st.d.hasLoc = true
	st.d.loc.Lat, st.d.loc.Long = lat, long
	live, ok, err := integer(l, p, "live_period")
	if err != nil {
		return err
	}
	if ok {
		st.metaInt("live_period", live)
	}
	return nil
}

func (st *state) venue(v *fastjson.Value, p at) error {
	if err := st.needObject(v, p); err != nil {
		return err
	}
	l, err := object(v, p, "location")
	if err != nil {
		return err
	}
	if l == nil {
		return missing(p, "location")
	}
	if err := st.location(l, p.in("location")); err != nil {
		return err
	}
	r := strReader{v: v, p: p}
	title, addr := r.get("title"), r.get("address")
	if r.err != nil {
		return r.err
	}
	st.d.locName, st.d.locAddr = st.add(title), st.add(addr)
	st.d.typ = normalize.TypeLocation
	st.metaTrue("venue")
	return nil
}

func (st *state) contact(c *fastjson.Value, p at) error {
	if err := st.needObject(c, p); err != nil {
		return err
	}
	phone, ok, err := str(c, p, "phone_number")
	if err != nil {
		return err
	}
	if !ok {
		return missing(p, "phone_number")
	}
	st.metaStr("phone_number", phone)
	for _, k := range [...]string{"first_name", "last_name"} {
		s, ok, err := str(c, p, k)
		if err != nil {
			return err
		}
		if ok {
			st.metaStr(k, s)
		}
	}
	uid, ok, err := st.id(c, p, "user_id")
	if err != nil {
		return err
	}
	if ok {
		st.metaID("user_id", uid)
	}
	vcard, ok, err := str(c, p, "vcard")
	if err != nil {
		return err
	}
	if ok {
		st.metaStr("vcard", vcard)
	}
	st.d.typ = normalize.TypeContact
	return nil
}

// serviceMembers maps new_chat_members and left_chat_member to a member
// event listing the ids that joined or left.
func (st *state) serviceMembers(m *fastjson.Value, p at) (bool, error) {
	joined, ok, err := array(m, p, "new_chat_members")
	if err != nil {
		return false, err
	}
	if ok {
		st.metaKey("joined")
		st.meta = append(st.meta, '[')
		for i, u := range joined {
			q := p.index("new_chat_members", i)
			if err := st.needObject(u, q); err != nil {
				return false, err
			}
			id, err := st.requiredID(u, q, "id")
			if err != nil {
				return false, err
			}
			if i > 0 {
				st.meta = append(st.meta, ',')
			}
			st.meta = append(st.meta, '"')
			st.meta = append(st.meta, id...)
			st.meta = append(st.meta, '"')
		}
		st.meta = append(st.meta, ']')
		st.d.typ = normalize.TypeMember
		return true, nil
	}
	left, err := object(m, p, "left_chat_member")
	if err != nil || left == nil {
		return false, err
	}
	id, err := st.requiredID(left, p.in("left_chat_member"), "id")
	if err != nil {
		return false, err
	}
	st.metaID("left", id)
	st.d.typ = normalize.TypeMember
	return true, nil
}

// migration maps a group's upgrade to a supergroup (§1.6) to a member
// event, so that the backend learns the new chat id and response path: the
// old group gets migrate_to_chat_id, the new supergroup
// migrate_from_chat_id.
func (st *state) migration(a *Adapter, m *fastjson.Value, p at) (bool, error) {
	for _, k := range [...]string{"migrate_to_chat_id", "migrate_from_chat_id"} {
		id, ok, err := st.id(m, p, k)
		if err != nil {
			return false, err
		}
		if !ok {
			continue
		}
		st.metaID(k, id)
		if k == "migrate_to_chat_id" {
			st.metaKey("migrate_to_response_path")
			st.meta = append(st.meta, '"')
			st.meta = normalize.AppendResponsePath(st.meta, a.BotID, adapters.View(id))
			st.meta = append(st.meta, '"')
		}
		st.d.typ = normalize.TypeMember
		return true, nil
	}
	return false, nil
}

// contentKey names what an unmapped message carries: its first member
// that is not part of every message's envelope.
func contentKey(m *fastjson.Value) string {
	o, err := m.Object()
	if err != nil {
		return ""
	}
	var k string
	o.Visit(func(key []byte, v *fastjson.Value) {
		if k == "" && !envelopeKeys[string(key)] {
			k = string(key)
		}
	})
	return k
}

// envelopeKeys are Message fields that say nothing about its content.
var envelopeKeys = map[string]bool{
	"message_id": true, "message_thread_id": true, "direct_messages_topic": true, "from": true,
	"sender_chat": true, "sender_boost_count": true, "sender_business_bot": true, "sender_tag": true,
	"date": true, "business_connection_id": true, "chat": true, "forward_origin": true,
	"is_topic_message": true, "is_automatic_forward": true, "reply_to_message": true,
	"external_reply": true, "quote": true, "reply_to_story": true, "reply_to_checklist_task_id": true,
	"via_bot": true, "edit_date": true, "has_protected_content": true, "is_from_offline": true,
	"is_paid_post": true, "media_group_id": true, "author_signature": true, "paid_star_count": true,
	"entities": true, "caption_entities": true, "link_preview_options": true, "suggested_post_info": true,
	"effect_id": true, "show_caption_above_media": true, "has_media_spoiler": true,
	"reply_markup": true, "caption": true,
}

// callback reads a CallbackQuery: a button press becomes a postback whose
// payload is the button's callback_data.
func (st *state) callback(a *Adapter, q *fastjson.Value, p at) error {
	if err := st.needObject(q, p); err != nil {
		return err
	}
	d := &st.d
	d.typ = normalize.TypePostback
	id, ok, err := str(q, p, "id")
	if err != nil {
		return err
	}
	if !ok {
		return missing(p, "id")
	}
	d.native = st.add(id)
	u, err := object(q, p, "from")
	if err != nil {
		return err
	}
	if u == nil {
		return missing(p, "from")
	}
	if err := st.user(u, p.in("from")); err != nil {
		return err
	}
	data, _, err := str(q, p, "data")
	if err != nil {
		return err
	}
	d.payload = st.add(data)

	m, err := object(q, p, "message")
	if err != nil {
		return err
	}
	var text []byte
	if m != nil {
		mp := p.in("message")
		mid, err := st.requiredID(m, mp, "message_id")
		if err != nil {
			return err
		}
		d.replyTo = st.add(mid)
		c, err := object(m, mp, "chat")
		if err != nil {
			return err
		}
		if c == nil {
			return missing(mp, "chat")
		}
		if err := st.chat(a, c, mp.in("chat")); err != nil {
			return err
		}
		thread, ok, err := st.id(m, mp, "message_thread_id")
		if err != nil {
			return err
		}
		if ok {
			st.metaID("thread_id", thread)
		}
		text = buttonText(m, data)
	} else {
		// An inline-mode message has no chat: answer the person's private
		// chat, reachable only if they started the bot (§1.7).
		st.setChannel(a, st.buf[d.sid.off:d.sid.end])
	}
	d.text = st.add(text)
	st.metaStr("callback_query_id", id)
	if !d.replyTo.empty() {
		st.metaStr("message_id", st.buf[d.replyTo.off:d.replyTo.end])
	}
	for _, k := range [...]string{"inline_message_id", "chat_instance", "game_short_name"} {
		s, ok, err := str(q, p, k)
		if err != nil {
			return err
		}
		if ok {
			st.metaStr(k, s)
		}
	}
	return nil
}

// buttonText finds the text of the inline button whose callback_data is
// data on message m, else the message's text or caption. It reads the
// keyboard leniently: a malformed one just yields no match.
func buttonText(m *fastjson.Value, data []byte) []byte {
	for _, row := range m.GetArray("reply_markup", "inline_keyboard") {
		for _, b := range row.GetArray() {
			cd := b.Get("callback_data")
			if cd == nil || cd.Type() != fastjson.TypeString {
				continue
			}
			if s, _ := cd.StringBytes(); string(s) == string(data) {
				if t := b.Get("text"); t != nil && t.Type() == fastjson.TypeString {
					tb, _ := t.StringBytes()
					return tb
				}
			}
		}
	}
	for _, k := range [...]string{"text", "caption"} {
		if t := m.Get(k); t != nil && t.Type() == fastjson.TypeString {
			tb, _ := t.StringBytes()
			return tb
		}
	}
	return nil
}

// member reads a ChatMemberUpdated (my_chat_member: the bot's own status,
// "kicked" in a private chat meaning the person blocked it; chat_member:
// someone else's).
func (st *state) member(a *Adapter, u *fastjson.Value, p at) error {
	if err := st.needObject(u, p); err != nil {
		return err
	}
	st.d.typ = normalize.TypeMember
	if err := st.memberEnvelope(a, u, p); err != nil {
		return err
	}
	for _, side := range [...]struct{ key, meta string }{
		{"old_chat_member", "old_status"}, {"new_chat_member", "new_status"},
	} {
		cm, err := object(u, p, side.key)
		if err != nil {
			return err
		}
		if cm == nil {
			return missing(p, side.key)
		}
		q := p.in(side.key)
		status, ok, err := str(cm, q, "status")
		if err != nil {
			return err
		}
		if !ok {
			return missing(q, "status")
		}
		st.metaStr(side.meta, status)
		if side.key == "new_chat_member" {
			mu, err := object(cm, q, "user")
			if err != nil {
				return err
			}
			if mu != nil {
				id, err := st.requiredID(mu, q.in("user"), "id")
				if err != nil {
					return err
				}
				st.metaID("member_id", id)
			}
		}
	}
	if vj, err := boolean(u, p, "via_join_request"); err != nil {
		return err
	} else if vj {
		st.metaTrue("via_join_request")
	}
	return nil
}

// memberEnvelope reads chat, from and date, which member updates, join
// requests and reactions share.
func (st *state) memberEnvelope(a *Adapter, u *fastjson.Value, p at) error {
	c, err := object(u, p, "chat")
	if err != nil {
		return err
	}
	if c == nil {
		return missing(p, "chat")
	}
	if err := st.chat(a, c, p.in("chat")); err != nil {
		return err
	}
	if f := field(u, "from"); f != nil {
		if err := st.user(f, p.in("from")); err != nil {
			return err
		}
	}
	return st.date(u, p, "date")
}

// joinRequest reads a ChatJoinRequest: a member event marked join_request;
// user_chat_id is the private chat that may be written to for 24 hours.
func (st *state) joinRequest(a *Adapter, r *fastjson.Value, p at) error {
	if err := st.needObject(r, p); err != nil {
		return err
	}
	st.d.typ = normalize.TypeMember
	if err := st.memberEnvelope(a, r, p); err != nil {
		return err
	}
	st.metaTrue("join_request")
	uc, ok, err := st.id(r, p, "user_chat_id")
	if err != nil {
		return err
	}
	if ok {
		st.metaID("user_chat_id", uc)
	}
	bio, ok, err := str(r, p, "bio")
	if err != nil {
		return err
	}
	if ok {
		st.metaStr("bio", bio)
	}
	return nil
}

// reaction reads a MessageReactionUpdated: reply_to is the message reacted
// to; metadata lists the old and new reactions (an emoji, or
// "custom_emoji:<id>", or "paid") and action react or unreact.
func (st *state) reaction(a *Adapter, r *fastjson.Value, p at) error {
	if err := st.needObject(r, p); err != nil {
		return err
	}
	d := &st.d
	d.typ = normalize.TypeReaction
	c, err := object(r, p, "chat")
	if err != nil {
		return err
	}
	if c == nil {
		return missing(p, "chat")
	}
	if err := st.chat(a, c, p.in("chat")); err != nil {
		return err
	}
	mid, err := st.requiredID(r, p, "message_id")
	if err != nil {
		return err
	}
	d.replyTo = st.add(mid)
	if u := field(r, "user"); u != nil {
		if err := st.user(u, p.in("user")); err != nil {
			return err
		}
	} else if ac := field(r, "actor_chat"); ac != nil {
		if err := st.senderChat(ac, p.in("actor_chat")); err != nil {
			return err
		}
	}
	if err := st.date(r, p, "date"); err != nil {
		return err
	}
	added := 0
	for _, k := range [...]string{"old_reaction", "new_reaction"} {
		list, _, err := array(r, p, k)
		if err != nil {
			return err
		}
		st.metaKey(k)
		st.meta = append(st.meta, '[')
		for i, rt := range list {
			q := p.index(k, i)
			if err := st.needObject(rt, q); err != nil {
				return err
			}
			typ, _, err := str(rt, q, "type")
			if err != nil {
				return err
			}
			if i > 0 {
				st.meta = append(st.meta, ',')
			}
			switch string(typ) {
			case "emoji":
				e, _, err := str(rt, q, "emoji")
				if err != nil {
					return err
				}
				st.meta = normalize.AppendString(st.meta, adapters.View(e))
			case "custom_emoji":
				e, _, err := str(rt, q, "custom_emoji_id")
				if err != nil {
					return err
				}
				start := len(st.meta)
				st.meta = normalize.AppendString(st.meta, adapters.View(e))
				st.meta = slices.Insert(st.meta, start+1, customEmojiPrefix...)
			default:
				st.meta = normalize.AppendString(st.meta, adapters.View(typ))
			}
		}
		st.meta = append(st.meta, ']')
		if k == "new_reaction" {
			added = len(list)
		}
	}
	if added > 0 {
		st.metaString("action", "react")
	} else {
		st.metaString("action", "unreact")
	}
	return nil
}

var customEmojiPrefix = []byte("custom_emoji:")

// unknown fills what an unmapped update kind shows in the usual places,
// leniently (a field of an unexpected type is skipped, never an error):
// the chat, else the acting user's private chat (§1.7: reachable only if
// they started the bot); the sender (from, user); a native id (id,
// result_id, poll_id, else message_id); text (query, question); payload
// (invoice_payload); date.
func (st *state) unknown(a *Adapter, v *fastjson.Value) {
	d := &st.d
	d.typ = normalize.TypeUnknown
	if v == nil || v.Type() != fastjson.TypeObject {
		return
	}
	for _, k := range [...]string{"from", "user"} {
		if u := field(v, k); u != nil && u.Type() == fastjson.TypeObject {
			if id, ok, err := st.id(u, here(""), "id"); err == nil && ok {
				d.sid = st.add(id)
				first, _, _ := str(u, here(""), "first_name")
				last, _, _ := str(u, here(""), "last_name")
				off := len(st.buf)
				st.buf = append(st.buf, first...)
				if len(first) > 0 && len(last) > 0 {
					st.buf = append(st.buf, ' ')
				}
				st.buf = append(st.buf, last...)
				d.sname = span{off, len(st.buf)}
				user, _, _ := str(u, here(""), "username")
				d.suser = st.add(user)
				lang, _, _ := str(u, here(""), "language_code")
				d.slang = st.add(lang)
				break
			}
		}
	}
	if c := field(v, "chat"); c != nil && c.Type() == fastjson.TypeObject {
		if id, ok, err := st.id(c, here(""), "id"); err == nil && ok {
			st.setChannel(a, id)
			if typ, ok, _ := str(c, here(""), "type"); ok {
				st.metaStr("chat_type", typ)
			}
		}
	}
	if d.path.empty() && !d.sid.empty() {
		st.setChannel(a, st.buf[d.sid.off:d.sid.end])
	}
	for _, k := range [...]string{"id", "result_id", "poll_id"} {
		if s, ok, _ := str(v, here(""), k); ok {
			d.native = st.add(s)
			break
		}
	}
	if d.native.empty() {
		if id, ok, err := st.id(v, here(""), "message_id"); err == nil && ok {
			d.native = st.add(id)
		}
	}
	for _, k := range [...]string{"query", "question"} {
		if s, ok, _ := str(v, here(""), k); ok {
			d.text = st.add(s)
			break
		}
	}
	if s, ok, _ := str(v, here(""), "invoice_payload"); ok {
		d.payload = st.add(s)
	}
	if n, ok, err := integer(v, here(""), "date"); err == nil && ok && n > 0 && n <= maxUnix {
		d.ts = n
	}
}
