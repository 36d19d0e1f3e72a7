package telegram

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// FuzzParse feeds Parse arbitrary bodies, seeded with every fixture. Parse
// must never panic; a refusal is an *adapters.InputError with a code that
// leaves dst alone; on success there is exactly one event, valid canonical
// JSON with an id, a type and the channel, which owns its memory and is the
// same on a second parse. Crashers found go to testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, name := range fixtures(f) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"update_id":1,"message":{"message_id":1,"chat":{"id":-1},"text":"/a@b c"}}`))
	f.Add([]byte(`{"update_id":1,"callback_query":{"id":"q","from":{"id":1}}}`))
	a := testAdapter()
	f.Fuzz(func(t *testing.T, body []byte) {
		keep := bytes.Clone(body)
		sentinel := normalize.Event{ID: "sentinel", Type: normalize.TypeText, Channel: "web"}
		evs, err := a.Parse([]normalize.Event{sentinel}, body)
		if !bytes.Equal(body, keep) {
			t.Fatal("Parse modified the body")
		}
		if err != nil {
			var ie *adapters.InputError
			if !errors.As(err, &ie) || ie.Code == "" {
				t.Fatalf("error is not an InputError with a code: %v", err)
			}
			if len(evs) != 1 || evs[0].ID != "sentinel" {
				t.Fatalf("refused body changed dst: %d events", len(evs))
			}
			return
		}
		if len(evs) != 2 || evs[0].ID != "sentinel" {
			t.Fatalf("got %d events, want the sentinel and one", len(evs))
		}
		evs = evs[1:]
		e := &evs[0]
		if e.ID == "" || e.Type == "" || e.Channel != Name {
			t.Fatalf("event lacks id/type/channel: %+v", e)
		}
		if enc := e.AppendJSON(nil); !json.Valid(enc) {
			t.Fatalf("event encodes to invalid JSON: %s", enc)
		}
		checkInvariants(t, evs)
		before := encodeEvents(t, evs)
		for i := range body {
			body[i] = 0
		}
		if again := encodeEvents(t, evs); !bytes.Equal(before, again) {
			t.Fatal("event aliases the body")
		}
		evs2, err := a.Parse(nil, keep)
		if err != nil {
			t.Fatalf("second parse refused: %v", err)
		}
		if again := encodeEvents(t, evs2); !bytes.Equal(before, again) {
			t.Fatalf("second parse differs:\n%s\n%s", before, again)
		}
	})
}

// FuzzRender feeds Render arbitrary replies: it must never panic, and what
// it renders is valid JSON within Telegram's limits.
func FuzzRender(f *testing.F) {
	for _, name := range outCases(f) {
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
