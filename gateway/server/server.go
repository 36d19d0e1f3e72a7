package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"

	"github.com/switchboard-gw/switchboard/gateway/connections"
	"github.com/switchboard-gw/switchboard/gateway/httpjson"
	"github.com/switchboard-gw/switchboard/gateway/identity"
	"github.com/switchboard-gw/switchboard/gateway/pipeline"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Server routes HTTP to the gateway's parts. Fill the exported fields and
// call Serve.
type Server struct {
	Conns    *connections.Set
	Pipeline *pipeline.Pipeline
	// Dispatch serves /v1/messages and /v1/handover; nil disables them.
	Dispatch Dispatcher
	// APITokens are the bearer tokens of the /v1 API.
	APITokens []string
	// MaxBodyBytes caps request bodies (413 beyond).
	MaxBodyBytes int
	Log          *slog.Logger
	// Identity serves /v1/identities; nil disables it.
	Identity *identity.Resolver
	// Web mounts the web channel's routes (/web/...); nil when no web
	// connection is configured.
	Web Mounter
	// Extra mounts additional routes (the demo Graph sink) before serving.
	Extra func(r *router.Router)

	// mu guards srv and ln, which Serve sets and Shutdown reads.
	mu       sync.Mutex
	srv      *fasthttp.Server
	ln       net.Listener
	draining atomic.Bool
	evPool   sync.Pool // *[]normalize.Event
	metrics  metrics
	refusals logSampler // the logs of refused requests
}

// Mounter adds a part's routes to the router.
type Mounter interface {
	Mount(r *router.Router)
}

// Handler builds the request handler.
func (s *Server) Handler() fasthttp.RequestHandler {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	r := router.New()
	// Each connection's webhook routes are static and bound to it: no
	// path parameters to copy (six allocations a request) and no lookup.
	// The parameterized routes only answer names no connection has.
	if s.Conns != nil {
		for _, c := range s.Conns.All() {
			path := "/webhooks/" + c.Channel + "/" + c.Name
			r.GET(path, func(ctx *fasthttp.RequestCtx) { s.handshake(ctx, c) })
			r.POST(path, func(ctx *fasthttp.RequestCtx) { s.webhook(ctx, c) })
		}
	}
	r.GET("/webhooks/{channel}/{connection}", s.unknownConnection)
	r.POST("/webhooks/{channel}/{connection}", s.unknownConnection)
	r.POST("/v1/messages", s.auth(s.messages))
	r.POST("/v1/handover", s.auth(s.handover))
	r.GET("/v1/identities", s.auth(s.identities))
	r.POST("/v1/identities/link", s.auth(s.link))
	if s.Web != nil {
		s.Web.Mount(r)
	}
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", s.metricsHandler)
	// Go's profiles (pprof index, profile?seconds=N up to the 30 s write
	// timeout, heap, goroutine, trace...), for operators holding an API
	// token: they reveal code paths and memory, never a secret value.
	// The index is /debug/pprof (fasthttp's handler refuses a trailing
	// slash).
	pprof := s.auth(pprofhandler.PprofHandler)
	r.GET("/debug/pprof", pprof)
	r.GET("/debug/pprof/{profile:*}", pprof)
	if s.Extra != nil {
		s.Extra(r)
	}
	r.NotFound = func(ctx *fasthttp.RequestCtx) { httpjson.Error(ctx, 404, "not_found", "no such route") }
	r.MethodNotAllowed = func(ctx *fasthttp.RequestCtx) {
		httpjson.Error(ctx, 405, "method_not_allowed", "method not allowed on this route")
	}
	r.PanicHandler = func(ctx *fasthttp.RequestCtx, v any) {
		s.Log.Error("server: handler panicked", "path", string(ctx.Path()), "panic", v)
		httpjson.Error(ctx, 500, "internal", "internal error")
	}
	return r.Handler
}

// Serve serves on ln until Shutdown, and then returns nil; called after
// Shutdown, it closes ln and returns at once.
func (s *Server) Serve(ln net.Listener) error {
	srv := &fasthttp.Server{
		Handler:            s.Handler(),
		Name:               "switchboard",
		MaxRequestBodySize: s.MaxBodyBytes,
		ReadTimeout:        30 * time.Second,
		WriteTimeout:       30 * time.Second,
		IdleTimeout:        2 * time.Minute,
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			status, code, msg := 400, "bad_request", "malformed HTTP request"
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				status, code, msg = 413, "body_too_large", "request body exceeds limits.max_body_bytes"
			}
			// err is not logged: fasthttp's errors quote the request,
			// which may carry a secret.
			s.refused(refusalKey{refusedHTTP, ""}, "server: request refused", slog.String("path", string(ctx.Path())),
				slog.Int("status", status), slog.String("reason", msg))
			httpjson.Error(ctx, status, code, msg)
		},
		Logger:                        fasthttpLogger{s.Log},
		NoDefaultServerHeader:         true,
		DisableHeaderNamesNormalizing: false,
		CloseOnShutdown:               true,
	}
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		return ln.Close()
	}
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	err := srv.Serve(ln)
	if s.draining.Load() {
		return nil // ln closed by Shutdown
	}
	return err
}

// Shutdown stops accepting requests and waits for those in flight. It may
// run before or while Serve starts: the listener is closed either way.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	srv, ln := s.srv, s.ln
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.ShutdownWithContext(ctx)
	// fasthttp closes only listeners its Serve has registered; one that
	// Serve was about to register is closed here, so Serve returns.
	_ = ln.Close()
	return err
}

func (s *Server) healthz(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"status":"ok"}`)
}

func (s *Server) readyz(ctx *fasthttp.RequestCtx) {
	if s.draining.Load() {
		httpjson.Error(ctx, 503, "draining", "shutting down")
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"status":"ready"}`)
}

// handshake answers a provider's GET verification of conn's webhook URL.
func (s *Server) handshake(ctx *fasthttp.RequestCtx, conn *connections.Conn) {
	if conn.Handshaker == nil {
		httpjson.Error(ctx, 405, "no_handshake", "this channel has no GET handshake")
		return
	}
	challenge, err := conn.Handshaker.Handshake(ctx.QueryArgs())
	if err != nil {
		s.refused(refusalKey{refusedWebhook, conn.Name}, "server: webhook handshake refused", slog.String("connection", conn.Name), slog.String("err", err.Error()))
		httpjson.Error(ctx, 403, "handshake_refused", err.Error())
		return
	}
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBody(challenge)
}

// unknownConnection answers a webhook route naming no connection of its
// channel (each connection's own routes are static, so a known one never
// reaches here).
func (s *Server) unknownConnection(ctx *fasthttp.RequestCtx) {
	name, _ := ctx.UserValue("connection").(string)
	ch, _ := ctx.UserValue("channel").(string)
	msg := "no " + ch + " connection named " + name
	s.refused(refusalKey{refusedWebhook, ""}, "server: webhook refused", slog.String("connection", name), slog.Int("status", 404), slog.String("reason", msg))
	httpjson.Error(ctx, 404, "unknown_connection", msg)
	s.metrics.webhook("", "unknown_connection")
}

// refused logs why a request was refused, at warn level, sampled per key
// (see logSampler); a line after dropped ones carries suppressed=N.
func (s *Server) refused(key refusalKey, msg string, attrs ...slog.Attr) {
	ok, dropped := s.refusals.allow(key)
	if !ok {
		return
	}
	if dropped > 0 {
		attrs = append(attrs, slog.Int64("suppressed", dropped))
	}
	s.Log.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}

// webhook takes a provider's POST to conn: verify, parse, spool, then 200.
func (s *Server) webhook(ctx *fasthttp.RequestCtx, conn *connections.Conn) {
	start := time.Now()
	defer s.metrics.took(conn.Name, start)
	if conn.Inbound == nil {
		httpjson.Error(ctx, 405, "no_inbound", "this connection takes no webhooks")
		return
	}
	evp, _ := s.evPool.Get().(*[]normalize.Event)
	if evp == nil {
		evp = new([]normalize.Event)
	}
	defer func() {
		for i := range *evp {
			(*evp)[i].Reset()
		}
		*evp = (*evp)[:0]
		s.evPool.Put(evp)
	}()
	events, err := pipeline.Accept(conn.Inbound, &ctx.Request.Header, ctx.PostBody(), (*evp)[:0])
	*evp = events
	if err != nil {
		status, code := pipeline.Status(err)
		s.refused(refusalKey{refusedWebhook, conn.Name}, "server: webhook refused",
			slog.String("connection", conn.Name), slog.Int("status", status), slog.String("reason", err.Error()))
		s.metrics.webhook(conn.Name, code)
		httpjson.Error(ctx, status, code, err.Error())
		return
	}
	accepted, dups, err := s.Pipeline.Ingest(conn.Name, events)
	if err != nil {
		s.Log.Error("server: spool unavailable, webhook refused for redelivery", "connection", conn.Name, "err", err)
		s.metrics.webhook(conn.Name, "spool_unavailable")
		httpjson.RetryError(ctx, 503, "spool_unavailable", "events could not be made durable; retry later", 5*time.Second)
		return
	}
	s.metrics.webhook(conn.Name, "ok")
	s.metrics.events(conn.Name, accepted, dups)
	ctx.SetContentType("application/json")
	var buf [64]byte
	out := append(buf[:0], `{"accepted":`...)
	out = strconv.AppendInt(out, int64(accepted), 10)
	out = append(out, `,"duplicates":`...)
	out = strconv.AppendInt(out, int64(dups), 10)
	out = append(out, '}')
	ctx.SetBody(out)
}

// fasthttpLogger routes fasthttp's own messages (connection errors) to slog
// at debug level: they are per-connection noise, the handler logs reasons.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug("server: " + fmt.Sprintf(format, args...))
}
