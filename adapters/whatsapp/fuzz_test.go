package whatsapp

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
)

// FuzzParse feeds Parse arbitrary bodies, seeded with every inbound
// fixture, through adaptertest.CheckParse: no panic, the body untouched,
// a refusal an *adapters.InputError with a code that leaves dst alone,
// accepted events holding WhatsApp's invariants (assertEvents), owning
// their memory and the same on a second parse. Crashers go to
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	adaptertest.ParseSeeds(f,
		`{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"1"},"messages":[{"from":"2","type":"x","x":[1e5]}]}}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"calls","value":{"calls":[{"id":"c"}]}}]}]}`)
	a := newTestAdapter()
	f.Fuzz(func(t *testing.T, body []byte) {
		adaptertest.CheckParse(t, a, body, assertEvents)
	})
}

// FuzzRender feeds Render arbitrary outbound cases, seeded with every
// outbound fixture: no panic; an error is a RenderError and leaves dst
// alone; a body is one JSON object carrying messaging_product whatsapp, or
// nothing at all with the reason in degraded.
func FuzzRender(f *testing.F) {
	adaptertest.OutSeeds(f)
	a := newTestAdapter()
	f.Fuzz(func(t *testing.T, raw []byte) {
		var c adaptertest.OutCase
		if json.Unmarshal(raw, &c) != nil {
			return
		}
		to := c.To()
		to.BotID = phoneID
		body, path, degraded, err := a.Render([]byte("x"), to, &c.Reply)
		if err != nil {
			var re *adapters.RenderError
			if !errors.As(err, &re) || string(body) != "x" {
				t.Fatalf("error %T %v, body %q", err, err, body)
			}
			return
		}
		body = body[1:]
		if len(body) == 0 {
			if path != "" || len(degraded) == 0 {
				t.Fatalf("no call without a reason: path %q", path)
			}
			return
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil || m["messaging_product"] != "whatsapp" || path != "/"+phoneID+"/messages" {
			t.Fatalf("path %q body %s", path, body)
		}
	})
}
