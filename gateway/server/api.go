package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/gateway/dispatch"
	"github.com/switchboard-gw/switchboard/gateway/httpjson"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Dispatcher is what the /v1 API needs from outbound dispatch.
type Dispatcher interface {
	Send(ctx context.Context, connection string, req *normalize.MessagesRequest) ([]normalize.SendResult, error)
	Handover(ctx context.Context, req *dispatch.HandoverRequest) (string, error)
}

// APITimeout bounds one /v1 call, waits behind earlier replies included.
const APITimeout = 30 * time.Second

// auth requires "Authorization: Bearer <token>" with one of APITokens,
// compared in constant time.
func (s *Server) auth(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		status, code, msg := 0, "", ""
		tok, ok := bytes.CutPrefix(ctx.Request.Header.Peek("Authorization"), []byte("Bearer "))
		switch {
		case !ok || len(tok) == 0:
			status, code, msg = 401, "missing_token", "Authorization: Bearer <api token> required"
		case !s.validToken(tok):
			status, code, msg = 403, "bad_token", "the API token is not valid"
		}
		if status != 0 {
			s.refused(refusalKey{refusedAPI, ""}, "server: API request refused", slog.String("path", string(ctx.Path())),
				slog.Int("status", status), slog.String("reason", msg))
			httpjson.Error(ctx, status, code, msg)
			return
		}
		h(ctx)
	}
}

// validToken reports whether tok is one of the API tokens, comparing with
// each in constant time.
func (s *Server) validToken(tok []byte) bool {
	match := 0
	for _, t := range s.APITokens {
		match |= subtle.ConstantTimeCompare(tok, []byte(t))
	}
	return match == 1
}

// messagesBody is the body of POST /v1/messages: the canonical request
// plus an optional connection name to pick among connections that serve
// the same bot.
type messagesBody struct {
	Connection string `json:"connection,omitempty"`
	normalize.MessagesRequest
}

func (s *Server) messages(ctx *fasthttp.RequestCtx) {
	if s.Dispatch == nil {
		httpjson.Error(ctx, 501, "no_dispatch", "outbound dispatch is not configured")
		return
	}
	var req messagesBody
	if err := httpjson.DecodeStrict(ctx.PostBody(), &req); err != nil {
		httpjson.Error(ctx, 400, "malformed_json", err.Error())
		return
	}
	c, cancel := context.WithTimeout(context.Background(), APITimeout)
	defer cancel()
	results, err := s.Dispatch.Send(c, req.Connection, &req.MessagesRequest)
	if err != nil {
		s.writeDispatchError(ctx, err)
		return
	}
	httpjson.Write(ctx, 200, struct {
		ResponsePath string                 `json:"response_path"`
		Results      []normalize.SendResult `json:"results"`
	}{req.ResponsePath, results})
}

func (s *Server) handover(ctx *fasthttp.RequestCtx) {
	if s.Dispatch == nil {
		httpjson.Error(ctx, 501, "no_dispatch", "outbound dispatch is not configured")
		return
	}
	var req dispatch.HandoverRequest
	if err := httpjson.DecodeStrict(ctx.PostBody(), &req); err != nil {
		httpjson.Error(ctx, 400, "malformed_json", err.Error())
		return
	}
	c, cancel := context.WithTimeout(context.Background(), APITimeout)
	defer cancel()
	owner, err := s.Dispatch.Handover(c, &req)
	if err != nil {
		s.writeDispatchError(ctx, err)
		return
	}
	httpjson.Write(ctx, 200, struct {
		OK    bool   `json:"ok"`
		Owner string `json:"owner,omitempty"`
	}{true, owner})
}

// writeDispatchError maps dispatch and channel errors to HTTP.
func (s *Server) writeDispatchError(ctx *fasthttp.RequestCtx, err error) {
	var re *dispatch.RequestError
	if errors.As(err, &re) {
		if re.RetryAfter > 0 {
			httpjson.RetryError(ctx, re.Status, re.Code, re.Msg, re.RetryAfter)
			return
		}
		httpjson.Error(ctx, re.Status, re.Code, re.Msg)
		return
	}
	se := adapters.SendError(err)
	status := 502
	var ae *adapters.APIError
	if errors.As(err, &ae) && ae.Class == adapters.ClassRateLimited {
		httpjson.RetryError(ctx, 429, se.Code, se.Message, ae.RetryAfter)
		return
	}
	var rerr *adapters.RenderError
	if errors.As(err, &rerr) {
		status = 400
	}
	httpjson.Error(ctx, status, se.Code, se.Message)
}
