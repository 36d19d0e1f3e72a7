package traffic

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters/viber"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

// TestViberPayloadsParse builds every kind and checks them through the
// real Viber adapter: signature, ids (exact 64-bit message tokens, user
// ids with + / =) and people.
func TestViberPayloadsParse(t *testing.T) {
	const token = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
	g := NewViber("vb", token, 50, 42)
	a := viber.New("vb", &config.Viber{BotID: "bench-bot", AuthToken: token})
	rnd := rand.New(rand.NewPCG(1, 2))
	var w Webhook
	g.Build(&w, "seen", rnd)
	if w.Kind != "text" || g.Substituted.Load() != 1 {
		t.Fatalf("seen before anyone wrote: built %s, substituted %d", w.Kind, g.Substituted.Load())
	}
	g.Acked(&w)
	wantType := map[string]normalize.EventType{"text": normalize.TypeText, "picture": normalize.TypeAttachment, "seen": normalize.TypeRead}
	for _, kind := range ViberKinds {
		for range 10 {
			w.Reset()
			g.Build(&w, kind, rnd)
			if w.Kind != kind || w.Channel != ViberName || w.Path != "/webhooks/viber/vb" {
				t.Fatalf("%s: built %s on %s %q", kind, w.Kind, w.Channel, w.Path)
			}
			ev := derive(t, a, &w)[0] // one event: Build predicts one
			if ev.Type != wantType[kind] || w.Events[0].OpensWindow != (kind != "seen") {
				t.Fatalf("%s: type %s, OpensWindow %v", kind, ev.Type, w.Events[0].OpensWindow)
			}
		}
	}
	var special bool
	for _, u := range g.users {
		special = special || strings.ContainsAny(u, "+/=")
	}
	if !special {
		t.Error("no user id has the + / = characters real Viber ids have")
	}
}
