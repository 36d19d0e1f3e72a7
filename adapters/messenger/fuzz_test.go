package messenger

import (
	"testing"

	"github.com/switchboard-gw/switchboard/adapters/meta/metatest"
)

// FuzzParse feeds Parse arbitrary bodies, seeded with every fixture. Parse
// must never panic; a refusal is an *adapters.InputError that leaves dst
// alone; on success every event is valid canonical JSON with an id, a type
// and the channel, owns its memory, and two events with different content
// never share an id (metatest.CheckParse). Crashers found go to
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	metatest.ParseSeeds(f, `{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"x":{}}]}]}`)
	a := testAdapter()
	f.Fuzz(func(t *testing.T, body []byte) {
		metatest.CheckParse(t, a, Name, body)
	})
}
