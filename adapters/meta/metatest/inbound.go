package metatest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Update is the -update flag of the packages that use this harness: go
// test -update rewrites their golden files instead of comparing. Those
// packages must not declare -update themselves.
var Update = flag.Bool("update", false, "rewrite testdata golden files")

// Signed returns the headers Meta would send with body, signed with
// secret (a fake one: never store real secrets).
func Signed(secret string, body []byte) adapters.Header {
	s := meta.Signer{Secret: []byte(secret)}
	h := adapters.Header{}
	h.Set(meta.SignatureHeader, string(s.Sign(nil, body)))
	return h
}

// EncodeEvents renders events as the golden files hold them: the
// canonical JSON of each (AppendJSON), in an indented array.
func EncodeEvents(t testing.TB, evs []normalize.Event) []byte {
	t.Helper()
	raw := []byte{'['}
	for i := range evs {
		if i > 0 {
			raw = append(raw, ',')
		}
		raw = evs[i].AppendJSON(raw)
	}
	raw = append(raw, ']')
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		t.Fatalf("events encode to invalid JSON: %v\n%s", err, raw)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// Fixtures lists the webhook bodies of testdata/inbound (not the goldens).
func Fixtures(t testing.TB) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join("testdata", "inbound", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, f := range all {
		if !strings.HasSuffix(f, ".golden.json") {
			bodies = append(bodies, f)
		}
	}
	if len(bodies) == 0 {
		t.Fatal("no fixtures in testdata/inbound")
	}
	return bodies
}

// ReadFixture reads testdata/inbound/name.
func ReadFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "inbound", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Golden runs every testdata/inbound/<case>.json through Verify (signed
// with secret at test time) and Parse, and compares the events with
// <case>.golden.json, or rewrites it under -update. Every event must also
// hold CheckEvents' invariants for channel.
func Golden(t *testing.T, a adapters.Inbound, channel, secret string) {
	for _, f := range Fixtures(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Verify(Signed(secret, body), body); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			evs, err := a.Parse(nil, body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := EncodeEvents(t, evs)
			golden := strings.TrimSuffix(f, ".json") + ".golden.json"
			if *Update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("events differ from %s (-want +got):\n%s", golden, diff)
			}
			// The golden JSON decodes into the same events: the canonical
			// encoding and the struct tags agree.
			var back []normalize.Event
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("golden does not decode: %v", err)
			}
			if len(back) != len(evs) {
				t.Fatalf("decoded %d events, parsed %d", len(back), len(evs))
			}
			CheckEvents(t, channel, evs)
		})
	}
}

// CheckEvents checks what holds for every event a Meta parser emits: an
// id with the channel's prefix, a type, the channel, a bot id, a response
// path that matches bot and channel id, metadata that is a JSON object,
// valid canonical JSON, and no two events of different content sharing an
// id.
func CheckEvents(t testing.TB, channel string, evs []normalize.Event) {
	t.Helper()
	ids := map[string]int{}
	for i := range evs {
		e := &evs[i]
		if e.ID == "" || e.Type == "" || e.Channel != channel {
			t.Errorf("event %d lacks id/type/channel: %+v", i, e)
		}
		if !strings.HasPrefix(e.ID, channel+":") {
			t.Errorf("event %d id %q lacks the channel prefix", i, e.ID)
		}
		if e.BotID == "" {
			t.Errorf("event %d has no bot id", i)
		}
		if e.ChannelID != "" && string(normalize.BuildResponsePath(e.BotID, e.ChannelID)) != e.ResponsePath {
			t.Errorf("event %d response path %q, want %q", i, e.ResponsePath, normalize.BuildResponsePath(e.BotID, e.ChannelID))
		}
		if e.ChannelID == "" && e.ResponsePath != "" {
			t.Errorf("event %d has a path but no channel id", i)
		}
		if len(e.Metadata) > 0 && (!json.Valid(e.Metadata) || e.Metadata[0] != '{') {
			t.Errorf("event %d metadata is not a JSON object: %s", i, e.Metadata)
		}
		if !json.Valid(e.AppendJSON(nil)) {
			t.Errorf("event %d encodes to invalid JSON: %s", i, e.AppendJSON(nil))
		}
		if j, ok := ids[e.ID]; ok && !meta.SameContent(&evs[j], e) {
			t.Errorf("events %d and %d differ but share id %q", j, i, e.ID)
		}
		ids[e.ID] = i
	}
}

// NoAlias checks that events own their memory: scribbling over a body
// (fasthttp reuses it) or parsing another body (other) changes nothing.
func NoAlias(t *testing.T, a adapters.Inbound, other []byte) {
	for _, f := range Fixtures(t) {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := a.Parse(nil, body)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		before := EncodeEvents(t, evs)
		for i := range body {
			body[i] = 'X'
		}
		if _, err := a.Parse(nil, bytes.Clone(other)); err != nil {
			t.Fatal(err)
		}
		if after := EncodeEvents(t, evs); !bytes.Equal(before, after) {
			t.Fatalf("%s: events changed after the body was reused:\n%s\nvs\n%s", f, before, after)
		}
	}
}

// StableIDs checks that parsing a fixture twice gives the same ids.
func StableIDs(t *testing.T, a adapters.Inbound) {
	for _, f := range Fixtures(t) {
		body, _ := os.ReadFile(f)
		e1, err1 := a.Parse(nil, body)
		e2, err2 := a.Parse(nil, bytes.Clone(body))
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v %v", f, err1, err2)
		}
		for i := range e1 {
			if e1[i].ID != e2[i].ID {
				t.Errorf("%s: event %d id %q then %q", f, i, e1[i].ID, e2[i].ID)
			}
		}
	}
}

// CheckParse is the body of a parser's fuzz target: Parse must not
// panic nor modify body; a refusal is an *adapters.InputError with a code
// that leaves dst alone; accepted events hold CheckEvents' invariants,
// own their memory, and the same body parses the same again.
func CheckParse(t *testing.T, a adapters.Inbound, channel string, body []byte) {
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
	CheckEvents(t, channel, evs)
	if t.Failed() {
		t.FailNow()
	}
	before := EncodeEvents(t, evs)
	for i := range body {
		body[i] = 0
	}
	if again := EncodeEvents(t, evs); !bytes.Equal(before, again) {
		t.Fatal("events alias the body")
	}
	evs2, err := a.Parse(nil, keep)
	if err != nil {
		t.Fatalf("second parse refused: %v", err)
	}
	if again := EncodeEvents(t, evs2); !bytes.Equal(before, again) {
		t.Fatalf("second parse differs:\n%s\n%s", before, again)
	}
}

// TypeConfusion replaces every value of every fixture, one at a time,
// with values of every JSON type: Parse must never panic, must refuse
// with an InputError or accept, and what it accepts must hold
// CheckEvents' invariants. It returns how many bodies it tried.
func TypeConfusion(t *testing.T, a adapters.Inbound, channel string) int {
	subs := []any{nil, json.Number("0"), json.Number("-1"), json.Number("1.5"), json.Number("1e400"),
		json.Number("18446744073709551616"), "", "x\u0000y", true, []any{}, map[string]any{}, []any{json.Number("1"), "a"}}
	n := 0
	for _, f := range Fixtures(t) {
		body, _ := os.ReadFile(f)
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var root any
		if err := dec.Decode(&root); err != nil {
			t.Fatal(err)
		}
		var walk func(v any)
		try := func(set func(any), orig any) {
			for _, s := range subs {
				set(s)
				mutated, err := json.Marshal(root)
				if err != nil {
					t.Fatal(err)
				}
				n++
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("%s: panic %v on %s", f, r, mutated)
						}
					}()
					evs, err := a.Parse(nil, mutated)
					var ie *adapters.InputError
					if err != nil && !errors.As(err, &ie) {
						t.Fatalf("%s: %T %v", f, err, err)
					}
					if err == nil {
						CheckEvents(t, channel, evs)
					}
				}()
			}
			set(orig)
		}
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, c := range x {
					try(func(nv any) { x[k] = nv }, c)
					walk(c)
				}
			case []any:
				for i, c := range x {
					try(func(nv any) { x[i] = nv }, c)
					walk(c)
				}
			}
		}
		walk(root)
	}
	return n
}
