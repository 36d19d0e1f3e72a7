package viber

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
// must never panic; a refusal is an *adapters.InputError that leaves dst
// alone; on success there is at most one event, valid canonical JSON with
// an id, a type and the channel, owning its memory, the same on a second
// parse. Crashers found go to testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, name := range fixtures(f) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"event":"new","user":{"id":"a"},"message_token":"1"}`))
	f.Add([]byte(`{"event":"message","sender":{"id":"A"},"message":{"type":"location","location":{"lat":1e-7,"lon":-0}}}`))
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
		if evs[0].ID != "sentinel" {
			t.Fatal("Parse overwrote dst[0]")
		}
		evs = evs[1:]
		for i := range evs {
			e := &evs[i]
			if e.ID == "" || e.Type == "" || e.Channel != Name {
				t.Fatalf("event %d lacks id/type/channel: %+v", i, e)
			}
			enc := e.AppendJSON(nil)
			if !json.Valid(enc) {
				t.Fatalf("event %d encodes to invalid JSON: %s", i, enc)
			}
			var back normalize.Event
			if err := json.Unmarshal(enc, &back); err != nil || back.ID != e.ID || back.Type != e.Type || back.Channel != Name {
				t.Fatalf("event %d does not decode back: %v\n%s", i, err, enc)
			}
		}
		checkInvariants(t, evs)
		before := encodeEvents(t, evs)
		for i := range body {
			body[i] = 0
		}
		if again := encodeEvents(t, evs); !bytes.Equal(before, again) {
			t.Fatal("events alias the body")
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

// FuzzRender renders arbitrary replies (decoded from JSON), seeded with the
// outbound cases: no panic, a *adapters.RenderError or a JSON object body
// within Viber's size cap, and the reply left as it was.
func FuzzRender(f *testing.F) {
	for _, name := range outCases(f) {
		raw, err := json.Marshal(readOutCase(f, name).Reply)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, int64(0))
	}
	a := outAdapter("https://chatapi.example/pa")
	to := adapters.Recipient{ChannelID: outReceiver}
	f.Fuzz(func(t *testing.T, raw []byte, size int64) {
		var r normalize.Reply
		if json.Unmarshal(raw, &r) != nil {
			return
		}
		before, _ := json.Marshal(&r)
		body, _, err := a.Render(nil, to, &r, size)
		if after, _ := json.Marshal(&r); !bytes.Equal(before, after) {
			t.Fatalf("Render modified the reply")
		}
		if err != nil {
			var re *adapters.RenderError
			if !errors.As(err, &re) || re.Code == "" || len(body) != 0 {
				t.Fatalf("error %v with %d bytes", err, len(body))
			}
			return
		}
		if len(body) == 0 {
			return // nothing to send
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil || len(body) > MaxBodyBytes {
			t.Fatalf("body is not a JSON object within the cap: %v\n%s", err, body)
		}
	})
}
