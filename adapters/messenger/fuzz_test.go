package messenger

import (
	"testing"

	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/adapters/meta/metatest"
)

// FuzzParse feeds Parse arbitrary bodies, seeded with every fixture. Parse
// must never panic; a refusal is an *adapters.InputError that leaves dst
// alone; on success every event is valid canonical JSON with an id, a type
// and the channel, owns its memory, and two events with different content
// never share an id (adaptertest.CheckParse with metatest.Check). Crashers found go to
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	adaptertest.ParseSeeds(f, `{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"x":{}}]}]}`)
	a := testAdapter()
	f.Fuzz(func(t *testing.T, body []byte) {
		adaptertest.CheckParse(t, a, body, metatest.Check(Name))
	})
}
