package traffic

import (
	"math/rand/v2"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters/whatsapp"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

const testPhoneID = "106540352240001"

// TestWhatsAppPayloadsParse builds every kind and checks, through the real
// adapter, that the signature verifies and that the gateway derives
// exactly the events the generator predicts.
func TestWhatsAppPayloadsParse(t *testing.T) {
	g := NewWhatsApp("wa", []byte(testSecret), "102290129340001", testPhoneID, 50, 42)
	a := whatsapp.New("wa", &config.WhatsApp{Meta: config.Meta{AppSecret: testSecret},
		PhoneNumbers: []config.Account{{ID: testPhoneID, AccessToken: "t"}}})
	rnd := rand.New(rand.NewPCG(1, 2))
	wantType := map[string]normalize.EventType{
		"text": normalize.TypeText, "button": normalize.TypeQuickReply,
		"image": normalize.TypeAttachment, "read": normalize.TypeStatus,
	}
	// Until someone wrote, a read is built as a text.
	var w Webhook
	g.Build(&w, "read", rnd)
	if w.Kind != "text" || g.Substituted.Load() != 1 {
		t.Fatalf("read before any window: built %s, substituted %d", w.Kind, g.Substituted.Load())
	}
	g.Acked(&w)
	seen := map[string]bool{}
	for _, kind := range WhatsAppKinds {
		for range 10 {
			w.Reset()
			g.Build(&w, kind, rnd)
			if w.Kind != kind || w.Channel != WhatsAppName || w.Path != "/webhooks/whatsapp/wa" {
				t.Fatalf("%s: built %s on %s %q", kind, w.Kind, w.Channel, w.Path)
			}
			ev, p := derive(t, a, &w)[0], w.Events[0] // one event: Build predicts one
			if ev.Type != wantType[kind] || ev.BotID != testPhoneID {
				t.Fatalf("%s: type %s, bot %s", kind, ev.Type, ev.BotID)
			}
			if p.OpensWindow != (kind != "read") {
				t.Fatalf("%s: OpensWindow = %v", kind, p.OpensWindow)
			}
			if seen[ev.ID] {
				t.Fatalf("%s: id %s twice", kind, ev.ID)
			}
			seen[ev.ID] = true
		}
	}
}
