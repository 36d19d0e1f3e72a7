package webchat

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
	"golang.org/x/time/rate"

	"github.com/switchboard-gw/switchboard/adapters/web"
	"github.com/switchboard-gw/switchboard/gateway/httpjson"
	"github.com/switchboard-gw/switchboard/gateway/identity"
	"github.com/switchboard-gw/switchboard/gateway/store"
	"github.com/switchboard-gw/switchboard/normalize"
)

// session is what a token authorises, as stored under its hash.
type session struct {
	Conn      string `json:"c"`
	Visitor   string `json:"v"`
	ChannelID string `json:"ch"`
	// Provided is the verified provided id of an identified session
	// (then also ChannelID); empty for an anonymous one.
	Provided string `json:"p,omitempty"`
	// Expires is unix milliseconds; each resume moves it ttl ahead.
	Expires  int64           `json:"exp"`
	Metadata json.RawMessage `json:"md,omitempty"`
}

// responsePath of the session's conversation.
func (ss *session) responsePath(c *conn) string {
	return string(normalize.BuildResponsePath(c.adapter.BotID, ss.ChannelID))
}

func (ss *session) conv(c *conn) string { return store.ConversationKey(c.name, ss.responsePath(c)) }

// tokenPrefix starts every session token.
const tokenPrefix = "wst_"

// newToken returns a fresh token (256 random bits) and its store key.
func newToken() (token, key string) {
	var b [32]byte
	rand.Read(b[:])
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, tokenKey(token)
}

// tokenKey is the store key of a token: hex SHA-256. The store never holds
// a usable token, so reading it (a backup, a shared Redis) reveals none.
func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

var errNoSession = errors.New("webchat: no such session")

// load returns the live session of token on c, or errNoSession.
func (s *Service) load(c *conn, token string) (*session, string, error) {
	if len(token) < len(tokenPrefix)+40 || len(token) > 100 {
		return nil, "", errNoSession
	}
	key := tokenKey(token)
	b, err := s.Store.Get(BucketSessions, key)
	if err != nil {
		return nil, "", err
	}
	if b == nil {
		return nil, "", errNoSession
	}
	var ss session
	if json.Unmarshal(b, &ss) != nil || ss.Conn != c.name || ss.Expires <= s.Now().UnixMilli() {
		return nil, "", errNoSession
	}
	return &ss, key, nil
}

// save stores ss under key with a fresh expiry.
func (s *Service) save(c *conn, key string, ss *session) error {
	ss.Conn = c.name
	ss.Expires = s.Now().Add(c.ttl).UnixMilli()
	b, err := json.Marshal(ss)
	if err != nil {
		return err
	}
	return s.Store.Put(BucketSessions, key, b)
}

// revoke deletes the session of key and ends its streams.
func (s *Service) revoke(key string, reason string) error {
	err := s.Store.Delete(BucketSessions, key)
	s.hub.end(key, reason)
	return err
}

// Expired sessions are deleted every sessionSweepEvery, sessionSweepPage
// records read per store call.
const (
	sessionSweepEvery = time.Hour
	sessionSweepPage  = 1000
)

// SweepSessions deletes every stored session past its expiry and returns
// how many it deleted. An expired session is refused and can never be
// renewed, so deleting it changes nothing a browser sees; without this the
// store would keep one record per widget visitor forever. The gateway runs
// it every hour; the conversations stay (the history of an identified
// person is reachable from any of their sessions).
func (s *Service) SweepSessions() (int, error) {
	now := s.Now().UnixMilli()
	total, after := 0, ""
	for {
		kvs, err := s.Store.List(BucketSessions, after, sessionSweepPage)
		if err != nil {
			return total, err
		}
		var dead []string
		for _, kv := range kvs {
			// A record that does not parse is refused by load too.
			if fastjson.GetInt(kv.Value, "exp") <= int(now) {
				dead = append(dead, kv.Key)
			}
		}
		if err := s.Store.DeleteKeys(BucketSessions, dead); err != nil {
			return total, err
		}
		total += len(dead)
		if len(kvs) < sessionSweepPage {
			return total, nil
		}
		after = kvs[len(kvs)-1].Key
	}
}

// sweepSessionsLoop runs SweepSessions every sessionSweepEvery until stop
// is closed.
func (s *Service) sweepSessionsLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(sessionSweepEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if n, err := s.SweepSessions(); err != nil {
				s.Log.Warn("webchat: sweeping expired sessions", "deleted", n, "err", err)
			} else if n > 0 {
				s.Log.Info("webchat: expired sessions deleted", "deleted", n)
			}
		}
	}
}

// issue stores ss under a new token and returns the token.
func (s *Service) issue(c *conn, ss *session) (string, error) {
	token, key := newToken()
	return token, s.save(c, key, ss)
}

// anonymous is a fresh anonymous session carrying metadata.
func anonymous(metadata json.RawMessage) *session {
	v := identity.NewVisitorID("wv_")
	return &session{Visitor: v, ChannelID: v, Metadata: metadata}
}

// bearer returns the request's session token: the Authorization header,
// or for the stream (EventSource cannot set headers) the token query
// parameter.
func bearer(ctx *fasthttp.RequestCtx, queryOK bool) string {
	if tok, ok := bytes.CutPrefix(ctx.Request.Header.Peek("Authorization"), []byte("Bearer ")); ok {
		return string(bytes.TrimSpace(tok))
	}
	if queryOK {
		return string(ctx.QueryArgs().Peek("token"))
	}
	return ""
}

// authedHandler is a route that needs a live session: ss, authorised by
// token, stored under key.
type authedHandler func(ctx *fasthttp.RequestCtx, c *conn, ss *session, token, key string)

// authed requires a live session token of the route's connection.
func (s *Service) authed(h authedHandler) connHandler {
	return func(ctx *fasthttp.RequestCtx, c *conn) {
		tok := bearer(ctx, bytes.HasSuffix(ctx.Path(), []byte("/stream")))
		if tok == "" {
			httpjson.Error(ctx, 401, "missing_token", "Authorization: Bearer <session token> required")
			return
		}
		ss, key, err := s.load(c, tok)
		switch {
		case errors.Is(err, errNoSession):
			httpjson.Error(ctx, 401, "invalid_token", "the session token is unknown, expired or revoked")
			return
		case err != nil:
			s.storeError(ctx, err)
			return
		}
		h(ctx, c, ss, tok, key)
	}
}

// sessionAnswer is the answer of sessions, identify, logout and reset.
type sessionAnswer struct {
	VisitorID    string `json:"visitor_id"`
	Token        string `json:"token"`
	ResponsePath string `json:"response_path"`
	ProvidedID   string `json:"provided_id,omitempty"`
	ExpiresAt    string `json:"expires_at"`
	// Merged is how many items of the anonymous conversation moved into
	// the identified one at this identify (0 when none or already done).
	Merged int `json:"merged,omitempty"`
}

func (s *Service) answer(ctx *fasthttp.RequestCtx, c *conn, ss *session, token string, merged int) {
	httpjson.Write(ctx, 200, sessionAnswer{
		VisitorID:    ss.Visitor,
		Token:        token,
		ResponsePath: ss.responsePath(c),
		ProvidedID:   ss.Provided,
		ExpiresAt:    time.UnixMilli(ss.Expires).UTC().Format(time.RFC3339),
		Merged:       merged,
	})
}

// --- rate limit ---

// limiterTTL is how long an idle client address's limiter is kept.
const limiterTTL = 10 * time.Minute

// allowSession takes one session creation from the client address's
// bucket (per connection), answering 429 itself when it is empty.
// Limiters live in a TTL'd ristretto cache, never an unbounded map; a
// limiter the cache dropped only means a fresh bucket for that address.
func (s *Service) allowSession(ctx *fasthttp.RequestCtx, c *conn) bool {
	key := c.name + "\x00" + ctx.RemoteIP().String()
	lim, ok := s.limiters.Get(key)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(float64(c.perMinute)/60), c.perMinute)
		s.limiters.SetWithTTL(key, lim, 1, limiterTTL)
		s.limiters.Wait()
	}
	r := lim.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		httpjson.RetryError(ctx, 429, "rate_limited", "too many sessions from this address", d)
		return false
	}
	return true
}

// --- CORS ---

// allowOrigin enforces the connection's allowed origins on a browser's
// cross-origin request and adds the CORS answer headers. A request
// without Origin (not a browser's cross-origin call) and one from the
// gateway's own origin (the demo page) always pass.
func (c *conn) allowOrigin(ctx *fasthttp.RequestCtx) bool {
	origin := ctx.Request.Header.Peek("Origin")
	if len(origin) == 0 {
		return true
	}
	o := string(origin)
	if !c.anyOrigin && !c.origins[o] && !sameOrigin(o, ctx.Host()) {
		return false
	}
	h := &ctx.Response.Header
	h.Set("Access-Control-Allow-Origin", o)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "Retry-After")
	return true
}

// sameOrigin reports whether origin names the host the request was sent
// to. The scheme is not compared: TLS may end at a proxy in front.
func sameOrigin(origin string, host []byte) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && u.Host == string(host)
}

// preflight answers a CORS preflight for the widget routes.
func (s *Service) preflight(ctx *fasthttp.RequestCtx) {
	c := s.conn(ctx)
	if c == nil {
		return
	}
	if !c.allowOrigin(ctx) {
		httpjson.Error(ctx, 403, "origin_not_allowed", "this page's origin may not use web connection "+c.name)
		return
	}
	h := &ctx.Response.Header
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID")
	h.Set("Access-Control-Max-Age", "600")
	ctx.SetStatusCode(204)
}

// --- answers ---

// writeError answers status with the canonical JSON error body, keeping
// the CORS headers already set (the page must be able to read it).
// storeError answers a store failure: 503, retry shortly.
func (s *Service) storeError(ctx *fasthttp.RequestCtx, err error) {
	s.Log.Error("webchat: store unavailable", "err", err)
	httpjson.RetryError(ctx, 503, "store_unavailable", "the gateway could not read or write its store; retry later", 2*time.Second)
}

// proofError answers a refused identity proof: 401, saying what was wrong
// with the proof and nothing about the person.
func proofError(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, web.ErrNoProof):
		httpjson.Error(ctx, 401, "proof_required", "an id is accepted only with a user_hash or a jwt")
	case errors.Is(err, web.ErrBadID):
		httpjson.Error(ctx, 400, "bad_id", err.Error())
	default:
		httpjson.Error(ctx, 401, "invalid_proof", err.Error())
	}
}
