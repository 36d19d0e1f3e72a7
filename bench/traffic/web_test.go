package traffic

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/adapters/web"
)

// TestWeb: every kind is a message the web adapter reads as that kind,
// sent with its session's token, and its event is named by the seq the
// gateway answers: the prefix plus that seq is the adapter's own event id.
func TestWeb(t *testing.T) {
	g := NewWeb("site")
	var w Webhook
	rnd := rand.New(rand.NewPCG(1, 2))
	g.Build(&w, "text", rnd)
	if len(w.Events) != 0 || string(w.Header[0].Value) != "Bearer " {
		t.Fatalf("without sessions: events %v, header %q", w.Events, w.Header[0].Value)
	}
	ss := []WebSession{{Token: "wst_a", ChannelID: "wv_a"}, {Token: "wst_b", ChannelID: "wv_b"}}
	g.SetSessions(ss)
	a := &web.Adapter{Connection: "site", BotID: "bot"}
	for _, kind := range WebKinds {
		for range 20 {
			w.Reset()
			g.Build(&w, kind, rnd)
			m, err := web.ParseMessage(w.Body)
			if err != nil || m.Type != kind || w.Path != "/web/v1/site/messages" || w.Channel != WebName {
				t.Fatalf("%s: %v %+v %s", kind, err, m, w.Body)
			}
			if len(w.Events) != 1 || w.Events[0].ID != "" {
				t.Fatalf("%s: events %+v", kind, w.Events)
			}
			ev := w.Events[0]
			tok, _ := strings.CutPrefix(string(w.Header[0].Value), "Bearer ")
			var owner WebSession
			for _, s := range ss {
				if s.Token == tok {
					owner = s
				}
			}
			if w.Header[0].Name != "Authorization" || owner.ChannelID != ev.User {
				t.Fatalf("%s: %s %q for %s", kind, w.Header[0].Name, w.Header[0].Value, ev.User)
			}
			got := a.Event(&m, ev.User, 42, "f", nil, time.Now()).ID
			if want := ev.IDPrefix + "42"; got != want {
				t.Fatalf("%s: the gateway names it %s, the generator %s", kind, got, want)
			}
		}
	}
}
