package suite

import (
	"fmt"

	"github.com/switchboard-gw/switchboard/bench/report"
)

// The targets. They are measured and printed, never asserted by a
// unit test: -check turns a failure into a non-zero exit.
const (
	targetRatio      = 0.25 // round trips/s ÷ ceiling requests/s, at capacity
	targetCPUPerMsg  = 35   // µs of gateway CPU per Messenger text round trip
	targetP99At300   = 1.0  // ms, webhook answer p99 at 300 webhooks/s
	targetP99AtHalf  = 5.0  // ms, webhook answer p99 at half the capacity
	targetLost       = 0
	targetLowRate    = 300.0
	targetHalfPct    = 50.0
	targetTextMixStr = "messenger:text=100"
)

func (s *suite) targets(res *report.Results) []report.Target {
	var out []report.Target
	add := func(t report.Target) {
		t.Check()
		out = append(out, t)
	}

	ratio := report.Target{Name: "round trip ÷ ceiling at capacity (ratio)", Limit: targetRatio, Op: ">=", Unit: ""}
	switch {
	case res.Max != nil && res.Mode == "target":
		// Not the target's quantity: no verdict on it.
		ratio.Note = fmt.Sprintf("-target: events accepted ÷ ceiling %.3f, not round trips", res.Max.Ratio)
	case res.Max != nil:
		ratio.Value = report.F(res.Max.Ratio)
	default:
		ratio.Note = "capacity not measured: run closed loop (-concurrency N) or sweep a percentage (-sweep 50%)"
	}
	if r := res.Reference; r != nil && r.Loop == "closed" && res.Max != nil {
		ratio.Reference = report.F(report.Ratio(r.EventsPerSec, res.CeilingRPS))
	}
	add(ratio)

	cpu := report.Target{Name: "gateway CPU per event", Limit: targetCPUPerMsg, Op: "<=", Unit: "µs"}
	switch g := res.Gateway; {
	case g.CPU == nil && res.Mode == "target":
		cpu.Note = "-target: its /metrics has no process_cpu_seconds_total"
	case g.CPU == nil:
		cpu.Note = "not measured"
	case g.CPU.Scope != "process":
		cpu.Note = "inprocess mode counts the generator too: use -mode binary"
	default:
		cpu.Value = report.F(g.CPU.MicrosPerEvent)
		switch {
		case res.Mode == "target":
			cpu.Note = "-target: per event accepted, from its /metrics"
		case res.Mix != targetTextMixStr:
			cpu.Note = "the target is for the text round trip (-mix text); this mix is heavier"
		}
		if r := res.Reference; r != nil && r.CPU != nil && r.CPU.Scope == "process" {
			cpu.Reference = report.F(r.CPU.MicrosPerEvent)
		}
	}
	add(cpu)

	at300 := report.Target{Name: fmt.Sprintf("answer p99 at %.0f webhooks/s", targetLowRate), Limit: targetP99At300, Op: "<", Unit: "ms"}
	if p := s.phaseAt(res, targetLowRate); p != nil {
		latency(&at300, p)
	} else {
		at300.Note = "no open-loop phase at 300/s (-rate 300 or -sweep 300)"
	}
	add(at300)

	half := report.Target{Name: "answer p99 at half the capacity", Limit: targetP99AtHalf, Op: "<", Unit: "ms"}
	for _, p := range res.Sweep {
		if p.Spec == "50%" {
			half.Note = fmt.Sprintf("%.0f webhooks/s", p.Rate)
			latency(&half, &p.Gateway)
		}
	}
	if half.Value == nil && half.Pass == nil {
		half.Note = "no sweep point at 50% (-sweep 50%)"
	}
	add(half)

	lost := report.Target{Name: "lost events, every phase", Limit: targetLost, Op: "==", Unit: ""}
	if res.Lost != nil {
		lost.Value = report.F(float64(*res.Lost))
	} else {
		lost.Note = "not accounted with -target"
	}
	add(lost)
	return out
}

// latency judges a latency target on phase p's answer p99, unless the
// phase had errors: the p99 of the answers that came leaves out the ones
// that did not, so such a phase fails the target whatever its p99. The
// note gives the store's commit p99 of the phase, the floor under it, the
// slowest commit when that one alone could explain the p99, how busy the
// machine was (what room the tail had), and the hypervisor's steal when
// it reached stealThreshold.
func latency(t *report.Target, p *report.Phase) {
	if p.Errors > 0 || p.ThroughputRPS == 0 {
		t.Fail(fmt.Sprintf("%d errors in that phase (%.0f answers/s)", p.Errors, p.ThroughputRPS))
		return
	}
	t.Value = report.F(p.LatencyMS.P99)
	note := func(s string) {
		if t.Note != "" {
			t.Note += "; "
		}
		t.Note += s
	}
	if st := p.Store; st != nil && st.CommitP99MS > 0 {
		note(fmt.Sprintf("store commit p99 %.3g ms", st.CommitP99MS))
		// One stalled commit holds every webhook that came meanwhile.
		if st.CommitMaxMS >= p.LatencyMS.P99/2 && st.CommitMaxMS > 2*st.CommitP99MS {
			note(fmt.Sprintf("a commit took %.3g ms", st.CommitMaxMS))
		}
	}
	if c := p.CPU; c.Sched() {
		note(fmt.Sprintf("%.2f of the gateway's threads waiting for a CPU", c.RunQueue))
	}
	if h := p.HostCPU; h != nil {
		note(fmt.Sprintf("host %.0f%% busy", 100*h.Busy))
		if h.Steal >= stealThreshold {
			note(fmt.Sprintf("steal %.1f%% of the CPUs", 100*h.Steal))
		}
	}
}

// phaseAt finds the gateway's open-loop phase at rate.
func (s *suite) phaseAt(res *report.Results, rate float64) *report.Phase {
	if res.Gateway.Loop == "open" && res.Gateway.Rate == rate {
		return &res.Gateway
	}
	for i := range res.Sweep {
		if res.Sweep[i].Rate == rate {
			return &res.Sweep[i].Gateway
		}
	}
	return nil
}
