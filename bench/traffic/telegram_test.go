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
			h := adapters.Header{}
			for _, hd := range w.Header {
				h.Set(hd.Name, string(hd.Value))
			}
			if err := a.Verify(h, w.Body); err != nil {
				t.Fatalf("%s: verify: %v", kind, err)
			}
			evs, err := a.Parse(nil, w.Body)
			if err != nil {
				t.Fatalf("%s: parse: %v\n%s", kind, err, w.Body)
			}
			if len(evs) != 1 || len(w.Events) != 1 {
				t.Fatalf("%s: gateway derives %d events, generator predicts %d\n%s", kind, len(evs), len(w.Events), w.Body)
			}
			ev, p := evs[0], w.Events[0]
			if ev.ID != p.ID || ev.ChannelID != p.User || ev.Type != wantType[kind] {
				t.Fatalf("%s: event %s %s for %s, predicted %s for %s", kind, ev.Type, ev.ID, ev.ChannelID, p.ID, p.User)
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
