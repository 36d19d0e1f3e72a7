package app

import (
	"fmt"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/bench/mocktelegram"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

const tgSecret = "tg-secret-token"

func startTelegram(t *testing.T, rec *recorder) (*gateway, *mocktelegram.Server) {
	t.Helper()
	tg, err := mocktelegram.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	cfg := testConfig(t, rec.url, "")
	cfg.Connections = append(cfg.Connections, config.Connection{
		Name: "tg", Channel: config.ChannelTelegram,
		Telegram: &config.Telegram{Token: mocktelegram.DefaultToken, SecretToken: tgSecret, APIBase: tg.URL()},
	})
	cfg.SetDefaults()
	return startGateway(t, cfg), tg
}

func tgUpdate(updateID int64, chatID, fromID, text string) string {
	return fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":%d,"chat":{"id":%s,"type":"supergroup","title":"Ops"},"from":{"id":%s,"is_bot":false,"first_name":"Ada","username":"ada","language_code":"en"},"text":%q}}`,
		updateID, updateID, time.Now().Unix(), chatID, fromID, text)
}

func (g *gateway) tgWebhook(t *testing.T, body string) (int, []byte) {
	return post(t, g.base+"/webhooks/telegram/tg", []byte(body), map[string]string{"X-Telegram-Bot-Api-Secret-Token": tgSecret})
}

// TestTelegramEndToEnd sends a group message: the backend sees the group
// as the response path and the user as sender, with 64-bit ids exact; a
// replayed update is dropped; the reply reaches the group; a 429 with
// retry_after is waited out and the reply delivered once.
func TestTelegramEndToEnd(t *testing.T) {
	rec := newRecorder(t)
	rec.reply = func(ev normalize.Event) []normalize.Reply { return []normalize.Reply{{Text: "echo: " + ev.Text}} }
	g, tg := startTelegram(t, rec)
	const chat, user = "-1001234567890123", "9007199254740993"
	body := tgUpdate(900000001, chat, user, "/start@SwitchboardBot hello")
	if st, b := post(t, g.base+"/webhooks/telegram/tg", []byte(body), map[string]string{"X-Telegram-Bot-Api-Secret-Token": "wrong"}); st != 401 {
		t.Fatalf("wrong secret token: %d %s", st, b)
	}
	// The group's flood limit lets one message through every 2 s: the
	// second reply meets a 429 with retry_after and must wait it out.
	tg.SetFlood(mocktelegram.Flood{GroupEvery: 2 * time.Second, GroupBurst: 1})
	if st, b := g.tgWebhook(t, body); st != 200 {
		t.Fatalf("webhook: %d %s", st, b)
	}
	if st, b := g.tgWebhook(t, body); st != 200 || string(b) != `{"accepted":0,"duplicates":1}` {
		t.Fatalf("replayed update: %d %s", st, b)
	}
	if st, b := g.tgWebhook(t, tgUpdate(900000002, chat, user, "second")); st != 200 {
		t.Fatalf("webhook: %d %s", st, b)
	}
	events := rec.waitFor(2)
	ev := events[0]
	if ev.ResponsePath != mocktelegram.DefaultBotID+"/c/"+chat || ev.Sender.ID != user || ev.Command != "start" || ev.Args != "hello" {
		t.Fatalf("event %+v", ev)
	}
	waitCount(t, "both replies delivered", func() bool { return len(tg.Sent(chat)) >= 2 })
	var texts []string
	var limitedAt time.Time
	for _, r := range tg.Requests() {
		if r.ChatID != chat {
			continue
		}
		switch r.Status {
		case 200:
			texts = append(texts, string(fastjson.GetBytes(r.Body, "text")))
			if !limitedAt.IsZero() && r.Time.Sub(limitedAt) < time.Second {
				t.Fatalf("resent %s after the 429, before its retry_after", r.Time.Sub(limitedAt))
			}
		case 429:
			limitedAt = r.Time
		}
	}
	if limitedAt.IsZero() {
		t.Fatal("the flood limit was never hit: the test proves nothing")
	}
	if fmt.Sprint(texts) != "[echo: /start@SwitchboardBot hello echo: second]" {
		t.Fatalf("delivered %q, want each reply once, in order", texts)
	}
}

// TestTelegramBlockedUsersDoNotOpenBreaker sends to users who blocked the
// bot: each fails for good, and the bot keeps sending to others.
func TestTelegramBlockedUsersDoNotOpenBreaker(t *testing.T) {
	rec := newRecorder(t)
	g, tg := startTelegram(t, rec)
	for i := range 10 {
		chat := fmt.Sprint(500000 + i)
		tg.Block(mocktelegram.DefaultBotID, chat)
		g.tgWebhook(t, tgUpdate(int64(100+i), chat, chat, "hi"))
	}
	g.tgWebhook(t, tgUpdate(200, "600000", "600000", "hi"))
	rec.waitFor(11)
	for i := range 10 {
		st, a, _ := g.send(t, mocktelegram.DefaultBotID+"/c/"+fmt.Sprint(500000+i), normalize.Reply{Text: "x"})
		if st != 200 || a.Results[0].Error == nil || a.Results[0].Error.Code != "blocked" || a.Results[0].Error.Retryable {
			t.Fatalf("send to blocked user %d: %d %+v", i, st, a)
		}
	}
	if st, a, _ := g.send(t, mocktelegram.DefaultBotID+"/c/600000", normalize.Reply{Text: "still here"}); st != 200 || a.Results[0].Error != nil {
		t.Fatalf("after the blocked burst: %d %+v", st, a)
	}
}
