package traffic

import (
	"math/rand/v2"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/telegram"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

const (
	testTelegramToken  = "7000000001:bench-test-token"
	testTelegramSecret = "bench-test-secret"
)

// TestTelegramPayloadsParse builds every kind and checks, through the real
// adapter, that the secret token verifies and that the gateway derives
// exactly the events the generator predicts.
func TestTelegramPayloadsParse(t *testing.T) {
	g := NewTelegram("tg", testTelegramToken, testTelegramSecret, 50, 42)
	a := telegram.New("tg", &config.Telegram{Token: testTelegramToken, SecretToken: testTelegramSecret})
	rnd := rand.New(rand.NewPCG(1, 2))
	wantType := map[string]normalize.EventType{
		"text": normalize.TypeText, "command": normalize.TypeText, "callback": normalize.TypePostback,
	}
	seen := map[string]bool{}
	for _, kind := range TelegramKinds {
		for range 10 {
			var w Webhook
			g.Build(&w, kind, rnd)
			if w.Kind != kind || w.Channel != TelegramName || w.Path != "/webhooks/telegram/tg" {
				t.Fatalf("%s: built %s on %s %q", kind, w.Kind, w.Channel, w.Path)
			}
			evs := derive(t, a, &w) // one event: Build predicts one
			ev := evs[0]
			if ev.Type != wantType[kind] {
				t.Fatalf("%s: type %s", kind, ev.Type)
			}
			if seen[ev.ID] {
				t.Fatalf("%s: id %s twice", kind, ev.ID)
			}
			seen[ev.ID] = true
		}
	}
	// A wrong secret is refused: the header is what the adapter checks.
	var w Webhook
	NewTelegram("tg", testTelegramToken, "other", 1, 1).Build(&w, "text", rnd)
	h := adapters.Header{}
	h.Set(w.Header[0].Name, string(w.Header[0].Value))
	if err := a.Verify(h, w.Body); err == nil {
		t.Fatal("a webhook with another secret token verified")
	}
}

// TestTelegramRunsDoNotCollide: two seeds give disjoint ids and users.
func TestTelegramRunsDoNotCollide(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	var a, b Webhook
	NewTelegram("tg", testTelegramToken, "s", 10, 1).Build(&a, "text", rnd)
	NewTelegram("tg", testTelegramToken, "s", 10, 2).Build(&b, "text", rnd)
	if a.Events[0].ID == b.Events[0].ID {
		t.Fatalf("both runs start at %s", a.Events[0].ID)
	}
	g1, g2 := NewTelegram("tg", testTelegramToken, "s", 10, 1), NewTelegram("tg", testTelegramToken, "s", 10, 2)
	if g1.users[0] == g2.users[0] {
		t.Fatalf("both runs use user %s", g1.users[0])
	}
}
