package telegram

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Fake credentials: never real ones.
const (
	testBotID  = "7012345678"
	testToken  = testBotID + ":AAfake-token-for-tests"
	testSecret = "fake_secret-Token_42"
)

func testAdapter() *Adapter {
	return &Adapter{
		Connection:  "tg",
		BotID:       testBotID,
		Token:       testToken,
		SecretToken: []byte(testSecret),
		Username:    "acme_helper_bot",
		APIBase:     "http://127.0.0.1:1",
	}
}

// signed returns the headers Telegram sends with every delivery.
func signed() adapters.Header {
	h := adapters.Header{}
	h.Set(SecretHeader, testSecret)
	return h
}

// TestGolden runs every testdata/inbound/<case>.json through Verify and
// Parse and compares the event with <case>.golden.json.
func TestGolden(t *testing.T) {
	adaptertest.Golden(t, testAdapter(), func([]byte) adapters.Peeker { return signed() }, checkUpdate)
}

// checkUpdate holds for what Parse makes of one accepted update: exactly
// one event, holding checkInvariants.
func checkUpdate(t testing.TB, evs []normalize.Event) {
	t.Helper()
	if len(evs) != 1 {
		t.Fatalf("%d events, want exactly one per update", len(evs))
	}
	checkInvariants(t, evs)
}

// checkInvariants holds for every event Parse emits: those of every
// channel (adaptertest.CheckEvents) and Telegram's own.
func checkInvariants(t testing.TB, evs []normalize.Event) {
	t.Helper()
	adaptertest.CheckEvents(t, Name, evs)
	for i := range evs {
		e := &evs[i]
		if !strings.HasPrefix(e.ID, "telegram:"+testBotID+":") {
			t.Errorf("event %d id %q lacks the channel and bot prefix", i, e.ID)
		}
		if e.BotID != testBotID {
			t.Errorf("event %d bot id %q", i, e.BotID)
		}
		if e.ChannelID != "" && !isIntID(e.ChannelID) {
			t.Errorf("event %d channel id %q is not an integer", i, e.ChannelID)
		}
		if e.Command != "" && !strings.HasPrefix(e.Text, "/"+e.Command) {
			t.Errorf("event %d command %q not at the start of %q", i, e.Command, e.Text)
		}
	}
}

// TestWireTypesCrossCheck decodes every fixture into the wire structs of
// types.go with encoding/json (int64 fields, no float) and checks that
// Parse read the same ids: the update id, the chat, the sender and the
// message id, digit for digit.
func TestWireTypesCrossCheck(t *testing.T) {
	a := testAdapter()
	for _, f := range adaptertest.Fixtures(t) {
		body, _ := os.ReadFile(f)
		var u Update
		if err := json.Unmarshal(body, &u); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		evs, err := a.Parse(nil, body)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		e := evs[0]
		if want := "telegram:" + testBotID + ":" + strconv.FormatInt(u.UpdateID, 10); e.ID != want {
			t.Errorf("%s: id %q, want %q", f, e.ID, want)
		}
		var m *Message
		for _, x := range []*Message{u.Message, u.EditedMessage, u.ChannelPost, u.EditedChannelPost} {
			if x != nil {
				m = x
			}
		}
		if m == nil {
			continue
		}
		if got, want := e.ChannelID, strconv.FormatInt(m.Chat.ID, 10); got != want {
			t.Errorf("%s: channel id %s, want %s", f, got, want)
		}
		if got, want := e.NativeID, strconv.FormatInt(m.MessageID, 10); got != want {
			t.Errorf("%s: native id %s, want %s", f, got, want)
		}
		switch {
		case m.SenderChat != nil:
			if want := strconv.FormatInt(m.SenderChat.ID, 10); e.Sender.ID != want {
				t.Errorf("%s: sender %s, want sender_chat %s", f, e.Sender.ID, want)
			}
		case m.From != nil:
			if want := strconv.FormatInt(m.From.ID, 10); e.Sender.ID != want {
				t.Errorf("%s: sender %s, want %s", f, e.Sender.ID, want)
			}
		}
		if m.ReplyToMessage != nil {
			if want := strconv.FormatInt(m.ReplyToMessage.MessageID, 10); e.ReplyTo != want {
				t.Errorf("%s: reply_to %s, want %s", f, e.ReplyTo, want)
			}
		}
	}
}

// 64-bit ids survive exactly: values above 2^53, where float64 would
// round, and the largest int64.
func TestBigIDsExact(t *testing.T) {
	a := testAdapter()
	evs, err := a.Parse(nil, adaptertest.ReadFixture(t, "big_ids.json"))
	if err != nil {
		t.Fatal(err)
	}
	e := evs[0]
	checks := map[string]string{
		e.ID:           "telegram:7012345678:9223372036854775807",
		e.ChannelID:    "-1001234567890123",
		e.ResponsePath: "7012345678/c/-1001234567890123",
		e.Sender.ID:    "9007199254740993",
		e.NativeID:     "2147483647",
		e.ReplyTo:      "9007199254740995",
	}
	for got, want := range checks {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	if !bytes.Contains(e.Metadata, []byte(`"thread_id":"9007199254740997"`)) {
		t.Errorf("thread id not exact: %s", e.Metadata)
	}
	evs, err = a.Parse(nil, adaptertest.ReadFixture(t, "big_ids_private.json"))
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].ChannelID != "9007199254740993" || evs[0].Sender.ID != "9007199254740993" {
		t.Errorf("private big id: %+v", evs[0])
	}
	// The photo's file_size is above 2^31.
	evs, _ = a.Parse(nil, adaptertest.ReadFixture(t, "photo.json"))
	if evs[0].Attachments[0].Size != 3000000000 || evs[0].Attachments[0].MediaID != "AgACAgQAAxkBAAIBlarge" {
		t.Errorf("largest photo: %+v", evs[0].Attachments[0])
	}
}

func TestGroupSenderIsNotChat(t *testing.T) {
	evs, err := testAdapter().Parse(nil, adaptertest.ReadFixture(t, "group_text.json"))
	if err != nil {
		t.Fatal(err)
	}
	e := evs[0]
	if e.ChannelID != "-4012345678" || e.Sender.ID != "6012345678" || e.ResponsePath != "7012345678/c/-4012345678" {
		t.Errorf("group event: channel %s sender %s path %s", e.ChannelID, e.Sender.ID, e.ResponsePath)
	}
}

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		text, name, bot, args string
		ok                    bool
	}{
		{"/start", "start", "", "", true},
		{"/start payload", "start", "", "payload", true},
		{"/start  deep-link_payload  ", "start", "", "deep-link_payload", true},
		{"/help@MyBot x", "help", "MyBot", "x", true},
		{"/help@MyBot", "help", "MyBot", "", true},
		{"/help@MyBot\nline two", "help", "MyBot", "line two", true},
		{"/cmd_2 a b c", "cmd_2", "", "a b c", true},
		{"/", "", "", "", false},
		{"/ start", "", "", "", false},
		{"/@bot", "", "", "", false},
		{"/help@", "", "", "", false},
		{"/help@ x", "", "", "", false},
		{"/path/to/file", "", "", "", false},
		{"/héllo", "", "", "", false},
		{"a/b", "", "", "", false},
		{"text with /slash in the middle", "", "", "", false},
		{" /start", "", "", "", false},
		{"", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			b := []byte(tt.text)
			name, bot, args, ok := splitCommand(b)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			got := [3]string{string(b[name.off:name.end]), string(b[bot.off:bot.end]), string(b[args.off:args.end])}
			if want := [3]string{tt.name, tt.bot, tt.args}; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// The event's command fields and for_bot metadata follow the text.
func TestCommandEvents(t *testing.T) {
	body := func(text string) []byte {
		b, _ := json.Marshal(map[string]any{"update_id": 1, "message": map[string]any{
			"message_id": 2, "date": 1718000000, "text": text,
			"chat": map[string]any{"id": -1001987654321, "type": "supergroup"},
			"from": map[string]any{"id": 5, "first_name": "A"}}})
		return b
	}
	tests := []struct {
		username, text, cmd, args, forBot string
	}{
		{"acme_helper_bot", "/start", "start", "", ""},
		{"acme_helper_bot", "/start payload", "start", "payload", ""},
		{"acme_helper_bot", "/help@acme_helper_bot x", "help", "x", ""},
		{"acme_helper_bot", "/help@ACME_Helper_Bot x", "help", "x", ""},
		{"acme_helper_bot", "/help@MyBot x", "help", "x", "MyBot"},
		{"", "/help@acme_helper_bot x", "help", "x", "acme_helper_bot"},
		{"acme_helper_bot", "/", "", "", ""},
		{"acme_helper_bot", "text with /slash in the middle", "", "", ""},
	}
	for _, tt := range tests {
		a := testAdapter()
		a.Username = tt.username
		evs, err := a.Parse(nil, body(tt.text))
		if err != nil {
			t.Fatal(err)
		}
		e := evs[0]
		if e.Type != normalize.TypeText || e.Text != tt.text || e.Command != tt.cmd || e.Args != tt.args {
			t.Errorf("%q: type %s text %q command %q args %q", tt.text, e.Type, e.Text, e.Command, e.Args)
		}
		var md struct {
			ForBot *string `json:"for_bot"`
		}
		if err := json.Unmarshal(e.Metadata, &md); err != nil {
			t.Fatal(err)
		}
		switch {
		case tt.forBot == "" && md.ForBot != nil:
			t.Errorf("%q (username %q): for_bot %q, want none", tt.text, tt.username, *md.ForBot)
		case tt.forBot != "" && (md.ForBot == nil || *md.ForBot != tt.forBot):
			t.Errorf("%q: for_bot %v, want %q", tt.text, md.ForBot, tt.forBot)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	msg := func(s string) string { return `{"update_id":1,"message":` + s + `}` }
	const chat = `"chat":{"id":5,"type":"private"}`
	tests := []adaptertest.Refusal{
		{"empty body", ``, "malformed_json", ""},
		{"whitespace", "  \n", "malformed_json", ""},
		{"truncated", `{"update_id":1,"message":{`, "malformed_json", ""},
		{"trailing garbage", `{"update_id":1}x`, "malformed_json", ""},
		{"bad number", `{"update_id":1-2}`, "malformed_json", ""},
		{"nan", `{"update_id":NaN}`, "malformed_json", ""},
		{"control char in string", "{\"update_id\":1,\"message\":{\"text\":\"a\x01b\"}}", "malformed_json", ""},
		{"deep nesting", `{"update_id":1,"x":` + strings.Repeat("[", 400) + strings.Repeat("]", 400) + `}`, "malformed_json", ""},
		{"top-level array", `[]`, "wrong_type", "body"},
		{"top-level string", `"update"`, "wrong_type", "body"},
		{"no update_id", `{"message":{"message_id":1,` + chat + `,"date":1,"text":"t"}}`, "missing_field", "update_id"},
		{"update_id string", `{"update_id":"874512006","message":{}}`, "wrong_type", "update_id: want integer id, got string"},
		{"update_id float", `{"update_id":1.5}`, "wrong_type", "update_id: want a 64-bit integer"},
		{"update_id exponent", `{"update_id":1e3}`, "wrong_type", "update_id"},
		{"update_id too big", `{"update_id":92233720368547758070}`, "wrong_type", "update_id"},
		{"update_id bool", `{"update_id":true}`, "wrong_type", "update_id"},
		{"message string", msg(`"hi"`), "wrong_type", "message: want object"},
		{"message without chat", msg(`{"message_id":1,"date":1,"text":"t"}`), "missing_field", "message.chat"},
		{"message without id", msg(`{` + chat + `,"date":1,"text":"t"}`), "missing_field", "message.message_id"},
		{"chat not object", msg(`{"message_id":1,"chat":5,"date":1,"text":"t"}`), "wrong_type", "message.chat: want object"},
		{"chat without id", msg(`{"message_id":1,"chat":{"type":"private"},"date":1,"text":"t"}`), "missing_field", "message.chat.id"},
		{"chat id string", msg(`{"message_id":1,"chat":{"id":"5"},"date":1,"text":"t"}`), "wrong_type", "message.chat.id"},
		{"chat id float", msg(`{"message_id":1,"chat":{"id":-1001234567890123.0},"date":1,"text":"t"}`), "wrong_type", "message.chat.id"},
		{"from id float", msg(`{"message_id":1,` + chat + `,"from":{"id":5.5},"date":1,"text":"t"}`), "wrong_type", "message.from.id"},
		{"from without id", msg(`{"message_id":1,` + chat + `,"from":{"first_name":"A"},"date":1,"text":"t"}`), "missing_field", "message.from.id"},
		{"from not object", msg(`{"message_id":1,` + chat + `,"from":7,"date":1,"text":"t"}`), "wrong_type", "message.from"},
		{"text number", msg(`{"message_id":1,` + chat + `,"date":1,"text":5}`), "wrong_type", "message.text: want string"},
		{"date string", msg(`{"message_id":1,` + chat + `,"date":"1","text":"t"}`), "wrong_type", "message.date"},
		{"date negative", msg(`{"message_id":1,` + chat + `,"date":-1,"text":"t"}`), "wrong_type", "out of range"},
		{"date year 10000", msg(`{"message_id":1,` + chat + `,"date":253402300800,"text":"t"}`), "wrong_type", "out of range"},
		{"photo not array", msg(`{"message_id":1,` + chat + `,"date":1,"photo":{}}`), "wrong_type", "message.photo: want array"},
		{"photo size without file_id", msg(`{"message_id":1,` + chat + `,"date":1,"photo":[{"file_id":"a","width":1,"height":1},{"width":2,"height":2}]}`), "missing_field", "message.photo[1].file_id"},
		{"document file_id number", msg(`{"message_id":1,` + chat + `,"date":1,"document":{"file_id":5}}`), "wrong_type", "message.document.file_id"},
		{"file_size float", msg(`{"message_id":1,` + chat + `,"date":1,"video":{"file_id":"v","file_size":1.5}}`), "wrong_type", "message.video.file_size"},
		{"location lat string", msg(`{"message_id":1,` + chat + `,"date":1,"location":{"latitude":"1","longitude":2}}`), "wrong_type", "message.location.latitude"},
		{"location long missing", msg(`{"message_id":1,` + chat + `,"date":1,"location":{"latitude":1}}`), "missing_field", "message.location.longitude"},
		{"location overflow", msg(`{"message_id":1,` + chat + `,"date":1,"location":{"latitude":1e999,"longitude":2}}`), "wrong_type", "finite"},
		{"venue without location", msg(`{"message_id":1,` + chat + `,"date":1,"venue":{"title":"x"}}`), "missing_field", "message.venue.location"},
		{"contact without phone", msg(`{"message_id":1,` + chat + `,"date":1,"contact":{"first_name":"x"}}`), "missing_field", "message.contact.phone_number"},
		{"new member without id", msg(`{"message_id":1,` + chat + `,"date":1,"new_chat_members":[{"first_name":"x"}]}`), "missing_field", "message.new_chat_members[0].id"},
		{"migrate id string", msg(`{"message_id":1,` + chat + `,"date":1,"migrate_to_chat_id":"-100"}`), "wrong_type", "message.migrate_to_chat_id"},
		{"reply id string", msg(`{"message_id":1,` + chat + `,"date":1,"text":"t","reply_to_message":{"message_id":"2"}}`), "wrong_type", "message.reply_to_message.message_id"},
		{"edited without chat", `{"update_id":1,"edited_message":{"message_id":1,"date":1,"edit_date":2,"text":"t"}}`, "missing_field", "edited_message.chat"},
		{"callback without id", `{"update_id":1,"callback_query":{"from":{"id":5},"data":"x"}}`, "missing_field", "callback_query.id"},
		{"callback without from", `{"update_id":1,"callback_query":{"id":"q","data":"x"}}`, "missing_field", "callback_query.from"},
		{"callback data number", `{"update_id":1,"callback_query":{"id":"q","from":{"id":5},"data":1}}`, "wrong_type", "callback_query.data"},
		{"callback message without chat", `{"update_id":1,"callback_query":{"id":"q","from":{"id":5},"message":{"message_id":1,"date":0}}}`, "missing_field", "callback_query.message.chat"},
		{"member without status", `{"update_id":1,"my_chat_member":{"chat":{"id":5},"from":{"id":5},"date":1,"old_chat_member":{},"new_chat_member":{"status":"kicked"}}}`, "missing_field", "my_chat_member.old_chat_member.status"},
		{"member without new", `{"update_id":1,"chat_member":{"chat":{"id":5},"from":{"id":5},"date":1,"old_chat_member":{"status":"member"}}}`, "missing_field", "chat_member.new_chat_member"},
		{"join request user_chat_id string", `{"update_id":1,"chat_join_request":{"chat":{"id":-5},"from":{"id":5},"date":1,"user_chat_id":"5"}}`, "wrong_type", "chat_join_request.user_chat_id"},
		{"reaction without message id", `{"update_id":1,"message_reaction":{"chat":{"id":-5},"date":1,"old_reaction":[],"new_reaction":[]}}`, "missing_field", "message_reaction.message_id"},
		{"reaction not array", `{"update_id":1,"message_reaction":{"chat":{"id":-5},"message_id":1,"date":1,"new_reaction":{}}}`, "wrong_type", "message_reaction.new_reaction: want array"},
	}
	adaptertest.Refuses(t, testAdapter(), tests)
}

// Bodies that are odd but acceptable parse without error.
func TestParseAccepts(t *testing.T) {
	tests := []adaptertest.Acceptance{
		{"only update_id", `{"update_id":5}`, 1, normalize.TypeUnknown},
		{"negative update_id", `{"update_id":-5}`, 1, normalize.TypeUnknown},
		{"unknown kind with junk", `{"update_id":5,"guest_message":[1,"x",null]}`, 1, normalize.TypeUnknown},
		{"unknown kind with bad ids", `{"update_id":5,"inline_query":{"id":7,"from":{"id":"x"},"chat":{"id":1.5},"date":"x"}}`, 1, normalize.TypeUnknown},
		{"null message then callback", `{"update_id":5,"message":null,"callback_query":{"id":"q","from":{"id":5}}}`, 1, normalize.TypePostback},
		{"empty message content", `{"update_id":5,"message":{"message_id":1,"chat":{"id":5},"date":1}}`, 1, normalize.TypeUnknown},
		{"no from", `{"update_id":5,"message":{"message_id":1,"chat":{"id":5},"date":1,"text":"t"}}`, 1, normalize.TypeText},
		{"no date", `{"update_id":5,"message":{"message_id":1,"chat":{"id":5},"text":"t"}}`, 1, normalize.TypeText},
		{"empty text", `{"update_id":5,"message":{"message_id":1,"chat":{"id":5},"date":1,"text":""}}`, 1, normalize.TypeText},
		{"empty photo", `{"update_id":5,"message":{"message_id":1,"chat":{"id":5},"date":1,"photo":[]}}`, 1, normalize.TypeUnknown},
		{"escaped keys", `{"update_\u0069d":5,"message":{"message_id":1,"chat":{"\u0069d":5},"date":1,"te\u0078t":"t"}}`, 1, normalize.TypeText},
		{"invalid utf-8 escape", `{"update_id":5,"message":{"message_id":1,"chat":{"id":5},"date":1,"text":"\udc00"}}`, 1, normalize.TypeText},
		{"huge file size", `{"update_id":5,"message":{"message_id":1,"chat":{"id":5},"date":1,"document":{"file_id":"d","file_size":9007199254740993}}}`, 1, normalize.TypeAttachment},
		{"unknown reaction type", `{"update_id":5,"message_reaction":{"chat":{"id":-5},"message_id":1,"date":1,"old_reaction":[],"new_reaction":[{"type":"sparkle"}]}}`, 1, normalize.TypeReaction},
	}
	adaptertest.Accepts(t, testAdapter(), tests, checkUpdate)
}

func TestParseAppendsAndKeepsDst(t *testing.T) {
	a := testAdapter()
	prev := []normalize.Event{{ID: "x", Type: normalize.TypeText, Channel: "web"}}
	got, err := a.Parse(prev, adaptertest.ReadFixture(t, "text_private.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "x" || got[1].Type != normalize.TypeText {
		t.Fatalf("Parse did not append: %+v", got)
	}
	got2, err := a.Parse(got, []byte(`{"update_id":1,"message":{"message_id":1,"date":1}}`))
	if err == nil || len(got2) != 2 {
		t.Fatalf("refused body: err %v, %d events", err, len(got2))
	}
}

// Events own their memory: scribbling over the body (fasthttp reuses it)
// or parsing another body changes nothing.
func TestParseDoesNotAlias(t *testing.T) {
	adaptertest.NoAlias(t, testAdapter(), adaptertest.ReadFixture(t, "callback_query.json"))
}

// The same update delivered twice has the same id (Telegram retries);
// another bot's update with the same update_id does not.
func TestIDsStable(t *testing.T) {
	a := testAdapter()
	body := adaptertest.ReadFixture(t, "text_private.json")
	e1, _ := a.Parse(nil, body)
	e2, _ := a.Parse(nil, bytes.Clone(body))
	if e1[0].ID != e2[0].ID || e1[0].ID != "telegram:7012345678:874512006" {
		t.Fatalf("ids %q, %q", e1[0].ID, e2[0].ID)
	}
	other := testAdapter()
	other.BotID = "7012345679"
	e3, _ := other.Parse(nil, body)
	if e3[0].ID == e1[0].ID {
		t.Fatalf("two bots share id %q", e3[0].ID)
	}
}

func TestVerify(t *testing.T) {
	a := testAdapter()
	body := adaptertest.ReadFixture(t, "text_private.json")
	if err := a.Verify(signed(), body); err != nil {
		t.Fatalf("good secret refused: %v", err)
	}
	tests := []struct {
		name string
		h    adapters.Header
		want error
	}{
		{"wrong secret", adapters.Header{"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"}, adapters.ErrBadSignature},
		{"prefix of the secret", adapters.Header{"X-Telegram-Bot-Api-Secret-Token": testSecret[:5]}, adapters.ErrBadSignature},
		{"secret plus more", adapters.Header{"X-Telegram-Bot-Api-Secret-Token": testSecret + "x"}, adapters.ErrBadSignature},
		{"other case", adapters.Header{"X-Telegram-Bot-Api-Secret-Token": strings.ToUpper(testSecret)}, adapters.ErrBadSignature},
		{"missing", adapters.Header{}, adapters.ErrMissingSignature},
		{"empty", adapters.Header{"X-Telegram-Bot-Api-Secret-Token": ""}, adapters.ErrMissingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.Verify(tt.h, body)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "telegram: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	// Header names are case-insensitive, as HTTP's are.
	lower := adapters.Header{}
	lower.Set("x-telegram-bot-api-secret-token", testSecret)
	if err := a.Verify(lower, body); err != nil {
		t.Errorf("lower-case header refused: %v", err)
	}
	noSecret := testAdapter()
	noSecret.SecretToken = nil
	if err := noSecret.Verify(signed(), body); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("adapter without a secret: err = %v", err)
	}
}

func TestNew(t *testing.T) {
	a := New("tg", &configTelegram)
	if a.BotID != "7012345678" || a.Token != configTelegram.Token || string(a.SecretToken) != "s3cr3t" || a.APIBase != "https://api.telegram.org" || a.Connection != "tg" {
		t.Fatalf("New = %+v", a)
	}
	for tok, want := range map[string]string{"123:abc": "123", "abc": "", ":x": "", "12a:x": "", "-5:x": "", "": ""} {
		if got := BotIDFromToken(tok); got != want {
			t.Errorf("BotIDFromToken(%q) = %q, want %q", tok, got, want)
		}
	}
}

var configTelegram = config.Telegram{Token: "7012345678:AAfake", SecretToken: "s3cr3t", APIBase: "https://api.telegram.org"}
