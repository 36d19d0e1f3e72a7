// Package suite runs the bench: it starts the gateway (in-process or as the
// built binary) between a mock backend and a mock channel API, and the
// ceiling server next to it; drives both with the same generator and
// settings; accounts for every event; and assembles the results (table,
// results.json, chart). bench/main.go only turns flags into Options.
//
// A run is a series of phases, each against one server:
//
//  1. main: the load the flags ask for (open loop at -rate, or closed loop
//     at -concurrency), against the ceiling, the gateway and the ceiling
//     again, whose two windows count as one (mainPair);
//  2. capacity probe, when a sweep point is a percentage and the main
//     phase was open loop: both servers closed loop at -max-concurrency;
//  3. sweep: both servers open loop at each -sweep rate.
//
// After each gateway phase the suite waits (up to -drain) until every
// acknowledged event's reply reached the channel mock, then accounts.
package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/bench/procstat"
	"github.com/switchboard-gw/switchboard/bench/report"
	"github.com/switchboard-gw/switchboard/bench/traffic"
)

// Modes of running the gateway.
const (
	ModeBinary    = "binary"
	ModeInProcess = "inprocess"
)

// Defaults.
const (
	DefaultConcurrency = 128
	DefaultSweep       = "300,25%,50%,75%"
	DefaultConnection  = "bench"
	DefaultAppSecret   = "bench-app-secret"

	// The bench gateway's Telegram connection (fake credentials; its
	// sends go to bench/channelmock). With -target, a running gateway
	// needs a connection of this name, token and secret for telegram:
	// kinds in -mix.
	TelegramConnection = "tg"
	TelegramToken      = "7000000001:bench-telegram-token"
	TelegramSecret     = "bench-telegram-secret"

	// The bench gateway's Viber bot; its auth token keys the webhooks'
	// signature and authenticates its sends.
	ViberConnection = "vb"
	ViberBotID      = "bench-viber-bot"
	ViberToken      = "4453b6ac12345678-e02c5f12174805f9-bench"

	// The bench gateway's Instagram connection: one professional
	// account, signed with the Messenger connection's app secret.
	InstagramConnection = "ig"
	InstagramAccount    = "17841400000000001"
	InstagramToken      = "bench-instagram-token"

	// The bench gateway's WhatsApp connection: one phone number, signed
	// with the Messenger connection's app secret (-app-secret), as one
	// Meta app serves both.
	WhatsAppConnection = "wa"
	WhatsAppWABA       = "102290129340001"
	WhatsAppPhoneID    = "106540352240001"
	WhatsAppToken      = "bench-whatsapp-token"

	// The bench gateway's web widget connection. Its sessions are opened
	// before the run, all from the bench's one address, so the
	// connection lets that many be created at once; each session's
	// replies are read from its live stream.
	WebConnection = "site"
	WebBotID      = "bench-site"
	webSecret     = "bench-web-identity-secret"
	// WebSessions bounds the sessions (and streams) opened: -users, at
	// most this many.
	WebSessions = 2000
)

// Options is a run. The zero value of a field means its default.
type Options struct {
	// Mode is binary (default) or inprocess.
	Mode string
	// Target is the base URL of an already running gateway to load
	// instead of starting one; it must serve Connection with AppSecret
	// and Pages, which default to the embedded default configuration's
	// Messenger connection (what `go run ./gateway` serves). One signed
	// webhook per channel of the mix is sent first, and a refusal ends
	// the run. Loss accounting and round trips need the suite's mocks
	// and are skipped.
	Target     string
	Connection string
	AppSecret  string
	// Pages are the Page ids of the connection (with -target: the real
	// connection's); by default two made-up ones.
	Pages []string
	// APIToken is one of the -target gateway's api_tokens, which its
	// /debug/pprof asks for when CPUProfile is set; by default the
	// embedded default's (which reads $SWITCHBOARD_API_TOKEN). Never
	// printed. The gateways the bench starts use a token of its own.
	APIToken string

	// Rate (webhooks/s, open loop) or Concurrency (closed loop). Neither:
	// closed loop at DefaultConcurrency, plus the default sweep.
	Rate        float64
	Concurrency int
	// Connections: keep-alive connections of the client (open loop: also
	// its senders). Default 64 open loop, Concurrency closed loop.
	Connections int
	Duration    time.Duration // measured, per phase (default 10 s)
	Warmup      time.Duration // before each phase's window (default 2 s)
	Drain       time.Duration // bound on waiting for replies after a phase (default 30 s)
	Timeout     time.Duration // per request (default 5 s)
	Mix         string        // -mix (default realistic)
	Users       int           // people spread over the Pages (default 2000)

	// Sweep is a comma list of open-loop rates: webhooks/s, or a
	// percentage of the gateway's measured capacity ("50%").
	Sweep          string
	SweepDuration  time.Duration // per point (default Duration, at most 5 s)
	MaxConcurrency int           // capacity probe (default DefaultConcurrency)
	MaxDuration    time.Duration // capacity probe window (default 5 s)

	// Out, when set, receives results.json, the chart and summary.txt.
	Out         string
	ChartFormat string // png (default) or svg
	// Quick is a smoke run of about 8 s: 0.3 s warm-up and 1.5 s windows
	// for each phase (the ceiling twice, the gateway, the reference), no
	// sweep.
	Quick bool

	GatewayBin     string        // binary mode: use this build instead of building one
	BackendLatency time.Duration // the mock backend's think time
	// BackendBatch sets the gateway's backend.batch: up to that many
	// events per POST to the backend (0: one POST per event).
	BackendBatch int
	// SendBatch sets send_batch of the Messenger and Instagram
	// connections: up to that many replies per Graph batch request (0:
	// one call each).
	SendBatch int
	// GatewayConcurrency, when positive, sets the gateway's
	// backend.concurrency and outbound.concurrency: how many events and
	// replies may be in flight at once. Batches fill only as far as
	// these allow.
	GatewayConcurrency int
	// CommitInterval, when not empty, sets the gateway's
	// store.commit_interval (a duration such as 0s or 2ms).
	CommitInterval string
	Verbose        bool // the gateway's info logs
	// CPUProfile, when set, receives a CPU profile of the main gateway
	// phase: in binary mode and with Target the gateway's own, from its
	// /debug/pprof; in inprocess mode this process's, whose goroutines
	// carry the pprof label role=gateway, generator, mock or ceiling
	// (`go tool pprof -tagfocus=role=gateway` is the gateway's share).
	CPUProfile io.Writer
	KeepTemp   bool
	Seed       uint64 // ids and choices; 0: from the clock

	// Progress receives the progress lines and logs (default stderr);
	// Stdout the table (default stdout).
	Progress io.Writer
	Stdout   io.Writer

	// NoReference skips the reference pipeline's run (bench/reference),
	// which a Messenger-only mix otherwise gets against the gateway's
	// main phase.
	NoReference bool

	// web: the mix has web widget traffic; messengerOnly: it has nothing
	// else than Messenger (both set by Run from Mix).
	web, messengerOnly bool
}

// reference reports whether the run measures the reference pipeline: it
// speaks only Messenger, and needs the mocks (not -target).
func (o *Options) reference() bool {
	return !o.NoReference && o.Target == "" && o.messengerOnly
}

// normalize fills defaults and checks the options.
func (o *Options) normalize() error {
	def := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	if o.Mode == "" {
		o.Mode = ModeBinary
	}
	if o.Mode != ModeBinary && o.Mode != ModeInProcess {
		return fmt.Errorf("bench: -mode must be binary or inprocess, not %q", o.Mode)
	}
	if o.Rate < 0 || o.Concurrency < 0 || o.Connections < 0 {
		return errors.New("bench: -rate, -concurrency and -connections must not be negative")
	}
	if o.Rate > 0 && o.Concurrency > 0 {
		return errors.New("bench: give -rate (open loop) or -concurrency (closed loop), not both")
	}
	defaultRun := o.Rate == 0 && o.Concurrency == 0
	if o.Quick {
		def(&o.Duration, 1500*time.Millisecond)
		def(&o.Warmup, 300*time.Millisecond)
		def(&o.Drain, 5*time.Second)
		def(&o.MaxDuration, time.Second)
		if defaultRun {
			o.Concurrency = 16
		}
	} else if defaultRun {
		o.Concurrency = DefaultConcurrency
		if o.Sweep == "" {
			o.Sweep = DefaultSweep
		}
	}
	def(&o.Duration, 10*time.Second)
	def(&o.Warmup, 2*time.Second)
	def(&o.Drain, 30*time.Second)
	def(&o.Timeout, 5*time.Second)
	def(&o.MaxDuration, 5*time.Second)
	def(&o.SweepDuration, min(o.Duration, 5*time.Second))
	if o.MaxConcurrency == 0 {
		o.MaxConcurrency = max(o.Concurrency, DefaultConcurrency)
	}
	if o.Connections == 0 && o.Rate > 0 {
		o.Connections = 64
	}
	if o.Target != "" {
		if err := o.targetDefaults(); err != nil {
			return err
		}
	}
	if o.Connection == "" {
		o.Connection = DefaultConnection
	}
	if o.AppSecret == "" {
		o.AppSecret = DefaultAppSecret
	}
	if o.Users == 0 {
		o.Users = 2000
	}
	if o.Mix == "" {
		o.Mix = traffic.DefaultMix
	}
	if o.ChartFormat == "" {
		o.ChartFormat = "png"
	}
	if o.ChartFormat != "png" && o.ChartFormat != "svg" {
		return fmt.Errorf("bench: -chart must be png or svg")
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.Progress == nil {
		o.Progress = os.Stderr
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Target != "" && !strings.HasPrefix(o.Target, "http://") && !strings.HasPrefix(o.Target, "https://") {
		return fmt.Errorf("bench: -target must be an http(s) URL")
	}
	return nil
}

// page is one Messenger Page of the bench's connection.
type page struct{ id, token string }

func (o *Options) pages() []page {
	ids := o.Pages
	if len(ids) == 0 {
		ids = []string{"106100000000001", "106100000000002"}
	}
	out := make([]page, len(ids))
	for i, id := range ids {
		out[i] = page{id: id, token: "bench-page-token-" + strconv.Itoa(i+1)}
	}
	return out
}

// sweepPoint is one -sweep item.
type sweepPoint struct {
	spec string
	rate float64 // absolute; 0 when pct
	pct  float64 // of capacity; 0 when absolute
}

func parseSweep(s string) ([]sweepPoint, error) {
	var out []sweepPoint
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p := sweepPoint{spec: item}
		if v, ok := strings.CutSuffix(item, "%"); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 || f > 1000 {
				return nil, fmt.Errorf("bench: -sweep %q: a percentage must be in (0, 1000]", item)
			}
			p.pct = f
		} else {
			f, err := strconv.ParseFloat(item, 64)
			if err != nil || f <= 0 {
				return nil, fmt.Errorf("bench: -sweep %q: want a positive rate or a percentage", item)
			}
			p.rate = f
		}
		out = append(out, p)
	}
	return out, nil
}

// suite is one Run's state.
type suite struct {
	o       *Options
	mix     traffic.Mix
	env     *env
	gwGen   *traffic.Generator
	gwMsg   *traffic.Messenger
	gwWA    *traffic.WhatsApp
	gwIG    *traffic.Messenger
	gwVb    *traffic.Viber
	ceilGen *traffic.Generator
	refGen  *traffic.Generator // nil unless Options.reference()
	lost    int64
	phases  int
}

// Run runs the bench and returns its results (also printed, and written
// to Out). A subprocess of the run (the gateway, a yardstick) that exits
// before the run is done ends it with an *ExitError.
func Run(ctx context.Context, o Options) (*report.Results, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	res, err := run(ctx, o, cancel)
	var exit *ExitError
	if cause := context.Cause(ctx); errors.As(cause, &exit) {
		return nil, cause
	}
	return res, err
}

func run(ctx context.Context, o Options, fail func(error)) (*report.Results, error) {
	began := time.Now()
	if err := o.normalize(); err != nil {
		return nil, err
	}
	mix, err := traffic.ParseMix(o.Mix)
	if err != nil {
		return nil, err
	}
	sweep, err := parseSweep(o.Sweep)
	if err != nil {
		return nil, err
	}
	if o.Out != "" { // fail before a long run, not after
		if err := os.MkdirAll(o.Out, 0o755); err != nil {
			return nil, fmt.Errorf("bench: -out: %w", err)
		}
	}
	pages := o.pages()
	s := &suite{o: &o, mix: mix}
	ids := make([]string, len(pages))
	for i, p := range pages {
		ids[i] = p.id
	}
	// The gateway and the ceiling each get their own Messenger generator
	// (same payloads, different ids): what opens a conversation on one
	// must not let receipts through to the other.
	s.gwMsg = traffic.NewMessenger(o.Connection, []byte(o.AppSecret), ids, o.Users, o.Seed)
	gwTg := traffic.NewTelegram(TelegramConnection, TelegramToken, TelegramSecret, o.Users, o.Seed)
	s.gwWA = traffic.NewWhatsApp(WhatsAppConnection, []byte(o.AppSecret), WhatsAppWABA, WhatsAppPhoneID, o.Users, o.Seed)
	s.gwIG = traffic.NewInstagram(InstagramConnection, []byte(o.AppSecret), []string{InstagramAccount}, o.Users, o.Seed)
	s.gwVb = traffic.NewViber(ViberConnection, ViberToken, o.Users, o.Seed)
	gwWeb := traffic.NewWeb(WebConnection) // sessions once the gateway runs
	gwChannels := []traffic.Channel{s.gwMsg, gwTg, s.gwWA, s.gwIG, s.gwVb, gwWeb}
	if s.gwGen, err = traffic.NewGenerator(mix, gwChannels...); err != nil {
		return nil, err
	}
	webSessions := min(o.Users, WebSessions)
	o.messengerOnly = true
	for _, sh := range mix {
		o.web = o.web || sh.Channel == traffic.WebName
		o.messengerOnly = o.messengerOnly && sh.Channel == traffic.MessengerName
	}
	ceilSeed := o.Seed ^ 0x9e3779b97f4a7c15
	ceilMsg := traffic.NewMessenger(o.Connection, []byte(o.AppSecret), ids, o.Users, ceilSeed)
	ceilTg := traffic.NewTelegram(TelegramConnection, TelegramToken, TelegramSecret, o.Users, ceilSeed)
	ceilWA := traffic.NewWhatsApp(WhatsAppConnection, []byte(o.AppSecret), WhatsAppWABA, WhatsAppPhoneID, o.Users, ceilSeed)
	ceilIG := traffic.NewInstagram(InstagramConnection, []byte(o.AppSecret), []string{InstagramAccount}, o.Users, ceilSeed)
	ceilVb := traffic.NewViber(ViberConnection, ViberToken, o.Users, ceilSeed)
	ceilWeb := traffic.NewWeb(WebConnection)
	ceilWeb.SetSessions(ceilingWebSessions(webSessions))
	if s.ceilGen, err = traffic.NewGenerator(mix, ceilMsg, ceilTg, ceilWA, ceilIG, ceilVb, ceilWeb); err != nil {
		return nil, err
	}

	if o.reference() {
		refMsg := traffic.NewMessenger(o.Connection, []byte(o.AppSecret), ids, o.Users, o.Seed^0x632be59bd9b4e019)
		if s.refGen, err = traffic.NewGenerator(mix, refMsg); err != nil {
			return nil, err
		}
	}

	s.env, err = startEnv(ctx, &o, pages, o.Progress, fail)
	if err != nil {
		return nil, err
	}
	defer s.env.close()
	if o.Target != "" {
		if err := s.preflight(ctx, gwChannels); err != nil {
			return nil, err
		}
	}
	if o.web {
		if err := s.env.startWeb(ctx, webSessions, gwWeb); err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Progress, "bench: %d web widget sessions open, each reading its live stream\n", webSessions)
	}
	mode := o.Mode
	if o.Target != "" {
		mode = "target"
		fmt.Fprintf(o.Progress, "bench: loading %s: no mocks around it, so no round trips or loss accounting; its CPU, memory and store figures are read from its /metrics\n", o.Target)
	}
	fmt.Fprintf(o.Progress, "bench: gateway %s (%s), ceiling %s, mix %s\n", s.env.gatewayURL, mode, s.env.ceiling.url, mix)

	res := &report.Results{About: report.About{
		Schema: report.SchemaVersion, Tool: "switchboard-bench", Started: began.UTC(),
		Host: host(), Mode: mode, Target: o.Target, Mix: mix.String(), Settings: settings(&o),
	}}
	if o.Target == "" {
		// The store is under the run's temp dir (TMPDIR).
		if fs, err := procstat.FSType(s.env.tmp); err == nil {
			res.StoreFS = fs
		}
	}

	main := spec{name: "main", rate: o.Rate, conc: o.Concurrency, conns: o.Connections, warmup: o.Warmup, duration: o.Duration}
	res.Load = report.LoadSpec{Loop: "open", Rate: o.Rate, Concurrency: o.Concurrency, Connections: o.Connections,
		DurationS: o.Duration.Seconds(), WarmupS: o.Warmup.Seconds()}
	if o.Rate == 0 {
		res.Load.Loop = "closed"
		if res.Load.Connections == 0 {
			res.Load.Connections = o.Concurrency
		}
	}
	ceil, gw, err := s.mainPair(ctx, main, res)
	if err != nil {
		return nil, err
	}
	res.Gateway, res.Ceiling = *gw, *ceil
	if o.reference() {
		if res.Reference, _, err = s.phase(ctx, main, serverReference); err != nil {
			return nil, err
		}
	}

	// Capacity: the main phase when it was closed loop, else a probe when
	// a sweep point needs it.
	needMax := false
	for _, p := range sweep {
		needMax = needMax || p.pct > 0
	}
	if main.rate == 0 {
		res.Max = maxOf(gw, ceil, o.Concurrency, nil, nil)
	} else if needMax {
		probe := spec{name: "capacity", conc: o.MaxConcurrency, warmup: min(o.Warmup, time.Second), duration: o.MaxDuration}
		pc, pg, err := s.pair(ctx, probe)
		if err != nil {
			return nil, err
		}
		res.Max = maxOf(pg, pc, o.MaxConcurrency, pg, pc)
	}
	for _, p := range sweep {
		rate := p.rate
		if p.pct > 0 {
			rate = res.Max.GatewayRPS * p.pct / 100
		}
		if rate < 1 {
			fmt.Fprintf(o.Progress, "bench: skipping sweep point %s (rate %.2f/s)\n", p.spec, rate)
			continue
		}
		sp := spec{name: "sweep " + p.spec, rate: rate, conns: max(o.Connections, 64), warmup: o.Warmup, duration: o.SweepDuration}
		pc, pg, err := s.pair(ctx, sp)
		if err != nil {
			return nil, err
		}
		res.Sweep = append(res.Sweep, report.Point{Rate: rate, Spec: p.spec, Gateway: *pg, Ceiling: pc})
	}

	s.summarize(res)
	res.Elapsed = time.Since(began).Seconds()
	res.Table(o.Stdout)
	if o.Out != "" {
		if err := s.write(res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// pair runs one phase against the ceiling, then the gateway.
func (s *suite) pair(ctx context.Context, sp spec) (ceil, gw *report.Phase, err error) {
	if ceil, _, err = s.phase(ctx, sp, serverCeiling); err != nil {
		return nil, nil, err
	}
	if gw, _, err = s.phase(ctx, sp, serverGateway); err != nil {
		return nil, nil, err
	}
	return ceil, gw, nil
}

// mainPair runs the main phase against the ceiling, the gateway, and the
// ceiling again, and folds the ceiling's two windows into one
// (report.MergeWindows): the ratio then divides by the host's speed on
// both sides of the gateway's window, not only before it, and the two
// windows' rates (res.CeilingWindowsRPS) say how far it moved meanwhile.
func (s *suite) mainPair(ctx context.Context, sp spec, res *report.Results) (ceil, gw *report.Phase, err error) {
	before, histBefore, err := s.phase(ctx, sp, serverCeiling)
	if err != nil {
		return nil, nil, err
	}
	if gw, _, err = s.phase(ctx, sp, serverGateway); err != nil {
		return nil, nil, err
	}
	again := sp
	again.name += " 2"
	after, histAfter, err := s.phase(ctx, again, serverCeiling)
	if err != nil {
		return nil, nil, err
	}
	if ceil, err = report.MergeWindows(before, after, histBefore, histAfter); err != nil {
		return nil, nil, err
	}
	res.CeilingWindowsRPS = []float64{before.ThroughputRPS, after.ThroughputRPS}
	return ceil, gw, nil
}

func maxOf(gw, ceil *report.Phase, conc int, pg, pc *report.Phase) *report.Max {
	return &report.Max{
		Method:      "closed loop; the gateway's workers wait for each webhook's replies at the channel mock, so no backlog builds",
		Concurrency: conc, CeilingRPS: ceil.ThroughputRPS, GatewayRPS: gw.ThroughputRPS,
		GatewayEventsPerSec: gw.EventsPerSec, Ratio: report.Ratio(gw.EventsPerSec, ceil.ThroughputRPS),
		Gateway: pg, Ceiling: pc,
	}
}

// summarize fills the top-level figures, ratios, targets and notes.
func (s *suite) summarize(res *report.Results) {
	g, c := &res.Gateway, &res.Ceiling
	res.ThroughputRPS = g.ThroughputRPS
	res.EventsPerSec = g.EventsPerSec
	res.CeilingRPS = c.ThroughputRPS
	res.Ratio = report.Ratio(g.EventsPerSec, c.ThroughputRPS)
	if g.CPU != nil {
		res.CPUMicrosPerEvent = report.F(g.CPU.MicrosPerEvent)
	}
	if s.env.ledger != nil {
		lost := s.lost
		res.Lost = &lost
	}
	res.Errors = g.Errors
	res.LatencyMS = g.LatencyMS
	res.RoundTripMS = g.RoundTripMS
	res.Ratios = map[string]float64{
		"throughput":     report.Ratio(g.ThroughputRPS, c.ThroughputRPS),
		"events_per_sec": res.Ratio,
		"latency_p50":    report.Ratio(g.LatencyMS.P50, c.LatencyMS.P50),
		"latency_p99":    report.Ratio(g.LatencyMS.P99, c.LatencyMS.P99),
		"latency_p999":   report.Ratio(g.LatencyMS.P999, c.LatencyMS.P999),
	}
	if g.CPU != nil && c.CPU != nil {
		res.Ratios["cpu_per_request"] = report.Ratio(g.CPU.MicrosPerRequest, c.CPU.MicrosPerRequest)
	}
	if r := res.Reference; r != nil {
		res.Ratios["reference_events_per_sec"] = report.Ratio(r.EventsPerSec, c.ThroughputRPS)
		res.Ratios["events_per_sec_vs_reference"] = report.Ratio(g.EventsPerSec, r.EventsPerSec)
		if g.CPU != nil && r.CPU != nil {
			res.Ratios["cpu_per_event_vs_reference"] = report.Ratio(g.CPU.MicrosPerEvent, r.CPU.MicrosPerEvent)
		}
	}
	res.Targets = s.targets(res)

	if s.env.inproc != nil {
		res.Notes = append(res.Notes, "inprocess mode: CPU figures are the whole bench process (gateway, generator and mocks); use -mode binary for the gateway's own")
	}
	if l := s.env.ledger; l != nil {
		events, replies := l.Unknown()
		if n := events; n > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("the backend received %d events whose ids were never sent", n))
		}
		if n := replies; n > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("the channel mock received %d replies naming no sent event", n))
		}
	}
	if b := s.env.backend; b != nil {
		if n := b.BadSignature.Load() + b.MissingID.Load(); n > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("the backend refused %d events (bad signature or no event id)", n))
		}
	}
	if ch := s.env.channel; ch != nil && ch.Refused.Load() > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("the channel mock refused %d sends", ch.Refused.Load()))
	}
	if n := s.gwMsg.Substituted.Load() + s.gwWA.Substituted.Load() + s.gwIG.Substituted.Load() + s.gwVb.Substituted.Load(); n > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d receipts were sent as texts: no conversation was open yet", n))
	}
	if n := stealNote(res); n != "" {
		res.Notes = append(res.Notes, n)
	}
	if n := driftNote(res); n != "" {
		res.Notes = append(res.Notes, n)
	}
	if n := storeNote(res); n != "" {
		res.Notes = append(res.Notes, n)
	}
	if runtime.NumCPU() <= 4 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d CPUs: the generator and mocks share them with the server under test; compare ratios, not absolutes", runtime.NumCPU()))
	}
}

// write saves results.json, the chart and the table.
func (s *suite) write(res *report.Results) error {
	path, err := res.WriteJSON(s.o.Out)
	if err != nil {
		return err
	}
	chart := filepath.Join(s.o.Out, "latency."+s.o.ChartFormat)
	if err := res.Chart(chart); err != nil {
		fmt.Fprintln(s.o.Progress, "bench:", err)
		chart = "(none)"
	}
	f, err := os.Create(filepath.Join(s.o.Out, "summary.txt"))
	if err != nil {
		return err
	}
	res.Table(f)
	if err := f.Close(); err != nil {
		return err
	}
	if s.env.gatewayLog != "" {
		if b, err := os.ReadFile(s.env.gatewayLog); err == nil {
			os.WriteFile(filepath.Join(s.o.Out, "gateway.log"), b, 0o644)
		}
	}
	fmt.Fprintf(s.o.Progress, "bench: wrote %s, %s, summary.txt\n", path, chart)
	return nil
}

func host() report.Host {
	h := report.Host{CPUs: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, GoVersion: runtime.Version()}
	h.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			h.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return h
}

// newRand returns a worker's random source.
func newRand(seed uint64, n uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, n)) }

// settings lists what the run sets in the gateway's configuration beyond
// the product's defaults (see gatewayYAML).
func settings(o *Options) []string {
	if o.Target != "" {
		return nil
	}
	var s []string
	if o.BackendBatch > 0 {
		s = append(s, fmt.Sprintf("backend.batch: %d", o.BackendBatch))
	}
	if o.SendBatch > 0 {
		s = append(s, fmt.Sprintf("send_batch: %d", o.SendBatch))
	}
	if o.GatewayConcurrency > 0 {
		s = append(s, fmt.Sprintf("backend.concurrency, outbound.concurrency: %d", o.GatewayConcurrency))
	}
	if o.CommitInterval != "" {
		s = append(s, "store.commit_interval: "+o.CommitInterval)
	}
	return s
}

// Repeat runs the suite n times, each with a fresh gateway, ceiling and
// mocks, and sums the runs up (report.Aggregate): medians with ranges.
// With Out, run i writes its own results to Out/run<i> and the summary
// goes to Out. A CPU profile covers one run: Repeat refuses one.
func Repeat(ctx context.Context, o Options, n int) (*report.Runs, error) {
	all, err := series(ctx, []Options{o}, n)
	if err != nil {
		return nil, err
	}
	return all[0], nil
}

// Versus compares two gateway builds: the one o runs (GatewayBin, or
// ./gateway built) as A and the one at bin as B, n runs each, alternated
// (A, B, A, B, ...) so that a machine whose speed drifts slows both
// alike. It prints both summaries and report.Compare; with Out, A's runs
// go to Out/a, B's to Out/b and the comparison to Out/versus.txt.
func Versus(ctx context.Context, o Options, bin string, n int) (a, b *report.Runs, err error) {
	if o.Target != "" || o.Mode == ModeInProcess {
		return nil, nil, errors.New("bench: -versus compares two gateway binaries: binary mode, without -target")
	}
	ob := o
	ob.GatewayBin = bin
	nameA := o.GatewayBin
	if nameA == "" {
		nameA = "./gateway, built for this run"
	}
	return alternate(ctx, o, ob, nameA, bin, n)
}

// alternate runs oa and ob in turn n times each and compares them.
func alternate(ctx context.Context, oa, ob Options, nameA, nameB string, n int) (a, b *report.Runs, err error) {
	out := oa.Out
	if out != "" {
		oa.Out, ob.Out = filepath.Join(out, "a"), filepath.Join(out, "b")
	}
	all, err := series(ctx, []Options{oa, ob}, n)
	if err != nil {
		return nil, nil, err
	}
	a, b = all[0], all[1]
	how := fmt.Sprintf("%d runs each, alternated", min(a.N, b.N))
	w := oa.Stdout
	if w == nil {
		w = os.Stdout
	}
	report.Compare(w, a, b, nameA, nameB, how)
	if out != "" {
		f, err := os.Create(filepath.Join(out, "versus.txt"))
		if err != nil {
			return a, b, err
		}
		report.Compare(f, a, b, nameA, nameB, how)
		if err := f.Close(); err != nil {
			return a, b, err
		}
	}
	return a, b, nil
}

// series runs each of opts in turn, n rounds, and sums up each one's
// runs: printed when there are several, written to its Out (runs in
// Out/run<i>) when set.
func series(ctx context.Context, opts []Options, n int) ([]*report.Runs, error) {
	if n < 1 {
		return nil, fmt.Errorf("bench: -runs %d: want at least 1", n)
	}
	for i := range opts {
		o := &opts[i]
		if o.CPUProfile != nil && n*len(opts) > 1 {
			return nil, errors.New("bench: -cpuprofile profiles one run: drop -runs and -versus")
		}
		if o.Progress == nil {
			o.Progress = os.Stderr
		}
		if o.Stdout == nil {
			o.Stdout = os.Stdout
		}
	}
	results := make([][]*report.Results, len(opts))
	dirs := make([][]string, len(opts))
	for i := range n {
		for k, o := range opts {
			ri := o
			if o.Out != "" {
				ri.Out = filepath.Join(o.Out, fmt.Sprintf("run%d", i+1))
				dirs[k] = append(dirs[k], filepath.Base(ri.Out))
			}
			label := ""
			if len(opts) > 1 {
				label = fmt.Sprintf(" (%c)", 'A'+k)
			}
			fmt.Fprintf(o.Progress, "bench: run %d of %d%s\n", i+1, n, label)
			res, err := Run(ctx, ri)
			if err != nil {
				return nil, fmt.Errorf("bench: run %d%s: %w", i+1, label, err)
			}
			results[k] = append(results[k], res)
		}
	}
	all := make([]*report.Runs, len(opts))
	for k, o := range opts {
		a := report.Aggregate(results[k], dirs[k])
		all[k] = a
		if n > 1 {
			a.Table(o.Stdout)
		}
		if o.Out != "" {
			if err := a.Write(o.Out); err != nil {
				return all, err
			}
			fmt.Fprintf(o.Progress, "bench: wrote %s and summary.txt\n", filepath.Join(o.Out, "results.json"))
		}
	}
	return all, nil
}

// driftThreshold is how far the ceiling's rate may move between the
// windows before and after the gateway's before a run is called out:
// beyond it the host's speed changed under the measurement by more than
// the figures' usual spread.
const driftThreshold = 0.10

// driftNote says when the ceiling's two main windows differ by
// driftThreshold or more; "" otherwise.
func driftNote(res *report.Results) string {
	d, ok := res.Drift()
	if !ok || math.Abs(d) < driftThreshold {
		return ""
	}
	return fmt.Sprintf("the ceiling's rate moved %+.0f%% from its main window before the gateway's to the one after: one window is this uncertain on this machine; the ratio divides by both, and -runs 3 or more steadies it", 100*d)
}

// storeNote calls out a gateway store kept in memory (the run's TMPDIR on
// tmpfs): a useful control, since it takes the disk out of every figure,
// and never a durable measurement; "" otherwise.
func storeNote(res *report.Results) string {
	if !procstat.InMemory(res.StoreFS) {
		return ""
	}
	return fmt.Sprintf("the gateway's store is on %s (TMPDIR): its commits reach no disk and their fsyncs cost nothing, so no figure here includes the disk", res.StoreFS)
}

// stealThreshold is the share of the machine's CPU time stolen by the
// hypervisor from which a phase is called out: a percent or more leaves
// runnable threads waiting at random, which shows in tail latencies.
const stealThreshold = 0.01

// stealNote names the phases during which the hypervisor took at least
// stealThreshold of the CPUs' time, with the most it took; "" if none.
func stealNote(res *report.Results) string {
	var names []string
	worst := 0.0
	check := func(name string, p *report.Phase) {
		if p == nil || p.HostCPU == nil || p.HostCPU.Steal < stealThreshold {
			return
		}
		names = append(names, name)
		worst = max(worst, p.HostCPU.Steal)
	}
	check("gateway main", &res.Gateway)
	check("ceiling main", &res.Ceiling)
	check("reference", res.Reference)
	if m := res.Max; m != nil {
		check("gateway capacity", m.Gateway)
		check("ceiling capacity", m.Ceiling)
	}
	for i := range res.Sweep {
		pt := &res.Sweep[i]
		check("gateway sweep "+pt.Spec, &pt.Gateway)
		check("ceiling sweep "+pt.Spec, pt.Ceiling)
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("the hypervisor took up to %.1f%% of the CPUs' time (steal) during %s: the latencies there are the host's as much as the server's",
		100*worst, strings.Join(names, ", "))
}
