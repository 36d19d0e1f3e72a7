package webchat

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"html/template"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/gateway/httpjson"
)

// The widget and the demo page, compiled in: the gateway serves them with
// no files beside it.
var (
	//go:embed assets/embed.js
	embedJSText []byte
	//go:embed assets/demo.html
	demoHTML string

	embedETag = func() string {
		sum := sha256.Sum256(embedJSText)
		return `"` + hex.EncodeToString(sum[:8]) + `"`
	}()
	demoPage = template.Must(template.New("demo").Parse(demoHTML))
)

// EmbedJS is the widget's source, as served at /web/embed.js.
func EmbedJS() []byte { return embedJSText }

// embedJS serves the widget. Any page may load it (a script tag needs no
// CORS); what the widget may then do is the connection's origins' call.
func (s *Service) embedJS(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("ETag", embedETag)
	h.Set("X-Content-Type-Options", "nosniff")
	if string(ctx.Request.Header.Peek("If-None-Match")) == embedETag {
		ctx.SetStatusCode(304)
		return
	}
	ctx.SetContentType("text/javascript; charset=utf-8")
	ctx.SetBody(embedJSText)
}

// demo serves the demo page of a web connection (/web/demo/{conn}), or of
// the first one (/web/demo): the widget inline, and forms to identify,
// set attributes, reset and log out.
func (s *Service) demo(ctx *fasthttp.RequestCtx) {
	name, _ := ctx.UserValue("conn").(string)
	if name == "" {
		name = s.Connections()[0]
	}
	c := s.conns[name]
	if c == nil {
		httpjson.Error(ctx, 404, "unknown_connection", "no web connection named "+name)
		return
	}
	var b bytes.Buffer
	if err := demoPage.Execute(&b, struct{ Connection, BotID string }{c.name, c.adapter.BotID}); err != nil {
		httpjson.Error(ctx, 500, "internal", "rendering the demo page failed")
		return
	}
	h := &ctx.Response.Header
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src * data:; connect-src 'self'; frame-ancestors 'none'")
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(b.Bytes())
}
