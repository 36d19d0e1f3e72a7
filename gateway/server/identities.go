package server

import (
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters/web"
	"github.com/switchboard-gw/switchboard/gateway/httpjson"
	"github.com/switchboard-gw/switchboard/gateway/identity"
	"github.com/switchboard-gw/switchboard/normalize"
)

// The identity API (DESIGN §6), behind the /v1 bearer token:
//
//	GET  /v1/identities?visitor_id=… | provided_id=… | response_path=…[&connection=…]
//	     → {visitor_id, provided_id, response_paths: [...], attributes}
//	POST /v1/identities/link {response_path, provided_id, connection?}
//	     → the linked person; 409 provided_id_conflict when the channel
//	     user's person already has a different provided id.

// userKey turns a response path (and optional connection) into the
// identity key of its channel user, answering the error itself.
func (s *Server) userKey(ctx *fasthttp.RequestCtx, connection, responsePath string) (string, bool) {
	bot, _, err := normalize.ParseResponsePath(responsePath)
	if err != nil {
		httpjson.Error(ctx, 400, "bad_response_path", "response_path must be {bot_id}/c/{channel_id}")
		return "", false
	}
	var channel string
	if connection != "" {
		c := s.Conns.Get(connection)
		if c == nil {
			httpjson.Error(ctx, 404, "unknown_connection", "no connection named "+connection)
			return "", false
		}
		channel = c.Channel
	} else {
		for _, c := range s.Conns.ByBot(bot) {
			if channel != "" && channel != c.Channel {
				httpjson.Error(ctx, 400, "ambiguous_bot", "bot "+bot+" is served on several channels; name one in \"connection\"")
				return "", false
			}
			channel = c.Channel
		}
		if channel == "" {
			httpjson.Error(ctx, 404, "unknown_bot", "no connection serves bot "+bot)
			return "", false
		}
	}
	return identity.ChannelUserKey(channel, responsePath), true
}

func (s *Server) identities(ctx *fasthttp.RequestCtx) {
	if s.Identity == nil {
		httpjson.Error(ctx, 501, "no_identity", "the identity model is not configured")
		return
	}
	q := ctx.QueryArgs()
	vid, pid, path := string(q.Peek("visitor_id")), string(q.Peek("provided_id")), string(q.Peek("response_path"))
	n := 0
	for _, v := range []string{vid, pid, path} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		httpjson.Error(ctx, 400, "bad_query", "give exactly one of visitor_id, provided_id, response_path")
		return
	}
	var p *identity.Person
	var err error
	switch {
	case vid != "":
		p, err = s.Identity.Person(vid)
	case pid != "":
		p, err = s.Identity.FindProvided(pid)
	default:
		key, ok := s.userKey(ctx, string(q.Peek("connection")), path)
		if !ok {
			return
		}
		p, err = s.Identity.FindUser(key)
	}
	if err != nil {
		s.writeIdentityError(ctx, err)
		return
	}
	httpjson.Write(ctx, 200, p)
}

// linkBody is the body of POST /v1/identities/link.
type linkBody struct {
	Connection   string `json:"connection,omitempty"`
	ResponsePath string `json:"response_path"`
	ProvidedID   string `json:"provided_id"`
}

func (s *Server) link(ctx *fasthttp.RequestCtx) {
	if s.Identity == nil {
		httpjson.Error(ctx, 501, "no_identity", "the identity model is not configured")
		return
	}
	var b linkBody
	if err := httpjson.DecodeStrict(ctx.PostBody(), &b); err != nil {
		httpjson.Error(ctx, 400, "malformed_json", err.Error())
		return
	}
	if !web.ValidID(b.ProvidedID) {
		httpjson.Error(ctx, 400, "bad_provided_id", "provided_id must be 1-255 bytes of printable UTF-8")
		return
	}
	key, ok := s.userKey(ctx, b.Connection, b.ResponsePath)
	if !ok {
		return
	}
	vid, err := s.Identity.Link(key, b.ProvidedID)
	if err != nil {
		s.writeIdentityError(ctx, err)
		return
	}
	p, err := s.Identity.Person(vid)
	if err != nil {
		s.writeIdentityError(ctx, err)
		return
	}
	httpjson.Write(ctx, 200, p)
}

func (s *Server) writeIdentityError(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, identity.ErrNotFound):
		httpjson.Error(ctx, 404, "not_found", "no person matches")
	case errors.Is(err, identity.ErrConflict):
		httpjson.Error(ctx, 409, "provided_id_conflict", "the channel user's person already has a different provided id; two provided ids are never merged")
	case errors.Is(err, identity.ErrBadID):
		httpjson.Error(ctx, 400, "bad_id", err.Error())
	default:
		s.Log.Error("server: identity store unavailable", "err", err)
		httpjson.Error(ctx, 503, "store_unavailable", "the identity store is unavailable")
	}
}
