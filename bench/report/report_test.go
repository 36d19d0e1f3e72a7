package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/bench/latency"
	"github.com/switchboard-gw/switchboard/bench/ledger"
)

func sample() *Results {
	lat := latency.Summary{Count: 1000, P50: 0.4, P90: 0.7, P99: 0.9, P999: 2.1, Max: 3}
	rt := latency.Summary{Count: 1100, P50: 1.4, P90: 1.9, P99: 3.2, P999: 5, Max: 7}
	lost := int64(0)
	gw := Phase{Name: "main", Server: "gateway", Loop: "open", Rate: 300, Connections: 64, WindowS: 10,
		ThroughputRPS: 300, EventsInPerSec: 330, EventsPerSec: 330, LatencyMS: lat, RoundTripMS: &rt,
		Accounting: &ledger.Accounting{Sent: 3300, Acked: 3300, AtBackend: 3300, Replied: 3300},
		CPU: &CPU{Seconds: 0.1, Cores: 0.01, MicrosPerEvent: 30, MicrosPerRequest: 33, Scope: "process", Source: "schedstat",
			Switches: 6000, SwitchesPerEvent: 18.2, SwitchesPerRequest: 20, RunQueueS: 0.35, RunQueue: 0.035},
		Memory: &Memory{RSSPeakMB: 40, RSSEndMB: 38, HWMMB: 41, RSSAnonStartMB: 21, RSSAnonEndMB: 23, RSSFileEndMB: 15},
		Store: &Store{Commits: 2900, Writes: 9900, Pages: 20300, Settled: 3201, CommitsPerEvent: 0.879, WritesPerCommit: 3.4, PagesPerCommit: 7, SettledPerReply: 0.97,
			CommitP50MS: 0.41, CommitP99MS: 0.83, CommitMaxMS: 61.2, FileMB: 12.25},
		Runtime: &Runtime{AllocKBPerEvent: 4.25, AllocsPerEvent: 31.5, GCCPUShare: 0.034},
		HostCPU: &HostCPU{Busy: 0.93, Steal: 0.004, IOWait: 0.012}}
	ceil := Phase{Name: "main", Server: "ceiling", Loop: "open", Rate: 300, Connections: 64, WindowS: 10,
		ThroughputRPS: 300, EventsInPerSec: 330, EventsPerSec: 330, LatencyMS: latency.Summary{Count: 1000, P50: 0.1, P99: 0.3}}
	r := &Results{
		About: About{Schema: SchemaVersion, Tool: "switchboard-bench", Mode: "binary", Mix: "messenger:text=100",
			Load: LoadSpec{Loop: "open", Rate: 300, Connections: 64, DurationS: 10, WarmupS: 2}},
		Headline: Headline{ThroughputRPS: 300, EventsPerSec: 330, CeilingRPS: 300, Ratio: 1.1, CPUMicrosPerEvent: F(30), Lost: &lost,
			LatencyMS: lat, RoundTripMS: &rt},
		Gateway: gw, Ceiling: ceil, CeilingWindowsRPS: []float64{320, 280},
		Ratios: map[string]float64{"latency_p99": 3},
		Max:    &Max{Concurrency: 128, CeilingRPS: 40000, GatewayRPS: 9000, GatewayEventsPerSec: 10000, Ratio: 0.25},
	}
	p2 := gw
	p2.ThroughputRPS, p2.Rate = 4500, 4500
	p2.LatencyMS.P99 = 4
	p2.CPU = &CPU{Seconds: 4.2, Cores: 0.42, MicrosPerEvent: 93.5, MicrosPerRequest: 100, Scope: "process", Source: "schedstat",
		Switches: 12000, RunQueueS: 5.9, RunQueue: 1.18}
	p2.HostCPU = &HostCPU{Busy: 0.86, Steal: 0.052, IOWait: 0.01}
	c2 := ceil
	c2.ThroughputRPS = 4500
	c2.CPU = &CPU{Seconds: 0.5, Cores: 0.05, MicrosPerRequest: 11.2, Scope: "process", Source: "schedstat"}
	r.Sweep = []Point{{Rate: 4500, Spec: "50%", Gateway: p2, Ceiling: &c2}}
	r.Targets = []Target{{Name: "lost", Value: F(0), Limit: 0, Op: "=="}, {Name: "p99", Limit: 1, Op: "<", Unit: "ms"}}
	for i := range r.Targets {
		r.Targets[i].Check()
	}
	return r
}

// TestResultsSchema pins the keys other tools read from results.json.
func TestResultsSchema(t *testing.T) {
	dir := t.TempDir()
	path, err := sample().WriteJSON(dir)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "results.json") {
		t.Fatalf("wrote %s", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"throughput_rps", "events_per_sec", "ceiling_rps", "ratio", "cpu_us_per_event", "lost", "errors"} {
		v, ok := m[k]
		if !ok {
			t.Errorf("results.json lacks %q", k)
			continue
		}
		if _, isNum := v.(float64); !isNum {
			t.Errorf("%s = %v (%T), want a number", k, v, v)
		}
	}
	lat, ok := m["latency_ms"].(map[string]any)
	if !ok {
		t.Fatalf("latency_ms = %v", m["latency_ms"])
	}
	for _, k := range []string{"p50", "p90", "p99", "p999", "max"} {
		if _, ok := lat[k].(float64); !ok {
			t.Errorf("latency_ms lacks %q", k)
		}
	}
	if m["schema"].(float64) != SchemaVersion {
		t.Error("schema version")
	}
	// Unknown figures are null, not a misleading zero.
	r := sample()
	r.CPUMicrosPerEvent, r.Lost = nil, nil
	b, _ = json.Marshal(r)
	json.Unmarshal(b, &m)
	if v, ok := m["cpu_us_per_event"]; !ok || v != nil {
		t.Errorf("unknown cpu_us_per_event = %v, want null", v)
	}
	if v, ok := m["lost"]; !ok || v != nil {
		t.Errorf("unknown lost = %v, want null", v)
	}
}

func TestTargetCheck(t *testing.T) {
	for _, c := range []struct {
		op   string
		v, l float64
		want bool
	}{{"<", 0.9, 1, true}, {"<", 1, 1, false}, {"<=", 35, 35, true}, {">=", 0.2, 0.25, false}, {"==", 0, 0, true}, {"==", 1, 0, false}} {
		tg := Target{Op: c.op, Value: F(c.v), Limit: c.l}
		tg.Check()
		if *tg.Pass != c.want {
			t.Errorf("%v %s %v = %v", c.v, c.op, c.l, *tg.Pass)
		}
	}
	tg := Target{Op: "<", Limit: 1}
	tg.Check()
	if tg.Pass != nil {
		t.Error("an unmeasured target passed or failed")
	}
	tg.Fail("phase failed")
	tg.Check()
	if tg.Pass == nil || *tg.Pass || !tg.Failed() || tg.Value != nil {
		t.Errorf("a failed target after Check: %+v", tg)
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	sample().Table(&b)
	out := b.String()
	for _, want := range []string{"webhooks/s (2xx)", "round trip p99 ms", "lost (backend + replies)", "CPU µs/event",
		"capacity (closed loop, concurrency 128)", "latency against load", "50%=4500", "PASS", "n/a",
		"gateway settings: the product's defaults", "store commits/event", "0.879", "3.4, 7.0", "pages/commit",
		"store commit p50 / p99 / max ms", "0.410 / 0.830 / 61.200", "commit p99", "commit max", "store file MB"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// The sweep's CPU columns: the gateway's per round trip, the ceiling's
	// per request, the gateway's threads waiting for a CPU.
	if !regexp.MustCompile(`50%=4500 .* 0\.830 +61\.200 +93\.5 +11\.2 +1\.18 +86% +5\.2% *\n`).MatchString(out) {
		t.Errorf("the sweep lacks its CPU and host columns:\n%s", out)
	}
	// The host's CPU over the main window; the ceiling's was not read.
	if !regexp.MustCompile(`host CPUs: busy / steal / iowait +93% / 0\.4% / 1\.2% +- *\n`).MatchString(out) {
		t.Errorf("table lacks the host's CPU row:\n%s", out)
	}
	// The ceiling's windows before and after the gateway's, and the drift.
	if !regexp.MustCompile(`ceiling before / after the gateway +320 / 280 +-12\.5% drift *\n`).MatchString(out) {
		t.Errorf("table lacks the ceiling's two windows:\n%s", out)
	}
	if !regexp.MustCompile(`replies sent before spooling +97%`).MatchString(out) {
		t.Errorf("table lacks the settled replies' share:\n%s", out)
	}
	if !regexp.MustCompile(`heap allocations/event: KB, objects +4\.25, 31\.5 *\n(.*\n)?.*GC share of the gateway's CPU +3\.4% *\n`).MatchString(out) {
		t.Errorf("table lacks the gateway's allocations and GC share:\n%s", out)
	}
	// The threads' switches and run queue; the ceiling's were not read.
	if !regexp.MustCompile(`thread switches/event \(ceiling: /request\) +18\.2 +- *\n *threads waiting for a CPU \(mean\) +0\.04 +- *\n`).MatchString(out) {
		t.Errorf("table lacks the threads' switches and run queue:\n%s", out)
	}
	// Resident memory split: the gateway's anonymous part over the window
	// and its mapped files; the ceiling's memory was not read.
	if !regexp.MustCompile(`RSS anonymous MB, window start → end +21 → 23 *\n *RSS mapped files MB at end \(store\) +15 *\n`).MatchString(out) {
		t.Errorf("table lacks the anonymous and mapped-file memory:\n%s", out)
	}
	(&Results{}).Table(&b) // nothing measured: no panic
}

// A -target run has the ceiling's CPU but not the gateway's, nor round
// trips: the gateway's CPU says "-", not a measured zero, and its capacity
// is in events accepted.
func TestTableUnmeasuredCPU(t *testing.T) {
	r := sample()
	r.Gateway.CPU = nil
	r.Ceiling.CPU = &CPU{Cores: 1.36, MicrosPerRequest: 23.7}
	r.Gateway.RoundTripMS = nil
	var b bytes.Buffer
	r.Table(&b)
	for _, re := range []string{`CPU µs/event \(ceiling: /request\) +- +23\.7 *\n`, `CPU cores +- +1\.36 *\n`,
		`gateway [0-9]+ webhooks/s, [0-9]+ events accepted/s; ceiling`} {
		if !regexp.MustCompile(re).MatchString(b.String()) {
			t.Errorf("table lacks %s:\n%s", re, b.String())
		}
	}
}

func TestChart(t *testing.T) {
	dir := t.TempDir()
	for _, ext := range []string{"png", "svg"} {
		path := filepath.Join(dir, "latency."+ext)
		if err := sample().Chart(path); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if ext == "png" && !bytes.HasPrefix(b, []byte("\x89PNG")) || ext == "svg" && !bytes.Contains(b[:200], []byte("<svg")) {
			t.Fatalf("%s is not a %s", path, ext)
		}
	}
	if err := (&Results{}).Chart(filepath.Join(dir, "empty.png")); err == nil {
		t.Fatal("a chart of nothing")
	}
}
