//go:build !race

package ceiling

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters/meta"
)

// TestHandleAllocs pins the ceiling's cost: once warm, answering a signed
// webhook (verify and 200) allocates nothing.
func TestHandleAllocs(t *testing.T) {
	s := &Server{Secret: []byte("app-secret")}
	s.signer = &meta.Signer{Secret: s.Secret}
	body := []byte(`{"object":"page","entry":[]}`)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.Header.SetBytesV(SignatureHeader, s.signer.Sign(nil, body))
	ctx.Request.SetBody(body)
	if n := testing.AllocsPerRun(100, func() { s.Handle(&ctx) }); n != 0 {
		t.Errorf("Handle allocates %.1f times", n)
	}
	if s.OK.Load() == 0 || s.Refused.Load() != 0 {
		t.Fatalf("ok %d refused %d", s.OK.Load(), s.Refused.Load())
	}
}
