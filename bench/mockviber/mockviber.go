package mockviber

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
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

	"github.com/switchboard-gw/switchboard/normalize"
)

// DefaultToken is the auth token a new Server accepts (fake).
const DefaultToken = "mock-viber-auth-token"

// FirstMessageToken is the message_token of the first successful send;
// later ones count up from it. It is above 2^53, like Viber's, so a client
// that reads it through float64 loses digits.
const FirstMessageToken uint64 = 5741311803571721087

// Viber statuses the mock answers.
const (
	StatusOK                    = 0
	StatusInvalidURL            = 1
	StatusInvalidAuthToken      = 2
	StatusBadData               = 3
	StatusMissingData           = 4
	StatusReceiverNotRegistered = 5
	StatusNotSubscribed         = 6
	StatusTooManyRequests       = 12
	StatusIncompatibleVersion   = 14
)

var statusMessages = map[int]string{
	StatusOK:                    "ok",
	StatusInvalidURL:            "invalidUrl",
	StatusInvalidAuthToken:      "invalidAuthToken",
	StatusBadData:               "badData",
	StatusMissingData:           "missingData",
	StatusReceiverNotRegistered: "receiverNotRegistered",
	StatusNotSubscribed:         "notSubscribed",
	7:                           "publicAccountBlocked",
	8:                           "publicAccountNotFound",
	9:                           "publicAccountSuspended",
	10:                          "webhookNotSet",
	11:                          "receiverNoSuitableDevice",
	StatusTooManyRequests:       "tooManyRequests",
	13:                          "apiVersionNotSupported",
	StatusIncompatibleVersion:   "incompatibleWithVersion",
	15:                          "publicAccountNotAuthorized",
}

// maxBody is Viber's request cap.
const maxBody = 30 << 10

// Request is one recorded call. Body is a copy.
type Request struct {
	Time       time.Time
	Method     string
	Path       string
	Receiver   string // send_message only
	Type       string // send_message only
	Body       []byte
	HTTPStatus int
	// Status is the Viber status answered; -1 for a scripted HTTP failure,
	// a media download or a path the mock does not serve.
	Status int
	// MessageToken is the token of a successful send, as its exact digits.
	MessageToken string
}

// Server is a mock Viber REST API. All methods are safe for concurrent use.
type Server struct {
	mu         sync.Mutex
	token      string
	fails      []int // HTTP statuses of the next calls
	receivers  map[string]int
	perSecond  float64
	limiter    *rate.Limiter
	latency    time.Duration
	webhook    string
	eventTypes []string
	reqs       []Request

	seq     atomic.Uint64
	count   atomic.Int64
	parsers fastjson.ParserPool
	srv     *fasthttp.Server
	client  *fasthttp.Client
	base    string
	origin  string
	done    chan struct{}
}

// Start listens on a loopback port and serves until Close.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("mockviber: %w", err)
	}
	s := &Server{
		token:     DefaultToken,
		receivers: map[string]int{},
		client:    &fasthttp.Client{ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second},
		done:      make(chan struct{}),
	}
	s.srv = &fasthttp.Server{
		Handler:     s.handle,
		Name:        "mockviber",
		ReadTimeout: 30 * time.Second,
		IdleTimeout: 30 * time.Second,
	}
	s.origin = "http://" + ln.Addr().String()
	s.base = s.origin + "/pa"
	go func() {
		defer close(s.done)
		s.srv.Serve(ln) //nolint:errcheck // returns nil on Close
	}()
	return s, nil
}

// URL is the base URL to put in api_base: http://127.0.0.1:PORT/pa.
func (s *Server) URL() string { return s.base }

// MediaURL is a URL on the mock whose GET and HEAD answer size bytes.
func (s *Server) MediaURL(name string, size int64) string {
	return s.origin + "/media/" + name + "?size=" + strconv.FormatInt(size, 10)
}

// Close stops the server, waiting up to 5 s for calls in flight.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.ShutdownWithContext(ctx)
	<-s.done
	s.client.CloseIdleConnections()
	return err
}

// SetToken sets the auth token the mock accepts.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// Token is the auth token the mock accepts.
func (s *Server) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// FailNext makes the next n API calls (not media downloads) answer
// httpStatus with an HTML body, as a load balancer in front of Viber would.
func (s *Server) FailNext(n, httpStatus int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.fails = append(s.fails, httpStatus)
	}
}

// SetReceiverStatus makes every send to receiver answer status (5 not
// registered, 6 not subscribed, 11 no suitable device, …); 0 clears it.
func (s *Server) SetReceiverStatus(receiver string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.receivers, receiver)
		return
	}
	s.receivers[receiver] = status
}

// Unsubscribe scripts status 6 (receiver not subscribed) for receiver.
func (s *Server) Unsubscribe(receiver string) {
	s.SetReceiverStatus(receiver, StatusNotSubscribed)
}

// SetRateLimit limits send_message to perSecond calls a second (burst of
// one second's worth); calls beyond answer status 12. 0 removes the limit.
func (s *Server) SetRateLimit(perSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perSecond, s.limiter = perSecond, nil
	if perSecond > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond)))
	}
}

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Webhook is the URL set_webhook last registered.
func (s *Server) Webhook() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhook
}

// Requests returns a copy of the calls recorded so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Count is the number of calls answered so far.
func (s *Server) Count() int { return int(s.count.Load()) }

// Reset forgets recorded calls, scripted failures and statuses, the rate
// limit, the latency and the webhook; the token stays.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs, s.fails, s.latency, s.perSecond, s.limiter = nil, nil, 0, 0, nil
	s.webhook, s.eventTypes = "", nil
	clear(s.receivers)
	s.count.Store(0)
}

// Sign is the X-Viber-Content-Signature of body under token: lowercase
// hex HMAC-SHA256.
func Sign(token string, body []byte) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// handle answers one call and records it. ctx's memory is reused after it
// returns: everything recorded is copied.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	rec := Request{
		Time:   time.Now(),
		Method: string(ctx.Method()),
		Path:   string(ctx.Path()),
		Body:   append([]byte(nil), ctx.PostBody()...),
		Status: -1,
	}
	s.mu.Lock()
	latency := s.latency
	fail := 0
	if len(s.fails) > 0 && !strings.HasPrefix(rec.Path, "/media/") {
		fail, s.fails = s.fails[0], s.fails[1:]
	}
	s.mu.Unlock()
	if latency > 0 {
		time.Sleep(latency)
	}
	if fail != 0 {
		ctx.SetStatusCode(fail)
		ctx.SetContentType("text/html")
		ctx.SetBodyString("<html><body><h1>" + strconv.Itoa(fail) + " " + fasthttp.StatusMessage(fail) + "</h1></body></html>")
	} else {
		s.serve(ctx, &rec)
	}
	rec.HTTPStatus = ctx.Response.StatusCode()
	s.mu.Lock()
	s.reqs = append(s.reqs, rec)
	s.mu.Unlock()
	s.count.Add(1)
}

func (s *Server) serve(ctx *fasthttp.RequestCtx, rec *Request) {
	p := rec.Path
	if strings.HasPrefix(p, "/media/") {
		s.media(ctx)
		return
	}
	method := p[strings.LastIndexByte(p, '/')+1:]
	if !ctx.IsPost() {
		ctx.Error("method not allowed", fasthttp.StatusMethodNotAllowed)
		return
	}
	switch method {
	case "send_message", "set_webhook", "get_account_info":
	default:
		ctx.Error("not found", fasthttp.StatusNotFound)
		return
	}
	s.mu.Lock()
	want := s.token
	s.mu.Unlock()
	got := ctx.Request.Header.Peek("X-Viber-Auth-Token")
	switch {
	case len(got) == 0:
		s.answer(ctx, rec, StatusInvalidAuthToken, "missing_auth_token")
		return
	case !hmac.Equal(got, []byte(want)):
		s.answer(ctx, rec, StatusInvalidAuthToken, "")
		return
	}
	switch method {
	case "send_message":
		s.sendMessage(ctx, rec)
	case "set_webhook":
		s.setWebhook(ctx, rec)
	case "get_account_info":
		s.accountInfo(ctx, rec)
	}
}

// answer writes {"status":N,"status_message":…} plus extra members.
func (s *Server) answer(ctx *fasthttp.RequestCtx, rec *Request, status int, msg string, extra ...byte) {
	if msg == "" {
		msg = statusMessages[status]
		if msg == "" {
			msg = "generalError"
		}
	}
	b := []byte(`{"status":`)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"status_message":`...)
	b = normalize.AppendString(b, msg)
	b = append(b, extra...)
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBody(append(b, '}'))
	rec.Status = status
}

// required lists the members each message type needs.
var required = map[string][]string{
	"text":       {"text"},
	"picture":    {"media", "text"},
	"video":      {"media", "size"},
	"file":       {"media", "size", "file_name"},
	"contact":    {"contact"},
	"location":   {"location"},
	"url":        {"media"},
	"sticker":    {"sticker_id"},
	"rich_media": {"rich_media"},
}

func (s *Server) sendMessage(ctx *fasthttp.RequestCtx, rec *Request) {
	body := ctx.PostBody()
	if len(body) > maxBody {
		s.answer(ctx, rec, StatusBadData, "request too large")
		return
	}
	p := s.parsers.Get()
	defer s.parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject {
		s.answer(ctx, rec, StatusBadData, "")
		return
	}
	rec.Receiver = string(v.GetStringBytes("receiver"))
	rec.Type = string(v.GetStringBytes("type"))
	if rec.Receiver == "" || rec.Type == "" {
		s.answer(ctx, rec, StatusBadData, "")
		return
	}
	if !s.allow() {
		s.answer(ctx, rec, StatusTooManyRequests, "")
		return
	}
	need, ok := required[rec.Type]
	if !ok {
		s.answer(ctx, rec, StatusBadData, "unknown message type")
		return
	}
	if len(v.GetStringBytes("sender", "name")) == 0 {
		s.answer(ctx, rec, StatusMissingData, "sender.name is required")
		return
	}
	for _, k := range need {
		if x := v.Get(k); x == nil || x.Type() == fastjson.TypeNull {
			s.answer(ctx, rec, StatusMissingData, k+" is required")
			return
		}
	}
	if utf8.RuneCount(v.GetStringBytes("text")) > 7000 {
		s.answer(ctx, rec, StatusBadData, "text too long")
		return
	}
	if rec.Type == "rich_media" && v.GetInt("min_api_version") < 2 {
		s.answer(ctx, rec, StatusIncompatibleVersion, "")
		return
	}
	s.mu.Lock()
	status, scripted := s.receivers[rec.Receiver]
	s.mu.Unlock()
	if scripted {
		s.answer(ctx, rec, status, "")
		return
	}
	tok := strconv.FormatUint(FirstMessageToken+s.seq.Add(1)-1, 10)
	rec.MessageToken = tok
	s.answer(ctx, rec, StatusOK, "", []byte(`,"message_token":`+tok+`,"chat_hostname":"SN-MOCK_","billing_status":1`)...)
}

func (s *Server) allow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limiter == nil || s.limiter.Allow()
}

// defaultEvents are the optional callbacks set_webhook subscribes to when
// event_types is omitted.
var defaultEvents = []string{"delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"}

// setWebhook registers the url after Viber's probe: a signed
// {"event":"webhook"} POST that must answer HTTP 200.
func (s *Server) setWebhook(ctx *fasthttp.RequestCtx, rec *Request) {
	p := s.parsers.Get()
	v, err := p.ParseBytes(ctx.PostBody())
	if err != nil || v.Type() != fastjson.TypeObject || v.Get("url") == nil {
		s.parsers.Put(p)
		s.answer(ctx, rec, StatusBadData, "")
		return
	}
	url := string(v.GetStringBytes("url"))
	var events []string
	if arr := v.GetArray("event_types"); arr != nil {
		for _, e := range arr {
			events = append(events, string(e.GetStringBytes()))
		}
	} else {
		events = append(events, defaultEvents...)
	}
	s.parsers.Put(p)
	if url == "" {
		s.mu.Lock()
		s.webhook, s.eventTypes = "", nil
		s.mu.Unlock()
		s.answer(ctx, rec, StatusOK, "")
		return
	}
	if err := s.probe(url); err != nil {
		s.answer(ctx, rec, StatusInvalidURL, "Result[HttpRequest[POST "+url+"], "+err.Error()+"]")
		return
	}
	s.mu.Lock()
	s.webhook, s.eventTypes = url, events
	s.mu.Unlock()
	s.answer(ctx, rec, StatusOK, "", eventTypesJSON(events)...)
}

func eventTypesJSON(events []string) []byte {
	b := []byte(`,"event_types":[`)
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = normalize.AppendString(b, e)
	}
	return append(b, ']')
}

// probe POSTs the webhook callback to url, signed with the token.
func (s *Server) probe(url string) error {
	body := []byte(`{"event":"webhook","timestamp":` + strconv.FormatInt(time.Now().UnixMilli(), 10) +
		`,"chat_hostname":"SN-MOCK_","message_token":` + strconv.FormatUint(FirstMessageToken-1, 10) + `}`)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set("X-Viber-Content-Signature", Sign(s.Token(), body))
	req.SetBody(body)
	if err := s.client.DoTimeout(req, resp, 5*time.Second); err != nil {
		return err
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode())
	}
	return nil
}

func (s *Server) accountInfo(ctx *fasthttp.RequestCtx, rec *Request) {
	s.mu.Lock()
	hook, events := s.webhook, append([]string(nil), s.eventTypes...)
	s.mu.Unlock()
	b := []byte(`,"id":"pa:5000000000000000001","name":"Mock Bot","uri":"mockbot","icon":"","background":"","category":"Business","subcategory":"","location":{"lon":30.5234,"lat":50.4501},"country":"UA","webhook":`)
	b = normalize.AppendString(b, hook)
	b = append(b, eventTypesJSON(events)...)
	b = append(b, `,"subscribers_count":0,"members":[]`...)
	s.answer(ctx, rec, StatusOK, "", b...)
}

// media answers GET and HEAD /media/{name}?size=N with N zero bytes.
func (s *Server) media(ctx *fasthttp.RequestCtx) {
	n, err := strconv.ParseInt(string(ctx.QueryArgs().Peek("size")), 10, 64)
	if err != nil || n < 0 {
		ctx.Error("size required", fasthttp.StatusBadRequest)
		return
	}
	ctx.SetContentType("application/octet-stream")
	if ctx.IsHead() {
		ctx.Response.Header.SetContentLength(int(n))
		return
	}
	ctx.SetBodyStream(io.LimitReader(zeros{}, n), int(n))
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
