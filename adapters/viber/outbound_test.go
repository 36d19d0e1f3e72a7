package viber

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/bench/mockviber"
	"github.com/switchboard-gw/switchboard/normalize"
)

const outReceiver = "r/Zx0w9Q+Pu1tKd8Vm2sLg=="

// outCase is testdata/outbound/<case>.json: the shared case, and the size
// of the media to send.
type outCase struct {
	adaptertest.OutCase
	MediaSize int64 `json:"media_size"`
}

// readOutCase reads testdata/outbound/<name>.json strictly.
func readOutCase(t testing.TB, name string) *outCase {
	t.Helper()
	return adaptertest.ReadOutCaseAs[outCase](t, name)
}

// outGolden is testdata/outbound/<case>.golden.json. NoCall marks a reply
// rendered to nothing (Send makes no call).
type outGolden struct {
	Body     json.RawMessage          `json:"body,omitempty"`
	NoCall   bool                     `json:"no_call,omitempty"`
	Degraded []string                 `json:"degraded,omitempty"`
	Error    *adaptertest.GoldenError `json:"error,omitempty"`
}

func outAdapter(base string) *Adapter {
	return &Adapter{Connection: "vb", BotID: testBotID, AuthToken: []byte(testToken), APIBase: base}
}

// TestRenderGolden renders every testdata/outbound case and compares the
// exact body and degradations (or the error) with its golden file.
func TestRenderGolden(t *testing.T) {
	a := outAdapter("https://chatapi.example/pa")
	adaptertest.OutGolden(t, func(t *testing.T, name string) any {
		c := readOutCase(t, name)
		kept := adaptertest.KeepsReply(t, &c.Reply)
		body, degraded, err := a.Render([]byte("prefix:"), c.To(), &c.Reply, c.MediaSize)
		if !bytes.HasPrefix(body, []byte("prefix:")) {
			t.Fatalf("Render dropped dst: %q", body)
		}
		body = body[len("prefix:"):]
		kept()
		var got outGolden
		switch {
		case err != nil:
			var re *adapters.RenderError
			if !errors.As(err, &re) {
				t.Fatalf("error %T %v, want *adapters.RenderError", err, err)
			}
			if len(body) != 0 {
				t.Errorf("body %q appended on error", body)
			}
			got.Error = &adaptertest.GoldenError{Code: re.Code, Message: re.Msg}
		case len(body) == 0:
			got.NoCall = true
		default:
			if !json.Valid(body) {
				t.Fatalf("invalid JSON: %s", body)
			}
			if len(body) > MaxBodyBytes {
				t.Errorf("body of %d bytes", len(body))
			}
			got.Body = body
		}
		got.Degraded = degraded
		return got
	})
}

// TestWireTypesMatchEncodingJSON checks that the append encoders write what
// encoding/json writes for the same structs, so the tags describe the wire
// format, and that rendered bodies decode strictly into the wire types.
func TestWireTypesMatchEncodingJSON(t *testing.T) {
	a := outAdapter("https://chatapi.example/pa")
	for _, name := range adaptertest.OutCases(t) {
		c := readOutCase(t, name)
		rs := renderers.Get().(*renderer)
		req, _, err := rs.build(a, c.To(), &c.Reply, c.MediaSize)
		if err == nil && req != nil {
			want, merr := json.Marshal(req)
			if merr != nil {
				t.Fatal(merr)
			}
			if got := req.appendJSON(nil); !bytes.Equal(got, want) {
				t.Errorf("%s:\nappendJSON    %s\nencoding/json %s", name, got, want)
			}
		}
		rs.release()
		if len(c.Reply.ChannelData) > 0 {
			continue
		}
		body, _, err := a.Render(nil, c.To(), &c.Reply, c.MediaSize)
		if err != nil || len(body) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		var w SendMessageRequest
		if err := dec.Decode(&w); err != nil {
			t.Errorf("%s: %v\n%s", name, err, body)
		}
	}
	// Members no golden case fills.
	txt := ""
	full := SendMessageRequest{Receiver: "a", Sender: Sender{Name: "B"}, Type: "contact", Text: &txt,
		Contact: &Contact{Name: "n", PhoneNumber: "+1", Avatar: "u"}, Location: &Location{Lat: 1e-7, Lon: -1e21},
		StickerID: 46105, Duration: 3, Thumbnail: "t", Keyboard: &Keyboard{Type: "keyboard", DefaultHeight: true},
		RichMedia: &RichMedia{Type: "rich_media", BgColor: "#fff", Buttons: []Button{{ActionBody: "x", Silent: true, Image: "i"}}}}
	want, _ := json.Marshal(&full)
	if got := full.appendJSON(nil); !bytes.Equal(got, want) {
		t.Errorf("full:\nappendJSON    %s\nencoding/json %s", got, want)
	}
}

// Render keeps to Viber's card grid: every group of a carousel is exactly
// 6 columns by 7 rows, so no card's cells spill into the next.
func TestRichMediaGrid(t *testing.T) {
	a := outAdapter("https://chatapi.example/pa")
	for _, name := range []string{"cards", "cards_7", "cards_escape_and_truncate", "cards_with_keyboard"} {
		c := readOutCase(t, name)
		body, _, err := a.Render(nil, c.To(), &c.Reply, 0)
		if err != nil {
			t.Fatal(err)
		}
		var req SendMessageRequest
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatal(err)
		}
		rm := req.RichMedia
		if rm == nil || req.MinAPIVersion < 2 {
			t.Fatalf("%s: no rich media or min_api_version %d", name, req.MinAPIVersion)
		}
		cells := 0
		for _, b := range rm.Buttons {
			if b.Columns != rm.ButtonsGroupColumns {
				t.Errorf("%s: a cell of %d columns", name, b.Columns)
			}
			cells += b.Rows
		}
		if cells%rm.ButtonsGroupRows != 0 || cells/rm.ButtonsGroupRows != min(len(c.Reply.Cards), MaxCards) {
			t.Errorf("%s: %d rows for %d cards of %d rows", name, cells, len(c.Reply.Cards), rm.ButtonsGroupRows)
		}
	}
}

func TestTextLimit(t *testing.T) {
	a := outAdapter("https://chatapi.example/pa")
	to := adapters.Recipient{ChannelID: outReceiver}
	if _, _, err := a.Render(nil, to, &normalize.Reply{Text: strings.Repeat("é", MaxTextLen)}, 0); err != nil {
		t.Errorf("7000 characters refused: %v", err)
	}
	_, _, err := a.Render(nil, to, &normalize.Reply{Text: strings.Repeat("é", MaxTextLen+1)}, 0)
	var re *adapters.RenderError
	if !errors.As(err, &re) || re.Code != "text_too_long" {
		t.Errorf("7001 characters: %v", err)
	}
	// Buttons with long payloads can pass the 30 KB request cap.
	qrs := make([]normalize.QuickReply, MaxKeyboard)
	for i := range qrs {
		qrs[i] = normalize.QuickReply{Title: "t", Payload: strings.Repeat("p", 2000)}
	}
	if _, _, err := a.Render(nil, to, &normalize.Reply{Text: "x", QuickReplies: qrs}, 0); !errors.As(err, &re) || re.Code != "request_too_large" {
		t.Errorf("oversized request: %v", err)
	}
}

func TestSenderName(t *testing.T) {
	a := outAdapter("https://chatapi.example/pa")
	a.SenderName = "A support desk name far beyond twenty-eight"
	a.SenderAvatar = "https://cdn.example.com/a.jpg"
	body, _, err := a.Render(nil, adapters.Recipient{ChannelID: "x"}, &normalize.Reply{Text: "hi"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var req SendMessageRequest
	json.Unmarshal(body, &req) //nolint:errcheck
	if n := len([]rune(req.Sender.Name)); n != MaxSenderName || req.Sender.Avatar != a.SenderAvatar {
		t.Errorf("sender %+v (%d characters)", req.Sender, n)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name       string
		http       int
		body       string
		retryAfter string
		token      string
		class      adapters.Class
		code       string
		channel    string
		wait       time.Duration
	}{
		{"ok", 200, `{"status":0,"status_message":"ok","message_token":5741311803571721087,"chat_hostname":"SN-CHAT-05_"}`, "", "5741311803571721087", 0, "", "", 0},
		{"ok 2^53+1", 200, `{"status":0,"message_token":9007199254740993}`, "", "9007199254740993", 0, "", "", 0},
		{"ok token string", 200, `{"status":0,"message_token":"912661846655238145"}`, "", "912661846655238145", 0, "", "", 0},
		{"ok no token", 200, `{"status":0}`, "", "", 0, "", "", 0},
		{"invalid url", 200, `{"status":1,"status_message":"invalidUrl"}`, "", "", adapters.ClassConfig, "invalid_url", "1", 0},
		{"bad token", 200, `{"status":2,"status_message":"invalidAuthToken"}`, "", "", adapters.ClassConfig, "bad_token", "2", 0},
		{"bad data", 200, `{"status":3,"status_message":"badData"}`, "", "", adapters.ClassRequest, "bad_data", "3", 0},
		{"missing data", 200, `{"status":4}`, "", "", adapters.ClassRequest, "missing_data", "4", 0},
		{"not registered", 200, `{"status":5}`, "", "", adapters.ClassRecipient, "receiver_not_registered", "5", 0},
		{"not subscribed", 200, `{"status":6,"status_message":"notSubscribed"}`, "", "", adapters.ClassRecipient, "not_subscribed", "6", 0},
		{"blocked", 200, `{"status":7}`, "", "", adapters.ClassConfig, "account_blocked", "7", 0},
		{"not found", 200, `{"status":8}`, "", "", adapters.ClassConfig, "account_not_found", "8", 0},
		{"suspended", 200, `{"status":9}`, "", "", adapters.ClassConfig, "account_suspended", "9", 0},
		{"webhook not set", 200, `{"status":10}`, "", "", adapters.ClassConfig, "webhook_not_set", "10", 0},
		{"no device", 200, `{"status":11}`, "", "", adapters.ClassRecipient, "no_suitable_device", "11", 0},
		{"too many", 200, `{"status":12,"status_message":"tooManyRequests"}`, "", "", adapters.ClassRateLimited, "rate_limited", "12", RateLimitRetryAfter},
		{"api version", 200, `{"status":13}`, "", "", adapters.ClassRecipient, "api_version_not_supported", "13", 0},
		{"incompatible", 200, `{"status":14}`, "", "", adapters.ClassRequest, "incompatible_with_version", "14", 0},
		{"not authorized", 200, `{"status":15}`, "", "", adapters.ClassConfig, "account_not_authorized", "15", 0},
		{"broadcast", 200, `{"status":20}`, "", "", adapters.ClassRequest, "broadcast_not_allowed", "20", 0},
		{"no balance", 200, `{"status":24}`, "", "", adapters.ClassConfig, "no_balance", "24", 0},
		{"general error", 200, `{"status":25,"status_message":"generalError"}`, "", "", adapters.ClassTransient, "viber_error", "25", 0},
		{"negative status", 200, `{"status":-1}`, "", "", adapters.ClassTransient, "viber_error", "-1", 0},
		{"502 html", 502, `<html>bad gateway</html>`, "", "", adapters.ClassTransient, "server_error", "", 0},
		{"500 with status", 500, `{"status":2}`, "", "", adapters.ClassTransient, "server_error", "", 0},
		{"408", 408, ``, "", "", adapters.ClassTransient, "server_error", "", 0},
		{"429", 429, ``, "7", "", adapters.ClassRateLimited, "rate_limited", "", 7 * time.Second},
		{"429 no header", 429, ``, "", "", adapters.ClassRateLimited, "rate_limited", "", RateLimitRetryAfter},
		{"404", 404, `not found`, "", "", adapters.ClassConfig, "bad_endpoint", "", 0},
		{"400 with status", 400, `{"status":3}`, "", "", adapters.ClassRequest, "bad_data", "3", 0},
		{"400 bare", 400, ``, "", "", adapters.ClassRequest, "http_error", "", 0},
		{"400 status 0", 400, `{"status":0}`, "", "", adapters.ClassRequest, "http_error", "", 0},
		{"200 not JSON", 200, `ok`, "", "", adapters.ClassTransient, "bad_response", "", 0},
		{"200 no status", 200, `{"message_token":1}`, "", "", adapters.ClassTransient, "bad_response", "", 0},
		{"200 status string", 200, `{"status":"0"}`, "", "", adapters.ClassTransient, "bad_response", "", 0},
		{"200 status float", 200, `{"status":0.5}`, "", "", adapters.ClassTransient, "bad_response", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, ae := Classify(tt.http, []byte(tt.body), []byte(tt.retryAfter))
			if tt.class == 0 {
				if ae != nil || tok != tt.token {
					t.Fatalf("got %q %v, want %q", tok, ae, tt.token)
				}
				return
			}
			if ae == nil {
				t.Fatalf("success %q, want %v", tok, tt.class)
			}
			if ae.Class != tt.class || ae.Code != tt.code || ae.ChannelCode != tt.channel || ae.RetryAfter != tt.wait || ae.HTTPStatus != tt.http {
				t.Errorf("got %v %q %q wait %v http %d", ae.Class, ae.Code, ae.ChannelCode, ae.RetryAfter, ae.HTTPStatus)
			}
			if ae.Message == "" {
				t.Error("empty message")
			}
		})
	}
}

// outMock starts the mock Viber API and an adapter pointed at it.
func outMock(t testing.TB) (*mockviber.Server, *Adapter) {
	t.Helper()
	s, err := mockviber.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	a := outAdapter(s.URL())
	a.AuthToken = []byte(s.Token())
	a.Client = &fasthttp.Client{ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	return s, a
}

func TestSendMock(t *testing.T) {
	s, a := outMock(t)
	ctx := context.Background()
	to := adapters.Recipient{BotID: testBotID, ChannelID: outReceiver, Response: true}

	sent, err := a.Send(ctx, to, &normalize.Reply{Text: "hello", QuickReplies: []normalize.QuickReply{{Title: "Hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	if sent.MessageID != "5741311803571721087" {
		t.Errorf("message id %q, want the exact token", sent.MessageID)
	}
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Path != "/pa/send_message" || r.Receiver != outReceiver || r.Type != "text" || r.Status != 0 {
		t.Errorf("request %+v", r)
	}
	want := `{"receiver":"r/Zx0w9Q+Pu1tKd8Vm2sLg==","min_api_version":1,"sender":{"name":"Bot"},"type":"text","text":"hello",` +
		`"keyboard":{"Type":"keyboard","Buttons":[{"Columns":6,"Rows":1,"ActionType":"reply","ActionBody":"Hi","Text":"Hi"}]}}`
	if string(r.Body) != want {
		t.Errorf("body %s\nwant %s", r.Body, want)
	}

	// Every form the mock knows is accepted.
	for _, name := range adaptertest.OutCases(t) {
		c := readOutCase(t, name)
		if c.To().ChannelID == "" {
			continue
		}
		if _, _, err := a.Render(nil, c.To(), &c.Reply, c.MediaSize); err != nil {
			continue
		}
		if c.Reply.Attachment != nil && c.Reply.Attachment.Type != "image" && len(c.Reply.ChannelData) == 0 {
			continue // needs a real size: TestSendMediaSize
		}
		if _, err := a.Send(ctx, c.To(), &c.Reply); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	// A sender action alone makes no call.
	n := s.Count()
	sent, err = a.Send(ctx, to, &normalize.Reply{SenderAction: normalize.SenderActionTypingOn})
	if err != nil || sent.MessageID != "" || len(sent.Degraded) != 1 || s.Count() != n {
		t.Errorf("sender action: %+v %v, %d calls", sent, err, s.Count()-n)
	}
	// A render error reaches no API.
	if _, err := a.Send(ctx, to, &normalize.Reply{Text: strings.Repeat("x", MaxTextLen+1)}); err == nil || s.Count() != n {
		t.Errorf("render error: %v, %d calls", err, s.Count()-n)
	}
}

// A video's size comes from a HEAD request (default) or SizeOf.
func TestSendMediaSize(t *testing.T) {
	s, a := outMock(t)
	ctx := context.Background()
	to := adapters.Recipient{ChannelID: outReceiver}
	video := &normalize.Reply{Attachment: &normalize.OutAttachment{Type: "video", URL: s.MediaURL("clip.mp4", 1048576)}}
	sent, err := a.Send(ctx, to, video)
	if err != nil || len(sent.Degraded) != 0 {
		t.Fatalf("video: %+v %v", sent, err)
	}
	last := s.Requests()[len(s.Requests())-1]
	if last.Type != "video" || !bytes.Contains(last.Body, []byte(`"size":1048576`)) {
		t.Errorf("video body %s", last.Body)
	}
	file := &normalize.Reply{Attachment: &normalize.OutAttachment{Type: "file", URL: s.MediaURL("report.pdf", 2048)}}
	if _, err := a.Send(ctx, to, file); err != nil {
		t.Fatal(err)
	}
	last = s.Requests()[len(s.Requests())-1]
	if !bytes.Contains(last.Body, []byte(`"size":2048,"file_name":"report.pdf"`)) {
		t.Errorf("file body %s", last.Body)
	}
	// Too large for Viber: refused before the send.
	n := s.Count()
	big := &normalize.Reply{Attachment: &normalize.OutAttachment{Type: "video", URL: s.MediaURL("big.mp4", MaxVideoBytes+1)}}
	if _, err := a.Send(ctx, to, big); err == nil || s.Count() != n+1 { // the HEAD only
		t.Errorf("oversized video: %v, %d calls", err, s.Count()-n)
	}
	// channel_data size wins: no probe.
	n = s.Count()
	withSize := &normalize.Reply{Attachment: &normalize.OutAttachment{Type: "video", URL: "https://cdn.example.com/v.mp4"}, ChannelData: json.RawMessage(`{"size":77}`)}
	if _, err := a.Send(ctx, to, withSize); err != nil || s.Count() != n+1 {
		t.Errorf("channel_data size: %v, %d calls", err, s.Count()-n)
	}
	// SizeOf replaces the probe; unknown size goes out without and says so.
	a.SizeOf = func(context.Context, string) (int64, error) { return 0, errors.New("no") }
	sent, err = a.Send(ctx, to, video)
	if ae := adaptertest.APIError(t, err); ae.Class != adapters.ClassRequest || ae.ChannelCode != "4" || len(sent.Degraded) != 1 {
		t.Errorf("unknown size: %+v %v", sent, err)
	}
}

func TestSendMockErrors(t *testing.T) {
	s, a := outMock(t)
	ctx := context.Background()
	to := adapters.Recipient{BotID: testBotID, ChannelID: outReceiver, Response: true}
	reply := &normalize.Reply{Text: "hello"}
	tests := []struct {
		name    string
		setup   func()
		class   adapters.Class
		code    string
		channel string
		wait    time.Duration
	}{
		{"not subscribed", func() { s.Unsubscribe(outReceiver) }, adapters.ClassRecipient, "not_subscribed", "6", 0},
		{"not registered", func() { s.SetReceiverStatus(outReceiver, 5) }, adapters.ClassRecipient, "receiver_not_registered", "5", 0},
		{"bad token", func() { s.SetToken("rotated-token") }, adapters.ClassConfig, "bad_token", "2", 0},
		{"503", func() { s.FailNext(1, 503) }, adapters.ClassTransient, "server_error", "", 0},
		{"500", func() { s.FailNext(1, 500) }, adapters.ClassTransient, "server_error", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Reset()
			s.SetToken(string(a.AuthToken))
			tt.setup()
			_, err := a.Send(ctx, to, reply)
			ae := adaptertest.APIError(t, err)
			if ae.Class != tt.class || ae.Code != tt.code || ae.ChannelCode != tt.channel || ae.RetryAfter != tt.wait {
				t.Errorf("got %v %q %q %v, want %v %q %q", ae.Class, ae.Code, ae.ChannelCode, ae.RetryAfter, tt.class, tt.code, tt.channel)
			}
			if strings.Contains(err.Error(), string(a.AuthToken)) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
	s.SetToken(string(a.AuthToken))

	t.Run("too many requests", func(t *testing.T) {
		s.Reset()
		s.SetRateLimit(2)
		defer s.SetRateLimit(0)
		limited := 0
		for range 6 {
			if _, err := a.Send(ctx, to, reply); err != nil {
				ae := adaptertest.APIError(t, err)
				if ae.Class != adapters.ClassRateLimited || ae.ChannelCode != "12" || ae.RetryAfter != RateLimitRetryAfter {
					t.Errorf("got %v %q", ae.Class, ae.ChannelCode)
				}
				limited++
			}
		}
		if limited < 3 {
			t.Errorf("%d of 6 limited at 2/s", limited)
		}
	})
	t.Run("recovers", func(t *testing.T) {
		s.Reset()
		s.FailNext(1, 502)
		if _, err := a.Send(ctx, to, reply); adaptertest.APIError(t, err).Class != adapters.ClassTransient {
			t.Error(err)
		}
		if sent, err := a.Send(ctx, to, reply); err != nil || sent.MessageID == "" {
			t.Errorf("after the failure: %+v %v", sent, err)
		}
	})
}

func TestSendNetworkErrors(t *testing.T) {
	s, a := outMock(t)
	closed := outAdapter("http://127.0.0.1:1/pa")
	closed.Client = &fasthttp.Client{ReadTimeout: time.Second, WriteTimeout: time.Second}
	adaptertest.NetworkErrors(t, a, closed, adapters.Recipient{ChannelID: outReceiver}, s.SetLatency, testToken)
}

// TestSendDefaultClient covers a nil Client.
func TestSendDefaultClient(t *testing.T) {
	_, a := outMock(t)
	a.Client = nil
	sent, err := a.Send(context.Background(), adapters.Recipient{ChannelID: outReceiver}, &normalize.Reply{Text: "x"})
	if err != nil || sent.MessageID == "" {
		t.Errorf("%+v %v", sent, err)
	}
}

func TestSendPlainDoer(t *testing.T) {
	_, a := outMock(t)
	a.Client = adaptertest.PlainDoer{Client: &fasthttp.Client{}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.Send(ctx, adapters.Recipient{ChannelID: outReceiver}, &normalize.Reply{Text: "x"}); err != nil {
		t.Error(err)
	}
}

func TestTruncateAndFileName(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 20, "short"},
		{"Exactly twenty chars!", 20, "Exactly twenty char…"},
		{"ééééééééééééééééééééé", 20, "ééééééééééééééééééé…"},
	} {
		if got, _ := adapters.Truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q) = %q", tt.in, got)
		}
	}
	long := "https://x.example/" + strings.Repeat("a", 300) + ".pdf"
	if got := fileName(long); len([]rune(got)) != MaxFileName || !strings.HasSuffix(got, ".pdf") {
		t.Errorf("long file name %q", got)
	}
	if got := fileName("https://x.example/a%20b.pdf?x=1#f"); got != "a b.pdf" {
		t.Errorf("file name %q", got)
	}
}
