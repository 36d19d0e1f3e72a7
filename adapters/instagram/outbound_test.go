package instagram

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/adapters/meta/metatest"
	"github.com/switchboard-gw/switchboard/bench/mockgraph"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

const (
	outAccount = testAccount
	outToken   = "test-ig-page-token"
	outIGSID   = "6512345678901234"
)

// outAdapter sends as the test account through base (client nil: the
// shared default client).
func outAdapter(base string, client adapters.Doer) *Adapter {
	return &Adapter{Connection: "ig", AppID: "1000000000001",
		Endpoint: meta.Endpoint{APIBase: base, Tokens: map[string]string{outAccount: outToken}, Client: client}}
}

// TestRenderGolden renders every testdata/outbound case and compares the
// path, exact body and degradations (or the error) with its golden file.
func TestRenderGolden(t *testing.T) {
	metatest.RenderGolden(t, outAdapter("https://graph.example/v25.0", nil).Render, metatest.SendAPICall)
}

// TestWireTypesMatchEncodingJSON: every rendered body decodes strictly into
// the shared wire types, and encoding/json writes them back byte for byte
// (like_heart's missing payload included).
func TestWireTypesMatchEncodingJSON(t *testing.T) {
	metatest.WireTypes(t, outAdapter("https://graph.example/v25.0", nil).Render)
}

// The text limit counts UTF-8 bytes, not characters.
func TestTextLimitBytes(t *testing.T) {
	a := outAdapter("https://graph.example/v25.0", nil)
	to := adapters.Recipient{BotID: outAccount, ChannelID: outIGSID}
	for _, tt := range []struct {
		text string
		ok   bool
	}{
		{strings.Repeat("x", MaxTextBytes), true},
		{strings.Repeat("x", MaxTextBytes+1), false},
		{strings.Repeat("é", MaxTextBytes/2), true},
		{strings.Repeat("é", MaxTextBytes/2) + "x", false},
		{strings.Repeat("👋", MaxTextBytes/4), true},
		{strings.Repeat("👋", MaxTextBytes/4+1), false}, // 251 characters
	} {
		_, _, _, err := a.Render(nil, to, &normalize.Reply{Text: tt.text})
		var re *adapters.RenderError
		if tt.ok != (err == nil) || !tt.ok && (!errors.As(err, &re) || re.Code != "text_too_long") {
			t.Errorf("%d bytes: err %v", len(tt.text), err)
		}
	}
}

func TestCheckWindow(t *testing.T) {
	a := testAdapter()
	r := &normalize.Reply{Text: "x"}
	if err := a.CheckWindow(time.Hour, true, r, false); err != nil {
		t.Errorf("inside the window: %v", err)
	}
	if err := a.CheckWindow(2*meta.Window, true, &normalize.Reply{Text: "x", Tag: meta.TagHumanAgent}, false); err != nil {
		t.Errorf("human agent: %v", err)
	}
	var re *adapters.RenderError
	err := a.CheckWindow(0, false, r, true)
	if !errors.As(err, &re) || re.Code != "outside_window" || strings.Contains(re.Msg, "one-time") {
		t.Errorf("an otn token opened Instagram's window or was offered: %v", err)
	}
	if err := a.CheckWindow(time.Hour, true, &normalize.Reply{Text: "x", Tag: "POST_PURCHASE_UPDATE"}, false); !errors.As(err, &re) || re.Code != "tag_deprecated" {
		t.Errorf("deprecated tag: %v", err)
	}
}

// outMock starts a mock Graph API serving the test account as a "page":
// Instagram's Send API is Messenger's /me/messages with the linked Page's
// token.
func outMock(t testing.TB) (*mockgraph.Server, *Adapter) {
	s, base, client := metatest.MockGraph(t, outAccount, outToken)
	return s, outAdapter(base, client)
}

// TestSendMock sends every form Instagram supports to the mock Graph API
// and checks the exact calls.
func TestSendMock(t *testing.T) {
	s, a := outMock(t)
	ctx := context.Background()
	to := adapters.Recipient{BotID: outAccount, ChannelID: outIGSID, Response: true}
	tests := []struct {
		name  string
		reply *normalize.Reply
		body  string
		attID bool
		deg   int
	}{
		{"text", &normalize.Reply{Text: "hello", QuickReplies: []normalize.QuickReply{{Title: "Hi"}}},
			`{"recipient":{"id":"6512345678901234"},"messaging_type":"RESPONSE","message":{"text":"hello","quick_replies":[{"content_type":"text","title":"Hi","payload":"Hi"}]}}`, false, 0},
		{"contact quick reply dropped", &normalize.Reply{Text: "mail?", QuickReplies: []normalize.QuickReply{{Title: "user_email"}, {Title: "No"}}},
			`{"recipient":{"id":"6512345678901234"},"messaging_type":"RESPONSE","message":{"text":"mail?","quick_replies":[{"content_type":"text","title":"No","payload":"No"}]}}`, false, 1},
		{"button template", &normalize.Reply{Text: "Next?", Buttons: []normalize.Button{{Title: "Agent"}, {Title: "Site", URL: "https://example.com"}}},
			`{"recipient":{"id":"6512345678901234"},"messaging_type":"RESPONSE","message":{"attachment":{"type":"template","payload":{"template_type":"button","text":"Next?","buttons":[{"type":"postback","title":"Agent","payload":"Agent"},{"type":"web_url","title":"Site","url":"https://example.com"}]}}}}`, false, 0},
		{"generic template", &normalize.Reply{Cards: []normalize.Card{{Title: "Shirt", ImageURL: "https://example.com/s.png"}}},
			`{"recipient":{"id":"6512345678901234"},"messaging_type":"RESPONSE","message":{"attachment":{"type":"template","payload":{"template_type":"generic","elements":[{"title":"Shirt","image_url":"https://example.com/s.png"}]}}}}`, false, 0},
		{"reusable image", &normalize.Reply{Attachment: &normalize.OutAttachment{Type: "image", URL: "https://example.com/a.png", Reusable: true}},
			`{"recipient":{"id":"6512345678901234"},"messaging_type":"RESPONSE","message":{"attachment":{"type":"image","payload":{"url":"https://example.com/a.png","is_reusable":true}}}}`, true, 0},
		{"like_heart", &normalize.Reply{Attachment: &normalize.OutAttachment{Type: "like_heart"}},
			`{"recipient":{"id":"6512345678901234"},"messaging_type":"RESPONSE","message":{"attachment":{"type":"like_heart"}}}`, false, 0},
		{"typing", &normalize.Reply{SenderAction: normalize.SenderActionTypingOn},
			`{"recipient":{"id":"6512345678901234"},"sender_action":"typing_on"}`, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Reset()
			sent, err := a.Send(ctx, to, tt.reply)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(sent.MessageID, "m_") || (sent.AttachmentID != "") != tt.attID || len(sent.Degraded) != tt.deg {
				t.Errorf("sent = %+v", sent)
			}
			if body := metatest.SentBody(t, s, outToken); string(body) != tt.body {
				t.Errorf("body %s\nwant %s", body, tt.body)
			}
		})
	}

	// What Instagram lacks is refused before any call.
	s.Reset()
	for _, r := range []*normalize.Reply{
		{Media: &normalize.Media{Type: "image", AttachmentID: "1"}},
		{OTNRequest: &normalize.OTNRequest{Title: "Notify me"}},
		{Attachment: &normalize.OutAttachment{Type: "file", URL: "https://example.com/a.pdf"}},
		{Text: "call", Buttons: []normalize.Button{{Title: "Call", Phone: "+16505551234"}}},
		{Text: strings.Repeat("€", 334)},
	} {
		var re *adapters.RenderError
		if _, err := a.Send(ctx, to, r); !errors.As(err, &re) {
			t.Errorf("%+v: err %v, want a RenderError", r, err)
		}
	}
	if s.Count() != 0 {
		t.Errorf("render errors reached the API: %d calls", s.Count())
	}
}

// Graph errors are classified by the shared meta.Classify; these are the
// ones an Instagram send meets most.
func TestSendMockErrors(t *testing.T) {
	s, a := outMock(t)
	ctx := context.Background()
	to := adapters.Recipient{BotID: outAccount, ChannelID: outIGSID, Response: true}
	reply := &normalize.Reply{Text: "hello"}
	tests := []struct {
		name  string
		setup func()
		class adapters.Class
		code  string
		wait  time.Duration
	}{
		{"outside window", func() { s.SetRecipientError(outIGSID, 10, 2018278) }, adapters.ClassRecipient, "outside_window", 0},
		{"unavailable", func() { s.SetRecipientError(outIGSID, 551, 0) }, adapters.ClassRecipient, "user_unavailable", 0},
		{"instagram usage limit", func() { s.SetThrottle(&mockgraph.Throttle{Code: 80002, RegainMinutes: 3}) }, adapters.ClassRateLimited, "rate_limited", 3 * time.Minute},
		{"5xx", func() { s.SetServerError(503) }, adapters.ClassTransient, "server_error", 0},
		{"token revoked", func() { a.Tokens[outAccount] = "revoked-token" }, adapters.ClassConfig, "bad_token", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Reset()
			defer func() { a.Tokens[outAccount] = outToken }()
			tt.setup()
			_, err := a.Send(ctx, to, reply)
			ae := adaptertest.APIError(t, err)
			if ae.Class != tt.class || ae.Code != tt.code || ae.RetryAfter != tt.wait {
				t.Errorf("got %v %q %v (%s), want %v %q %v", ae.Class, ae.Code, ae.RetryAfter, ae.ChannelCode, tt.class, tt.code, tt.wait)
			}
			if strings.Contains(err.Error(), outToken) || strings.Contains(err.Error(), "revoked-token") {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

func TestHandoverMock(t *testing.T) {
	_, a := outMock(t)
	ctx := context.Background()
	to := adapters.Recipient{BotID: outAccount, ChannelID: outIGSID}
	for _, st := range []struct{ action, owner string }{
		{"take", "1000000000001"},
		{"inbox", meta.PageInboxAppID},
		{"release", ""},
	} {
		if _, err := a.Handover(ctx, to, st.action, "", "meta"); err != nil {
			t.Fatalf("%s: %v", st.action, err)
		}
		owner, err := a.Handover(ctx, to, "owner", "", "")
		if err != nil || owner != st.owner {
			t.Errorf("after %s: owner %q %v, want %q", st.action, owner, err, st.owner)
		}
	}
	var re *adapters.RenderError
	if _, err := a.Handover(ctx, adapters.Recipient{BotID: outAccount}, "take", "", ""); !errors.As(err, &re) || !strings.Contains(re.Msg, "IGSID") {
		t.Errorf("missing IGSID: %v", err)
	}
}

// TestNewSendBatch: send_batch gives the endpoint a Batcher, and two
// replies sent at once, close behind another, go out in one batch request.
func TestNewSendBatch(t *testing.T) {
	if a := New("ig", &config.Instagram{}); a.Batch != nil {
		t.Errorf("no send_batch, Batch %+v", a.Batch)
	}
	s, base, client := metatest.MockGraph(t, outAccount, outToken)
	a := New("ig", &config.Instagram{Meta: config.Meta{APIBase: base},
		SendBatching: config.SendBatching{SendBatch: 2, SendBatchWait: time.Minute},
		Accounts:     []config.Account{{ID: outAccount, AccessToken: outToken}}})
	a.Client = client
	if a.Batch == nil || a.Batch.Max != 2 {
		t.Fatalf("send_batch 2: Batch %+v", a.Batch)
	}
	// The first reply finds the stream quiet and goes alone; the two right
	// behind it are close together, and batch.
	if _, err := a.Send(context.Background(), adapters.Recipient{BotID: outAccount, ChannelID: "1789", Response: true}, &normalize.Reply{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if s.Batches() != 0 || s.Count() != 1 {
		t.Fatalf("after a quiet spell: %d batches, %d calls; want one plain call", s.Batches(), s.Count())
	}
	s.Reset()
	errs := make(chan error, 2)
	for _, p := range []string{"1790", "1791"} {
		go func() {
			_, err := a.Send(context.Background(), adapters.Recipient{BotID: outAccount, ChannelID: p, Response: true}, &normalize.Reply{Text: "hi"})
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if s.Batches() != 1 || s.Count() != 2 {
		t.Errorf("%d batches, %d calls", s.Batches(), s.Count())
	}
}
