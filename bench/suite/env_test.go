package suite

import (
	"math"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/bench/procstat"
	"github.com/switchboard-gw/switchboard/bench/report"
)

func TestRangeQuantile(t *testing.T) {
	const r1, r2, r3 = "1.000e-04...1.136e-04", "2.000e-04...2.272e-04", "1.000e-03...1.136e-03"
	for _, c := range []struct {
		name          string
		before, after map[string]uint64
		q, want       float64
		ok            bool
	}{
		{"nothing counted", nil, nil, 0.5, 0, false},
		{"nothing new", map[string]uint64{r1: 5}, map[string]uint64{r1: 5}, 0.5, 0, false},
		{"inside one bucket", nil, map[string]uint64{r1: 10}, 0.5, 1.068e-04, true},
		{"the window's counts only", map[string]uint64{r1: 100}, map[string]uint64{r1: 100, r2: 4}, 0.5, 2.136e-04, true},
		{"the tail's bucket", nil, map[string]uint64{r1: 98, r3: 2}, 0.99, 1.068e-03, true},
		{"the median's bucket", nil, map[string]uint64{r3: 2, r1: 98}, 0.5, 1.0694e-04, true},
		{"the slowest: its bucket's top", nil, map[string]uint64{r1: 98, r3: 2}, 1, 1.136e-03, true},
		{"an unreadable range is skipped", nil, map[string]uint64{"x": 50, r2: 2}, 0.5, 2.136e-04, true},
	} {
		got, ok := rangeQuantile(c.before, c.after, c.q)
		if ok != c.ok || math.Abs(got-c.want) > 1e-7 {
			t.Errorf("%s: %g, %v; want %g, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// TestGatewayRuntimeCounts: the Go runtime's allocation and GC counters
// are read from the gateway's /metrics unless the gateway runs in this
// process (they would count the generator and mocks too). Here an
// in-process gateway stands in for a subprocess or a -target one by being
// forgotten as in-process.
func TestGatewayRuntimeCounts(t *testing.T) {
	_, e := inProcessEnv(t)
	c, ok := e.gatewayCounts()
	if !ok || c.hasRuntime || c.allocBytes != 0 {
		t.Fatalf("in-process: runtime counters read (%v, %+v)", ok, c)
	}
	e.inproc = nil // its shutdown is already registered in e.closers
	a, okA := e.gatewayCounts()
	sink = make([]byte, 1<<20)
	b, okB := e.gatewayCounts()
	if !okA || !okB || !a.hasRuntime || !b.hasRuntime {
		t.Fatalf("not in-process: runtime counters not read: %+v, %+v", a, b)
	}
	if b.allocBytes < a.allocBytes+1<<20 || b.mallocs <= a.mallocs || b.gcCPU < a.gcCPU {
		t.Fatalf("counters did not follow a 1 MiB allocation: %+v then %+v", a, b)
	}
}

var sink []byte

// TestMetricsSample: a -target gateway's CPU and memory, read from the
// process_* lines of its /metrics.
func TestMetricsSample(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	full := `# HELP process_cpu_seconds_total x
process_cpu_seconds_total 12.34
process_cpu_seconds_user_total 10
process_resident_memory_bytes 2.68435456e+08
process_resident_memory_peak_bytes 300000000
process_resident_memory_anon_bytes 209715200
process_resident_memory_file_bytes 58720256
process_resident_memory_shared_bytes 1
switchboard_store_commits_total 7
`
	for _, c := range []struct {
		name string
		body string
		want procstat.Sample
		ok   bool
	}{
		{"every figure", full, procstat.Sample{At: at, Source: "metrics", CPU: 12340 * time.Millisecond,
			RSS: 268435456, HWM: 300000000, RSSAnon: 209715200, RSSFile: 58720256}, true},
		{"CPU and RSS only", "process_cpu_seconds_total 0.5\nprocess_resident_memory_bytes 1048576\n",
			procstat.Sample{At: at, Source: "metrics", CPU: 500 * time.Millisecond, RSS: 1 << 20}, true},
		{"no CPU counter", "process_resident_memory_bytes 1048576\n", procstat.Sample{}, false},
		{"no RSS gauge", "process_cpu_seconds_total 0.5\n", procstat.Sample{}, false},
		{"a labelled line is another series", "process_cpu_seconds_total{mode=\"user\"} 3\nprocess_resident_memory_bytes 1\n", procstat.Sample{}, false},
		{"not a number", "process_cpu_seconds_total x\nprocess_resident_memory_bytes 1\n", procstat.Sample{}, false},
		{"negative", "process_cpu_seconds_total 1\nprocess_resident_memory_bytes -1\n", procstat.Sample{}, false},
		{"empty", "", procstat.Sample{}, false},
	} {
		got, ok := metricsSample([]byte(c.body), at)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%s: %+v, %v; want %+v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// TestStoreFigures: backend POSTs are per event that reached the backend
// in the window, not per reply (replies lag their POSTs: 1,000 POSTs for
// the 1,000 events at the backend read 1.11 against the 900 replies that
// had arrived); batched POSTs carry many events; counters that went
// backwards count zero.
func TestStoreFigures(t *testing.T) {
	a := &windowCounts{commits: 10, writes: 100, pages: 500, backendPOSTs: 100, channelRequests: 50, replies: 50, settled: 5}
	b := &windowCounts{commits: 40, writes: 1000, pages: 1400, backendPOSTs: 1100, channelRequests: 950, replies: 950, settled: 455}
	for _, c := range []struct {
		name              string
		a, b              *windowCounts
		events, atBackend float64
		want              report.Store
	}{
		{"one POST an event", a, b, 900, 1000, report.Store{Commits: 30, Writes: 900, Pages: 900, Settled: 450,
			CommitsPerEvent: 30.0 / 900, WritesPerCommit: 30, PagesPerCommit: 30,
			BackendPOSTsPerEvent: 1, SendRequestsPerReply: 1, SettledPerReply: 0.5}},
		{"batched POSTs", a, b, 64000, 64000, report.Store{Commits: 30, Writes: 900, Pages: 900, Settled: 450,
			CommitsPerEvent: 30.0 / 64000, WritesPerCommit: 30, PagesPerCommit: 30,
			BackendPOSTsPerEvent: 1000.0 / 64000, SendRequestsPerReply: 1, SettledPerReply: 0.5}},
		{"counters went backwards", b, a, 900, 1000, report.Store{}},
	} {
		if got := storeFigures(c.a, c.b, c.events, c.atBackend); *got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, *got, c.want)
		}
	}
}

func TestRuntimeFigures(t *testing.T) {
	a := &windowCounts{allocBytes: 1 << 20, mallocs: 1000, gcCPU: 0.5}
	b := &windowCounts{allocBytes: 1<<20 + 4096*100, mallocs: 4000, gcCPU: 0.6}
	rt := runtimeFigures(a, b, 100, &report.CPU{Seconds: 2})
	if rt.AllocKBPerEvent != 4 || rt.AllocsPerEvent != 30 || math.Abs(rt.GCCPUShare-0.05) > 1e-9 {
		t.Fatalf("figures %+v, want 4 KB, 30 objects, 5%%", rt)
	}
	// No CPU reading: no share; counters that went backwards (a restarted
	// gateway) give zero, not a wrapped uint64.
	rt = runtimeFigures(b, a, 100, nil)
	if rt.AllocKBPerEvent != 0 || rt.AllocsPerEvent != 0 || rt.GCCPUShare != 0 {
		t.Fatalf("figures %+v, want zeros", rt)
	}
}
