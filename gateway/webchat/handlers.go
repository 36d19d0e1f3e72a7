package webchat

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/web"
	"github.com/switchboard-gw/switchboard/gateway/httpjson"
	"github.com/switchboard-gw/switchboard/gateway/identity"
	"github.com/switchboard-gw/switchboard/gateway/store"
)

// History page sizes.
const (
	DefaultPage = 30
	MaxPage     = 100
)

// decodeStrict decodes a widget body (empty means {}), refusing unknown
// fields so that a typo is an error rather than a silently ignored proof.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	return httpjson.DecodeStrict(body, v)
}

// checkObject accepts an empty value or a JSON object of at most max
// bytes; "null" reads as empty.
func checkObject(ctx *fasthttp.RequestCtx, name string, v json.RawMessage, max int) (json.RawMessage, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return nil, true
	}
	if v[0] != '{' {
		httpjson.Error(ctx, 400, "wrong_type", name+" must be an object")
		return nil, false
	}
	if len(v) > max {
		httpjson.Error(ctx, 400, "too_long", name+" is too large")
		return nil, false
	}
	return v, true
}

// sessionBody is the body of POST sessions.
type sessionBody struct {
	Token          string          `json:"token,omitempty"`
	ExternalUserID string          `json:"external_user_id,omitempty"`
	UserHash       string          `json:"user_hash,omitempty"`
	JWT            string          `json:"jwt,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
}

// sessions resumes the session of a still-valid token, else mints an
// anonymous visitor, or an identified one when a valid proof comes along
// (minting is rate-limited per client address).
// A claimed id without a valid proof is refused (401) and changes
// nothing: the token given stays as it was.
func (s *Service) sessions(ctx *fasthttp.RequestCtx, c *conn) {
	var b sessionBody
	if err := decodeStrict(ctx.PostBody(), &b); err != nil {
		httpjson.Error(ctx, 400, "malformed_json", err.Error())
		return
	}
	md, ok := checkObject(ctx, "metadata", b.Metadata, web.MaxMetadata)
	if !ok {
		return
	}
	var cur *session
	var key string
	if b.Token != "" {
		var err error
		cur, key, err = s.load(c, b.Token)
		if err != nil && !errors.Is(err, errNoSession) {
			s.storeError(ctx, err)
			return
		}
	}
	// Creating a session is limited per client address; resuming one (a
	// page load with a live token) is not.
	if cur == nil && !s.allowSession(ctx, c) {
		return
	}
	if b.ExternalUserID != "" || b.UserHash != "" || b.JWT != "" {
		who, err := c.adapter.Verifier.Verify(b.ExternalUserID, b.UserHash, b.JWT)
		if err != nil {
			proofError(ctx, err)
			return
		}
		ss, tok, n, err := s.become(c, cur, b.Token, key, who, md)
		if err != nil {
			s.identityError(ctx, err)
			return
		}
		s.answer(ctx, c, ss, tok, n)
		return
	}
	if cur != nil {
		if md != nil {
			cur.Metadata = md
		}
		if err := s.save(c, key, cur); err != nil {
			s.storeError(ctx, err)
			return
		}
		s.answer(ctx, c, cur, b.Token, 0)
		return
	}
	ss := anonymous(md)
	tok, err := s.issue(c, ss)
	if err != nil {
		s.storeError(ctx, err)
		return
	}
	s.answer(ctx, c, ss, tok, 0)
}

// become moves a browser, whose current session cur (nil when none) is
// authorised by tok and stored under key, to the verified person who.
//
//   - Same person: the session is resumed (and its expiry moved).
//   - An anonymous session: its conversation and attributes are merged
//     into the person, once (merge is idempotent), and the browser gets a
//     new token for the person; the anonymous token is revoked, so a token
//     planted before login never gains the person's history.
//   - Another identified person: reset first; nothing of the first person
//     carries over (two provided ids are never merged).
func (s *Service) become(c *conn, cur *session, tok, key string, who web.Identity, md json.RawMessage) (*session, string, int, error) {
	if md == nil && cur != nil {
		md = cur.Metadata
	}
	vid, err := s.Identity.BindProvided(who.ID)
	if err != nil {
		return nil, "", 0, err
	}
	if len(who.Traits) > 0 {
		if err := s.Identity.SetAttributes(vid, who.Traits, true); err != nil {
			return nil, "", 0, err
		}
	}
	if cur != nil && cur.Provided == who.ID {
		cur.Metadata = md
		return cur, tok, 0, s.save(c, key, cur)
	}
	next := &session{Visitor: vid, ChannelID: who.ID, Provided: who.ID, Metadata: md}
	if err := s.bindUser(c, next); err != nil {
		return nil, "", 0, err
	}
	merged := 0
	if cur != nil && cur.Provided == "" {
		if merged, err = s.merge(cur.conv(c), next.conv(c), cur.Visitor); err != nil {
			return nil, "", 0, err
		}
		if err := s.Identity.Merge(cur.Visitor, vid); err != nil {
			return nil, "", 0, err
		}
		anonKey := identity.ChannelUserKey(web.Name, cur.responsePath(c))
		if _, bound, err := s.Identity.Lookup(anonKey); err != nil {
			return nil, "", 0, err
		} else if bound {
			if err := s.Identity.Bind(anonKey, vid); err != nil {
				return nil, "", 0, err
			}
		}
	}
	token, err := s.issue(c, next)
	if err != nil {
		return nil, "", 0, err
	}
	if cur != nil {
		if err := s.revoke(key, reasonEnded); err != nil {
			s.Log.Error("webchat: replaced session not revoked", "err", err)
		}
	}
	return next, token, merged, nil
}

// bindUser records the session's channel user in identity once, so that
// the pipeline resolves its events to the session's visitor (an anonymous
// visitor's minted id, or the provided id's visitor).
func (s *Service) bindUser(c *conn, ss *session) error {
	key := identity.ChannelUserKey(web.Name, ss.responsePath(c))
	v, ok, err := s.Identity.Lookup(key)
	if err != nil || ok && v == ss.Visitor {
		return err
	}
	return s.Identity.Bind(key, ss.Visitor)
}

func (s *Service) identityError(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, identity.ErrConflict):
		httpjson.Error(ctx, 409, "provided_id_conflict", "two provided ids are never merged")
	case errors.Is(err, identity.ErrBadID):
		httpjson.Error(ctx, 400, "bad_id", err.Error())
	default:
		s.storeError(ctx, err)
	}
}

// messageAnswer is the answer of POST messages.
type messageAnswer struct {
	ID  string `json:"id"`
	Seq uint64 `json:"seq"`
}

// messages takes a visitor's message: into the conversation's history
// (its seq), to the backend through the pipeline, live to every tab.
func (s *Service) messages(ctx *fasthttp.RequestCtx, c *conn, ss *session, _, _ string) {
	m, err := web.ParseMessage(ctx.PostBody())
	if err != nil {
		var ie *adapters.InputError
		if errors.As(err, &ie) {
			httpjson.Error(ctx, 400, ie.Code, ie.Msg)
			return
		}
		httpjson.Error(ctx, 400, "bad_request", err.Error())
		return
	}
	if err := s.bindUser(c, ss); err != nil {
		s.storeError(ctx, err)
		return
	}
	now := s.Now()
	f := m.Frame()
	f.TS = web.FormatTS(now)
	conv := ss.conv(c)
	// The item and its event are written in one transaction: the history
	// never shows a message the bot will not get, and the item has its
	// seq before the bot's reply (which may come back at once) takes the
	// next one.
	data, err := s.appendFrameWith(conv, &f, func(kv store.KV) error {
		ev := c.adapter.Event(&m, ss.ChannelID, f.Seq, f.ID, ss.Metadata, now)
		ev.ProvidedID = ss.Provided
		dup, err := s.Pipeline.IngestWith(c.name, ev, kv)
		if err == nil && dup {
			// The event of this seq was taken before (so the bot has it)
			// but its item was not: store the item, keeping the
			// history gap-free, which streams rely on.
			return s.putIfAbsent(kv)
		}
		return err
	})
	if err != nil {
		s.Log.Error("webchat: spool unavailable, message not stored", "connection", c.name, "err", err)
		httpjson.RetryError(ctx, 503, "spool_unavailable", "the message could not be made durable; retry later", 2*time.Second)
		return
	}
	s.hub.notify(conv, &stored{seq: f.Seq, data: data})
	httpjson.Write(ctx, 202, messageAnswer{ID: f.ID, Seq: f.Seq})
}

// identifyBody is the body of POST identify.
type identifyBody struct {
	ID         string          `json:"id,omitempty"`
	Attributes json.RawMessage `json:"attributes,omitempty"`
	UserHash   string          `json:"user_hash,omitempty"`
	JWT        string          `json:"jwt,omitempty"`
}

// identify binds the browser to a verified person (see become); the
// unsigned attributes then enrich that person's profile.
func (s *Service) identify(ctx *fasthttp.RequestCtx, c *conn, ss *session, tok, key string) {
	var b identifyBody
	if err := decodeStrict(ctx.PostBody(), &b); err != nil {
		httpjson.Error(ctx, 400, "malformed_json", err.Error())
		return
	}
	attrs, ok := checkObject(ctx, "attributes", b.Attributes, web.MaxMetadata)
	if !ok {
		return
	}
	who, err := c.adapter.Verifier.Verify(b.ID, b.UserHash, b.JWT)
	if err != nil {
		proofError(ctx, err)
		return
	}
	next, token, n, err := s.become(c, ss, tok, key, who, nil)
	if err != nil {
		s.identityError(ctx, err)
		return
	}
	if attrs != nil {
		if err := s.Identity.SetAttributes(next.Visitor, attrs, false); err != nil {
			s.identityError(ctx, err)
			return
		}
	}
	s.answer(ctx, c, next, token, n)
}

// attributes merges unsigned attributes into the session's visitor. It
// never changes whose history the session shows.
func (s *Service) attributes(ctx *fasthttp.RequestCtx, c *conn, ss *session, _, _ string) {
	var b struct {
		Attributes json.RawMessage `json:"attributes"`
	}
	if err := decodeStrict(ctx.PostBody(), &b); err != nil {
		httpjson.Error(ctx, 400, "malformed_json", err.Error())
		return
	}
	attrs, ok := checkObject(ctx, "attributes", b.Attributes, web.MaxMetadata)
	if !ok {
		return
	}
	if attrs != nil {
		if err := s.Identity.SetAttributes(ss.Visitor, attrs, false); err != nil {
			s.identityError(ctx, err)
			return
		}
	}
	ctx.SetStatusCode(204)
}

// logout revokes the token and starts a fresh anonymous visitor; the
// identified person's history stays with the person.
func (s *Service) logout(ctx *fasthttp.RequestCtx, c *conn, ss *session, _, key string) {
	if err := s.revoke(key, reasonEnded); err != nil {
		s.storeError(ctx, err)
		return
	}
	next := anonymous(ss.Metadata)
	tok, err := s.issue(c, next)
	if err != nil {
		s.storeError(ctx, err)
		return
	}
	s.answer(ctx, c, next, tok, 0)
}

// reset starts a new conversation for an anonymous visitor: a new
// anonymous visitor id (and so response path) behind the same token,
// keeping its attributes. A fixed provided id has no reset (409).
func (s *Service) reset(ctx *fasthttp.RequestCtx, c *conn, ss *session, tok, key string) {
	if ss.Provided != "" {
		httpjson.Error(ctx, 409, "fixed_identity", "an identified visitor's conversation cannot be reset; log out instead")
		return
	}
	next := anonymous(ss.Metadata)
	if p, err := s.Identity.Profile(ss.Visitor); err != nil {
		s.storeError(ctx, err)
		return
	} else if len(p.Attributes) > 0 {
		if err := s.Identity.SetAttributes(next.Visitor, p.Attributes, false); err != nil {
			s.storeError(ctx, err)
			return
		}
	}
	if err := s.save(c, key, next); err != nil {
		s.storeError(ctx, err)
		return
	}
	s.hub.end(key, reasonChanged)
	s.answer(ctx, c, next, tok, 0)
}

// historyAnswer is the answer of GET history.
type historyAnswer struct {
	Events []json.RawMessage `json:"events"`
	// Next is the before= cursor of the next (older) page; null at the
	// start of the conversation.
	Next *string `json:"next"`
}

// history pages the session's conversation, newest first.
func (s *Service) history(ctx *fasthttp.RequestCtx, c *conn, ss *session, _, _ string) {
	args := ctx.QueryArgs()
	var before uint64
	if b := args.Peek("before"); len(b) > 0 {
		n, err := strconv.ParseUint(string(b), 10, 64)
		if err != nil || n == 0 {
			httpjson.Error(ctx, 400, "bad_cursor", "before must be a cursor from a previous page")
			return
		}
		before = n
	}
	limit := DefaultPage
	if l := args.Peek("limit"); len(l) > 0 {
		n, err := strconv.Atoi(string(l))
		if err != nil || n < 1 {
			httpjson.Error(ctx, 400, "bad_limit", "limit must be a positive integer")
			return
		}
		limit = min(n, MaxPage)
	}
	events, next, err := s.page(ss.conv(c), before, limit)
	if err != nil {
		s.storeError(ctx, err)
		return
	}
	a := historyAnswer{Events: events}
	if next > 0 {
		n := strconv.FormatUint(next, 10)
		a.Next = &n
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	httpjson.Write(ctx, 200, a)
}
