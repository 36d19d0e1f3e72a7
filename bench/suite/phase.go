package suite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/bench/ledger"
	"github.com/switchboard-gw/switchboard/bench/load"
	"github.com/switchboard-gw/switchboard/bench/procstat"
	"github.com/switchboard-gw/switchboard/bench/report"
	"github.com/switchboard-gw/switchboard/bench/traffic"
)

// spec is one phase's load.
type spec struct {
	name             string
	rate             float64 // > 0: open loop
	conc, conns      int
	warmup, duration time.Duration
}

func (sp spec) label() string {
	if sp.rate > 0 {
		return fmt.Sprintf("open %.0f/s", sp.rate)
	}
	return fmt.Sprintf("closed %d", sp.conc)
}

type serverKind string

const (
	serverGateway   serverKind = "gateway"
	serverCeiling   serverKind = "ceiling"
	serverReference serverKind = "reference"
)

// source builds webhooks for one phase: from the mix, registered in the
// ledger before they leave (gateway with mocks), waited for in closed loop.
type source struct {
	gen     *traffic.Generator
	ledger  *ledger.Ledger // nil: no accounting
	phase   *ledger.Phase
	wait    bool // closed loop waits for replies
	seed    uint64
	workers atomic.Uint64
}

func (s *source) NewWorker() load.Worker {
	n := s.workers.Add(1)
	w := &worker{s: s, rnd: newRand(s.seed, n)}
	if s.wait {
		w.waiter = ledger.NewWaiter()
	}
	return w
}

type worker struct {
	s      *source
	rnd    *rand.Rand
	w      traffic.Webhook
	waiter *ledger.Waiter
}

func (w *worker) Fill(c *load.Call, req *fasthttp.Request) {
	w.s.gen.Next(&w.w, w.rnd)
	fillRequest(req, &w.w) // w.w is not touched until the next Fill
	c.Events = len(w.w.Events)
	if w.s.ledger == nil {
		return
	}
	if w.waiter != nil {
		w.waiter.Arm(len(w.w.Events))
	}
	for _, ev := range w.w.Events {
		if ev.ID != "" { // else the answer names it
			w.s.ledger.Expect(w.s.phase, ev.ID, ev.User, c.Intended, w.waiter)
		}
	}
}

// fillRequest writes wh into req as its signed JSON POST to wh.Path (the
// host is the caller's to set); req's body is wh.Body itself, not a copy.
func fillRequest(req *fasthttp.Request, wh *traffic.Webhook) {
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(wh.Path)
	req.Header.SetContentType("application/json")
	for _, h := range wh.Header {
		req.Header.SetBytesV(h.Name, h.Value)
	}
	req.SetBodyRaw(wh.Body)
}

func (w *worker) Answered(c *load.Call, status int, body []byte, err error) {
	ok := err == nil && status >= 200 && status <= 299
	if ok {
		w.s.gen.Acked(&w.w)
	}
	if w.s.ledger == nil {
		return
	}
	for _, ev := range w.w.Events {
		if ev.ID != "" {
			w.s.ledger.Answered(ev.ID, ok)
			continue
		}
		// The web channel: the answer {"id","seq"} names the event; a
		// refused one is registered under a name of its own, so it counts.
		seq := fastjson.GetInt(body, "seq")
		id := ev.IDPrefix + strconv.Itoa(seq)
		if !ok || seq <= 0 {
			ok, id = false, ev.IDPrefix+"refused-"+strconv.FormatUint(c.Seq, 10)
		}
		w.s.ledger.ExpectAnswered(w.s.phase, id, ev.User, c.Intended, w.waiter, ok)
	}
}

func (w *worker) Wait(ctx context.Context, c *load.Call) error {
	if w.waiter == nil {
		return nil
	}
	return w.waiter.Wait(ctx)
}

// sampler takes a server's CPU and memory readings at the window's edges
// and once a second in between.
type sampler struct {
	stat  func() (procstat.Sample, string, bool)
	store func() (windowCounts, bool) // nil: not the gateway

	endTaken chan struct{} // closed once the end-of-window sample ran

	mu         sync.Mutex
	start, end *procstat.Sample
	self0      *procstat.Sample
	self1      *procstat.Sample
	store0     *windowCounts
	store1     *windowCounts
	host0      *procstat.Host
	host1      *procstat.Host
	peakRSS    uint64
	last       procstat.Sample
	scope      string
	timers     []*time.Timer
}

func newSampler(stat func() (procstat.Sample, string, bool), store func() (windowCounts, bool), ws, we time.Time) *sampler {
	s := &sampler{stat: stat, store: store, endTaken: make(chan struct{})}
	at := func(t time.Time, dst **procstat.Sample, self **procstat.Sample, st **windowCounts, host **procstat.Host) {
		s.timers = append(s.timers, time.AfterFunc(time.Until(t), func() {
			if dst == &s.end {
				defer close(s.endTaken)
			}
			smp, scope, ok := stat()
			me, err := procstat.Self()
			h, herr := procstat.ReadHost()
			var sc windowCounts
			scOK := false
			if store != nil {
				sc, scOK = store()
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if ok {
				*dst, s.scope = &smp, scope
				s.note(smp)
			}
			if err == nil {
				*self = &me
			}
			if scOK {
				*st = &sc
			}
			if herr == nil {
				*host = &h
			}
		}))
	}
	at(ws, &s.start, &s.self0, &s.store0, &s.host0)
	at(we, &s.end, &s.self1, &s.store1, &s.host1)
	return s
}

// tick samples between the edges and returns the cores used since the
// previous sample (0 when unknown) and the sample itself.
func (s *sampler) tick() (cores float64, latest procstat.Sample) {
	smp, _, ok := s.stat()
	if !ok {
		return 0, procstat.Sample{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.last.At.IsZero() {
		cores = (smp.CPU - s.last.CPU).Seconds() / smp.At.Sub(s.last.At).Seconds()
	}
	s.note(smp)
	return cores, smp
}

func (s *sampler) note(smp procstat.Sample) {
	s.last = smp
	s.peakRSS = max(s.peakRSS, smp.RSS)
}

// waitEnd waits for the end-of-window sample: an open-loop run may finish
// a moment before its window closes.
func (s *sampler) waitEnd(ctx context.Context) {
	select {
	case <-s.endTaken:
	case <-ctx.Done():
	}
}

func (s *sampler) stop() {
	for _, t := range s.timers {
		t.Stop()
	}
}

// phase runs sp against one server and reports it, with the histogram
// of its answer latencies (what report.MergeWindows folds).
func (s *suite) phase(ctx context.Context, sp spec, srv serverKind) (*report.Phase, *hdrhistogram.Histogram, error) {
	o := s.o
	s.phases++
	start := time.Now().Add(20 * time.Millisecond)
	ws := start.Add(sp.warmup)
	we := ws.Add(sp.duration)

	src := &source{seed: o.Seed + uint64(s.phases)<<20}
	var url string
	var stat func() (procstat.Sample, string, bool)
	var storeStat func() (windowCounts, bool)
	ownCPU := false // the progress line shows the server's own CPU
	switch srv {
	case serverGateway:
		url, stat, storeStat = s.env.gatewayURL, s.env.gatewayStat, s.env.gatewayCounts
		src.gen = s.gwGen
		ownCPU = s.env.inproc == nil
	case serverReference:
		url, stat = s.env.reference.url, s.env.reference.stat
		src.gen = s.refGen
		ownCPU = s.env.reference.pid != 0
	default:
		url, stat = s.env.ceiling.url, s.env.ceiling.stat
		src.gen = s.ceilGen
		ownCPU = s.env.ceiling.pid != 0
	}
	if srv != serverCeiling && s.env.ledger != nil { // round trips to account for
		src.ledger = s.env.ledger
		src.phase = s.env.ledger.Phase(sp.name, ws, we)
		src.wait = sp.rate == 0
	}
	smp := newSampler(stat, storeStat, ws, we)
	defer smp.stop()

	label := fmt.Sprintf("%-7s %-9s %-12s", srv, sp.name, sp.label())
	fmt.Fprintf(o.Progress, "%s starting (%.1fs warm-up + %.1fs)\n", label, sp.warmup.Seconds(), sp.duration.Seconds())
	var lastReplies int64
	lastTick := start
	cfg := load.Config{
		URL: url, Rate: sp.rate, Concurrency: sp.conc, Connections: sp.conns,
		Start: start, Warmup: sp.warmup, Duration: sp.duration, Timeout: o.Timeout,
		Source: src,
		Tick: func(t load.Tick) {
			line := fmt.Sprintf("%s %4.0fs %-7s ok %6.0f/s", label, t.Elapsed.Seconds(), t.Phase, t.OK)
			line += fmt.Sprintf("  answer p50 %s p99 %s", fmtMS(t.Latency.P50), fmtMS(t.Latency.P99))
			if src.phase != nil {
				now := time.Now()
				r := src.phase.Replied()
				rt := src.phase.RoundTrip.TakeTick()
				line += fmt.Sprintf("  replies %6.0f/s rt p99 %s backlog %d", float64(r-lastReplies)/now.Sub(lastTick).Seconds(), fmtMS(rt.P99), src.phase.Outstanding())
				lastReplies, lastTick = r, now
			}
			if t.Failed > 0 {
				line += fmt.Sprintf("  errors %.0f/s", t.Failed)
			}
			if t.Queued > 0 {
				line += fmt.Sprintf("  queued %d", t.Queued)
			}
			if cores, mem := smp.tick(); mem.RSS > 0 && ownCPU {
				line += resources(cores, mem)
			}
			if srv == serverGateway {
				if mb := s.env.storeFileMB(); mb > 0 {
					line += fmt.Sprintf("  store %.0fMB", mb)
				}
			}
			fmt.Fprintln(o.Progress, line)
		},
	}
	profiling := false
	var remote chan profileResult // binary mode and -target: the gateway's own profile
	if o.CPUProfile != nil && srv == serverGateway && sp.name == "main" {
		if s.env.inproc != nil {
			if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
				return nil, nil, fmt.Errorf("bench: -cpuprofile: %w", err)
			}
			profiling = true
		} else {
			remote = make(chan profileResult, 1)
			go func() {
				b, err := s.env.gatewayProfile(ctx, cfg.Warmup+cfg.Duration)
				remote <- profileResult{b, err}
			}()
		}
	}
	var res *load.Result
	var err error
	withRole("generator", func() { res, err = load.Run(ctx, cfg) })
	if profiling {
		pprof.StopCPUProfile()
	}
	if remote != nil {
		r := <-remote
		if r.err == nil {
			_, r.err = o.CPUProfile.Write(r.b)
		}
		if r.err != nil && err == nil {
			err = fmt.Errorf("bench: -cpuprofile: %w", r.err)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	smp.waitEnd(ctx)
	p := &report.Phase{
		Name: sp.name, Server: string(srv), Loop: res.Loop, Rate: res.Rate, Concurrency: res.Concurrency,
		Connections: res.Connections, WindowS: res.Window().Seconds(),
		ThroughputRPS: res.RPS(), EventsInPerSec: res.EventsPerSec(), EventsPerSec: res.EventsPerSec(),
		LatencyMS: res.Latency, Errors: res.Failed, ErrorsBy: res.Errors,
		MaxQueueMS: float64(res.MaxQueue) / float64(time.Millisecond),
	}
	events := float64(res.WindowEvents)
	atBackend := events // events that reached the backend in the window
	if src.phase != nil {
		t0 := time.Now()
		drained := src.phase.Drain(ctx, o.Drain)
		p.Drained, p.DrainS = &drained, time.Since(t0).Seconds()
		backend, replies := src.phase.InWindow()
		p.EventsPerSec = float64(replies) / res.Window().Seconds()
		p.BackendPerSec = float64(backend) / res.Window().Seconds()
		events, atBackend = float64(replies), float64(backend)
		rt := src.phase.RoundTrip.Summary()
		p.RoundTripMS = &rt
		a := src.phase.Account()
		p.Accounting = &a
		if srv == serverGateway { // the reference keeps no promise
			s.lost += a.Lost
		}
		if !drained {
			fmt.Fprintf(o.Progress, "%s drain: %d replies still missing after %s\n", label, src.phase.Outstanding(), o.Drain)
		}
	}
	smp.mu.Lock()
	if smp.start != nil && smp.end != nil {
		secs := (smp.end.CPU - smp.start.CPU).Seconds()
		win := smp.end.At.Sub(smp.start.At).Seconds()
		p.CPU = &report.CPU{Seconds: secs, Cores: secs / win, Scope: smp.scope, Source: smp.end.Source,
			MicrosPerRequest: 1e6 * secs / max(float64(res.WindowOK), 1)}
		if srv != serverCeiling {
			p.CPU.MicrosPerEvent = 1e6 * secs / max(events, 1)
		}
		if switches, delay, ok := smp.start.SchedTo(*smp.end); ok {
			ev := 0.0
			if srv != serverCeiling {
				ev = events
			}
			p.CPU.SetSched(switches, delay.Seconds(), win, float64(res.WindowOK), ev)
		}
		if smp.self0 != nil && smp.self1 != nil && smp.scope == "process" {
			p.BenchCPU = (smp.self1.CPU - smp.self0.CPU).Seconds() / win
		}
		p.Memory = &report.Memory{RSSPeakMB: mb(smp.peakRSS), RSSEndMB: mb(smp.end.RSS), HWMMB: mb(smp.last.HWM),
			RSSAnonStartMB: mb(smp.start.RSSAnon), RSSAnonEndMB: mb(smp.end.RSSAnon), RSSFileEndMB: mb(smp.end.RSSFile)}
	}
	if a, b := smp.host0, smp.host1; a != nil && b != nil {
		if busy, steal, iowait, ok := a.Share(*b); ok {
			p.HostCPU = &report.HostCPU{Busy: busy, Steal: steal, IOWait: iowait}
		}
	}
	if a, b := smp.store0, smp.store1; a != nil && b != nil {
		st := storeFigures(a, b, events, atBackend)
		st.FileMB = s.env.storeFileMB()
		p.Store = st
		if a.hasRuntime && b.hasRuntime {
			p.Runtime = runtimeFigures(a, b, events, p.CPU)
		}
	}
	smp.mu.Unlock()
	fmt.Fprintf(o.Progress, "%s done: %.0f webhooks/s, %.0f events/s, answer p99 %s, errors %d\n",
		label, p.ThroughputRPS, p.EventsPerSec, fmtMS(p.LatencyMS.P99), p.Errors)
	return p, res.Recorder().Histogram(), nil
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// resources is a progress line's part about the server's own process:
// its cores over the last second and its resident memory, with the
// anonymous part where the kernel splits it (a leak grows that part; a
// store growing by design, the rest).
func resources(cores float64, mem procstat.Sample) string {
	s := fmt.Sprintf("  cpu %.2f rss %.0fMB", cores, mb(mem.RSS))
	if mem.RSSAnon > 0 {
		s += fmt.Sprintf(" (anon %.0fMB)", mb(mem.RSSAnon))
	}
	return s
}

// storeFigures are the store's counts between two readings, per event
// (the replies that arrived in the window; with -target the webhooks
// accepted) and per commit, and the mocks' requests: backend POSTs per
// event that reached the backend in the window (atBackend), which is what
// the POSTs count (replies lag their POSTs: dividing by them would count
// other events at the window's edges); Send API requests and settled
// replies per reply.
func storeFigures(a, b *windowCounts, events, atBackend float64) *report.Store {
	st := &report.Store{Commits: since(a.commits, b.commits), Writes: since(a.writes, b.writes),
		Pages: since(a.pages, b.pages), Settled: since(a.settled, b.settled)}
	st.CommitsPerEvent = float64(st.Commits) / max(events, 1)
	st.WritesPerCommit = float64(st.Writes) / max(float64(st.Commits), 1)
	st.PagesPerCommit = float64(st.Pages) / max(float64(st.Commits), 1)
	st.BackendPOSTsPerEvent = float64(since(a.backendPOSTs, b.backendPOSTs)) / max(atBackend, 1)
	if r := since(a.replies, b.replies); r > 0 { // none: the mix's replies go elsewhere (web)
		st.SendRequestsPerReply = float64(since(a.channelRequests, b.channelRequests)) / float64(r)
		st.SettledPerReply = float64(st.Settled) / float64(r)
	}
	if p50, ok := rangeQuantile(a.commitBuckets, b.commitBuckets, 0.5); ok {
		p99, _ := rangeQuantile(a.commitBuckets, b.commitBuckets, 0.99)
		slowest, _ := rangeQuantile(a.commitBuckets, b.commitBuckets, 1)
		st.CommitP50MS, st.CommitP99MS, st.CommitMaxMS = 1e3*p50, 1e3*p99, 1e3*slowest
	}
	return st
}

// since is counter b less its earlier reading a; zero when it went
// backwards (a -target gateway restarted), not a wrapped uint64.
func since(a, b uint64) uint64 { return b - min(a, b) }

// runtimeFigures are the gateway's allocations per round-tripped event
// between two readings, and its collector's share of the CPU it used.
func runtimeFigures(a, b *windowCounts, events float64, cpu *report.CPU) *report.Runtime {
	rt := &report.Runtime{
		AllocKBPerEvent: float64(since(a.allocBytes, b.allocBytes)) / 1024 / max(events, 1),
		AllocsPerEvent:  float64(since(a.mallocs, b.mallocs)) / max(events, 1),
	}
	if cpu != nil && cpu.Seconds > 0 {
		rt.GCCPUShare = max(b.gcCPU-a.gcCPU, 0) / cpu.Seconds
	}
	return rt
}

func fmtMS(v float64) string {
	if v == 0 {
		return "-"
	}
	if v < 10 {
		return fmt.Sprintf("%.2fms", v)
	}
	return fmt.Sprintf("%.0fms", v)
}

// profileResult is a CPU profile fetched from the gateway's /debug/pprof
// (the subprocess's, or -target's).
type profileResult struct {
	b   []byte
	err error
}
