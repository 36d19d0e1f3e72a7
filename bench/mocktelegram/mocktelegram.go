package mocktelegram

import (
	"context"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
	"golang.org/x/time/rate"

	"github.com/switchboard-gw/switchboard/normalize"
)

// DefaultToken is the fake bot token Start registers; its bot id is
// DefaultBotID.
const (
	DefaultToken = "7012345678:AAmock-telegram-token-not-real"
	DefaultBotID = "7012345678"
)

// Flood is the per-chat flood limit, as token buckets: a private chat
// (positive id) may receive PrivateBurst messages at once and then one
// every PrivateEvery; a group, supergroup or channel GroupBurst and then
// one every GroupEvery. A zero Every disables that limit.
type Flood struct {
	PrivateEvery time.Duration
	PrivateBurst int
	GroupEvery   time.Duration
	GroupBurst   int
}

// DefaultFlood follows the Bot FAQ: about one message a second per chat
// (short bursts tolerated: 3), twenty a minute per group.
var DefaultFlood = Flood{PrivateEvery: time.Second, PrivateBurst: 3, GroupEvery: 3 * time.Second, GroupBurst: 20}

// Request is one recorded call. Body is a copy.
type Request struct {
	Time   time.Time
	BotID  string // the token's numeric prefix; "" when the path had no token
	Method string // sendMessage, …
	ChatID string // as sent: digits, or @username
	Body   []byte
	Status int // what the mock answered
}

// Failure is a scripted answer.
type Failure struct {
	Status int
	Body   string
}

// Server is a mock Bot API. The scripting methods may be called at any
// time.
type Server struct {
	mu       sync.Mutex
	tokens   map[string]string // token → bot id
	fails    []Failure
	blocked  map[string]bool   // bot/chat
	notFound map[string]bool   // bot/chat
	migrated map[string]string // bot/chat → new chat id
	flood    Flood
	limiters map[string]*rate.Limiter // bot/chat
	msgIDs   map[string]int64         // bot/chat → last message id
	latency  time.Duration
	reqs     []Request

	files   atomic.Int64
	count   atomic.Int64
	parsers fastjson.ParserPool
	srv     *fasthttp.Server
	base    string
}

// Start serves a mock on a free loopback port, knowing DefaultToken and
// keeping DefaultFlood.
func Start() (*Server, error) { return StartOn("127.0.0.1:0") }

// StartOn is Start on addr.
func StartOn(addr string) (*Server, error) {
	s := &Server{
		tokens:   map[string]string{DefaultToken: DefaultBotID},
		blocked:  map[string]bool{},
		notFound: map[string]bool{},
		migrated: map[string]string{},
		limiters: map[string]*rate.Limiter{},
		msgIDs:   map[string]int64{},
		flood:    DefaultFlood,
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mocktelegram: %w", err)
	}
	s.srv = &fasthttp.Server{
		Handler:     s.handle,
		Name:        "mocktelegram",
		ReadTimeout: 30 * time.Second,
		IdleTimeout: 30 * time.Second,
	}
	go s.srv.Serve(ln) //nolint:errcheck // returns nil on Close
	s.base = "http://" + ln.Addr().String()
	return s, nil
}

// URL is the base to put in api_base: http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.base }

// Close stops the server, waiting up to 5 s for calls in flight.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.ShutdownWithContext(ctx)
}

// AddToken makes token valid; its bot id is the part before the colon.
func (s *Server) AddToken(token string) {
	id, _, _ := strings.Cut(token, ":")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = id
}

// FailNext makes the next n calls answer status and body instead of being
// served.
func (s *Server) FailNext(n, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.fails = append(s.fails, Failure{Status: status, Body: body})
	}
}

// Block makes every send to chatID from bot botID ("" for DefaultBotID)
// answer 403 "Forbidden: bot was blocked by the user".
func (s *Server) Block(botID, chatID string) { s.set(s.blocked, botID, chatID) }

// ChatNotFound makes every send to chatID answer 400 "Bad Request: chat
// not found".
func (s *Server) ChatNotFound(botID, chatID string) { s.set(s.notFound, botID, chatID) }

// Migrate makes sends to the group from answer 400 with
// parameters.migrate_to_chat_id = to, as after an upgrade to a supergroup.
func (s *Server) Migrate(botID, from, to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.migrated[key(botID, from)] = to
}

func (s *Server) set(m map[string]bool, botID, chatID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m[key(botID, chatID)] = true
}

func key(botID, chatID string) string {
	if botID == "" {
		botID = DefaultBotID
	}
	return botID + "/" + chatID
}

// SetFlood replaces the flood limit and forgets every chat's bucket; the
// zero Flood disables flood control.
func (s *Server) SetFlood(f Flood) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flood = f
	clear(s.limiters)
}

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Requests returns a copy of the calls recorded so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Sent returns the successful calls that posted a message to chatID (any
// bot), oldest first.
func (s *Server) Sent(chatID string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.reqs {
		if r.ChatID == chatID && r.Status == 200 && posts(r.Method) {
			out = append(out, r)
		}
	}
	return out
}

// Count is the number of calls answered so far.
func (s *Server) Count() int { return int(s.count.Load()) }

// Reset forgets recorded calls, scripted failures, chat rules, buckets and
// message ids, and restores DefaultFlood; tokens stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs, s.fails, s.latency, s.flood = nil, nil, 0, DefaultFlood
	clear(s.blocked)
	clear(s.notFound)
	clear(s.migrated)
	clear(s.limiters)
	clear(s.msgIDs)
	s.count.Store(0)
}

// posts reports whether method posts a message.
func posts(method string) bool {
	switch method {
	case "sendMessage", "sendPhoto", "sendDocument", "sendVideo", "sendAudio", "sendLocation":
		return true
	}
	return false
}

// handle answers one call and records it. ctx's memory is reused after it
// returns: everything recorded is copied.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	rec := Request{Time: time.Now(), Body: append([]byte(nil), ctx.PostBody()...)}
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		time.Sleep(latency)
	}
	s.serve(ctx, &rec)
	rec.Status = ctx.Response.StatusCode()
	s.mu.Lock()
	s.reqs = append(s.reqs, rec)
	s.mu.Unlock()
	s.count.Add(1)
}

func (s *Server) serve(ctx *fasthttp.RequestCtx, rec *Request) {
	ctx.SetContentType("application/json")
	// /bot<token>/<method>
	path := string(ctx.Path())
	token, method, ok := strings.Cut(strings.TrimPrefix(path, "/bot"), "/")
	if !strings.HasPrefix(path, "/bot") || !ok {
		fail(ctx, 404, "Not Found", nil)
		return
	}
	rec.Method = method
	s.mu.Lock()
	var scripted *Failure
	if len(s.fails) > 0 {
		f := s.fails[0]
		s.fails = s.fails[1:]
		scripted = &f
	}
	bot, known := s.tokens[token]
	s.mu.Unlock()
	if known {
		rec.BotID = bot
	}
	if scripted != nil {
		ctx.SetStatusCode(scripted.Status)
		ctx.SetBodyString(scripted.Body)
		return
	}
	if !known {
		fail(ctx, 401, "Unauthorized", nil)
		return
	}

	p := s.parsers.Get()
	defer s.parsers.Put(p)
	args, err := params(ctx, p)
	if err != nil {
		fail(ctx, 400, "Bad Request: "+err.Error(), nil)
		return
	}
	if method == "getMe" {
		ctx.SetBody(appendBot([]byte(`{"ok":true,"result":`), bot, true, `}`))
		return
	}
	if method == "answerCallbackQuery" {
		if len(args.GetStringBytes("callback_query_id")) == 0 {
			fail(ctx, 400, "Bad Request: query is too old and response timeout expired or query ID is invalid", nil)
			return
		}
		ctx.SetBodyString(`{"ok":true,"result":true}`)
		return
	}
	switch method {
	case "sendMessage", "sendPhoto", "sendDocument", "sendVideo", "sendAudio", "sendLocation", "sendChatAction":
	default:
		fail(ctx, 404, "Not Found", nil)
		return
	}

	chat := chatID(args.Get("chat_id"))
	rec.ChatID = chat
	if chat == "" {
		fail(ctx, 400, "Bad Request: chat_id is empty", nil)
		return
	}
	k := key(bot, chat)
	s.mu.Lock()
	to, migrated := s.migrated[k]
	notFound, blocked := s.notFound[k], s.blocked[k]
	s.mu.Unlock()
	switch {
	case migrated:
		fail(ctx, 400, "Bad Request: group chat was upgraded to a supergroup chat", []byte(`{"migrate_to_chat_id":`+to+`}`))
		return
	case notFound:
		fail(ctx, 400, "Bad Request: chat not found", nil)
		return
	case blocked:
		fail(ctx, 403, "Forbidden: bot was blocked by the user", nil)
		return
	}
	if msg := validate(method, args); msg != "" {
		fail(ctx, 400, "Bad Request: "+msg, nil)
		return
	}
	if method == "sendChatAction" {
		ctx.SetBodyString(`{"ok":true,"result":true}`)
		return
	}
	if wait := s.flooded(k, chat); wait > 0 {
		secs := strconv.Itoa(wait)
		fail(ctx, 429, "Too Many Requests: retry after "+secs, []byte(`{"retry_after":`+secs+`}`))
		return
	}
	ctx.SetBody(s.message(bot, chat, k, method, args))
}

// params reads the call's parameters as one JSON object: the JSON body,
// else the form or query arguments (reply_markup and other JSON-valued
// arguments parsed, the rest as strings).
func params(ctx *fasthttp.RequestCtx, p *fastjson.Parser) (*fastjson.Value, error) {
	if body := ctx.PostBody(); len(body) > 0 && strings.HasPrefix(string(ctx.Request.Header.ContentType()), "application/json") {
		if err := fastjson.ValidateBytes(body); err != nil {
			return nil, fmt.Errorf("can't parse JSON: %v", err)
		}
		v, err := p.ParseBytes(body)
		if err != nil || v.Type() != fastjson.TypeObject {
			return nil, fmt.Errorf("request body must be a JSON object")
		}
		return v, nil
	}
	obj := []byte{'{'}
	add := func(k, v []byte) {
		if len(obj) > 1 {
			obj = append(obj, ',')
		}
		obj = normalize.AppendString(obj, string(k))
		obj = append(obj, ':')
		if string(k) == "reply_markup" && fastjson.ValidateBytes(v) == nil {
			obj = append(obj, v...)
		} else {
			obj = normalize.AppendString(obj, string(v))
		}
	}
	ctx.QueryArgs().VisitAll(add)
	ctx.PostArgs().VisitAll(add)
	obj = append(obj, '}')
	return p.ParseBytes(obj)
}

// chatID is chat_id as digits or @username, from a number or a string.
func chatID(v *fastjson.Value) string {
	if v == nil {
		return ""
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		s := v.String()
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return s
		}
	case fastjson.TypeString:
		s := string(v.GetStringBytes())
		if _, err := strconv.ParseInt(s, 10, 64); err == nil || (len(s) > 1 && s[0] == '@') {
			return s
		}
	}
	return ""
}

// validate returns the Bot API's complaint about args for method, or "".
func validate(method string, args *fastjson.Value) string {
	switch method {
	case "sendMessage":
		text := string(args.GetStringBytes("text"))
		if strings.TrimSpace(text) == "" {
			return "message text is empty"
		}
		if utf16Len(text) > 4096 {
			return "message is too long"
		}
	case "sendPhoto", "sendDocument", "sendVideo", "sendAudio":
		field := strings.ToLower(strings.TrimPrefix(method, "send"))
		if len(args.GetStringBytes(field)) == 0 {
			return "there is no " + field + " in the request"
		}
		if utf16Len(string(args.GetStringBytes("caption"))) > 1024 {
			return "message caption is too long"
		}
	case "sendLocation":
		for _, k := range []string{"latitude", "longitude"} {
			v := args.Get(k)
			if v == nil || v.Type() != fastjson.TypeNumber {
				return "wrong " + k + " specified"
			}
		}
	case "sendChatAction":
		switch string(args.GetStringBytes("action")) {
		case "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
			"upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note":
		default:
			return "wrong parameter action in request"
		}
		return ""
	}
	return validateMarkup(args.Get("reply_markup"))
}

// validateMarkup checks inline keyboards: every button has text and
// callback_data of 1–64 bytes or a URL.
func validateMarkup(m *fastjson.Value) string {
	if m == nil {
		return ""
	}
	if m.Type() != fastjson.TypeObject {
		return "can't parse reply keyboard markup JSON object"
	}
	for _, row := range m.GetArray("inline_keyboard") {
		for _, b := range row.GetArray() {
			if len(b.GetStringBytes("text")) == 0 {
				return "text buttons are unallowed in the inline keyboard"
			}
			cd := b.Get("callback_data")
			if cd != nil {
				if n := len(cd.GetStringBytes()); n == 0 || n > 64 {
					return "BUTTON_DATA_INVALID"
				}
			} else if len(b.GetStringBytes("url")) == 0 {
				return "BUTTON_TYPE_INVALID"
			}
		}
	}
	for _, row := range m.GetArray("keyboard") {
		for _, b := range row.GetArray() {
			if len(b.GetStringBytes("text")) == 0 {
				return "keyboard button text is empty"
			}
		}
	}
	return ""
}

// flooded takes a slot from chat's bucket; it returns 0 when the message
// may go, else the seconds to wait.
func (s *Server) flooded(k, chat string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	every, burst := s.flood.PrivateEvery, s.flood.PrivateBurst
	if chat[0] == '-' || chat[0] == '@' {
		every, burst = s.flood.GroupEvery, s.flood.GroupBurst
	}
	if every <= 0 {
		return 0
	}
	l := s.limiters[k]
	if l == nil {
		l = rate.NewLimiter(rate.Every(every), max(burst, 1))
		s.limiters[k] = l
	}
	now := time.Now()
	r := l.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d <= 0 {
		return 0
	}
	r.CancelAt(now)
	return max(1, int(math.Ceil(d.Seconds())))
}

// message answers a send: a Message with the next id of the chat.
func (s *Server) message(bot, chat, k, method string, args *fastjson.Value) []byte {
	s.mu.Lock()
	s.msgIDs[k]++
	id := s.msgIDs[k]
	s.mu.Unlock()
	b := []byte(`{"ok":true,"result":{"message_id":`)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"from":`...)
	b = appendBot(b, bot, false, "")
	b = append(b, `,"chat":{"id":`...)
	if chat[0] == '@' {
		b = normalize.AppendString(b, chat) // the real API answers the numeric id; the mock has none
	} else {
		b = append(b, chat...)
	}
	b = append(b, `,"type":"`...)
	b = append(b, chatType(chat)...)
	b = append(b, `"},"date":`...)
	b = strconv.AppendInt(b, time.Now().Unix(), 10)
	switch method {
	case "sendMessage":
		b = append(b, `,"text":`...)
		b = normalize.AppendString(b, string(args.GetStringBytes("text")))
	case "sendPhoto":
		fid := s.fileID("AgAC", args.GetStringBytes("photo"))
		b = append(b, `,"photo":[{"file_id":`...)
		b = normalize.AppendString(b, fid+"-s")
		b = append(b, `,"file_unique_id":"s`...)
		b = append(b, fid...)
		b = append(b, `","width":90,"height":60,"file_size":1200},{"file_id":`...)
		b = normalize.AppendString(b, fid)
		b = append(b, `,"file_unique_id":"u`...)
		b = append(b, fid...)
		b = append(b, `","width":1280,"height":853,"file_size":98765}]`...)
	case "sendDocument", "sendVideo", "sendAudio":
		field := strings.ToLower(strings.TrimPrefix(method, "send"))
		fid := s.fileID("BQAC", args.GetStringBytes(field))
		b = append(b, `,"`...)
		b = append(b, field...)
		b = append(b, `":{"file_id":`...)
		b = normalize.AppendString(b, fid)
		b = append(b, `,"file_unique_id":"u`...)
		b = append(b, fid...)
		b = append(b, `","file_size":4096}`...)
	case "sendLocation":
		b = append(b, `,"location":{"latitude":`...)
		b = args.Get("latitude").MarshalTo(b)
		b = append(b, `,"longitude":`...)
		b = args.Get("longitude").MarshalTo(b)
		b = append(b, '}')
	}
	if c := args.GetStringBytes("caption"); len(c) > 0 {
		b = append(b, `,"caption":`...)
		b = normalize.AppendString(b, string(c))
	}
	if m := args.Get("reply_markup"); m != nil && m.Get("inline_keyboard") != nil {
		b = append(b, `,"reply_markup":`...)
		b = m.MarshalTo(b)
	}
	return append(b, `}}`...)
}

// fileID keeps a file_id sent back, and makes one up for a URL.
func (s *Server) fileID(prefix string, media []byte) string {
	m := string(media)
	if !strings.HasPrefix(m, "http://") && !strings.HasPrefix(m, "https://") {
		return m
	}
	return prefix + "mock" + strconv.FormatInt(s.files.Add(1), 10)
}

func chatType(chat string) string {
	switch {
	case chat[0] == '@':
		return "channel"
	case strings.HasPrefix(chat, "-100"):
		return "supergroup"
	case chat[0] == '-':
		return "group"
	}
	return "private"
}

func appendBot(b []byte, bot string, full bool, tail string) []byte {
	b = append(b, `{"id":`...)
	b = append(b, bot...)
	b = append(b, `,"is_bot":true,"first_name":"Mock Bot","username":"mock`...)
	b = append(b, bot...)
	b = append(b, `_bot"`...)
	if full {
		b = append(b, `,"can_join_groups":true,"can_read_all_group_messages":false,"supports_inline_queries":false`...)
	}
	b = append(b, '}')
	return append(b, tail...)
}

// fail writes the Bot API error envelope.
func fail(ctx *fasthttp.RequestCtx, code int, description string, parameters []byte) {
	b := []byte(`{"ok":false,"error_code":`)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"description":`...)
	b = normalize.AppendString(b, description)
	if parameters != nil {
		b = append(b, `,"parameters":`...)
		b = append(b, parameters...)
	}
	ctx.SetStatusCode(code)
	ctx.SetBody(append(b, '}'))
}

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
