package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/adapters/meta/metatest"
	"github.com/switchboard-gw/switchboard/bench/mockgraph"
	"github.com/switchboard-gw/switchboard/normalize"
)

// TestRenderGolden renders every outbound case and compares path, body,
// degradations and error with its golden file. A reply that needs no call
// has neither path nor body, and says why in degraded.
func TestRenderGolden(t *testing.T) {
	metatest.RenderGolden(t, newTestAdapter().Render, func(t *testing.T, body []byte, path string, degraded []string) {
		switch {
		case len(body) == 0:
			if path != "" || len(degraded) == 0 {
				t.Errorf("no call, but path %q and degraded %v", path, degraded)
			}
		case path != "/"+phoneID+"/messages":
			t.Fatalf("path %q body %s", path, body)
		}
	})
}

// TestRenderWireTypes decodes every body rendered without channel_data
// strictly into SendRequest (types.go names everything Render writes) and
// checks that encoding it again gives the same bytes.
func TestRenderWireTypes(t *testing.T) {
	a := newTestAdapter()
	for _, name := range adaptertest.OutCases(t) {
		c := adaptertest.ReadOutCase(t, name)
		if len(c.Reply.ChannelData) > 0 {
			continue
		}
		body, _, _, err := a.Render(nil, c.To(), &c.Reply)
		if err != nil || len(body) == 0 {
			continue
		}
		var req SendRequest
		adaptertest.RoundTrip(t, name, body, &req)
	}
}

// TestRenderDegradesAndRefuses pins the WhatsApp-specific rules of the
// brief: 4–10 options become a list, more is an error, buttons stay ≤ 3
// with titles ≤ 20.
func TestRenderDegradesAndRefuses(t *testing.T) {
	a := newTestAdapter()
	to := adapters.Recipient{BotID: phoneID, ChannelID: "16505551234"}
	for n := 1; n <= 12; n++ {
		r := &normalize.Reply{Text: "pick"}
		for i := range n {
			r.QuickReplies = append(r.QuickReplies, normalize.QuickReply{Title: string(rune('a'+i)) + strings.Repeat("t", 30)})
		}
		body, _, degraded, err := a.Render(nil, to, r)
		var req SendRequest
		switch {
		case n > MaxRows:
			var re *adapters.RenderError
			if !errors.As(err, &re) || re.Code != "too_many_options" {
				t.Errorf("%d options: %v", n, err)
			}
			continue
		case err != nil:
			t.Fatalf("%d options: %v", n, err)
		}
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatal(err)
		}
		in := req.Interactive
		switch {
		case n <= MaxButtons:
			if in.Type != "button" || len(in.Action.Buttons) != n || len([]rune(in.Action.Buttons[0].Reply.Title)) != MaxButtonTitle {
				t.Errorf("%d options: %s", n, body)
			}
		default:
			if in.Type != "list" || len(in.Action.Sections) != 1 || len(in.Action.Sections[0].Rows) != n ||
				len([]rune(in.Action.Sections[0].Rows[0].Title)) != MaxRowTitle || !strings.Contains(strings.Join(degraded, "\n"), "list of") {
				t.Errorf("%d options: %s %v", n, body, degraded)
			}
		}
	}
}

// TestClip pins how WhatsApp clips titles and ids (adapters.Truncate).
func TestClip(t *testing.T) {
	cases := map[string]string{ // input → clipped to 10 characters
		"ten chars!":         "ten chars!",
		"eleven chars":       "eleven ch…",
		"ünïcödé wörds here": "ünïcödé w…",
		"trailing  spaces":   "trailing…",
		"":                   "",
	}
	for in, want := range cases {
		got, cut := adapters.Truncate(in, 10)
		if got != want || cut != (in != want) {
			t.Errorf("Truncate(%q) = %q, %v; want %q", in, got, cut, want)
		}
	}
}

func TestRecipientForm(t *testing.T) {
	for id, phone := range map[string]bool{"16505551234": true, "+447700900123": true, "US.13491208655302741918": false, "+": false, "": false, "12a": false} {
		if isPhoneNumber(id) != phone {
			t.Errorf("isPhoneNumber(%q) = %v", id, !phone)
		}
	}
}

func TestIsTemplate(t *testing.T) {
	for raw, want := range map[string]bool{
		`{"type":"template","template":{"name":"x"}}`: true,
		`{"template":{"name":"x"}}`:                   true,
		`{"type":"text","template":{"name":"x"}}`:     false,
		`{"type":"template"}`:                         false,
		`{"template":"x"}`:                            false,
		`[1]`:                                         false,
		`{`:                                           false,
		``:                                            false,
	} {
		if got := IsTemplate(&normalize.Reply{ChannelData: json.RawMessage(raw)}); got != want {
			t.Errorf("IsTemplate(%s) = %v", raw, got)
		}
	}
}

func TestCheckWindow(t *testing.T) {
	a := newTestAdapter()
	text := &normalize.Reply{Text: "hi"}
	tagged := &normalize.Reply{Text: "hi", Tag: "HUMAN_AGENT"}
	tmpl := &normalize.Reply{ChannelData: json.RawMessage(`{"type":"template","template":{"name":"order_update","language":{"code":"en_US"}}}`)}
	read := &normalize.Reply{SenderAction: normalize.SenderActionMarkSeen, ChannelData: json.RawMessage(`{"message_id":"wamid.X"}`)}
	readWithText := &normalize.Reply{SenderAction: normalize.SenderActionMarkSeen, Text: "x"}
	tests := []struct {
		name  string
		since time.Duration
		known bool
		r     *normalize.Reply
		otn   bool
		ok    bool
	}{
		{"text inside", time.Hour, true, text, false, true},
		{"text at 24h", Window, true, text, false, true},
		{"text just outside", Window + time.Second, true, text, false, false},
		{"text never wrote", 0, false, text, false, false},
		{"tag does not open it", 48 * time.Hour, true, tagged, false, false},
		{"otn does not open it", 48 * time.Hour, true, text, true, false},
		{"template outside", 30 * 24 * time.Hour, true, tmpl, false, true},
		{"template never wrote", 0, false, tmpl, false, true},
		{"mark read outside", 48 * time.Hour, true, read, false, true},
		{"sender action with content outside", 48 * time.Hour, true, readWithText, false, false},
		{"buttons outside", 25 * time.Hour, true, &normalize.Reply{Text: "x", Buttons: []normalize.Button{{Title: "a"}}}, false, false},
	}
	for _, tt := range tests {
		err := a.CheckWindow(tt.since, tt.known, tt.r, tt.otn)
		var re *adapters.RenderError
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case !tt.ok && (!errors.As(err, &re) || re.Code != "outside_window"):
			t.Errorf("%s: %v, want outside_window", tt.name, err)
		}
	}
}

// ---- end to end against the mock Graph API ----

const wamidIn = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ001AA=="

func startMock(t testing.TB) (*mockgraph.Server, *Adapter) {
	t.Helper()
	s := mockgraph.New()
	s.AddPhoneNumber(phoneID, fakeToken)
	base, err := s.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	a := newTestAdapter()
	a.APIBase = base
	a.Client = &fasthttp.Client{ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	return s, a
}

func TestSendMock(t *testing.T) {
	s, a := startMock(t)
	ctx := context.Background()
	to := adapters.Recipient{BotID: phoneID, ChannelID: "16505551234", Response: true}

	sent, err := a.Send(ctx, to, &normalize.Reply{Text: "hello"})
	if err != nil || !strings.HasPrefix(sent.MessageID, "wamid.") {
		t.Fatalf("text: %+v %v", sent, err)
	}
	r := s.Requests()[0]
	if r.Method != "POST" || r.Path != "/v25.0/"+phoneID+"/messages" || r.Auth != "Bearer "+fakeToken || r.Query != "" {
		t.Errorf("request %s %s auth %q query %q", r.Method, r.Path, r.Auth, r.Query)
	}
	if want := `{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"text","text":{"body":"hello"}}`; string(r.Body) != want {
		t.Errorf("body %s\nwant %s", r.Body, want)
	}

	// Every golden form the mock accepts goes through it.
	for _, name := range adaptertest.OutCases(t) {
		c := adaptertest.ReadOutCase(t, name)
		if c.Recipient.BotID != phoneID {
			continue
		}
		body, _, _, err := a.Render(nil, c.To(), &c.Reply)
		if err != nil || len(body) == 0 {
			continue
		}
		sent, err := a.Send(ctx, c.To(), &c.Reply)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.Reply.SenderAction != "" {
			if sent.MessageID != "" {
				t.Errorf("%s: mark-as-read returned message id %q", name, sent.MessageID)
			}
		} else if !strings.HasPrefix(sent.MessageID, "wamid.") {
			t.Errorf("%s: message id %q", name, sent.MessageID)
		}
	}

	// Degradations come back with a successful send; no-call actions make
	// no call.
	n := s.Count()
	sent, err = a.Send(ctx, to, &normalize.Reply{Text: "pick", Buttons: []normalize.Button{{Title: "A"}, {Title: "B"}, {Title: "C"}, {Title: "D"}}})
	if err != nil || len(sent.Degraded) == 0 || sent.MessageID == "" {
		t.Errorf("list: %+v %v", sent, err)
	}
	sent, err = a.Send(ctx, to, &normalize.Reply{SenderAction: normalize.SenderActionTypingOn})
	if err != nil || len(sent.Degraded) != 1 || sent.MessageID != "" || s.Count() != n+1 {
		t.Errorf("typing without wamid: %+v %v, %d calls", sent, err, s.Count()-n)
	}
	sent, err = a.Send(ctx, to, &normalize.Reply{SenderAction: normalize.SenderActionTypingOn, ChannelData: json.RawMessage(`{"message_id":"` + wamidIn + `"}`)})
	if err != nil || sent.MessageID != "" || s.Count() != n+2 {
		t.Errorf("typing: %+v %v", sent, err)
	}
	if last := s.Requests()[s.Count()-1]; !bytes.Contains(last.Body, []byte(`"status":"read"`)) || !bytes.Contains(last.Body, []byte(`"typing_indicator":{"type":"text"}`)) {
		t.Errorf("typing body %s", last.Body)
	}
	if _, err := a.Send(ctx, to, &normalize.Reply{Text: "x", QuickReplies: make([]normalize.QuickReply, 11)}); err == nil || s.Count() != n+2 {
		t.Errorf("render error reached the API: %v", err)
	}
	// A BSUID goes as recipient.
	if _, err := a.Send(ctx, adapters.Recipient{BotID: phoneID, ChannelID: "US.13491208655302741918"}, &normalize.Reply{Text: "hi"}); err != nil {
		t.Errorf("BSUID: %v", err)
	}
	if last := s.Requests()[s.Count()-1]; !bytes.Contains(last.Body, []byte(`"recipient":"US.13491208655302741918"`)) || bytes.Contains(last.Body, []byte(`"to"`)) {
		t.Errorf("BSUID body %s", last.Body)
	}
}

// TestSendMockErrors classifies what the mock Graph API scripts for
// WhatsApp: recipient errors never trip the breaker, the pair rate waits
// for that recipient only, throughput for the whole number, a bad token
// alarms.
func TestSendMockErrors(t *testing.T) {
	s, a := startMock(t)
	ctx, hello := context.Background(), &normalize.Reply{Text: "hello"}
	to := adapters.Recipient{BotID: phoneID, ChannelID: "16505551234", Response: true}
	tests := []struct {
		name         string
		setup        func()
		to           adapters.Recipient
		class        adapters.Class
		code         string
		channelCode  string
		perRecipient bool
		wait         time.Duration
	}{
		{"re-engagement", func() { s.SetRecipientError("16505551234", 131047, 0) }, to, adapters.ClassRecipient, "reengagement_required", "131047", false, 0},
		{"undeliverable", func() { s.SetRecipientError("16505551234", 131026, 0) }, to, adapters.ClassRecipient, "undeliverable", "131026", false, 0},
		{"pair rate", func() { s.SetRecipientError("16505551234", 131056, 0) }, to, adapters.ClassRateLimited, "pair_rate_limited", "131056", true, 6 * time.Second},
		{"throughput", func() { s.SetThrottle(&mockgraph.Throttle{}) }, to, adapters.ClassRateLimited, "rate_limited", "130429", false, time.Second},
		{"bad token", func() { a.Tokens["200000000000099"] = "revoked"; s.AddPhoneNumber("200000000000099", "the-real-one") },
			adapters.Recipient{BotID: "200000000000099", ChannelID: "1"}, adapters.ClassConfig, "bad_token", "190", false, 0},
		{"server error", func() { s.SetServerError(503) }, to, adapters.ClassTransient, "server_error", "2", false, 0},
		{"bad answer", func() { s.FailNext(1, 200, `{"messaging_product":"whatsapp"}`) }, to, adapters.ClassTransient, "bad_response", "", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Reset()
			tt.setup()
			_, err := a.Send(ctx, tt.to, hello)
			ae := adaptertest.APIError(t, err)
			if ae.Class != tt.class || ae.Code != tt.code || ae.ChannelCode != tt.channelCode || ae.PerRecipient != tt.perRecipient || ae.RetryAfter != tt.wait {
				t.Errorf("got %v %q %q per-recipient %v wait %v", ae.Class, ae.Code, ae.ChannelCode, ae.PerRecipient, ae.RetryAfter)
			}
			if strings.Contains(err.Error(), fakeToken) || strings.Contains(err.Error(), "revoked") {
				t.Errorf("error leaks a token: %v", err)
			}
		})
	}

	t.Run("details in the message", func(t *testing.T) {
		s.Reset()
		s.SetRecipientError("16505551234", 131047, 0)
		_, err := a.Send(ctx, to, hello)
		if ae := adaptertest.APIError(t, err); !strings.Contains(ae.Message, "more than 24 hours") {
			t.Errorf("message %q lacks error_data.details", ae.Message)
		}
	})
	t.Run("pair rate of the mock", func(t *testing.T) {
		s.Reset()
		s.SetPairRate(6*time.Second, 1)
		var codes []string
		for range 3 {
			if _, err := a.Send(ctx, to, hello); err != nil {
				codes = append(codes, adaptertest.APIError(t, err).ChannelCode)
			} else {
				codes = append(codes, "ok")
			}
		}
		if !slices.Equal(codes, []string{"ok", "131056", "131056"}) {
			t.Errorf("codes %v", codes)
		}
		// The pair rate is per recipient: another one goes through.
		if _, err := a.Send(ctx, adapters.Recipient{BotID: phoneID, ChannelID: "447700900123"}, hello); err != nil {
			t.Errorf("other recipient: %v", err)
		}
	})
}

// TestSendNetwork covers calls that get no answer, and the clients Send
// may be given.
func TestSendNetwork(t *testing.T) {
	s, mock := startMock(t)
	to := adapters.Recipient{BotID: phoneID, ChannelID: "16505551234"}
	adapter := func(base string, c adapters.Doer) *Adapter {
		a := newTestAdapter()
		a.APIBase, a.Client = base, c
		return a
	}
	quick := &fasthttp.Client{ReadTimeout: time.Second, WriteTimeout: time.Second}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	short, stop := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer stop()
	long, stop2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop2()
	for _, tc := range []struct {
		name  string
		a     *Adapter
		ctx   context.Context
		slow  bool
		codes []string // acceptable APIError codes; none: success
	}{
		{"deadline passes", mock, short, true, []string{"timeout"}},
		{"cancelled before", mock, cancelled, false, []string{"canceled"}},
		{"connection refused", adapter("http://127.0.0.1:1/v25.0", quick), context.Background(), false, []string{"network", "timeout"}},
		{"default client", adapter(mock.APIBase, nil), context.Background(), false, nil},
		{"client without DoDeadline", adapter(mock.APIBase, adaptertest.PlainDoer{Client: quick}), long, false, nil},
	} {
		if tc.slow {
			s.SetLatency(300 * time.Millisecond)
		}
		sent, err := tc.a.Send(tc.ctx, to, &normalize.Reply{Text: "x"})
		s.SetLatency(0)
		if tc.codes == nil {
			if err != nil || sent.MessageID == "" {
				t.Errorf("%s: %+v %v", tc.name, sent, err)
			}
			continue
		}
		ae := adaptertest.APIError(t, err)
		if ae.Class != adapters.ClassTransient || !slices.Contains(tc.codes, ae.Code) || strings.Contains(err.Error(), fakeToken) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
