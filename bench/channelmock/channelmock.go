// Package channelmock is the bench suite's stand-in for the channels' send
// APIs: a fasthttp server on a loopback port that answers each send like
// the real API's success and timestamps it, so the suite can close the
// round trip (webhook in → backend → reply at the channel API) and account
// for every reply. It checks what a send must carry (a known access token,
// a recipient, a message) and refuses the rest the way the channel would.
//
// bench/mockgraph mocks the Graph API in depth (scripted failures,
// throttling, handover) for tests; it records calls but has no hook to
// timestamp each one as it arrives without keeping it, which a long load
// run needs. This mock does only that, cheaply.
//
// Served today: Messenger's POST /{version}/me/messages and
// /{version}/{page-id}/messages (access_token in the query; a JSON body,
// or a form as a batched call carries it), and Graph batch requests of
// them (POST / or /{version}/, bench/internal/graphbatch); WhatsApp's
// POST /{version}/{phone-number-id}/messages (Authorization: Bearer);
// Telegram's POST /bot{token}/sendMessage
// (and answerCallbackQuery, answered but not counted as a reply); Viber's
// POST /viber/send_message (X-Viber-Auth-Token). A new channel adds its
// route here.
package channelmock

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/bench/internal/graphbatch"
	"github.com/switchboard-gw/switchboard/bench/internal/serve"
	"github.com/switchboard-gw/switchboard/normalize"
)

// GraphVersion is the version prefix of MessengerBase.
const GraphVersion = "v25.0"

// Server is the mock. AddMessengerPage before Start.
type Server struct {
	// OnReply is called for every accepted send; text and recipient are
	// valid only during the call.
	OnReply func(channel string, recipient, text []byte, at time.Time)

	// Accepted counts answered sends; Refused counts sends answered with
	// an error (bad token, bad body, unknown route). Batches counts Graph
	// batch requests, whose calls count as sends each. Requests counts
	// HTTP requests, a batch being one.
	Accepted, Refused, Batches, Requests atomic.Uint64

	mu      sync.Mutex
	tokens  map[string]string // Messenger access token → page id
	bots    map[string]bool   // Telegram bot tokens
	phones  map[string]string // WhatsApp access token → phone number id
	vibers  map[string]bool   // Viber auth tokens
	seq     atomic.Uint64
	parsers fastjson.ParserPool
	srv     *fasthttp.Server
	addr    string
}

// AddMessengerPage lets token send as page.
func (s *Server) AddMessengerPage(page, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens == nil {
		s.tokens = map[string]string{}
	}
	s.tokens[token] = page
}

// AddWhatsAppNumber lets token send as phone number id.
func (s *Server) AddWhatsAppNumber(id, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phones == nil {
		s.phones = map[string]string{}
	}
	s.phones[token] = id
}

// AddViberBot lets the bot with authToken send.
func (s *Server) AddViberBot(authToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vibers == nil {
		s.vibers = map[string]bool{}
	}
	s.vibers[authToken] = true
}

// ViberBase is the api_base of a Viber connection sending here.
func (s *Server) ViberBase() string { return "http://" + s.addr + "/viber" }

// AddTelegramBot lets the bot with token send.
func (s *Server) AddTelegramBot(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bots == nil {
		s.bots = map[string]bool{}
	}
	s.bots[token] = true
}

// Start listens on addr ("" for 127.0.0.1:0).
func (s *Server) Start(addr string) error {
	ln, err := serve.Listen(addr)
	if err != nil {
		return fmt.Errorf("channelmock: %w", err)
	}
	s.srv = &fasthttp.Server{
		Handler:               s.serve,
		Name:                  "channelmock",
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           time.Minute,
		NoDefaultServerHeader: true,
	}
	go s.srv.Serve(ln) //nolint:errcheck // nil on Shutdown
	s.addr = ln.Addr().String()
	return nil
}

// MessengerBase is the api_base of a Messenger connection sending here.
func (s *Server) MessengerBase() string { return "http://" + s.addr + "/" + GraphVersion }

// TelegramBase is the api_base of a Telegram connection sending here.
func (s *Server) TelegramBase() string { return "http://" + s.addr }

// Close stops the server.
func (s *Server) Close() error {
	return serve.Shutdown(s.srv)
}

// serve answers one HTTP request: a Graph batch request call by call, or
// one send.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	s.Requests.Add(1)
	if graphbatch.Is(ctx) {
		s.Batches.Add(1)
		graphbatch.Serve(ctx, s.handle)
		return
	}
	s.handle(ctx)
}

// handle answers one send.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	at := time.Now()
	ctx.SetContentType("application/json; charset=UTF-8")
	path := string(ctx.Path())
	if ctx.IsPost() && strings.HasSuffix(path, "/messages") && strings.HasPrefix(path, "/v") {
		if bearer, ok := strings.CutPrefix(string(ctx.Request.Header.Peek("Authorization")), "Bearer "); ok {
			s.whatsappSend(ctx, path, bearer, at)
			return
		}
		s.messengerSend(ctx, path, at)
		return
	}
	if ctx.IsPost() && path == "/viber/send_message" {
		s.viberSend(ctx, at)
		return
	}
	if ctx.IsPost() && strings.HasPrefix(path, "/bot") {
		s.telegramSend(ctx, path, at)
		return
	}
	s.Refused.Add(1)
	ctx.SetStatusCode(400)
	ctx.SetBodyString(`{"error":{"message":"Unknown path components","type":"OAuthException","code":2500}}`)
}

// messengerSend answers the Send API: {"recipient_id","message_id"}.
func (s *Server) messengerSend(ctx *fasthttp.RequestCtx, path string, at time.Time) {
	s.mu.Lock()
	page, ok := s.tokens[string(ctx.QueryArgs().Peek("access_token"))]
	s.mu.Unlock()
	p := s.parsers.Get()
	defer s.parsers.Put(p)
	v := s.graphRequest(ctx, p, path, page, ok, true)
	if v == nil {
		return
	}
	psid := v.GetStringBytes("recipient", "id")
	if len(psid) == 0 {
		s.graphError(ctx, 100, "(#100) param recipient must be non-empty.")
		return
	}
	if v.Get("message") == nil && v.Get("sender_action") == nil {
		s.graphError(ctx, 100, "(#100) Must send either message or sender action")
		return
	}
	if s.OnReply != nil {
		s.OnReply("messenger", psid, v.GetStringBytes("message", "text"), at)
	}
	s.Accepted.Add(1)
	var buf [128]byte
	b := append(buf[:0], `{"recipient_id":`...)
	b = normalize.AppendString(b, string(psid))
	b = append(b, `,"message_id":"m_`...)
	b = strconv.AppendUint(b, s.seq.Add(1), 10)
	ctx.SetBody(append(b, `"}`...))
}

// whatsappSend answers the Cloud API's send: {"messaging_product",
// "contacts":[{"input","wa_id"}],"messages":[{"id"}]}.
func (s *Server) whatsappSend(ctx *fasthttp.RequestCtx, path, token string, at time.Time) {
	s.mu.Lock()
	phone, ok := s.phones[token]
	s.mu.Unlock()
	p := s.parsers.Get()
	defer s.parsers.Put(p)
	v := s.graphRequest(ctx, p, path, phone, ok, false)
	if v == nil {
		return
	}
	if string(v.GetStringBytes("messaging_product")) != "whatsapp" {
		s.graphError(ctx, 100, "(#100) The parameter messaging_product is required.")
		return
	}
	to := v.GetStringBytes("to")
	if len(to) == 0 {
		s.graphError(ctx, 100, "(#100) The parameter to is required.")
		return
	}
	if s.OnReply != nil {
		s.OnReply("whatsapp", to, v.GetStringBytes("text", "body"), at)
	}
	s.Accepted.Add(1)
	var buf [192]byte
	b := append(buf[:0], `{"messaging_product":"whatsapp","contacts":[{"input":`...)
	b = normalize.AppendString(b, string(to))
	b = append(b, `,"wa_id":`...)
	b = normalize.AppendString(b, string(to))
	b = append(b, `}],"messages":[{"id":"wamid.bench`...)
	b = strconv.AppendUint(b, s.seq.Add(1), 10)
	ctx.SetBody(append(b, `"}]}`...))
}

// viberSend answers send_message. Viber answers 200 whatever happened,
// with the outcome in status: 0 ok, 2 invalid auth token, 3 bad data.
func (s *Server) viberSend(ctx *fasthttp.RequestCtx, at time.Time) {
	s.mu.Lock()
	known := s.vibers[string(ctx.Request.Header.Peek("X-Viber-Auth-Token"))]
	s.mu.Unlock()
	if !known {
		s.viberError(ctx, 2, "invalidAuthToken")
		return
	}
	p := s.parsers.Get()
	defer s.parsers.Put(p)
	v, err := p.ParseBytes(ctx.PostBody())
	if err != nil || v.Type() != fastjson.TypeObject {
		s.viberError(ctx, 3, "badData")
		return
	}
	to := v.GetStringBytes("receiver")
	if len(to) == 0 || len(v.GetStringBytes("type")) == 0 {
		s.viberError(ctx, 3, "badData: receiver and type are required")
		return
	}
	if s.OnReply != nil {
		s.OnReply("viber", to, v.GetStringBytes("text"), at)
	}
	s.Accepted.Add(1)
	var buf [128]byte
	b := append(buf[:0], `{"status":0,"status_message":"ok","message_token":`...)
	b = strconv.AppendUint(b, 5_000_000_000_000_000_000+s.seq.Add(1), 10)
	ctx.SetBody(append(b, `,"chat_hostname":"SN-MOCK_","billing_status":1}`...))
}

func (s *Server) viberError(ctx *fasthttp.RequestCtx, status int, msg string) {
	s.Refused.Add(1)
	b := append([]byte(`{"status":`), strconv.Itoa(status)...)
	b = append(b, `,"status_message":`...)
	ctx.SetBody(append(normalize.AppendString(b, msg), '}'))
}

// telegramSend answers the Bot API: {"ok":true,"result":Message} for
// sendMessage, true for answerCallbackQuery, and Telegram's error shape
// for the rest.
func (s *Server) telegramSend(ctx *fasthttp.RequestCtx, path string, at time.Time) {
	token, method, _ := strings.Cut(strings.TrimPrefix(path, "/bot"), "/")
	s.mu.Lock()
	known := s.bots[token]
	s.mu.Unlock()
	if !known {
		s.telegramError(ctx, 401, "Unauthorized")
		return
	}
	p := s.parsers.Get()
	defer s.parsers.Put(p)
	v, err := p.ParseBytes(ctx.PostBody())
	if err != nil || v.Type() != fastjson.TypeObject {
		s.telegramError(ctx, 400, "Bad Request: can't parse JSON object")
		return
	}
	switch method {
	case "answerCallbackQuery":
		ctx.SetBodyString(`{"ok":true,"result":true}`)
		return
	case "sendMessage":
	default:
		s.telegramError(ctx, 404, "Not Found")
		return
	}
	var chat []byte
	switch c := v.Get("chat_id"); {
	case c == nil:
	case c.Type() == fastjson.TypeNumber:
		chat = c.MarshalTo(nil)
	case c.Type() == fastjson.TypeString:
		chat = c.GetStringBytes()
	}
	text := v.GetStringBytes("text")
	if len(chat) == 0 || len(text) == 0 {
		s.telegramError(ctx, 400, "Bad Request: chat_id and text are required")
		return
	}
	if s.OnReply != nil {
		s.OnReply("telegram", chat, text, at)
	}
	s.Accepted.Add(1)
	var buf [160]byte
	b := append(buf[:0], `{"ok":true,"result":{"message_id":`...)
	b = strconv.AppendUint(b, s.seq.Add(1), 10)
	b = append(b, `,"date":`...)
	b = strconv.AppendInt(b, at.Unix(), 10)
	b = append(b, `,"chat":{"id":`...)
	b = append(b, chat...)
	ctx.SetBody(append(b, `,"type":"private"}}}`...))
}

func (s *Server) telegramError(ctx *fasthttp.RequestCtx, code int, msg string) {
	s.Refused.Add(1)
	ctx.SetStatusCode(code)
	b := append([]byte(`{"ok":false,"error_code":`), strconv.Itoa(code)...)
	b = append(b, `,"description":`...)
	ctx.SetBody(append(normalize.AppendString(b, msg), '}'))
}

// graphRequest checks a Graph send to /{version}/{node}/messages: the
// token named a known sender (known) owning node (or "me", when meOK), and
// the body is a JSON object, which it returns. Otherwise it answers the
// Graph error and returns nil.
func (s *Server) graphRequest(ctx *fasthttp.RequestCtx, p *fastjson.Parser, path, owner string, known, meOK bool) *fastjson.Value {
	node := strings.TrimSuffix(path[strings.IndexByte(path[1:], '/')+2:], "/messages")
	if !known || (node != owner && !(meOK && node == "me")) {
		s.graphError(ctx, 190, "Invalid OAuth access token - Cannot parse access token")
		return nil
	}
	v, err := p.ParseBytes(graphbatch.Body(nil, ctx))
	if err != nil || v.Type() != fastjson.TypeObject {
		s.graphError(ctx, 100, "(#100) The request body is not a JSON object")
		return nil
	}
	return v
}

func (s *Server) graphError(ctx *fasthttp.RequestCtx, code int, msg string) {
	s.Refused.Add(1)
	ctx.SetStatusCode(400)
	b := append([]byte(`{"error":{"message":`), normalize.AppendString(nil, msg)...)
	b = append(b, `,"type":"OAuthException","code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	ctx.SetBody(append(b, `,"fbtrace_id":"Abench"}}`...))
}
