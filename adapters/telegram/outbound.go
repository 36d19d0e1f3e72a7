package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

var (
	_ adapters.Outbound = (*Adapter)(nil)
	_ adapters.Paced    = (*Adapter)(nil)
)

// Bot API methods Render emits.
const (
	MethodSendMessage         = "sendMessage"
	MethodSendPhoto           = "sendPhoto"
	MethodSendDocument        = "sendDocument"
	MethodSendVideo           = "sendVideo"
	MethodSendAudio           = "sendAudio"
	MethodSendLocation        = "sendLocation"
	MethodSendChatAction      = "sendChatAction"
	MethodAnswerCallbackQuery = "answerCallbackQuery"
	MethodGetMe               = "getMe"
)

// Bot API limits (channels/telegram-viber.md §1.8). Text lengths are in
// UTF-16 code units, as Telegram counts them (an emoji outside the BMP is
// two); callback_data is in bytes.
const (
	MaxTextLen         = 4096
	MaxCaptionLen      = 1024
	MaxCallbackData    = 64
	MaxCallbackText    = 200
	MaxCards           = 10
	MaxInlineButtons   = 100
	KeyboardColumns    = 3 // reply-keyboard buttons per row
	DefaultPhoneButton = "Share phone number"
	DefaultEmailButton = "Email"
	DefaultLoginButton = "Log in"
)

// Pacing (adapters.Paced), from the Bot FAQ's "My bot is hitting limits"
// (§1.10): about one message a second per chat, with short bursts
// tolerated; at most 20 messages a minute per group. A burst of 3 spaced
// 60/17 s apart never puts more than 20 messages in any minute.
const (
	PrivateEvery = time.Second
	PrivateBurst = 2
	GroupEvery   = time.Minute / 17
	GroupBurst   = 3
)

// Waiting inside one Send: after a later part of a multi-message reply is
// refused with 429, Send waits retry_after (at most MaxInlineWait, and
// never past the context's deadline) and tries that part once more, so that
// the parts already delivered are not sent again by a retry of the whole
// reply.
const MaxInlineWait = 5 * time.Second

// MaxRetryAfter caps the wait a 429 asks for.
const MaxRetryAfter = 24 * time.Hour

// defaultClient serves adapters whose Client is nil. Its read timeout
// covers Telegram fetching a large file by URL.
var defaultClient = adapters.NewClient(60 * time.Second)

// Pace is how fast one chat may be sent to: private chats (positive ids)
// PrivateEvery with PrivateBurst, groups, supergroups and channels
// (negative ids, @usernames) GroupEvery with GroupBurst. One Send counts
// once even when it posts several messages (a split text, cards).
func (a *Adapter) Pace(to adapters.Recipient) (time.Duration, int) {
	if isPrivateChat(to.ChannelID) {
		return PrivateEvery, PrivateBurst
	}
	return GroupEvery, GroupBurst
}

func isPrivateChat(id string) bool { return id != "" && id[0] != '-' && id[0] != '@' }

// Call is one Bot API method call of a rendered reply. Body aliases the
// Plan that holds it.
type Call struct {
	Method string
	Body   []byte
}

// Plan is a rendered reply: the calls to make in order and what rendering
// changed to fit Telegram. Reuse one with Reset.
type Plan struct {
	Calls    []Call
	Degraded []string

	buf  []byte // every body, back to back
	ends []int  // end of each body in buf
}

// Reset empties p for reuse. Degraded is dropped, not reused: it may have
// been handed out.
func (p *Plan) Reset() {
	clear(p.Calls)
	p.Calls, p.Degraded, p.buf, p.ends = p.Calls[:0], nil, p.buf[:0], p.ends[:0]
}

var plans = sync.Pool{New: func() any { return &Plan{buf: make([]byte, 0, 1024)} }}

func acquirePlan() *Plan { return plans.Get().(*Plan) }

func releasePlan(p *Plan) {
	if cap(p.buf) > 64<<10 {
		return
	}
	p.Reset()
	plans.Put(p)
}

// Send renders r for to and makes its calls in order (README.md,
// "Outbound"). Errors are *adapters.RenderError (nothing was called) or
// *adapters.APIError; Sent.Degraded is set on errors too. Sent.MessageID
// is the id of the last message posted, Sent.AttachmentID the file_id
// Telegram gave the attachment (reusable by this bot).
//
// A 400 that names migrate_to_chat_id (the group became a supergroup) is
// followed once: the reply is rendered again for the new chat and the
// remaining calls go there, reported in Degraded. An answerCallbackQuery
// refused as a bad request (the query is too old) does not stop the rest.
func (a *Adapter) Send(ctx context.Context, to adapters.Recipient, r *normalize.Reply) (adapters.Sent, error) {
	p := acquirePlan()
	defer releasePlan(p)
	err := a.Render(p, to, r)
	sent := adapters.Sent{Degraded: p.Degraded}
	p.Degraded = nil
	if err != nil {
		return sent, err
	}

	calls := p.Calls
	migrated, waited := false, -1
	posted := 0
	for i := 0; i < len(calls); i++ {
		c := calls[i]
		ans, ae := a.call(ctx, c.Method, c.Body)
		if ae == nil {
			if ans.messageID != "" {
				posted++
				sent.MessageID = ans.messageID
			}
			if ans.fileID != "" {
				sent.AttachmentID = ans.fileID
			}
			continue
		}
		switch {
		case ans.migrateTo != "" && !migrated:
			migrated = true
			to.ChannelID = ans.migrateTo
			p2 := acquirePlan()
			defer releasePlan(p2)
			if err := a.Render(p2, to, r); err != nil {
				return sent, err
			}
			if len(p2.Calls) != len(calls) {
				return sent, &adapters.APIError{Class: adapters.ClassRecipient, Code: "chat_migrated",
					Message: "the chat moved to " + ans.migrateTo + " and the reply renders differently there", ChannelCode: ae.ChannelCode, HTTPStatus: ae.HTTPStatus}
			}
			calls = append(calls[:i:i], p2.Calls[i:]...)
			sent.Degraded = append(sent.Degraded, fmt.Sprintf("chat migrated to %s: resent there; its response path is now %s",
				ans.migrateTo, normalize.BuildResponsePath(to.BotID, ans.migrateTo)))
			i--
			continue
		case c.Method == MethodAnswerCallbackQuery && ae.Class == adapters.ClassRequest:
			sent.Degraded = append(sent.Degraded, "answerCallbackQuery refused ("+ae.Message+"); the rest was sent")
			continue
		case ae.Class == adapters.ClassRateLimited && posted > 0 && waited != i:
			if wait(ctx, ae.RetryAfter) {
				waited = i
				i--
				continue
			}
		}
		if posted > 0 {
			sent.Degraded = append(sent.Degraded, fmt.Sprintf("%d of %d messages were posted before the error; a retry posts them again", posted, countPosts(calls)))
		}
		return sent, ae
	}
	return sent, nil
}

// wait sleeps d when that ends within MaxInlineWait and before ctx's
// deadline; it reports whether it did.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 || d > MaxInlineWait {
		return false
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d+100*time.Millisecond {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func countPosts(calls []Call) int {
	n := 0
	for _, c := range calls {
		if c.Method != MethodAnswerCallbackQuery && c.Method != MethodSendChatAction {
			n++
		}
	}
	return n
}

// answer is what one successful call returned, or, on a migration error,
// where the chat went.
type answer struct {
	messageID, fileID string
	migrateTo         string
}

var respParsers fastjson.ParserPool

// call makes one Bot API call and reads its answer.
func (a *Adapter) call(ctx context.Context, method string, body []byte) (answer, *adapters.APIError) {
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if ae := a.roundTrip(ctx, method, body, resp); ae != nil {
		return answer{}, ae
	}
	return readAnswer(resp.StatusCode(), resp.Body(), resp.Header.Peek("Retry-After"))
}

// roundTrip POSTs body (JSON; nil for none) to method and leaves the
// answer in resp. The token is part of the path: fasthttp's errors never
// name the URI, networkError scrubs it anyway, and nothing here logs it.
func (a *Adapter) roundTrip(ctx context.Context, method string, body []byte, resp *fasthttp.Response) *adapters.APIError {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	var scratch [192]byte
	u := append(scratch[:0], strings.TrimSuffix(a.APIBase, "/")...)
	u = append(u, "/bot"...)
	u = append(u, a.Token...)
	u = append(u, '/')
	u = append(u, method...)
	req.SetRequestURIBytes(u)
	req.Header.SetMethod(fasthttp.MethodPost)
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
	}
	if err := a.exchange(ctx, req, resp); err != nil {
		return a.networkError(err)
	}
	return nil
}

// GetMe calls getMe: it proves the token works and returns the bot's user,
// whose Username the gateway may copy into Adapter.Username at start so
// that commands for other bots are told apart. Errors are
// *adapters.APIError (401 bad_token for a revoked token).
func (a *Adapter) GetMe(ctx context.Context) (User, error) {
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if ae := a.roundTrip(ctx, MethodGetMe, nil, resp); ae != nil {
		return User{}, ae
	}
	if _, ae := readAnswer(resp.StatusCode(), resp.Body(), resp.Header.Peek("Retry-After")); ae != nil {
		return User{}, ae
	}
	var r struct {
		Result User `json:"result"`
	}
	if err := json.Unmarshal(resp.Body(), &r); err != nil || r.Result.ID == 0 {
		return User{}, &adapters.APIError{Class: adapters.ClassTransient, Code: "bad_response",
			Message: "getMe answered without a user", HTTPStatus: resp.StatusCode()}
	}
	return r.Result, nil
}

func (a *Adapter) exchange(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response) error {
	var c Doer = defaultClient
	if a.Client != nil {
		c = a.Client
	}
	return adapters.Do(ctx, c, req, resp)
}

// networkError classifies a call that got no HTTP answer
// (adapters.NetworkError), its message scrubbed of the token in case a
// client ever names the URL.
func (a *Adapter) networkError(err error) *adapters.APIError {
	ae := adapters.NetworkError(err)
	if a.Token != "" {
		ae.Message = strings.ReplaceAll(ae.Message, a.Token, "<token>")
	}
	return ae
}

// readAnswer reads a Bot API answer: the message id and file id of a
// success, else the classified error.
func readAnswer(status int, body, retryAfter []byte) (answer, *adapters.APIError) {
	p := respParsers.Get()
	defer respParsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject || v.Get("ok") == nil {
		return answer{}, classifyStatus(status, retryAfter)
	}
	if v.GetBool("ok") {
		if status < 200 || status > 299 {
			return answer{}, classifyStatus(status, retryAfter)
		}
		return readResult(v.Get("result")), nil
	}
	var ans answer
	if m := v.Get("parameters", "migrate_to_chat_id"); m != nil && m.Type() == fastjson.TypeNumber {
		if id := m.String(); isIntID(id) {
			ans.migrateTo = strings.Clone(id)
		}
	}
	code := v.GetInt("error_code")
	if code == 0 {
		code = status
	}
	return ans, Classify(code, string(v.GetStringBytes("description")), v.GetInt("parameters", "retry_after"), ans.migrateTo != "")
}

// readResult reads message_id and the sent file's file_id (the largest
// photo size for a photo) from a successful result.
func readResult(r *fastjson.Value) answer {
	var ans answer
	if r == nil || r.Type() != fastjson.TypeObject {
		return ans // true: sendChatAction, answerCallbackQuery
	}
	if id := r.Get("message_id"); id != nil && id.Type() == fastjson.TypeNumber {
		ans.messageID = strings.Clone(id.String())
	}
	if sizes := r.GetArray("photo"); len(sizes) > 0 {
		best, area := sizes[0], -1
		for _, s := range sizes {
			if a := s.GetInt("width") * s.GetInt("height"); a >= area {
				best, area = s, a
			}
		}
		ans.fileID = string(best.GetStringBytes("file_id"))
		return ans
	}
	for _, k := range [...]string{"document", "video", "audio", "animation", "voice"} {
		if id := r.GetStringBytes(k, "file_id"); len(id) > 0 {
			ans.fileID = string(id)
			return ans
		}
	}
	return ans
}

// classifyStatus handles an answer whose body is not the Bot API's
// envelope (a proxy's error page, a truncated body).
func classifyStatus(status int, retryAfter []byte) *adapters.APIError {
	ae := &adapters.APIError{HTTPStatus: status, ChannelCode: strconv.Itoa(status),
		Message: "HTTP " + strconv.Itoa(status) + " without a Bot API answer"}
	switch {
	case status >= 200 && status < 300:
		// The message may have gone out, but a duplicate beats a loss.
		ae.Class, ae.Code = adapters.ClassTransient, "bad_response"
	case status == fasthttp.StatusTooManyRequests:
		ae.Class, ae.Code, ae.PerRecipient = adapters.ClassRateLimited, "rate_limited", true
		ae.RetryAfter = time.Second
		if n, err := strconv.Atoi(string(retryAfter)); err == nil && n > 0 {
			ae.RetryAfter = min(time.Duration(n)*time.Second, MaxRetryAfter)
		}
	case status == fasthttp.StatusUnauthorized:
		ae.Class, ae.Code = adapters.ClassConfig, "bad_token"
	case status == fasthttp.StatusNotFound:
		ae.Class, ae.Code = adapters.ClassConfig, "not_found"
	case status >= 500:
		ae.Class, ae.Code = adapters.ClassTransient, "server_error"
	default:
		ae.Class, ae.Code = adapters.ClassRequest, "bad_request"
	}
	return ae
}

// Classify turns a Bot API error (error_code, description,
// parameters.retry_after, whether parameters.migrate_to_chat_id was set)
// into an *adapters.APIError, following channels/telegram-viber.md §1.9.
// The spec warns that error codes may change, so descriptions decide
// within a code, matched case-insensitively.
//
// A 429 is ClassRateLimited with PerRecipient set: Telegram's flood
// control answers for the (bot, chat) pair that went too fast, and the
// gateway already paces every chat (Pace), so one chat's 429 parks that
// chat's lane, not the whole bot.
func Classify(code int, description string, retryAfter int, migrate bool) *adapters.APIError {
	ae := &adapters.APIError{ChannelCode: strconv.Itoa(code), Message: description, HTTPStatus: code}
	if ae.Message == "" {
		ae.Message = "error " + ae.ChannelCode
	}
	d := strings.ToLower(description)
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(d, x) {
				return true
			}
		}
		return false
	}
	switch {
	case code == 429 || retryAfter > 0:
		ae.Class, ae.Code, ae.PerRecipient = adapters.ClassRateLimited, "rate_limited", true
		ae.RetryAfter = time.Second
		if retryAfter > 0 {
			ae.RetryAfter = min(time.Duration(retryAfter)*time.Second, MaxRetryAfter)
		}
	case migrate:
		ae.Class, ae.Code = adapters.ClassRecipient, "chat_migrated"
	case code == 401:
		ae.Class, ae.Code = adapters.ClassConfig, "bad_token"
	case code == 404:
		ae.Class, ae.Code = adapters.ClassConfig, "not_found"
	case code == 403 && has("blocked by the user", "user is deactivated", "was kicked"):
		ae.Class, ae.Code = adapters.ClassRecipient, "blocked"
	case code == 403:
		// not a member of the channel, can't initiate conversation, not
		// enough rights: this chat refuses the bot.
		ae.Class, ae.Code = adapters.ClassRecipient, "forbidden"
	case code == 400 && has("chat not found", "peer_id_invalid", "user not found"):
		ae.Class, ae.Code = adapters.ClassRecipient, "chat_not_found"
	case code == 400 && has("query is too old", "query id is invalid"):
		ae.Class, ae.Code = adapters.ClassRequest, "query_too_old"
	case code == 400 && has("message is too long", "caption is too long"):
		ae.Class, ae.Code = adapters.ClassRequest, "text_too_long"
	case code == 400 && has("can't parse entities"):
		ae.Class, ae.Code = adapters.ClassRequest, "bad_markup"
	case code >= 500:
		ae.Class, ae.Code = adapters.ClassTransient, "server_error"
	default:
		ae.Class, ae.Code = adapters.ClassRequest, "bad_request"
	}
	return ae
}

// Render fills p with the calls that send r to to, in order, and what
// rendering changed (README.md, "Outbound"). Errors are
// *adapters.RenderError, found before any call; p.Degraded is set on
// errors too. Render never modifies r.
func (a *Adapter) Render(p *Plan, to adapters.Recipient, r *normalize.Reply) error {
	p.Reset()
	rd := renderer{p: p}
	if err := rd.render(a, to, r); err != nil {
		p.Calls, p.buf, p.ends = p.Calls[:0], p.buf[:0], p.ends[:0]
		return err
	}
	start := 0
	for i, end := range p.ends {
		p.Calls[i].Body = p.buf[start:end:end]
		start = end
	}
	return nil
}

// renderer is the scratch state of one Render.
type renderer struct {
	p     *Plan
	chat  ChatID
	group bool
	patch map[string]json.RawMessage // channel_data minus its control keys
	// plainPatch is patch without the styling members, for text that
	// Switchboard composed (cards) and for sendChatAction.
	plainPatch map[string]json.RawMessage
	mode       string // parse_mode from channel_data
	msgs       []msg
}

// msg is one message to post before encoding.
type msg struct {
	method string
	media  string // file_id or URL for sendPhoto…sendAudio
	text   string // text or caption
	lat    json.Number
	long   json.Number
	loc    map[string]json.RawMessage // extra sendLocation members
	inline *InlineKeyboardMarkup
	reply  *ReplyKeyboardMarkup
	// plain: text composed by Switchboard (cards), so channel_data's
	// parse_mode and entities do not apply.
	plain bool
}

func (rd *renderer) degrade(format string, args ...any) {
	rd.p.Degraded = append(rd.p.Degraded, fmt.Sprintf(format, args...))
}

// callbackAnswer is the answerCallbackQuery part of channel_data.
type callbackAnswer struct {
	ID        string `json:"callback_query_id"`
	Text      string `json:"text"`
	ShowAlert bool   `json:"show_alert"`
	URL       string `json:"url"`
	CacheTime int    `json:"cache_time"`
}

func (rd *renderer) render(a *Adapter, to adapters.Recipient, r *normalize.Reply) error {
	if a.BotID != "" && to.BotID != a.BotID {
		return adapters.Renderf("unknown_bot", "this connection is bot %s, not %q", a.BotID, to.BotID)
	}
	switch {
	case to.ChannelID == "":
		return adapters.Renderf("missing_recipient", "no chat id to send to")
	case isIntID(to.ChannelID), isChannelUsername(to.ChannelID):
	default:
		return adapters.Renderf("invalid_recipient", "chat id %q is neither an integer nor a @channel username", to.ChannelID)
	}
	rd.chat, rd.group = ChatID(to.ChannelID), !isPrivateChat(to.ChannelID)

	cb, loc, err := rd.channelData(r.ChannelData)
	if err != nil {
		return err
	}
	if r.OTNRequest != nil {
		return adapters.Renderf("unsupported", "Telegram has no one-time-notification request")
	}
	if r.MessagingType != "" || r.Tag != "" {
		rd.degrade("messaging_type and tag: ignored; Telegram has no messaging window")
	}
	if cb != nil {
		if err := rd.answerCallback(cb); err != nil {
			return err
		}
	}

	x := expandCopy(r)
	if strings.TrimSpace(x.Text) == "" {
		x.Text = "" // Telegram refuses whitespace-only text
	}
	hasContent := x.Text != "" || len(x.QuickReplies) > 0 || len(x.Buttons) > 0 || len(x.Cards) > 0 ||
		x.Attachment != nil || x.Media != nil || loc != nil
	if x.SenderAction != "" {
		if hasContent {
			return adapters.Renderf("mixed_sender_action", "sender_action is sent alone; send the content as a separate reply")
		}
		return rd.senderAction(x.SenderAction)
	}
	if !hasContent {
		if cb != nil {
			return nil
		}
		return adapters.Renderf("empty_reply", "the reply has nothing to send")
	}
	if err := rd.content(x, loc); err != nil {
		return err
	}
	for i := range rd.msgs {
		if err := rd.encodeMsg(&rd.msgs[i]); err != nil {
			return err
		}
	}
	return nil
}

func isChannelUsername(s string) bool {
	if len(s) < 2 || s[0] != '@' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isCommandChar(s[i]) {
			return false
		}
	}
	return true
}

// channelData splits channel_data into the answerCallbackQuery request
// (callback_query_id with text, show_alert, url, cache_time), the
// sendLocation request (location) and the members merged into every
// sendX call.
func (rd *renderer) channelData(raw json.RawMessage) (*callbackAnswer, map[string]json.RawMessage, error) {
	if len(raw) == 0 {
		return nil, nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, nil, adapters.Renderf("invalid_channel_data", "channel_data must be a JSON object")
	}
	var cb *callbackAnswer
	if _, ok := m["callback_query_id"]; ok {
		sub := map[string]json.RawMessage{}
		for _, k := range [...]string{"callback_query_id", "text", "show_alert", "url", "cache_time"} {
			if v, ok := m[k]; ok {
				sub[k] = v
				delete(m, k)
			}
		}
		b, _ := json.Marshal(sub)
		cb = new(callbackAnswer)
		if err := json.Unmarshal(b, cb); err != nil || cb.ID == "" {
			return nil, nil, adapters.Renderf("invalid_channel_data", "channel_data.callback_query_id must be a non-empty string, with text and url strings, show_alert a boolean and cache_time an integer")
		}
	}
	var loc map[string]json.RawMessage
	if v, ok := m["location"]; ok {
		delete(m, "location")
		if err := json.Unmarshal(v, &loc); err != nil || loc == nil {
			return nil, nil, adapters.Renderf("invalid_location", "channel_data.location must be an object with latitude and longitude")
		}
	}
	if v, ok := m["parse_mode"]; ok {
		if err := json.Unmarshal(v, &rd.mode); err != nil {
			return nil, nil, adapters.Renderf("invalid_channel_data", "channel_data.parse_mode must be a string")
		}
	}
	if len(m) > 0 {
		rd.patch = m
		rd.plainPatch = make(map[string]json.RawMessage, len(m))
		for k, v := range m {
			switch k {
			case "parse_mode", "entities", "caption_entities":
			default:
				rd.plainPatch[k] = v
			}
		}
	}
	return cb, loc, nil
}

func (rd *renderer) answerCallback(cb *callbackAnswer) error {
	params := AnswerCallbackQueryParams{CallbackQueryID: cb.ID, Text: cb.Text, ShowAlert: cb.ShowAlert, URL: cb.URL, CacheTime: cb.CacheTime}
	if n := utf16Len(cb.Text); n > MaxCallbackText {
		params.Text = truncateUnits(cb.Text, MaxCallbackText)
		rd.degrade("answerCallbackQuery text: %d characters truncated to %d", n, MaxCallbackText)
	}
	return rd.encode(MethodAnswerCallbackQuery, &params, nil, nil)
}

func (rd *renderer) senderAction(action string) error {
	switch action {
	case normalize.SenderActionTypingOn:
		return rd.encode(MethodSendChatAction, &SendChatActionParams{ChatID: rd.chat, Action: "typing"}, nil, rd.plainPatch)
	case normalize.SenderActionTypingOff, normalize.SenderActionMarkSeen:
		rd.degrade("sender_action %s: Telegram has no equivalent; nothing sent", action)
		return nil
	}
	return adapters.Renderf("invalid_sender_action", "sender_action %q is not typing_on, typing_off or mark_seen", action)
}

// content builds the messages of a reply with content: the attachment (its
// caption the text when it fits), the text in parts of at most 4096 units,
// the cards, the location; then places the keyboards.
func (rd *renderer) content(r *normalize.Reply, loc map[string]json.RawMessage) error {
	if r.Attachment != nil && r.Media != nil {
		return adapters.Renderf("unsupported_combination", "send attachment and media as separate replies")
	}
	inline, lines, err := rd.buttons(r.Buttons, "buttons")
	if err != nil {
		return err
	}
	text := r.Text
	if len(lines) > 0 {
		text = appendLines(text, lines, rd.mode)
	}

	main := -1 // the message that carries r.Buttons
	if r.Attachment != nil || r.Media != nil {
		m, err := rd.attachment(r.Attachment, r.Media)
		if err != nil {
			return err
		}
		if text != "" {
			if n := utf16Len(text); n <= MaxCaptionLen {
				m.text, text = text, ""
			} else {
				rd.degrade("text: %d characters is over the %d-character caption limit; sent as a separate message", n, MaxCaptionLen)
			}
		}
		rd.msgs = append(rd.msgs, m)
		main = len(rd.msgs) - 1
	}
	if text != "" {
		parts := splitText(text, MaxTextLen)
		if len(parts) > 1 {
			rd.degrade("text: %d characters (UTF-16 units) split into %d messages of at most %d", utf16Len(text), len(parts), MaxTextLen)
		}
		for _, t := range parts {
			rd.msgs = append(rd.msgs, msg{method: MethodSendMessage, text: t})
		}
		main = len(rd.msgs) - 1
	}
	if err := rd.cards(r.Cards); err != nil {
		return err
	}
	if loc != nil {
		m, err := rd.location(loc)
		if err != nil {
			return err
		}
		rd.msgs = append(rd.msgs, m)
		if main < 0 {
			main = len(rd.msgs) - 1
		}
	}
	if inline != nil {
		if main < 0 {
			return adapters.Renderf("buttons_need_text", "buttons ride on a text, an attachment or a location")
		}
		rd.msgs[main].inline = inline
	}
	if len(rd.msgs) == 0 {
		return adapters.Renderf("quick_replies_need_content", "quick replies need text, an attachment, cards or a location to ride on")
	}
	return rd.quickReplies(r.QuickReplies)
}

// buttons renders buttons as an inline keyboard, one per row: postback →
// callback_data (at most 64 bytes, else an error), url → url, account_link
// → url; phone numbers cannot be dialled from a button and become text
// lines ("Title: +1…", which Telegram clients make tappable); account_unlink
// is dropped. where names the list in messages.
func (rd *renderer) buttons(bs []normalize.Button, where string) (*InlineKeyboardMarkup, []string, error) {
	if len(bs) == 0 {
		return nil, nil, nil
	}
	if len(bs) > MaxInlineButtons {
		return nil, nil, adapters.Renderf("too_many_buttons", "%s: %d buttons; an inline keyboard holds at most %d", where, len(bs), MaxInlineButtons)
	}
	var rows [][]InlineKeyboardButton
	var lines []string
	for i, b := range bs {
		w := InlineKeyboardButton{Text: b.Title}
		switch b.Type {
		case normalize.ButtonPostback:
			if b.Payload == "" {
				return nil, nil, adapters.Renderf("invalid_button", "%s[%d] needs a payload", where, i)
			}
			if len(b.Payload) > MaxCallbackData {
				return nil, nil, adapters.Renderf("callback_data_too_long", "%s[%d].payload is %d bytes; Telegram's callback_data holds at most %d", where, i, len(b.Payload), MaxCallbackData)
			}
			w.CallbackData = b.Payload
		case normalize.ButtonURL:
			if !isButtonURL(b.URL) {
				return nil, nil, adapters.Renderf("invalid_url", "%s[%d].url is not an http(s) or tg:// URL", where, i)
			}
			w.URL = b.URL
		case normalize.ButtonAccountLink:
			if !isButtonURL(b.URL) {
				return nil, nil, adapters.Renderf("invalid_url", "%s[%d].url is not an http(s) URL", where, i)
			}
			w.URL = b.URL
			if w.Text == "" {
				w.Text = DefaultLoginButton
			}
			rd.degrade("%s[%d]: account_link sent as a url button", where, i)
		case normalize.ButtonAccountUnlink:
			rd.degrade("%s[%d]: account_unlink has no Telegram equivalent; dropped", where, i)
			continue
		case normalize.ButtonPhone:
			if b.Phone == "" {
				return nil, nil, adapters.Renderf("invalid_button", "%s[%d] needs a phone number", where, i)
			}
			line := b.Phone
			if b.Title != "" {
				line = b.Title + ": " + b.Phone
			}
			lines = append(lines, line)
			rd.degrade("%s[%d]: Telegram buttons cannot dial; the number is sent as text", where, i)
			continue
		default:
			return nil, nil, adapters.Renderf("invalid_button", "%s[%d] has unknown type %q", where, i, b.Type)
		}
		if w.Text == "" {
			return nil, nil, adapters.Renderf("button_title_missing", "%s[%d] needs a title", where, i)
		}
		rows = append(rows, []InlineKeyboardButton{w})
	}
	if len(rows) == 0 {
		return nil, lines, nil
	}
	return &InlineKeyboardMarkup{InlineKeyboard: rows}, lines, nil
}

// appendLines adds the phone lines below text, escaped for parse_mode.
func appendLines(text string, lines []string, mode string) string {
	var b strings.Builder
	b.WriteString(text)
	for _, l := range lines {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(escapeFor(mode, l))
	}
	return b.String()
}

// escapeFor escapes s so that parse_mode mode shows it as written.
func escapeFor(mode, s string) string {
	var special string
	switch mode {
	case "HTML":
		return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	case "MarkdownV2":
		special = "_*[]()~`>#+-=|{}.!\\"
	case "Markdown":
		special = "_*`["
	default:
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf && strings.ContainsRune(special, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isButtonURL(s string) bool {
	return adapters.IsWebURL(s) || strings.HasPrefix(s, "tg://") && len(s) > len("tg://") && !strings.ContainsAny(s, " \t\n\r")
}

// attachment renders an attachment (image → sendPhoto, file →
// sendDocument, video → sendVideo, audio → sendAudio) or a Messenger media
// template (image or video, its buttons as an inline keyboard).
func (rd *renderer) attachment(at *normalize.OutAttachment, md *normalize.Media) (msg, error) {
	typ, url, id, where := "", "", "", "attachment"
	if at != nil {
		typ, url, id = at.Type, at.URL, at.AttachmentID
	} else {
		typ, url, id, where = md.Type, md.URL, md.AttachmentID, "media"
	}
	var m msg
	switch typ {
	case "image":
		m.method = MethodSendPhoto
	case "file":
		m.method = MethodSendDocument
	case "video":
		m.method = MethodSendVideo
	case "audio":
		m.method = MethodSendAudio
	default:
		return m, adapters.Renderf("invalid_attachment_type", "%s type %q is not image, video, audio or file", where, typ)
	}
	if at == nil && typ != "image" && typ != "video" {
		return m, adapters.Renderf("invalid_media_type", "media type %q is not image or video", typ)
	}
	switch {
	case url != "" && id != "":
		return m, adapters.Renderf("invalid_attachment", "give the %s's url or its attachment_id, not both", where)
	case id != "":
		m.media = id
	case url != "":
		if !adapters.IsWebURL(url) {
			return m, adapters.Renderf("invalid_url", "%s url is not an http(s) URL", where)
		}
		m.media = url
	default:
		return m, adapters.Renderf("invalid_attachment", "the %s needs a url or an attachment_id", where)
	}
	if md != nil {
		rd.degrade("media: sent as a %s with its buttons as an inline keyboard", typ)
		kb, lines, err := rd.buttons(md.Buttons, "media.buttons")
		if err != nil {
			return m, err
		}
		m.inline = kb
		if len(lines) > 0 {
			m.text = appendLines("", lines, rd.mode)
		}
	}
	return m, nil
}

// cards renders each card (at most MaxCards) as its own message: a photo
// captioned "title\nsubtitle" when it has an image, else a text message;
// its buttons an inline keyboard; default_url a link line in the caption.
func (rd *renderer) cards(cards []normalize.Card) error {
	if len(cards) == 0 {
		return nil
	}
	if len(cards) > MaxCards {
		rd.degrade("cards: %d → %d", len(cards), MaxCards)
		cards = cards[:MaxCards]
	}
	rd.degrade("cards: each of %d sent as its own message (a photo with a caption, or text) with its buttons as an inline keyboard", len(cards))
	for i, c := range cards {
		if c.Title == "" {
			return adapters.Renderf("card_title_missing", "cards[%d] needs a title", i)
		}
		where := "cards[" + strconv.Itoa(i) + "].buttons"
		kb, lines, err := rd.buttons(c.Buttons, where)
		if err != nil {
			return err
		}
		var b strings.Builder
		b.WriteString(c.Title)
		for _, s := range [...]string{c.Subtitle, c.DefaultURL} {
			if s != "" {
				b.WriteByte('\n')
				b.WriteString(s)
			}
		}
		if c.DefaultURL != "" {
			if !adapters.IsWebURL(c.DefaultURL) {
				return adapters.Renderf("invalid_url", "cards[%d].default_url is not an http(s) URL", i)
			}
			rd.degrade("cards[%d].default_url: shown as a link in the text", i)
		}
		for _, l := range lines {
			b.WriteByte('\n')
			b.WriteString(l)
		}
		m := msg{method: MethodSendMessage, text: b.String(), inline: kb, plain: true}
		limit := MaxTextLen
		if c.ImageURL != "" {
			if !adapters.IsWebURL(c.ImageURL) {
				return adapters.Renderf("invalid_url", "cards[%d].image_url is not an http(s) URL", i)
			}
			m.method, m.media, limit = MethodSendPhoto, c.ImageURL, MaxCaptionLen
		}
		if n := utf16Len(m.text); n > limit {
			m.text = truncateUnits(m.text, limit)
			rd.degrade("cards[%d]: text of %d characters truncated to %d", i, n, limit)
		}
		rd.msgs = append(rd.msgs, m)
	}
	return nil
}

// location renders channel_data.location as sendLocation; members other
// than latitude and longitude (live_period, heading, …) pass through.
func (rd *renderer) location(loc map[string]json.RawMessage) (msg, error) {
	m := msg{method: MethodSendLocation}
	num := func(k string) (json.Number, error) {
		raw := bytes.TrimSpace(loc[k])
		if len(raw) == 0 || raw[0] == '"' {
			return "", adapters.Renderf("invalid_location", "channel_data.location.%s must be a number", k)
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return "", adapters.Renderf("invalid_location", "channel_data.location.%s must be a number", k)
		}
		if k == "latitude" && (f < -90 || f > 90) || k == "longitude" && (f < -180 || f > 180) {
			return "", adapters.Renderf("invalid_location", "channel_data.location.%s %s is out of range", k, raw)
		}
		return json.Number(raw), nil
	}
	var err error
	if m.lat, err = num("latitude"); err != nil {
		return m, err
	}
	if m.long, err = num("longitude"); err != nil {
		return m, err
	}
	for k, v := range loc {
		if k != "latitude" && k != "longitude" {
			if m.loc == nil {
				m.loc = map[string]json.RawMessage{}
			}
			m.loc[k] = v
		}
	}
	return m, nil
}

// quickReplies renders quick replies as a one-time reply keyboard, rows of
// KeyboardColumns, on the last message of the reply. A reply-keyboard
// button sends its title as text, so payloads other than the title are
// lost (reported). A message holds one keyboard: when the last one already
// has an inline keyboard, text quick replies become extra callback rows of
// it instead (their payloads kept; presses arrive as postbacks).
func (rd *renderer) quickReplies(qs []normalize.QuickReply) error {
	if len(qs) == 0 {
		return nil
	}
	last := &rd.msgs[len(rd.msgs)-1]
	if last.inline != nil {
		return rd.quickRepliesInline(qs, last)
	}
	kb := &ReplyKeyboardMarkup{ResizeKeyboard: true, OneTimeKeyboard: true}
	var row []KeyboardButton
	for i, q := range qs {
		w := KeyboardButton{Text: q.Title}
		switch q.Type {
		case normalize.QuickReplyText:
			if q.Title == "" {
				return adapters.Renderf("invalid_quick_reply", "quick_replies[%d] needs a title: Telegram's keyboard buttons are text", i)
			}
			if q.Payload != q.Title {
				rd.degrade("quick_replies[%d].payload: dropped; a keyboard button sends its title as text", i)
			}
			if q.ImageURL != "" {
				rd.degrade("quick_replies[%d].image_url: dropped; keyboard buttons have no image", i)
			}
		case normalize.QuickReplyUserPhone:
			if w.Text == "" {
				w.Text = DefaultPhoneButton
			}
			if rd.group {
				rd.degrade("quick_replies[%d]: request_contact works in private chats only; sent as a text button", i)
			} else {
				w.RequestContact = true
			}
		case normalize.QuickReplyUserEmail:
			if w.Text == "" {
				w.Text = DefaultEmailButton
			}
			rd.degrade("quick_replies[%d]: Telegram cannot share an email address; sent as a text button", i)
		default:
			return adapters.Renderf("invalid_quick_reply", "quick_replies[%d] has unknown type %q", i, q.Type)
		}
		row = append(row, w)
		if len(row) == KeyboardColumns {
			kb.Keyboard = append(kb.Keyboard, row)
			row = nil
		}
	}
	if len(row) > 0 {
		kb.Keyboard = append(kb.Keyboard, row)
	}
	last.reply = kb
	return nil
}

func (rd *renderer) quickRepliesInline(qs []normalize.QuickReply, m *msg) error {
	rd.degrade("quick_replies: the last message has an inline keyboard; sent as inline buttons on it (presses arrive as postbacks)")
	rows := m.inline.InlineKeyboard
	for i, q := range qs {
		if q.Type != normalize.QuickReplyText {
			rd.degrade("quick_replies[%d]: %s needs a reply keyboard; dropped", i, q.Type)
			continue
		}
		if q.Title == "" {
			return adapters.Renderf("invalid_quick_reply", "quick_replies[%d] needs a title", i)
		}
		if len(q.Payload) > MaxCallbackData {
			return adapters.Renderf("callback_data_too_long", "quick_replies[%d].payload is %d bytes; Telegram's callback_data holds at most %d", i, len(q.Payload), MaxCallbackData)
		}
		rows = append(rows, []InlineKeyboardButton{{Text: q.Title, CallbackData: q.Payload}})
	}
	if len(rows) > MaxInlineButtons {
		return adapters.Renderf("too_many_buttons", "%d buttons; an inline keyboard holds at most %d", len(rows), MaxInlineButtons)
	}
	m.inline = &InlineKeyboardMarkup{InlineKeyboard: rows}
	return nil
}

// encodeMsg encodes one message as its sendX call.
func (rd *renderer) encodeMsg(m *msg) error {
	var markup any
	switch {
	case m.inline != nil:
		markup = m.inline
	case m.reply != nil:
		markup = m.reply
	}
	var v any
	switch m.method {
	case MethodSendMessage:
		v = &SendMessageParams{ChatID: rd.chat, Text: m.text, ReplyMarkup: markup}
	case MethodSendPhoto:
		v = &SendPhotoParams{ChatID: rd.chat, Photo: m.media, Caption: m.text, ReplyMarkup: markup}
	case MethodSendDocument:
		v = &SendDocumentParams{ChatID: rd.chat, Document: m.media, Caption: m.text, ReplyMarkup: markup}
	case MethodSendVideo:
		v = &SendVideoParams{ChatID: rd.chat, Video: m.media, Caption: m.text, ReplyMarkup: markup}
	case MethodSendAudio:
		v = &SendAudioParams{ChatID: rd.chat, Audio: m.media, Caption: m.text, ReplyMarkup: markup}
	case MethodSendLocation:
		v = &SendLocationParams{ChatID: rd.chat, Latitude: m.lat, Longitude: m.long, ReplyMarkup: markup}
	default:
		panic("telegram: no encoder for " + m.method)
	}
	patch := rd.patch
	if m.plain {
		patch = rd.plainPatch
	}
	return rd.encode(m.method, v, m.loc, patch)
}

// encode appends the JSON of v as the body of one call, with extra and
// then patch (channel_data) merged in as a JSON merge patch (RFC 7386).
// Without either the body keeps v's member order; with one, members come
// out sorted by name.
func (rd *renderer) encode(method string, v any, extra, patch map[string]json.RawMessage) error {
	p := rd.p
	start := len(p.buf)
	w := appendWriter{&p.buf}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		p.buf = p.buf[:start]
		return adapters.Renderf("internal", "encoding %s: %v", method, err)
	}
	p.buf = bytes.TrimSuffix(p.buf, []byte{'\n'})
	patch = merged(extra, patch)
	if len(patch) > 0 {
		body, err := mergePatch(p.buf[start:], patch)
		if err != nil {
			p.buf = p.buf[:start]
			return adapters.Renderf("invalid_channel_data", "merging channel_data into %s: %v", method, err)
		}
		p.buf = append(p.buf[:start], body...)
	}
	p.Calls = append(p.Calls, Call{Method: method})
	p.ends = append(p.ends, len(p.buf))
	return nil
}

// merged is extra then patch, with patch winning; neither is modified.
func merged(extra, patch map[string]json.RawMessage) map[string]json.RawMessage {
	if len(extra) == 0 {
		return patch
	}
	m := make(map[string]json.RawMessage, len(extra)+len(patch))
	for k, v := range extra {
		m[k] = v
	}
	for k, v := range patch {
		m[k] = v
	}
	return m
}

type appendWriter struct{ b *[]byte }

func (w appendWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// mergePatch applies patch to the JSON object target (RFC 7386): objects
// merge member by member, null deletes a member, any other value replaces
// it. The result's members are sorted by name. Unlike adapters.MergePatch
// it writes strings as this renderer does, without HTML escapes (<, >, &
// stay as sent), and takes the patch as decoded members.
func mergePatch(target []byte, patch map[string]json.RawMessage) ([]byte, error) {
	var t map[string]json.RawMessage
	if err := json.Unmarshal(target, &t); err != nil || t == nil {
		t = map[string]json.RawMessage{}
	}
	for k, v := range patch {
		if string(bytes.TrimSpace(v)) == "null" {
			delete(t, k)
			continue
		}
		var sub map[string]json.RawMessage
		if err := json.Unmarshal(v, &sub); err == nil && sub != nil {
			m, err := mergePatch(t[k], sub)
			if err != nil {
				return nil, err
			}
			t[k] = m
			continue
		}
		t[k] = v
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(t); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// expandCopy returns a copy of r with the Messenger Actions shorthand
// expanded (normalize.Reply.Expand), r itself untouched. Unlike
// adapters.ExpandedReply it allocates the copy: this renderer is not
// pooled, and a heap renderer holding the scratch costs more bytes.
func expandCopy(r *normalize.Reply) *normalize.Reply {
	x := *r
	x.QuickReplies = append([]normalize.QuickReply(nil), r.QuickReplies...)
	x.Buttons = append([]normalize.Button(nil), r.Buttons...)
	if len(r.Cards) > 0 {
		x.Cards = make([]normalize.Card, len(r.Cards))
		for i, c := range r.Cards {
			c.Buttons = append([]normalize.Button(nil), c.Buttons...)
			x.Cards[i] = c
		}
	}
	if r.Media != nil {
		m := *r.Media
		m.Buttons = append([]normalize.Button(nil), m.Buttons...)
		x.Media = &m
	}
	x.Expand()
	return &x
}

// utf16Len is the length of s in UTF-16 code units, as Telegram counts
// text: runes above U+FFFF (most emoji) count two.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// truncateUnits cuts s to at most limit UTF-16 units, the last being "…".
func truncateUnits(s string, limit int) string {
	n := 0
	for i, r := range s {
		w := 1
		if r > 0xFFFF {
			w = 2
		}
		if n+w > limit-1 {
			return strings.TrimRightFunc(s[:i], unicode.IsSpace) + "…"
		}
		n += w
	}
	return s
}

// splitText cuts s into parts of at most limit UTF-16 units: at the last
// newline in the second half of a part, else the last space or tab there,
// else at the limit (never inside a character). The separator is dropped;
// parts that would be only whitespace are skipped, since Telegram refuses
// empty text.
func splitText(s string, limit int) []string {
	if utf16Len(s) <= limit {
		return []string{s}
	}
	var parts []string
	for utf16Len(s) > limit {
		hard, nl, sp := 0, -1, -1
		n := 0
		for i, r := range s {
			w := 1
			if r > 0xFFFF {
				w = 2
			}
			if n+w > limit {
				hard = i
				break
			}
			n += w
			switch r {
			case '\n':
				nl = i
			case ' ', '\t':
				sp = i
			}
		}
		cut, next := hard, hard
		switch {
		case nl >= hard/2 && nl > 0:
			cut, next = nl, nl+1
		case sp >= hard/2 && sp > 0:
			cut, next = sp, sp+1
		}
		if part := strings.TrimRightFunc(s[:cut], unicode.IsSpace); strings.TrimSpace(part) != "" {
			parts = append(parts, part)
		}
		s = s[next:]
	}
	if s = strings.TrimRightFunc(s, unicode.IsSpace); strings.TrimSpace(s) != "" {
		parts = append(parts, s)
	}
	return parts
}
