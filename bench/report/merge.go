package report

import (
	"errors"
	"maps"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/switchboard-gw/switchboard/bench/latency"
)

// MergeWindows folds two measurement windows of the same load against the
// same server into one phase, as if measured in one window as long as
// both: rates and shares are weighted by window, latency percentiles
// come from both histograms together (ha and hb, the windows' own; they
// are not changed), CPU seconds, requests and errors add up, peaks take
// the higher. It is how the suite reads the ceiling from the windows that
// bracket the gateway's, so a host whose speed drifts during a run moves
// the ratio less.
//
// Round trips, the store and the runtime are accounted per window of the
// gateway's; phases carrying them cannot be merged, and say so.
func MergeWindows(a, b *Phase, ha, hb *hdrhistogram.Histogram) (*Phase, error) {
	if a.Accounting != nil || b.Accounting != nil || a.Store != nil || b.Store != nil ||
		a.Runtime != nil || b.Runtime != nil || a.RoundTripMS != nil || b.RoundTripMS != nil {
		return nil, errors.New("report: windows with round-trip accounting, store or runtime figures cannot be merged")
	}
	if ha == nil || hb == nil {
		return nil, errors.New("report: merging windows needs both latency histograms")
	}
	wa, wb := a.WindowS, b.WindowS
	w := wa + wb
	if w <= 0 {
		return nil, errors.New("report: merging windows of no length")
	}
	mean := func(x, y float64) float64 { return (x*wa + y*wb) / w }
	h := latency.New()
	h.Merge(ha)
	h.Merge(hb)
	m := &Phase{
		Name: a.Name, Server: a.Server, Loop: a.Loop, Rate: a.Rate, Concurrency: a.Concurrency,
		Connections: a.Connections, WindowS: w,
		ThroughputRPS:  mean(a.ThroughputRPS, b.ThroughputRPS),
		EventsInPerSec: mean(a.EventsInPerSec, b.EventsInPerSec),
		EventsPerSec:   mean(a.EventsPerSec, b.EventsPerSec),
		BackendPerSec:  mean(a.BackendPerSec, b.BackendPerSec),
		LatencyMS:      latency.Summarize(h),
		Errors:         a.Errors + b.Errors,
		MaxQueueMS:     max(a.MaxQueueMS, b.MaxQueueMS),
	}
	if len(a.ErrorsBy)+len(b.ErrorsBy) > 0 {
		m.ErrorsBy = maps.Clone(a.ErrorsBy)
		if m.ErrorsBy == nil {
			m.ErrorsBy = make(map[string]uint64, len(b.ErrorsBy))
		}
		for k, n := range b.ErrorsBy {
			m.ErrorsBy[k] += n
		}
	}
	if a.CPU != nil && b.CPU != nil {
		c := *a.CPU
		c.Seconds = a.CPU.Seconds + b.CPU.Seconds
		c.Cores = c.Seconds / w
		// A window's requests (events) are its rate times its length.
		c.MicrosPerRequest = 1e6 * c.Seconds / max(m.ThroughputRPS*w, 1)
		var events float64
		if c.MicrosPerEvent != 0 {
			events = m.EventsPerSec * w
			c.MicrosPerEvent = 1e6 * c.Seconds / max(events, 1)
		}
		// Figures of one window only would pass for both: both or none.
		if a.CPU.Sched() && b.CPU.Sched() {
			c.SetSched(a.CPU.Switches+b.CPU.Switches, a.CPU.RunQueueS+b.CPU.RunQueueS, w, m.ThroughputRPS*w, events)
		} else {
			c.SetSched(0, 0, w, 0, 0)
		}
		m.CPU = &c
	}
	if a.Memory != nil && b.Memory != nil {
		m.Memory = &Memory{
			RSSPeakMB: max(a.Memory.RSSPeakMB, b.Memory.RSSPeakMB),
			RSSEndMB:  b.Memory.RSSEndMB,
			HWMMB:     max(a.Memory.HWMMB, b.Memory.HWMMB),
			// From the first window's start to the second's end.
			RSSAnonStartMB: a.Memory.RSSAnonStartMB,
			RSSAnonEndMB:   b.Memory.RSSAnonEndMB,
			RSSFileEndMB:   b.Memory.RSSFileEndMB,
		}
	}
	if a.HostCPU != nil && b.HostCPU != nil {
		m.HostCPU = &HostCPU{
			Busy:   mean(a.HostCPU.Busy, b.HostCPU.Busy),
			Steal:  mean(a.HostCPU.Steal, b.HostCPU.Steal),
			IOWait: mean(a.HostCPU.IOWait, b.HostCPU.IOWait),
		}
	}
	if a.BenchCPU > 0 && b.BenchCPU > 0 {
		m.BenchCPU = mean(a.BenchCPU, b.BenchCPU)
	}
	return m, nil
}
