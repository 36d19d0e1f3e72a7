package viber

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

var _ adapters.Inbound = (*Adapter)(nil)

// SignatureHeader carries the lowercase hex HMAC-SHA256 of the raw body
// keyed with the bot's auth token (channels/telegram-viber.md §2.3).
const SignatureHeader = "X-Viber-Content-Signature"

// Errors of Verify; errors.Is matches both these and the shared adapters
// sentinels they wrap.
var (
	ErrMissingSignature = fmt.Errorf("viber: %w", adapters.ErrMissingSignature)
	ErrBadSignature     = fmt.Errorf("viber: %w", adapters.ErrBadSignature)
)

// Preallocated reasons, so a refused request costs no allocation either.
var (
	errNoHeader  = fmt.Errorf("%w: no %s header", ErrMissingSignature, SignatureHeader)
	errBadLength = fmt.Errorf("%w: want 64 hex digits", ErrBadSignature)
	errBadHex    = fmt.Errorf("%w: not hexadecimal", ErrBadSignature)
	errMismatch  = fmt.Errorf("%w: HMAC does not match the body", ErrBadSignature)
	errNoToken   = fmt.Errorf("%w: no auth token configured", ErrBadSignature)
)

// macState is one HMAC keyed with the auth token and the scratch its Sum
// writes to (kept here: Sum through hash.Hash would make a stack array
// escape).
type macState struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

func (a *Adapter) acquireMAC() *macState {
	if m, ok := a.macs.Get().(*macState); ok {
		return m
	}
	return &macState{mac: hmac.New(sha256.New, a.AuthToken)}
}

func (a *Adapter) releaseMAC(m *macState) {
	m.mac.Reset()
	a.macs.Put(m)
}

// Sign appends the lowercase hex HMAC-SHA256 of body keyed with the auth
// token: the value Viber puts in X-Viber-Content-Signature. Tests, the
// bench and bench/mockviber use it to sign callbacks.
func (a *Adapter) Sign(dst, body []byte) []byte {
	m := a.acquireMAC()
	defer a.releaseMAC(m)
	m.mac.Write(body)
	return hex.AppendEncode(dst, m.mac.Sum(m.sum[:0]))
}

// Verify checks X-Viber-Content-Signature against the HMAC of the raw body.
// Hex digits may be upper or lower case; the comparison runs in constant
// time over the decoded bytes, and Verify allocates nothing once warm.
// The legacy ?sig= query parameter of the Node SDK is not accepted.
func (a *Adapter) Verify(h adapters.Peeker, body []byte) error {
	if len(a.AuthToken) == 0 {
		// HMAC with an empty key is forgeable by anyone: fail closed.
		return errNoToken
	}
	got := h.Peek(SignatureHeader)
	if len(got) == 0 {
		return errNoHeader
	}
	if len(got) != 2*sha256.Size {
		return errBadLength
	}
	var want [sha256.Size]byte
	if _, err := hex.Decode(want[:], got); err != nil {
		return errBadHex
	}
	m := a.acquireMAC()
	defer a.releaseMAC(m)
	m.mac.Write(body)
	if !hmac.Equal(m.mac.Sum(m.sum[:0]), want[:]) {
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

// Viber event names (the callback's "event").
const (
	eventWebhook             = "webhook"
	eventSubscribed          = "subscribed"
	eventUnsubscribed        = "unsubscribed"
	eventConversationStarted = "conversation_started"
	eventMessage             = "message"
	eventDelivered           = "delivered"
	eventSeen                = "seen"
	eventFailed              = "failed"
)

// Parse appends the canonical event of one Viber callback to dst (README.md
// has the mapping). The webhook registration probe appends nothing and is
// accepted: the gateway answers 200, which set_webhook needs. A body it
// cannot read is refused with an *adapters.InputError and dst comes back
// unchanged; an event it does not know becomes TypeUnknown.
//
// Memory: the event never aliases body or the parser. Its strings share one
// allocation; metadata, an attachment and a location cost one more each when
// present, so a text message costs one.
//
// The event id is "viber:{event}:{user}:{message_token}" (README.md, "Event
// ids"): Viber reuses one token for the delivered, seen and failed receipts
// of an outbound message, and a broadcast shares it between users, so the
// kind and the user are part of the key.
func (a *Adapter) Parse(dst []normalize.Event, body []byte) ([]normalize.Event, error) {
	st := acquireState()
	defer releaseState(st)
	ok, err := st.parse(a, body)
	if err != nil || !ok {
		return dst, err
	}
	return append(dst, st.emit(a)), nil
}

// span is a half-open range of the state's string arena.
type span struct{ off, end int }

func (s span) empty() bool { return s.end == s.off }

type draftAtt struct {
	typ                         string // canonical, a constant
	url, name, caption, sticker span
	size                        int64
}

// state is what one Parse call needs; it is pooled with its fastjson
// parser, so a warm Parse allocates only what it returns.
type state struct {
	p    fastjson.Parser
	buf  []byte // string arena
	meta []byte // metadata object under construction
	num  []byte // scratch for the raw text of numbers

	// The event under construction.
	typ                                        normalize.EventType
	id, native, person, path, name, lang, text span
	att                                        draftAtt
	hasAtt                                     bool
	loc                                        normalize.Location
	hasLoc                                     bool
	ts                                         int64
	hasTS                                      bool
}

var statePool sync.Pool

// maxPooledBytes keeps a state that parsed a huge body out of the pool.
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
	p, buf, meta, num := st.p, st.buf[:0], st.meta[:0], st.num[:0]
	*st = state{p: p, buf: buf, meta: meta, num: num}
	statePool.Put(st)
}

// maxMillis is 9999-12-31T23:59:59.999Z: later times do not format as RFC 3339.
const maxMillis = 253402300799999

// parse fills the draft; ok is false for a callback that makes no event
// (the webhook probe).
func (st *state) parse(a *Adapter, body []byte) (ok bool, err error) {
	// fastjson keeps invalid UTF-8 as is and its parser skips checks its
	// validator makes: check both first, so what passes is JSON text.
	if !utf8.Valid(body) {
		return false, adapters.Inputf(codeMalformed, "body is not valid UTF-8")
	}
	if err := fastjson.ValidateBytes(body); err != nil {
		return false, adapters.Inputf(codeMalformed, "%v", err)
	}
	root, err := st.p.ParseBytes(body)
	if err != nil {
		return false, adapters.Inputf(codeMalformed, "%v", err)
	}
	if root.Type() != fastjson.TypeObject {
		return false, wrongType("body", "object", root)
	}
	event, err := str(root, "event")
	if err != nil {
		return false, err
	}
	if len(event) == 0 {
		return false, adapters.Inputf(codeMissing, "event: required")
	}
	if string(event) == eventWebhook {
		return false, nil // the set_webhook probe: accepted, no event
	}
	if st.ts, st.hasTS, err = integer(root, "timestamp"); err != nil {
		return false, err
	}
	if st.hasTS && (st.ts < 0 || st.ts > maxMillis) {
		return false, adapters.Inputf(codeWrongType, "timestamp: %d out of range", st.ts)
	}
	token, err := st.digits(root, "message_token")
	if err != nil {
		return false, err
	}
	st.native = st.put(token)

	switch string(event) {
	case eventMessage:
		err = st.message(a, root)
	case eventSubscribed:
		st.typ = normalize.TypeSubscribed
		err = st.user(a, root)
	case eventConversationStarted:
		st.typ = normalize.TypeConversationStarted
		if err = st.user(a, root); err == nil {
			err = st.conversationStarted(root)
		}
	case eventUnsubscribed:
		st.typ = normalize.TypeUnsubscribed
		err = st.userID(a, root)
	case eventDelivered:
		st.typ = normalize.TypeDelivery
		err = st.userID(a, root)
	case eventSeen:
		st.typ = normalize.TypeRead
		err = st.userID(a, root)
	case eventFailed:
		st.typ = normalize.TypeStatus
		if err = st.userID(a, root); err == nil {
			err = st.failed(root)
		}
	default:
		st.typ = normalize.TypeUnknown
		st.unknown(a, root, event)
	}
	if err != nil {
		return false, err
	}
	st.metaClose()
	st.makeID(event, body)
	return true, nil
}

// ---- addressing and ids ----

// address sets person, path and the sender id. The bot id is configured,
// not sent; without one there is no response path.
func (st *state) address(a *Adapter, person []byte) {
	if a.BotID == "" {
		st.person = st.put(person)
		return
	}
	off := len(st.buf)
	st.buf = append(st.buf, a.BotID...)
	st.buf = append(st.buf, "/c/"...)
	p := len(st.buf)
	st.buf = append(st.buf, person...)
	st.person, st.path = span{p, len(st.buf)}, span{off, len(st.buf)}
}

// makeID sets id = "viber:{event}:{user}:{token}", without the user part
// when there is no user. A callback without a token (Viber always sends
// one) is keyed by its timestamp, else by a hash of the body, so that a
// retry of it still gets the same id.
func (st *state) makeID(event, body []byte) {
	off := len(st.buf)
	st.buf = append(st.buf, Name+":"...)
	st.buf = append(st.buf, event...)
	st.buf = append(st.buf, ':')
	if !st.person.empty() {
		st.buf = append(st.buf, st.buf[st.person.off:st.person.end]...)
		st.buf = append(st.buf, ':')
	}
	switch {
	case !st.native.empty():
		st.buf = append(st.buf, st.buf[st.native.off:st.native.end]...)
	case st.hasTS:
		st.buf = append(st.buf, 't')
		st.buf = strconv.AppendInt(st.buf, st.ts, 10)
	default:
		sum := sha256.Sum256(body)
		st.buf = append(st.buf, 'h')
		st.buf = hex.AppendEncode(st.buf, sum[:8])
	}
	st.id = span{off, len(st.buf)}
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

// profile reads a sender or user object: id (required), name, language.
func (st *state) profile(a *Adapter, root *fastjson.Value, key string) error {
	u, err := obj(root, key)
	if err != nil {
		return err
	}
	if u == nil {
		return adapters.Inputf(codeMissing, "%s: required", key)
	}
	id, err := str(u, "id")
	if err != nil {
		return prefixed(key, err)
	}
	if len(id) == 0 {
		return adapters.Inputf(codeMissing, "%s.id: required", key)
	}
	name, err := str(u, "name")
	if err != nil {
		return prefixed(key, err)
	}
	lang, err := str(u, "language")
	if err != nil {
		return prefixed(key, err)
	}
	st.address(a, id)
	st.name, st.lang = st.put(name), st.put(lang)
	return nil
}

// user addresses subscribed and conversation_started: the user object.
func (st *state) user(a *Adapter, root *fastjson.Value) error {
	return st.profile(a, root, "user")
}

// userID addresses unsubscribed and the receipts: user_id.
func (st *state) userID(a *Adapter, root *fastjson.Value) error {
	id, err := str(root, "user_id")
	if err != nil {
		return err
	}
	if len(id) == 0 {
		return adapters.Inputf(codeMissing, "user_id: required")
	}
	st.address(a, id)
	return nil
}

// ---- event kinds ----

func (st *state) conversationStarted(root *fastjson.Value) error {
	typ, err := str(root, "type")
	if err != nil {
		return err
	}
	ctx, err := str(root, "context")
	if err != nil {
		return err
	}
	sub, hasSub, err := boolean(root, "subscribed")
	if err != nil {
		return err
	}
	if typ != nil {
		st.metaString("type", typ)
	}
	if ctx != nil {
		st.metaString("context", ctx)
	}
	if hasSub {
		st.metaKey("subscribed")
		st.meta = strconv.AppendBool(st.meta, sub)
	}
	return nil
}

func (st *state) failed(root *fastjson.Value) error {
	desc, err := str(root, "desc")
	if err != nil {
		return err
	}
	st.metaString("status", []byte(eventFailed))
	if desc != nil {
		st.metaString("desc", desc)
	}
	return nil
}

// unknown keeps what an unknown event (client_status, future kinds) most
// likely addresses, reading only what has the expected type: its schema is
// not ours to enforce.
func (st *state) unknown(a *Adapter, root *fastjson.Value, event []byte) {
	for _, k := range [...][2]string{{"user_id", ""}, {"user", "id"}, {"sender", "id"}} {
		var v *fastjson.Value
		if k[1] == "" {
			v = root.Get(k[0])
		} else {
			v = root.Get(k[0], k[1])
		}
		if v != nil && v.Type() == fastjson.TypeString {
			if id, _ := v.StringBytes(); len(id) > 0 {
				st.address(a, id)
				break
			}
		}
	}
	st.metaString("kind", event)
}

// message maps a message callback by message.type.
func (st *state) message(a *Adapter, root *fastjson.Value) error {
	if err := st.profile(a, root, "sender"); err != nil {
		return err
	}
	m, err := obj(root, "message")
	if err != nil {
		return err
	}
	if m == nil {
		return adapters.Inputf(codeMissing, "message: required")
	}
	typ, err := str(m, "type")
	if err != nil {
		return prefixed("message", err)
	}
	if len(typ) == 0 {
		return adapters.Inputf(codeMissing, "message.type: required")
	}
	text, err := str(m, "text")
	if err != nil {
		return prefixed("message", err)
	}
	media, err := str(m, "media")
	if err != nil {
		return prefixed("message", err)
	}
	st.text = st.put(text)

	switch string(typ) {
	case "text":
		st.typ = normalize.TypeText
	case "picture":
		err = st.attachment(m, "image", media, text)
	case "video":
		err = st.attachment(m, "video", media, text)
	case "file":
		err = st.attachment(m, "file", media, text)
	case "sticker":
		err = st.attachment(m, "sticker", media, nil)
	case "contact":
		err = st.contact(m)
	case "location":
		err = st.location(m)
	case "url":
		// A shared link: the URL is the text; metadata keeps the kind.
		st.typ = normalize.TypeText
		if len(media) > 0 {
			st.text = st.put(media)
		}
		st.metaString("message_type", typ)
	case "rich_media":
		// A forwarded bot card: nothing canonical describes it.
		if err = st.attachment(m, "fallback", media, text); err == nil {
			st.metaString("message_type", typ)
		}
	default:
		st.typ = normalize.TypeUnknown
		st.metaString("kind", []byte(eventMessage))
		st.metaString("message_type", typ)
	}
	if err != nil {
		return err
	}
	return st.messageExtras(root, m)
}

// attachment drafts the message's one attachment of canonical type typ.
func (st *state) attachment(m *fastjson.Value, typ string, media, caption []byte) error {
	st.typ = normalize.TypeAttachment
	st.hasAtt = true
	st.att = draftAtt{typ: typ, url: st.put(media), caption: st.put(caption)}
	name, err := str(m, "file_name")
	if err != nil {
		return prefixed("message", err)
	}
	st.att.name = st.put(name)
	size, has, err := integer(m, "file_size")
	if err != nil {
		return prefixed("message", err)
	}
	if !has {
		if size, _, err = integer(m, "size"); err != nil {
			return prefixed("message", err)
		}
	}
	if size < 0 {
		return adapters.Inputf(codeWrongType, "message.file_size: %d is negative", size)
	}
	st.att.size = size
	if typ == "sticker" {
		id, err := st.digits(m, "sticker_id")
		if err != nil {
			return prefixed("message", err)
		}
		st.att.sticker = st.put(id)
	}
	if typ == "video" {
		d, has, err := integer(m, "duration")
		if err != nil {
			return prefixed("message", err)
		}
		if has {
			st.metaKey("duration")
			st.meta = strconv.AppendInt(st.meta, d, 10)
		}
	}
	return nil
}

func (st *state) contact(m *fastjson.Value) error {
	st.typ = normalize.TypeContact
	c, err := obj(m, "contact")
	if err != nil {
		return prefixed("message", err)
	}
	if c == nil {
		return adapters.Inputf(codeMissing, "message.contact: required")
	}
	name, err := str(c, "name")
	if err != nil {
		return prefixed("message.contact", err)
	}
	phone, err := str(c, "phone_number")
	if err != nil {
		return prefixed("message.contact", err)
	}
	if name != nil {
		st.metaString("name", name)
	}
	if phone != nil {
		st.metaString("phone_number", phone)
	}
	return nil
}

func (st *state) location(m *fastjson.Value) error {
	st.typ = normalize.TypeLocation
	l, err := obj(m, "location")
	if err != nil {
		return prefixed("message", err)
	}
	if l == nil {
		return adapters.Inputf(codeMissing, "message.location: required")
	}
	if st.loc.Lat, err = float(l, "message.location", "lat"); err != nil {
		return err
	}
	if st.loc.Long, err = float(l, "message.location", "lon"); err != nil {
		return err
	}
	addr, err := str(l, "address")
	if err != nil {
		return prefixed("message.location", err)
	}
	// The arena is not final yet: keep the span, resolve it in emit.
	st.att.name = st.put(addr)
	st.hasLoc = true
	return nil
}

// messageExtras adds what any message may carry: tracking_data (echoed
// from our last send), silent, and the chat-extension chat_id/reply_type.
func (st *state) messageExtras(root, m *fastjson.Value) error {
	td, err := str(m, "tracking_data")
	if err != nil {
		return prefixed("message", err)
	}
	if td != nil {
		st.metaString("tracking_data", td)
	}
	silent, _, err := boolean(root, "silent")
	if err != nil {
		return err
	}
	if silent {
		st.metaKey("silent")
		st.meta = append(st.meta, "true"...)
	}
	chat, err := st.digits(root, "chat_id")
	if err != nil {
		return err
	}
	if chat != nil {
		st.metaString("chat_id", chat)
	}
	rt, err := str(root, "reply_type")
	if err != nil {
		return err
	}
	if rt != nil {
		st.metaString("reply_type", rt)
	}
	return nil
}

// ---- metadata ----

func (st *state) metaKey(k string) {
	st.meta = adapters.AppendObjectKey(st.meta, 0, k)
}

func (st *state) metaString(k string, v []byte) {
	st.metaKey(k)
	st.meta = normalize.AppendString(st.meta, adapters.View(v))
}

func (st *state) metaClose() {
	if len(st.meta) > 0 {
		st.meta = append(st.meta, '}')
	}
}

// ---- typed field access; absent and null read as "not there" ----

func present(v *fastjson.Value) bool { return v != nil && v.Type() != fastjson.TypeNull }

func str(o *fastjson.Value, key string) ([]byte, error) {
	v := o.Get(key)
	if !present(v) {
		return nil, nil
	}
	if v.Type() != fastjson.TypeString {
		return nil, wrongType(key, "string", v)
	}
	b, _ := v.StringBytes()
	if b == nil {
		b = []byte{} // present but empty
	}
	return b, nil
}

func obj(o *fastjson.Value, key string) (*fastjson.Value, error) {
	v := o.Get(key)
	if !present(v) {
		return nil, nil
	}
	if v.Type() != fastjson.TypeObject {
		return nil, wrongType(key, "object", v)
	}
	return v, nil
}

func boolean(o *fastjson.Value, key string) (val, has bool, err error) {
	v := o.Get(key)
	if !present(v) {
		return false, false, nil
	}
	switch v.Type() {
	case fastjson.TypeTrue:
		return true, true, nil
	case fastjson.TypeFalse:
		return false, true, nil
	}
	return false, false, wrongType(key, "boolean", v)
}

// integer reads a 64-bit integer (epoch milliseconds, sizes).
func integer(o *fastjson.Value, key string) (int64, bool, error) {
	v := o.Get(key)
	if !present(v) {
		return 0, false, nil
	}
	if v.Type() != fastjson.TypeNumber {
		return 0, false, wrongType(key, "integer", v)
	}
	n, err := v.Int64()
	if err != nil {
		return 0, false, adapters.Inputf(codeWrongType, "%s: want a 64-bit integer", key)
	}
	return n, true, nil
}

// float reads a required finite number.
func float(o *fastjson.Value, parent, key string) (float64, error) {
	v := o.Get(key)
	if !present(v) {
		return 0, adapters.Inputf(codeMissing, "%s.%s: required", parent, key)
	}
	if v.Type() != fastjson.TypeNumber {
		return 0, prefixed(parent, wrongType(key, "number", v))
	}
	f, err := v.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, adapters.Inputf(codeWrongType, "%s.%s: want a finite number", parent, key)
	}
	return f, nil
}

// maxDigits bounds an id's decimal text: 20 digits hold any uint64.
const maxDigits = 20

// digits reads an id Viber sends as an integer (message_token, sticker_id,
// chat_id) or as a digit string, returning its exact decimal text: never
// through float64, so tokens above 2^53 survive. The result is valid until
// the next call.
func (st *state) digits(o *fastjson.Value, key string) ([]byte, error) {
	v := o.Get(key)
	if !present(v) {
		return nil, nil
	}
	var b []byte
	switch v.Type() {
	case fastjson.TypeString:
		b, _ = v.StringBytes()
	case fastjson.TypeNumber:
		st.num = v.MarshalTo(st.num[:0]) // a number's raw text
		b = st.num
	default:
		return nil, wrongType(key, "integer", v)
	}
	if len(b) == 0 || len(b) > maxDigits {
		return nil, adapters.Inputf(codeWrongType, "%s: want an integer of at most %d digits", key, maxDigits)
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return nil, adapters.Inputf(codeWrongType, "%s: want an unsigned integer", key)
		}
	}
	return b, nil
}

// ---- errors ----

func wrongType(field, want string, v *fastjson.Value) error {
	return adapters.Inputf(codeWrongType, "%s: want %s, got %s", field, want, v.Type())
}

// prefixed puts parent in front of the field an *InputError names.
func prefixed(parent string, err error) error {
	if ie, ok := err.(*adapters.InputError); ok {
		return &adapters.InputError{Code: ie.Code, Msg: parent + "." + ie.Msg}
	}
	return err
}

// ---- emit ----

// emit builds the event from the draft: one string for all text, one
// slice each for metadata, the attachment and the location when present.
func (st *state) emit(a *Adapter) normalize.Event {
	arena := string(st.buf)
	s := func(x span) string { return arena[x.off:x.end] }
	e := normalize.Event{
		ID:           s(st.id),
		Type:         st.typ,
		Channel:      Name,
		Connection:   a.Connection,
		BotID:        a.BotID,
		ChannelID:    s(st.person),
		ResponsePath: s(st.path),
		Sender:       normalize.Sender{ID: s(st.person), Name: s(st.name), Language: s(st.lang)},
		Text:         s(st.text),
		NativeID:     s(st.native),
	}
	if st.hasTS {
		e.Timestamp = time.UnixMilli(st.ts).UTC()
	}
	if len(st.meta) > 0 {
		e.Metadata = bytes.Clone(st.meta)
	}
	switch {
	case st.hasLoc:
		loc := st.loc
		loc.Address = s(st.att.name)
		e.Location = &loc
	case st.hasAtt:
		at := &st.att
		e.Attachments = []normalize.Attachment{{
			Type:      at.typ,
			URL:       s(at.url),
			Name:      s(at.name),
			Size:      at.size,
			Caption:   s(at.caption),
			StickerID: s(at.sticker),
		}}
	}
	return e
}
