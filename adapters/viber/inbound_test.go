package viber

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Fake credentials: never real ones.
const (
	testToken = "fake-viber-auth-token-4c1b0e"
	testBotID = "acme-support"
)

func testAdapter() *Adapter {
	return &Adapter{
		Connection: "vb",
		BotID:      testBotID,
		AuthToken:  []byte(testToken),
		APIBase:    "http://127.0.0.1:1/pa",
	}
}

// sign is an independent reference for X-Viber-Content-Signature: the
// recipe of channels/telegram-viber.md §2.3.
func sign(token string, body []byte) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// signed returns the headers Viber would send with body.
func signed(body []byte) adapters.Header {
	h := adapters.Header{}
	h.Set(SignatureHeader, sign(testToken, body))
	return h
}

// TestGolden runs every testdata/inbound/<case>.json through Verify and
// Parse and compares the events with <case>.golden.json.
func TestGolden(t *testing.T) {
	adaptertest.Golden(t, testAdapter(), func(body []byte) adapters.Peeker { return signed(body) }, checkInvariants)
}

// checkInvariants holds for every event list Parse returns: at most one
// event per callback, holding what every channel's do
// (adaptertest.CheckEvents) and Viber's own.
func checkInvariants(t testing.TB, evs []normalize.Event) {
	t.Helper()
	if len(evs) > 1 {
		t.Errorf("one callback gave %d events", len(evs))
	}
	adaptertest.CheckEvents(t, Name, evs)
	for i := range evs {
		e := &evs[i]
		if e.BotID != testBotID {
			t.Errorf("event %d bot id %q", i, e.BotID)
		}
		if e.ChannelID != "" {
			if b, c, err := normalize.ParseResponsePath(e.ResponsePath); err != nil || b != e.BotID || c != e.ChannelID {
				t.Errorf("event %d path %q splits into %q %q %v", i, e.ResponsePath, b, c, err)
			}
		}
	}
}

func TestWebhookProbe(t *testing.T) {
	a := testAdapter()
	body := adaptertest.ReadFixture(t, "webhook.json")
	if err := a.Verify(signed(body), body); err != nil {
		t.Fatal(err)
	}
	dst := []normalize.Event{{ID: "x"}}
	evs, err := a.Parse(dst, body)
	if err != nil || len(evs) != 1 {
		t.Fatalf("webhook probe: %d events, %v; want none and accepted", len(evs)-1, err)
	}
}

// Sender ids keep + / = exactly, in the channel id, the sender and the
// response path: nothing is URL-escaped here.
func TestIDsWithPlusSlashEquals(t *testing.T) {
	evs, err := testAdapter().Parse(nil, adaptertest.ReadFixture(t, "message_text.json"))
	if err != nil {
		t.Fatal(err)
	}
	e := evs[0]
	const id = "r/Zx0w9Q+Pu1tKd8Vm2sLg=="
	if e.ChannelID != id || e.Sender.ID != id || e.ResponsePath != testBotID+"/c/"+id {
		t.Fatalf("ids changed: channel %q sender %q path %q", e.ChannelID, e.Sender.ID, e.ResponsePath)
	}
	if normalize.ResponsePath(e.ResponsePath).ChannelID() != id {
		t.Fatalf("path does not split back to %q", id)
	}
}

// message_token above 2^53 stays exact: 9007199254740993 is 2^53+1, which
// a float64 rounds to ...992.
func TestMessageTokenExact(t *testing.T) {
	a := testAdapter()
	for file, want := range map[string]string{
		"message_token_2pow53_plus1.json": "9007199254740993",
		"message_text.json":               "5741311803571721087",
		"message_token_string.json":       "912661846655238145",
	} {
		evs, err := a.Parse(nil, adaptertest.ReadFixture(t, file))
		if err != nil {
			t.Fatal(err)
		}
		if evs[0].NativeID != want || !strings.HasSuffix(evs[0].ID, ":"+want) {
			t.Errorf("%s: native %q id %q, want token %s", file, evs[0].NativeID, evs[0].ID, want)
		}
	}
}

// delivered, seen and failed of one outbound token are three events; the
// same receipt for two users of a broadcast are two.
func TestReceiptIDsDistinct(t *testing.T) {
	a := testAdapter()
	ids := map[string]string{}
	for _, f := range []string{"delivered.json", "seen.json", "failed.json", "message_text.json"} {
		evs, err := a.Parse(nil, adaptertest.ReadFixture(t, f))
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := ids[evs[0].ID]; ok {
			t.Errorf("%s and %s share id %q", prev, f, evs[0].ID)
		}
		ids[evs[0].ID] = f
	}
	other := bytes.Replace(adaptertest.ReadFixture(t, "delivered.json"), []byte("r/Zx0w9Q+Pu1tKd8Vm2sLg=="), []byte("01234567890A="), 1)
	evs, err := a.Parse(nil, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ids[evs[0].ID]; ok {
		t.Errorf("the receipt of another user got the same id %q", evs[0].ID)
	}
}

func TestParseAppendsAndKeepsDst(t *testing.T) {
	a := testAdapter()
	prev := []normalize.Event{{ID: "x", Type: normalize.TypeText, Channel: "web"}}
	got, err := a.Parse(prev, adaptertest.ReadFixture(t, "message_text.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "x" || got[1].Type != normalize.TypeText {
		t.Fatalf("Parse did not append: %+v", got)
	}
	got2, err := a.Parse(got, []byte(`{"event":"message","message":{"type":"text","text":"no sender"}}`))
	if err == nil || len(got2) != 2 {
		t.Fatalf("refused body changed dst: %d events, %v", len(got2), err)
	}
}

// Events own their memory: scribbling over the body (fasthttp reuses it)
// or parsing another body changes nothing.
func TestParseDoesNotAlias(t *testing.T) {
	adaptertest.NoAlias(t, testAdapter(), adaptertest.ReadFixture(t, "message_picture.json"))
}

func TestIDsStable(t *testing.T) {
	a := testAdapter()
	adaptertest.StableIDs(t, a)
	// Without token or timestamp the id hashes the body.
	b1 := []byte(`{"event":"message","sender":{"id":"A="},"message":{"type":"text","text":"1"}}`)
	b2 := []byte(`{"event":"message","sender":{"id":"A="},"message":{"type":"text","text":"2"}}`)
	e1, _ := a.Parse(nil, b1)
	e2, _ := a.Parse(nil, b2)
	e3, _ := a.Parse(nil, bytes.Clone(b1))
	if e1[0].ID == e2[0].ID || e1[0].ID != e3[0].ID || !strings.HasPrefix(e1[0].ID, "viber:message:A=:h") {
		t.Errorf("hash ids: %q %q %q", e1[0].ID, e2[0].ID, e3[0].ID)
	}
}

func TestParseRefuses(t *testing.T) {
	msg := func(m string) string {
		return `{"event":"message","timestamp":1,"message_token":1,"sender":{"id":"A="},"message":` + m + `}`
	}
	tests := []adaptertest.Refusal{
		{"empty body", ``, "malformed_json", ""},
		{"whitespace", "  \n", "malformed_json", ""},
		{"truncated", `{"event":"message",`, "malformed_json", ""},
		{"trailing garbage", `{"event":"seen"}x`, "malformed_json", ""},
		{"bad number", `{"event":"seen","message_token":1-2}`, "malformed_json", ""},
		{"nan", `{"event":"seen","timestamp":NaN}`, "malformed_json", ""},
		{"control char in string", "{\"event\":\"a\x01b\"}", "malformed_json", ""},
		{"invalid utf-8", "{\"event\":\"message\",\"x\":\"\xff\"}", "malformed_json", "UTF-8"},
		{"deep nesting", `{"event":"x","x":` + strings.Repeat("[", 400) + strings.Repeat("]", 400) + `}`, "malformed_json", ""},
		{"top-level array", `[]`, "wrong_type", "body"},
		{"top-level string", `"message"`, "wrong_type", "body"},
		{"no event", `{"timestamp":1}`, "missing_field", "event"},
		{"empty event", `{"event":""}`, "missing_field", "event"},
		{"event number", `{"event":1}`, "wrong_type", "event: want string"},
		{"timestamp string", `{"event":"seen","user_id":"A","timestamp":"1"}`, "wrong_type", "timestamp"},
		{"timestamp float", `{"event":"seen","user_id":"A","timestamp":1.5}`, "wrong_type", "timestamp"},
		{"timestamp negative", `{"event":"seen","user_id":"A","timestamp":-1}`, "wrong_type", "timestamp"},
		{"timestamp year 10000", `{"event":"seen","user_id":"A","timestamp":253402300800000}`, "wrong_type", "out of range"},
		{"token float", `{"event":"seen","user_id":"A","message_token":1.5e18}`, "wrong_type", "message_token"},
		{"token negative", `{"event":"seen","user_id":"A","message_token":-5}`, "wrong_type", "message_token"},
		{"token bool", `{"event":"seen","user_id":"A","message_token":true}`, "wrong_type", "message_token"},
		{"token words", `{"event":"seen","user_id":"A","message_token":"12ab"}`, "wrong_type", "message_token"},
		{"token huge", `{"event":"seen","user_id":"A","message_token":123456789012345678901234567890}`, "wrong_type", "message_token"},
		{"message without sender", `{"event":"message","message_token":1,"message":{"type":"text","text":"t"}}`, "missing_field", "sender: required"},
		{"sender without id", `{"event":"message","sender":{"name":"x"},"message":{"type":"text","text":"t"}}`, "missing_field", "sender.id"},
		{"sender id empty", `{"event":"message","sender":{"id":""},"message":{"type":"text","text":"t"}}`, "missing_field", "sender.id"},
		{"sender id number", `{"event":"message","sender":{"id":5},"message":{"type":"text"}}`, "wrong_type", "sender.id: want string"},
		{"sender string", `{"event":"message","sender":"A=","message":{"type":"text"}}`, "wrong_type", "sender: want object"},
		{"sender name number", `{"event":"message","sender":{"id":"A","name":1},"message":{"type":"text"}}`, "wrong_type", "sender.name"},
		{"no message", `{"event":"message","sender":{"id":"A"}}`, "missing_field", "message: required"},
		{"message string", `{"event":"message","sender":{"id":"A"},"message":"hi"}`, "wrong_type", "message: want object"},
		{"no message type", msg(`{"text":"t"}`), "missing_field", "message.type"},
		{"text number", msg(`{"type":"text","text":5}`), "wrong_type", "message.text"},
		{"media number", msg(`{"type":"picture","media":5}`), "wrong_type", "message.media"},
		{"file_size string", msg(`{"type":"file","media":"u","file_size":"5"}`), "wrong_type", "message.file_size"},
		{"file_size negative", msg(`{"type":"file","media":"u","file_size":-5}`), "wrong_type", "negative"},
		{"sticker id float", msg(`{"type":"sticker","sticker_id":1.5}`), "wrong_type", "message.sticker_id"},
		{"contact missing", msg(`{"type":"contact"}`), "missing_field", "message.contact"},
		{"contact phone number", msg(`{"type":"contact","contact":{"name":"a","phone_number":1}}`), "wrong_type", "message.contact.phone_number"},
		{"location missing", msg(`{"type":"location"}`), "missing_field", "message.location"},
		{"location lon missing", msg(`{"type":"location","location":{"lat":1}}`), "missing_field", "message.location.lon"},
		{"location lat string", msg(`{"type":"location","location":{"lat":"1","lon":2}}`), "wrong_type", "message.location.lat"},
		{"location overflow", msg(`{"type":"location","location":{"lat":1e999,"lon":2}}`), "wrong_type", "finite"},
		{"tracking data object", msg(`{"type":"text","text":"t","tracking_data":{}}`), "wrong_type", "message.tracking_data"},
		{"silent string", `{"event":"message","silent":"yes","sender":{"id":"A"},"message":{"type":"text"}}`, "wrong_type", "silent"},
		{"subscribed without user", `{"event":"subscribed","message_token":1}`, "missing_field", "user: required"},
		{"subscribed user id number", `{"event":"subscribed","user":{"id":1}}`, "wrong_type", "user.id"},
		{"conversation without user", `{"event":"conversation_started","type":"open"}`, "missing_field", "user"},
		{"conversation subscribed string", `{"event":"conversation_started","user":{"id":"A"},"subscribed":"no"}`, "wrong_type", "subscribed"},
		{"unsubscribed without user_id", `{"event":"unsubscribed","message_token":1}`, "missing_field", "user_id"},
		{"delivered user_id number", `{"event":"delivered","user_id":7}`, "wrong_type", "user_id"},
		{"seen without user_id", `{"event":"seen","message_token":1}`, "missing_field", "user_id"},
		{"failed desc number", `{"event":"failed","user_id":"A","desc":1}`, "wrong_type", "desc"},
	}
	adaptertest.Refuses(t, testAdapter(), tests)
}

// Bodies that are odd but acceptable parse without error.
func TestParseAccepts(t *testing.T) {
	tests := []adaptertest.Acceptance{
		{"webhook minimal", `{"event":"webhook"}`, 0, ""},
		{"webhook with odd fields", `{"event":"webhook","message_token":"x","user":5}`, 0, ""},
		{"unknown event bad fields", `{"event":"new_kind","user_id":5,"sender":"x","user":{"id":7}}`, 1, normalize.TypeUnknown},
		{"unknown event sender", `{"event":"new_kind","sender":{"id":"S="}}`, 1, normalize.TypeUnknown},
		{"null fields", `{"event":"message","timestamp":null,"message_token":null,"sender":{"id":"A","name":null},"message":{"type":"text","text":"t","tracking_data":null},"silent":null}`, 1, normalize.TypeText},
		{"escaped keys", `{"ev\u0065nt":"message","sender":{"\u0069d":"A"},"message":{"type":"text","te\u0078t":"t"}}`, 1, normalize.TypeText},
		{"empty text", `{"event":"message","sender":{"id":"A"},"message":{"type":"text","text":""}}`, 1, normalize.TypeText},
		{"url without media", `{"event":"message","sender":{"id":"A"},"message":{"type":"url","text":"https://x.example"}}`, 1, normalize.TypeText},
		{"picture without media", `{"event":"message","sender":{"id":"A"},"message":{"type":"picture"}}`, 1, normalize.TypeAttachment},
		{"sticker id string", `{"event":"message","sender":{"id":"A"},"message":{"type":"sticker","sticker_id":"40100"}}`, 1, normalize.TypeAttachment},
		{"token zero", `{"event":"seen","user_id":"A","message_token":0}`, 1, normalize.TypeRead},
		{"no bot id", `{"event":"seen","user_id":"A","message_token":1}`, 1, normalize.TypeRead},
		{"location with address", `{"event":"message","sender":{"id":"A"},"message":{"type":"location","location":{"lat":-33.8,"lon":151.2,"address":"Sydney"}}}`, 1, normalize.TypeLocation},
	}
	adaptertest.Accepts(t, testAdapter(), tests, checkInvariants)
	b := testAdapter()
	b.BotID = ""
	evs, err := b.Parse(nil, []byte(`{"event":"seen","user_id":"A","message_token":1}`))
	if err != nil || evs[0].ResponsePath != "" || evs[0].ChannelID != "A" {
		t.Errorf("without a bot id: %+v %v", evs, err)
	}
}

func TestVerify(t *testing.T) {
	a := testAdapter()
	body := adaptertest.ReadFixture(t, "message_text.json")
	good := sign(testToken, body)
	if err := a.Verify(signed(body), body); err != nil {
		t.Fatalf("good signature refused: %v", err)
	}
	tampered := bytes.Replace(body, []byte("parcel"), []byte("pardel"), 1)
	h := func(v string) adapters.Header { return adapters.Header{"X-Viber-Content-Signature": v} }
	tests := []struct {
		name string
		h    adapters.Header
		body []byte
		want error
	}{
		{"good", h(good), body, nil},
		{"upper-case hex", h(strings.ToUpper(good)), body, nil},
		{"mixed-case hex", h(strings.ToUpper(good[:10]) + good[10:]), body, nil},
		{"header name any case", lower(good), body, nil},
		{"empty body signed", h(sign(testToken, nil)), []byte{}, nil},
		{"wrong token", h(sign("not-the-token", body)), body, adapters.ErrBadSignature},
		{"tampered body", h(good), tampered, adapters.ErrBadSignature},
		{"trailing newline", h(good), append(bytes.Clone(body), '\n'), adapters.ErrBadSignature},
		{"not hex", h(strings.Repeat("zz", 32)), body, adapters.ErrBadSignature},
		{"truncated", h(good[:62]), body, adapters.ErrBadSignature},
		{"too long", h(good + "00"), body, adapters.ErrBadSignature},
		{"sha256= prefix", h("sha256=" + good), body, adapters.ErrBadSignature},
		{"trailing space", h(good + " "), body, adapters.ErrBadSignature},
		{"missing", adapters.Header{}, body, adapters.ErrMissingSignature},
		{"empty", h(""), body, adapters.ErrMissingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.Verify(tt.h, tt.body)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			// Package-prefixed sentinels.
			if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMissingSignature) || !strings.HasPrefix(err.Error(), "viber: ") {
				t.Errorf("err %q does not wrap the viber sentinels", err)
			}
		})
	}
	noToken := testAdapter()
	noToken.AuthToken = nil
	if err := noToken.Verify(h(sign("", body)), body); !errors.Is(err, adapters.ErrBadSignature) {
		t.Fatalf("adapter without a token: err = %v", err)
	}
}

// lower sets the header under its lower-case name, as HTTP/2 sends it.
func lower(v string) adapters.Header {
	h := adapters.Header{}
	h.Set("x-viber-content-signature", v)
	return h
}

func TestSign(t *testing.T) {
	a := testAdapter()
	for _, body := range [][]byte{nil, {}, adaptertest.ReadFixture(t, "message_text.json"), bytes.Repeat([]byte("x"), 10000)} {
		if got, want := string(a.Sign(nil, body)), sign(testToken, body); got != want {
			t.Errorf("Sign(%d bytes) = %s, want %s", len(body), got, want)
		}
	}
	if got := string(a.Sign([]byte("x:"), nil)); got != "x:"+sign(testToken, nil) {
		t.Errorf("Sign did not append: %q", got)
	}
}

func TestNew(t *testing.T) {
	a := New("vb", &config.Viber{BotID: "b1", AuthToken: "tok", APIBase: "https://chatapi.viber.com/pa"})
	if a.Connection != "vb" || a.BotID != "b1" || string(a.AuthToken) != "tok" || a.APIBase != "https://chatapi.viber.com/pa" {
		t.Fatalf("New = %+v", a)
	}
}
