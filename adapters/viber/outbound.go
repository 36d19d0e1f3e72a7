package viber

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

var _ adapters.Outbound = (*Adapter)(nil)

// PathSendMessage is the send method, relative to Adapter.APIBase.
const PathSendMessage = "/send_message"

// AuthTokenHeader authenticates every API call. Its value is never logged
// nor put in an error.
const AuthTokenHeader = "X-Viber-Auth-Token"

// Limits of send_message (channels/telegram-viber.md §2.6–2.8), in
// characters (runes) unless said otherwise.
const (
	MaxTextLen      = 7000
	MaxCaptionLen   = 512 // picture text (Infobip's figure; courier uses the same)
	MaxSenderName   = 28
	MaxFileName     = 256
	MaxKeyboard     = 24 // buttons per keyboard: the common, unconfirmed rule
	MaxButtonText   = 250
	MaxCards        = 6 // rich-media groups: 6 × ButtonsGroupColumns × ButtonsGroupRows buttons
	MaxCardButtons  = 3
	MaxCardTitle    = 80
	MaxBodyBytes    = 30 << 10 // request cap
	MaxVideoBytes   = 26 << 20
	MaxFileBytes    = 50 << 20
	gridColumns     = 6 // keyboard and rich-media width
	cardRows        = 7 // rows of one rich-media group (the maximum)
	cardImageRows   = 3
	apiVersionRich  = 2 // rich_media
	apiVersionPhone = 3 // share-phone buttons
)

// Viber message and button types.
const (
	typeText      = "text"
	typePicture   = "picture"
	typeVideo     = "video"
	typeFile      = "file"
	typeRichMedia = "rich_media"
	actionReply   = "reply"
	actionOpenURL = "open-url"
	actionPhone   = "share-phone"
	actionNone    = "none"
)

// RateLimitRetryAfter is how long dispatch waits after status 12
// (tooManyRequests), which says neither which limit was hit nor for how
// long. Viber's per-user cap (100 messages an hour without a reply) lifts
// only when the person writes; dispatch gives up after its own attempts.
const RateLimitRetryAfter = time.Second

// defaultClient serves adapters whose Client is nil.
var defaultClient = adapters.NewClient(30 * time.Second)

// sizeProbeTimeout bounds the HEAD request that learns a media size.
const sizeProbeTimeout = 5 * time.Second

// Send renders r for to and calls send_message once. Errors are
// *adapters.RenderError (nothing was called) or *adapters.APIError
// classified by the answer's status (see Classify). Sent.MessageID is
// Viber's message_token, exact. A reply with only a sender_action makes
// no call: Viber has none, and Sent.Degraded says so.
//
// A video or file needs its size in bytes; unless channel_data gives
// "size", Send learns it first with SizeOf (a HEAD request by default).
func (a *Adapter) Send(ctx context.Context, to adapters.Recipient, r *normalize.Reply) (adapters.Sent, error) {
	var size int64
	if u := sizeNeeded(r); u != "" {
		size = a.mediaSize(ctx, u)
	}
	b := acquireBuf()
	defer releaseBuf(b)
	body, degraded, err := a.Render(b.body[:0], to, r, size)
	b.body = body
	sent := adapters.Sent{Degraded: degraded}
	if err != nil || len(body) == 0 {
		return sent, err
	}

	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	b.uri = append(append(b.uri[:0], strings.TrimSuffix(a.APIBase, "/")...), PathSendMessage...)
	req.SetRequestURIBytes(b.uri)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.SetBytesV(AuthTokenHeader, a.AuthToken)
	req.SetBodyRaw(body)
	if err := a.do(ctx, req, resp, time.Time{}); err != nil {
		return sent, err
	}
	token, ae := Classify(resp.StatusCode(), resp.Body(), resp.Header.Peek(fasthttp.HeaderRetryAfter))
	if ae != nil {
		return sent, ae
	}
	sent.MessageID = token
	return sent, nil
}

// do performs one exchange, bounded by ctx's deadline and by limit when
// it is set.
func (a *Adapter) do(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response, limit time.Time) error {
	var c Doer = defaultClient
	if a.Client != nil {
		c = a.Client
	}
	if err := adapters.DoBefore(ctx, c, req, resp, limit); err != nil {
		// fasthttp's errors carry no header, so the token cannot leak here.
		return adapters.NetworkError(err)
	}
	return nil
}

// mediaSize asks SizeOf, or HEADs url, for the size of the media to send;
// 0 when it cannot tell (Render then reports the size as unknown).
func (a *Adapter) mediaSize(ctx context.Context, u string) int64 {
	if a.SizeOf != nil {
		n, err := a.SizeOf(ctx, u)
		if err != nil || n < 0 {
			return 0
		}
		return n
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(u)
	req.Header.SetMethod(fasthttp.MethodHead)
	if err := a.do(ctx, req, resp, time.Now().Add(sizeProbeTimeout)); err != nil {
		return 0
	}
	if resp.StatusCode() < 200 || resp.StatusCode() > 299 {
		return 0
	}
	return int64(max(resp.Header.ContentLength(), 0))
}

// sizeNeeded returns the URL of the video or file r sends when Viber will
// want its size and channel_data does not give it.
func sizeNeeded(r *normalize.Reply) string {
	var typ, u string
	switch {
	case r.Attachment != nil:
		typ, u = r.Attachment.Type, r.Attachment.URL
	case r.Media != nil:
		typ, u = r.Media.Type, r.Media.URL
	}
	if (typ != "video" && typ != "file" && typ != "audio") || !adapters.IsWebURL(u) {
		return ""
	}
	if len(r.ChannelData) > 0 {
		p := cdParsers.Get()
		defer cdParsers.Put(p)
		if v, err := p.ParseBytes(r.ChannelData); err == nil && v.Get("size") != nil {
			return ""
		}
	}
	return u
}

var cdParsers, respParsers fastjson.ParserPool

// statusInfo is how one Viber status is handled.
type statusInfo struct {
	class adapters.Class
	code  string
}

// statuses is the table of channels/telegram-viber.md §2.9, with 21–24
// from Viber's error list (courier's copy). Index = status.
var statuses = [...]statusInfo{
	1:  {adapters.ClassConfig, "invalid_url"},
	2:  {adapters.ClassConfig, "bad_token"},
	3:  {adapters.ClassRequest, "bad_data"},
	4:  {adapters.ClassRequest, "missing_data"},
	5:  {adapters.ClassRecipient, "receiver_not_registered"},
	6:  {adapters.ClassRecipient, "not_subscribed"},
	7:  {adapters.ClassConfig, "account_blocked"},
	8:  {adapters.ClassConfig, "account_not_found"},
	9:  {adapters.ClassConfig, "account_suspended"},
	10: {adapters.ClassConfig, "webhook_not_set"},
	11: {adapters.ClassRecipient, "no_suitable_device"},
	12: {adapters.ClassRateLimited, "rate_limited"},
	13: {adapters.ClassRecipient, "api_version_not_supported"},
	14: {adapters.ClassRequest, "incompatible_with_version"},
	15: {adapters.ClassConfig, "account_not_authorized"},
	16: {adapters.ClassRequest, "inchat_reply_not_allowed"},
	17: {adapters.ClassRequest, "account_not_inline"},
	18: {adapters.ClassRequest, "no_public_chat"},
	19: {adapters.ClassRequest, "cannot_send_broadcast"},
	20: {adapters.ClassRequest, "broadcast_not_allowed"},
	21: {adapters.ClassConfig, "unsupported_country"},
	22: {adapters.ClassRequest, "payment_unsupported"},
	23: {adapters.ClassConfig, "free_messages_exceeded"},
	24: {adapters.ClassConfig, "no_balance"},
}

// ClassifyStatus turns a non-zero Viber status into an *adapters.APIError
// (README.md has the table). Statuses outside it, Viber's "general error"
// included, are transient: retried a few times, counted by the breaker.
func ClassifyStatus(status int, message string) *adapters.APIError {
	ae := &adapters.APIError{Class: adapters.ClassTransient, Code: "viber_error",
		ChannelCode: strconv.Itoa(status), HTTPStatus: fasthttp.StatusOK, Message: message}
	if status > 0 && status < len(statuses) && statuses[status].class != 0 {
		ae.Class, ae.Code = statuses[status].class, statuses[status].code
	}
	if ae.Class == adapters.ClassRateLimited {
		ae.RetryAfter = RateLimitRetryAfter
	}
	if ae.Message == "" {
		ae.Message = "status " + ae.ChannelCode
	}
	return ae
}

// Classify reads one send_message answer: the exact message_token on
// success, else an *adapters.APIError. Viber answers HTTP 200 even on
// failure, so the body's status decides; a non-2xx answer is the
// transport's (5xx and 408 transient, 429 rate-limited honouring
// retryAfter, other 4xx a request error unless the body holds a status),
// and a 2xx answer without a readable status is a transient bad_response:
// the message may have gone, but a rare duplicate beats a silent loss.
func Classify(httpStatus int, body, retryAfter []byte) (token string, ae *adapters.APIError) {
	ok2xx := httpStatus >= 200 && httpStatus < 300
	switch {
	case httpStatus >= 500 || httpStatus == fasthttp.StatusRequestTimeout:
		return "", &adapters.APIError{Class: adapters.ClassTransient, Code: "server_error",
			HTTPStatus: httpStatus, Message: "HTTP " + strconv.Itoa(httpStatus)}
	case httpStatus == fasthttp.StatusTooManyRequests:
		ae := &adapters.APIError{Class: adapters.ClassRateLimited, Code: "rate_limited",
			HTTPStatus: httpStatus, Message: "HTTP 429", RetryAfter: RateLimitRetryAfter}
		if s, err := strconv.Atoi(strings.TrimSpace(string(retryAfter))); err == nil && s > 0 {
			ae.RetryAfter = time.Duration(min(s, 86400)) * time.Second
		}
		return "", ae
	}
	p := respParsers.Get()
	defer respParsers.Put(p)
	v, err := p.ParseBytes(body)
	var st *fastjson.Value
	if err == nil && v.Type() == fastjson.TypeObject {
		st = v.Get("status")
	}
	if st == nil || st.Type() != fastjson.TypeNumber {
		if ok2xx {
			return "", &adapters.APIError{Class: adapters.ClassTransient, Code: "bad_response",
				HTTPStatus: httpStatus, Message: "answer has no numeric status"}
		}
		return "", httpError(httpStatus)
	}
	status, err := st.Int()
	if err != nil {
		return "", &adapters.APIError{Class: adapters.ClassTransient, Code: "bad_response",
			HTTPStatus: httpStatus, Message: "status is not an integer"}
	}
	if status != 0 {
		ae := ClassifyStatus(status, string(v.GetStringBytes("status_message")))
		ae.HTTPStatus = httpStatus
		return "", ae
	}
	if !ok2xx {
		return "", httpError(httpStatus)
	}
	switch t := v.Get("message_token"); {
	case t == nil:
	case t.Type() == fastjson.TypeNumber:
		token = t.String() // the raw text: exact beyond 2^53
	case t.Type() == fastjson.TypeString:
		token = string(t.GetStringBytes())
	}
	return token, nil
}

// httpError is a non-2xx answer that is neither Viber's (no status) nor a
// transport hiccup: 401, 403, 404 and 405 mean api_base (or a proxy) is
// wrong, which is configuration; other 4xx fail the request.
func httpError(status int) *adapters.APIError {
	ae := &adapters.APIError{Class: adapters.ClassRequest, Code: "http_error",
		HTTPStatus: status, Message: "HTTP " + strconv.Itoa(status)}
	switch status {
	case fasthttp.StatusUnauthorized, fasthttp.StatusForbidden, fasthttp.StatusNotFound, fasthttp.StatusMethodNotAllowed:
		ae.Class, ae.Code = adapters.ClassConfig, "bad_endpoint"
	}
	return ae
}

// sendBuf holds the body and URI of one call.
type sendBuf struct{ body, uri []byte }

var sendBufs = sync.Pool{New: func() any { return &sendBuf{body: make([]byte, 0, 1024), uri: make([]byte, 0, 128)} }}

func acquireBuf() *sendBuf { return sendBufs.Get().(*sendBuf) }

func releaseBuf(b *sendBuf) {
	if cap(b.body) > 64<<10 {
		return
	}
	sendBufs.Put(b)
}

// Render appends the send_message body for r to dst and returns it with
// what rendering changed to fit Viber. Errors are *adapters.RenderError,
// found before any call; on error dst comes back unchanged. A reply that
// Viber has nothing to send for (a lone sender_action) appends nothing and
// returns no error: Send then makes no call. mediaSize is the size in bytes
// of a video or file to send (Viber requires it; 0 when unknown).
//
// Render never modifies r: it expands the shorthand (Reply.Expand) on a
// pooled copy. The mapping and the degradations are in README.md
// ("Outbound"); every change is reported in degraded.
func (a *Adapter) Render(dst []byte, to adapters.Recipient, r *normalize.Reply, mediaSize int64) (body []byte, degraded []string, err error) {
	if to.BotID != "" && a.BotID != "" && to.BotID != a.BotID {
		return dst, nil, adapters.Renderf("unknown_bot", "bot %q is not this connection's (%q)", to.BotID, a.BotID)
	}
	rs := renderers.Get().(*renderer)
	defer rs.release()
	req, hasCD, err := rs.build(a, to, r, max(mediaSize, 0))
	if err != nil || req == nil {
		return dst, rs.takeDegraded(), err
	}
	start := len(dst)
	dst = req.appendJSON(dst)
	if hasCD {
		merged, err := adapters.MergePatch(dst[start:], r.ChannelData)
		if err == nil {
			err = validateMerged(merged)
		}
		if err != nil {
			return dst[:start], rs.takeDegraded(), adapters.Renderf("invalid_channel_data", "%v", err)
		}
		dst = append(dst[:start], merged...)
	}
	if n := len(dst) - start; n > MaxBodyBytes {
		return dst[:start], rs.takeDegraded(), adapters.Renderf("request_too_large", "the request is %d bytes; Viber takes at most %d", n, MaxBodyBytes)
	}
	return dst, rs.takeDegraded(), nil
}

// renderer holds the scratch space of one Render, pooled so that a warm
// render allocates only what it reports.
type renderer struct {
	x        adapters.ExpandedReply
	req      SendMessageRequest
	text     string
	kb       Keyboard
	rm       RichMedia
	wbtns    []Button
	html     []byte   // scratch for card texts; copied out by cardText
	degraded []string // handed to the caller, never reused
}

var renderers = sync.Pool{New: func() any { return new(renderer) }}

func (rs *renderer) release() {
	rs.x.Reset()
	clear(rs.wbtns)
	rs.req, rs.kb, rs.rm, rs.text = SendMessageRequest{}, Keyboard{}, RichMedia{}, ""
	rs.wbtns = rs.wbtns[:0]
	rs.degraded = nil
	renderers.Put(rs)
}

func (rs *renderer) takeDegraded() []string {
	d := rs.degraded
	rs.degraded = nil
	return d
}

func (rs *renderer) degrade(format string, args ...any) {
	rs.degraded = append(rs.degraded, fmt.Sprintf(format, args...))
}

// build fills rs.req from r. A nil request without error means there is
// nothing to send; hasCD reports channel_data to merge.
func (rs *renderer) build(a *Adapter, to adapters.Recipient, r *normalize.Reply, mediaSize int64) (req *SendMessageRequest, hasCD bool, err error) {
	var cd *fastjson.Value
	var cdParser *fastjson.Parser
	if len(r.ChannelData) > 0 {
		cdParser = cdParsers.Get()
		defer cdParsers.Put(cdParser)
		v, err := cdParser.ParseBytes(r.ChannelData)
		if err != nil || v.Type() != fastjson.TypeObject {
			return nil, false, adapters.Renderf("invalid_channel_data", "channel_data must be a JSON object")
		}
		cd = v
	}
	if cd != nil && cd.Get("size") != nil {
		mediaSize = -1 // channel_data gives it
	}
	r = rs.x.Expand(r)
	if to.ChannelID == "" {
		return nil, false, adapters.Renderf("missing_recipient", "no Viber user id to send to")
	}
	switch r.SenderAction {
	case "", normalize.SenderActionTypingOn, normalize.SenderActionTypingOff, normalize.SenderActionMarkSeen:
	default:
		return nil, false, adapters.Renderf("invalid_sender_action", "sender_action %q is not typing_on, typing_off or mark_seen", r.SenderAction)
	}
	if r.OTNRequest != nil {
		return nil, false, adapters.Renderf("unsupported_otn_request", "Viber has no one-time notification request")
	}
	hasKeys := len(r.QuickReplies) > 0 || len(r.Buttons) > 0 || (r.Media != nil && len(r.Media.Buttons) > 0)
	hasContent := r.Text != "" || len(r.Cards) > 0 || r.Attachment != nil || r.Media != nil
	if r.SenderAction != "" {
		rs.degrade("sender_action: Viber has no %s; dropped", r.SenderAction)
		if !hasContent && !hasKeys && cd == nil {
			return nil, false, nil
		}
	}
	if !hasContent && !hasKeys && cd == nil {
		return nil, false, adapters.Renderf("empty_reply", "the reply has nothing to send")
	}
	if r.MessagingType != "" || r.Tag != "" {
		rs.degrade("messaging_type/tag: ignored (Viber has neither)")
	}
	if r.OTN || to.OTNToken != "" {
		rs.degrade("otn: ignored (Viber needs no one-time token)")
	}

	req = &rs.req
	req.Receiver = to.ChannelID
	req.MinAPIVersion = 1
	req.Sender = Sender{Name: a.SenderName, Avatar: a.SenderAvatar}
	if req.Sender.Name == "" {
		req.Sender.Name = DefaultSenderName
	}
	req.Sender.Name, _ = adapters.Truncate(req.Sender.Name, MaxSenderName)

	// One content per message: text, a carousel, or one attachment (a
	// picture may carry the text as its caption).
	switch {
	case len(r.Cards) > 0 && (r.Attachment != nil || r.Media != nil || r.Text != ""):
		return nil, false, adapters.Renderf("unsupported_combination", "Viber sends cards as a carousel of their own; send text and attachments as separate replies")
	case r.Attachment != nil && r.Media != nil:
		return nil, false, adapters.Renderf("unsupported_combination", "one attachment or media per Viber message")
	}
	switch {
	case len(r.Cards) > 0:
		err = rs.richMedia(r.Cards)
	case r.Attachment != nil:
		if r.Attachment.AttachmentID != "" {
			return nil, false, adapters.Renderf("unsupported_attachment_id", "Viber has no saved attachments; send the attachment by url")
		}
		if r.Attachment.Reusable {
			rs.degrade("attachment.reusable: ignored (Viber has no saved attachments)")
		}
		err = rs.attachment("attachment", r.Attachment.Type, r.Attachment.URL, r.Text, mediaSize)
	case r.Media != nil:
		if r.Media.AttachmentID != "" {
			return nil, false, adapters.Renderf("unsupported_attachment_id", "Viber has no saved attachments; send the media by url")
		}
		if err = rs.attachment("media", r.Media.Type, r.Media.URL, r.Text, mediaSize); err == nil {
			rs.degrade("media: sent as a %s message", rs.req.Type)
		}
	case r.Text != "":
		if n := utf8.RuneCountInString(r.Text); n > MaxTextLen {
			return nil, false, adapters.Renderf("text_too_long", "text is %d characters; the limit is %d (send it as several replies)", n, MaxTextLen)
		}
		rs.text = r.Text
		req.Type, req.Text = typeText, &rs.text
	case hasKeys && cd == nil:
		return nil, false, adapters.Renderf("keyboard_needs_content", "quick replies and buttons ride on a message: add text")
	}
	if err != nil {
		return nil, false, err
	}
	if err := rs.keyboard(r); err != nil {
		return nil, false, err
	}
	if cd != nil && string(cd.GetStringBytes("type")) == typeRichMedia {
		req.MinAPIVersion = max(req.MinAPIVersion, apiVersionRich)
	}
	return req, cd != nil, nil
}

// attachment renders a picture, video or file message from url; text is
// the picture's caption. size is the media's size, 0 when unknown, -1 when
// channel_data supplies it.
func (rs *renderer) attachment(where, typ, u, text string, size int64) error {
	req := &rs.req
	if !adapters.IsWebURL(u) {
		return adapters.Renderf("invalid_url", "%s url is not an http(s) URL", where)
	}
	req.Media = u
	switch typ {
	case "image":
		if n := utf8.RuneCountInString(text); n > MaxCaptionLen {
			return adapters.Renderf("caption_too_long", "text with a picture is %d characters; the limit is %d", n, MaxCaptionLen)
		}
		// Viber requires text on a picture, empty or not.
		rs.text = text
		req.Type, req.Text = typePicture, &rs.text
		return nil
	case "video", "file", "audio":
	default:
		return adapters.Renderf("invalid_attachment_type", "%s type %q is not image, video, audio or file", where, typ)
	}
	if text != "" {
		return adapters.Renderf("unsupported_combination", "a Viber %s carries no text; send the text as its own reply", typ)
	}
	req.Type = typeFile
	limit := int64(MaxFileBytes)
	if typ == "video" {
		req.Type, limit = typeVideo, MaxVideoBytes
	} else {
		req.FileName = fileName(u)
		if typ == "audio" {
			rs.degrade("%s: audio sent as a file (Viber has no audio messages)", where)
		}
	}
	switch {
	case size > limit:
		return adapters.Renderf("media_too_large", "the %s is %d bytes; Viber takes at most %d", typ, size, limit)
	case size > 0:
		req.Size = size
	case size < 0:
	default:
		rs.degrade("%s: size unknown; sent without size, which Viber may refuse (give it as channel_data size)", where)
	}
	return nil
}

// fileName is the last path segment of u, unescaped: Viber shows it and
// requires one (≤ 256 characters, the extension kept).
func fileName(u string) string {
	name := ""
	if p, err := url.Parse(u); err == nil {
		name = path.Base(p.Path)
	}
	if name == "" || name == "." || name == "/" {
		return "file"
	}
	if n := utf8.RuneCountInString(name); n > MaxFileName {
		r := []rune(name)
		name = string(r[n-MaxFileName:])
	}
	return name
}

// keyboard renders buttons, then quick replies (and media buttons), as one
// keyboard: two buttons a row, a lone last one full width.
func (rs *renderer) keyboard(r *normalize.Reply) error {
	n := len(r.Buttons) + len(r.QuickReplies)
	if r.Media != nil {
		n += len(r.Media.Buttons)
	}
	if n == 0 {
		return nil
	}
	// After the carousel's cells, if any: they stay where they are.
	start := len(rs.wbtns)
	rs.wbtns = slices.Grow(rs.wbtns, min(n, MaxKeyboard))
	lists := [...]struct {
		name string
		bs   []normalize.Button
	}{{"buttons", r.Buttons}, {"media.buttons", nil}}
	if r.Media != nil {
		lists[1].bs = r.Media.Buttons
	}
	for _, l := range lists {
		for i := range l.bs {
			if len(rs.wbtns)-start == MaxKeyboard {
				break
			}
			b, err := rs.button(&l.bs[i], l.name, i, -1)
			if err != nil {
				return err
			}
			rs.wbtns = append(rs.wbtns, b)
		}
	}
	for i := range r.QuickReplies {
		if len(rs.wbtns)-start == MaxKeyboard {
			break
		}
		b, err := rs.quickReply(&r.QuickReplies[i], i)
		if err != nil {
			return err
		}
		rs.wbtns = append(rs.wbtns, b)
	}
	if n > MaxKeyboard {
		rs.degrade("keyboard: %d buttons → %d", n, MaxKeyboard)
	}
	keys := rs.wbtns[start:]
	k := len(keys)
	for i := range keys {
		keys[i].Rows = 1
		keys[i].Columns = gridColumns / 2
		if k == 1 || (i == k-1 && k%2 == 1) {
			keys[i].Columns = gridColumns
		}
	}
	rs.kb = Keyboard{Type: "keyboard", Buttons: keys}
	rs.req.Keyboard = &rs.kb
	return nil
}

func (rs *renderer) quickReply(q *normalize.QuickReply, i int) (Button, error) {
	switch q.Type {
	case normalize.QuickReplyUserPhone:
		rs.req.MinAPIVersion = max(rs.req.MinAPIVersion, apiVersionPhone)
		return Button{ActionType: actionPhone, ActionBody: normalize.QuickReplyUserPhone, Text: orDefault(q.Title, "Share phone number")}, nil
	case normalize.QuickReplyUserEmail:
		rs.degrade("quick_replies[%d]: user_email sent as a reply button (Viber cannot share an e-mail address; the tap sends the text user_email)", i)
		return Button{ActionType: actionReply, ActionBody: normalize.QuickReplyUserEmail, Text: orDefault(q.Title, "My e-mail")}, nil
	case normalize.QuickReplyText:
	default:
		return Button{}, adapters.Renderf("invalid_quick_reply", "quick_replies[%d] has unknown type %q", i, q.Type)
	}
	if q.Title == "" {
		return Button{}, adapters.Renderf("invalid_quick_reply", "quick_replies[%d] needs a title (Viber keyboard buttons show text)", i)
	}
	if q.ImageURL != "" {
		rs.degrade("quick_replies[%d].image_url: dropped (Viber keyboard buttons show text)", i)
	}
	b := Button{ActionType: actionReply, ActionBody: q.Payload, Text: q.Title}
	if t, cut := adapters.Truncate(q.Title, MaxButtonText); cut {
		b.Text = t
		rs.degrade("quick_replies[%d].title: truncated to %d characters", i, MaxButtonText)
	}
	return b, nil
}

// button renders one canonical button as a reply or open-url cell; card
// is the card's index for messages, or -1.
func (rs *renderer) button(b *normalize.Button, list string, i, card int) (Button, error) {
	at := func() string {
		if card >= 0 {
			return fmt.Sprintf("cards[%d].buttons[%d]", card, i)
		}
		return fmt.Sprintf("%s[%d]", list, i)
	}
	w := Button{Text: b.Title}
	switch b.Type {
	case normalize.ButtonPostback:
		w.ActionType, w.ActionBody = actionReply, b.Payload
	case normalize.ButtonURL:
		if !adapters.IsWebURL(b.URL) {
			return w, adapters.Renderf("invalid_url", "%s.url is not an http(s) URL", at())
		}
		w.ActionType, w.ActionBody = actionOpenURL, b.URL
	case normalize.ButtonPhone:
		if !adapters.IsE164(b.Phone) {
			return w, adapters.Renderf("invalid_phone_number", "%s.phone must be +E.164, like +16505551234", at())
		}
		w.ActionType, w.ActionBody = actionOpenURL, "tel:"+b.Phone
		rs.degrade("%s: phone button sent as an open-url tel: link", at())
	case normalize.ButtonAccountLink:
		if !adapters.IsWebURL(b.URL) {
			return w, adapters.Renderf("invalid_url", "%s.url is not an http(s) URL", at())
		}
		w.ActionType, w.ActionBody, w.Text = actionOpenURL, b.URL, orDefault(b.Title, "Log in")
		rs.degrade("%s: account_link sent as an open-url button", at())
	case normalize.ButtonAccountUnlink:
		title := b.Title
		if title == normalize.ButtonAccountUnlink { // the shorthand's title
			title = ""
		}
		w.ActionType, w.ActionBody, w.Text = actionReply, normalize.ButtonAccountUnlink, orDefault(title, "Log out")
		rs.degrade("%s: account_unlink sent as a reply button (the tap sends the text account_unlink)", at())
	default:
		return w, adapters.Renderf("invalid_button", "%s has unknown type %q", at(), b.Type)
	}
	if w.Text == "" {
		return w, adapters.Renderf("button_title_missing", "%s needs a title", at())
	}
	if t, cut := adapters.Truncate(w.Text, MaxButtonText); cut {
		w.Text = t
		rs.degrade("%s.title: truncated to %d characters", at(), MaxButtonText)
	}
	return w, nil
}

// richMedia renders cards as a carousel: one 6×7 group per card, an image
// cell (3 rows) when the card has one, a text cell with the title and
// subtitle, and one row per button; the text cell takes the rows left so
// that every group is full (Viber flows cells into groups in order).
func (rs *renderer) richMedia(cards []normalize.Card) error {
	if len(cards) > MaxCards {
		rs.degrade("cards: %d → %d", len(cards), MaxCards)
		cards = cards[:MaxCards]
	}
	n := 0
	for i := range cards {
		n += 2 + min(len(cards[i].Buttons), MaxCardButtons)
	}
	rs.wbtns = slices.Grow(rs.wbtns[:0], n)
	for i := range cards {
		c := &cards[i]
		if c.Title == "" {
			return adapters.Renderf("card_title_missing", "cards[%d] needs a title", i)
		}
		tap := Button{ActionType: actionNone, ActionBody: actionNone}
		if c.DefaultURL != "" {
			if !adapters.IsWebURL(c.DefaultURL) {
				return adapters.Renderf("invalid_url", "cards[%d].default_url is not an http(s) URL", i)
			}
			tap = Button{ActionType: actionOpenURL, ActionBody: c.DefaultURL}
		}
		bs := c.Buttons
		if len(bs) > MaxCardButtons {
			rs.degrade("cards[%d].buttons: %d → %d", i, len(bs), MaxCardButtons)
			bs = bs[:MaxCardButtons]
		}
		rows := cardRows - len(bs)
		if c.ImageURL != "" {
			if !adapters.IsWebURL(c.ImageURL) {
				return adapters.Renderf("invalid_url", "cards[%d].image_url is not an http(s) URL", i)
			}
			img := tap
			img.Columns, img.Rows, img.Image = gridColumns, cardImageRows, c.ImageURL
			rs.wbtns = append(rs.wbtns, img)
			rows -= cardImageRows
		}
		txt := tap
		txt.Columns, txt.Rows = gridColumns, rows
		txt.Text = rs.cardText(i, c)
		txt.TextSize, txt.TextVAlign, txt.TextHAlign = "regular", "middle", "left"
		rs.wbtns = append(rs.wbtns, txt)
		for j := range bs {
			b, err := rs.button(&bs[j], "cards", j, i)
			if err != nil {
				return err
			}
			b.Columns, b.Rows = gridColumns, 1
			rs.wbtns = append(rs.wbtns, b)
		}
	}
	cells := rs.wbtns[:len(rs.wbtns):len(rs.wbtns)]
	rs.rm = RichMedia{Type: typeRichMedia, ButtonsGroupColumns: gridColumns, ButtonsGroupRows: cardRows, Buttons: cells}
	rs.req.Type, rs.req.RichMedia = typeRichMedia, &rs.rm
	rs.req.MinAPIVersion = max(rs.req.MinAPIVersion, apiVersionRich)
	return nil
}

// cardText is "<b>title</b><br>subtitle" with both HTML-escaped (cell text
// is light HTML) and cut to MaxCardTitle characters.
func (rs *renderer) cardText(i int, c *normalize.Card) string {
	title, cut := adapters.Truncate(c.Title, MaxCardTitle)
	if cut {
		rs.degrade("cards[%d].title: truncated to %d characters", i, MaxCardTitle)
	}
	sub, cut := adapters.Truncate(c.Subtitle, MaxCardTitle)
	if cut {
		rs.degrade("cards[%d].subtitle: truncated to %d characters", i, MaxCardTitle)
	}
	b := append(rs.html[:0], "<b>"...)
	b = append(b, html.EscapeString(title)...)
	b = append(b, "</b>"...)
	if sub != "" {
		b = append(b, "<br>"...)
		b = append(b, html.EscapeString(sub)...)
	}
	rs.html = b
	return string(b)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// required lists the members each message type needs (Viber's docs).
var required = map[string][]string{
	"text":       {"text"},
	"picture":    {"media"},
	"video":      {"media", "size"},
	"file":       {"media", "size", "file_name"},
	"contact":    {"contact"},
	"location":   {"location"},
	"url":        {"media"},
	"sticker":    {"sticker_id"},
	"rich_media": {"rich_media"},
}

// validateMerged checks what channel_data may have broken or supplied:
// receiver, sender.name, a known type and the members it needs.
func validateMerged(body []byte) error {
	var m struct {
		Receiver      string                     `json:"receiver"`
		Sender        struct{ Name string }      `json:"sender"`
		Type          string                     `json:"type"`
		MinAPIVersion int                        `json:"min_api_version"`
		Rest          map[string]json.RawMessage `json:"-"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("merged body: %v", err)
	}
	if err := json.Unmarshal(body, &m.Rest); err != nil {
		return fmt.Errorf("merged body: %v", err)
	}
	switch {
	case m.Receiver == "":
		return errors.New("receiver must stay a non-empty string")
	case m.Sender.Name == "":
		return errors.New("sender.name must stay a non-empty string")
	}
	need, ok := required[m.Type]
	if !ok {
		return fmt.Errorf("type %q is not a Viber message type", m.Type)
	}
	for _, k := range need {
		if v, ok := m.Rest[k]; !ok || string(v) == "null" {
			return fmt.Errorf("a %s message needs %s", m.Type, k)
		}
	}
	if m.Type == typeRichMedia && m.MinAPIVersion < apiVersionRich {
		return fmt.Errorf("rich_media needs min_api_version ≥ %d", apiVersionRich)
	}
	return nil
}
