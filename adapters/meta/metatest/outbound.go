package metatest

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/normalize"
)

// RenderFunc is a Meta channel's Render: the body appended to dst, the
// path of the call, what rendering changed, or a render error.
type RenderFunc func(dst []byte, to adapters.Recipient, r *normalize.Reply) (body []byte, path string, degraded []string, err error)

// outGolden is testdata/outbound/<case>.golden.json. A reply that needs
// no call has neither path nor body.
type outGolden struct {
	Path     string                   `json:"path,omitempty"`
	Body     json.RawMessage          `json:"body,omitempty"`
	Degraded []string                 `json:"degraded,omitempty"`
	Error    *adaptertest.GoldenError `json:"error,omitempty"`
}

// RenderGolden renders every testdata/outbound case (an
// adaptertest.OutCase) and compares the path, exact body and
// degradations (or the error) with its golden file, or rewrites it under
// -update. It also checks that Render keeps dst, leaves the reply alone,
// and on error returns an *adapters.RenderError with neither body nor
// path; check sees every successful render first (SendAPICall for the
// Send API).
func RenderGolden(t *testing.T, render RenderFunc, check func(t *testing.T, body []byte, path string, degraded []string)) {
	adaptertest.OutGolden(t, func(t *testing.T, name string) any {
		c := adaptertest.ReadOutCase(t, name)
		kept := adaptertest.KeepsReply(t, &c.Reply)
		body, path, degraded, err := render([]byte("prefix:"), c.To(), &c.Reply)
		if !bytes.HasPrefix(body, []byte("prefix:")) {
			t.Fatalf("Render dropped dst: %q", body)
		}
		body = body[len("prefix:"):]
		kept()

		got := outGolden{Degraded: degraded}
		if err != nil {
			var re *adapters.RenderError
			if !errors.As(err, &re) {
				t.Fatalf("error %T %v, want *adapters.RenderError", err, err)
			}
			if len(body) != 0 || path != "" {
				t.Errorf("body %q, path %q on error", body, path)
			}
			got.Error = &adaptertest.GoldenError{Code: re.Code, Message: re.Msg}
			return got
		}
		check(t, body, path, degraded)
		if len(body) > 0 {
			if !json.Valid(body) {
				t.Fatalf("invalid JSON: %s", body)
			}
			got.Path, got.Body = path, body
		}
		return got
	})
}

// SendAPICall is RenderGolden's check for the Send API: every reply that
// renders is one call of meta.PathMessages.
func SendAPICall(t *testing.T, body []byte, path string, _ []string) {
	t.Helper()
	if path != meta.PathMessages || len(body) == 0 {
		t.Fatalf("path %q, body %q: want a call of %s", path, body, meta.PathMessages)
	}
}

// WireTypes checks every body rendered from the outbound cases (without
// channel_data, whose merge sorts members) against the wire types: it
// decodes strictly into meta.SendRequest (every member written is one the
// types name), and encoding/json writes the decoded struct back byte for
// byte, so the json tags are a true description of the wire format.
func WireTypes(t *testing.T, render RenderFunc) {
	for _, name := range adaptertest.OutCases(t) {
		c := adaptertest.ReadOutCase(t, name)
		if len(c.Reply.ChannelData) > 0 {
			continue
		}
		body, _, _, err := render(nil, c.To(), &c.Reply)
		if err != nil {
			continue
		}
		var req meta.SendRequest
		adaptertest.RoundTrip(t, name, body, &req)
	}
}

// CheckRender is the body of a render fuzz target: raw is an
// adaptertest.OutCase; Render, sending as bot, must not panic, must fail
// with a *adapters.RenderError or render one JSON object to
// meta.PathMessages.
func CheckRender(t *testing.T, render RenderFunc, bot string, raw []byte) {
	var c adaptertest.OutCase
	if json.Unmarshal(raw, &c) != nil {
		return
	}
	to := c.To()
	to.BotID = bot
	body, path, _, err := render(nil, to, &c.Reply)
	if err != nil {
		var re *adapters.RenderError
		if !errors.As(err, &re) {
			t.Fatalf("error %T %v", err, err)
		}
		return
	}
	var m map[string]json.RawMessage
	if path != meta.PathMessages || json.Unmarshal(body, &m) != nil || m == nil {
		t.Fatalf("path %q body %s", path, body)
	}
}
