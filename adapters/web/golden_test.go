package web

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

func testAdapter() *Adapter {
	return New("site", &config.Web{BotID: "acme-site", IdentitySecret: testSecret})
}

// sessionMetadata stands for what setConfig sent at session start.
var sessionMetadata = json.RawMessage(`{"page":"/home","plan":"free"}`)

// golden compares got, encoded as the shared harness writes goldens
// (adaptertest.EncodeGolden), with <case>.golden.json beside the case
// file path, or rewrites it under -update (adaptertest.Update).
func golden(t *testing.T, path string, got any) {
	t.Helper()
	adaptertest.CompareGolden(t, strings.TrimSuffix(path, ".json")+".golden.json", adaptertest.EncodeGolden(t, got))
}

// inboundResult is what an inbound golden file holds: the canonical event
// (as the backend gets it) and the history frame, or the error.
type inboundResult struct {
	Event json.RawMessage `json:"event,omitempty"`
	Frame *Frame          `json:"frame,omitempty"`
	Error string          `json:"error,omitempty"`
}

// TestInboundGolden parses testdata/inbound/<case>.json as a browser's
// message body and compares the event and frame with <case>.golden.json.
// Cases named err_* must be refused.
func TestInboundGolden(t *testing.T) {
	a := testAdapter()
	for _, f := range adaptertest.Fixtures(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var res inboundResult
			m, err := ParseMessage(body)
			if err != nil {
				var ie *adapters.InputError
				if !errors.As(err, &ie) {
					t.Fatalf("error %v is not an *adapters.InputError", err)
				}
				res.Error = ie.Code
			} else {
				ev := a.Event(&m, "wv_visitor", 7, "wm_conv_7", sessionMetadata, testNow)
				res.Event = ev.AppendJSON(nil)
				fr := m.Frame()
				res.Frame = &fr
				if !json.Valid(res.Event) {
					t.Fatalf("event is not valid JSON: %s", res.Event)
				}
			}
			if strings.HasPrefix(filepath.Base(f), "err_") != (res.Error != "") {
				t.Fatalf("err_ cases must fail and only they: %+v", res)
			}
			golden(t, f, res)
		})
	}
}

// outboundResult is what an outbound golden file holds.
type outboundResult struct {
	Frame    *Frame   `json:"frame,omitempty"`
	Degraded []string `json:"degraded,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// TestOutboundGolden renders testdata/outbound/<case>.json (a canonical
// reply) and compares the frame with <case>.golden.json.
func TestOutboundGolden(t *testing.T) {
	for _, name := range adaptertest.OutCases(t) {
		f := filepath.Join("testdata", "outbound", name+".json")
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var r normalize.Reply
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			var before normalize.Reply
			json.Unmarshal(body, &before)
			fr, degraded, err := Render(&r)
			res := outboundResult{Frame: fr, Degraded: degraded}
			if err != nil {
				var re *adapters.RenderError
				if !errors.As(err, &re) {
					t.Fatalf("error %v is not a *adapters.RenderError", err)
				}
				res.Error, res.Frame = re.Code, nil
			}
			if diff := cmp.Diff(before, r); diff != "" {
				t.Errorf("Render changed its input (-before +after):\n%s", diff)
			}
			if strings.HasPrefix(filepath.Base(f), "err_") != (res.Error != "") {
				t.Fatalf("err_ cases must fail and only they: %+v", res)
			}
			golden(t, f, res)
		})
	}
}

func TestMergeObjects(t *testing.T) {
	for _, c := range []struct{ base, over, want string }{
		{``, ``, ``},
		{`{"a":1}`, ``, `{"a":1}`},
		{``, `{"b":2}`, `{"b":2}`},
		{`{"a":1,"b":1}`, `{"b":2}`, `{"a":1,"b":2}`},
		{`null`, `{}`, ``},
	} {
		got, err := MergeObjects(json.RawMessage(c.base), json.RawMessage(c.over))
		if err != nil || string(got) != c.want {
			t.Errorf("MergeObjects(%s, %s) = %s, %v; want %s", c.base, c.over, got, err, c.want)
		}
	}
	if _, err := MergeObjects(json.RawMessage(`[1]`), json.RawMessage(`{"a":1}`)); err == nil {
		t.Error("array base merged")
	}
}

func TestEventID(t *testing.T) {
	if got := EventID("site", "wv_x", 42); got != "web:site:wv_x:42" {
		t.Fatalf("EventID = %q", got)
	}
	// Exact: the seq after the last colon is digits, so the channel id
	// (which may hold colons) and the seq are recovered unambiguously.
	for _, c := range []struct {
		ch  string
		seq uint64
	}{{"a:1", 2}, {"a", 12}, {"cust:9:x", 1}} {
		id := EventID("site", c.ch, c.seq)
		i := strings.LastIndexByte(id, ':')
		if id[len("web:site:"):i] != c.ch || id[i+1:] != Seq(c.seq) {
			t.Errorf("EventID(%q, %d) = %q does not split back", c.ch, c.seq, id)
		}
	}
}
