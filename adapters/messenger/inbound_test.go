package messenger

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/adapters/meta/metatest"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Fake credentials: never real ones. testAppID is above 2^53 so that an
// app id passed through float64 would not match it.
const (
	testSecret      = "fake-messenger-app-secret"
	testVerifyToken = "fake-verify-token"
	testAppID       = "9007199254740993"
)

func testAdapter() *Adapter {
	return &Adapter{
		Connection:  "fb",
		Signature:   meta.Signer{Secret: []byte(testSecret)},
		VerifyToken: []byte(testVerifyToken),
		AppID:       testAppID,
		APIBase:     "http://127.0.0.1:1/v25.0",
	}
}

// signed returns the headers Meta would send with body.
func signed(body []byte) adapters.Header { return metatest.Signed(testSecret, body) }

// TestGolden runs every testdata/inbound/<case>.json through Verify and
// Parse and compares the events with <case>.golden.json.
func TestGolden(t *testing.T) {
	metatest.Golden(t, testAdapter(), testSecret, metatest.Check(Name))
}

// checkInvariants holds for every event Parse emits.
func checkInvariants(t testing.TB, evs []normalize.Event) {
	t.Helper()
	metatest.CheckEvents(t, Name, evs)
}

func TestParseAppendsAndKeepsDst(t *testing.T) {
	a := testAdapter()
	body := adaptertest.ReadFixture(t, "text.json")
	prev := []normalize.Event{{ID: "x", Type: normalize.TypeText, Channel: "web"}}
	got, err := a.Parse(prev, body)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "x" || got[1].Type != normalize.TypeText {
		t.Fatalf("Parse did not append: %+v", got)
	}
	// A refused batch returns dst as it was, nothing half-appended.
	bad := []byte(`{"object":"page","entry":[{"id":"1","messaging":[` +
		`{"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1,"message":{"mid":"m1","text":"ok"}},` +
		`{"sender":{"id":2},"recipient":{"id":"1"},"timestamp":2,"message":{"mid":"m2","text":"bad"}}]}]}`)
	got2, err := a.Parse(got, bad)
	if err == nil {
		t.Fatal("accepted a batch with a bad item")
	}
	if len(got2) != 2 || &got2[0] != &got[0] {
		t.Fatalf("refused batch changed dst: len %d", len(got2))
	}
}

// Events own their memory: scribbling over the body (fasthttp reuses it)
// or parsing another body changes nothing.
func TestParseDoesNotAlias(t *testing.T) {
	adaptertest.NoAlias(t, testAdapter(), adaptertest.ReadFixture(t, "batch_two_pages.json"))
}

// The same webhook retried gives the same ids; two deliveries of one
// message in different batches share its id.
func TestIDsStable(t *testing.T) {
	a := testAdapter()
	adaptertest.StableIDs(t, a)
	single, _ := a.Parse(nil, adaptertest.ReadFixture(t, "text.json"))
	batch := []byte(`{"object":"page","entry":[{"id":"106123456789012","time":1718000009999,"messaging":[` +
		`{"sender":{"id":"7023456789012345"},"recipient":{"id":"106123456789012"},"timestamp":1718000000000,"message":{"mid":"m_other","text":"x"}},` +
		`{"sender":{"id":"7023456789012345"},"recipient":{"id":"106123456789012"},"timestamp":1718000000001,"message":{"mid":"m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P","text":"hello, world!"}}]}]}`)
	rebatched, err := a.Parse(nil, batch)
	if err != nil {
		t.Fatal(err)
	}
	if single[0].ID != rebatched[1].ID {
		t.Errorf("re-batched message id %q, alone %q", rebatched[1].ID, single[0].ID)
	}
}

func TestBatchSameID(t *testing.T) {
	evs, err := testAdapter().Parse(nil, adaptertest.ReadFixture(t, "batch_same_id.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("got %d events", len(evs))
	}
	// Exact repeat: same id (dedup drops it). Same watermark, other time:
	// another event, so another id.
	if evs[0].ID != evs[1].ID {
		t.Errorf("identical items got ids %q and %q", evs[0].ID, evs[1].ID)
	}
	if evs[2].ID == evs[0].ID || evs[2].ID != evs[0].ID+"#2" {
		t.Errorf("different item got id %q (first %q)", evs[2].ID, evs[0].ID)
	}
}

func TestOwnEcho(t *testing.T) {
	body := adaptertest.ReadFixture(t, "echo_own_app.json")
	a := testAdapter()
	evs, err := a.Parse(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		AppID string `json:"app_id"`
		Own   bool   `json:"own"`
	}
	if err := json.Unmarshal(evs[0].Metadata, &md); err != nil {
		t.Fatal(err)
	}
	if md.AppID != testAppID || !md.Own {
		t.Fatalf("own echo metadata = %s", evs[0].Metadata)
	}
	// Another app's id one off in the last digit (equal as float64) is
	// not ours.
	a.AppID = "9007199254740992"
	evs, _ = a.Parse(nil, body)
	if bytes.Contains(evs[0].Metadata, []byte(`"own"`)) {
		t.Fatalf("app id compared through float: %s", evs[0].Metadata)
	}
}

func TestParseRefuses(t *testing.T) {
	const (
		pre  = `{"object":"page","entry":[{"id":"1","messaging":[`
		post = `]}]}`
	)
	item := func(s string) string { return pre + s + post }
	tests := []adaptertest.Refusal{
		{"empty body", ``, "malformed_json", ""},
		{"whitespace", "  \n", "malformed_json", ""},
		{"truncated", `{"object":"page","entry":[`, "malformed_json", ""},
		{"trailing garbage", `{"object":"page","entry":[]}x`, "malformed_json", ""},
		{"bad number read", item(`{"sender":{"id":"2"},"timestamp":1-2,"message":{"text":"t"}}`), "malformed_json", "timestamp: invalid number"},
		{"nan read", item(`{"sender":{"id":"2"},"read":{"watermark":NaN}}`), "malformed_json", "read.watermark"},
		{"inf coordinate", item(`{"sender":{"id":"2"},"message":{"attachments":[{"type":"location","payload":{"coordinates":{"lat":-Inf,"long":2}}}]}}`), "malformed_json", "lat"},
		{"bad number copied", item(`{"sender":{"id":"2"},"delivery":{"watermark":1,"seq":1.2.3}}`), "malformed_json", "delivery"},
		{"bad number in unknown data", item(`{"sender":{"id":"2"},"x":{"n":1e}}`), "malformed_json", "invalid number"},
		{"bad app id", item(`{"sender":{"id":"1"},"recipient":{"id":"2"},"message":{"is_echo":true,"app_id":12-3,"mid":"m"}}`), "malformed_json", "message.app_id"},
		{"deep nesting", `{"object":"page","entry":[],"x":` + strings.Repeat("[", 400) + strings.Repeat("]", 400) + `}`, "malformed_json", ""},
		{"top-level array", `[]`, "wrong_type", "body"},
		{"top-level string", `"page"`, "wrong_type", "body"},
		{"instagram", `{"object":"instagram","entry":[]}`, "unknown_object", "instagram"},
		{"whatsapp", `{"object":"whatsapp_business_account","entry":[]}`, "unknown_object", ""},
		{"no object", `{"entry":[]}`, "unknown_object", "missing"},
		{"empty object", `{}`, "unknown_object", ""},
		{"object number", `{"object":1,"entry":[]}`, "wrong_type", "object"},
		{"entry not array", `{"object":"page","entry":{}}`, "wrong_type", "entry: want array, got object"},
		{"entry item not object", `{"object":"page","entry":[1]}`, "wrong_type", "entry[0]: want object"},
		{"entry id number", `{"object":"page","entry":[{"id":1,"messaging":[]}]}`, "wrong_type", "entry[0].id"},
		{"messaging not array", `{"object":"page","entry":[{"id":"1","messaging":"x"}]}`, "wrong_type", "entry[0].messaging: want array"},
		{"item not object", item(`[]`), "wrong_type", "entry[0].messaging[0]: want object"},
		{"sender id number", item(`{"sender":{"id":2},"recipient":{"id":"1"},"message":{"mid":"m","text":"t"}}`), "wrong_type", "entry[0].messaging[0].sender.id: want string, got number"},
		{"sender id huge number", item(`{"sender":{"id":123456789012345678901234567890},"recipient":{"id":"1"},"message":{"text":"t"}}`), "wrong_type", "sender.id"},
		{"sender not object", item(`{"sender":"2","recipient":{"id":"1"},"message":{"text":"t"}}`), "wrong_type", "sender"},
		{"missing sender", item(`{"recipient":{"id":"1"},"timestamp":1,"message":{"mid":"m","text":"t"}}`), "missing_field", "entry[0].messaging[0].sender.id"},
		{"missing sender second item", item(`{"sender":{"id":"2"},"message":{"text":"a"}},{"sender":{},"message":{"text":"t"}}`), "missing_field", "entry[0].messaging[1].sender.id"},
		{"missing sender on read", item(`{"recipient":{"id":"1"},"read":{"watermark":1}}`), "missing_field", "sender.id"},
		{"missing recipient on echo", item(`{"sender":{"id":"1"},"message":{"is_echo":true,"mid":"m","text":"t"}}`), "missing_field", "recipient.id"},
		{"missing page", `{"object":"page","entry":[{"messaging":[{"sender":{"id":"2"},"message":{"text":"t"}}]}]}`, "missing_field", "entry[0].id"},
		{"text number", item(`{"sender":{"id":"2"},"message":{"mid":"m","text":5}}`), "wrong_type", "message.text: want string"},
		{"message string", item(`{"sender":{"id":"2"},"message":"hi"}`), "wrong_type", "message: want object"},
		{"is_echo string", item(`{"sender":{"id":"2"},"message":{"is_echo":"true","text":"t"}}`), "wrong_type", "message.is_echo"},
		{"attachments object", item(`{"sender":{"id":"2"},"message":{"attachments":{}}}`), "wrong_type", "message.attachments: want array"},
		{"attachment url number", item(`{"sender":{"id":"2"},"message":{"attachments":[{"type":"image","payload":{"url":"u"}},{"type":"image","payload":{"url":1}}]}}`), "wrong_type", "entry[0].messaging[0].message.attachments[1].payload.url"},
		{"attachment type number", item(`{"sender":{"id":"2"},"message":{"attachments":[{"type":1}]}}`), "wrong_type", "attachments[0].type"},
		{"location lat string", item(`{"sender":{"id":"2"},"message":{"attachments":[{"type":"location","payload":{"coordinates":{"lat":"1","long":2}}}]}}`), "wrong_type", "payload.coordinates.lat"},
		{"location long missing", item(`{"sender":{"id":"2"},"message":{"attachments":[{"type":"location","payload":{"coordinates":{"lat":1}}}]}}`), "missing_field", "payload.coordinates.long"},
		{"location lat overflow", item(`{"sender":{"id":"2"},"message":{"attachments":[{"type":"location","payload":{"coordinates":{"lat":1e999,"long":2}}}]}}`), "wrong_type", "lat: want a finite number"},
		{"timestamp string", item(`{"sender":{"id":"2"},"timestamp":"1718000000000","message":{"text":"t"}}`), "wrong_type", "timestamp"},
		{"timestamp float", item(`{"sender":{"id":"2"},"timestamp":1.5,"message":{"text":"t"}}`), "wrong_type", "timestamp"},
		{"timestamp huge", item(`{"sender":{"id":"2"},"timestamp":99999999999999999999999,"message":{"text":"t"}}`), "wrong_type", "timestamp"},
		{"timestamp negative", item(`{"sender":{"id":"2"},"timestamp":-1,"message":{"text":"t"}}`), "wrong_type", "timestamp"},
		{"timestamp year 10000", item(`{"sender":{"id":"2"},"timestamp":253402300800000,"message":{"text":"t"}}`), "wrong_type", "out of range"},
		{"app id float", item(`{"sender":{"id":"1"},"recipient":{"id":"2"},"message":{"is_echo":true,"app_id":1.5,"mid":"m"}}`), "wrong_type", "message.app_id"},
		{"app id negative", item(`{"sender":{"id":"1"},"recipient":{"id":"2"},"message":{"is_echo":true,"app_id":-1,"mid":"m"}}`), "wrong_type", "message.app_id"},
		{"app id bool", item(`{"sender":{"id":"1"},"recipient":{"id":"2"},"message":{"is_echo":true,"app_id":true,"mid":"m"}}`), "wrong_type", "message.app_id"},
		{"watermark string", item(`{"sender":{"id":"2"},"read":{"watermark":"1"}}`), "wrong_type", "read.watermark"},
		{"postback payload number", item(`{"sender":{"id":"2"},"postback":{"payload":1}}`), "wrong_type", "postback.payload"},
		{"read not object", item(`{"sender":{"id":"2"},"read":1}`), "wrong_type", "read: want object"},
		{"edit without mid", item(`{"sender":{"id":"2"},"message_edit":{"text":"x","num_edit":1}}`), "missing_field", "message_edit.mid"},
		{"optin without anyone", item(`{"recipient":{"id":"1"},"optin":{"ref":"x"}}`), "missing_field", "sender.id"},
		{"second entry bad", `{"object":"page","entry":[{"id":"1","messaging":[]},{"id":"1","standby":[{"sender":{"id":7}}]}]}`, "wrong_type", "entry[1].standby[0].sender.id"},
	}
	adaptertest.Refuses(t, testAdapter(), tests)
}

// Bodies that are odd but acceptable parse without error.
func TestParseAccepts(t *testing.T) {
	tests := []adaptertest.Acceptance{
		{"no entry", `{"object":"page"}`, 0, ""},
		{"entry null", `{"object":"page","entry":null}`, 0, ""},
		{"empty entry", `{"object":"page","entry":[]}`, 0, ""},
		{"entry without messaging", `{"object":"page","entry":[{"id":"1","time":1}]}`, 0, ""},
		{"feed changes ignored", `{"object":"page","entry":[{"id":"1","changes":[{"field":"feed","value":{}}]}]}`, 0, ""},
		{"unknown key", `{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":5,"game_play":{"game_id":"g"}}]}]}`, 1, normalize.TypeUnknown},
		{"unknown key no sender", `{"object":"page","entry":[{"id":"1","messaging":[{"recipient":{"id":"1"},"something_new":1}]}]}`, 1, normalize.TypeUnknown},
		{"item with no key", `{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"}}]}]}`, 1, normalize.TypeUnknown},
		{"page from recipient", `{"object":"page","entry":[{"messaging":[{"sender":{"id":"2"},"recipient":{"id":"1"},"message":{"mid":"m","text":"t"}}]}]}`, 1, normalize.TypeText},
		{"empty message", `{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"message":{"mid":"m"}}]}]}`, 1, normalize.TypeUnknown},
		{"null fields", `{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"timestamp":null,"message":{"mid":"m","text":"t","quick_reply":null,"attachments":null,"reply_to":null}}]}]}`, 1, normalize.TypeText},
		{"escaped keys", `{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"\u0069d":"2"},"message":{"te\u0078t":"t"}}]}]}`, 1, normalize.TypeText},
		{"huge app id in echo", `{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"1"},"recipient":{"id":"2"},"message":{"is_echo":true,"app_id":123456789012345678901234567890,"mid":"m"}}]}]}`, 1, normalize.TypeEcho},
		{"location without coordinates", `{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"message":{"mid":"m","attachments":[{"type":"location","payload":{"url":"u"}}]}}]}]}`, 1, normalize.TypeAttachment},
		// Unread parts are not validated (see Parse): the events stay valid.
		{"bad number unread", `{"object":"page","entry":[],"n":1-2}`, 0, ""},
		{"nan unread", `{"object":"page","entry":[{"id":"1","time":NaN}]}`, 0, ""},
		{"control chars in text", "{\"object\":\"page\",\"entry\":[{\"id\":\"1\",\"messaging\":[{\"sender\":{\"id\":\"2\"},\"message\":{\"text\":\"a\x01b\\x\\ud800\"}}]}]}", 1, normalize.TypeText},
		{"attachment without type", `{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"message":{"mid":"m","attachments":[{"payload":{"url":"u"}}]}}]}]}`, 1, normalize.TypeAttachment},
	}
	adaptertest.Accepts(t, testAdapter(), tests, metatest.Check(Name))
}

func TestVerify(t *testing.T) {
	metatest.Verify(t, testAdapter(), testSecret, adaptertest.ReadFixture(t, "text.json"))
	noSecret := &Adapter{Connection: "fb"}
	body := adaptertest.ReadFixture(t, "text.json")
	if err := noSecret.Verify(signed(body), body); !errors.Is(err, adapters.ErrBadSignature) {
		t.Fatalf("adapter without a secret: err = %v", err)
	}
}

func TestHandshake(t *testing.T) {
	metatest.Handshake(t, testAdapter(), testVerifyToken)
}

// A suffixed id never lands on an id the batch already uses.
func TestUniqueIDsSuffixCollision(t *testing.T) {
	body := []byte(`{"object":"page","entry":[{"id":"1","messaging":[` +
		`{"sender":{"id":"2"},"timestamp":1,"message":{"mid":"m#2","text":"a"}},` +
		`{"sender":{"id":"2"},"timestamp":1,"message":{"mid":"m","text":"b"}},` +
		`{"sender":{"id":"2"},"timestamp":1,"message":{"mid":"m","text":"c"}},` +
		`{"sender":{"id":"2"},"timestamp":1,"message":{"mid":"m","text":"b"}},` +
		`{"sender":{"id":"2"},"timestamp":1,"message":{"mid":"m","text":"c"}}]}]}`)
	evs, err := testAdapter().Parse(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"messenger:m#2", "messenger:m", "messenger:m#3", "messenger:m", "messenger:m#3"}
	for i := range evs {
		if evs[i].ID != want[i] {
			t.Errorf("event %d id %q, want %q", i, evs[i].ID, want[i])
		}
	}
	checkInvariants(t, evs)
}

// TestTypeConfusion replaces every value of every fixture, one at a time,
// with values of every JSON type: Parse must never panic, must refuse with
// an InputError or accept, and what it accepts must hold the invariants.
func TestTypeConfusion(t *testing.T) {
	n := adaptertest.TypeConfusion(t, testAdapter(), metatest.Check(Name))
	t.Logf("%d mutated bodies", n)
}
