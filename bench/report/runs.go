package report

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/switchboard-gw/switchboard/bench/latency"
)

// Runs is results.json of a suite run N times (-runs N): the same keys
// as one run's (throughput_rps, events_per_sec, ceiling_rps, ratio,
// cpu_us_per_event, lost, errors, latency_ms, ...) holding each figure's
// median over the runs, with every figure's values and range in Figures
// and each run's own results in RunDirs. Lost and Errors are sums: one
// lost event in any run is a loss. A machine whose speed drifts between
// runs (a shared VM) moves single figures by tens of percent; the median
// of a few runs, with its range, is what to compare.
type Runs struct {
	About
	N int `json:"runs"`

	// Headline holds medians; Lost and Errors are sums over the runs.
	Headline

	// Figures are the medians above and more (capacity, each sweep
	// point's p99), each with every run's value.
	Figures []Figure `json:"figures"`
	// Targets are judged on the medians, except exact ones (lost events
	// == 0), judged on the worst run.
	Targets []Target `json:"targets"`
	RunDirs []string `json:"run_dirs,omitempty"`
	Elapsed float64  `json:"elapsed_s"`
}

// Figure is one figure over the runs.
type Figure struct {
	Name   string    `json:"name"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"`
}

// Median returns the median of vs (the mean of the middle two for an
// even count), 0 for none.
func Median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(vs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Aggregate sums up runs of the same suite; runs must not be empty.
// dirs, when given, are where each run wrote its own results.
func Aggregate(runs []*Results, dirs []string) *Runs {
	first := runs[0]
	a := &Runs{About: first.About, N: len(runs), RunDirs: dirs}
	fig := func(name string, get func(*Results) (float64, bool)) (float64, bool) {
		f := Figure{Name: name}
		for _, r := range runs {
			v, ok := get(r)
			if !ok {
				return 0, false // a figure some run lacks is not summarized
			}
			f.Values = append(f.Values, v)
		}
		f.Median, f.Min, f.Max = Median(f.Values), slices.Min(f.Values), slices.Max(f.Values)
		a.Figures = append(a.Figures, f)
		return f.Median, true
	}
	always := func(get func(*Results) float64) func(*Results) (float64, bool) {
		return func(r *Results) (float64, bool) { return get(r), true }
	}
	a.ThroughputRPS, _ = fig("webhooks/s (2xx)", always(func(r *Results) float64 { return r.ThroughputRPS }))
	a.EventsPerSec, _ = fig("round trips/s", always(func(r *Results) float64 { return r.EventsPerSec }))
	a.CeilingRPS, _ = fig("ceiling webhooks/s", always(func(r *Results) float64 { return r.CeilingRPS }))
	a.Ratio, _ = fig("ratio", always(func(r *Results) float64 { return r.Ratio }))
	fig("ceiling after ÷ before", func(r *Results) (float64, bool) {
		d, ok := r.Drift()
		return 1 + d, ok
	})
	if v, ok := fig("CPU µs/event", func(r *Results) (float64, bool) {
		if r.CPUMicrosPerEvent == nil {
			return 0, false
		}
		return *r.CPUMicrosPerEvent, true
	}); ok {
		a.CPUMicrosPerEvent = F(v)
	}
	fig("gateway CPU cores", func(r *Results) (float64, bool) {
		if r.Gateway.CPU == nil {
			return 0, false
		}
		return r.Gateway.CPU.Cores, true
	})
	fig("bench process CPU cores", func(r *Results) (float64, bool) { return r.Gateway.BenchCPU, r.Gateway.BenchCPU > 0 })
	// A run read the threads (sched) or did not; none waiting is a 0.
	sched := func(get func(*CPU) float64) func(*Results) (float64, bool) {
		return func(r *Results) (float64, bool) {
			if c := r.Gateway.CPU; c.Sched() {
				return get(c), true
			}
			return 0, false
		}
	}
	fig("thread switches/event", sched(func(c *CPU) float64 { return c.SwitchesPerEvent }))
	fig("threads waiting for a CPU", sched(func(c *CPU) float64 { return c.RunQueue }))
	store := func(p *Phase) *Store { return p.Store }
	fig("store commits/event", gatewayPart(store, func(s *Store) float64 { return s.CommitsPerEvent }, false))
	fig("store pages/commit", gatewayPart(store, func(s *Store) float64 { return s.PagesPerCommit }, false))
	fig("store commit p99 ms", gatewayPart(store, func(s *Store) float64 { return s.CommitP99MS }, true))
	fig("backend POSTs/event", gatewayPart(store, func(s *Store) float64 { return s.BackendPOSTsPerEvent }, true))
	fig("Send requests/reply", gatewayPart(store, func(s *Store) float64 { return s.SendRequestsPerReply }, true))
	host := func(p *Phase) *HostCPU { return p.HostCPU }
	fig("host CPUs busy", gatewayPart(host, func(h *HostCPU) float64 { return h.Busy }, false))
	fig("host CPUs stolen", gatewayPart(host, func(h *HostCPU) float64 { return h.Steal }, false))
	rt := func(p *Phase) *Runtime { return p.Runtime }
	fig("heap KB/event", gatewayPart(rt, func(r *Runtime) float64 { return r.AllocKBPerEvent }, false))
	fig("heap allocations/event", gatewayPart(rt, func(r *Runtime) float64 { return r.AllocsPerEvent }, false))
	fig("GC share of gateway CPU", gatewayPart(rt, func(r *Runtime) float64 { return r.GCCPUShare }, false))
	if first.Reference != nil {
		// withRef reads a figure of runs that had a reference phase.
		withRef := func(get func(r *Results, ref *Phase) (float64, bool)) func(*Results) (float64, bool) {
			return func(r *Results) (float64, bool) {
				if r.Reference == nil {
					return 0, false
				}
				return get(r, r.Reference)
			}
		}
		fig("reference round trips/s", withRef(func(_ *Results, ref *Phase) (float64, bool) { return ref.EventsPerSec, true }))
		fig("reference ratio", withRef(func(r *Results, ref *Phase) (float64, bool) { return Ratio(ref.EventsPerSec, r.CeilingRPS), true }))
		fig("reference CPU µs/event", withRef(func(_ *Results, ref *Phase) (float64, bool) {
			if ref.CPU == nil {
				return 0, false
			}
			return ref.CPU.MicrosPerEvent, true
		}))
		fig("gateway / reference round trips", withRef(func(r *Results, ref *Phase) (float64, bool) { return Ratio(r.EventsPerSec, ref.EventsPerSec), true }))
	}
	a.LatencyMS = medianSummary(runs, func(r *Results) *latency.Summary { return &r.LatencyMS })
	fig("answer p50 ms", always(func(r *Results) float64 { return r.LatencyMS.P50 }))
	fig("answer p99 ms", always(func(r *Results) float64 { return r.LatencyMS.P99 }))
	fig("answer p99.9 ms", always(func(r *Results) float64 { return r.LatencyMS.P999 }))
	if first.RoundTripMS != nil {
		rt := medianSummary(runs, func(r *Results) *latency.Summary { return r.RoundTripMS })
		a.RoundTripMS = &rt
		fig("round trip p99 ms", func(r *Results) (float64, bool) {
			if r.RoundTripMS == nil {
				return 0, false
			}
			return r.RoundTripMS.P99, true
		})
	}
	if first.Max != nil && first.Max.Gateway != nil {
		// A separate capacity probe: its figures differ from the main
		// phase's.
		fig("capacity round trips/s", func(r *Results) (float64, bool) {
			if r.Max == nil {
				return 0, false
			}
			return r.Max.GatewayEventsPerSec, true
		})
		fig("capacity ratio", func(r *Results) (float64, bool) {
			if r.Max == nil {
				return 0, false
			}
			return r.Max.Ratio, true
		})
	}
	for i, p := range first.Sweep {
		at := func(r *Results) (*Point, bool) {
			if i >= len(r.Sweep) || r.Sweep[i].Spec != p.Spec {
				return nil, false
			}
			return &r.Sweep[i], true
		}
		fig("answer p99 ms at "+p.Spec, func(r *Results) (float64, bool) {
			q, ok := at(r)
			if !ok {
				return 0, false
			}
			return q.Gateway.LatencyMS.P99, true
		})
		fig("store commit p99 ms at "+p.Spec, func(r *Results) (float64, bool) {
			q, ok := at(r)
			if !ok || q.Gateway.Store == nil || q.Gateway.Store.CommitP99MS == 0 {
				return 0, false
			}
			return q.Gateway.Store.CommitP99MS, true
		})
		fig("slowest commit ms at "+p.Spec, func(r *Results) (float64, bool) {
			q, ok := at(r)
			if !ok || q.Gateway.Store == nil || q.Gateway.Store.CommitMaxMS == 0 {
				return 0, false
			}
			return q.Gateway.Store.CommitMaxMS, true
		})
		fig("CPU µs/event at "+p.Spec, func(r *Results) (float64, bool) {
			q, ok := at(r)
			if !ok || q.Gateway.CPU == nil || q.Gateway.CPU.MicrosPerEvent == 0 {
				return 0, false
			}
			return q.Gateway.CPU.MicrosPerEvent, true
		})
		fig("threads waiting for a CPU at "+p.Spec, func(r *Results) (float64, bool) {
			q, ok := at(r)
			if !ok || !q.Gateway.CPU.Sched() {
				return 0, false
			}
			return q.Gateway.CPU.RunQueue, true
		})
	}
	for _, r := range runs {
		a.Errors += r.Errors
		if r.Lost != nil {
			if a.Lost == nil {
				a.Lost = new(int64)
			}
			*a.Lost += *r.Lost
		}
		a.Elapsed += r.Elapsed
	}
	for i, t := range first.Targets {
		var vs, refs []float64
		var failed *Target // a run where the target's phase failed
		for _, r := range runs {
			if i < len(r.Targets) && r.Targets[i].Name == t.Name {
				if ref := r.Targets[i].Reference; ref != nil {
					refs = append(refs, *ref)
				}
				switch rt := &r.Targets[i]; {
				case rt.Value != nil:
					vs = append(vs, *rt.Value)
				case rt.Failed() && failed == nil:
					failed = rt
				}
			}
		}
		if failed != nil {
			t.Fail("failed in a run: " + failed.Note)
			a.Targets = append(a.Targets, t)
			continue
		}
		t.Note = runNotes(runs, i, t)
		t.Value, t.Pass, t.Reference = nil, nil, nil
		if len(refs) == len(runs) {
			t.Reference = F(Median(refs))
		}
		if len(vs) == len(runs) {
			v := Median(vs)
			if t.Op == "==" {
				v = vs[0] // the worst run: the one furthest from the limit
				for _, x := range vs {
					if math.Abs(x-t.Limit) > math.Abs(v-t.Limit) {
						v = x
					}
				}
			}
			t.Value = F(v)
		}
		t.Check()
		a.Targets = append(a.Targets, t)
	}
	return a
}

// runNotes is target i's note over the runs: the first run's when every
// run says the same, else each run's, in order ("5036 webhooks/s / 5658
// webhooks/s / ..."), so a note quoting a run's own figure is not read as
// the median's.
func runNotes(runs []*Results, i int, t Target) string {
	notes := make([]string, 0, len(runs))
	same := true
	for _, r := range runs {
		n := ""
		if i < len(r.Targets) && r.Targets[i].Name == t.Name {
			n = r.Targets[i].Note
		}
		same = same && n == t.Note
		notes = append(notes, n)
	}
	if same {
		return t.Note
	}
	return strings.Join(notes, " / ")
}

// medianSummary is each percentile's median over the runs; Count is the
// total.
func medianSummary(runs []*Results, get func(*Results) *latency.Summary) latency.Summary {
	var out latency.Summary
	var mean, p50, p90, p99, p999, mx []float64
	for _, r := range runs {
		s := get(r)
		if s == nil {
			continue
		}
		out.Count += s.Count
		mean, p50, p90 = append(mean, s.Mean), append(p50, s.P50), append(p90, s.P90)
		p99, p999, mx = append(p99, s.P99), append(p999, s.P999), append(mx, s.Max)
	}
	out.Mean, out.P50, out.P90 = Median(mean), Median(p50), Median(p90)
	out.P99, out.P999, out.Max = Median(p99), Median(p999), Median(mx)
	return out
}

// Table prints the figures' medians and ranges, each run's value, and
// the targets.
func (a *Runs) Table(w io.Writer) {
	a.About.head(w, fmt.Sprintf("Switchboard bench, %d runs", a.N))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\tmedian\tmin\tmax\t")
	for i := range a.N {
		fmt.Fprintf(tw, "run %d\t", i+1)
	}
	fmt.Fprintln(tw)
	for _, f := range a.Figures {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t", f.Name, num(f.Median), num(f.Min), num(f.Max))
		for _, v := range f.Values {
			fmt.Fprintf(tw, "%s\t", num(v))
		}
		fmt.Fprintln(tw)
	}
	lost := "n/a"
	if a.Lost != nil {
		lost = fmt.Sprint(*a.Lost)
	}
	fmt.Fprintf(tw, "lost, all runs\t%s\t\t\t\nerrors, all runs\t%d\t\t\t\n", lost, a.Errors)
	tw.Flush()
	fmt.Fprintln(w, "\ntargets (medians; lost events: the worst run):")
	writeTargets(w, a.Targets)
}

// Write saves results.json and summary.txt in dir.
func (a *Runs) Write(dir string) error {
	if _, err := writeResults(dir, a); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "summary.txt"))
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	a.Table(f)
	return f.Close()
}

// Compare prints two sets of runs side by side, figure by figure (those
// both have): each median, B's over A's, and whether the ranges overlap;
// when they do, the runs cannot tell the two apart (nor can one run a
// side, which has no range). how says how the runs were made.
func Compare(w io.Writer, a, b *Runs, nameA, nameB, how string) {
	fmt.Fprintf(w, "\nA: %s\nB: %s\n%s\n\n", nameA, nameB, how)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\tA median\tA range\tB median\tB range\tB ÷ A\t\t\n")
	for _, fa := range a.Figures {
		i := slices.IndexFunc(b.Figures, func(f Figure) bool { return f.Name == fa.Name })
		if i < 0 {
			continue
		}
		fb := b.Figures[i]
		verdict := ""
		if len(fa.Values) > 1 && len(fb.Values) > 1 && (fb.Min > fa.Max || fb.Max < fa.Min) {
			verdict = "ranges apart"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s–%s\t%s\t%s–%s\t%s\t%s\t\n", fa.Name, num(fa.Median), num(fa.Min), num(fa.Max),
			num(fb.Median), num(fb.Min), num(fb.Max), ratio(fb.Median, fa.Median), verdict)
	}
	tw.Flush()
}

// gatewayPart reads a figure of one part of the gateway's main phase (its
// store, host CPU or runtime): missing in a run without that part and,
// with nonZero, in one that reports it as 0 (a build without the figure).
func gatewayPart[P any](of func(*Phase) *P, get func(*P) float64, nonZero bool) func(*Results) (float64, bool) {
	return func(r *Results) (float64, bool) {
		p := of(&r.Gateway)
		if p == nil {
			return 0, false
		}
		v := get(p)
		return v, !nonZero || v != 0
	}
}
