package web

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/normalize"
)

// FuzzParseMessage: any body is refused with an *adapters.InputError or
// gives an event whose JSON is valid.
func FuzzParseMessage(f *testing.F) {
	adaptertest.ParseSeeds(f)
	a := testAdapter()
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseMessage(body)
		if err != nil {
			var ie *adapters.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is not an InputError", err)
			}
			return
		}
		if m.Text == "" && m.Payload == "" {
			t.Fatal("accepted an empty message")
		}
		ev := a.Event(&m, "wv_x", 1, "wm_x_1", json.RawMessage(`{"a":1}`), testNow)
		if b := ev.AppendJSON(nil); !json.Valid(b) || !utf8.Valid(b) {
			t.Fatalf("invalid event JSON: %s", b)
		}
	})
}

// FuzzRender: any decodable reply renders to a frame that marshals, or
// is refused with an *adapters.RenderError.
func FuzzRender(f *testing.F) {
	adaptertest.OutSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var r normalize.Reply
		if json.Unmarshal(body, &r) != nil {
			return
		}
		fr, _, err := Render(&r)
		if err != nil {
			var re *adapters.RenderError
			if !errors.As(err, &re) {
				t.Fatalf("error %v is not a RenderError", err)
			}
			return
		}
		if fr != nil {
			if _, err := json.Marshal(fr); err != nil {
				t.Fatalf("frame does not marshal: %v", err)
			}
		}
	})
}

// FuzzCheckJWT: no token panics the verifier or passes without the key.
func FuzzCheckJWT(f *testing.F) {
	v := testVerifier()
	f.Add(sign(f, keyNew, "k2026", goodClaims()))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.CheckJWT(tok)
		if err == nil && (c == nil || !ValidID(c.Subject)) {
			t.Fatalf("accepted %q with claims %+v", tok, c)
		}
	})
}
