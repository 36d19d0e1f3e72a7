package messenger

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
// alone; on success every event is valid canonical JSON with an id, a type
// and the channel, owns its memory, and two events with different content
// never share an id. Crashers found go to testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, name := range fixtures(f) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"x":{}}]}]}`))
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
		var enc []byte
		for i := range evs {
			e := &evs[i]
			if e.ID == "" || e.Type == "" || e.Channel != Name {
				t.Fatalf("event %d lacks id/type/channel: %+v", i, e)
			}
			enc = e.AppendJSON(enc[:0])
			if !json.Valid(enc) {
				t.Fatalf("event %d encodes to invalid JSON: %s", i, enc)
			}
			if len(e.Metadata) > 0 && (!json.Valid(e.Metadata) || e.Metadata[0] != '{') {
				t.Fatalf("event %d metadata is not a JSON object: %s", i, e.Metadata)
			}
		}
		checkInvariants(t, evs)
		// Events own their memory.
		before := encodeEvents(t, evs)
		for i := range body {
			body[i] = 0
		}
		if again := encodeEvents(t, evs); !bytes.Equal(before, again) {
			t.Fatal("events alias the body")
		}
		// Deterministic: the same body gives the same events.
		evs2, err := a.Parse(nil, keep)
		if err != nil {
			t.Fatalf("second parse refused: %v", err)
		}
		if again := encodeEvents(t, evs2); !bytes.Equal(before, again) {
			t.Fatalf("second parse differs:\n%s\n%s", before, again)
		}
	})
}
