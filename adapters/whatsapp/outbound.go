package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/normalize"
)

var _ adapters.Outbound = (*Adapter)(nil)

// Cloud API limits of POST /{phone-number-id}/messages (channels/meta.md
// §8), in characters.
const (
	MaxTextLen        = 4096
	MaxCaptionLen     = 1024
	MaxBodyLen        = 1024 // interactive body.text
	MaxButtons        = 3    // reply buttons
	MaxButtonTitle    = 20
	MaxButtonID       = 256
	MaxRows           = 10 // list rows, all sections together
	MaxRowTitle       = 24
	MaxRowID          = 200
	MaxRowDescription = 72
	MaxSectionTitle   = 24
	MaxListButton     = 20
	MaxCTADisplayText = 20
)

// ListButton labels the button that opens a list. A reply sets its own
// with channel_data {"interactive":{"action":{"button":"Sizes"}}}.
const ListButton = "Options"

const product = "whatsapp"

// defaultClient serves adapters whose Client is nil. The Cloud API
// answers once it accepted a message (media links are fetched after), so
// its calls are short; the gateway's per-call deadline is shorter still.
var defaultClient = adapters.NewClient(30 * time.Second)

// Send renders r for to and makes one Cloud API call as the phone number
// to.BotID, with its token as "Authorization: Bearer". Errors are
// *adapters.RenderError (nothing was called) or *adapters.APIError from
// meta.Classify; Sent.Degraded is set on errors too. Sent.MessageID is the
// wamid Meta accepted ("" for a mark-as-read). A typing_off, or a
// mark_seen or typing_on without the wamid to mark, makes no call: Render
// says so in Degraded.
func (a *Adapter) Send(ctx context.Context, to adapters.Recipient, r *normalize.Reply) (adapters.Sent, error) {
	b := sendBufs.Get().(*sendBuf)
	defer b.release()
	body, path, degraded, err := a.Render(b.body[:0], to, r)
	b.body = body
	sent := adapters.Sent{Degraded: degraded}
	if err == nil && len(body) > 0 {
		sent.MessageID, err = a.post(ctx, b, path, a.Tokens[to.BotID])
	}
	return sent, err
}

// post sends b.body to APIBase+path as the holder of token, within ctx's
// deadline when the client can take one, and reads the answer: the wamid,
// "" for a mark-as-read, or an *adapters.APIError (meta.Classify for
// Graph errors, adapters.NetworkError when nothing came back).
func (a *Adapter) post(ctx context.Context, b *sendBuf, path, token string) (string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer func() {
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}()
	b.uri = append(append(b.uri[:0], strings.TrimSuffix(a.APIBase, "/")...), path...)
	b.auth = append(append(b.auth[:0], "Bearer "...), token...)
	req.SetRequestURIBytes(b.uri)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.SetBytesV(fasthttp.HeaderAuthorization, b.auth)
	req.SetBodyRaw(b.body)

	var c adapters.Doer = defaultClient
	if a.Client != nil {
		c = a.Client
	}
	if err := adapters.Do(ctx, c, req, resp); err != nil {
		// fasthttp's errors name neither URL nor header: no token leaks.
		return "", adapters.NetworkError(err)
	}
	if ae := meta.Classify(resp.StatusCode(), resp.Body(), &resp.Header); ae != nil {
		return "", ae
	}
	id, ok := accepted(resp.Body())
	if !ok {
		// The message may have gone out; a duplicate beats a silent loss.
		return "", &adapters.APIError{Class: adapters.ClassTransient, Code: "bad_response",
			Message: "answer has neither messages[0].id nor success:true", HTTPStatus: resp.StatusCode()}
	}
	return id, nil
}

var answers fastjson.ParserPool

// accepted reads a 2xx answer: the wamid of a send, or "" for a
// mark-as-read's success:true; ok is false for anything else.
func accepted(body []byte) (wamid string, ok bool) {
	p := answers.Get()
	defer answers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject {
		return "", false
	}
	if id := v.GetStringBytes("messages", "0", "id"); len(id) > 0 {
		return string(id), true
	}
	return "", v.GetBool("success")
}

// sendBuf holds the body, URI and Authorization value of one call.
type sendBuf struct{ body, uri, auth []byte }

var sendBufs = sync.Pool{New: func() any { return &sendBuf{body: make([]byte, 0, 1024)} }}

func (b *sendBuf) release() {
	clear(b.auth) // the token
	if cap(b.body) <= 64<<10 {
		sendBufs.Put(b)
	}
}

// Render appends the request body for r to dst and returns it with the
// path of the call (relative to APIBase: /{phone-number-id}/messages) and
// what rendering changed to fit WhatsApp. Errors are *adapters.RenderError,
// found before any call; on error dst comes back unchanged. A reply that
// needs no call (a typing_off…) returns dst unchanged, no path and the
// reason in degraded. Render never modifies r. README.md, "Outbound", has
// the mapping and the degradations.
func (a *Adapter) Render(dst []byte, to adapters.Recipient, r *normalize.Reply) (body []byte, path string, degraded []string, err error) {
	if a.Tokens[to.BotID] == "" {
		return dst, "", nil, adapters.Renderf("unknown_bot", "no access token for phone number %q", to.BotID)
	}
	if r == nil {
		return dst, "", nil, adapters.Renderf("empty_reply", "the reply has nothing to send")
	}
	rd := renderers.Get().(*renderer)
	defer rd.release()
	if err := rd.build(to, r); err != nil {
		return dst, "", rd.degraded, err
	}
	if rd.noCall {
		return dst, "", rd.degraded, nil
	}
	out, err := rd.encode()
	if err != nil {
		return dst, "", rd.degraded, err
	}
	return append(dst, out...), "/" + url.PathEscape(to.BotID) + "/messages", rd.degraded, nil
}

// renderer is the scratch space of one Render, pooled: the wire structs
// and the options the reply offers.
type renderer struct {
	req      SendRequest
	text     SendText
	media    SendMedia
	header   SendHeader
	inter    SendInteractive
	body     SendBody
	cta      SendCTAParameters
	typing   SendTypingIndicator
	buttons  []SendButton
	sections []SendSection
	rows     []SendRow
	opts     []option
	lines    []line
	patch    map[string]any // channel_data, decoded
	noCall   bool
	degraded []string // handed to the caller, never reused

	buf bytes.Buffer
	enc *json.Encoder
}

// option is something to tap that comes back as a payload: a postback
// button or a text quick reply.
type option struct {
	id, title string
	list      string // "buttons", "quick_replies", "cards[1].buttons": where it came from
	i         int
}

func (o option) at() string { return fmt.Sprintf("%s[%d]", o.list, o.i) }

// line is a URL or phone button WhatsApp cannot show beside the options:
// it becomes a line "Title: value" of the text, unless it is the one
// button of a cta_url message.
type line struct {
	title, value string
	url          bool
	at           string
}

var renderers = sync.Pool{New: func() any {
	rd := &renderer{}
	rd.enc = json.NewEncoder(&rd.buf)
	return rd
}}

func (rd *renderer) release() {
	clear(rd.buttons)
	clear(rd.sections)
	clear(rd.rows)
	clear(rd.opts)
	clear(rd.lines)
	rd.buttons, rd.sections, rd.rows, rd.opts, rd.lines = rd.buttons[:0], rd.sections[:0], rd.rows[:0], rd.opts[:0], rd.lines[:0]
	rd.req, rd.text, rd.media, rd.header = SendRequest{}, SendText{}, SendMedia{}, SendHeader{}
	rd.inter, rd.body, rd.cta, rd.typing = SendInteractive{}, SendBody{}, SendCTAParameters{}, SendTypingIndicator{}
	rd.patch, rd.noCall, rd.degraded = nil, false, nil
	if rd.buf.Cap() > 64<<10 {
		return // let an outsized buffer go
	}
	rd.buf.Reset()
	renderers.Put(rd)
}

func (rd *renderer) degrade(format string, args ...any) {
	rd.degraded = append(rd.degraded, fmt.Sprintf(format, args...))
}

// build fills rd.req from r, checking every limit.
func (rd *renderer) build(to adapters.Recipient, r *normalize.Reply) error {
	if len(r.ChannelData) > 0 {
		if err := rd.decodeChannelData(r.ChannelData); err != nil {
			return err
		}
	}
	if r.OTN || r.OTNRequest != nil {
		return adapters.Renderf("otn_not_supported", "WhatsApp has no one-time notifications: outside the 24-hour window send an approved template (channel_data {\"type\":\"template\",\"template\":{…}})")
	}
	if r.Tag != "" {
		rd.degrade("tag: WhatsApp has no message tags; %s ignored", r.Tag)
	}
	rd.req.MessagingProduct = product
	content := r.Text != "" || len(r.QuickReplies) > 0 || len(r.Buttons) > 0 || len(r.Cards) > 0 ||
		r.Attachment != nil || r.Media != nil
	if r.SenderAction != "" {
		return rd.senderAction(r.SenderAction, content)
	}

	switch {
	case to.ChannelID == "":
		return adapters.Renderf("missing_recipient", "no wa_id to send to")
	case isPhoneNumber(to.ChannelID):
		rd.req.To = to.ChannelID
	default: // a business-scoped user id, "US.13491208655302741918"
		rd.req.Recipient = to.ChannelID
	}
	rd.req.RecipientType = "individual"

	if tmpl, ok := rd.patch["template"]; ok {
		if content {
			return adapters.Renderf("unsupported_combination", "a template message carries nothing else: send text, buttons or media as separate replies")
		}
		return rd.template(tmpl)
	}
	switch {
	case !content && rd.patch == nil:
		return adapters.Renderf("empty_reply", "the reply has nothing to send")
	case !content:
		return nil // channel_data supplies the message
	case len(r.Cards) > 0:
		if r.Attachment != nil || r.Media != nil || len(r.Buttons) > 0 || len(r.QuickReplies) > 0 {
			return adapters.Renderf("unsupported_combination", "cards go alone (with text at most): send buttons, quick replies or media as separate replies")
		}
		if len(r.Cards) == 1 {
			return rd.card(r.Text, &r.Cards[0])
		}
		return rd.cardList(r.Text, r.Cards)
	}

	att := r.Attachment
	if r.Media != nil {
		if att != nil {
			return adapters.Renderf("unsupported_combination", "give an attachment or media, not both")
		}
		if r.Media.Type != "image" && r.Media.Type != "video" {
			return adapters.Renderf("invalid_media_type", "media type %q is not image or video", r.Media.Type)
		}
		att = &normalize.OutAttachment{Type: r.Media.Type, URL: r.Media.URL, AttachmentID: r.Media.AttachmentID}
		if err := rd.collect(r.Media.Buttons, "media.buttons"); err != nil {
			return err
		}
	}
	if err := rd.collect(r.Buttons, "buttons"); err != nil {
		return err
	}
	if err := rd.collectQuickReplies(r.QuickReplies); err != nil {
		return err
	}
	return rd.message(r.Text, att)
}

// decodeChannelData reads channel_data, which must be a JSON object;
// numbers stay exact.
func (rd *renderer) decodeChannelData(raw json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return adapters.Renderf("invalid_channel_data", "channel_data must be a JSON object")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return adapters.Renderf("invalid_channel_data", "channel_data must be a JSON object")
	}
	rd.patch = m
	return nil
}

// senderAction renders a mark-as-read: mark_seen marks the message whose
// wamid is channel_data.message_id read, typing_on does so and shows the
// typing indicator. Without a wamid, and for typing_off, which WhatsApp
// does not have, nothing is sent.
func (rd *renderer) senderAction(action string, content bool) error {
	switch action {
	case normalize.SenderActionTypingOn, normalize.SenderActionTypingOff, normalize.SenderActionMarkSeen:
	default:
		return adapters.Renderf("invalid_sender_action", "sender_action %q is not typing_on, typing_off or mark_seen", action)
	}
	if content {
		return adapters.Renderf("mixed_sender_action", "sender_action is sent alone; send the content as a separate reply")
	}
	wamid, _ := rd.patch["message_id"].(string)
	switch {
	case action == normalize.SenderActionTypingOff:
		rd.noCall = true
		rd.degrade("sender_action typing_off: WhatsApp has none (the indicator ends with the reply, or after 25 s); nothing sent")
		return nil
	case wamid == "":
		rd.noCall = true
		rd.degrade("sender_action %s: WhatsApp marks a message read by its wamid; give it as channel_data.message_id. Nothing sent", action)
		return nil
	}
	rd.req.Status = "read"
	if action == normalize.SenderActionTypingOn {
		rd.typing.Type = "text"
		rd.req.TypingIndicator = &rd.typing
	}
	return nil // message_id comes with the channel_data merge
}

// template checks channel_data.template, which the merge sends as is.
func (rd *renderer) template(tmpl any) error {
	if t, ok := rd.patch["type"]; ok && t != "template" {
		return adapters.Renderf("invalid_channel_data", "channel_data has a template but type %v", t)
	}
	t, _ := tmpl.(map[string]any)
	name, _ := t["name"].(string)
	lang, _ := t["language"].(map[string]any)
	code, _ := lang["code"].(string)
	if name == "" || code == "" {
		return adapters.Renderf("invalid_template", "channel_data.template needs a name and language.code")
	}
	rd.req.Type = "template"
	return nil
}

// IsTemplate reports whether r sends an approved template message
// (channel_data {"type":"template","template":{…}}), the only kind of
// message WhatsApp delivers outside the 24-hour window.
func IsTemplate(r *normalize.Reply) bool {
	if len(r.ChannelData) == 0 {
		return false
	}
	p := answers.Get()
	defer answers.Put(p)
	v, err := p.ParseBytes(r.ChannelData)
	if err != nil || v.Type() != fastjson.TypeObject {
		return false
	}
	t := v.Get("type")
	return v.Get("template") != nil && v.Get("template").Type() == fastjson.TypeObject &&
		(t == nil || string(t.GetStringBytes()) == "template")
}

// collect sorts buttons: postbacks become options; URL and phone buttons
// lines; account_link and account_unlink, which WhatsApp lacks, are
// dropped. Each button is expanded from the shorthand on a copy.
func (rd *renderer) collect(bs []normalize.Button, list string) error {
	for i := range bs {
		one := [1]normalize.Button{bs[i]}
		(&normalize.Reply{Buttons: one[:]}).Expand()
		b := one[0]
		at := func() string { return fmt.Sprintf("%s[%d]", list, i) }
		switch b.Type {
		case normalize.ButtonPostback:
			if b.Title == "" {
				return adapters.Renderf("button_title_missing", "%s needs a title", at())
			}
			rd.opts = append(rd.opts, option{id: b.Payload, title: b.Title, list: list, i: i})
		case normalize.ButtonURL:
			if !webURL(b.URL) {
				return adapters.Renderf("invalid_url", "%s.url is not an http(s) URL", at())
			}
			rd.lines = append(rd.lines, line{title: b.Title, value: b.URL, url: true, at: at()})
		case normalize.ButtonPhone:
			if !adapters.IsE164(b.Phone) {
				return adapters.Renderf("invalid_phone_number", "%s.phone must be +E.164, like +16505551234", at())
			}
			rd.lines = append(rd.lines, line{title: b.Title, value: b.Phone, at: at()})
		case normalize.ButtonAccountLink, normalize.ButtonAccountUnlink:
			rd.degrade("%s: WhatsApp has no %s button; dropped", at(), b.Type)
		default:
			return adapters.Renderf("invalid_button", "%s has unknown type %q", at(), b.Type)
		}
	}
	return nil
}

// collectQuickReplies adds text quick replies to the options; WhatsApp
// has no e-mail or phone-number quick replies (it knows the number) and
// shows no icons.
func (rd *renderer) collectQuickReplies(qs []normalize.QuickReply) error {
	for i := range qs {
		one := [1]normalize.QuickReply{qs[i]}
		(&normalize.Reply{QuickReplies: one[:]}).Expand()
		q := one[0]
		switch q.Type {
		case normalize.QuickReplyText:
			if q.Title == "" {
				return adapters.Renderf("invalid_quick_reply", "quick_replies[%d] needs a title (WhatsApp shows no image-only options)", i)
			}
			if q.ImageURL != "" {
				rd.degrade("quick_replies[%d].image_url: WhatsApp shows no icons; dropped", i)
			}
			rd.opts = append(rd.opts, option{id: q.Payload, title: q.Title, list: "quick_replies", i: i})
		case normalize.QuickReplyUserEmail, normalize.QuickReplyUserPhone:
			rd.degrade("quick_replies[%d]: WhatsApp has no %s quick reply; dropped", i, q.Type)
		default:
			return adapters.Renderf("invalid_quick_reply", "quick_replies[%d] has unknown type %q", i, q.Type)
		}
	}
	return nil
}

// message renders text, an optional attachment and the options and lines
// collected: a text or media message, a cta_url for a single URL button,
// reply buttons for 1–3 options, a list for 4–10.
func (rd *renderer) message(text string, att *normalize.OutAttachment) error {
	n := len(rd.opts)
	if n > MaxRows {
		return adapters.Renderf("too_many_options", "%d options; WhatsApp shows at most %d reply buttons, or a list of %d rows", n, MaxButtons, MaxRows)
	}
	if n == 0 && len(rd.lines) == 1 && rd.lines[0].url && rd.lines[0].title != "" && text != "" {
		return rd.ctaURL(text, att, rd.lines[0])
	}
	text = rd.appendLines(text)
	switch {
	case n == 0 && att != nil:
		return rd.mediaMessage(att, text)
	case n == 0 && text == "":
		return adapters.Renderf("empty_reply", "nothing WhatsApp can show is left in the reply")
	case n == 0:
		if c := utf8.RuneCountInString(text); c > MaxTextLen {
			return adapters.Renderf("text_too_long", "text is %d characters; the limit is %d", c, MaxTextLen)
		}
		rd.text = SendText{Body: text, PreviewURL: hasURL(text)}
		rd.req.Type, rd.req.Text = "text", &rd.text
		return nil
	case text == "":
		return adapters.Renderf("buttons_need_text", "WhatsApp sends reply buttons and lists with text")
	}
	if err := rd.interactiveBody(text); err != nil {
		return err
	}
	if n <= MaxButtons {
		if att != nil {
			if err := rd.mediaHeader(att); err != nil {
				return err
			}
		}
		return rd.replyButtons()
	}
	if att != nil {
		return adapters.Renderf("unsupported_combination", "a list has no media header: send the %s as a separate reply, or at most %d options", att.Type, MaxButtons)
	}
	rd.degrade("options: %d → list of %d rows (WhatsApp shows at most %d reply buttons)", n, n, MaxButtons)
	return rd.list([]sectionSpec{{rows: rd.opts}})
}

// appendLines adds the URL and phone buttons to text, one per line.
func (rd *renderer) appendLines(text string) string {
	if len(rd.lines) == 0 {
		return text
	}
	var b strings.Builder
	b.WriteString(text)
	for _, l := range rd.lines {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		if l.title != "" {
			b.WriteString(l.title)
			b.WriteString(": ")
		}
		b.WriteString(l.value)
		rd.degrade("%s → a line of the text", l.at)
	}
	return b.String()
}

func (rd *renderer) interactiveBody(text string) error {
	if c := utf8.RuneCountInString(text); c > MaxBodyLen {
		return adapters.Renderf("text_too_long", "text with buttons is %d characters; the limit is %d", c, MaxBodyLen)
	}
	rd.body.Text = text
	rd.inter.Body = &rd.body
	rd.req.Type, rd.req.Interactive = "interactive", &rd.inter
	return nil
}

// ctaURL renders text with one URL button as a call-to-action message.
func (rd *renderer) ctaURL(text string, att *normalize.OutAttachment, l line) error {
	if err := rd.interactiveBody(text); err != nil {
		return err
	}
	if att != nil {
		if err := rd.mediaHeader(att); err != nil {
			return err
		}
	}
	title := l.title
	if t, cut := adapters.Truncate(title, MaxCTADisplayText); cut {
		title = t
		rd.degrade("%s.title: truncated to %d characters", l.at, MaxCTADisplayText)
	}
	rd.cta = SendCTAParameters{DisplayText: title, URL: l.value}
	rd.inter.Type = "cta_url"
	rd.inter.Action = SendAction{Name: "cta_url", Parameters: &rd.cta}
	return nil
}

func (rd *renderer) replyButtons() error {
	rd.buttons = rd.buttons[:0]
	for _, o := range rd.opts {
		if c := utf8.RuneCountInString(o.id); c > MaxButtonID {
			return adapters.Renderf("payload_too_long", "%s.payload is %d characters; a reply button id holds %d", o.at(), c, MaxButtonID)
		}
		title := o.title
		if t, cut := adapters.Truncate(title, MaxButtonTitle); cut {
			title = t
			rd.degrade("%s.title: truncated to %d characters", o.at(), MaxButtonTitle)
		}
		for _, b := range rd.buttons {
			if b.Reply.Title == title || b.Reply.ID == o.id {
				return adapters.Renderf("duplicate_option", "%s repeats the title or payload of another button; WhatsApp wants both unique", o.at())
			}
		}
		rd.buttons = append(rd.buttons, SendButton{Type: "reply", Reply: SendReply{ID: o.id, Title: title}})
	}
	rd.inter.Type = "button"
	rd.inter.Action = SendAction{Buttons: rd.buttons}
	return nil
}

// sectionSpec is one section of a list before rendering.
type sectionSpec struct {
	title, description string // description goes on the first row
	at                 string // where title came from, for reports
	rows               []option
}

// list renders the sections as an interactive list.
func (rd *renderer) list(specs []sectionSpec) error {
	total := 0
	for _, s := range specs {
		total += len(s.rows)
	}
	rd.rows = rd.rows[:0]
	if cap(rd.rows) < total {
		rd.rows = make([]SendRow, 0, total) // rows of sections must not move
	}
	rd.sections = rd.sections[:0]
	seen := make(map[string]bool, total)
	for _, s := range specs {
		first := len(rd.rows)
		for k, o := range s.rows {
			if c := utf8.RuneCountInString(o.id); c > MaxRowID {
				return adapters.Renderf("payload_too_long", "%s.payload is %d characters; a list row id holds %d", o.at(), c, MaxRowID)
			}
			if seen[o.id] {
				return adapters.Renderf("duplicate_option", "%s repeats the payload %q; WhatsApp wants list row ids unique", o.at(), o.id)
			}
			seen[o.id] = true
			row := SendRow{ID: o.id, Title: o.title}
			if t, cut := adapters.Truncate(row.Title, MaxRowTitle); cut {
				row.Title = t
				rd.degrade("%s.title: truncated to %d characters", o.at(), MaxRowTitle)
			}
			if k == 0 && s.description != "" {
				row.Description = s.description
				if t, cut := adapters.Truncate(row.Description, MaxRowDescription); cut {
					row.Description = t
					rd.degrade("%s.subtitle: truncated to %d characters as a row description", s.at, MaxRowDescription)
				}
			}
			rd.rows = append(rd.rows, row)
		}
		sec := SendSection{Rows: rd.rows[first:len(rd.rows):len(rd.rows)]}
		if len(specs) > 1 {
			sec.Title = s.title
			if t, cut := adapters.Truncate(sec.Title, MaxSectionTitle); cut {
				sec.Title = t
				rd.degrade("%s.title: truncated to %d characters as a section title", s.at, MaxSectionTitle)
			}
		}
		rd.sections = append(rd.sections, sec)
	}
	rd.inter.Type = "list"
	rd.inter.Action = SendAction{Button: ListButton, Sections: rd.sections}
	return nil
}

// card renders one card: its image as the header of reply buttons (or of
// a cta_url, or an image with a caption when it has no buttons); title
// and subtitle as text under the reply's own text.
func (rd *renderer) card(text string, c *normalize.Card) error {
	if c.Title == "" {
		return adapters.Renderf("card_title_missing", "cards[0] needs a title")
	}
	if err := rd.collect(c.Buttons, "cards[0].buttons"); err != nil {
		return err
	}
	body := joinLines(text, c.Title, c.Subtitle)
	if c.DefaultURL != "" {
		if !webURL(c.DefaultURL) {
			return adapters.Renderf("invalid_url", "cards[0].default_url is not an http(s) URL")
		}
		rd.lines = append(rd.lines, line{value: c.DefaultURL, url: true, at: "cards[0].default_url"})
	}
	var att *normalize.OutAttachment
	if c.ImageURL != "" {
		if !webURL(c.ImageURL) {
			return adapters.Renderf("invalid_url", "cards[0].image_url is not an http(s) URL")
		}
		att = &normalize.OutAttachment{Type: "image", URL: c.ImageURL}
		if len(rd.opts) > MaxButtons {
			att = nil
			rd.degrade("cards[0].image_url: dropped (a list shows no image)")
		}
	}
	rd.degrade("cards: 1 → a message of its image, its title and subtitle as text, and its buttons")
	return rd.message(body, att)
}

// cardList renders several cards as a list: one section per card, titled
// with the card's title, whose rows are the card's postback buttons (a
// card without any is one row, its title as payload); the subtitle
// describes the first row. Images are dropped, URL and phone buttons
// become lines of the text.
func (rd *renderer) cardList(text string, cards []normalize.Card) error {
	specs := make([]sectionSpec, 0, len(cards))
	titles := make([]string, 0, len(cards))
	images := 0
	for i := range cards {
		c := &cards[i]
		at := fmt.Sprintf("cards[%d]", i)
		if c.Title == "" {
			return adapters.Renderf("card_title_missing", "%s needs a title", at)
		}
		start := len(rd.opts)
		if err := rd.collect(c.Buttons, at+".buttons"); err != nil {
			return err
		}
		if len(rd.opts) == start {
			rd.opts = append(rd.opts, option{id: c.Title, title: c.Title, list: "cards", i: i})
		}
		if c.DefaultURL != "" {
			if !webURL(c.DefaultURL) {
				return adapters.Renderf("invalid_url", "%s.default_url is not an http(s) URL", at)
			}
			rd.lines = append(rd.lines, line{title: c.Title, value: c.DefaultURL, url: true, at: at + ".default_url"})
		}
		if c.ImageURL != "" {
			images++
		}
		specs = append(specs, sectionSpec{title: c.Title, description: c.Subtitle, at: at, rows: rd.opts[start:len(rd.opts):len(rd.opts)]})
		titles = append(titles, c.Title)
	}
	if n := len(rd.opts); n > MaxRows {
		return adapters.Renderf("too_many_options", "%d cards make %d list rows; WhatsApp shows at most %d", len(cards), n, MaxRows)
	}
	if text == "" {
		text = strings.Join(titles, "\n")
	}
	rd.degrade("cards: %d → list of %d sections, %d rows", len(cards), len(cards), len(rd.opts))
	if images > 0 {
		rd.degrade("cards: %d image(s) dropped (a list shows none)", images)
	}
	if err := rd.interactiveBody(rd.appendLines(text)); err != nil {
		return err
	}
	return rd.list(specs)
}

// mediaMessage renders an attachment, text being its caption.
func (rd *renderer) mediaMessage(att *normalize.OutAttachment, caption string) error {
	m, err := rd.mediaObject(att)
	if err != nil {
		return err
	}
	switch att.Type {
	case "audio", "sticker":
		if caption != "" {
			return adapters.Renderf("unsupported_combination", "WhatsApp sends %s without a caption: send the text as a separate reply", att.Type)
		}
	default:
		if c := utf8.RuneCountInString(caption); c > MaxCaptionLen {
			return adapters.Renderf("text_too_long", "caption is %d characters; the limit is %d", c, MaxCaptionLen)
		}
		m.Caption = caption
	}
	place(att.Type, m, &rd.req.Image, &rd.req.Video, &rd.req.Audio, &rd.req.Document, &rd.req.Sticker)
	rd.req.Type = wireMediaType(att.Type)
	return nil
}

// mediaHeader puts an image, video or file on top of an interactive
// message.
func (rd *renderer) mediaHeader(att *normalize.OutAttachment) error {
	m, err := rd.mediaObject(att)
	if err != nil {
		return err
	}
	rd.header = SendHeader{Type: wireMediaType(att.Type)}
	if !place(att.Type, m, &rd.header.Image, &rd.header.Video, nil, &rd.header.Document) {
		return adapters.Renderf("unsupported_combination", "an %s cannot head buttons: send it as a separate reply", att.Type)
	}
	rd.inter.Header = &rd.header
	return nil
}

// mediaSlots orders the canonical attachment types as place takes them.
var mediaSlots = map[string]int{"image": 0, "video": 1, "audio": 2, "file": 3, "sticker": 4}

// place sets the field, among slots (image, video, audio, document,
// sticker; nil or missing where the object has none), that holds media of
// type t, and reports whether there is one.
func place(t string, m *SendMedia, slots ...**SendMedia) bool {
	i, ok := mediaSlots[t]
	if !ok || i >= len(slots) || slots[i] == nil {
		return false
	}
	*slots[i] = m
	return true
}

// mediaObject checks att and fills rd.media: a media id or a link, and a
// file name for documents (the last segment of the URL's path).
func (rd *renderer) mediaObject(att *normalize.OutAttachment) (*SendMedia, error) {
	switch att.Type {
	case "image", "video", "audio", "file", "sticker":
	default:
		return nil, adapters.Renderf("invalid_attachment_type", "attachment type %q is not image, video, audio, file or sticker", att.Type)
	}
	rd.media = SendMedia{}
	switch {
	case att.URL != "" && att.AttachmentID != "":
		return nil, adapters.Renderf("invalid_attachment", "give the attachment's url or its attachment_id (a WhatsApp media id), not both")
	case att.AttachmentID != "":
		rd.media.ID = att.AttachmentID
	case att.URL != "":
		if !webURL(att.URL) {
			return nil, adapters.Renderf("invalid_url", "attachment url is not an http(s) URL")
		}
		rd.media.Link = att.URL
		if att.Type == "file" {
			if u, err := url.Parse(att.URL); err == nil {
				if base := path.Base(u.Path); strings.Contains(base, ".") {
					rd.media.Filename = base
				}
			}
		}
		if att.Reusable {
			rd.degrade("attachment.reusable: WhatsApp keeps no reusable copy of a link (upload to /{phone-number-id}/media for a media id)")
		}
	default:
		return nil, adapters.Renderf("invalid_attachment", "the attachment needs a url or an attachment_id")
	}
	return &rd.media, nil
}

func wireMediaType(t string) string {
	if t == "file" {
		return "document"
	}
	return t
}

// encode writes rd.req as JSON and applies channel_data to it as a JSON
// merge patch (RFC 7386). The result is valid until the renderer is
// released.
func (rd *renderer) encode() ([]byte, error) {
	rd.buf.Reset()
	if err := rd.enc.Encode(&rd.req); err != nil {
		return nil, adapters.Renderf("invalid_reply", "encoding the request: %v", err)
	}
	if rd.patch == nil {
		return bytes.TrimSuffix(rd.buf.Bytes(), []byte{'\n'}), nil
	}
	var base map[string]any
	dec := json.NewDecoder(&rd.buf)
	dec.UseNumber()
	if err := dec.Decode(&base); err != nil {
		return nil, adapters.Renderf("invalid_reply", "decoding the request: %v", err)
	}
	mergeInto(base, rd.patch)
	rd.buf.Reset()
	if err := rd.enc.Encode(base); err != nil {
		return nil, adapters.Renderf("invalid_channel_data", "encoding the merged request: %v", err)
	}
	return bytes.TrimSuffix(rd.buf.Bytes(), []byte{'\n'}), nil
}

// mergeInto applies patch to dst as a JSON merge patch (RFC 7386): an
// object merges member by member, null deletes a member, any other value
// replaces it. Members come out sorted by name once encoded.
func mergeInto(dst, patch map[string]any) {
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			sub, ok := dst[k].(map[string]any)
			if !ok {
				sub = map[string]any{} // an object patches an object
			}
			mergeInto(sub, pv)
			dst[k] = sub
		default:
			dst[k] = v
		}
	}
}

// ---- small checks ----

func joinLines(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p)
	}
	return b.String()
}

// webURL accepts an absolute http(s) URL with a host and without spaces or
// control characters; Meta checks the rest.
func webURL(s string) bool {
	if strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// hasURL reports whether text holds a link WhatsApp would preview.
func hasURL(text string) bool {
	return strings.Contains(text, "https://") || strings.Contains(text, "http://")
}

// isPhoneNumber tells a wa_id or phone number ("447700900123",
// "+447700900123"), sent as to, from a business-scoped user id
// ("US.13491208655302741918"), sent as recipient.
func isPhoneNumber(id string) bool {
	id = strings.TrimPrefix(id, "+")
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}
