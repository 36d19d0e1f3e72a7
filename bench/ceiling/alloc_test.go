//go:build !race

package ceiling

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestHandleAllocs pins the ceiling's cost: once warm, answering a
// verified webhook of any channel (check and 200) allocates nothing.
func TestHandleAllocs(t *testing.T) {
	s := &Server{Secret: []byte("app-secret"), TelegramSecret: []byte("tg-secret"), ViberToken: []byte("viber-token")}
	s.setup()
	body := []byte(`{"object":"page","entry":[]}`)
	vmac := hmac.New(sha256.New, s.ViberToken)
	vmac.Write(body)
	for route, h := range map[string][2]string{
		"/webhooks/messenger/bench": {SignatureHeader, string(s.signer.Sign(nil, body))},
		"/webhooks/telegram/tg":     {"X-Telegram-Bot-Api-Secret-Token", "tg-secret"},
		"/webhooks/viber/vb":        {"X-Viber-Content-Signature", hex.EncodeToString(vmac.Sum(nil))},
		"/web/v1/site/messages":     {"Authorization", "Bearer " + WebToken(42)},
	} {
		ok := s.OK.Load()
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(fasthttp.MethodPost)
		ctx.Request.SetRequestURI(route)
		ctx.Request.Header.Set(h[0], h[1])
		ctx.Request.SetBody(body)
		if n := testing.AllocsPerRun(100, func() { s.Handle(&ctx) }); n != 0 {
			t.Errorf("%s: Handle allocates %.1f times", route, n)
		}
		if s.OK.Load() == ok || s.Refused.Load() != 0 {
			t.Fatalf("%s: ok %d refused %d", route, s.OK.Load(), s.Refused.Load())
		}
	}
}
