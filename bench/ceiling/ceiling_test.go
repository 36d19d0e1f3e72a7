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
		if got := post(t, base+"/webhooks/messenger/bench", SignatureHeader, sig, body); got != want {
			t.Errorf("signature %q: %d, want %d", sig, got, want)
		}
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
		if got := post(t, base+"/webhooks/telegram/tg", "X-Telegram-Bot-Api-Secret-Token", secret, []byte(`{"update_id":1}`)); got != want {
			t.Errorf("secret %q: %d, want %d", secret, got, want)
		}
	}
	if s.OK.Load() != 1 || s.Refused.Load() != 3 {
		t.Fatalf("ok %d refused %d", s.OK.Load(), s.Refused.Load())
	}
}

// TestViberSignature: Viber routes check X-Viber-Content-Signature (hex
// HMAC-SHA256 of the body keyed with the auth token).
func TestViberSignature(t *testing.T) {
	s := &Server{Secret: []byte("app-secret"), ViberToken: []byte("viber-token")}
	base, err := s.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := []byte(`{"event":"message"}`)
	m := hmac.New(sha256.New, []byte("viber-token"))
	m.Write(body)
	good := hex.EncodeToString(m.Sum(nil))
	last := "0"
	if good[63] == '0' {
		last = "1"
	}
	for sig, want := range map[string]int{good: 200, good[:63] + last: 401, "": 401} {
		if got := post(t, base+"/webhooks/viber/vb", "X-Viber-Content-Signature", sig, body); got != want {
			t.Errorf("signature %q: %d, want %d", sig, got, want)
		}
	}
	if s.OK.Load() != 1 || s.Refused.Load() != 2 {
		t.Fatalf("ok %d refused %d", s.OK.Load(), s.Refused.Load())
	}
}

// post sends body to url with header set to value (none when empty) and
// returns the status.
func post(t *testing.T, url, header, value string, body []byte) int {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod("POST")
	if value != "" {
		req.Header.Set(header, value)
	}
	req.SetBody(body)
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode()
}

// TestWebToken: web widget routes check the session token
// (Authorization: Bearer), never a signature.
func TestWebToken(t *testing.T) {
	s := &Server{Secret: []byte("app-secret")}
	base, err := s.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	good := WebToken(7)
	for auth, want := range map[string]int{
		"Bearer " + good:                     200,
		"Bearer " + WebToken(8):              200,
		"Bearer " + good[:len(good)-1] + "x": 401,
		"Bearer wst_8" + good[5:]:            401, // 7's MAC under 8
		"Bearer wst_7":                       401,
		good:                                 401,
		"":                                   401,
	} {
		if got := post(t, base+"/web/v1/site/messages", "Authorization", auth, []byte(`{"text":"hi"}`)); got != want {
			t.Errorf("authorization %q: %d, want %d", auth, got, want)
		}
	}
	if s.OK.Load() != 2 || s.Refused.Load() != 5 {
		t.Fatalf("ok %d refused %d", s.OK.Load(), s.Refused.Load())
	}
}
