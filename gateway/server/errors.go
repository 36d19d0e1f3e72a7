package server

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/normalize"
)

// writeError answers status with the canonical JSON error body.
func writeError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b := ctx.Response.BodyWriter()
	var buf [256]byte
	out := append(buf[:0], `{"error":{"code":`...)
	out = normalize.AppendString(out, code)
	out = append(out, `,"message":`...)
	out = normalize.AppendString(out, msg)
	out = append(out, "}}"...)
	b.Write(out)
}

// writeRetryError answers a 429 or 503 with Retry-After in whole seconds.
func writeRetryError(ctx *fasthttp.RequestCtx, status int, code, msg string, after time.Duration) {
	writeError(ctx, status, code, msg)
	secs := int64((after + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	ctx.Response.Header.Set("Retry-After", strconv.FormatInt(secs, 10))
}
