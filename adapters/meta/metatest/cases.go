package metatest

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/bench/mockgraph"
	"github.com/switchboard-gw/switchboard/normalize"
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

// Refusal is a body Parse must refuse with Code, its message containing
// Msg.
// It is an alias of an unnamed struct so that tables may list cases
// positionally, {"name", body, "code", "msg"}, without vet's complaint
// about unkeyed fields of an imported type.
type Refusal = struct {
	Name, Body, Code, Msg string
}

// Refuses runs Parse on every refusal: each must be an
// *adapters.InputError with the code and message wanted, leaving dst as
// it was.
func Refuses(t *testing.T, a adapters.Inbound, tests []Refusal) {
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			dst := make([]normalize.Event, 1, 4)
			got, err := a.Parse(dst, []byte(tt.Body))
			var ie *adapters.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v (%T), want *adapters.InputError; events %+v", err, err, got)
			}
			if ie.Code != tt.Code {
				t.Errorf("code = %s, want %s (%v)", ie.Code, tt.Code, err)
			}
			if !strings.Contains(ie.Msg, tt.Msg) {
				t.Errorf("message %q does not mention %q", ie.Msg, tt.Msg)
			}
			if len(got) != 1 {
				t.Errorf("refused body left %d events in dst", len(got))
			}
		})
	}
}

// Acceptance is an odd but acceptable body: N events, the first of Type
// (when N > 0 and Type is set).
// Like Refusal, an alias of an unnamed struct, for positional tables.
type Acceptance = struct {
	Name, Body string
	N          int
	Type       normalize.EventType
}

// Accepts runs Parse on every acceptance and checks the events.
func Accepts(t *testing.T, a adapters.Inbound, channel string, tests []Acceptance) {
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			evs, err := a.Parse(nil, []byte(tt.Body))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if len(evs) != tt.N {
				t.Fatalf("got %d events, want %d", len(evs), tt.N)
			}
			if tt.N > 0 && tt.Type != "" && evs[0].Type != tt.Type {
				t.Errorf("type = %s, want %s", evs[0].Type, tt.Type)
			}
			CheckEvents(t, channel, evs)
		})
	}
}

// ParseSeeds adds every inbound fixture, and extra, to a parse fuzz
// target.
func ParseSeeds(f *testing.F, extra ...string) {
	for _, name := range Fixtures(f) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
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
