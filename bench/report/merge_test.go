package report

import (
	"math"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/switchboard-gw/switchboard/bench/latency"
	"github.com/switchboard-gw/switchboard/bench/ledger"
)

// hist records n answers of us microseconds each.
func hist(t *testing.T, n int, us int64) *hdrhistogram.Histogram {
	h := latency.New()
	if err := h.RecordValues(us, int64(n)); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestMergeWindows: two ceiling windows, the second 25% slower and twice
// as long, fold into the figures one window as long as both would have
// given: rates weighted by window, percentiles of all answers together,
// CPU and errors added up, peaks kept.
func TestMergeWindows(t *testing.T) {
	a := &Phase{Name: "main", Server: "ceiling", Loop: "closed", Concurrency: 128, Connections: 128, WindowS: 10,
		ThroughputRPS: 40000, EventsInPerSec: 46000, EventsPerSec: 46000,
		Errors: 2, ErrorsBy: map[string]uint64{"timeout": 2}, MaxQueueMS: 3,
		CPU: &CPU{Seconds: 8, Cores: 0.8, MicrosPerRequest: 20, Scope: "process", Source: "schedstat",
			Switches: 400000, RunQueueS: 2, SwitchesPerRequest: 1, RunQueue: 0.2},
		Memory:  &Memory{RSSPeakMB: 30, RSSEndMB: 29, HWMMB: 31, RSSAnonStartMB: 20, RSSAnonEndMB: 21, RSSFileEndMB: 8},
		HostCPU: &HostCPU{Busy: 0.9, Steal: 0.03, IOWait: 0},
	}
	b := &Phase{Name: "main 2", Server: "ceiling", Loop: "closed", Concurrency: 128, Connections: 128, WindowS: 20,
		ThroughputRPS: 30000, EventsInPerSec: 34000, EventsPerSec: 34000,
		Errors: 1, ErrorsBy: map[string]uint64{"timeout": 1, "http_503": 3}, MaxQueueMS: 1,
		CPU: &CPU{Seconds: 14, Cores: 0.7, MicrosPerRequest: 23.3, Scope: "process", Source: "schedstat",
			Switches: 500000, RunQueueS: 6, SwitchesPerRequest: 0.83, RunQueue: 0.3},
		Memory:  &Memory{RSSPeakMB: 35, RSSEndMB: 33, HWMMB: 36, RSSAnonStartMB: 22, RSSAnonEndMB: 24, RSSFileEndMB: 9},
		HostCPU: &HostCPU{Busy: 0.6, Steal: 0, IOWait: 0.03},
	}
	// 400 fast answers in the first window, 600 slow ones in the second:
	// the median is a slow one, as in one window holding all 1,000.
	m, err := MergeWindows(a, b, hist(t, 400, 1000), hist(t, 600, 5000))
	if err != nil {
		t.Fatal(err)
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if m.Name != "main" || m.Server != "ceiling" || m.Concurrency != 128 {
		t.Errorf("identity of the merged phase: %+v", m)
	}
	near("window", m.WindowS, 30)
	near("webhooks/s", m.ThroughputRPS, (40000*10+30000*20)/30.0)
	near("events in/s", m.EventsInPerSec, (46000*10+34000*20)/30.0)
	if m.LatencyMS.Count != 1000 || m.LatencyMS.P50 < 4.9 || m.LatencyMS.P50 > 5.1 || m.LatencyMS.P99 < 4.9 {
		t.Errorf("latency of both windows: %+v", m.LatencyMS)
	}
	if m.LatencyMS.Mean < 3.3 || m.LatencyMS.Mean > 3.5 { // (400×1 + 600×5) / 1000 ms
		t.Errorf("mean latency %v, want 3.4", m.LatencyMS.Mean)
	}
	if m.Errors != 3 || m.ErrorsBy["timeout"] != 3 || m.ErrorsBy["http_503"] != 3 || a.ErrorsBy["http_503"] != 0 {
		t.Errorf("errors %d %v (a's own map %v)", m.Errors, m.ErrorsBy, a.ErrorsBy)
	}
	near("max queue", m.MaxQueueMS, 3)
	c := m.CPU
	if c == nil {
		t.Fatal("no CPU")
	}
	near("CPU seconds", c.Seconds, 22)
	near("cores", c.Cores, 22.0/30)
	near("µs/request", c.MicrosPerRequest, 1e6*22/(40000*10+30000*20))
	// Thread switches and run-queue time add up like CPU seconds.
	if c.Switches != 900000 || c.SwitchesPerEvent != 0 {
		t.Errorf("switches %d, per event %v (a ceiling has none)", c.Switches, c.SwitchesPerEvent)
	}
	near("switches/request", c.SwitchesPerRequest, 900000.0/(40000*10+30000*20))
	near("run queue seconds", c.RunQueueS, 8)
	near("threads waiting", c.RunQueue, 8.0/30)
	// A window without them (a thread exited): the merged phase has none.
	b.CPU.Switches, b.CPU.RunQueueS = 0, 0
	if m, err := MergeWindows(a, b, hist(t, 400, 1000), hist(t, 600, 5000)); err != nil || m.CPU.Sched() {
		t.Errorf("one window's switches stand for both: %+v %v", m.CPU, err)
	}
	if c.MicrosPerEvent != 0 || c.Scope != "process" || a.CPU.Seconds != 8 {
		t.Errorf("CPU %+v (a's own %+v)", c, a.CPU)
	}
	if mem := m.Memory; mem == nil || mem.RSSPeakMB != 35 || mem.RSSEndMB != 33 || mem.HWMMB != 36 ||
		mem.RSSAnonStartMB != 20 || mem.RSSAnonEndMB != 24 || mem.RSSFileEndMB != 9 {
		t.Errorf("memory %+v", m.Memory)
	}
	near("host busy", m.HostCPU.Busy, (0.9*10+0.6*20)/30)
	near("host steal", m.HostCPU.Steal, 0.01)
	near("host iowait", m.HostCPU.IOWait, 0.02)

	// A window without a histogram, or with the gateway's accounting,
	// is refused rather than half merged.
	if _, err := MergeWindows(a, b, nil, hist(t, 1, 1)); err == nil {
		t.Error("merged without a histogram")
	}
	g := *b
	g.Accounting = &ledger.Accounting{Sent: 1}
	if _, err := MergeWindows(a, &g, hist(t, 1, 1), hist(t, 1, 1)); err == nil {
		t.Error("merged a window with round-trip accounting")
	}
}
