// Package mockbackend is the bench suite's bot backend: a fasthttp server
// on a loopback port that verifies each event's X-Switchboard-Signature
// (HMAC-SHA256 of the body, compared with hmac.Equal), reports its
// X-Switchboard-Event-Id, and answers with one synchronous reply that
// names the event:
//
//	{"messages":[{"text":"echo: <event id>"}]}
//
// so the reply that reaches the channel API can be matched to its event
// (EventID). It replies to every event, receipts included: the suite
// measures the round trip of each.
package mockbackend

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/bench/internal/serve"
	"github.com/switchboard-gw/switchboard/gateway/backend"
	"github.com/switchboard-gw/switchboard/normalize"
)

// ReplyPrefix starts every reply text.
const ReplyPrefix = "echo: "

// EventID returns the event id a reply text names.
func EventID(text []byte) ([]byte, bool) {
	if !bytes.HasPrefix(text, []byte(ReplyPrefix)) {
		return nil, false
	}
	return text[len(ReplyPrefix):], true
}

// Server is the mock backend. Set the fields before Start.
type Server struct {
	// Secret is backend.secret of the gateway's config.
	Secret []byte
	// OnEvent is called for every well-signed event; id is valid only
	// during the call.
	OnEvent func(id []byte, at time.Time)
	// Latency delays every answer (a slow bot).
	Latency time.Duration
	// NoReply answers 200 with an empty body.
	NoReply bool

	// BadSignature and MissingID count refused events (answered 401 and
	// 400: the gateway retries them, so they show up as duplicates or
	// losses too).
	BadSignature, MissingID atomic.Uint64
	// Requests counts POSTs received, a batch being one.
	Requests atomic.Uint64

	signer  *meta.Signer
	parsers fastjson.ParserPool
	srv     *fasthttp.Server
	url     string
}

// Start listens on addr ("" for 127.0.0.1:0) and returns the events URL.
func (s *Server) Start(addr string) (string, error) {
	ln, err := serve.Listen(addr)
	if err != nil {
		return "", fmt.Errorf("mockbackend: %w", err)
	}
	s.signer = &meta.Signer{Secret: s.Secret}
	s.srv = &fasthttp.Server{
		Handler:                       s.handle,
		Name:                          "mockbackend",
		ReadTimeout:                   30 * time.Second,
		IdleTimeout:                   time.Minute,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: false,
	}
	go s.srv.Serve(ln) //nolint:errcheck // nil on Shutdown
	s.url = "http://" + ln.Addr().String() + "/events"
	return s.url, nil
}

// URL is what Start returned.
func (s *Server) URL() string { return s.url }

// Close stops the server.
func (s *Server) Close() error {
	return serve.Shutdown(s.srv)
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	at := time.Now()
	s.Requests.Add(1)
	if s.signer.Verify(signatureHeader{&ctx.Request.Header}, ctx.PostBody()) != nil {
		s.BadSignature.Add(1)
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		return
	}
	if len(ctx.Request.Header.Peek(backend.HeaderBatch)) > 0 {
		s.handleBatch(ctx, at)
		return
	}
	id := ctx.Request.Header.Peek(backend.HeaderEventID)
	if len(id) == 0 {
		s.MissingID.Add(1)
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	if s.Latency > 0 {
		time.Sleep(s.Latency)
	}
	if s.OnEvent != nil {
		s.OnEvent(id, at)
	}
	if s.NoReply {
		return
	}
	ctx.SetContentType("application/json")
	var buf [256]byte
	b := append(buf[:0], `{"messages":[{"text":`...)
	b = normalize.AppendString(b, ReplyPrefix+string(id))
	ctx.SetBody(append(b, "}]}"...))
}

// handleBatch answers a batched POST ({"events": [...]}, backend.batch):
// one result per event, in order, each naming its event like a single
// answer does.
func (s *Server) handleBatch(ctx *fasthttp.RequestCtx, at time.Time) {
	p := s.parsers.Get()
	defer s.parsers.Put(p)
	v, err := p.ParseBytes(ctx.PostBody())
	if err != nil {
		s.MissingID.Add(1)
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	events := v.GetArray("events")
	for _, e := range events {
		if len(e.GetStringBytes("id")) == 0 {
			s.MissingID.Add(1)
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			return
		}
	}
	if s.Latency > 0 {
		time.Sleep(s.Latency)
	}
	out := append(make([]byte, 0, 64*len(events)), `{"results":[`...)
	for i, e := range events {
		id := e.GetStringBytes("id")
		if s.OnEvent != nil {
			s.OnEvent(id, at)
		}
		if i > 0 {
			out = append(out, ',')
		}
		if s.NoReply {
			out = append(out, "{}"...)
			continue
		}
		out = append(out, `{"messages":[{"text":`...)
		out = normalize.AppendString(out, ReplyPrefix+string(id))
		out = append(out, "}]}"...)
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(append(out, "]}"...))
}

// signatureHeader shows the gateway's X-Switchboard-Signature to
// meta.Signer as the X-Hub-Signature-256 it reads: the backend signature
// is Meta's scheme under another name, signed by the gateway with the same
// Signer (gateway/backend). It holds one pointer, so passing it as an
// adapters.Peeker does not allocate.
type signatureHeader struct{ h *fasthttp.RequestHeader }

func (p signatureHeader) Peek(key string) []byte {
	if key != meta.SignatureHeader {
		return nil
	}
	return p.h.Peek(backend.HeaderSignature)
}
