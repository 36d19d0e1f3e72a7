package metatest

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/normalize"
)

// FastHeader returns the headers Meta sends with body (the SHA-256
// signature under secret, the legacy SHA-1 one beside it) in a
// fasthttp.RequestHeader, as the gateway passes them: adapters.Header
// copies on Peek and would distort allocation counts.
func FastHeader(secret string, body []byte) *fasthttp.RequestHeader {
	h := &fasthttp.RequestHeader{}
	h.SetContentTypeBytes([]byte("application/json"))
	h.Set(meta.LegacySignatureHeader, "sha1=0123456789abcdef0123456789abcdef01234567")
	h.SetBytesV(meta.SignatureHeader, Signed(secret, body).Peek(meta.SignatureHeader))
	return h
}

// BenchRender measures a warm Render of r for to.
func BenchRender(b *testing.B, render RenderFunc, to adapters.Recipient, r *normalize.Reply) {
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, _, _, err = render(dst[:0], to, r); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(dst)))
}

// RenderAllocs pins a warm Render of each reply to zero allocations. Run
// it without -race.
func RenderAllocs(t *testing.T, render RenderFunc, to adapters.Recipient, replies ...*normalize.Reply) {
	dst := make([]byte, 0, 4096)
	for _, r := range replies {
		if n := testing.AllocsPerRun(200, func() {
			var err error
			if dst, _, _, err = render(dst[:0], to, r); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%+v: %v allocs per Render, want 0", r, n)
		}
	}
}
