package adaptertest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Update is the -update flag of the packages that use this harness: go
// test -update rewrites their golden files instead of comparing them.
var Update = flag.Bool("update", false, "rewrite testdata golden files")

// CompareGolden checks got against the golden file, or writes got there
// under -update.
func CompareGolden(t testing.TB, file string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", file, diff)
	}
}

// EncodeGolden renders v as an outbound golden file holds it: indented by
// two spaces, one trailing newline, and no HTML escaping on top of the
// renderer's own escapes.
func EncodeGolden(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// GoldenError is how an outbound golden file records a render error.
type GoldenError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// EncodeEvents renders events as the inbound golden files hold them: the
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

// cases lists the inputs of testdata/dir, the golden files left out.
func cases(t testing.TB, dir string) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range all {
		if !strings.HasSuffix(f, ".golden.json") {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no cases in testdata/%s", dir)
	}
	return files
}

// Fixtures lists the webhook bodies of testdata/inbound (not the goldens).
func Fixtures(t testing.TB) []string {
	t.Helper()
	return cases(t, "inbound")
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

// Golden runs every testdata/inbound/<case>.json through Verify, with the
// headers sign returns for it (computed at test time from a fake secret),
// and Parse; check must hold for the events, which are compared with
// <case>.golden.json or written there under -update. The golden JSON
// must decode into as many events, with the same ids, channel ids and
// texts: the canonical encoding and the struct tags agree.
func Golden(t *testing.T, a adapters.Inbound, sign func(body []byte) adapters.Peeker, check Check) {
	for _, f := range Fixtures(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Verify(sign(body), body); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			evs, err := a.Parse(nil, body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			check(t, evs)
			got := EncodeEvents(t, evs)
			CompareGolden(t, strings.TrimSuffix(f, ".json")+".golden.json", got)
			var back []normalize.Event
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("golden does not decode: %v", err)
			}
			if len(back) != len(evs) {
				t.Fatalf("decoded %d events, parsed %d", len(back), len(evs))
			}
			for i := range back {
				if back[i].ID != evs[i].ID || back[i].ChannelID != evs[i].ChannelID || back[i].Text != evs[i].Text {
					t.Errorf("event %d decoded %+v, parsed %+v", i, back[i], evs[i])
				}
			}
		})
	}
}
