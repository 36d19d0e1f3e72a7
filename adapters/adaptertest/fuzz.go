package adaptertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// ParseSeeds adds every inbound fixture, and extra, to a parse fuzz
// target.
func ParseSeeds(f *testing.F, extra ...string) {
	for _, name := range Fixtures(f) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// OutSeeds adds every outbound case file to a render fuzz target.
func OutSeeds(f *testing.F) {
	for _, file := range cases(f, "outbound") {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
}

// CheckParse is the body of a parser's fuzz target: Parse must not panic
// nor modify body; a refusal is an *adapters.InputError with a code that
// leaves dst alone; accepted events are appended after what dst held,
// hold check, own their memory (zeroing the body changes nothing), and the
// same body parses the same again.
func CheckParse(t *testing.T, a adapters.Inbound, body []byte, check Check) {
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
	if len(evs) == 0 || evs[0].ID != "sentinel" {
		t.Fatal("Parse overwrote dst[0]")
	}
	evs = evs[1:]
	check(t, evs)
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
// with an InputError or accept, and what it accepts must hold check. It
// returns how many bodies it tried.
func TypeConfusion(t *testing.T, a adapters.Inbound, check Check) int {
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
						check(t, evs)
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
