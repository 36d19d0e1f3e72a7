package telegram

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/normalize"
)

// FuzzParse feeds Parse arbitrary bodies, seeded with every fixture. Parse
// must never panic; a refusal is an *adapters.InputError with a code that
// leaves dst alone; on success there is exactly one event, valid canonical
// JSON with an id, a type and the channel, which owns its memory and is the
// same on a second parse. Crashers found go to testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	adaptertest.ParseSeeds(f,
		`{"update_id":1,"message":{"message_id":1,"chat":{"id":-1},"text":"/a@b c"}}`,
		`{"update_id":1,"callback_query":{"id":"q","from":{"id":1}}}`)
	a := testAdapter()
	f.Fuzz(func(t *testing.T, body []byte) {
		adaptertest.CheckParse(t, a, body, checkUpdate)
	})
}

// FuzzRender feeds Render arbitrary replies: it must never panic, and what
// it renders is valid JSON within Telegram's limits.
func FuzzRender(f *testing.F) {
	for _, name := range adaptertest.OutCases(f) {
		raw, err := os.ReadFile("testdata/outbound/" + name + ".json")
		if err != nil {
			f.Fatal(err)
		}
		var c struct {
			Reply json.RawMessage `json:"reply"`
		}
		if json.Unmarshal(raw, &c) == nil {
			f.Add([]byte(c.Reply), "7123456789")
		}
	}
	a := testAdapter()
	f.Fuzz(func(t *testing.T, raw []byte, chat string) {
		var r normalize.Reply
		if json.Unmarshal(raw, &r) != nil {
			return
		}
		var p Plan
		err := a.Render(&p, adapters.Recipient{BotID: testBotID, ChannelID: chat}, &r)
		if err != nil {
			var re *adapters.RenderError
			if !errors.As(err, &re) || re.Code == "" {
				t.Fatalf("error is not a RenderError with a code: %v", err)
			}
			return
		}
		for _, c := range p.Calls {
			if !json.Valid(c.Body) {
				t.Fatalf("%s: invalid JSON %s", c.Method, c.Body)
			}
			checkCall(t, c)
		}
	})
}
