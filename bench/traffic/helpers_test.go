package traffic

import (
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// inbound is the part of a channel adapter the tests drive.
type inbound interface {
	Verify(h adapters.Peeker, body []byte) error
	Parse(dst []normalize.Event, body []byte) ([]normalize.Event, error)
}

// derive passes w through the real adapter, as the gateway would: its
// headers must verify and its body must yield exactly the events the
// generator predicted (ids and people, in order). It returns them.
func derive(t *testing.T, a inbound, w *Webhook) []normalize.Event {
	t.Helper()
	h := adapters.Header{}
	for _, hd := range w.Header {
		h.Set(hd.Name, string(hd.Value))
	}
	if err := a.Verify(h, w.Body); err != nil {
		t.Fatalf("%s: verify: %v", w.Kind, err)
	}
	evs, err := a.Parse(nil, w.Body)
	if err != nil {
		t.Fatalf("%s: parse: %v\n%s", w.Kind, err, w.Body)
	}
	if len(evs) != len(w.Events) {
		t.Fatalf("%s: gateway derives %d events, generator predicts %d\n%s", w.Kind, len(evs), len(w.Events), w.Body)
	}
	for i, ev := range evs {
		if p := w.Events[i]; ev.ID != p.ID || ev.ChannelID != p.User {
			t.Fatalf("%s: event %d is %s for %s, predicted %s for %s", w.Kind, i, ev.ID, ev.ChannelID, p.ID, p.User)
		}
	}
	return evs
}
