package webchat

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"

	"github.com/switchboard-gw/switchboard/adapters/web"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway/connections"
	"github.com/switchboard-gw/switchboard/gateway/httpjson"
	"github.com/switchboard-gw/switchboard/gateway/identity"
	"github.com/switchboard-gw/switchboard/gateway/store"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Ingester takes canonical events into the inbound pipeline: durable when
// it returns nil (pipeline.Pipeline).
type Ingester interface {
	// IngestWith spools ev and writes with (the message's history item,
	// a store.KV.IfAbsent claim of its seq) in one transaction; a taken
	// claim fails it with store.ErrTaken, writing nothing.
	IngestWith(connection string, ev normalize.Event, with ...store.KV) (duplicate bool, err error)
}

// Service serves the web channel. Build it with New, Mount its routes,
// and Close it before shutting the HTTP server down (it ends the live
// streams, which would otherwise hold the shutdown).
type Service struct {
	Store    store.Store
	Identity *identity.Resolver
	Pipeline Ingester
	Log      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Heartbeat is the stream's keep-alive comment interval; 0 means 20 s.
	Heartbeat time.Duration
	// WriteTimeout bounds one write to a stream; 0 means 30 s. The
	// server's own WriteTimeout would cut a stream after its first 30 s
	// (ECOSYSTEM.md): the stream moves the connection's deadline forward
	// before every write instead.
	WriteTimeout time.Duration

	conns    map[string]*conn
	hub      *hub
	limiters *ristretto.Cache[string, *rate.Limiter]
	// heads remembers the last head seen per conversation, where finding
	// the head starts probing (see head).
	heads   *ristretto.Cache[string, uint64]
	stripes [256]sync.Mutex // appends to one conversation
	merges  [64]sync.Mutex  // merges of one anonymous conversation
	closed  atomic.Bool
	// stopSweep ends sweepSessionsLoop, which closes swept.
	stopSweep, swept chan struct{}
}

// conn is one web connection.
type conn struct {
	name      string
	cfg       *config.Web
	adapter   *web.Adapter
	origins   map[string]bool
	anyOrigin bool
	ttl       time.Duration
	perMinute int
}

// New builds the service of every web connection in cfg and plugs it into
// their adapters as Transport. It returns nil when there is none.
func New(cfg *config.Config, conns *connections.Set, st store.Store, id *identity.Resolver, p Ingester, log *slog.Logger) (*Service, error) {
	s := &Service{Store: st, Identity: id, Pipeline: p, Log: log, conns: map[string]*conn{}}
	for i := range cfg.Connections {
		cc := &cfg.Connections[i]
		if cc.Web == nil {
			continue
		}
		var a *web.Adapter
		if bc := conns.Get(cc.Name); bc != nil {
			a, _ = bc.Outbound.(*web.Adapter)
		}
		if a == nil {
			return nil, fmt.Errorf("webchat: connection %s has no web adapter", cc.Name)
		}
		a.Transport = s
		c := &conn{name: cc.Name, cfg: cc.Web, adapter: a, origins: map[string]bool{},
			ttl: web.SessionTTL(cc.Web), perMinute: web.SessionsPerMinute(cc.Web)}
		for _, o := range cc.Web.AllowedOrigins {
			if o == "*" {
				c.anyOrigin = true
			}
			c.origins[strings.TrimSuffix(o, "/")] = true
		}
		s.conns[cc.Name] = c
	}
	if len(s.conns) == 0 {
		return nil, nil
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) start() error {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Heartbeat <= 0 {
		s.Heartbeat = 20 * time.Second
	}
	if s.WriteTimeout <= 0 {
		s.WriteTimeout = 30 * time.Second
	}
	lim, err := ristretto.NewCache(&ristretto.Config[string, *rate.Limiter]{
		NumCounters:        1e6,
		MaxCost:            1e5,
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return err
	}
	s.limiters = lim
	heads, err := ristretto.NewCache(&ristretto.Config[string, uint64]{
		NumCounters:        1e6,
		MaxCost:            1e5,
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		lim.Close()
		return err
	}
	s.heads = heads
	s.hub = newHub()
	s.stopSweep, s.swept = make(chan struct{}), make(chan struct{})
	go s.sweepSessionsLoop(s.stopSweep, s.swept)
	return nil
}

// Close ends every live stream and stops taking new ones. Replies still
// being delivered while the gateway drains are stored as usual.
func (s *Service) Close() {
	if s == nil || s.closed.Swap(true) {
		return
	}
	s.hub.close()
	close(s.stopSweep)
	<-s.swept
	s.limiters.Close()
	s.heads.Close()
}

// Connections lists the web connections' names, sorted.
func (s *Service) Connections() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.conns))
	for n := range s.conns {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Mount adds the web routes to r.
func (s *Service) Mount(r *router.Router) {
	r.GET("/web/embed.js", s.embedJS)
	r.GET("/web/demo", s.demo)
	r.GET("/web/demo/{conn}", s.demo)
	r.OPTIONS("/web/v1/{conn}/{route}", s.preflight)
	r.POST("/web/v1/{conn}/sessions", s.route(s.sessions))
	r.POST("/web/v1/{conn}/messages", s.route(s.authed(s.messages)))
	r.POST("/web/v1/{conn}/identify", s.route(s.authed(s.identify)))
	r.POST("/web/v1/{conn}/attributes", s.route(s.authed(s.attributes)))
	r.POST("/web/v1/{conn}/logout", s.route(s.authed(s.logout)))
	r.POST("/web/v1/{conn}/reset", s.route(s.authed(s.reset)))
	r.GET("/web/v1/{conn}/history", s.route(s.authed(s.history)))
	r.GET("/web/v1/{conn}/stream", s.route(s.authed(s.stream)))
}

// connHandler is a widget route's handler, given its connection.
type connHandler func(ctx *fasthttp.RequestCtx, c *conn)

// route finds the connection, enforces its origins (CORS) and calls h.
func (s *Service) route(h connHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		c := s.conn(ctx)
		if c == nil {
			return
		}
		if !c.allowOrigin(ctx) {
			httpjson.Error(ctx, 403, "origin_not_allowed", "this page's origin may not use web connection "+c.name)
			return
		}
		h(ctx, c)
	}
}

func (s *Service) conn(ctx *fasthttp.RequestCtx) *conn {
	name, _ := ctx.UserValue("conn").(string)
	c := s.conns[name]
	if c == nil {
		httpjson.Error(ctx, 404, "unknown_connection", "no web connection named "+name)
	}
	return c
}

// stripe is the lock of one conversation's appends on this instance.
func (s *Service) stripe(conv string) *sync.Mutex {
	return &s.stripes[fnv(conv)%uint32(len(s.stripes))]
}

// fnv is FNV-1a of s.
func fnv(s string) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// Deliver implements web.Transport: it stores a message frame in the
// conversation of channel user channelID (or in the conversation it was
// merged into) under its next seq, and wakes the conversation's streams;
// a typing frame is only sent live.
func (s *Service) Deliver(_ context.Context, connection, channelID string, f *web.Frame) (string, error) {
	c := s.conns[connection]
	if c == nil {
		return "", fmt.Errorf("webchat: no web connection %s", connection)
	}
	conv, err := s.follow(store.ConversationKey(connection, string(normalize.BuildResponsePath(c.adapter.BotID, channelID))))
	if err != nil {
		return "", err
	}
	if f.Type == web.FrameTyping {
		s.hub.ephemeral(conv, f)
		return "", nil
	}
	if f.TS == "" {
		f.TS = web.FormatTS(s.Now())
	}
	data, err := s.appendFrame(conv, f)
	if err != nil {
		return "", err
	}
	s.hub.notify(conv, &stored{seq: f.Seq, data: data})
	return f.ID, nil
}
