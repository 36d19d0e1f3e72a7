package mockgraph

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
	"golang.org/x/time/rate"

	"github.com/switchboard-gw/switchboard/bench/internal/graphbatch"
	"github.com/switchboard-gw/switchboard/normalize"
)

// DefaultVersion is the Graph version of the base URL Start returns; the
// server answers under any /vN.N prefix.
const DefaultVersion = "v25.0"

// Request is one recorded call. Body is a copy.
type Request struct {
	Time   time.Time
	Method string
	Path   string // without the query
	Query  string // raw, access_token included (tokens here are fake)
	// Auth is the Authorization header (WhatsApp's "Bearer <token>";
	// tokens here are fake).
	Auth   string
	Body   []byte
	Status int // what the mock answered
}

// Failure is a scripted answer.
type Failure struct {
	Status int
	Body   string
	Header map[string]string
}

// Throttle makes every call answer a Graph throttling error.
type Throttle struct {
	// Code is the Graph code: 4, 17, 32, 613 or a Business Use Case code
	// such as 80006. Zero means 613 for Messenger calls and 130429
	// (throughput) for WhatsApp calls.
	Code int
	// RegainMinutes goes into X-Business-Use-Case-Usage as
	// estimated_time_to_regain_access.
	RegainMinutes int
	// RetryAfter, when positive, is sent as a Retry-After header.
	RetryAfter time.Duration
}

// Server is a mock Graph API. Configure it (AddPage, AppID) before Start;
// the scripting methods may be called at any time.
type Server struct {
	// AppID is the app the adapter under test speaks for: it owns a thread
	// after take_thread_control. Zero value: "1000000000001".
	AppID string
	// Version is the path prefix of the base URL Start returns; zero value
	// DefaultVersion.
	Version string

	mu         sync.Mutex
	tokens     map[string]string // access token → page id
	phones     map[string]string // WhatsApp bearer token → phone number id
	fails      []Failure
	recipients map[string]graphErr // PSID → error to answer
	throttle   *Throttle
	serverErr  int
	latency    time.Duration
	noRecord   bool
	perSecond  float64
	limiters   map[string]*rate.Limiter // page id → limiter
	owners     map[string]string        // page id + "/" + PSID → app id
	reqs       []Request
	// WhatsApp pair rate: per phone number id + "/" + recipient.
	pairEvery time.Duration
	pairBurst int
	pairs     map[string]*rate.Limiter

	seq     atomic.Int64
	count   atomic.Int64
	batches atomic.Int64
	parsers fastjson.ParserPool
	srv     *fasthttp.Server
	base    string
}

type graphErr struct{ code, subcode int }

// New returns a server with no pages; add them with AddPage.
func New() *Server {
	return &Server{
		tokens:     map[string]string{},
		phones:     map[string]string{},
		pairs:      map[string]*rate.Limiter{},
		recipients: map[string]graphErr{},
		limiters:   map[string]*rate.Limiter{},
		owners:     map[string]string{},
	}
}

// AddPage registers a Page and the access token that sends as it.
func (s *Server) AddPage(pageID, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = pageID
}

// Start listens on addr ("" means 127.0.0.1:0) and serves until Close. It
// returns the base URL to put in api_base: http://127.0.0.1:PORT/v25.0.
func (s *Server) Start(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("mockgraph: %w", err)
	}
	s.srv = &fasthttp.Server{
		Handler:     s.handle,
		Name:        "mockgraph",
		ReadTimeout: 30 * time.Second,
		IdleTimeout: 30 * time.Second,
	}
	go s.srv.Serve(ln) //nolint:errcheck // returns nil on Close
	v := s.Version
	if v == "" {
		v = DefaultVersion
	}
	s.base = "http://" + ln.Addr().String() + "/" + v
	return s.base, nil
}

// URL is the base URL Start returned.
func (s *Server) URL() string { return s.base }

// Close stops the server, waiting up to 5 s for calls in flight.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.ShutdownWithContext(ctx)
}

// FailNext makes the next n calls answer status and body instead of
// being served.
func (s *Server) FailNext(n, status int, body string) {
	s.Script(n, Failure{Status: status, Body: body})
}

// Script queues f for the next n calls.
func (s *Server) Script(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.fails = append(s.fails, f)
	}
}

// SetRecipientError makes every call addressed to psid answer the Graph
// error code/subcode (subcode 0 for none) with HTTP 400, or 500 for the
// server-side codes 1 and 2. Code 0 clears the rule.
func (s *Server) SetRecipientError(psid string, code, subcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.recipients, psid)
		return
	}
	s.recipients[psid] = graphErr{code, subcode}
}

// SetThrottle makes every call answer a throttling error; nil stops it.
func (s *Server) SetThrottle(t *Throttle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = t
}

// SetServerError makes every call answer status (5xx) with a transient
// Graph error (code 2); 0 stops it.
func (s *Server) SetServerError(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serverErr = status
}

// SetRateLimit limits each page to perSecond calls per second (burst of
// one second's worth); calls beyond answer code 613 with
// X-Business-Use-Case-Usage. 0 removes the limit.
func (s *Server) SetRateLimit(perSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perSecond = perSecond
	clear(s.limiters)
}

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetThreadOwner records appID as the owner of the thread of page and
// psid ("" makes it idle).
func (s *Server) SetThreadOwner(pageID, psid, appID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if appID == "" {
		delete(s.owners, pageID+"/"+psid)
		return
	}
	s.owners[pageID+"/"+psid] = appID
}

// SetRecord turns the recording of calls on (the default) or off; a long
// load test turns it off to keep memory flat. Count counts either way.
func (s *Server) SetRecord(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noRecord = !on
}

// Requests returns a copy of the calls recorded so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Count is the number of calls answered so far.
func (s *Server) Count() int { return int(s.count.Load()) }

// Batches is how many batch requests were served; their calls are in
// Count and Requests one by one, as if each had come alone.
func (s *Server) Batches() int { return int(s.batches.Load()) }

// Reset forgets recorded calls, scripted failures, rules (the pair rate
// included) and thread owners; pages and phone numbers stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs, s.fails, s.throttle, s.serverErr, s.latency, s.perSecond, s.noRecord = nil, nil, nil, 0, 0, 0, false
	s.pairEvery, s.pairBurst = 0, 0
	clear(s.recipients)
	clear(s.limiters)
	clear(s.pairs)
	clear(s.owners)
	s.count.Store(0)
	s.batches.Store(0)
}

// handle answers one call, or one batch request of calls (after one
// SetLatency for the whole batch, as Graph runs them in parallel).
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		time.Sleep(latency)
	}
	if graphbatch.Is(ctx) {
		s.batches.Add(1)
		graphbatch.Serve(ctx, s.one)
		return
	}
	s.one(ctx)
}

// one answers one call and records it. ctx's memory is reused after it
// returns: everything recorded is copied.
func (s *Server) one(ctx *fasthttp.RequestCtx) {
	s.mu.Lock()
	record := !s.noRecord
	s.mu.Unlock()
	var rec Request
	if record {
		rec = Request{
			Time:   time.Now(),
			Method: string(ctx.Method()),
			Path:   string(ctx.Path()),
			Query:  string(ctx.QueryArgs().QueryString()),
			Auth:   string(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)),
			Body:   append([]byte(nil), graphbatch.Body(nil, ctx)...),
		}
	}
	s.serve(ctx)
	if record {
		rec.Status = ctx.Response.StatusCode()
		s.mu.Lock()
		s.reqs = append(s.reqs, rec)
		s.mu.Unlock()
	}
	s.count.Add(1)
}

func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json; charset=UTF-8")
	s.mu.Lock()
	var fail *Failure
	if len(s.fails) > 0 {
		f := s.fails[0]
		s.fails = s.fails[1:]
		fail = &f
	}
	serverErr, throttle := s.serverErr, s.throttle
	s.mu.Unlock()

	switch {
	case fail != nil:
		for k, v := range fail.Header {
			ctx.Response.Header.Set(k, v)
		}
		ctx.SetStatusCode(fail.Status)
		ctx.SetBodyString(fail.Body)
		return
	case serverErr != 0:
		s.graphError(ctx, serverErr, 2, 0, "An unexpected error has occurred. Please retry your request later.", true)
		return
	}

	node, edge, ok := splitPath(string(ctx.Path()))
	if !ok {
		s.graphError(ctx, 400, 2500, 0, "Unknown path components: "+string(ctx.Path()), false)
		return
	}

	if s.isWhatsApp(ctx, node) {
		s.serveWhatsApp(ctx, node, edge, throttle)
		return
	}

	s.mu.Lock()
	page, ok := s.tokens[string(ctx.QueryArgs().Peek("access_token"))]
	s.mu.Unlock()
	if !ok {
		s.graphError(ctx, 400, 190, 0, "Invalid OAuth access token - Cannot parse access token", false)
		return
	}
	if node != "me" && node != page {
		s.graphError(ctx, 400, 100, 33, "Unsupported post request. Object with ID '"+node+"' does not exist or cannot be loaded with this token", false)
		return
	}

	if throttle != nil {
		code := throttle.Code
		if code == 0 {
			code = 613
		}
		ctx.Response.Header.Set("X-Business-Use-Case-Usage", usage(page, throttle.RegainMinutes, 100))
		if throttle.RetryAfter > 0 {
			ctx.Response.Header.Set("Retry-After", strconv.Itoa(int((throttle.RetryAfter+time.Second-1)/time.Second)))
		}
		s.graphError(ctx, 400, code, 0, "Calls to this api have exceeded the rate limit.", true)
		return
	}
	if !s.allow(page) {
		ctx.Response.Header.Set("X-Business-Use-Case-Usage", usage(page, 0, 100))
		s.graphError(ctx, 400, 613, 0, "Calls to this api have exceeded the rate limit.", true)
		return
	}

	method := string(ctx.Method())
	switch {
	case edge == "messages" && method == fasthttp.MethodPost:
		s.messages(ctx)
	case node == "me" && method == fasthttp.MethodPost && strings.HasSuffix(edge, "_thread_control"):
		s.threadControl(ctx, page, strings.TrimSuffix(edge, "_thread_control"))
	case node == "me" && method == fasthttp.MethodGet && edge == "thread_owner":
		s.threadOwner(ctx, page)
	default:
		s.graphError(ctx, 400, 2500, 0, "Unknown path components: /"+node+"/"+edge, false)
	}
}

// splitPath splits /{ver}/{node}/{edge}.
func splitPath(p string) (node, edge string, ok bool) {
	ver, rest, ok1 := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	node, edge, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || !strings.HasPrefix(ver, "v") || node == "" || edge == "" || strings.Contains(edge, "/") {
		return "", "", false
	}
	return node, edge, true
}

func (s *Server) allow(page string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perSecond <= 0 {
		return true
	}
	l := s.limiters[page]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(s.perSecond), max(1, int(s.perSecond)))
		s.limiters[page] = l
	}
	return l.Allow()
}

// usage is an X-Business-Use-Case-Usage value for page.
func usage(page string, regainMinutes, pct int) string {
	return fmt.Sprintf(`{%s:[{"type":"messenger","call_count":%d,"total_cputime":%d,"total_time":%d,"estimated_time_to_regain_access":%d}]}`,
		normalize.AppendString(nil, page), pct, pct, pct, regainMinutes)
}

// messages answers the Send API.
func (s *Server) messages(ctx *fasthttp.RequestCtx) {
	p := s.parsers.Get()
	defer s.parsers.Put(p)
	v, err := p.ParseBytes(graphbatch.Body(nil, ctx))
	if err != nil || v.Type() != fastjson.TypeObject {
		s.graphError(ctx, 400, 100, 0, "(#100) The request body is not a JSON object", false)
		return
	}
	rcp := v.GetObject("recipient")
	psid := string(v.GetStringBytes("recipient", "id"))
	if rcp == nil || (psid == "" && rcp.Get("one_time_notif_token") == nil && rcp.Get("user_ref") == nil &&
		rcp.Get("notification_messages_token") == nil) {
		s.graphError(ctx, 400, 100, 0, "(#100) param recipient must be non-empty.", false)
		return
	}
	msg := v.Get("message")
	if msg == nil && v.Get("sender_action") == nil {
		s.graphError(ctx, 400, 100, 0, "(#100) Must send either message or sender action", false)
		return
	}
	if msg != nil {
		if n := utf8.RuneCount(msg.GetStringBytes("text")); n > 2000 {
			s.graphError(ctx, 400, 100, 0, "(#100) Length of param message[text] must be less than or equal to 2000", false)
			return
		}
		if n := len(msg.GetArray("quick_replies")); n > 13 {
			s.graphError(ctx, 400, 100, 0, "(#100) param message[quick_replies] must have at most 13 elements.", false)
			return
		}
	}
	if s.recipientError(ctx, psid) {
		return
	}
	n := s.seq.Add(1)
	out := []byte(`{"recipient_id":`)
	out = normalize.AppendString(out, psid)
	out = append(out, `,"message_id":"m_`...)
	out = strconv.AppendInt(out, n, 10)
	out = append(out, '"')
	if msg != nil && msg.GetBool("attachment", "payload", "is_reusable") {
		out = append(out, `,"attachment_id":"`...)
		out = strconv.AppendInt(out, 1000000000000000+n, 10)
		out = append(out, '"')
	}
	ctx.SetBody(append(out, '}'))
}

// threadControl answers pass, take, request and release.
func (s *Server) threadControl(ctx *fasthttp.RequestCtx, page, action string) {
	p := s.parsers.Get()
	defer s.parsers.Put(p)
	v, err := p.ParseBytes(graphbatch.Body(nil, ctx))
	psid := ""
	if err == nil {
		psid = string(v.GetStringBytes("recipient", "id"))
	}
	if psid == "" {
		s.graphError(ctx, 400, 100, 0, "(#100) param recipient must be non-empty.", false)
		return
	}
	if s.recipientError(ctx, psid) {
		return
	}
	key := page + "/" + psid
	s.mu.Lock()
	defer s.mu.Unlock()
	switch action {
	case "pass":
		target := v.Get("target_app_id")
		if target == nil {
			s.graphError(ctx, 400, 100, 0, "(#100) The parameter target_app_id is required", false)
			return
		}
		id := target.String()
		if target.Type() == fastjson.TypeString {
			id = string(target.GetStringBytes())
		}
		s.owners[key] = id
	case "take":
		s.owners[key] = s.appID()
	case "release":
		delete(s.owners, key)
	case "request":
	default:
		s.graphError(ctx, 400, 2500, 0, "Unknown path components: /me/"+action+"_thread_control", false)
		return
	}
	ctx.SetBodyString(`{"success":true}`)
}

func (s *Server) threadOwner(ctx *fasthttp.RequestCtx, page string) {
	psid := string(ctx.QueryArgs().Peek("recipient"))
	if psid == "" {
		s.graphError(ctx, 400, 100, 0, "(#100) The parameter recipient is required", false)
		return
	}
	if s.recipientError(ctx, psid) {
		return
	}
	s.mu.Lock()
	owner, ok := s.owners[page+"/"+psid]
	s.mu.Unlock()
	if !ok {
		ctx.SetBodyString(`{"data":[]}`)
		return
	}
	b := normalize.AppendString([]byte(`{"data":[{"thread_owner":{"app_id":`), owner)
	ctx.SetBody(append(b, `}}]}`...))
}

func (s *Server) appID() string {
	if s.AppID == "" {
		return "1000000000001"
	}
	return s.AppID
}

// recipientError answers the scripted error for psid, if any.
func (s *Server) recipientError(ctx *fasthttp.RequestCtx, psid string) bool {
	s.mu.Lock()
	e, ok := s.recipients[psid]
	s.mu.Unlock()
	if !ok {
		return false
	}
	status := 400
	if e.code == 1 || e.code == 2 {
		status = 500
	}
	s.graphErrorDetails(ctx, status, e.code, e.subcode, messages[e.code], e.code == 1 || e.code == 2, details[e.code])
	return true
}

// messages holds Meta's wording for the codes tests script most.
var messages = map[int]string{
	10:     "(#10) This message is sent outside of allowed window.",
	100:    "(#100) No matching user found",
	190:    "Error validating access token: Session has expired.",
	200:    "(#200) This person isn't available right now.",
	551:    "(#551) This person isn't available right now.",
	613:    "Calls to this api have exceeded the rate limit.",
	130429: "(#130429) Rate limit hit",
	131026: "(#131026) Message undeliverable",
	131047: "Re-engagement message",
	131056: "(Business Account, Consumer Account) pair rate limit hit",
}

// details holds WhatsApp's error_data.details for its codes; they go into
// the envelope as error_data{messaging_product, details}.
var details = map[int]string{
	130429: "Cloud API message throughput has been reached.",
	131026: "Message failed to send because the recipient is not a WhatsApp user, has an old app or has not accepted the terms.",
	131047: "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
	131056: "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.",
}

// graphError writes the Graph error envelope.
func (s *Server) graphError(ctx *fasthttp.RequestCtx, status, code, subcode int, msg string, transient bool) {
	s.graphErrorDetails(ctx, status, code, subcode, msg, transient, "")
}

// graphErrorDetails writes the Graph error envelope, with WhatsApp's
// error_data when details is set.
func (s *Server) graphErrorDetails(ctx *fasthttp.RequestCtx, status, code, subcode int, msg string, transient bool, details string) {
	if msg == "" {
		msg = "(#" + strconv.Itoa(code) + ") mock error"
	}
	b := []byte(`{"error":{"message":`)
	b = normalize.AppendString(b, msg)
	typ := "OAuthException"
	if code == 1 || code == 2 {
		typ = "FacebookApiException"
	}
	b = append(b, `,"type":"`+typ+`","code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	if subcode != 0 {
		b = append(b, `,"error_subcode":`...)
		b = strconv.AppendInt(b, int64(subcode), 10)
	}
	if transient {
		b = append(b, `,"is_transient":true`...)
	}
	if details != "" {
		b = append(b, `,"error_data":{"messaging_product":"whatsapp","details":`...)
		b = normalize.AppendString(b, details)
		b = append(b, '}')
	}
	b = append(b, `,"fbtrace_id":"Amock`...)
	b = strconv.AppendInt(b, s.seq.Add(1), 10)
	b = append(b, `"}}`...)
	ctx.SetStatusCode(status)
	ctx.SetBody(b)
}
