// Package reference is the bench suite's second yardstick: the least a
// Messenger bot pipeline can do and still do the whole job. For each
// webhook it verifies X-Hub-Signature-256, parses the body with fastjson,
// posts each event to the bot backend (signed, one POST per event), sends
// each reply the backend answers with one Send API call, and only then
// answers 200; nothing else. It keeps nothing: no store, no dedup, no
// ordering across webhooks, no retries, no circuit breakers, no identity,
// no metrics, no window check. A webhook whose backend POST fails is
// answered 500 (Meta would retry it); a failed send is counted and
// dropped.
//
// It is the "minimal hand-written Go pipeline" the bench issue measures
// Switchboard against: the suite drives it with the same generator,
// mocks and settings as the gateway, in the same run, so the gateway's
// round trips per second and CPU per event can be read against what the
// bare job costs on the same machine, not only against the ceiling, which
// does a third of the job (the webhook's own exchange).
//
// It speaks only Messenger: messages and postbacks (id "messenger:" +
// mid) and read and delivery receipts (id
// "messenger:{read|delivery}:{page}:{psid}:{watermark}"), the ids
// adapters/messenger derives, so the suite's ledger matches its replies
// like the gateway's. Other messaging items are skipped.
package reference

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/bench/internal/serve"
	"github.com/switchboard-gw/switchboard/gateway/backend"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Config is what the pipeline needs to know. All of it is required but
// Pages' tokens, which a Page without one cannot reply from.
type Config struct {
	// AppSecret keys the webhooks' X-Hub-Signature-256.
	AppSecret string `json:"app_secret"`
	// BackendURL receives the events, signed with BackendSecret in
	// X-Switchboard-Signature, the way the gateway signs them.
	BackendURL    string `json:"backend_url"`
	BackendSecret string `json:"backend_secret"`
	// APIBase is the Graph API base with its version
	// (https://graph.facebook.com/v25.0); replies go to
	// APIBase/me/messages?access_token=<the Page's token>.
	APIBase string `json:"api_base"`
	// Pages maps each Page id to its access token.
	Pages map[string]string `json:"pages"`
}

// Server is the pipeline. Set Config before Start.
type Server struct {
	Config

	// OK counts webhooks answered 200; Refused those refused for their
	// signature or body; Failed those answered 500 because a backend POST
	// failed. SendFailed counts replies the Send API did not take.
	OK, Refused, Failed, SendFailed atomic.Uint64

	signer  *meta.Signer // webhooks
	bsigner *meta.Signer // events to the backend
	backend *fasthttp.HostClient
	graph   *fasthttp.HostClient
	// sendURIs maps a Page id to its Send API request URI, token
	// included.
	sendURIs map[string]string
	parsers  fastjson.ParserPool
	srv      *fasthttp.Server
	addr     string
}

// maxConns bounds each client's connections: more than the suite's
// concurrency, so no call waits for a connection.
const maxConns = 2048

// Start listens on addr ("" for 127.0.0.1:0) and returns the base URL.
func (s *Server) Start(addr string) (string, error) {
	if err := s.setup(); err != nil {
		return "", err
	}
	ln, err := serve.Listen(addr)
	if err != nil {
		return "", fmt.Errorf("reference: %w", err)
	}
	s.srv = serve.LikeGateway("reference", s.Handle)
	s.addr = ln.Addr().String()
	go s.srv.Serve(ln) //nolint:errcheck // nil on Shutdown
	return "http://" + s.addr, nil
}

func (s *Server) setup() error {
	if s.AppSecret == "" || s.BackendURL == "" || s.BackendSecret == "" || s.APIBase == "" {
		return errors.New("reference: app_secret, backend_url, backend_secret and api_base are required")
	}
	b, err := url.Parse(s.BackendURL)
	if err != nil || b.Host == "" {
		return fmt.Errorf("reference: backend_url %q: not an absolute URL", s.BackendURL)
	}
	g, err := url.Parse(s.APIBase)
	if err != nil || g.Host == "" {
		return fmt.Errorf("reference: api_base %q: not an absolute URL", s.APIBase)
	}
	s.signer = &meta.Signer{Secret: []byte(s.AppSecret)}
	s.bsigner = &meta.Signer{Secret: []byte(s.BackendSecret)}
	s.backend = client(b.Host)
	s.graph = client(g.Host)
	s.sendURIs = make(map[string]string, len(s.Pages))
	for page, token := range s.Pages {
		s.sendURIs[page] = s.APIBase + "/me/messages?access_token=" + url.QueryEscape(token)
	}
	return nil
}

func client(host string) *fasthttp.HostClient {
	if _, _, err := net.SplitHostPort(host); err != nil {
		host += ":80"
	}
	return &fasthttp.HostClient{
		Addr:                          host,
		MaxConns:                      maxConns,
		ReadTimeout:                   10 * time.Second,
		WriteTimeout:                  10 * time.Second,
		MaxIdleConnDuration:           time.Minute,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
	}
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.addr }

// Close stops the server.
func (s *Server) Close() error {
	return serve.Shutdown(s.srv)
}

// event is one messaging item, its slices pointing into the parsed body.
type event struct {
	typ                string
	id, page, psid     []byte
	text, payload, mid []byte
}

// Handle does the whole job for one webhook before answering it.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	body := ctx.PostBody()
	if !ctx.IsPost() || s.signer.Verify(&ctx.Request.Header, body) != nil {
		s.Refused.Add(1)
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		return
	}
	p := s.parsers.Get()
	defer s.parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil || string(v.GetStringBytes("object")) != "page" {
		s.Refused.Add(1)
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	var idBuf [256]byte
	for _, entry := range v.GetArray("entry") {
		page := entry.GetStringBytes("id")
		for _, item := range entry.GetArray("messaging") {
			ev, ok := read(idBuf[:0], page, item)
			if !ok {
				continue
			}
			if err := s.forward(&ev); err != nil {
				s.Failed.Add(1)
				ctx.SetStatusCode(fasthttp.StatusInternalServerError)
				return
			}
		}
	}
	s.OK.Add(1)
	ctx.SetBodyString("EVENT_RECEIVED")
}

// read picks the one event of a messaging item, its id appended to buf.
func read(buf, page []byte, item *fastjson.Value) (event, bool) {
	ev := event{page: page, psid: item.GetStringBytes("sender", "id")}
	if len(page) == 0 || len(ev.psid) == 0 {
		return ev, false
	}
	id := append(buf, "messenger:"...)
	m, pb := item.Get("message"), item.Get("postback")
	switch {
	case m != nil:
		ev.typ, ev.mid, ev.text = "message", m.GetStringBytes("mid"), m.GetStringBytes("text")
		ev.payload = m.GetStringBytes("quick_reply", "payload")
	case pb != nil:
		ev.typ, ev.mid, ev.text, ev.payload = "postback", pb.GetStringBytes("mid"), pb.GetStringBytes("title"), pb.GetStringBytes("payload")
	default: // a receipt, or an item the pipeline does not handle
		kind := "read"
		if !item.Exists(kind) {
			kind = "delivery"
		}
		wm := item.Get(kind, "watermark")
		if wm == nil || wm.Type() != fastjson.TypeNumber {
			return ev, false
		}
		ev.typ = kind
		id = append(id, kind...)
		id = append(append(id, ':'), page...)
		id = append(append(id, ':'), ev.psid...)
		ev.id = wm.MarshalTo(append(id, ':'))
		return ev, true
	}
	if len(ev.mid) == 0 {
		return ev, false
	}
	ev.id = append(id, ev.mid...)
	return ev, true
}

// forward posts ev to the backend and sends each reply it answers with.
func (s *Server) forward(ev *event) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.BackendURL)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	var buf [1024]byte
	b := append(buf[:0], `{"id":`...)
	b = normalize.AppendString(b, adapters.View(ev.id))
	b = append(b, `,"type":"`...)
	b = append(b, ev.typ...)
	b = append(b, `","channel":"messenger","response_path":`...)
	var path [128]byte
	b = normalize.AppendString(b, adapters.View(append(append(append(path[:0], ev.page...), "/c/"...), ev.psid...)))
	if len(ev.text) > 0 {
		b = append(b, `,"text":`...)
		b = normalize.AppendString(b, adapters.View(ev.text))
	}
	if len(ev.payload) > 0 {
		b = append(b, `,"payload":`...)
		b = normalize.AppendString(b, adapters.View(ev.payload))
	}
	b = append(b, '}')
	req.SetBody(b)
	var sig [80]byte
	req.Header.SetBytesV(backend.HeaderSignature, s.bsigner.Sign(sig[:0], b))
	req.Header.SetBytesV(backend.HeaderEventID, ev.id)
	if err := s.backend.Do(req, resp); err != nil {
		return err
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return fmt.Errorf("reference: backend answered %d", resp.StatusCode())
	}
	p := s.parsers.Get()
	defer s.parsers.Put(p)
	answer, err := p.ParseBytes(resp.Body())
	if err != nil {
		return err
	}
	uri, ok := s.sendURIs[string(ev.page)]
	for _, m := range answer.GetArray("messages") {
		text := m.GetStringBytes("text")
		if !ok || len(text) == 0 || s.send(uri, ev.psid, text) != nil {
			s.SendFailed.Add(1)
		}
	}
	return nil
}

// send makes one Send API call to uri: a text message to psid.
func (s *Server) send(uri string, psid, text []byte) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(uri)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	var buf [512]byte
	b := append(buf[:0], `{"recipient":{"id":`...)
	b = normalize.AppendString(b, adapters.View(psid))
	b = append(b, `},"messaging_type":"RESPONSE","message":{"text":`...)
	b = normalize.AppendString(b, adapters.View(text))
	req.SetBody(append(b, "}}"...))
	if err := s.graph.Do(req, resp); err != nil {
		return err
	}
	if resp.StatusCode() != fasthttp.StatusOK || !bytes.Contains(resp.Body(), []byte(`"message_id"`)) {
		return errors.New("reference: the Send API answered " + strconv.Itoa(resp.StatusCode()))
	}
	return nil
}
