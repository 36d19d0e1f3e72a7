package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{0.2, 0.18, 0.16}, 0.18},
	} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// runsSample is three runs of sample() with figures spread as a drifting
// machine spreads them, and one lost event in the last.
func runsSample() []*Results {
	var runs []*Results
	for i, k := range []float64{1, 0.8, 1.1} {
		r := sample()
		r.ThroughputRPS *= k
		r.EventsPerSec *= k
		r.Ratio *= k
		r.CPUMicrosPerEvent = F(30 / k)
		r.LatencyMS.P99 = 0.9 / k
		r.Sweep[0].Gateway.LatencyMS.P99 = 4 / k
		r.Targets[1].Value = F(0.9 / k)
		r.Targets[1].Reference = F(0.5 / k)
		r.Targets[1].Check()
		if i == 2 {
			lost := int64(1)
			r.Lost = &lost
			r.Targets[0].Value = F(1)
			r.Targets[0].Check()
		}
		r.Errors = uint64(i)
		r.CeilingWindowsRPS = []float64{320, 280 * k}
		runs = append(runs, r)
	}
	return runs
}

func TestAggregate(t *testing.T) {
	runs := runsSample()
	a := Aggregate(runs, []string{"run1", "run2", "run3"})
	if a.N != 3 || a.ThroughputRPS != 300 || a.Ratio != 1.1 || a.CPUMicrosPerEvent == nil || *a.CPUMicrosPerEvent != 30 {
		t.Fatalf("medians: n %d throughput %v ratio %v cpu %v", a.N, a.ThroughputRPS, a.Ratio, a.CPUMicrosPerEvent)
	}
	if a.LatencyMS.P99 != 0.9 || a.LatencyMS.Count != 3000 {
		t.Fatalf("latency %+v", a.LatencyMS)
	}
	if a.Lost == nil || *a.Lost != 1 || a.Errors != 3 {
		t.Fatalf("lost %v errors %d: want sums 1 and 3", a.Lost, a.Errors)
	}
	byName := map[string]Figure{}
	for _, f := range a.Figures {
		byName[f.Name] = f
	}
	if f := byName["answer p99 ms at 50%"]; len(f.Values) != 3 || f.Median != 4 || f.Min != runs[2].Sweep[0].Gateway.LatencyMS.P99 || f.Max != runs[1].Sweep[0].Gateway.LatencyMS.P99 {
		t.Fatalf("sweep figure %+v", f)
	}
	if f := byName["ratio"]; f.Min != runs[1].Ratio || f.Max != runs[2].Ratio || f.Values[0] != runs[0].Ratio {
		t.Fatalf("ratio figure %+v", f)
	}
	// The ceiling's drift within each run, as after ÷ before.
	if f := byName["ceiling after ÷ before"]; len(f.Values) != 3 || f.Median != 0.875 || f.Min != 0.7 || f.Max != 280*1.1/320 {
		t.Fatalf("ceiling drift figure %+v", f)
	}
	// A run that measured the ceiling once (an older results.json) has no
	// drift: the figure is left out, not read as none.
	old := runsSample()
	old[1].CeilingWindowsRPS = nil
	for _, f := range Aggregate(old, nil).Figures {
		if f.Name == "ceiling after ÷ before" {
			t.Fatalf("drift summarized over a run without it: %+v", f)
		}
	}
	// Targets: the exact one (lost == 0) on the worst run, the others on
	// the median.
	if lost := a.Targets[0]; lost.Value == nil || *lost.Value != 1 || lost.Pass == nil || *lost.Pass {
		t.Fatalf("lost target %+v", lost)
	}
	if p99 := a.Targets[1]; p99.Value == nil || *p99.Value != 0.9 || p99.Pass == nil || !*p99.Pass {
		t.Fatalf("p99 target %+v", p99)
	}
	// A note that differs by run (the rate of each run's 50% point) is
	// each run's, not the first one's.
	for i, r := range runs {
		r.Targets[1].Note = fmt.Sprintf("%d webhooks/s", 5000+i)
	}
	if n := Aggregate(runs, nil).Targets[1].Note; n != "5000 webhooks/s / 5001 webhooks/s / 5002 webhooks/s" {
		t.Fatalf("note over runs %q", n)
	}
	// The reference pipeline's figure is a median too, not one run's.
	if ref := a.Targets[1].Reference; ref == nil || *ref != 0.5 {
		t.Fatalf("reference of the p99 target %v, want the median 0.5", ref)
	}
	// A run whose phase failed fails the target, whatever the others say.
	runs[1].Targets[1].Fail("12 errors in that phase")
	if p99 := Aggregate(runs, nil).Targets[1]; !p99.Failed() || !strings.Contains(p99.Note, "12 errors") {
		t.Fatalf("p99 target with a failed run %+v", p99)
	}
	runs = runsSample()

	var b bytes.Buffer
	a.Table(&b)
	for _, want := range []string{"3 runs", "median", "run 3", "round trips/s", "answer p99 ms at 50%", "CPU µs/event at 50%", "lost, all runs", "FAIL", "PASS", "gateway CPU cores", "store pages/commit"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}

	dir := t.TempDir()
	if err := a.Write(dir); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"throughput_rps", "events_per_sec", "ceiling_rps", "ratio", "cpu_us_per_event", "lost", "errors", "latency_ms", "runs", "figures", "targets"} {
		if _, ok := m[k]; !ok {
			t.Errorf("results.json lacks %s", k)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.txt")); err != nil {
		t.Error(err)
	}
}

func TestCompare(t *testing.T) {
	runs := runsSample()
	a := Aggregate(runs, nil)
	for _, r := range runs {
		r.Ratio *= 2 // B: twice the ratio, ranges apart
	}
	b := Aggregate(runs, nil)
	var out bytes.Buffer
	Compare(&out, a, b, "old build", "new build", "3 runs each, alternated")
	s := out.String()
	for _, want := range []string{"A: old build", "B: new build", "3 runs each", "B ÷ A"} {
		if !strings.Contains(s, want) {
			t.Errorf("comparison lacks %q:\n%s", want, s)
		}
	}
	var ratioLine, throughputLine string
	for _, l := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(strings.TrimSpace(l), "ratio "):
			ratioLine = l
		case strings.HasPrefix(strings.TrimSpace(l), "webhooks/s (2xx)"):
			throughputLine = l
		}
	}
	if !strings.Contains(ratioLine, "2.000") || !strings.Contains(ratioLine, "ranges apart") {
		t.Errorf("ratio line %q: want B ÷ A 2.000, ranges apart", ratioLine)
	}
	if !strings.Contains(throughputLine, "1.000") || strings.Contains(throughputLine, "ranges apart") {
		t.Errorf("throughput line %q: want 1.000 and overlapping ranges", throughputLine)
	}
}

// One run a side has no range: no verdict, however far apart.
func TestCompareSingleRuns(t *testing.T) {
	runs := runsSample()
	a := Aggregate(runs[:1], nil)
	runs[0].Ratio *= 2
	b := Aggregate(runs[:1], nil)
	var out bytes.Buffer
	Compare(&out, a, b, "monday", "tuesday", "saved results")
	if s := out.String(); strings.Contains(s, "ranges apart") || !strings.Contains(s, "2.000") {
		t.Fatalf("single runs:\n%s", s)
	}
}

// Load reads what a run writes: one run's results.json as Runs of one, a
// -runs N run's as written, from the directory or the file.
func TestLoad(t *testing.T) {
	runs := runsSample()
	one, many := t.TempDir(), t.TempDir()
	if _, err := runs[0].WriteJSON(one); err != nil {
		t.Fatal(err)
	}
	agg := Aggregate(runs, nil)
	if err := agg.Write(many); err != nil {
		t.Fatal(err)
	}
	r1, err := Load(one)
	if err != nil {
		t.Fatal(err)
	}
	if r1.N != 1 || r1.Ratio != runs[0].Ratio || len(r1.Figures) == 0 {
		t.Fatalf("one run: N %d ratio %v figures %d", r1.N, r1.Ratio, len(r1.Figures))
	}
	rn, err := Load(filepath.Join(many, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if rn.N != len(runs) || rn.Ratio != agg.Ratio || len(rn.Figures) != len(agg.Figures) {
		t.Fatalf("%d runs: N %d ratio %v (want %v) figures %d (want %d)", len(runs), rn.N, rn.Ratio, agg.Ratio, len(rn.Figures), len(agg.Figures))
	}
	for name, body := range map[string]string{
		"another tool":   `{"schema":1,"tool":"wrk"}`,
		"a newer schema": `{"schema":99,"tool":"switchboard-bench"}`,
		"not JSON":       `throughput: 5`,
		"no runs":        `{"schema":1,"tool":"switchboard-bench","runs":0,"figures":[]}`,
	} {
		p := filepath.Join(t.TempDir(), "results.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file loaded")
	}
}

// TestAggregateGatewayParts: figures of a part of the gateway's phase
// (store, host CPU, runtime) are summarized when every run has the part;
// a run without it, or reporting a figure a build may lack as 0, leaves
// that figure out.
func TestAggregateGatewayParts(t *testing.T) {
	runs := runsSample()
	for i, r := range runs {
		r.Gateway.Store = &Store{PagesPerCommit: float64(20 + i), CommitP99MS: float64(1 + i)}
		r.Gateway.HostCPU = &HostCPU{Busy: [...]float64{0.7, 0.8, 0.9}[i], Steal: 0.01}
		r.Gateway.Runtime = &Runtime{AllocsPerEvent: float64(40 - i), AllocKBPerEvent: 5}
		r.Gateway.CPU = &CPU{Switches: 1000, SwitchesPerEvent: float64(3 + i), RunQueue: [...]float64{0, 0.5, 0.7}[i]}
	}
	figures := func() map[string]Figure {
		byName := map[string]Figure{}
		for _, f := range Aggregate(runs, nil).Figures {
			byName[f.Name] = f
		}
		return byName
	}
	got := figures()
	for name, want := range map[string]float64{"store pages/commit": 21, "store commit p99 ms": 2, "host CPUs busy": 0.8,
		"host CPUs stolen": 0.01, "heap allocations/event": 39, "heap KB/event": 5,
		"thread switches/event": 4, "threads waiting for a CPU": 0.5} {
		if f, ok := got[name]; !ok || f.Median != want || len(f.Values) != 3 {
			t.Errorf("%s: %+v (present %v), want median %v of 3", name, f, ok, want)
		}
	}
	runs[1].Gateway.Runtime = nil
	runs[2].Gateway.Store.CommitP99MS = 0 // a build without the commit histogram
	got = figures()
	for _, name := range []string{"heap allocations/event", "store commit p99 ms"} {
		if f, ok := got[name]; ok {
			t.Errorf("%s summarized though a run lacks it: %+v", name, f)
		}
	}
	if _, ok := got["store pages/commit"]; !ok {
		t.Error("store pages/commit left out with every run's store present")
	}
}

func TestDifferences(t *testing.T) {
	a := About{Mix: "messenger:text=100", Mode: "binary", Load: LoadSpec{Loop: "closed", Concurrency: 128}, Host: Host{CPUs: 2}, StoreFS: "ext4"}
	if d := a.Differences(a); len(d) != 0 {
		t.Fatalf("a run differs from itself: %v", d)
	}
	b := a
	b.Mix, b.Load, b.Settings, b.Host.CPUs, b.StoreFS = "realistic", LoadSpec{Loop: "open", Rate: 300}, []string{"send_batch: 50"}, 8, "tmpfs"
	want := []string{
		"mix: messenger:text=100 against realistic",
		"load: closed loop, concurrency 128 against open loop 300 webhooks/s",
		"gateway settings: the product's defaults against send_batch: 50",
		"CPUs: 2 against 8",
		"the store's filesystem: ext4 against tmpfs",
	}
	if d := a.Differences(b); !slices.Equal(d, want) {
		t.Fatalf("differences\n%q\nwant\n%q", d, want)
	}
}
