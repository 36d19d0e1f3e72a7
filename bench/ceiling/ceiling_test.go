package ceiling

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestVerifiesAndAnswers(t *testing.T) {
	s := &Server{Secret: []byte("app-secret")}
	base, err := s.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := []byte(`{"object":"page","entry":[]}`)
	m := hmac.New(sha256.New, []byte("app-secret"))
	m.Write(body)
	good := "sha256=" + hex.EncodeToString(m.Sum(nil))
	for sig, want := range map[string]int{
		good:                         200,
		"sha256=" + good[7:70] + "0": 401,
		"sha1=abc":                   401,
		"":                           401,
	} {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(base + "/webhooks/messenger/bench")
		req.Header.SetMethod("POST")
		if sig != "" {
			req.Header.Set(SignatureHeader, sig)
		}
		req.SetBody(body)
		if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != want {
			t.Errorf("signature %q: %d, want %d", sig, resp.StatusCode(), want)
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
	if s.OK.Load() != 1 || s.Refused.Load() != 3 {
		t.Fatalf("ok %d refused %d", s.OK.Load(), s.Refused.Load())
	}
}

// TestTelegramSecret: Telegram routes check the secret token header, as
// the gateway's Telegram adapter does, never the Meta signature.
func TestTelegramSecret(t *testing.T) {
	s := &Server{Secret: []byte("app-secret"), TelegramSecret: []byte("tg-secret")}
	base, err := s.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for secret, want := range map[string]int{"tg-secret": 200, "tg-secreT": 401, "tg-secretx": 401, "": 401} {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(base + "/webhooks/telegram/tg")
		req.Header.SetMethod("POST")
		if secret != "" {
			req.Header.Set(telegramSecretHeader, secret)
		}
		req.SetBodyString(`{"update_id":1}`)
		if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != want {
			t.Errorf("secret %q: %d, want %d", secret, resp.StatusCode(), want)
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
	if s.OK.Load() != 1 || s.Refused.Load() != 3 {
		t.Fatalf("ok %d refused %d", s.OK.Load(), s.Refused.Load())
	}
}
