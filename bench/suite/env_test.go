package suite

import (
	"math"
	"os"
	"testing"

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
// are read from the gateway's /metrics in binary mode only (in-process
// they would count the generator and mocks too). Here an in-process
// gateway stands in for the subprocess by giving its pid.
func TestGatewayRuntimeCounts(t *testing.T) {
	_, e := inProcessEnv(t)
	c, ok := e.gatewayCounts()
	if !ok || c.hasRuntime || c.allocBytes != 0 {
		t.Fatalf("in-process: runtime counters read (%v, %+v)", ok, c)
	}
	e.gatewayPID = os.Getpid()
	a, okA := e.gatewayCounts()
	sink = make([]byte, 1<<20)
	b, okB := e.gatewayCounts()
	if !okA || !okB || !a.hasRuntime || !b.hasRuntime {
		t.Fatalf("binary mode: runtime counters not read: %+v, %+v", a, b)
	}
	if b.allocBytes < a.allocBytes+1<<20 || b.mallocs <= a.mallocs || b.gcCPU < a.gcCPU {
		t.Fatalf("counters did not follow a 1 MiB allocation: %+v then %+v", a, b)
	}
}

var sink []byte

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
