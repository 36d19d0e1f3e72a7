package httpjson

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestError(t *testing.T) {
	var ctx fasthttp.RequestCtx
	ctx.Response.Header.Set("Access-Control-Allow-Origin", "https://example.com")
	RetryError(&ctx, 503, "breaker_open", `open "now" <b>`, 1500*time.Millisecond)
	if got := string(ctx.Response.Body()); got != `{"error":{"code":"breaker_open","message":"open \"now\" \u003cb\u003e"}}` {
		t.Fatalf("body %s", got)
	}
	if ctx.Response.StatusCode() != 503 || string(ctx.Response.Header.Peek("Retry-After")) != "2" ||
		string(ctx.Response.Header.Peek("Access-Control-Allow-Origin")) == "" {
		t.Fatalf("status %d, headers %s", ctx.Response.StatusCode(), ctx.Response.Header.String())
	}
}

func TestDecodeStrict(t *testing.T) {
	var v struct{ A int }
	for body, ok := range map[string]bool{`{"A":1}`: true, `{"A":1,"B":2}`: false, `{"A":1} {}`: false, `[`: false} {
		if err := DecodeStrict([]byte(body), &v); (err == nil) != ok {
			t.Errorf("%s: err %v", body, err)
		}
	}
}
