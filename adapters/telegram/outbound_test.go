package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/bench/mocktelegram"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

// outCase is testdata/outbound/<case>.json.
type outCase struct {
	Recipient struct {
		BotID     string `json:"bot_id"`
		ChannelID string `json:"channel_id"`
	} `json:"recipient"`
	Reply normalize.Reply `json:"reply"`
}

func (c *outCase) to() adapters.Recipient {
	return adapters.Recipient{BotID: c.Recipient.BotID, ChannelID: c.Recipient.ChannelID, Response: true}
}

// readOutCase reads testdata/outbound/<name>.json strictly.
func readOutCase(t testing.TB, name string) *outCase {
	t.Helper()
	return adaptertest.ReadOutCaseAs[outCase](t, name)
}

// outGolden is testdata/outbound/<case>.golden.json: the calls in order,
// or the error, and the degradations.
type outGolden struct {
	Calls    []outGoldenCall          `json:"calls,omitempty"`
	Degraded []string                 `json:"degraded,omitempty"`
	Error    *adaptertest.GoldenError `json:"error,omitempty"`
}

type outGoldenCall struct {
	Method string          `json:"method"`
	Body   json.RawMessage `json:"body"`
}

// TestRenderGolden renders every testdata/outbound case and compares the
// calls (method and exact body) and degradations, or the error, with its
// golden file.
func TestRenderGolden(t *testing.T) {
	a := testAdapter()
	adaptertest.OutGolden(t, func(t *testing.T, name string) any {
		c := readOutCase(t, name)
		kept := adaptertest.KeepsReply(t, &c.Reply)
		var p Plan
		err := a.Render(&p, c.to(), &c.Reply)
		kept()
		var got outGolden
		if err != nil {
			var re *adapters.RenderError
			if !errors.As(err, &re) {
				t.Fatalf("error %T %v, want *adapters.RenderError", err, err)
			}
			if len(p.Calls) != 0 {
				t.Errorf("%d calls left on error", len(p.Calls))
			}
			got.Error = &adaptertest.GoldenError{Code: re.Code, Message: re.Msg}
		}
		for _, call := range p.Calls {
			if !json.Valid(call.Body) {
				t.Fatalf("%s: invalid JSON: %s", call.Method, call.Body)
			}
			checkCall(t, call)
			got.Calls = append(got.Calls, outGoldenCall{Method: call.Method, Body: call.Body})
		}
		got.Degraded = p.Degraded
		return got
	})
}

// checkCall holds for every rendered call: the Bot API's own limits.
func checkCall(t testing.TB, c Call) {
	t.Helper()
	var body struct {
		ChatID      json.RawMessage `json:"chat_id"`
		Text        *string         `json:"text"`
		Caption     string          `json:"caption"`
		ReplyMarkup struct {
			InlineKeyboard [][]InlineKeyboardButton `json:"inline_keyboard"`
		} `json:"reply_markup"`
	}
	if err := json.Unmarshal(c.Body, &body); err != nil {
		t.Fatalf("%s: %v", c.Method, err)
	}
	if c.Method != MethodAnswerCallbackQuery && len(body.ChatID) == 0 {
		t.Errorf("%s without chat_id: %s", c.Method, c.Body)
	}
	if c.Method == MethodSendMessage {
		if body.Text == nil || strings.TrimSpace(*body.Text) == "" || utf16Len(*body.Text) > MaxTextLen {
			t.Errorf("sendMessage text empty or too long: %d units", utf16Len(*body.Text))
		}
	}
	if utf16Len(body.Caption) > MaxCaptionLen {
		t.Errorf("%s caption of %d units", c.Method, utf16Len(body.Caption))
	}
	for _, row := range body.ReplyMarkup.InlineKeyboard {
		for _, b := range row {
			if b.Text == "" || (b.URL == "") == (b.CallbackData == "") || len(b.CallbackData) > MaxCallbackData {
				t.Errorf("bad inline button %+v", b)
			}
		}
	}
}

// TestRenderDecodesStrictly decodes rendered bodies into the Send*Params
// of types.go: every member the renderer writes is one types.go names
// (cases whose channel_data adds members are skipped).
func TestRenderDecodesStrictly(t *testing.T) {
	a := testAdapter()
	for _, name := range adaptertest.OutCases(t) {
		c := readOutCase(t, name)
		if len(c.Reply.ChannelData) > 0 {
			continue
		}
		var p Plan
		if err := a.Render(&p, c.to(), &c.Reply); err != nil {
			continue
		}
		for _, call := range p.Calls {
			var v any
			switch call.Method {
			case MethodSendMessage:
				v = &struct {
					SendMessageParams
					ReplyMarkup json.RawMessage `json:"reply_markup"`
				}{}
			case MethodSendPhoto:
				v = &struct {
					SendPhotoParams
					ReplyMarkup json.RawMessage `json:"reply_markup"`
				}{}
			default:
				continue
			}
			dec := json.NewDecoder(bytes.NewReader(call.Body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(v); err != nil {
				t.Errorf("%s %s: %v\n%s", name, call.Method, err, call.Body)
			}
		}
	}
}

func TestSplitText(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  []string
	}{
		{"fits", "hello world", 20, []string{"hello world"}},
		{"at newline", "aaaa bbbb\ncccc dddd eeee", 15, []string{"aaaa bbbb", "cccc dddd eeee"}},
		{"at space", "aaaa bbbb cccc dddd", 12, []string{"aaaa bbbb", "cccc dddd"}},
		{"hard", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"early newline ignored", "a\nbbbbbbbbbbbbbbbb", 8, []string{"a\nbbbbbb", "bbbbbbbb", "bb"}},
		{"surrogates never split", "😀😀😀", 3, []string{"😀", "😀", "😀"}},
		{"whitespace parts skipped", "aaaa\n\n\n\n\n\n\n\nbbbb", 6, []string{"aaaa", "bbbb"}},
		{"exact", "abcd", 4, []string{"abcd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitText(tt.in, tt.limit)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("splitText(%q, %d) (-want +got):\n%s", tt.in, tt.limit, diff)
			}
			for _, p := range got {
				if utf16Len(p) > tt.limit || !utf8.ValidString(p) {
					t.Errorf("part %q over the limit or broken", p)
				}
			}
		})
	}
	if n := utf16Len("a😀é"); n != 4 {
		t.Errorf("utf16Len = %d, want 4", n)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		code       int
		desc       string
		retryAfter int
		migrate    bool
		class      adapters.Class
		out        string
		wait       time.Duration
	}{
		{429, "Too Many Requests: retry after 5", 5, false, adapters.ClassRateLimited, "rate_limited", 5 * time.Second},
		{429, "Too Many Requests", 0, false, adapters.ClassRateLimited, "rate_limited", time.Second},
		{429, "Too Many Requests: retry after 999999", 999999, false, adapters.ClassRateLimited, "rate_limited", MaxRetryAfter},
		{403, "Forbidden: bot was blocked by the user", 0, false, adapters.ClassRecipient, "blocked", 0},
		{403, "Forbidden: user is deactivated", 0, false, adapters.ClassRecipient, "blocked", 0},
		{403, "Forbidden: bot was kicked from the supergroup chat", 0, false, adapters.ClassRecipient, "blocked", 0},
		{403, "Forbidden: bot can't initiate conversation with a user", 0, false, adapters.ClassRecipient, "forbidden", 0},
		{403, "Forbidden: bot is not a member of the channel chat", 0, false, adapters.ClassRecipient, "forbidden", 0},
		{400, "Bad Request: chat not found", 0, false, adapters.ClassRecipient, "chat_not_found", 0},
		{400, "Bad Request: PEER_ID_INVALID", 0, false, adapters.ClassRecipient, "chat_not_found", 0},
		{400, "Bad Request: group chat was upgraded to a supergroup chat", 0, true, adapters.ClassRecipient, "chat_migrated", 0},
		{400, "Bad Request: message is too long", 0, false, adapters.ClassRequest, "text_too_long", 0},
		{400, "Bad Request: can't parse entities: Unsupported start tag", 0, false, adapters.ClassRequest, "bad_markup", 0},
		{400, "Bad Request: query is too old and response timeout expired or query ID is invalid", 0, false, adapters.ClassRequest, "query_too_old", 0},
		{400, "Bad Request: BUTTON_DATA_INVALID", 0, false, adapters.ClassRequest, "bad_request", 0},
		{401, "Unauthorized", 0, false, adapters.ClassConfig, "bad_token", 0},
		{404, "Not Found", 0, false, adapters.ClassConfig, "not_found", 0},
		{500, "Internal Server Error", 0, false, adapters.ClassTransient, "server_error", 0},
		{502, "Bad Gateway", 0, false, adapters.ClassTransient, "server_error", 0},
		{409, "Conflict: terminated by other getUpdates request", 0, false, adapters.ClassRequest, "bad_request", 0},
	}
	for _, tt := range tests {
		ae := Classify(tt.code, tt.desc, tt.retryAfter, tt.migrate)
		if ae.Class != tt.class || ae.Code != tt.out || ae.RetryAfter != tt.wait {
			t.Errorf("%d %q: %v %s %v, want %v %s %v", tt.code, tt.desc, ae.Class, ae.Code, ae.RetryAfter, tt.class, tt.out, tt.wait)
		}
		if ae.Class == adapters.ClassRateLimited && !ae.PerRecipient {
			t.Errorf("%d: 429 not per recipient", tt.code)
		}
		if ae.Message != tt.desc || ae.ChannelCode == "" {
			t.Errorf("%d: message %q channel code %q", tt.code, ae.Message, ae.ChannelCode)
		}
	}
	// Answers that are not the Bot API's envelope.
	for _, tt := range []struct {
		status int
		body   string
		class  adapters.Class
		code   string
	}{
		{200, `<html>`, adapters.ClassTransient, "bad_response"},
		{200, `{"ok":true,"result":{"message_id":5}}`, 0, ""},
		{502, `<html>bad gateway</html>`, adapters.ClassTransient, "server_error"},
		{429, ``, adapters.ClassRateLimited, "rate_limited"},
		{401, `nope`, adapters.ClassConfig, "bad_token"},
		{400, `{"ok":false,"description":"Bad Request: chat not found"}`, adapters.ClassRecipient, "chat_not_found"},
		{400, `{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234567890123}}`, adapters.ClassRecipient, "chat_migrated"},
	} {
		ans, ae := readAnswer(tt.status, []byte(tt.body), []byte("7"))
		switch {
		case tt.class == 0 && (ae != nil || ans.messageID != "5"):
			t.Errorf("%d %s: %v %+v", tt.status, tt.body, ae, ans)
		case tt.class != 0 && (ae == nil || ae.Class != tt.class || ae.Code != tt.code):
			t.Errorf("%d %s: %+v, want %v %s", tt.status, tt.body, ae, tt.class, tt.code)
		}
		if strings.Contains(tt.body, "migrate") && ans.migrateTo != "-1001234567890123" {
			t.Errorf("migrate_to_chat_id read as %q", ans.migrateTo)
		}
	}
}

func TestPace(t *testing.T) {
	a := testAdapter()
	for _, tt := range []struct {
		chat  string
		every time.Duration
		burst int
	}{
		{"7123456789", time.Second, 2},
		{"9007199254740993", time.Second, 2},
		{"-4012345678", time.Minute / 17, 3},
		{"-1001987654321", time.Minute / 17, 3},
		{"@acme_news", time.Minute / 17, 3},
	} {
		every, burst := a.Pace(adapters.Recipient{BotID: testBotID, ChannelID: tt.chat})
		if every != tt.every || burst != tt.burst {
			t.Errorf("Pace(%s) = %v, %d; want %v, %d", tt.chat, every, burst, tt.every, tt.burst)
		}
	}
	// A group's pace never lets more than 20 messages into one minute: the
	// burst plus what refills in 60 s.
	if n := GroupBurst + int(time.Minute/GroupEvery); n > 20 {
		t.Errorf("group pace allows %d messages a minute", n)
	}
}

// End to end against bench/mocktelegram.

func mockAdapter(t testing.TB) (*mocktelegram.Server, *Adapter) {
	t.Helper()
	s, err := mocktelegram.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	a := New("tg", &configTelegramFor)
	a.APIBase = s.URL()
	a.Client = &fasthttp.Client{ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	return s, a
}

var configTelegramFor = configTelegramMock()

func to(chat string) adapters.Recipient {
	return adapters.Recipient{BotID: mocktelegram.DefaultBotID, ChannelID: chat, Response: true}
}

func TestSendMock(t *testing.T) {
	s, a := mockAdapter(t)
	ctx := context.Background()

	sent, err := a.Send(ctx, to("-1001234567890123"), &normalize.Reply{Text: "hello", Buttons: []normalize.Button{{Title: "Yes", Payload: "Y"}}})
	if err != nil {
		t.Fatal(err)
	}
	if sent.MessageID != "1" || sent.AttachmentID != "" || len(sent.Degraded) != 0 {
		t.Errorf("sent = %+v", sent)
	}
	reqs := s.Sent("-1001234567890123")
	if len(reqs) != 1 || reqs[0].Method != MethodSendMessage || !bytes.Contains(reqs[0].Body, []byte(`"chat_id":-1001234567890123`)) {
		t.Fatalf("recorded %+v", reqs)
	}

	sent, err = a.Send(ctx, to("7123456789"), &normalize.Reply{Text: "receipt", Attachment: &normalize.OutAttachment{Type: "image", URL: "https://cdn.example/r.png"}})
	if err != nil {
		t.Fatal(err)
	}
	if sent.MessageID != "1" || !strings.HasPrefix(sent.AttachmentID, "AgACmock") {
		t.Errorf("photo sent = %+v", sent)
	}
	// The file_id comes back reusable.
	again, err := a.Send(ctx, to("7123456789"), &normalize.Reply{Attachment: &normalize.OutAttachment{Type: "image", AttachmentID: sent.AttachmentID}})
	if err != nil || again.AttachmentID != sent.AttachmentID || again.MessageID != "2" {
		t.Errorf("resend by file_id: %+v %v", again, err)
	}

	// typing_on is one call and no message id; typing_off none at all.
	n := s.Count()
	if sent, err := a.Send(ctx, to("6012345678"), &normalize.Reply{SenderAction: "typing_on"}); err != nil || sent.MessageID != "" {
		t.Errorf("typing_on: %+v %v", sent, err)
	}
	if sent, err := a.Send(ctx, to("6012345678"), &normalize.Reply{SenderAction: "typing_off"}); err != nil || len(sent.Degraded) != 1 {
		t.Errorf("typing_off: %+v %v", sent, err)
	}
	if s.Count() != n+1 {
		t.Errorf("%d calls for two sender actions, want 1", s.Count()-n)
	}
}

func TestSendSplitsLongText(t *testing.T) {
	s, a := mockAdapter(t)
	text := strings.Repeat("Lorem ipsum dolor sit amet. ", 300) // 8400 characters
	sent, err := a.Send(context.Background(), to("7123456789"), &normalize.Reply{Text: text, QuickReplies: []normalize.QuickReply{{Title: "OK"}}})
	if err != nil {
		t.Fatal(err)
	}
	reqs := s.Sent("7123456789")
	if len(reqs) != 3 || sent.MessageID != "3" || len(sent.Degraded) != 1 {
		t.Fatalf("%d messages, sent %+v", len(reqs), sent)
	}
	var joined []string
	for i, r := range reqs {
		var b struct {
			Text        string          `json:"text"`
			ReplyMarkup json.RawMessage `json:"reply_markup"`
		}
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatal(err)
		}
		if (len(b.ReplyMarkup) > 0) != (i == 2) {
			t.Errorf("part %d keyboard %s", i, b.ReplyMarkup)
		}
		joined = append(joined, b.Text)
	}
	if strings.Join(joined, " ") != strings.TrimSpace(text) {
		t.Error("the parts do not add up to the text")
	}
}

func TestSendRateLimited(t *testing.T) {
	s, a := mockAdapter(t)
	ctx := context.Background()
	// A scripted 429 with retry_after.
	s.FailNext(1, 429, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}`)
	_, err := a.Send(ctx, to("7123456789"), &normalize.Reply{Text: "hi"})
	var ae *adapters.APIError
	if !errors.As(err, &ae) || ae.Class != adapters.ClassRateLimited || ae.RetryAfter != 5*time.Second || !ae.PerRecipient || ae.ChannelCode != "429" {
		t.Fatalf("err = %#v", err)
	}
	if se := adapters.SendError(err); !se.Retryable || se.Code != "rate_limited" {
		t.Errorf("SendError = %+v", se)
	}

	// The mock's real flood control: a private chat takes a burst of 3,
	// then one a second.
	for i := range 3 {
		if _, err := a.Send(ctx, to("6012345678"), &normalize.Reply{Text: "burst"}); err != nil {
			t.Fatalf("burst message %d: %v", i, err)
		}
	}
	_, err = a.Send(ctx, to("6012345678"), &normalize.Reply{Text: "one too many"})
	if !errors.As(err, &ae) || ae.Class != adapters.ClassRateLimited || ae.RetryAfter != time.Second {
		t.Fatalf("flood: err = %#v", err)
	}
	// Other chats are not affected.
	if _, err := a.Send(ctx, to("6012345679"), &normalize.Reply{Text: "other chat"}); err != nil {
		t.Fatalf("other chat: %v", err)
	}
}

// A later part of a split text refused with 429 is waited for and sent
// once more, so earlier parts are not posted twice.
func TestSendWaitsInsideSplit(t *testing.T) {
	s, a := mockAdapter(t)
	s.SetFlood(mocktelegram.Flood{PrivateEvery: time.Second, PrivateBurst: 1})
	text := strings.Repeat("word ", 1000) // 5000 characters: two parts
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	sent, err := a.Send(ctx, to("7123456789"), &normalize.Reply{Text: text})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("did not wait: %v", d)
	}
	if got := len(s.Sent("7123456789")); got != 2 || sent.MessageID != "2" {
		t.Errorf("%d messages posted, sent %+v", got, sent)
	}
	// With no time left, the 429 is returned with a note on what was
	// posted.
	s.Reset()
	s.SetFlood(mocktelegram.Flood{PrivateEvery: time.Minute, PrivateBurst: 1})
	_, err = a.Send(ctx, to("7123456780"), &normalize.Reply{Text: text})
	var ae *adapters.APIError
	if !errors.As(err, &ae) || ae.Class != adapters.ClassRateLimited || ae.RetryAfter != time.Minute {
		t.Fatalf("err = %v", err)
	}
}

func TestSendRecipientErrors(t *testing.T) {
	s, a := mockAdapter(t)
	ctx := context.Background()
	s.Block("", "7123456789")
	s.ChatNotFound("", "-4000000001")
	for chat, code := range map[string]string{"7123456789": "blocked", "-4000000001": "chat_not_found"} {
		_, err := a.Send(ctx, to(chat), &normalize.Reply{Text: "hi"})
		var ae *adapters.APIError
		if !errors.As(err, &ae) || ae.Class != adapters.ClassRecipient || ae.Code != code || ae.Class.Retryable() {
			t.Errorf("%s: err = %#v", chat, err)
		}
	}
}

func TestSendFollowsMigration(t *testing.T) {
	s, a := mockAdapter(t)
	const old, moved = "-4012345678", "-1001987654321"
	s.Migrate("", old, moved)
	sent, err := a.Send(context.Background(), to(old), &normalize.Reply{Text: "after the upgrade", QuickReplies: []normalize.QuickReply{{Title: "OK"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Sent(old)) != 0 || len(s.Sent(moved)) != 1 {
		t.Fatalf("posted %d to the old chat, %d to the new", len(s.Sent(old)), len(s.Sent(moved)))
	}
	if len(sent.Degraded) != 1 || !strings.Contains(sent.Degraded[0], "7012345678/c/"+moved) || sent.MessageID != "1" {
		t.Errorf("sent = %+v", sent)
	}
	// Followed once only: a new chat that moved again is an error.
	s.Migrate("", moved, "-1001987654399")
	_, err = a.Send(context.Background(), to(old), &normalize.Reply{Text: "twice"})
	var ae *adapters.APIError
	if !errors.As(err, &ae) || ae.Code != "chat_migrated" || ae.Class != adapters.ClassRecipient {
		t.Fatalf("double migration: %v", err)
	}
}

func TestSendServerAndConfigErrors(t *testing.T) {
	s, a := mockAdapter(t)
	ctx := context.Background()
	s.FailNext(1, 502, `<html>Bad Gateway</html>`)
	_, err := a.Send(ctx, to("7123456789"), &normalize.Reply{Text: "hi"})
	var ae *adapters.APIError
	if !errors.As(err, &ae) || ae.Class != adapters.ClassTransient || ae.Code != "server_error" {
		t.Errorf("502: %v", err)
	}
	s.FailNext(1, 500, `{"ok":false,"error_code":500,"description":"Internal Server Error"}`)
	if _, err = a.Send(ctx, to("7123456789"), &normalize.Reply{Text: "hi"}); !errors.As(err, &ae) || ae.Class != adapters.ClassTransient {
		t.Errorf("500: %v", err)
	}
	bad := *a
	bad.Token = mocktelegram.DefaultBotID + ":wrong"
	_, err = bad.Send(ctx, to("7123456789"), &normalize.Reply{Text: "hi"})
	if !errors.As(err, &ae) || ae.Class != adapters.ClassConfig || ae.Code != "bad_token" {
		t.Errorf("bad token: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error shows the token: %v", err)
	}
	// The mock's own validation surfaces as request errors.
	_, err = a.Send(ctx, to("7123456789"), &normalize.Reply{Text: "x", ChannelData: json.RawMessage(`{"text":"   "}`)})
	if !errors.As(err, &ae) || ae.Class != adapters.ClassRequest || ae.Message != "Bad Request: message text is empty" {
		t.Errorf("empty text: %v", err)
	}
}

func TestSendNetworkErrors(t *testing.T) {
	s, a := mockAdapter(t)
	s.SetLatency(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := a.Send(ctx, to("7123456789"), &normalize.Reply{Text: "slow"})
	var ae *adapters.APIError
	if !errors.As(err, &ae) || ae.Class != adapters.ClassTransient || ae.Code != "timeout" {
		t.Errorf("deadline: %v", err)
	}
	closed := *a
	closed.APIBase = "http://127.0.0.1:1"
	_, err = closed.Send(context.Background(), to("7123456789"), &normalize.Reply{Text: "nobody home"})
	if !errors.As(err, &ae) || ae.Class != adapters.ClassTransient {
		t.Errorf("refused connection: %v", err)
	}
	if strings.Contains(err.Error(), a.Token) {
		t.Errorf("error shows the token: %v", err)
	}
}

func TestSendAnswersCallback(t *testing.T) {
	s, a := mockAdapter(t)
	r := &normalize.Reply{Text: "Cancelled.", ChannelData: json.RawMessage(`{"callback_query_id":"4382bfdwdsb323b2d9","text":"Done"}`)}
	sent, err := a.Send(context.Background(), to("7123456789"), r)
	if err != nil || sent.MessageID != "1" {
		t.Fatalf("%+v %v", sent, err)
	}
	reqs := s.Requests()
	if len(reqs) != 2 || reqs[0].Method != MethodAnswerCallbackQuery || reqs[1].Method != MethodSendMessage {
		t.Fatalf("calls %+v", reqs)
	}
	if !bytes.Contains(reqs[0].Body, []byte(`"callback_query_id":"4382bfdwdsb323b2d9"`)) || bytes.Contains(reqs[1].Body, []byte("callback_query_id")) {
		t.Errorf("bodies %s / %s", reqs[0].Body, reqs[1].Body)
	}
	// A stale query does not stop the message.
	s.FailNext(1, 400, `{"ok":false,"error_code":400,"description":"Bad Request: query is too old and response timeout expired or query ID is invalid"}`)
	sent, err = a.Send(context.Background(), to("7123456789"), r)
	if err != nil || sent.MessageID != "2" || len(sent.Degraded) != 1 {
		t.Fatalf("stale query: %+v %v", sent, err)
	}
}

func TestSendRenderErrorCallsNothing(t *testing.T) {
	s, a := mockAdapter(t)
	_, err := a.Send(context.Background(), to("7123456789"), &normalize.Reply{Text: "x", Buttons: []normalize.Button{{Title: "t", Payload: strings.Repeat("p", 65)}}})
	var re *adapters.RenderError
	if !errors.As(err, &re) || re.Code != "callback_data_too_long" {
		t.Fatalf("err = %v", err)
	}
	if s.Count() != 0 {
		t.Errorf("%d calls made", s.Count())
	}
}

// Every golden case that renders is accepted by the mock as rendered.
func TestGoldenCasesAgainstMock(t *testing.T) {
	s, a := mockAdapter(t)
	s.SetFlood(mocktelegram.Flood{})
	for _, name := range adaptertest.OutCases(t) {
		c := readOutCase(t, name)
		rcp := c.to()
		rcp.BotID = mocktelegram.DefaultBotID
		var p Plan
		if err := a.Render(&p, rcp, &c.Reply); err != nil {
			continue
		}
		if _, err := a.Send(context.Background(), rcp, &c.Reply); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func configTelegramMock() config.Telegram {
	return config.Telegram{Token: mocktelegram.DefaultToken, SecretToken: "x"}
}

var (
	mocktelegramNoFlood = mocktelegram.Flood{}
	testBotIDMock       = mocktelegram.DefaultBotID
)

func TestEscapeFor(t *testing.T) {
	for _, tt := range []struct{ mode, in, want string }{
		{"", "a_b <c> & d.", "a_b <c> & d."},
		{"HTML", "a_b <c> & d.", "a_b &lt;c&gt; &amp; d."},
		{"MarkdownV2", "Call_us (24/7): +1-555.", `Call\_us \(24/7\): \+1\-555\.`},
		{"Markdown", "a_b *c* `d` [e]", "a\\_b \\*c\\* \\`d\\` \\[e]"},
	} {
		if got := escapeFor(tt.mode, tt.in); got != tt.want {
			t.Errorf("escapeFor(%q, %q) = %q, want %q", tt.mode, tt.in, got, tt.want)
		}
	}
}

func TestGetMe(t *testing.T) {
	_, a := mockAdapter(t)
	u, err := a.GetMe(context.Background())
	if err != nil || u.ID != 7012345678 || u.Username != "mock7012345678_bot" || !u.IsBot {
		t.Fatalf("GetMe = %+v, %v", u, err)
	}
	a.Token = mocktelegram.DefaultBotID + ":revoked"
	_, err = a.GetMe(context.Background())
	var ae *adapters.APIError
	if !errors.As(err, &ae) || ae.Class != adapters.ClassConfig || ae.Code != "bad_token" {
		t.Fatalf("revoked token: %v", err)
	}
}
