package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/adapters/meta/metatest"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Fake credentials only. The -update flag is adaptertest.Update.
const (
	fakeSecret = "fake-whatsapp-app-secret"
	fakeVerify = "fake-whatsapp-verify-token"
	phoneID    = "106540352242922"
	fakeToken  = "fake-wa-system-user-token"
)

func newTestAdapter() *Adapter {
	return New("wa", &config.WhatsApp{
		Meta:         config.Meta{AppSecret: fakeSecret, VerifyToken: fakeVerify, AppID: "1000000000001", APIBase: "https://graph.example/v25.0"},
		PhoneNumbers: []config.Account{{ID: phoneID, AccessToken: fakeToken}},
	})
}

func readFixture(t testing.TB, name string) []byte { return adaptertest.ReadFixture(t, name+".json") }

// TestInboundGolden verifies and parses every fixture and compares the
// events with <case>.golden.json (the harness every channel shares),
// checking what WhatsApp adds to the Meta invariants on the way.
func TestInboundGolden(t *testing.T) {
	metatest.Golden(t, newTestAdapter(), fakeSecret, assertEvents)
}

// assertEvents checks, beyond metatest.CheckEvents, what holds for every
// WhatsApp event: the connection, a sender only when the person acted and
// then the channel id, and status ids keyed by (wamid, status).
func assertEvents(t testing.TB, evs []normalize.Event) {
	t.Helper()
	metatest.CheckEvents(t, Name, evs)
	for i := range evs {
		e := &evs[i]
		switch {
		case e.Connection != "wa":
			t.Errorf("event %d: connection %q", i, e.Connection)
		case e.Sender.ID != "" && e.Sender.ID != e.ChannelID:
			t.Errorf("event %d: sender %q is not the channel id %q", i, e.Sender.ID, e.ChannelID)
		case e.Type == normalize.TypeStatus && (!strings.HasPrefix(e.ID, "whatsapp:status:") || e.Sender != (normalize.Sender{})):
			t.Errorf("status event %d: id %q sender %+v", i, e.ID, e.Sender)
		}
	}
}

// TestInboundMapping pins the decisions README.md documents, one field at
// a time, so that a golden rewrite cannot silently change them.
func TestInboundMapping(t *testing.T) {
	a := newTestAdapter()
	one := func(name string) normalize.Event {
		t.Helper()
		evs, err := a.Parse(nil, readFixture(t, name))
		if err != nil || len(evs) != 1 {
			t.Fatalf("%s: %d events, %v", name, len(evs), err)
		}
		return evs[0]
	}
	md := func(e normalize.Event) map[string]any {
		t.Helper()
		m := map[string]any{}
		if len(e.Metadata) > 0 {
			if err := json.Unmarshal(e.Metadata, &m); err != nil {
				t.Fatal(err)
			}
		}
		return m
	}
	const user, wamidText = "16505551234", "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ001AA=="

	e := one("text")
	if e.ID != "whatsapp:"+wamidText || e.NativeID != wamidText || e.BotID != phoneID || e.ChannelID != user ||
		e.Sender != (normalize.Sender{ID: user, Name: "Kerry Fisher"}) || e.Type != normalize.TypeText ||
		!e.Timestamp.Equal(time.Unix(1718000000, 0)) || e.Text != "Hello, is the shop open today?" || e.Metadata != nil {
		t.Errorf("text: %+v", e)
	}
	if e := one("text_reply_context"); !strings.Contains(e.ReplyTo, "bot1") {
		t.Errorf("reply_to %q", e.ReplyTo)
	}
	if m := md(one("text_forwarded")); m["forwarded"] != true || m["frequently_forwarded"] != true {
		t.Errorf("forwarded: %v", m)
	}
	if m := md(one("text_referral_ad")); m["referral"].(map[string]any)["source_type"] != "ad" {
		t.Errorf("referral: %v", m)
	}
	e = one("audio_voice")
	if e.Type != normalize.TypeAttachment || e.Attachments[0].Type != "audio" || e.Attachments[0].MediaID != "1003383421387256" || md(e)["voice"] != true {
		t.Errorf("voice: %+v", e)
	}
	e = one("document")
	if a := e.Attachments[0]; a.Type != "file" || a.Name != "contract 2024.pdf" || a.Caption != "signed contract" || e.Text != "signed contract" || a.MimeType != "application/pdf" {
		t.Errorf("document: %+v", e)
	}
	e = one("location")
	if e.Type != normalize.TypeLocation || e.Location == nil || e.Location.Lat != 37.483307 || e.Location.Name != "Meta Headquarters" || e.Location.Address == "" {
		t.Errorf("location: %+v", e)
	}
	if e := one("contacts"); e.Type != normalize.TypeContact || len(md(e)["contacts"].([]any)) != 1 {
		t.Errorf("contacts: %+v", e)
	}
	for name, want := range map[string][3]string{
		"interactive_button_reply": {"quick_reply", "ORDER_CONFIRM", "Yes, confirm"},
		"interactive_list_reply":   {"quick_reply", "SIZE_M", "Medium"},
		"button_template_reply":    {"quick_reply", "TRACK_ORDER_42", "Track my order"},
		"interactive_nfm_reply":    {"postback", `{"flow_token":"AQAAAAACS5FpgQ_cAAAAAD0QI3s.","appointment_date":"2024-06-12","party_size":4}`, "Sent"},
	} {
		if e := one(name); string(e.Type) != want[0] || e.Payload != want[1] || e.Text != want[2] || e.ReplyTo == "" {
			t.Errorf("%s: %s %q %q reply_to %q", name, e.Type, e.Payload, e.Text, e.ReplyTo)
		}
	}
	if e := one("reaction"); e.Type != normalize.TypeReaction || !strings.Contains(e.ReplyTo, "bot7") || md(e)["emoji"] != "👍" || md(e)["action"] != "react" {
		t.Errorf("reaction: %+v", e)
	}
	if e := one("reaction_removed"); md(e)["action"] != "unreact" || md(e)["emoji"] != nil {
		t.Errorf("reaction removed: %s", e.Metadata)
	}
	if e := one("request_welcome"); e.Type != normalize.TypeConversationStarted {
		t.Errorf("request_welcome: %s", e.Type)
	}
	for name, kind := range map[string]string{"order": "order", "system_changed_number": "system", "unsupported": "unsupported",
		"unknown_type_legacy": "unsupported", "unknown_new_type": "poll", "interactive_call_permission_reply": "interactive"} {
		if e := one(name); e.Type != normalize.TypeUnknown || md(e)["kind"] != kind {
			t.Errorf("%s: %s %s", name, e.Type, e.Metadata)
		}
	}
	if m := md(one("unsupported")); m["errors"].([]any)[0].(map[string]any)["code"] != 131051.0 {
		t.Errorf("unsupported errors: %v", m)
	}

	e = one("from_user_id_only")
	if e.ChannelID != "US.13491208655302741918" || e.Sender.Username != "@sammy" || e.Sender.Name != "Sam" {
		t.Errorf("BSUID only: %+v", e)
	}
	if e := one("from_and_user_id"); e.ChannelID != user || md(e)["user_id"] != "US.13491208655302741918" {
		t.Errorf("wa_id and BSUID: %+v", e)
	}

	e = one("status_failed")
	if e.Type != normalize.TypeStatus || !strings.HasSuffix(e.ID, ":failed") || e.ChannelID != user || e.Sender != (normalize.Sender{}) ||
		md(e)["status"] != "failed" || md(e)["errors"] == nil || !strings.Contains(e.NativeID, "bot1") {
		t.Errorf("failed status: %+v", e)
	}
	if e := one("status_recipient_user_id"); e.ChannelID != "US.13491208655302741918" {
		t.Errorf("status BSUID: %+v", e)
	}
	if m := md(one("status_template_billable")); m["pricing"].(map[string]any)["billable"] != true || m["biz_opaque_callback_data"] != "campaign=spring" {
		t.Errorf("pricing: %v", m)
	}
	e = one("template_status_update")
	if e.Type != normalize.TypeUnknown || e.BotID != "102290129340398" || e.ChannelID != "" || md(e)["kind"] != "message_template_status_update" ||
		!bytes.Contains(e.Metadata, []byte(`"message_template_id":594425479261596`)) {
		t.Errorf("template status update: %+v %s", e, e.Metadata)
	}
	if e := one("value_errors"); e.BotID != phoneID || md(e)["kind"] != "errors" || !strings.HasPrefix(e.ID, "whatsapp:errors:"+phoneID+":") {
		t.Errorf("value errors: %+v", e)
	}
	if e := one("timestamp_number_ms"); !e.Timestamp.Equal(time.UnixMilli(1718000000123)) {
		t.Errorf("ms timestamp %v", e.Timestamp)
	}
	if e := one("big_ids"); e.BotID != "900719925474099312" || e.ChannelID != "998901234567890" {
		t.Errorf("ids: %q %q", e.BotID, e.ChannelID)
	}
}

func TestInboundBatches(t *testing.T) {
	a := newTestAdapter()
	evs, err := a.Parse(nil, readFixture(t, "batch_changes_entries"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, string(e.Type)+" "+e.ResponsePath)
	}
	want := []string{
		"text 106540352242922/c/16505551234",
		"status 106540352242922/c/16505551234",
		"text 200000000000099/c/447700900123",
		"status 200000000000099/c/447700900123",
	}
	if !slices.Equal(got, want) {
		t.Errorf("batch:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if evs[2].Sender.Name != "Ada" {
		t.Errorf("second entry's contact: %+v", evs[2].Sender)
	}

	// Several messages: each its own sender; a repeated message keeps its id.
	evs, err = a.Parse(nil, readFixture(t, "batch_messages"))
	if err != nil || len(evs) != 4 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	if evs[0].Sender.Name != "Kerry Fisher" || evs[1].Sender.Name != "Ada" || evs[0].ID != evs[3].ID || evs[0].ID == evs[1].ID {
		t.Errorf("batch messages: %+v", evs)
	}

	// Statuses out of order: one event each, in Meta's order; the
	// repeated (wamid, status) shares its id so dedup drops it.
	evs, err = a.Parse(nil, readFixture(t, "statuses_out_of_order"))
	if err != nil || len(evs) != 4 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID[strings.LastIndexByte(e.ID, ':')+1:])
	}
	if !slices.Equal(ids, []string{"read", "delivered", "sent", "read"}) || evs[0].ID != evs[3].ID || evs[0].NativeID != evs[1].NativeID {
		t.Errorf("statuses: %v", ids)
	}
}

func TestParseKeepsDst(t *testing.T) {
	a := newTestAdapter()
	prev := []normalize.Event{{ID: "x", Type: normalize.TypeText, Channel: "web"}}
	got, err := a.Parse(prev, readFixture(t, "text"))
	if err != nil || len(got) != 2 || got[0].ID != "x" {
		t.Fatalf("Parse did not append: %+v %v", got, err)
	}
	// A batch with one bad item is refused whole.
	bad := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{` +
		`"metadata":{"phone_number_id":"2"},"messages":[{"from":"3","id":"wamid.a","type":"text","text":{"body":"ok"}},` +
		`{"from":3,"id":"wamid.b","type":"text","text":{"body":"bad"}}]}}]}]}`)
	got2, err := a.Parse(got, bad)
	if err == nil || len(got2) != 2 {
		t.Fatalf("refused batch: %d events, %v", len(got2), err)
	}
}

// Events own their memory, and ids are derived from the payload alone.
func TestParseOwnsMemoryAndStableIDs(t *testing.T) {
	a := newTestAdapter()
	adaptertest.NoAlias(t, a, readFixture(t, "batch_changes_entries"))
	adaptertest.StableIDs(t, a)
	// The same message alone or in a batch keeps its id.
	alone, _ := a.Parse(nil, readFixture(t, "batch_messages"))
	first, _ := a.Parse(nil, []byte(`{"object":"whatsapp_business_account","entry":[{"id":"9","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"106540352242922"},"messages":[`+
		`{"from":"16505551234","id":"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ060AA==","timestamp":"1718000000","type":"text","text":{"body":"first"}}]}}]}]}`))
	if len(first) != 1 || first[0].ID != alone[0].ID {
		t.Errorf("rebatched id %v vs %q", first, alone[0].ID)
	}
}

func TestParseRefuses(t *testing.T) {
	const head = `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"2"},`
	val := func(s string) string { return head + s + `}}]}]}` }
	msgs := func(s string) string { return val(`"messages":[` + s + `]`) }
	adaptertest.Refuses(t, newTestAdapter(), []adaptertest.Refusal{
		{"empty", ``, "malformed_json", ""},
		{"truncated", `{"object":"whatsapp_business_account","entry":[`, "malformed_json", ""},
		{"trailing", `{"object":"whatsapp_business_account"}]`, "malformed_json", ""},
		{"array", `[]`, "wrong_type", "body"},
		{"messenger", `{"object":"page","entry":[]}`, "unknown_object", "page"},
		{"no object", `{"entry":[]}`, "unknown_object", "missing"},
		{"object number", `{"object":7}`, "wrong_type", "object"},
		{"entry object", `{"object":"whatsapp_business_account","entry":{}}`, "wrong_type", "entry"},
		{"entry item", `{"object":"whatsapp_business_account","entry":["x"]}`, "wrong_type", "entry[0]"},
		{"entry id number", `{"object":"whatsapp_business_account","entry":[{"id":1}]}`, "wrong_type", "entry[0].id"},
		{"changes object", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":{}}]}`, "wrong_type", "entry[0].changes"},
		{"change string", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":["x"]}]}`, "wrong_type", "entry[0].changes[0]"},
		{"field number", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":1,"value":{}}]}]}`, "wrong_type", "changes[0].field"},
		{"value array", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":[]}]}]}`, "wrong_type", "changes[0].value"},
		{"no phone number id", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[{"from":"3","type":"text"}]}}]}]}`, "missing_field", "entry[0].changes[0].value.metadata.phone_number_id"},
		{"phone number id number", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":2}}}]}]}`, "wrong_type", "value.metadata.phone_number_id"},
		{"messages object", val(`"messages":{}`), "wrong_type", "value.messages"},
		{"statuses string", val(`"statuses":"x"`), "wrong_type", "value.statuses"},
		{"contacts item", val(`"contacts":[1],"messages":[{"from":"3"}]`), "wrong_type", "contacts[]"},
		{"message string", msgs(`"x"`), "wrong_type", "value.messages[0]"},
		{"no from", msgs(`{"id":"wamid.a","type":"text","text":{"body":"x"}}`), "missing_field", "value.messages[0].from"},
		{"from number", msgs(`{"from":16505551234,"type":"text"}`), "wrong_type", "value.messages[0].from"},
		{"second message bad", msgs(`{"from":"3","type":"text","text":{"body":"a"}},{"from":"3","type":"text","text":{"body":5}}`), "wrong_type", "value.messages[1].text.body"},
		{"text string", msgs(`{"from":"3","type":"text","text":"hi"}`), "wrong_type", "value.messages[0].text"},
		{"type number", msgs(`{"from":"3","type":1}`), "wrong_type", "messages[0].type"},
		{"timestamp bool", msgs(`{"from":"3","timestamp":true,"type":"text"}`), "wrong_type", "timestamp"},
		{"timestamp letters", msgs(`{"from":"3","timestamp":"soon","type":"text"}`), "wrong_type", "timestamp"},
		{"timestamp negative", msgs(`{"from":"3","timestamp":"-5","type":"text"}`), "wrong_type", "timestamp"},
		{"timestamp float", msgs(`{"from":"3","timestamp":1.5,"type":"text"}`), "wrong_type", "timestamp"},
		{"timestamp year 10000", msgs(`{"from":"3","timestamp":"253402300800000","type":"text"}`), "wrong_type", "out of range"},
		{"image caption number", msgs(`{"from":"3","type":"image","image":{"id":"1","caption":2}}`), "wrong_type", "messages[0].image.caption"},
		{"voice string", msgs(`{"from":"3","type":"audio","audio":{"id":"1","voice":"yes"}}`), "wrong_type", "audio.voice"},
		{"latitude bool", msgs(`{"from":"3","type":"location","location":{"latitude":true,"longitude":1}}`), "wrong_type", "location.latitude"},
		{"latitude bad number", msgs(`{"from":"3","type":"location","location":{"latitude":1-2,"longitude":1}}`), "malformed_json", "location.latitude"},
		{"latitude infinite", msgs(`{"from":"3","type":"location","location":{"latitude":1e999,"longitude":1}}`), "wrong_type", "finite"},
		{"contacts object", msgs(`{"from":"3","type":"contacts","contacts":{}}`), "wrong_type", "messages[0].contacts"},
		{"contacts bad number", msgs(`{"from":"3","type":"contacts","contacts":[{"n":01}]}`), "malformed_json", "messages[0].contacts"},
		{"button reply id number", msgs(`{"from":"3","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":1}}}`), "wrong_type", "interactive.button_reply.id"},
		{"interactive reply string", msgs(`{"from":"3","type":"interactive","interactive":{"type":"list_reply","list_reply":"x"}}`), "wrong_type", "list_reply"},
		{"reaction emoji number", msgs(`{"from":"3","type":"reaction","reaction":{"message_id":"m","emoji":1}}`), "wrong_type", "reaction.emoji"},
		{"context string", msgs(`{"from":"3","type":"text","context":"x"}`), "wrong_type", "messages[0].context"},
		{"forwarded string", msgs(`{"from":"3","type":"text","context":{"forwarded":"true"}}`), "wrong_type", "context.forwarded"},
		{"referral bad number", msgs(`{"from":"3","type":"text","referral":{"n":NaN}}`), "malformed_json", "referral"},
		{"profile string", val(`"contacts":[{"wa_id":"3","profile":"x"}],"messages":[{"from":"3","type":"text"}]`), "wrong_type", "contacts[].profile"},
		{"status string", val(`"statuses":["x"]`), "wrong_type", "value.statuses[0]"},
		{"status recipient number", val(`"statuses":[{"id":"w","status":"read","recipient_id":3}]`), "wrong_type", "statuses[0].recipient_id"},
		{"status pricing bad number", val(`"statuses":[{"id":"w","status":"read","recipient_id":"3","pricing":{"x":1e}}]`), "malformed_json", "statuses[0].pricing"},
		{"value errors bad number", val(`"errors":[{"code":13-1}]`), "malformed_json", "value.errors"},
		{"other change bad number", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"account_update","value":{"n":--1}}]}]}`, "malformed_json", "changes[0].value"},
		{"other change without any id", `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"flows","value":{"event":"x"}}]}]}`, "missing_field", "entry[0].id"},
		{"deep nesting", `{"object":"whatsapp_business_account","x":` + strings.Repeat("[", 400) + strings.Repeat("]", 400) + `}`, "malformed_json", ""},
	})
}

// Odd bodies that are still accepted.
func TestParseAccepts(t *testing.T) {
	const head = `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"2"},`
	msgs := func(s string) string { return head + `"messages":[` + s + `]}}]}]}` }
	adaptertest.Accepts(t, newTestAdapter(), []adaptertest.Acceptance{
		{"no entry", `{"object":"whatsapp_business_account"}`, 0, ""},
		{"null entry", `{"object":"whatsapp_business_account","entry":null}`, 0, ""},
		{"entry without changes", `{"object":"whatsapp_business_account","entry":[{"id":"1"}]}`, 0, ""},
		{"change without value", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages"}]}]}`, 0, ""},
		{"value without metadata or content", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{}}]}]}`, 0, ""},
		{"contacts alone", head + `"contacts":[{"wa_id":"3"}]}}]}]}`, 0, ""},
		{"no field", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"metadata":{"phone_number_id":"2"},"messages":[{"from":"3","type":"text","text":{"body":"x"}}]}}]}]}`, 1, "text"},
		{"no id", msgs(`{"from":"3","timestamp":"5","type":"text","text":{"body":"x"}}`), 1, "text"},
		{"no type", msgs(`{"from":"3","id":"wamid.a"}`), 1, "unknown"},
		{"empty timestamp", msgs(`{"from":"3","timestamp":"","type":"text"}`), 1, "text"},
		{"text without body", msgs(`{"from":"3","type":"text"}`), 1, "text"},
		{"image without object", msgs(`{"from":"3","type":"image"}`), 1, "attachment"},
		{"location without coordinates", msgs(`{"from":"3","type":"location","location":{"name":"x"}}`), 1, "location"},
		{"location string coordinates", msgs(`{"from":"3","type":"location","location":{"latitude":"1.5","longitude":"2"}}`), 1, "location"},
		{"interactive without reply", msgs(`{"from":"3","type":"interactive","interactive":{"type":"button_reply"}}`), 1, "unknown"},
		{"status without id", head + `"statuses":[{"status":"sent","timestamp":"9","recipient_id":"3"}]}}]}]}`, 1, "status"},
		{"status without recipient", head + `"statuses":[{"id":"w","status":"sent"}]}}]}]}`, 1, "status"},
		{"null fields", msgs(`{"from":"3","id":null,"timestamp":null,"type":"text","text":{"body":"x"},"context":null,"referral":null,"errors":null}`), 1, "text"},
		{"escaped keys", msgs(`{"fr\u006fm":"3","type":"text","t\u0065xt":{"body":"x"}}`), 1, "text"},
		{"control characters", "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[{\"field\":\"messages\",\"value\":{\"metadata\":{\"phone_number_id\":\"2\"},\"messages\":[{\"from\":\"3\",\"type\":\"text\",\"text\":{\"body\":\"a\x01b\\x\\ud800\"}}]}}]}]}", 1, "text"},
		{"bad number unread", `{"object":"whatsapp_business_account","n":1-2,"entry":[]}`, 0, ""},
		{"other change without metadata", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"flows","value":{"event":"x"}}]}]}`, 1, "unknown"},
		{"messages and statuses", head + `"messages":[{"from":"3","type":"text"}],"statuses":[{"id":"w","status":"read","recipient_id":"3"}]}}]}]}`, 2, "text"},
	}, metatest.Check(Name))
}

func TestVerifyAndHandshake(t *testing.T) {
	a := newTestAdapter()
	metatest.Verify(t, a, fakeSecret, readFixture(t, "text"))
	metatest.Handshake(t, a, fakeVerify)
	if err := (&Adapter{}).Verify(metatest.Signed(fakeSecret, []byte("{}")), []byte("{}")); !errors.Is(err, adapters.ErrBadSignature) {
		t.Errorf("no secret: %v", err)
	}
}

// TestTypeConfusion swaps every value of every fixture for values of
// each JSON type: Parse never panics, refuses with an InputError or
// accepts events that hold the invariants.
func TestTypeConfusion(t *testing.T) {
	t.Logf("%d mutated bodies", adaptertest.TypeConfusion(t, newTestAdapter(), metatest.Check(Name)))
}

// Two items with one wamid but different content keep distinct ids, in
// small batches and in big ones (which index ids in a map).
func TestDistinctIDs(t *testing.T) {
	a := newTestAdapter()
	for _, n := range []int{3, 40} {
		var items []string
		for i := range n {
			body := "same"
			if i%3 == 2 {
				body = "other " + string(rune('a'+i%26))
			}
			items = append(items, `{"from":"3","id":"wamid.X","timestamp":"7","type":"text","text":{"body":"`+body+`"}}`)
		}
		evs, err := a.Parse(nil, []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"2"},"messages":[`+strings.Join(items, ",")+`]}}]}]}`))
		if err != nil || len(evs) != n {
			t.Fatalf("%d items: %d events, %v", n, len(evs), err)
		}
		metatest.CheckEvents(t, Name, evs)
		if evs[0].ID != "whatsapp:wamid.X" || evs[1].ID != evs[0].ID || evs[2].ID != "whatsapp:wamid.X#2" {
			t.Errorf("%d items: ids %q %q %q", n, evs[0].ID, evs[1].ID, evs[2].ID)
		}
	}
}
