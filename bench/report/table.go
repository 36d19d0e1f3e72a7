package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Table prints the run for people: the main phase side by side with the
// ceiling, the capacity probe, the sweep and the targets.
func (r *Results) Table(w io.Writer) {
	g, c := &r.Gateway, &r.Ceiling
	r.About.head(w, "Switchboard bench")

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(name, gv, cv, ratio string) { fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, gv, cv, ratio) }
	row("", "gateway", "ceiling", "ratio")
	row("webhooks/s (2xx)", num(g.ThroughputRPS), num(c.ThroughputRPS), ratio(g.ThroughputRPS, c.ThroughputRPS))
	if d, ok := r.Drift(); ok {
		row("ceiling before / after the gateway", "", num(r.CeilingWindowsRPS[0])+" / "+num(r.CeilingWindowsRPS[1]), fmt.Sprintf("%+.1f%% drift", 100*d))
	}
	row("events in/s", num(g.EventsInPerSec), num(c.EventsInPerSec), "")
	rtName := "round trips/s (events)"
	if g.RoundTripMS == nil {
		rtName = "events accepted/s"
	}
	row(rtName, num(g.EventsPerSec), num(c.ThroughputRPS), ratio(g.EventsPerSec, c.ThroughputRPS)+" ←ratio")
	l, cl := g.LatencyMS, c.LatencyMS
	row("answer p50 ms", ms(l.P50), ms(cl.P50), ratio(l.P50, cl.P50))
	row("answer p90 ms", ms(l.P90), ms(cl.P90), ratio(l.P90, cl.P90))
	row("answer p99 ms", ms(l.P99), ms(cl.P99), ratio(l.P99, cl.P99))
	row("answer p99.9 ms", ms(l.P999), ms(cl.P999), ratio(l.P999, cl.P999))
	row("answer max ms", ms(l.Max), ms(cl.Max), ratio(l.Max, cl.Max))
	if rt := g.RoundTripMS; rt != nil {
		row("round trip p50 ms", ms(rt.P50), "", "")
		row("round trip p90 ms", ms(rt.P90), "", "")
		row("round trip p99 ms", ms(rt.P99), "", "")
		row("round trip p99.9 ms", ms(rt.P999), "", "")
		row("round trip max ms", ms(rt.Max), "", "")
	}
	row("errors", fmt.Sprint(g.Errors), fmt.Sprint(c.Errors), "")
	if a := g.Accounting; a != nil {
		row("lost (backend + replies)", fmt.Sprintf("%d (%d + %d)", a.Lost, a.LostAtBackend, a.LostReplies), "", "")
		row("duplicates (backend / replies)", fmt.Sprintf("%d / %d", a.BackendDuplicates, a.ReplyDuplicates), "", "")
	}
	if g.CPU != nil || c.CPU != nil {
		// A side not measured (a -target gateway's) shows "-", not 0.
		gu, gc, cu, cc, r := "-", "-", "-", "-", ""
		if g.CPU != nil {
			gu, gc = num(g.CPU.MicrosPerEvent), fmt.Sprintf("%.2f", g.CPU.Cores)
		}
		if c.CPU != nil {
			cu, cc = num(c.CPU.MicrosPerRequest), fmt.Sprintf("%.2f", c.CPU.Cores)
		}
		if g.CPU != nil && c.CPU != nil {
			r = ratio(g.CPU.MicrosPerEvent, c.CPU.MicrosPerRequest)
		}
		row("CPU µs/event (ceiling: /request)", gu, cu, r)
		row("CPU cores", gc, cc, "")
		if g.CPU.Sched() || c.CPU.Sched() {
			gs, cs, gq, cq, sr := "-", "-", "-", "-", ""
			if g.CPU.Sched() {
				gs, gq = num(g.CPU.SwitchesPerEvent), fmt.Sprintf("%.2f", g.CPU.RunQueue)
			}
			if c.CPU.Sched() {
				cs, cq = num(c.CPU.SwitchesPerRequest), fmt.Sprintf("%.2f", c.CPU.RunQueue)
			}
			if g.CPU.Sched() && c.CPU.Sched() {
				sr = ratio(g.CPU.SwitchesPerEvent, c.CPU.SwitchesPerRequest)
			}
			row("thread switches/event (ceiling: /request)", gs, cs, sr)
			row("threads waiting for a CPU (mean)", gq, cq, "")
		}
		if g.BenchCPU > 0 || c.BenchCPU > 0 {
			row("bench process CPU cores", fmt.Sprintf("%.2f", g.BenchCPU), fmt.Sprintf("%.2f", c.BenchCPU), "")
		}
	}
	if st := g.Store; st != nil {
		row("store commits/event", fmt.Sprintf("%.3f", st.CommitsPerEvent), "", "")
		row("store writes, pages per commit", fmt.Sprintf("%.1f, %.1f", st.WritesPerCommit, st.PagesPerCommit), "", "")
		if st.CommitP99MS > 0 {
			row("store commit p50 / p99 / max ms", ms(st.CommitP50MS)+" / "+ms(st.CommitP99MS)+" / "+ms(st.CommitMaxMS), "", "")
		}
		if st.SettledPerReply > 0 {
			row("replies sent before spooling", fmt.Sprintf("%.0f%%", 100*st.SettledPerReply), "", "")
		}
		if st.BackendPOSTsPerEvent > 0 || st.SendRequestsPerReply > 0 {
			row("backend POSTs/event, Send requests/reply", orDash(st.BackendPOSTsPerEvent)+", "+orDash(st.SendRequestsPerReply), "", "")
		}
	}
	if g.HostCPU != nil || c.HostCPU != nil {
		row("host CPUs: busy / steal / iowait", g.HostCPU.String(), c.HostCPU.String(), "")
	}
	if rt := g.Runtime; rt != nil {
		row("heap allocations/event: KB, objects", fmt.Sprintf("%.2f, %.1f", rt.AllocKBPerEvent, rt.AllocsPerEvent), "", "")
		row("GC share of the gateway's CPU", fmt.Sprintf("%.1f%%", 100*rt.GCCPUShare), "", "")
	}
	if g.Memory != nil {
		cm := ""
		if c.Memory != nil {
			cm = fmt.Sprintf("%.0f", c.Memory.RSSPeakMB)
		}
		row("RSS peak MB", fmt.Sprintf("%.0f", g.Memory.RSSPeakMB), cm, "")
		if g.Memory.RSSAnonEndMB > 0 { // the kernel splits RSS
			var anon, file [2]string
			for i, m := range [...]*Memory{g.Memory, c.Memory} {
				if m != nil && m.RSSAnonEndMB > 0 {
					anon[i] = fmt.Sprintf("%.0f → %.0f", m.RSSAnonStartMB, m.RSSAnonEndMB)
					file[i] = fmt.Sprintf("%.0f", m.RSSFileEndMB)
				}
			}
			row("RSS anonymous MB, window start → end", anon[0], anon[1], "")
			row("RSS mapped files MB at end (store)", file[0], file[1], "")
		}
	}
	if st := g.Store; st != nil && st.FileMB > 0 {
		row("store file MB", fmt.Sprintf("%.1f", st.FileMB), "", "")
	}
	tw.Flush()
	if g.Errors > 0 || c.Errors > 0 {
		fmt.Fprintf(w, "errors by kind: gateway %s; ceiling %s\n", kinds(g.ErrorsBy), kinds(c.ErrorsBy))
	}

	if ref := r.Reference; ref != nil {
		fmt.Fprintf(w, "\nreference pipeline (verify, parse, one backend POST and one Send API call per event; no store), same load:\n")
		fmt.Fprintf(w, "  %s round trips/s (ratio %s to the ceiling; the gateway does %s of it)", num(ref.EventsPerSec),
			ratio(ref.EventsPerSec, c.ThroughputRPS), ratio(g.EventsPerSec, ref.EventsPerSec))
		if ref.CPU != nil {
			fmt.Fprintf(w, ", %s µs CPU/event", num(ref.CPU.MicrosPerEvent))
			if g.CPU != nil {
				fmt.Fprintf(w, " (the gateway spends %s×)", ratio(g.CPU.MicrosPerEvent, ref.CPU.MicrosPerEvent))
			}
		}
		if a := ref.Accounting; a != nil {
			fmt.Fprintf(w, ", %d lost", a.Lost)
		}
		fmt.Fprintf(w, ", %d errors\n", ref.Errors)
	}

	if m := r.Max; m != nil {
		unit := "round trips/s"
		if g.RoundTripMS == nil {
			unit = "events accepted/s"
		}
		fmt.Fprintf(w, "\ncapacity (closed loop, concurrency %d): gateway %s webhooks/s, %s %s; ceiling %s webhooks/s; ratio %.3f\n",
			m.Concurrency, num(m.GatewayRPS), num(m.GatewayEventsPerSec), unit, num(m.CeilingRPS), m.Ratio)
	}

	if len(r.Sweep) > 0 {
		fmt.Fprintln(w, "\nlatency against load (open loop; ms; CPU: the gateway's µs per round trip, the ceiling's per request; waiting: the gateway's threads waiting for a CPU, mean):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "rate\tachieved/s\tp50\tp99\tp99.9\tmax\trt p99\tceiling p99\terrors\tlost\tcommits/event\tpages/commit\tcommit p99\tcommit max\tCPU µs\tceiling CPU µs\twaiting\thost busy\tsteal\t")
		for _, p := range r.Sweep {
			rt, ceil, lost, commits, pages, commitP99, commitMax, cpu, ceilCPU, waiting := "", "", "", "", "", "", "", "", "", ""
			if c := p.Gateway.CPU; c != nil && c.MicrosPerEvent > 0 {
				cpu = num(c.MicrosPerEvent)
			}
			if c := p.Gateway.CPU; c.Sched() {
				waiting = fmt.Sprintf("%.2f", c.RunQueue)
			}
			if p.Ceiling != nil && p.Ceiling.CPU != nil {
				ceilCPU = num(p.Ceiling.CPU.MicrosPerRequest)
			}
			if p.Gateway.RoundTripMS != nil {
				rt = ms(p.Gateway.RoundTripMS.P99)
			}
			if p.Ceiling != nil {
				ceil = ms(p.Ceiling.LatencyMS.P99)
			}
			if a := p.Gateway.Accounting; a != nil {
				lost = fmt.Sprint(a.Lost)
			}
			if st := p.Gateway.Store; st != nil {
				commits = fmt.Sprintf("%.2f", st.CommitsPerEvent)
				pages = fmt.Sprintf("%.1f", st.PagesPerCommit)
				if st.CommitP99MS > 0 {
					commitP99, commitMax = ms(st.CommitP99MS), ms(st.CommitMaxMS)
				}
			}
			busy, steal := "", ""
			if h := p.Gateway.HostCPU; h != nil {
				busy, steal = pct(h.Busy), pct(h.Steal)
			}
			l := p.Gateway.LatencyMS
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", p.Spec+"="+num(p.Rate), num(p.Gateway.ThroughputRPS),
				ms(l.P50), ms(l.P99), ms(l.P999), ms(l.Max), rt, ceil, p.Gateway.Errors, lost, commits, pages, commitP99, commitMax, cpu, ceilCPU, waiting, busy, steal)
		}
		tw.Flush()
		for _, p := range r.Sweep {
			if p.Gateway.Errors > 0 {
				fmt.Fprintf(w, "errors at %s: %s\n", p.Spec, kinds(p.Gateway.ErrorsBy))
			}
		}
	}

	if len(r.Targets) > 0 {
		fmt.Fprintln(w, "\ntargets (measured by the suite, not asserted):")
		writeTargets(w, r.Targets)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note: "+n)
	}
}

// head prints what ran, under title: mode, load, mix, settings, host.
func (a *About) head(w io.Writer, title string) {
	fmt.Fprintf(w, "\n%s: %s mode, %s, %d connections, %gs measured after %gs warm-up\nmix %s\n",
		title, a.Mode, a.Load, a.Load.Connections, a.Load.DurationS, a.Load.WarmupS, a.Mix)
	fmt.Fprintf(w, "gateway settings: %s\n", a.settings())
	store := ""
	if a.StoreFS != "" {
		store = ", the gateway's store on " + a.StoreFS
	}
	fmt.Fprintf(w, "host: %d CPUs, %s, load average %s%s\n\n", a.Host.CPUs, a.Host.GoVersion, a.Host.LoadAvg, store)
}

// orDash formats a per-event figure, "-" for none measured.
func orDash(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

// writeTargets prints one line per target: verdict, name, value, limit.
func writeTargets(w io.Writer, targets []Target) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  \ttarget\tmeasured\twant\treference pipeline\t")
	for _, t := range targets {
		v, verdict, ref := "n/a", "n/a", ""
		if t.Value != nil {
			v = num(*t.Value) + " " + t.Unit
		}
		if t.Pass != nil {
			verdict = map[bool]string{true: "PASS", false: "FAIL"}[*t.Pass]
		}
		if t.Reference != nil {
			ref = num(*t.Reference) + " " + t.Unit
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s %s %s\t%s\t%s\n", verdict, t.Name, v, t.Op, num(t.Limit), t.Unit, ref, t.Note)
	}
	tw.Flush()
}

func kinds(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func ms(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return ""
	}
	return fmt.Sprintf("%.3f", a/b)
}

// String is "busy / steal / iowait" in percent, "-" when not measured.
func (h *HostCPU) String() string {
	if h == nil {
		return "-"
	}
	return pct(h.Busy) + " / " + pct(h.Steal) + " / " + pct(h.IOWait)
}

// pct is a fraction as a percentage: one decimal under 10%.
func pct(f float64) string {
	if f < 0.1 {
		return fmt.Sprintf("%.1f%%", 100*f)
	}
	return fmt.Sprintf("%.0f%%", 100*f)
}
