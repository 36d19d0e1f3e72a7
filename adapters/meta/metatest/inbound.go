package metatest

import (
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Signed returns the headers Meta would send with body, signed with
// secret (a fake one: never store real secrets).
func Signed(secret string, body []byte) adapters.Header {
	s := meta.Signer{Secret: []byte(secret)}
	h := adapters.Header{}
	h.Set(meta.SignatureHeader, string(s.Sign(nil, body)))
	return h
}

// Golden is adaptertest.Golden for a Meta channel: every fixture is
// signed with secret at test time, and check holds for its events
// (Check(channel), or a channel's own that calls CheckEvents).
func Golden(t *testing.T, a adapters.Inbound, secret string, check adaptertest.Check) {
	adaptertest.Golden(t, a, func(body []byte) adapters.Peeker { return Signed(secret, body) }, check)
}

// CheckEvents checks what holds for every event a Meta parser emits:
// adaptertest.CheckEvents, and no two events of different content
// sharing an id (a batch may carry one item twice, which then keeps its
// id so that dedup drops it).
func CheckEvents(t testing.TB, channel string, evs []normalize.Event) {
	t.Helper()
	adaptertest.CheckEvents(t, channel, evs)
	ids := map[string]int{}
	for i := range evs {
		e := &evs[i]
		if j, ok := ids[e.ID]; ok && !meta.SameContent(&evs[j], e) {
			t.Errorf("events %d and %d differ but share id %q", j, i, e.ID)
		}
		ids[e.ID] = i
	}
}

// Check is CheckEvents for channel, in the form the adaptertest harness
// takes.
func Check(channel string) adaptertest.Check {
	return func(t testing.TB, evs []normalize.Event) {
		t.Helper()
		CheckEvents(t, channel, evs)
	}
}
