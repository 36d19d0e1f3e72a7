// Package httpjson is how every Switchboard HTTP handler speaks JSON: the
// canonical error body {"error":{"code","message"}} (DESIGN §9), answers
// with Retry-After, JSON answers, and strict decoding of request bodies.
// The server's routes and the web channel's routes share it, so a client
// sees one error shape everywhere.
package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/normalize"
)

// Error answers status with the canonical JSON error body. Headers set
// before (CORS) are kept; the body is replaced.
func Error(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	var buf [256]byte
	out := append(buf[:0], `{"error":{"code":`...)
	out = normalize.AppendString(out, code)
	out = append(out, `,"message":`...)
	out = normalize.AppendString(out, msg)
	ctx.SetBody(append(out, "}}"...))
}

// RetryError is Error with Retry-After in whole seconds (at least 1), for
// 429 and 503 answers.
func RetryError(ctx *fasthttp.RequestCtx, status int, code, msg string, after time.Duration) {
	Error(ctx, status, code, msg)
	secs := max(int64((after+time.Second-1)/time.Second), 1)
	ctx.Response.Header.Set("Retry-After", strconv.FormatInt(secs, 10))
}

// Write answers status with v as JSON.
func Write(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		Error(ctx, 500, "internal", "encoding the answer failed")
		return
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// DecodeStrict decodes one JSON object from body into v, refusing unknown
// fields and trailing data, so a typo is an error rather than a silently
// different request.
func DecodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}
