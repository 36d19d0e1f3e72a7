package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/bench/ceiling"
	benchlat "github.com/switchboard-gw/switchboard/bench/latency"
	"github.com/switchboard-gw/switchboard/bench/procstat"
	"github.com/switchboard-gw/switchboard/bench/report"
	"github.com/switchboard-gw/switchboard/config"
)

func TestOptionsDefaults(t *testing.T) {
	o := Options{}
	if err := o.normalize(); err != nil {
		t.Fatal(err)
	}
	if o.Mode != ModeBinary || o.Concurrency != DefaultConcurrency || o.Rate != 0 || o.Sweep != DefaultSweep ||
		o.Duration != 10*time.Second || o.Warmup != 2*time.Second || o.Mix != "realistic" {
		t.Fatalf("default run: %+v", o)
	}
	o = Options{Rate: 300}
	if err := o.normalize(); err != nil {
		t.Fatal(err)
	}
	if o.Concurrency != 0 || o.Sweep != "" || o.Connections != 64 {
		t.Fatalf("-rate 300: %+v", o)
	}
	o = Options{Quick: true}
	if err := o.normalize(); err != nil {
		t.Fatal(err)
	}
	if o.Duration > 2*time.Second || o.Sweep != "" || o.Concurrency == 0 {
		t.Fatalf("-quick: %+v", o)
	}
	for _, bad := range []Options{
		{Rate: 10, Concurrency: 2},
		{Mode: "docker"},
		{Rate: -1},
		{ChartFormat: "gif"},
		{Target: "localhost:8080"},
	} {
		if err := bad.normalize(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestParseSweep(t *testing.T) {
	pts, err := parseSweep(" 300, 50% ,1e3,")
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 3 || pts[0].rate != 300 || pts[1].pct != 50 || pts[1].rate != 0 || pts[2].rate != 1000 {
		t.Fatalf("%+v", pts)
	}
	for _, bad := range []string{"fast", "-5", "0%", "x%"} {
		if _, err := parseSweep(bad); err == nil {
			t.Errorf("sweep %q accepted", bad)
		}
	}
}

func TestGatewayYAMLIsValid(t *testing.T) {
	o := Options{}
	o.normalize()
	y := gatewayYAML(&o, "http://127.0.0.1:9/events", "/tmp/x y", "http://127.0.0.1:8/v25.0", "http://127.0.0.1:7", "http://127.0.0.1:6/viber", o.pages())
	cfg, err := config.Parse(strings.NewReader(y))
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	c := cfg.Connections[0]
	if cfg.Listen != "127.0.0.1:0" || cfg.Store.Path != "/tmp/x y" || !*cfg.Outbound.EnforceWindow ||
		c.Name != DefaultConnection || c.Messenger == nil || c.Messenger.AppSecret != DefaultAppSecret ||
		len(c.Messenger.Pages) != 2 || c.Messenger.APIBase != "http://127.0.0.1:8/v25.0" {
		t.Fatalf("config %+v / %+v", cfg, c.Messenger)
	}
	if len(cfg.Connections) != 5 {
		t.Fatalf("%d connections, want Messenger, Instagram, WhatsApp, Telegram and Viber", len(cfg.Connections))
	}
	if vb := cfg.Connections[4]; vb.Name != ViberConnection || vb.Viber == nil || vb.Viber.AuthToken != ViberToken ||
		vb.Viber.BotID != ViberBotID || vb.Viber.APIBase != "http://127.0.0.1:6/viber" {
		t.Fatalf("viber connection %+v / %+v", vb, vb.Viber)
	}
	if ig := cfg.Connections[1]; ig.Name != InstagramConnection || ig.Instagram == nil || ig.Instagram.AppSecret != DefaultAppSecret ||
		len(ig.Instagram.Accounts) != 1 || ig.Instagram.Accounts[0].ID != InstagramAccount || ig.Instagram.APIBase != "http://127.0.0.1:8/v25.0" {
		t.Fatalf("instagram connection %+v / %+v", ig, ig.Instagram)
	}
	if wa := cfg.Connections[2]; wa.Name != WhatsAppConnection || wa.WhatsApp == nil || wa.WhatsApp.AppSecret != DefaultAppSecret ||
		len(wa.WhatsApp.PhoneNumbers) != 1 || wa.WhatsApp.PhoneNumbers[0].ID != WhatsAppPhoneID || wa.WhatsApp.APIBase != "http://127.0.0.1:8/v25.0" {
		t.Fatalf("whatsapp connection %+v / %+v", wa, wa.WhatsApp)
	}
	if tg := cfg.Connections[3]; tg.Name != TelegramConnection || tg.Telegram == nil || tg.Telegram.Token != TelegramToken ||
		tg.Telegram.SecretToken != TelegramSecret || tg.Telegram.APIBase != "http://127.0.0.1:7" {
		t.Fatalf("telegram connection %+v / %+v", tg, tg.Telegram)
	}
	if got := settings(&o); got != nil {
		t.Errorf("settings of a default run = %q, want none", got)
	}
	// A default run's config names nothing the product added later, so
	// older builds (-versus, -gateway-bin) read it too.
	for _, key := range []string{"send_batch", "concurrency", "commit_interval", "batch_wait"} {
		if strings.Contains(y, key) {
			t.Errorf("a default run's config sets %s:\n%s", key, y)
		}
	}

	o.BackendBatch, o.CommitInterval, o.SendBatch, o.GatewayConcurrency = 64, "0s", 50, 512
	y = gatewayYAML(&o, "http://127.0.0.1:9/events", "/tmp/x", "http://127.0.0.1:8/v25.0", "http://127.0.0.1:7", "http://127.0.0.1:6/viber", o.pages())
	cfg, err = config.Parse(strings.NewReader(y))
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	if cfg.Backend.Batch != 64 || cfg.Store.CommitInterval == nil || *cfg.Store.CommitInterval != 0 {
		t.Fatalf("backend %+v, commit interval %v", cfg.Backend, cfg.Store.CommitInterval)
	}
	if cfg.Backend.Concurrency != 512 || cfg.Outbound.Concurrency != 512 ||
		cfg.Connections[0].Messenger.SendBatch != 50 || cfg.Connections[1].Instagram.SendBatch != 50 {
		t.Fatalf("backend %+v, outbound %+v, send_batch %d / %d", cfg.Backend, cfg.Outbound,
			cfg.Connections[0].Messenger.SendBatch, cfg.Connections[1].Instagram.SendBatch)
	}
	if got, want := strings.Join(settings(&o), "; "), "backend.batch: 64; send_batch: 50; backend.concurrency, outbound.concurrency: 512; store.commit_interval: 0s"; got != want {
		t.Errorf("settings = %q, want %q", got, want)
	}
}

// TestQuickRun is the suite end to end, in-process: gateway, mocks,
// ceiling, a closed-loop phase each, accounting, results.json and chart.
// It takes a few seconds; -short skips it.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end bench run")
	}
	out := t.TempDir()
	var progress strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Mode: ModeInProcess, Quick: true, Out: out, Drain: 20 * time.Second,
		Progress: &syncWriter{w: &progress}, Stdout: io.Discard})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if res.Lost == nil || *res.Lost != 0 {
		t.Fatalf("lost %v: %+v\n%s", res.Lost, res.Gateway.Accounting, progress.String())
	}
	a := res.Gateway.Accounting
	if a == nil || a.Acked == 0 || a.Replied != a.Acked || a.BackendDuplicates != 0 || a.Misrouted != 0 {
		t.Fatalf("accounting %+v", a)
	}
	if res.EventsPerSec <= 0 || res.ThroughputRPS <= 0 || res.CeilingRPS <= 0 || res.Ratio <= 0 ||
		res.LatencyMS.P50 <= 0 || res.RoundTripMS == nil || res.RoundTripMS.P50 < res.LatencyMS.P50/10 {
		t.Fatalf("figures: %+v", res)
	}
	if res.Errors != 0 || res.Ceiling.Errors != 0 {
		t.Fatalf("errors %v / %v", res.Gateway.ErrorsBy, res.Ceiling.ErrorsBy)
	}
	if res.Max == nil || res.Max.Ratio != res.Ratio {
		t.Fatalf("a closed-loop main phase is the capacity: %+v", res.Max)
	}
	// The ceiling ran before and after the gateway's main window; its
	// figures are both windows together.
	if w := res.CeilingWindowsRPS; len(w) != 2 || w[0] <= 0 || w[1] <= 0 ||
		res.CeilingRPS < min(w[0], w[1]) || res.CeilingRPS > max(w[0], w[1]) ||
		res.Ceiling.WindowS < 1.5*res.Gateway.WindowS || res.Ceiling.Name != "main" ||
		res.Ceiling.LatencyMS.Count <= 0 || res.Ceiling.CPU == nil {
		t.Fatalf("ceiling windows %v, ceiling %+v (gateway window %vs)", w, res.Ceiling, res.Gateway.WindowS)
	}
	// The store is in the run's temp dir: the filesystem there is named.
	if fs, err := procstat.FSType(os.TempDir()); err != nil || res.StoreFS != fs {
		t.Fatalf("store on %q, the temp dir on %q (%v)", res.StoreFS, fs, err)
	}
	if !strings.Contains(progress.String(), "ceiling main 2") {
		t.Fatalf("no second ceiling window in the progress:\n%s", progress.String())
	}
	// The store's counters come from the gateway's /metrics: every event
	// was spooled, so the window saw commits, each writing the meta page
	// and at least one data page.
	if st := res.Gateway.Store; st == nil || st.Commits == 0 || st.Writes < st.Commits || st.PagesPerCommit < 2 || st.CommitsPerEvent <= 0 {
		t.Fatalf("store figures: %+v", st)
	}
	// One exchange per event on each leg without batching, each counted
	// where it arrives: send requests and the replies they carry at the
	// channel mock, POSTs and the events they carry at the backend (a
	// retry or a window edge may tip it slightly).
	if st := res.Gateway.Store; st.BackendPOSTsPerEvent < 0.8 || st.BackendPOSTsPerEvent > 1.2 ||
		st.SendRequestsPerReply < 0.8 || st.SendRequestsPerReply > 1.2 {
		t.Fatalf("exchanges per event without batching: %+v", st)
	}
	// The store's commit durations from the gateway's histogram.
	if st := res.Gateway.Store; st.CommitP50MS <= 0 || st.CommitP99MS < st.CommitP50MS || st.CommitMaxMS < st.CommitP99MS {
		t.Fatalf("store commit p50 / p99: %+v", st)
	}
	// The store file's size, read after the window.
	if st := res.Gateway.Store; st.FileMB <= 0 {
		t.Fatalf("store file size not read: %+v", st)
	}
	// Replies the store skipped because they were sent first: a share of
	// the replies. A reply's ack commits after the reply arrived, up to
	// the slowest commit later, so a window also counts the settling of
	// replies from just before it: at most that stretch's share more
	// (under the race detector on a loaded machine, commits of 0.6 s in a
	// 1.5 s window made it 1.39 per reply).
	if st := res.Gateway.Store; st.SettledPerReply < 0 {
		t.Fatalf("settled replies: %+v", st)
	} else if lag := 1.01 * (1 + st.CommitMaxMS/1e3/res.Gateway.WindowS); st.SettledPerReply > lag ||
		float64(st.Settled) > float64(res.Gateway.Accounting.Replied)*lag+1 {
		t.Fatalf("settled replies: %+v, more than the window's replies and those of the slowest commit before it (×%.2f)", st, lag)
	}
	if res.Ceiling.Store != nil {
		t.Fatalf("the ceiling has no store: %+v", res.Ceiling.Store)
	}
	// Thread switches and time waiting for a CPU, from schedstat where the
	// kernel keeps it (in-process: the whole bench process's, both sides).
	if _, err := os.Stat("/proc/self/schedstat"); err == nil {
		g, c := res.Gateway.CPU, res.Ceiling.CPU
		if g.Switches == 0 || g.SwitchesPerEvent <= 0 || g.SwitchesPerRequest <= 0 || g.RunQueue < 0 ||
			c.Switches == 0 || c.SwitchesPerEvent != 0 || c.SwitchesPerRequest <= 0 || c.RunQueueS < 0 {
			t.Fatalf("switches and run queue: gateway %+v, ceiling %+v", g, c)
		}
	}
	// Resident memory split into anonymous and mapped files, where the
	// kernel says (in-process: the whole bench process's, both sides).
	if status, err := os.ReadFile("/proc/self/status"); err == nil && strings.Contains(string(status), "RssAnon:") {
		for _, p := range []*report.Phase{&res.Gateway, &res.Ceiling} {
			if m := p.Memory; m == nil || m.RSSAnonStartMB <= 0 || m.RSSAnonEndMB <= 0 || m.RSSFileEndMB <= 0 || m.RSSAnonEndMB > m.RSSPeakMB ||
				m.RSSAnonEndMB+m.RSSFileEndMB > m.RSSEndMB { // the parts of one end-of-window sample
				t.Fatalf("%s memory: %+v", p.Server, m)
			}
		}
	}
	// The machine's CPU over each main window, from /proc/stat.
	for _, p := range []*report.Phase{&res.Gateway, &res.Ceiling} {
		if h := p.HostCPU; h == nil || h.Busy <= 0 || h.Busy > 1 || h.Steal < 0 || h.Busy+h.Steal+h.IOWait > 1.0001 {
			t.Fatalf("%s host CPU: %+v", p.Server, h)
		}
	}
	// In-process, the runtime's counters are the whole bench's: not shown.
	if res.Gateway.Runtime != nil {
		t.Fatalf("in-process run reports the gateway's allocations: %+v", res.Gateway.Runtime)
	}
	// The default mix is Messenger only, so the reference pipeline ran
	// under the same load and accounted for every event like the gateway.
	ref := res.Reference
	if ref == nil || ref.Server != "reference" || ref.EventsPerSec <= 0 || ref.Errors != 0 || ref.RoundTripMS == nil ||
		ref.CPU == nil || ref.CPU.MicrosPerEvent <= 0 || ref.Store != nil {
		t.Fatalf("reference: %+v\n%s", ref, progress.String())
	}
	if a := ref.Accounting; a == nil || a.Acked == 0 || a.Replied != a.Acked || a.Lost != 0 || a.Misrouted != 0 {
		t.Fatalf("reference accounting %+v", a)
	}
	if res.Ratios["events_per_sec_vs_reference"] <= 0 || res.Ratios["reference_events_per_sec"] <= 0 {
		t.Fatalf("ratios %v", res.Ratios)
	}
	if !strings.Contains(progress.String(), "replies") {
		t.Fatalf("no progress lines:\n%s", progress.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"throughput_rps", "events_per_sec", "ceiling_rps", "ratio", "cpu_us_per_event", "lost", "errors", "latency_ms", "reference", "store_fs"} {
		if _, ok := m[k]; !ok {
			t.Errorf("results.json lacks %s", k)
		}
	}
	for _, f := range []string{"latency.png", "summary.txt"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestRepeat: -runs 2 runs the suite twice, each into its own directory,
// and sums them up (medians, sums of loss and errors) in the top one.
func TestRepeat(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end bench runs")
	}
	out := t.TempDir()
	var progress strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := Options{Mode: ModeInProcess, Quick: true, Out: out, Drain: 20 * time.Second,
		Progress: &syncWriter{w: &progress}, Stdout: io.Discard}
	a, err := Repeat(ctx, o, 2)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if a.N != 2 || a.Lost == nil || *a.Lost != 0 || a.Ratio <= 0 || a.EventsPerSec <= 0 || len(a.RunDirs) != 2 {
		t.Fatalf("runs %+v", a)
	}
	names := map[string]bool{}
	for _, f := range a.Figures {
		if len(f.Values) != 2 || f.Min > f.Median || f.Median > f.Max {
			t.Fatalf("figure %+v", f)
		}
		names[f.Name] = true
	}
	if !names["reference round trips/s"] || !names["reference CPU µs/event"] {
		t.Fatalf("no reference figures among %v", names)
	}
	if !names["store commit p99 ms"] {
		t.Fatalf("no store commit figure among %v", names)
	}
	for _, p := range []string{"results.json", "summary.txt", "run1/results.json", "run2/results.json", "run2/latency.png"} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Error(err)
		}
	}
	o.CPUProfile = io.Discard
	if _, err := Repeat(ctx, o, 2); err == nil {
		t.Fatal("a CPU profile over several runs was accepted")
	}
	if _, err := Repeat(ctx, Options{}, 0); err == nil {
		t.Fatal("-runs 0 was accepted")
	}
}

// TestAlternate: two settings of the gateway run in turn (here in-process,
// the default against backend and Send API batching) and come out side by
// side, every event accounted for in both.
func TestAlternate(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end bench runs")
	}
	out := t.TempDir()
	var progress, table strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	oa := Options{Mode: ModeInProcess, Quick: true, Out: out, Drain: 20 * time.Second, NoReference: true,
		Progress: &syncWriter{w: &progress}, Stdout: &syncWriter{w: &table}}
	ob := oa
	ob.BackendBatch, ob.SendBatch = 8, 8
	a, b, err := alternate(ctx, oa, ob, "one POST per event", "backend batches of 8", 1)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if a.Lost == nil || *a.Lost != 0 || b.Lost == nil || *b.Lost != 0 || a.Errors != 0 || b.Errors != 0 {
		t.Fatalf("lost %v / %v, errors %v / %v\n%s", a.Lost, b.Lost, a.Errors, b.Errors, progress.String())
	}
	// Batching shows in the exchanges per event of both legs.
	perEvent := map[string]float64{}
	for _, f := range b.Figures {
		perEvent[f.Name] = f.Median
	}
	if _, ok := perEvent["reference round trips/s"]; ok || strings.Contains(progress.String(), "reference") {
		t.Fatalf("NoReference, yet the reference ran:\n%s", progress.String())
	}
	if p, s := perEvent["backend POSTs/event"], perEvent["Send requests/reply"]; p <= 0 || p >= 0.9 || s <= 0 || s >= 0.9 {
		t.Fatalf("batched run: backend POSTs/event %v, Send requests/reply %v; want both below 0.9", p, s)
	}
	if a.N != 1 || b.N != 1 || len(b.Settings) == 0 || len(a.Settings) != 0 {
		t.Fatalf("A %d runs %v, B %d runs %v", a.N, a.Settings, b.N, b.Settings)
	}
	if i, j := strings.Index(progress.String(), "run 1 of 1 (A)"), strings.Index(progress.String(), "run 1 of 1 (B)"); i < 0 || j < i {
		t.Fatalf("runs not alternated A then B:\n%s", progress.String())
	}
	if !strings.Contains(table.String(), "B: backend batches of 8") {
		t.Fatalf("no comparison printed:\n%s", table.String())
	}
	for _, p := range []string{"a/results.json", "a/run1/results.json", "b/results.json", "b/run1/summary.txt", "versus.txt"} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Error(err)
		}
	}
	if _, _, err := Versus(ctx, oa, "/bin/false", 1); err == nil {
		t.Fatal("Versus accepted inprocess mode")
	}
}

// TestQuickRunChannels: Telegram, WhatsApp, Instagram, Viber and web
// widget traffic, alone and mixed with Messenger, make the same round trip
// (webhook → backend → the channel's send API at the mock, or the widget
// session's live stream), and every event is accounted for, none unknown.
// Web events are named by the gateway's answers, and their replies read
// from the sessions' streams (50, or 400 in the mixed run).
func TestQuickRunChannels(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end bench run")
	}
	for _, mix := range []string{"telegram", "whatsapp", "instagram", "viber", "web",
		"messenger:text=1,instagram:read=1,whatsapp:text=1,whatsapp:read=1,telegram:callback=1,viber:seen=1,web:postback=1"} {
		t.Run(mix, func(t *testing.T) {
			var progress strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			o := Options{Mode: ModeInProcess, Quick: true, Mix: mix, Drain: 20 * time.Second,
				Progress: &syncWriter{w: &progress}, Stdout: io.Discard}
			switch {
			case mix == "web":
				o.Users = 50
			case strings.Contains(mix, "web"):
				// Enough people that Telegram chats (paced at about one
				// reply a second) do not queue: with 50 the round trip's
				// p99 was ~2 s and its max ~3 s, and an unlucky run
				// crossed the 5 s timeout (roundtrip_timeout); with 400,
				// p99 0.4 s and max 1.8 s.
				o.Users = 400
			}
			res, err := Run(ctx, o)
			if err != nil {
				t.Fatalf("%v\n%s", err, progress.String())
			}
			a := res.Gateway.Accounting
			if res.Lost == nil || *res.Lost != 0 || a == nil || a.Acked == 0 || a.Replied != a.Acked || a.Misrouted != 0 {
				t.Fatalf("lost %v, accounting %+v\n%s", res.Lost, a, progress.String())
			}
			if res.Errors != 0 || res.Ceiling.Errors != 0 || res.CeilingRPS <= 0 {
				t.Fatalf("errors %v / %v, ceiling %v/s\n%s", res.Gateway.ErrorsBy, res.Ceiling.ErrorsBy, res.CeilingRPS, progress.String())
			}
			for _, n := range res.Notes {
				if strings.Contains(n, "never sent") || strings.Contains(n, "naming no sent event") {
					t.Fatalf("unknown arrivals: %s", n)
				}
			}
			if res.Reference != nil {
				t.Fatalf("the reference pipeline speaks only Messenger, yet ran on %s", mix)
			}
			if strings.Contains(mix, "web") && !strings.Contains(progress.String(), fmt.Sprint(o.Users, " web widget sessions open")) {
				t.Fatalf("web sessions not announced:\n%s", progress.String())
			}
		})
	}
}

// TestTargetMode loads an already running server (here the ceiling, which
// takes the same signed webhooks): no mocks, so no round trips, loss or
// CPU figures, and the suite says so rather than reporting zeros.
func TestTargetMode(t *testing.T) {
	srv := &ceiling.Server{Secret: []byte(DefaultAppSecret)}
	base, err := srv.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var progress strings.Builder
	res, err := Run(context.Background(), Options{Target: base, Connection: DefaultConnection, AppSecret: DefaultAppSecret,
		Rate: 200, Duration: 400 * time.Millisecond, Warmup: 100 * time.Millisecond,
		Progress: &syncWriter{w: &progress}, Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != "target" || res.Lost != nil || res.CPUMicrosPerEvent != nil || res.RoundTripMS != nil || res.Gateway.Accounting != nil || res.Gateway.Store != nil {
		t.Fatalf("target mode reported what it cannot know: %+v", res)
	}
	if res.ThroughputRPS < 150 || res.EventsPerSec < res.ThroughputRPS || res.Errors != 0 {
		t.Fatalf("throughput %v events %v errors %v", res.ThroughputRPS, res.EventsPerSec, res.Gateway.ErrorsBy)
	}
	if !strings.Contains(progress.String(), "no mocks") {
		t.Fatalf("target mode not announced:\n%s", progress.String())
	}
}

// TestGatewayProfile: -cpuprofile in binary mode fetches the gateway's own
// CPU profile with the bench's API token; here from an in-process gateway
// started the same way.
func TestGatewayProfile(t *testing.T) {
	ctx, e := inProcessEnv(t)
	b, err := e.gatewayProfile(ctx, 400*time.Millisecond) // rounds up to 1 s
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("not a gzipped profile: %d bytes", len(b))
	}
	e.gatewayURL += "/nowhere" // a failed fetch is an error, not an empty profile
	if _, err := e.gatewayProfile(ctx, time.Second); err == nil {
		t.Fatal("a refused profile request returned no error")
	}
}

// TestLatencyTargetsNeedAnswers: a latency target whose phase had errors,
// or no answers at all, fails; it does not pass on the p99 of the answers
// that came (an earlier build passed "p99 0 ms at 300/s" for a gateway
// that answered nothing).
func TestLatencyTargetsNeedAnswers(t *testing.T) {
	res := &report.Results{}
	res.Gateway = report.Phase{Loop: "open", Rate: 300, ThroughputRPS: 290, Errors: 3}
	res.Gateway.LatencyMS.P99 = 0.5
	res.Sweep = []report.Point{{Spec: "50%", Rate: 3000}}
	byName := map[string]report.Target{}
	for _, tg := range (&suite{}).targets(res) {
		byName[tg.Name] = tg
	}
	for _, name := range []string{"answer p99 at 300 webhooks/s", "answer p99 at half the capacity"} {
		if tg := byName[name]; !tg.Failed() || !strings.Contains(tg.Note, "errors in that phase") {
			t.Errorf("%s: %+v", name, tg)
		}
	}
	res.Gateway.Errors = 0
	for _, tg := range (&suite{}).targets(res) {
		if tg.Name == "answer p99 at 300 webhooks/s" && (tg.Pass == nil || !*tg.Pass) {
			t.Errorf("a clean phase: %+v", tg)
		}
	}
}

// TestTargetsNameTheReference: with a reference run, the ratio and CPU
// targets carry what the bare job reaches on this machine, next to the
// limit the issue set; the verdict stays the gateway's own.
func TestTargetsNameTheReference(t *testing.T) {
	res := &report.Results{Headline: report.Headline{CeilingRPS: 60000}}
	res.Mix = targetTextMixStr
	res.Max = &report.Max{Ratio: 0.2}
	res.Gateway = report.Phase{Loop: "closed", CPU: &report.CPU{Scope: "process", MicrosPerEvent: 90}}
	res.Reference = &report.Phase{Loop: "closed", EventsPerSec: 15000, CPU: &report.CPU{Scope: "process", MicrosPerEvent: 50}}
	byName := map[string]report.Target{}
	for _, tg := range (&suite{}).targets(res) {
		byName[tg.Name] = tg
	}
	if tg := byName["round trip ÷ ceiling at capacity (ratio)"]; tg.Pass == nil || *tg.Pass || tg.Reference == nil || *tg.Reference != 0.25 {
		t.Errorf("ratio: %+v", tg)
	}
	if tg := byName["gateway CPU per event"]; tg.Pass == nil || *tg.Pass || tg.Reference == nil || *tg.Reference != 50 {
		t.Errorf("cpu: %+v", tg)
	}
}

// TestTargetModeRatioNotJudged: with -target the capacity ratio is events
// accepted over the ceiling, not round trips: shown in the note, never a
// pass (a run against `go run ./gateway` once "passed" at 0.258), while
// the CPU target, the target's own per event, is judged.
func TestTargetModeRatioNotJudged(t *testing.T) {
	res := &report.Results{About: report.About{Mode: "target", Mix: targetTextMixStr}}
	res.Max = &report.Max{Ratio: 0.258}
	res.Gateway = report.Phase{Loop: "closed", CPU: &report.CPU{Scope: "process", Source: "metrics", MicrosPerEvent: 30}}
	byName := map[string]report.Target{}
	for _, tg := range (&suite{}).targets(res) {
		byName[tg.Name] = tg
	}
	if tg := byName["round trip ÷ ceiling at capacity (ratio)"]; tg.Pass != nil || tg.Value != nil || !strings.Contains(tg.Note, "events accepted ÷ ceiling 0.258") {
		t.Errorf("ratio: %+v", tg)
	}
	if tg := byName["gateway CPU per event"]; tg.Pass == nil || !*tg.Pass || !strings.Contains(tg.Note, "per event accepted") {
		t.Errorf("cpu: %+v", tg)
	}
}

// TestLatencyTargetsNameTheCommit: a latency target's note gives the
// store's commit p99 in the phase it judges, after what it said before,
// the slowest commit when it alone could explain the p99 (a slow commit
// at 300/s does not), how busy the machine was, and the hypervisor's
// steal when it reached a percent.
func TestLatencyTargetsNameTheCommit(t *testing.T) {
	res := &report.Results{}
	res.Gateway = report.Phase{Loop: "open", Rate: 300, ThroughputRPS: 300, LatencyMS: benchlat.Summary{P99: 1.3},
		Store: &report.Store{CommitP99MS: 0.8431, CommitMaxMS: 1.2}}
	res.Sweep = []report.Point{{Spec: "50%", Rate: 6000, Gateway: report.Phase{ThroughputRPS: 6000,
		LatencyMS: benchlat.Summary{P99: 97}, Store: &report.Store{CommitP99MS: 2.51, CommitMaxMS: 96.4}, HostCPU: &report.HostCPU{Busy: 0.742, Steal: 0.023},
		CPU: &report.CPU{Switches: 20000, RunQueue: 1.12}}}}
	byName := map[string]report.Target{}
	for _, tg := range (&suite{}).targets(res) {
		byName[tg.Name] = tg
	}
	if tg := byName["answer p99 at 300 webhooks/s"]; tg.Note != "store commit p99 0.843 ms" || tg.Value == nil || *tg.Value != 1.3 {
		t.Errorf("at 300/s: %+v", tg)
	}
	if tg := byName["answer p99 at half the capacity"]; tg.Note != "6000 webhooks/s; store commit p99 2.51 ms; a commit took 96.4 ms; 1.12 of the gateway's threads waiting for a CPU; host 74% busy; steal 2.3% of the CPUs" {
		t.Errorf("at half: %+v", tg)
	}
}

// TestStealNote: phases during which the hypervisor took a percent or
// more of the CPUs are named, with the worst share; none, no note.
func TestStealNote(t *testing.T) {
	res := &report.Results{}
	if n := stealNote(res); n != "" {
		t.Fatalf("nothing measured, yet %q", n)
	}
	res.Gateway.HostCPU = &report.HostCPU{Busy: 0.9, Steal: 0.004}
	res.Ceiling.HostCPU = &report.HostCPU{Busy: 0.9, Steal: 0.012}
	res.Sweep = []report.Point{
		{Spec: "300", Gateway: report.Phase{HostCPU: &report.HostCPU{Steal: 0.051}}},
		{Spec: "50%", Gateway: report.Phase{HostCPU: &report.HostCPU{Steal: 0.002}}, Ceiling: &report.Phase{}},
	}
	want := "the hypervisor took up to 5.1% of the CPUs' time (steal) during ceiling main, gateway sweep 300: the latencies there are the host's as much as the server's"
	if n := stealNote(res); n != want {
		t.Fatalf("note %q\nwant %q", n, want)
	}
}

// TestStoreNote: a store in memory is called out, one on a disk is not.
func TestStoreNote(t *testing.T) {
	for fs, want := range map[string]bool{"": false, "ext4": false, "xfs": false, "0x1234": false, "tmpfs": true, "ramfs": true} {
		n := storeNote(&report.Results{About: report.About{StoreFS: fs}})
		if (n != "") != want || want && !strings.HasPrefix(n, "the gateway's store is on "+fs+" (TMPDIR)") {
			t.Errorf("store on %q: note %q", fs, n)
		}
	}
}

// TestDriftNote: a ceiling 10% or more faster or slower after the
// gateway's main window than before it is called out, with the change;
// less, or one window only, no note.
func TestDriftNote(t *testing.T) {
	for _, c := range []struct {
		windows []float64
		want    string
	}{
		{nil, ""},
		{[]float64{40000}, ""},
		{[]float64{40000, 43000}, ""},
		{[]float64{40000, 36200}, ""},
		{[]float64{40000, 35000}, "the ceiling's rate moved -12% from its main window before the gateway's to the one after"},
		{[]float64{40000, 48000}, "the ceiling's rate moved +20% from its main window"},
	} {
		n := driftNote(&report.Results{CeilingWindowsRPS: c.windows})
		if (c.want == "") != (n == "") || !strings.HasPrefix(n, c.want) {
			t.Errorf("windows %v: note %q, want %q…", c.windows, n, c.want)
		}
	}
}

// TestResources: a progress line shows the server's cores and RSS, and
// RSS's anonymous part where the kernel splits it.
func TestResources(t *testing.T) {
	for _, c := range []struct {
		mem  procstat.Sample
		want string
	}{
		{procstat.Sample{RSS: 466 << 20, RSSAnon: 205 << 20, RSSFile: 261 << 20}, "  cpu 0.87 rss 466MB (anon 205MB)"},
		{procstat.Sample{RSS: 466 << 20}, "  cpu 0.87 rss 466MB"},
	} {
		if got := resources(0.871, c.mem); got != c.want {
			t.Errorf("%+v: %q, want %q", c.mem, got, c.want)
		}
	}
}
