package traffic

import (
	"math/rand/v2"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters/instagram"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

// TestInstagramPayloadsParse builds every kind and checks them through the
// real Instagram adapter, as TestMessengerPayloadsParse does for Messenger.
func TestInstagramPayloadsParse(t *testing.T) {
	accounts := []string{"17841400000000001"}
	g := NewInstagram("ig", []byte(testSecret), accounts, 50, 42)
	a := instagram.New("ig", &config.Instagram{Meta: config.Meta{AppSecret: testSecret},
		Accounts: []config.Account{{ID: accounts[0], AccessToken: "t"}}})
	rnd := rand.New(rand.NewPCG(1, 2))
	var w Webhook
	g.Build(&w, "text", rnd)
	g.Acked(&w)
	wantType := map[string]normalize.EventType{
		"text": normalize.TypeText, "quick_reply": normalize.TypeQuickReply, "postback": normalize.TypePostback,
		"attachment": normalize.TypeAttachment, "read": normalize.TypeRead,
	}
	for _, kind := range InstagramKinds {
		for range 10 {
			w.Reset()
			g.Build(&w, kind, rnd)
			if w.Kind != kind || w.Channel != InstagramName || w.Path != "/webhooks/instagram/ig" {
				t.Fatalf("%s: built %s on %s %q", kind, w.Kind, w.Channel, w.Path)
			}
			for i, ev := range derive(t, a, &w) {
				if want, ok := wantType[kind]; ok && ev.Type != want {
					t.Fatalf("%s: type %s", kind, ev.Type)
				}
				if opens := ev.Type != normalize.TypeRead; w.Events[i].OpensWindow != opens {
					t.Fatalf("%s: event %d (%s) OpensWindow = %v", kind, i, ev.Type, w.Events[i].OpensWindow)
				}
			}
		}
	}
}
