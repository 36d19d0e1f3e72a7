package app

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"
)

// TestDemoGraphLogIsSampled: the demo Graph stand-in answers every reply
// like the Send API but logs only the first ones and then one a second, so
// a load test against `go run ./gateway` does not bury its log.
func TestDemoGraphLogIsSampled(t *testing.T) {
	var logs syncBuffer
	r := router.New()
	demoGraph(slog.New(slog.NewJSONHandler(&logs, nil)))(r)
	start := time.Now()
	const replies = 500
	for i := range replies {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(fasthttp.MethodPost)
		ctx.Request.SetRequestURI(demoGraphPath + "/me/messages")
		ctx.Request.SetBodyString(`{"recipient":{"id":"2000000000000002"},"message":{"text":"echo: hi"}}`)
		r.Handler(&ctx)
		if ctx.Response.StatusCode() != 200 || !strings.Contains(string(ctx.Response.Body()), `"message_id":"m_demo_`) {
			t.Fatalf("reply %d answered %d %s", i, ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	elapsed := time.Since(start)
	lines := strings.Count(logs.String(), "demo graph: reply rendered")
	if most := demoGraphLogFirst + int(elapsed.Seconds()) + 1; lines < demoGraphLogFirst || lines > most {
		t.Fatalf("%d lines for %d replies in %v, want %d to %d", lines, replies, elapsed, demoGraphLogFirst, most)
	}
	if !strings.Contains(logs.String(), `"body":"{\"recipient\":{\"id\":\"2000000000000002\"}`) {
		t.Fatalf("the logged reply lacks its body:\n%s", logs.String())
	}
}
