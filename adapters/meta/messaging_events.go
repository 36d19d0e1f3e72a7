package meta

import (
	"strconv"

	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// ---- event kinds ----

func (st *state) message(d *draft, it *item, m *fastjson.Value) error {
	if m.Type() != fastjson.TypeObject {
		return st.wrongType("message", "object", m)
	}
	echo, err := st.bool(m, "is_echo", "message.is_echo")
	if err != nil {
		return err
	}
	if echo {
		// The bot (Page, IG account) sent it: sender is the bot,
		// recipient the person.
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
		d.sender = d.bot // the bot acted
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
		off := st.prefix()
		st.buf = append(st.buf, "deleted:"...)
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
		if len(rmid) == 0 {
			// An Instagram story reply names the story instead.
			story, err := st.obj(replyTo, "story", "message.reply_to.story")
			if err != nil {
				return err
			}
			if story != nil {
				if rmid, err = st.id(story, "id", "message.reply_to.story.id"); err != nil {
					return err
				}
			}
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
			if st.cfg.AppID != "" && string(appID) == st.cfg.AppID {
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
		if media == nil {
			if media, err = st.id(p, "ig_post_media_id", "payload.ig_post_media_id"); err != nil {
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

// canonicalType maps a Meta attachment type onto DESIGN §3's list;
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

// nativeTypes adds metadata "attachment_types": Meta's type of every
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
		st.meta = normalize.AppendString(st.meta, adapters.View(v.GetStringBytes("type")))
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
	off := st.prefix()
	st.buf = append(st.buf, "edit:"...)
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
	off := st.prefix()
	st.buf = append(st.buf, "reaction:"...)
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
// before it is read (or delivered) and a repeat says nothing new; an
// Instagram read is keyed by the mid it names.
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
		// Instagram's messaging_seen names the message seen, not a
		// watermark: "<channel>:read:<account>:<igsid>:<mid>", reply_to mid.
		mid, err := st.str(r, "mid", kind+".mid")
		if err != nil {
			return err
		}
		if len(mid) > 0 {
			off := st.kindHead(d, kind)
			m := len(st.buf)
			st.buf = append(st.buf, mid...)
			d.id, d.to = span{off, len(st.buf)}, span{m, len(st.buf)}
			return st.metaFields(d, r, kind, "mid")
		}
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
	// "<channel>:unknown:<key>:<page>:<person>:<timestamp>"
	off := st.prefix()
	st.buf = append(st.buf, "unknown:"...)
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
	return st.metaValue("data", val, adapters.View(key))
}

// changes drafts entry.changes[] (Instagram comments, mentions, …), when
// the parser is asked to: each {field, value} becomes an unknown event
// addressed to the account alone, since a comment is no conversation (an
// answer to it would be a private reply, which canonical replies do not
// express). Nothing is dropped: metadata kind = field, data = value; the
// sender is value.from {id, username} and the text value.text, when given.
// The id is "<channel>:change:<field>:<account>:<key>:<time>", key being
// value.id (the comment), else comment_id, else media_id.
//
// Only the envelope is strict (changes an array of objects, entry.time an
// integer): the fields read out of value are conveniences, taken when they
// have the expected type and otherwise left in data, so that a change of
// an unforeseen shape never gets a batch of messages refused.
func (st *state) changes(e *fastjson.Value, account []byte) error {
	st.list = ""
	list, err := st.arr(e, "changes", "changes")
	if err != nil || len(list) == 0 {
		return err
	}
	// entry.time: epoch seconds on changes, milliseconds on some
	// deliveries; as courier does, ≥ 1e12 reads as milliseconds.
	t, hasT, err := st.int(e, "time", "time")
	if err != nil {
		return err
	}
	if hasT && t >= 0 && t < 1e12 {
		t *= 1000
	}
	if hasT && (t < 0 || t > maxMillis) {
		return adapters.Inputf(codeWrongType, "%s: %d out of range", st.at("time"), t)
	}
	st.list = "changes"
	for j, v := range list {
		st.item = j
		if v.Type() != fastjson.TypeObject {
			return st.wrongType("", "object", v)
		}
		if err := st.change(v, account, t, hasT); err != nil {
			return err
		}
	}
	return nil
}

func (st *state) change(v *fastjson.Value, account []byte, t int64, hasT bool) error {
	var d draft
	d.ts, d.hasTS = t, hasT
	st.metaStart = len(st.meta)
	if err := st.address(&d, account, nil); err != nil {
		return err
	}
	d.typ = normalize.TypeUnknown
	field := v.GetStringBytes("field")
	val := v.Get("value")
	var key []byte
	if val != nil && val.Type() == fastjson.TypeObject {
		if from := val.Get("from"); from != nil && from.Type() == fastjson.TypeObject {
			d.sender = st.put(st.looseID(from, "id"))
			d.senderName = st.put(from.GetStringBytes("username"))
		}
		d.text = st.put(val.GetStringBytes("text"))
		// Read last: a numeric id lives in st.num until the next read.
		if key = st.looseID(val, "id"); len(key) == 0 {
			if key = st.looseID(val, "comment_id"); len(key) == 0 {
				key = st.looseID(val, "media_id")
			}
		}
	}
	off := st.prefix()
	st.buf = append(st.buf, "change:"...)
	st.buf = append(st.buf, field...)
	st.buf = append(st.buf, ':')
	st.buf = append(st.buf, account...)
	st.buf = append(st.buf, ':')
	st.buf = append(st.buf, key...)
	st.buf = append(st.buf, ':')
	if hasT {
		st.buf = strconv.AppendInt(st.buf, t, 10)
	}
	d.id = span{off, len(st.buf)}
	if field != nil {
		st.metaString("kind", field)
	}
	if present(val) {
		if err := st.metaValue("data", val, "value"); err != nil {
			return err
		}
	}
	d.meta = st.metaClose()
	st.drafts = append(st.drafts, d)
	return nil
}

// looseID is id without its errors: the string, or the digits of an
// integer, at o.key; nil for anything else. Valid until the next read.
func (st *state) looseID(o *fastjson.Value, key string) []byte {
	v := o.Get(key)
	switch {
	case v == nil:
		return nil
	case v.Type() == fastjson.TypeString:
		return v.GetStringBytes()
	case v.Type() != fastjson.TypeNumber:
		return nil
	}
	st.num = v.MarshalTo(st.num[:0])
	for _, c := range st.num {
		if c < '0' || c > '9' {
			return nil
		}
	}
	return st.num
}
