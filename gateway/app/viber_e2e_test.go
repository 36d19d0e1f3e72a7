package app

import (
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/bench/mockviber"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

// TestViberEndToEnd runs a Viber conversation through the gateway: the
// webhook probe is answered with no event, a signed message reaches the
// backend with the sender id (with + / =) exact in the response path, and
// the backend's reply reaches the Viber API addressed to that id.
func TestViberEndToEnd(t *testing.T) {
	vb, err := mockviber.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vb.Close() })
	rec := newRecorder(t)
	rec.reply = func(ev normalize.Event) []normalize.Reply {
		return []normalize.Reply{{Text: "echo: " + ev.Text, QuickReplies: []normalize.QuickReply{{Title: "Yes"}, {Title: "No"}}}}
	}
	cfg := testConfig(t, rec.url, "")
	cfg.Connections = append(cfg.Connections, config.Connection{
		Name: "vb", Channel: config.ChannelViber,
		Viber: &config.Viber{BotID: "pa:acme", AuthToken: vb.Token(), APIBase: vb.URL()},
	})
	cfg.SetDefaults()
	g := startGateway(t, cfg)
	post1 := func(body string) (int, []byte) {
		return post(t, g.base+"/webhooks/viber/vb", []byte(body), map[string]string{
			"X-Viber-Content-Signature": mockviber.Sign(vb.Token(), []byte(body)),
		})
	}
	if st, b := post1(`{"event":"webhook","timestamp":1718000000000,"chat_hostname":"SN-1","message_token":5741311803571721000}`); st != 200 || !strings.Contains(string(b), `"accepted":0`) {
		t.Fatalf("webhook probe: %d %s", st, b)
	}
	sender := "r/Zx0w9Q+Pu1tKd8Vm2sLg=="
	msg := `{"event":"message","timestamp":1718000000123,"message_token":5741311803571721087,"sender":{"id":"` + sender + `","name":"Olena","language":"uk"},"message":{"type":"text","text":"Привіт"}}`
	if st, b := post1(msg); st != 200 {
		t.Fatalf("message: %d %s", st, b)
	}
	if st, _ := post(t, g.base+"/webhooks/viber/vb", []byte(msg), map[string]string{"X-Viber-Content-Signature": strings.Repeat("0", 64)}); st != 401 {
		t.Fatalf("bad signature: %d, want 401", st)
	}
	ev := rec.waitFor(1)[0]
	if ev.ResponsePath != "pa:acme/c/"+sender || ev.NativeID != "5741311803571721087" || ev.Text != "Привіт" {
		t.Fatalf("event %+v", ev)
	}
	waitCount(t, "the reply at the Viber API", func() bool { return vb.Count() >= 1 })
	var got *mockviber.Request
	for _, r := range vb.Requests() {
		if r.Type == "text" {
			r := r
			got = &r
		}
	}
	if got == nil || got.Receiver != sender || got.Status != mockviber.StatusOK || !strings.Contains(string(got.Body), "echo: Привіт") {
		t.Fatalf("Viber API got %+v", got)
	}
}
