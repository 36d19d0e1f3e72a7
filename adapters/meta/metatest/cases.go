package metatest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/bench/mockgraph"
)

// Verify checks an adapter's signature wiring on body (which must contain
// "e"): signed with secret it passes; another secret, a tampered body,
// garbage, no header or only the SHA-1 header are refused with the shared
// sentinels.
func Verify(t *testing.T, a adapters.Inbound, secret string, body []byte) {
	if err := a.Verify(Signed(secret, body), body); err != nil {
		t.Fatalf("good signature refused: %v", err)
	}
	sha1Only := adapters.Header{}
	sha1Only.Set(meta.LegacySignatureHeader, "sha1=0123456789abcdef0123456789abcdef01234567")
	tampered := bytes.Replace(body, []byte("e"), []byte("E"), 1)
	tests := []struct {
		name string
		h    adapters.Header
		body []byte
		want error
	}{
		{"wrong secret", Signed("not-the-secret", body), body, adapters.ErrBadSignature},
		{"tampered body", Signed(secret, body), tampered, adapters.ErrBadSignature},
		{"garbage", adapters.Header{"X-Hub-Signature-256": "sha256=nothex"}, body, adapters.ErrBadSignature},
		{"missing", adapters.Header{}, body, adapters.ErrMissingSignature},
		{"sha1 only", sha1Only, body, adapters.ErrMissingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.Verify(tt.h, tt.body); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// Handshake checks an adapter's hub.challenge wiring: the right token
// echoes the challenge, a wrong one is refused.
func Handshake(t *testing.T, a adapters.Handshaker, verifyToken string) {
	q := peekMap{"hub.mode": "subscribe", "hub.verify_token": verifyToken, "hub.challenge": "1158201444"}
	got, err := a.Handshake(q)
	if err != nil || string(got) != "1158201444" {
		t.Fatalf("Handshake = %q, %v", got, err)
	}
	q["hub.verify_token"] = "wrong"
	if _, err := a.Handshake(q); !errors.Is(err, adapters.ErrHandshake) {
		t.Fatalf("wrong token: err = %v", err)
	}
}

// peekMap reads query arguments by exact name.
type peekMap map[string]string

func (m peekMap) Peek(k string) []byte {
	if v, ok := m[k]; ok {
		return []byte(v)
	}
	return nil
}

// MockGraph starts bench/mockgraph on loopback serving bot (a Page or an
// IG account) with token, stops it when t ends, and returns it with its
// API base and a client with short timeouts for the adapter.
func MockGraph(t testing.TB, bot, token string) (*mockgraph.Server, string, *fasthttp.Client) {
	t.Helper()
	s := mockgraph.New()
	s.AddPage(bot, token)
	base, err := s.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, base, &fasthttp.Client{ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
}

// SentBody checks that s received exactly one call, a POST of the Send
// API (/v25.0/me/messages) with token, and returns its body.
func SentBody(t testing.TB, s *mockgraph.Server, token string) []byte {
	t.Helper()
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v25.0"+meta.PathMessages || r.Query != "access_token="+token {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.Query)
	}
	return r.Body
}
