package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Load reads a run's results.json (path is the file or the -out directory
// holding it) as Runs: the medians of a -runs N run as written, a single
// run as Runs of one. Results of a newer schema are refused; an older
// one's missing figures are left out of a comparison.
func Load(path string) (*Runs, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "results.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var head struct {
		About
		Figures []Figure `json:"figures"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	switch {
	case head.Tool != "switchboard-bench":
		return nil, fmt.Errorf("report: %s: not a switchboard bench result (tool %q)", path, head.Tool)
	case head.Schema > SchemaVersion:
		return nil, fmt.Errorf("report: %s: schema %d is newer than this bench's %d", path, head.Schema, SchemaVersion)
	}
	if head.Figures != nil { // written by -runs N
		var r Runs
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("report: %s: %w", path, err)
		}
		if r.N < 1 {
			return nil, errors.New("report: " + path + ": no runs")
		}
		return &r, nil
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	return Aggregate([]*Results{&r}, nil), nil
}

// Differences names what makes two runs measure different things: the
// mix, the mode, the load, the gateway's settings, the machine's CPUs.
// Their figures still compare, but not as the same experiment.
func (a About) Differences(b About) []string {
	var out []string
	diff := func(what, x, y string) {
		if x != y {
			out = append(out, fmt.Sprintf("%s: %s against %s", what, orUnknown(x), orUnknown(y)))
		}
	}
	diff("mix", a.Mix, b.Mix)
	diff("mode", a.Mode, b.Mode)
	diff("load", a.Load.String(), b.Load.String())
	diff("gateway settings", a.settings(), b.settings())
	diff("CPUs", strconv.Itoa(a.Host.CPUs), strconv.Itoa(b.Host.CPUs))
	diff("the store's filesystem", a.StoreFS, b.StoreFS)
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// settings are the gateway settings the run changed, in words.
func (a About) settings() string {
	if len(a.Settings) == 0 {
		return "the product's defaults"
	}
	return strings.Join(a.Settings, ", ")
}

// String is the load as the table's header says it: "closed loop,
// concurrency 128" or "open loop 5000 webhooks/s".
func (l LoadSpec) String() string {
	if l.Loop == "closed" {
		return fmt.Sprintf("closed loop, concurrency %d", l.Concurrency)
	}
	return fmt.Sprintf("open loop %g webhooks/s", l.Rate)
}
