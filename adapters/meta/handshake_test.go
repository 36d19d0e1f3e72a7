package meta

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
)

// query is a Peeker over query arguments, case-sensitive like fasthttp.Args.
type query map[string]string

func (q query) Peek(k string) []byte {
	if v, ok := q[k]; ok {
		return []byte(v)
	}
	return nil
}

func TestHandshake(t *testing.T) {
	token := []byte("verify-me")
	ok := func() query {
		return query{"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
	}
	with := func(k, v string) query { q := ok(); q[k] = v; return q }
	without := func(k string) query { q := ok(); delete(q, k); return q }
	tests := []struct {
		name  string
		token []byte
		q     query
		want  string // challenge, or "" for a refusal
	}{
		{name: "good", q: ok(), want: "1158201444"},
		{name: "non-numeric challenge", q: with("hub.challenge", "abc-DEF_123"), want: "abc-DEF_123"},
		{name: "wrong token", q: with("hub.verify_token", "verify-mf")},
		{name: "token prefix", q: with("hub.verify_token", "verify")},
		{name: "token longer", q: with("hub.verify_token", "verify-me2")},
		{name: "token case differs", q: with("hub.verify_token", "VERIFY-ME")},
		{name: "no token", q: without("hub.verify_token")},
		{name: "empty token both sides", token: []byte{}, q: with("hub.verify_token", "")},
		{name: "mode unsubscribe", q: with("hub.mode", "unsubscribe")},
		{name: "mode uppercase", q: with("hub.mode", "SUBSCRIBE")},
		{name: "no mode", q: without("hub.mode")},
		{name: "empty challenge", q: with("hub.challenge", "")},
		{name: "no challenge", q: without("hub.challenge")},
		{name: "challenge with markup", q: with("hub.challenge", "<script>alert(1)</script>")},
		{name: "challenge with newline", q: with("hub.challenge", "1\r\nX-Injected: 1")},
		{name: "challenge too long", q: with("hub.challenge", strings.Repeat("9", maxChallenge+1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := token
			if tt.token != nil {
				tok = tt.token
			}
			got, err := Handshake(tok, tt.q)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("accepted, answered %q", got)
				}
				if !errors.Is(err, adapters.ErrHandshake) || !errors.Is(err, ErrHandshake) {
					t.Fatalf("err = %v, want one wrapping ErrHandshake", err)
				}
				if got != nil {
					t.Errorf("refusal returned a challenge %q", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if string(got) != tt.want {
				t.Fatalf("challenge = %q, want %q", got, tt.want)
			}
		})
	}
}

// The challenge must be a copy: fasthttp reuses the query buffer.
func TestHandshakeCopiesChallenge(t *testing.T) {
	buf := []byte("123456")
	q := peekFunc(func(k string) []byte {
		switch k {
		case "hub.mode":
			return []byte("subscribe")
		case "hub.verify_token":
			return []byte("t")
		case "hub.challenge":
			return buf
		}
		return nil
	})
	got, err := Handshake([]byte("t"), q)
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, "999999")
	if string(got) != "123456" {
		t.Fatalf("challenge aliases the request: %q", got)
	}
}

type peekFunc func(string) []byte

func (f peekFunc) Peek(k string) []byte { return f(k) }
