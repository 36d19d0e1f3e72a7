package viber

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/normalize"
)

// FuzzParse feeds Parse arbitrary bodies, seeded with every fixture. Parse
// must never panic; a refusal is an *adapters.InputError that leaves dst
// alone; on success there is at most one event, valid canonical JSON with
// an id, a type and the channel, owning its memory, the same on a second
// parse. Crashers found go to testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	adaptertest.ParseSeeds(f,
		`{"event":"new","user":{"id":"a"},"message_token":"1"}`,
		`{"event":"message","sender":{"id":"A"},"message":{"type":"location","location":{"lat":1e-7,"lon":-0}}}`)
	a := testAdapter()
	f.Fuzz(func(t *testing.T, body []byte) {
		adaptertest.CheckParse(t, a, body, func(t testing.TB, evs []normalize.Event) {
			for i := range evs {
				e := &evs[i]
				enc := e.AppendJSON(nil)
				var back normalize.Event
				if err := json.Unmarshal(enc, &back); err != nil || back.ID != e.ID || back.Type != e.Type || back.Channel != Name {
					t.Fatalf("event %d does not decode back: %v\n%s", i, err, enc)
				}
			}
			checkInvariants(t, evs)
		})
	})
}

// FuzzRender renders arbitrary replies (decoded from JSON), seeded with the
// outbound cases: no panic, a *adapters.RenderError or a JSON object body
// within Viber's size cap, and the reply left as it was.
func FuzzRender(f *testing.F) {
	for _, name := range adaptertest.OutCases(f) {
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
