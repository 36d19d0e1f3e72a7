package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/bench/mockgraph"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

const (
	waPhoneID = "106540352242922"
	waUser    = "16505551234"
	igAccount = "17841400000000001"
)

// startMetaChannels runs a gateway with WhatsApp and Instagram
// connections sending to the mock Graph API, the backend answering every
// text with four options (more than WhatsApp's 3 reply buttons).
func startMetaChannels(t *testing.T) (*gateway, *recorder, *mockgraph.Server) {
	graph := startGraph(t)
	graph.AddPhoneNumber(waPhoneID, "wa-token")
	graph.AddPage(igAccount, "ig-token")
	rec := newRecorder(t)
	rec.reply = func(ev normalize.Event) []normalize.Reply {
		if ev.Type != normalize.TypeText {
			return nil
		}
		return []normalize.Reply{{Text: "echo: " + ev.Text, QuickReplies: []normalize.QuickReply{{Title: "One"}, {Title: "Two"}, {Title: "Three"}, {Title: "Four"}}}}
	}
	cfg := testConfig(t, rec.url, graph.URL())
	meta := config.Meta{AppSecret: testAppSecret, VerifyToken: testVerifyToken, APIBase: graph.URL()}
	cfg.Connections = append(cfg.Connections,
		config.Connection{Name: "wa", Channel: config.ChannelWhatsApp, WhatsApp: &config.WhatsApp{Meta: meta, PhoneNumbers: []config.Account{{ID: waPhoneID, AccessToken: "wa-token"}}}},
		config.Connection{Name: "ig", Channel: config.ChannelInstagram, Instagram: &config.Instagram{Meta: meta, Accounts: []config.Account{{ID: igAccount, AccessToken: "ig-token"}}}},
	)
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return startGateway(t, cfg), rec, graph
}

func (g *gateway) metaWebhook(t *testing.T, channel, conn, body string) (int, []byte) {
	return post(t, g.base+"/webhooks/"+channel+"/"+conn, []byte(body), map[string]string{"X-Hub-Signature-256": mustSign(testAppSecret, body)})
}

// TestWhatsAppEndToEnd: a text reaches the backend keyed by the phone
// number id, a status webhook becomes a status event, a retry is dropped,
// and the reply with four options reaches the Cloud API as a list.
func TestWhatsAppEndToEnd(t *testing.T) {
	g, rec, graph := startMetaChannels(t)
	now := time.Now().Unix()
	text := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},"contacts":[{"profile":{"name":"Kerry"},"wa_id":%q}],"messages":[{"from":%q,"id":"wamid.IN1","timestamp":"%d","type":"text","text":{"body":"open today?"}}]}}]}]}`, waPhoneID, waUser, waUser, now)
	for range 2 {
		if st, b := g.metaWebhook(t, "whatsapp", "wa", text); st != 200 {
			t.Fatalf("webhook: %d %s", st, b)
		}
	}
	status := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},"statuses":[{"id":"wamid.OUT1","status":"read","timestamp":"%d","recipient_id":%q}]}}]}]}`, waPhoneID, now, waUser)
	if st, b := g.metaWebhook(t, "whatsapp", "wa", status); st != 200 {
		t.Fatalf("status webhook: %d %s", st, b)
	}
	events := rec.waitFor(2)
	if events[0].ResponsePath != waPhoneID+"/c/"+waUser || events[0].Sender.Name != "Kerry" || events[0].Text != "open today?" {
		t.Fatalf("text event %+v", events[0])
	}
	if events[1].Type != normalize.TypeStatus || events[1].NativeID != "wamid.OUT1" {
		t.Fatalf("status event %+v", events[1])
	}
	waitCount(t, "the reply at the Cloud API", func() bool { return graph.Count() >= 1 })
	r := graph.Requests()[0]
	v := fastjson.MustParseBytes(r.Body)
	if r.Path != "/v25.0/"+waPhoneID+"/messages" || string(v.GetStringBytes("to")) != waUser ||
		string(v.GetStringBytes("interactive", "type")) != "list" || r.Status != 200 {
		t.Fatalf("Cloud API got %s %s → %d", r.Path, r.Body, r.Status)
	}
	if got := rec.count(); got != 2 {
		t.Fatalf("backend got %d events, want 2 (the retried text once)", got)
	}
}

// TestInstagramEndToEnd: a DM reaches the backend keyed by the IG account
// and the reply goes out through the Send API with that account's token.
func TestInstagramEndToEnd(t *testing.T) {
	g, rec, graph := startMetaChannels(t)
	ms := time.Now().UnixMilli()
	dm := fmt.Sprintf(`{"object":"instagram","entry":[{"id":%[1]q,"time":%[2]d,"messaging":[{"sender":{"id":"ig_user_1"},"recipient":{"id":%[1]q},"timestamp":%[2]d,"message":{"mid":"aWdfZAG1","text":"hi from IG"}}]}]}`, igAccount, ms)
	if st, b := g.metaWebhook(t, "instagram", "ig", dm); st != 200 {
		t.Fatalf("webhook: %d %s", st, b)
	}
	tampered := strings.Replace(dm, "hi from", "ho from", 1)
	if st, _ := post(t, g.base+"/webhooks/instagram/ig", []byte(tampered), map[string]string{"X-Hub-Signature-256": mustSign(testAppSecret, dm)}); st != 401 {
		t.Fatalf("tampered body: %d, want 401", st)
	}
	ev := rec.waitFor(1)[0]
	if ev.Channel != "instagram" || ev.ResponsePath != igAccount+"/c/ig_user_1" {
		t.Fatalf("event %+v", ev)
	}
	waitCount(t, "the reply at the Send API", func() bool { return graph.Count() >= 1 })
	r := graph.Requests()[0]
	if !strings.Contains(r.Query, "access_token=ig-token") || r.Status != 200 ||
		string(fastjson.GetBytes(r.Body, "message", "text")) != "echo: hi from IG" {
		t.Fatalf("Send API got %s?%s %s → %d", r.Path, r.Query, r.Body, r.Status)
	}
}
