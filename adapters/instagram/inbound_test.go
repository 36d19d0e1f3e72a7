package instagram

import (
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/adapters/meta/metatest"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Fake credentials: never real ones. testAppID is above 2^53 so that an
// app id passed through float64 would not match it.
const (
	testSecret      = "fake-instagram-app-secret"
	testVerifyToken = "fake-verify-token"
	testAppID       = "9007199254740993"
	testAccount     = "17841400000000001"
)

func testAdapter() *Adapter {
	return &Adapter{
		Connection: "ig",
		AppID:      testAppID,
		Webhook:    meta.Webhook{Signature: meta.Signer{Secret: []byte(testSecret)}, VerifyToken: []byte(testVerifyToken)},
		Endpoint:   meta.Endpoint{APIBase: "http://127.0.0.1:1/v25.0"},
	}
}

// TestGolden runs every testdata/inbound/<case>.json through Verify (signed
// at test time) and Parse and compares the events with <case>.golden.json.
func TestGolden(t *testing.T) {
	metatest.Golden(t, testAdapter(), testSecret, metatest.Check(Name))
}

func TestNew(t *testing.T) {
	a := New("ig", &config.Instagram{
		Meta:     config.Meta{AppSecret: "s", VerifyToken: "v", AppID: "42", APIBase: "https://graph.example/v25.0"},
		Accounts: []config.Account{{ID: testAccount, AccessToken: "tok"}},
	})
	if a.Connection != "ig" || string(a.Signature.Secret) != "s" || string(a.VerifyToken) != "v" || a.AppID != "42" ||
		a.APIBase != "https://graph.example/v25.0" || a.Tokens[testAccount] != "tok" || len(a.Tokens) != 1 {
		t.Fatalf("New = %+v", a)
	}
}

// Verify and Handshake are meta.Webhook's; these check the wiring.
func TestVerify(t *testing.T) {
	metatest.Verify(t, testAdapter(), testSecret, adaptertest.ReadFixture(t, "text.json"))
}

func TestHandshake(t *testing.T) {
	metatest.Handshake(t, testAdapter(), testVerifyToken)
}

// TestEventIDs pins the Instagram id scheme (README.md, "Event ids").
func TestEventIDs(t *testing.T) {
	tests := []struct {
		fixture string
		ids     []string
	}{
		{"text.json", []string{"instagram:aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAxOjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1OTY2NzQ3NzAwMzI3MDAwMDAwMQZDZD"}},
		{"deleted.json", []string{"instagram:deleted:aWdf_deleted_1"}},
		{"read.json", []string{"instagram:read:17841400000000001:6512345678901234:aWdf_seen_1"}},
		{"read_watermark.json", []string{"instagram:read:17841400000000001:6512345678901234:1717999999000"}},
		{"reaction_unreact.json", []string{"instagram:reaction:aWdf_reacted:unreact:1718000060001"}},
		{"referral.json", []string{"instagram:referral:17841400000000001:6512345678901234:1718000000001"}},
		{"changes_comments.json", []string{"instagram:change:comments:17841400000000001:17865799348089039:1718000000000"}},
		{"changes_mentions.json", []string{
			"instagram:change:mentions:17841400000000001:17865799348089040:1718000001000",
			"instagram:change:mentions:17841400000000001:17900000000000005:1718000001000",
		}},
	}
	a := testAdapter()
	for _, tt := range tests {
		evs, err := a.Parse(nil, adaptertest.ReadFixture(t, tt.fixture))
		if err != nil {
			t.Fatalf("%s: %v", tt.fixture, err)
		}
		if len(evs) != len(tt.ids) {
			t.Fatalf("%s: %d events, want %d", tt.fixture, len(evs), len(tt.ids))
		}
		for i, e := range evs {
			if e.ID != tt.ids[i] {
				t.Errorf("%s: event %d id %q, want %q", tt.fixture, i, e.ID, tt.ids[i])
			}
		}
	}
}

// Instagram's own addressing: bot_id is the IG account, channel_id the
// IGSID; an echo swaps them; a story reply points reply_to at the story.
func TestAddressing(t *testing.T) {
	a := testAdapter()
	evs, err := a.Parse(nil, adaptertest.ReadFixture(t, "echo_own_app.json"))
	if err != nil {
		t.Fatal(err)
	}
	e := evs[0]
	if e.Type != normalize.TypeEcho || e.BotID != testAccount || e.ChannelID != "6512345678901234" ||
		e.Sender.ID != testAccount || !strings.Contains(string(e.Metadata), `"own":true`) {
		t.Errorf("echo = %+v %s", e, e.Metadata)
	}
	evs, err = a.Parse(nil, adaptertest.ReadFixture(t, "story_reply.json"))
	if err != nil {
		t.Fatal(err)
	}
	if e := evs[0]; e.Type != normalize.TypeText || e.ReplyTo != "17987654321098765" || !strings.Contains(string(e.Metadata), `"reply_to_story"`) {
		t.Errorf("story reply = %+v %s", e, e.Metadata)
	}
}

func TestParseRefuses(t *testing.T) {
	const pre = `{"object":"instagram","entry":[{"id":"1","time":1,"changes":[`
	tests := []adaptertest.Refusal{
		{"messenger body", `{"object":"page","entry":[]}`, "unknown_object", `"page" is not a Instagram webhook, want "instagram"`},
		{"no object", `{"entry":[]}`, "unknown_object", `missing, want "instagram"`},
		{"missing account", `{"object":"instagram","entry":[{"messaging":[{"sender":{"id":"2"},"message":{"text":"t"}}]}]}`, "missing_field", "entry[0].id: required (the Instagram account id)"},
		{"missing account on change", `{"object":"instagram","entry":[{"changes":[{"field":"comments","value":{}}]}]}`, "missing_field", "Instagram account"},
		{"changes not array", `{"object":"instagram","entry":[{"id":"1","changes":{}}]}`, "wrong_type", "entry[0].changes: want array"},
		{"change not object", pre + `1]}]}`, "wrong_type", "entry[0].changes[0]: want object"},
		{"bad number in value", pre + `{"field":"comments","value":{"n":1e}}]}]}`, "malformed_json", "value"},
		{"time string", `{"object":"instagram","entry":[{"id":"1","time":"1","changes":[{"field":"x"}]}]}`, "wrong_type", "entry[0].time"},
		{"time negative", `{"object":"instagram","entry":[{"id":"1","time":-5,"changes":[{"field":"x"}]}]}`, "wrong_type", "out of range"},
		{"story not object", `{"object":"instagram","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"message":{"mid":"m","reply_to":{"story":"s"}}}]}]}`, "wrong_type", "message.reply_to.story"},
		{"read mid number", `{"object":"instagram","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"read":{"mid":5}}]}]}`, "wrong_type", "read.mid"},
	}
	adaptertest.Refuses(t, testAdapter(), tests)
}

// Bodies that are odd but acceptable parse without error.
func TestParseAccepts(t *testing.T) {
	tests := []adaptertest.Acceptance{
		{"no entry", `{"object":"instagram"}`, 0, ""},
		{"empty changes", `{"object":"instagram","entry":[{"id":"1","changes":[]}]}`, 0, ""},
		{"change without value", `{"object":"instagram","entry":[{"id":"1","changes":[{"field":"story_insights"}]}]}`, 1, ""},
		{"change without time", `{"object":"instagram","entry":[{"id":"1","changes":[{"field":"comments","value":{"id":"c"}}]}]}`, 1, ""},
		{"change time in ms", `{"object":"instagram","entry":[{"id":"1","time":1718000000123,"changes":[{"field":"comments","value":{"id":"c"}}]}]}`, 1, ""},
		{"change value not object", `{"object":"instagram","entry":[{"id":"1","changes":[{"field":"x","value":[1,"a"]}]}]}`, 1, ""},
		{"change field number", `{"object":"instagram","entry":[{"id":"1","changes":[{"field":1,"value":{}}]}]}`, 1, ""},
		{"change from not object", `{"object":"instagram","entry":[{"id":"1","changes":[{"field":"comments","value":{"from":"x","text":5}}]}]}`, 1, ""},
		{"change odd ids", `{"object":"instagram","entry":[{"id":"1","changes":[{"field":"comments","value":{"from":{"id":true,"username":1},"id":1.5,"comment_id":[],"media_id":-3}}]}]}`, 1, ""},
		{"change numeric ids", `{"object":"instagram","entry":[{"id":"1","changes":[{"field":"comments","value":{"from":{"id":6512345678909999},"id":17865799348089039}}]}]}`, 1, ""},
		{"messaging and changes", `{"object":"instagram","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"message":{"mid":"m","text":"t"}}],"changes":[{"field":"mentions","value":{"media_id":"3"}}]}]}`, 2, ""},
		{"story reply without id", `{"object":"instagram","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"message":{"mid":"m","text":"t","reply_to":{"story":{"url":"u"}}}}]}]}`, 1, ""},
		{"read without mid or watermark", `{"object":"instagram","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"timestamp":3,"read":{}}]}]}`, 1, ""},
	}
	adaptertest.Accepts(t, testAdapter(), tests, metatest.Check(Name))
}

// Events own their memory: scribbling over the body (fasthttp reuses it)
// or parsing another body changes nothing.
func TestParseDoesNotAlias(t *testing.T) {
	adaptertest.NoAlias(t, testAdapter(), adaptertest.ReadFixture(t, "batch.json"))
}

// The same webhook retried gives the same ids.
func TestIDsStable(t *testing.T) {
	adaptertest.StableIDs(t, testAdapter())
}

// TestTypeConfusion puts every JSON type in every place of every fixture.
func TestTypeConfusion(t *testing.T) {
	t.Logf("%d mutated bodies", adaptertest.TypeConfusion(t, testAdapter(), metatest.Check(Name)))
}
