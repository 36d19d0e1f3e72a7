// Package graphbatch serves the Graph API's batch requests for the bench's
// Graph mocks (bench/mockgraph, bench/channelmock), the way
// graph.facebook.com does (channels/meta.md §7, "Batch requests"):
//
//	POST /  access_token=T&include_headers=false&batch=[
//	  {"method":"POST","relative_url":"v25.0/me/messages","body":"recipient=…&message=…"}, …]
//
// A relative_url without a version takes the one the batch was posted to
// (POST /v25.0/), or DefaultVersion, as Graph takes the app's default.
//
// Each call is run through the mock's own handler as a request of its own,
// so it meets the same checks, scripted failures and rate limits; its
// access token is the one in its body or relative_url, else the batch's.
// The answer is 200 with an array in the calls' order, each
// {"code":status,"body":"<answer>"} (with "headers" unless
// include_headers=false), and the connection is closed after it, as Graph
// does. More than MaxCalls calls, or no batch array, is refused whole with
// a Graph error.
//
// A call's form body stands for the JSON object a plain call would send:
// Body gives handlers that object for either kind of request.
package graphbatch

import (
	"bytes"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/normalize"
)

// MaxCalls is Graph's limit of calls per batch.
const MaxCalls = 50

// DefaultVersion is the version of a call whose relative_url and batch
// path name none.
const DefaultVersion = "v25.0"

// Is reports whether ctx is a batch request: a POST to the root ("/") or
// to a version root ("/v25.0", "/v25.0/").
func Is(ctx *fasthttp.RequestCtx) bool {
	if !ctx.IsPost() {
		return false
	}
	p := bytes.TrimSuffix(ctx.Path(), []byte("/"))
	return len(p) == 0 || isVersion(p[1:]) && bytes.IndexByte(p[1:], '/') < 0
}

// isVersion reports whether a path segment (or a path's start) is a Graph
// version: v and a digit.
func isVersion(p []byte) bool { return len(p) > 1 && p[0] == 'v' && p[1] >= '0' && p[1] <= '9' }

// Serve answers the batch request in ctx, running each call through h.
// It returns how many calls the batch held (0 when refused whole).
func Serve(ctx *fasthttp.RequestCtx, h fasthttp.RequestHandler) int {
	ctx.SetContentType("application/json; charset=UTF-8")
	ctx.SetConnectionClose()
	arg := func(k string) []byte {
		if v := ctx.PostArgs().Peek(k); v != nil {
			return v
		}
		return ctx.QueryArgs().Peek(k)
	}
	raw := arg("batch")
	if len(raw) == 0 {
		refuse(ctx, 100, "(#100) The parameter batch is required")
		return 0
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(raw)
	if err != nil || v.Type() != fastjson.TypeArray {
		refuse(ctx, 100, "(#100) param batch must be a JSON array")
		return 0
	}
	calls, _ := v.Array()
	if len(calls) > MaxCalls {
		refuse(ctx, 1, "(#1) Too many requests in batch message. Maximum batch size is 50")
		return 0
	}
	version := strings.Trim(string(ctx.Path()), "/")
	if version == "" {
		version = DefaultVersion
	}
	top := string(arg("access_token"))
	headers := string(arg("include_headers")) != "false"
	out := []byte{'['}
	for i, c := range calls {
		if i > 0 {
			out = append(out, ',')
		}
		out = call(out, ctx, h, c, version, top, headers)
	}
	ctx.SetBody(append(out, ']'))
	return len(calls)
}

// call runs one call of a batch through h and appends its result.
func call(out []byte, outer *fasthttp.RequestCtx, h fasthttp.RequestHandler, c *fastjson.Value, version, top string, headers bool) []byte {
	var req fasthttp.Request
	method := string(c.GetStringBytes("method"))
	if method == "" {
		method = fasthttp.MethodGet
	}
	req.Header.SetMethod(method)
	rel := strings.TrimPrefix(string(c.GetStringBytes("relative_url")), "/")
	if !isVersion([]byte(rel)) {
		rel = version + "/" + rel
	}
	req.SetRequestURI("/" + rel)
	body := c.GetStringBytes("body")
	var form fasthttp.Args
	form.ParseBytes(body)
	token := form.Peek("access_token")
	if len(token) == 0 {
		token = req.URI().QueryArgs().Peek("access_token")
	}
	if len(token) == 0 {
		token = []byte(top)
	}
	req.URI().QueryArgs().SetBytesV("access_token", token)
	if len(body) > 0 {
		req.Header.SetContentType("application/x-www-form-urlencoded")
		req.SetBody(body)
	}
	var sub fasthttp.RequestCtx
	sub.Init(&req, outer.RemoteAddr(), nil)
	h(&sub)
	out = append(out, `{"code":`...)
	out = fasthttp.AppendUint(out, sub.Response.StatusCode())
	if headers {
		out = append(out, `,"headers":[{"name":"Content-Type","value":`...)
		out = normalize.AppendString(out, string(sub.Response.Header.ContentType()))
		out = append(out, `}]`...)
	}
	out = append(out, `,"body":`...)
	out = normalize.AppendString(out, string(sub.Response.Body()))
	return append(out, '}')
}

// Body returns the JSON object of a Graph call: the body itself, or, for
// a form (a batched call), an object of its arguments, each the JSON value
// it holds when it is an object or array and a string otherwise,
// access_token left out. dst is reused for the object.
func Body(dst []byte, ctx *fasthttp.RequestCtx) []byte {
	if !bytes.HasPrefix(ctx.Request.Header.ContentType(), []byte("application/x-www-form-urlencoded")) {
		return ctx.PostBody()
	}
	dst = append(dst[:0], '{')
	ctx.PostArgs().VisitAll(func(k, v []byte) {
		if string(k) == "access_token" {
			return
		}
		if len(dst) > 1 {
			dst = append(dst, ',')
		}
		dst = normalize.AppendString(dst, string(k))
		dst = append(dst, ':')
		if len(v) > 0 && (v[0] == '{' || v[0] == '[') && fastjson.ValidateBytes(v) == nil {
			dst = append(dst, v...)
		} else {
			dst = normalize.AppendString(dst, string(v))
		}
	})
	return append(dst, '}')
}

func refuse(ctx *fasthttp.RequestCtx, code int, msg string) {
	ctx.SetStatusCode(fasthttp.StatusBadRequest)
	b := append([]byte(`{"error":{"message":`), normalize.AppendString(nil, msg)...)
	b = append(b, `,"type":"OAuthException","code":`...)
	b = fasthttp.AppendUint(b, code)
	ctx.SetBody(append(b, `,"fbtrace_id":"Abatch"}}`...))
}
