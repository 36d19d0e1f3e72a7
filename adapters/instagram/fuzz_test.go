package instagram

import (
	"testing"

	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/adapters/meta/metatest"
)

// FuzzParse feeds Parse arbitrary bodies, seeded with every fixture; the
// checks are adaptertest.CheckParse's with metatest.Check (no panic, InputError refusals that
// leave dst alone, valid events that own their memory and never share an
// id across different content). Crashers found go to
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	adaptertest.ParseSeeds(f, `{"object":"instagram","entry":[{"id":"1","changes":[{"field":"x","value":{"from":{"id":"2"}}}]}]}`)
	a := testAdapter()
	f.Fuzz(func(t *testing.T, body []byte) {
		adaptertest.CheckParse(t, a, body, metatest.Check(Name))
	})
}

// FuzzRender feeds arbitrary replies to Render, seeded with every outbound
// case: it must not panic, and what it renders must be one JSON object.
func FuzzRender(f *testing.F) {
	adaptertest.OutSeeds(f)
	a := outAdapter("https://graph.example/v25.0", nil)
	f.Fuzz(func(t *testing.T, raw []byte) {
		metatest.CheckRender(t, a.Render, outAccount, raw)
	})
}
