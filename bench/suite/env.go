package suite

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/bench/ceiling"
	"github.com/switchboard-gw/switchboard/bench/channelmock"
	"github.com/switchboard-gw/switchboard/bench/ledger"
	"github.com/switchboard-gw/switchboard/bench/mockbackend"
	"github.com/switchboard-gw/switchboard/bench/procstat"
	"github.com/switchboard-gw/switchboard/bench/reference"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway/app"
	"github.com/switchboard-gw/switchboard/gateway/store/bolt"
)

// Fake credentials of the bench's own gateway: everything stays on
// loopback.
const (
	benchBackendSecret = "bench-backend-secret"
	benchVerifyToken   = "bench-verify-token"
	benchAPIToken      = "bench-api-token" // reads the binary's CPU profile
	// CeilingSecretEnv passes the app secret to a ceiling subprocess.
	CeilingSecretEnv = "SWITCHBOARD_BENCH_CEILING_SECRET"
	// ReferenceConfigEnv passes a reference subprocess its
	// reference.Config as JSON.
	ReferenceConfigEnv = "SWITCHBOARD_BENCH_REFERENCE_CONFIG"
)

// env is what a run talks to: the gateway (started here or -target), the
// mocks around it, and the ceiling.
type env struct {
	tmp string

	gatewayURL string
	// apiToken opens the gateway's /debug/pprof: the bench's own token,
	// or with -target Options.APIToken.
	apiToken   string
	gatewayPID int      // binary mode: the subprocess; 0 otherwise
	inproc     *app.App // inprocess mode
	gatewayLog string
	// storeFile is the gateway's bbolt file (binary and inprocess modes).
	storeFile string

	backend *mockbackend.Server
	channel *channelmock.Server
	ledger  *ledger.Ledger // nil with -target: nothing to account with

	ceiling   yardstick
	reference yardstick // not running unless Options.reference()

	closers []func()
	// fail ends the run with its error (a subprocess exited under it);
	// nil: nobody watches.
	fail func(error)
}

// close stops everything started, in reverse order.
func (e *env) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}

// startEnv starts the mocks, the gateway (unless o.Target) and the
// ceiling; fail, unless nil, is called if a subprocess among them exits
// before close stops it.
func startEnv(ctx context.Context, o *Options, pages []page, log io.Writer, fail func(error)) (_ *env, err error) {
	e := &env{fail: fail, apiToken: benchAPIToken}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	e.tmp, err = os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return nil, err
	}
	if !o.KeepTemp {
		e.closers = append(e.closers, func() { os.RemoveAll(e.tmp) })
	}

	if err := e.startCeiling(o); err != nil {
		return nil, err
	}
	if o.Target != "" {
		e.gatewayURL = strings.TrimSuffix(o.Target, "/")
		e.apiToken = o.APIToken
		return e, nil
	}

	e.ledger = ledger.New()
	e.backend = &mockbackend.Server{
		Secret:  []byte(benchBackendSecret),
		Latency: o.BackendLatency,
		OnEvent: e.ledger.Backend,
	}
	var backendURL string
	withRole("mock", func() { backendURL, err = e.backend.Start("") })
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, func() { e.backend.Close() })

	e.channel = &channelmock.Server{OnReply: func(_ string, recipient, text []byte, at time.Time) {
		if id, ok := mockbackend.EventID(text); ok {
			e.ledger.Reply(id, recipient, at)
		} else {
			e.ledger.UnknownReplies.Add(1)
		}
	}}
	for _, p := range pages {
		e.channel.AddMessengerPage(p.id, p.token)
	}
	e.channel.AddMessengerPage(InstagramAccount, InstagramToken) // the same Send API
	e.channel.AddTelegramBot(TelegramToken)
	e.channel.AddViberBot(ViberToken)
	e.channel.AddWhatsAppNumber(WhatsAppPhoneID, WhatsAppToken)
	withRole("mock", func() { err = e.channel.Start("") })
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, func() { e.channel.Close() })
	if o.reference() {
		if err := e.startReference(o, backendURL, pages); err != nil {
			return nil, err
		}
	}

	e.storeFile = filepath.Join(e.tmp, "store", bolt.FileName)
	yaml := gatewayYAML(o, backendURL, filepath.Dir(e.storeFile), e.channel.MessengerBase(), e.channel.TelegramBase(), e.channel.ViberBase(), pages)
	cfgPath := filepath.Join(e.tmp, "switchboard.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	switch o.Mode {
	case ModeInProcess:
		err = e.startInProcess(yaml, log, o.Verbose)
	default:
		err = e.startBinary(ctx, o, cfgPath, log)
	}
	if err != nil {
		return nil, err
	}
	return e, waitHealthy(ctx, e.gatewayURL+"/healthz", 30*time.Second)
}

// gatewayYAML is the gateway's configuration: one connection per channel
// the traffic has (Messenger Pages, an Instagram account, a WhatsApp
// number, a Telegram bot, a Viber bot), all sending to the channel mock;
// the mock backend; a store in the run's temp dir; the bench's API token
// (for the CPU profile); and the product's defaults for everything else
// (the bench measures what users run). enforce_window stays on: the
// traffic opens every window before replying into it.
func gatewayYAML(o *Options, backendURL, store, apiBase, telegramBase, viberBase string, pages []page) string {
	var b strings.Builder
	q := strconv.Quote
	fmt.Fprintf(&b, "listen: %s\n", q("127.0.0.1:0"))
	fmt.Fprintf(&b, "api_tokens: [%s]\n", q(benchAPIToken))
	fmt.Fprintf(&b, "backend:\n  url: %s\n  secret: %s\n  batch: %d\n", q(backendURL), q(benchBackendSecret), o.BackendBatch)
	if o.GatewayConcurrency > 0 {
		fmt.Fprintf(&b, "  concurrency: %d\n", o.GatewayConcurrency)
	}
	fmt.Fprintf(&b, "store:\n  driver: embedded\n  path: %s\n", q(store))
	if o.CommitInterval != "" {
		fmt.Fprintf(&b, "  commit_interval: %s\n", q(o.CommitInterval))
	}
	fmt.Fprintf(&b, "outbound:\n  enforce_window: true\n")
	if o.GatewayConcurrency > 0 {
		fmt.Fprintf(&b, "  concurrency: %d\n", o.GatewayConcurrency)
	}
	level := "warn"
	if o.Verbose {
		level = "info"
	}
	fmt.Fprintf(&b, "log:\n  level: %s\n", level)
	// send_batch only when asked for: a gateway build from before it
	// (-versus, -gateway-bin) refuses the key.
	sendBatch := ""
	if o.SendBatch > 0 {
		sendBatch = fmt.Sprintf("    send_batch: %d\n", o.SendBatch)
	}
	fmt.Fprintf(&b, "connections:\n  - name: %s\n    channel: messenger\n    app_secret: %s\n    verify_token: %s\n    api_base: %s\n%s    pages:\n",
		q(o.Connection), q(o.AppSecret), q(benchVerifyToken), q(apiBase), sendBatch)
	for _, p := range pages {
		fmt.Fprintf(&b, "      - id: %s\n        access_token: %s\n", q(p.id), q(p.token))
	}
	fmt.Fprintf(&b, "  - name: %s\n    channel: instagram\n    app_secret: %s\n    verify_token: %s\n    api_base: %s\n%s    accounts:\n      - id: %s\n        access_token: %s\n",
		q(InstagramConnection), q(o.AppSecret), q(benchVerifyToken), q(apiBase), sendBatch, q(InstagramAccount), q(InstagramToken))
	fmt.Fprintf(&b, "  - name: %s\n    channel: whatsapp\n    app_secret: %s\n    verify_token: %s\n    api_base: %s\n    phone_numbers:\n      - id: %s\n        access_token: %s\n",
		q(WhatsAppConnection), q(o.AppSecret), q(benchVerifyToken), q(apiBase), q(WhatsAppPhoneID), q(WhatsAppToken))
	fmt.Fprintf(&b, "  - name: %s\n    channel: telegram\n    token: %s\n    secret_token: %s\n    api_base: %s\n",
		q(TelegramConnection), q(TelegramToken), q(TelegramSecret), q(telegramBase))
	fmt.Fprintf(&b, "  - name: %s\n    channel: viber\n    bot_id: %s\n    auth_token: %s\n    api_base: %s\n",
		q(ViberConnection), q(ViberBotID), q(ViberToken), q(viberBase))
	if o.web {
		fmt.Fprintf(&b, "  - name: %s\n    channel: web\n    bot_id: %s\n    identity_secret: %s\n    sessions_per_minute: %d\n",
			q(WebConnection), q(WebBotID), q(webSecret), 60*WebSessions)
	}
	return b.String()
}

// storeFileMB is the size of the gateway's store file, 0 when unknown
// (-target, or not created yet).
func (e *env) storeFileMB() float64 {
	if e.storeFile == "" {
		return 0
	}
	fi, err := os.Stat(e.storeFile)
	if err != nil {
		return 0
	}
	return float64(fi.Size()) / (1 << 20)
}

// startInProcess runs the gateway inside this process through gateway/app,
// from the same YAML the binary would read.
func (e *env) startInProcess(yaml string, log io.Writer, verbose bool) error {
	cfg, err := config.Parse(strings.NewReader(yaml))
	if err != nil {
		return fmt.Errorf("bench: gateway config: %w", err)
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// Every goroutine the gateway starts inherits role=gateway, so a
	// profile of this process can be cut to the gateway's share.
	var a *app.App
	withRole("gateway", func() {
		a, err = app.New(cfg, slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: level})))
		if err == nil {
			go a.Serve(ln) //nolint:errcheck // ends at Shutdown
		}
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("bench: starting the gateway: %w", err)
	}
	e.inproc = a
	e.gatewayURL = "http://" + ln.Addr().String()
	e.closers = append(e.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	})
	return nil
}

// startBinary builds the gateway (unless -gateway-bin) and runs it as a
// subprocess, so its CPU and memory are its own.
func (e *env) startBinary(ctx context.Context, o *Options, cfgPath string, log io.Writer) error {
	bin := o.GatewayBin
	if bin == "" {
		bin = filepath.Join(e.tmp, "switchboard")
		fmt.Fprintln(log, "bench: building the gateway (go build ./gateway)…")
		cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "github.com/switchboard-gw/switchboard/gateway")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("bench: building the gateway failed (run from inside the module, or pass -gateway-bin, or -mode inprocess): %w\n%s", err, out)
		}
	}
	e.gatewayLog = filepath.Join(e.tmp, "gateway.log")
	logf, err := os.Create(e.gatewayLog)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "-config", cfgPath)
	cmd.Stderr = logf
	c, addr, err := startProcess("gateway", cmd, e.gatewayLog, "Switchboard listening on ", 60*time.Second)
	if err != nil {
		logf.Close()
		return err
	}
	e.gatewayPID = cmd.Process.Pid
	e.closers = append(e.closers, func() {
		c.stop(20 * time.Second)
		logf.Close()
	})
	if e.fail != nil {
		c.watch(e.fail)
	}
	e.gatewayURL = "http://" + addr
	return nil
}

// yardstick is a server the gateway is measured against: the ceiling or
// the reference pipeline.
type yardstick struct {
	url string // "" when not running
	pid int    // binary mode: its subprocess; 0: in this process
}

// stat samples the yardstick's CPU and memory: its own in binary mode,
// else this whole process's.
func (y *yardstick) stat() (procstat.Sample, string, bool) {
	if y.pid != 0 {
		s, err := procstat.Read(y.pid)
		return s, "process", err == nil
	}
	s, err := procstat.Self()
	return s, "bench-process", err == nil
}

// startYardstick runs one: in binary mode as a subprocess of this program
// (`bench <name> -listen 127.0.0.1:0`, configured by env, which carries
// the secrets, never the command line), so its CPU is measured like the
// gateway's; else in-process through start.
func (e *env) startYardstick(o *Options, y *yardstick, name string, env []string, start func() (url string, stop func(), err error)) error {
	if o.Mode == ModeBinary {
		if exe, err := os.Executable(); err == nil && !strings.HasSuffix(exe, ".test") {
			cmd := exec.Command(exe, name, "-listen", "127.0.0.1:0")
			cmd.Env = append(os.Environ(), env...)
			cmd.Stderr = os.Stderr
			c, addr, err := startProcess(name, cmd, "", Banner(name), 10*time.Second)
			if err != nil {
				return err
			}
			y.pid = cmd.Process.Pid
			e.closers = append(e.closers, func() { c.stop(5 * time.Second) })
			if e.fail != nil {
				c.watch(e.fail)
			}
			y.url = "http://" + addr
			return nil
		}
	}
	var stop func()
	var err error
	withRole(name, func() { y.url, stop, err = start() })
	if err != nil {
		return err
	}
	e.closers = append(e.closers, stop)
	return nil
}

// Banner is the line a yardstick subprocess (ceiling, reference) prints,
// followed by its address.
func Banner(name string) string { return name + " listening on " }

// startCeiling runs the ceiling.
func (e *env) startCeiling(o *Options) error {
	return e.startYardstick(o, &e.ceiling, "ceiling", []string{CeilingSecretEnv + "=" + o.AppSecret}, func() (string, func(), error) {
		srv := &ceiling.Server{Secret: []byte(o.AppSecret), TelegramSecret: []byte(TelegramSecret), ViberToken: []byte(ViberToken)}
		u, err := srv.Start("")
		return u, func() { srv.Close() }, err
	})
}

// startReference runs the reference pipeline between the mock backend and
// the channel mock, as the gateway is.
func (e *env) startReference(o *Options, backendURL string, pages []page) error {
	cfg := reference.Config{
		AppSecret: o.AppSecret, BackendURL: backendURL, BackendSecret: benchBackendSecret,
		APIBase: e.channel.MessengerBase(), Pages: make(map[string]string, len(pages)),
	}
	for _, p := range pages {
		cfg.Pages[p.id] = p.token
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return e.startYardstick(o, &e.reference, "reference", []string{ReferenceConfigEnv + "=" + string(b)}, func() (string, func(), error) {
		srv := &reference.Server{Config: cfg}
		u, err := srv.Start("")
		return u, func() { srv.Close() }, err
	})
}

// readAddr reads r until a line starting with prefix and returns the rest
// of it; the remaining output is drained in the background, and r closed
// at its end.
func readAddr(r io.ReadCloser, prefix string, timeout time.Duration) (string, error) {
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sent := false
		for sc.Scan() {
			if line := sc.Text(); !sent && strings.HasPrefix(line, prefix) {
				found <- strings.TrimSpace(strings.TrimPrefix(line, prefix))
				sent = true
			}
		}
		if !sent {
			close(found)
		}
		r.Close()
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			return "", errors.New("it exited")
		}
		return addr, nil
	case <-time.After(timeout):
		return "", errors.New("no address within " + timeout.String())
	}
}

func waitHealthy(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("bench: %s not healthy: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// withRole runs f with the pprof label role=name; goroutines f starts
// inherit it (go tool pprof -tagfocus=role=gateway).
func withRole(name string, f func()) {
	pprof.Do(context.Background(), pprof.Labels("role", name), func(context.Context) { f() })
}

// goTool is the go command that runs this program, else the one on PATH.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// gatewayStat samples the gateway's CPU and memory: its own process in
// binary mode, this whole process in-process, and with -target the
// process's own figures from its /metrics (wherever it runs).
func (e *env) gatewayStat() (procstat.Sample, string, bool) {
	switch {
	case e.gatewayPID != 0:
		s, err := procstat.Read(e.gatewayPID)
		return s, "process", err == nil
	case e.inproc != nil:
		s, err := procstat.Self()
		return s, "bench-process", err == nil
	}
	body, ok := e.gatewayMetrics()
	if !ok {
		return procstat.Sample{}, "", false
	}
	s, ok := metricsSample(body, time.Now())
	return s, "process", ok
}

// metricsSample reads a process's CPU and memory from its Prometheus text
// exposition: process_cpu_seconds_total (the kernel's 10 ms ticks, so a
// window of seconds is exact to a percent or better) and the
// process_resident_memory_* gauges. ok needs the CPU and the RSS.
func metricsSample(body []byte, at time.Time) (procstat.Sample, bool) {
	s := procstat.Sample{At: at, Source: "metrics"}
	var cpu, rss bool
	for name, value := range metricLines(body) {
		var dst *uint64
		switch string(name) {
		case "process_cpu_seconds_total":
			v, err := strconv.ParseFloat(string(value), 64)
			if err != nil || v < 0 {
				return procstat.Sample{}, false
			}
			s.CPU, cpu = time.Duration(v*float64(time.Second)), true
			continue
		case "process_resident_memory_bytes":
			dst, rss = &s.RSS, true
		case "process_resident_memory_peak_bytes":
			dst = &s.HWM
		case "process_resident_memory_anon_bytes":
			dst = &s.RSSAnon
		case "process_resident_memory_file_bytes":
			dst = &s.RSSFile
		default:
			continue
		}
		v, err := strconv.ParseFloat(string(value), 64)
		if err != nil || v < 0 {
			return procstat.Sample{}, false
		}
		*dst = uint64(v)
	}
	return s, cpu && rss
}

// metricLines yields each sample line of a Prometheus text exposition as
// its series (name and labels) and its value, skipping comments.
func metricLines(body []byte) iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for line := range bytes.Lines(body) {
			name, value, ok := bytes.Cut(bytes.TrimSpace(line), []byte{' '})
			if ok && len(name) > 0 && name[0] != '#' && !yield(name, value) {
				return
			}
		}
	}
}

// gatewayMetrics fetches the gateway's /metrics; the body is a copy.
func (e *env) gatewayMetrics() ([]byte, bool) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(e.gatewayURL + "/metrics")
	if err := fasthttp.DoTimeout(req, resp, 2*time.Second); err != nil || resp.StatusCode() != 200 {
		return nil, false
	}
	return append([]byte(nil), resp.Body()...), true
}

// windowCounts are counters read at a gateway window's edges: the store's
// (from the gateway's /metrics) and the HTTP requests the mocks received
// (backend POSTs, channel API requests) with the replies those carried.
type windowCounts struct {
	commits, writes, pages, backendPOSTs, channelRequests, replies uint64
	// settled: replies the store never wrote (sent before their commit);
	// builds before the counter existed do not report it.
	settled uint64
	// commitBuckets: the store's commit duration histogram, count by
	// vmrange (nil from builds without it).
	commitBuckets map[string]uint64
	// The Go runtime's counters (not in-process: there they would be the
	// whole bench's): bytes and objects allocated, and the
	// garbage collector's CPU seconds; hasRuntime when all were read.
	allocBytes, mallocs uint64
	gcCPU               float64
	hasRuntime          bool
}

// gatewayCounts reads the store counters from the gateway's /metrics and
// the mocks' counts (none with -target). false when the store counters
// are missing: a -target gateway on another store (Redis) has none.
func (e *env) gatewayCounts() (windowCounts, bool) {
	var c windowCounts
	// The mocks' counts first: the fetch below can take a while under load,
	// and the window's edge is now.
	if e.backend != nil && e.channel != nil {
		c.backendPOSTs, c.channelRequests = e.backend.Requests.Load(), e.channel.Requests.Load()
		c.replies = e.channel.Accepted.Load() + e.channel.Refused.Load()
	}
	body, ok := e.gatewayMetrics()
	if !ok {
		return windowCounts{}, false
	}
	var seen, runtime int
	for name, value := range metricLines(body) {
		if r, isBucket := bytes.CutPrefix(name, []byte(commitBucketPrefix)); isBucket {
			n, err := strconv.ParseUint(string(value), 10, 64)
			if err != nil {
				return windowCounts{}, false
			}
			if c.commitBuckets == nil {
				c.commitBuckets = make(map[string]uint64)
			}
			c.commitBuckets[string(bytes.TrimSuffix(r, []byte(`"}`)))] = n
			continue
		}
		var dst *uint64
		switch string(name) {
		case "switchboard_store_commits_total":
			dst = &c.commits
		case "switchboard_store_writes_total":
			dst = &c.writes
		case "switchboard_store_pages_written_total":
			dst = &c.pages
		case "switchboard_store_settled_total":
			dst = &c.settled
			seen-- // optional
		case "go_memstats_alloc_bytes_total", "go_memstats_mallocs_total", "go_gc_cpu_seconds_total":
			if e.inproc != nil { // this whole process's
				continue
			}
		default:
			continue
		}
		v, err := strconv.ParseFloat(string(value), 64)
		if err != nil {
			return windowCounts{}, false
		}
		switch string(name) {
		case "go_memstats_alloc_bytes_total":
			c.allocBytes, runtime = uint64(v), runtime+1
		case "go_memstats_mallocs_total":
			c.mallocs, runtime = uint64(v), runtime+1
		case "go_gc_cpu_seconds_total":
			c.gcCPU, runtime = v, runtime+1
		default:
			*dst = uint64(v)
			seen++
		}
	}
	c.hasRuntime = runtime == 3
	return c, seen == 3
}

// commitBucketPrefix starts each bucket line of the gateway's store commit
// histogram; the vmrange value and `"}` follow.
const commitBucketPrefix = `switchboard_store_commit_duration_seconds_bucket{vmrange="`

// rangeQuantile is the q-quantile (0 < q ≤ 1) of the values counted
// between two readings of a VictoriaMetrics histogram (count by vmrange,
// "1.000e-04...1.136e-04"), interpolated linearly inside its bucket as
// Prometheus' histogram_quantile does; false when nothing was counted.
func rangeQuantile(before, after map[string]uint64, q float64) (float64, bool) {
	type bucket struct {
		lo, hi float64
		n      uint64
	}
	var bs []bucket
	var total uint64
	for r, n := range after {
		n -= min(before[r], n)
		lo, hi, ok := strings.Cut(r, "...")
		if !ok || n == 0 {
			continue
		}
		l, err1 := strconv.ParseFloat(lo, 64)
		h, err2 := strconv.ParseFloat(hi, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		bs = append(bs, bucket{l, h, n})
		total += n
	}
	if total == 0 {
		return 0, false
	}
	slices.SortFunc(bs, func(a, b bucket) int { return cmp.Compare(a.lo, b.lo) })
	rank := q * float64(total)
	var seen float64
	for _, b := range bs {
		if seen+float64(b.n) >= rank {
			return b.lo + (b.hi-b.lo)*(rank-seen)/float64(b.n), true
		}
		seen += float64(b.n)
	}
	return bs[len(bs)-1].hi, true
}

// maxRemoteProfile is the longest CPU profile the gateway serves: its
// write timeout is 30 s.
const maxRemoteProfile = 29 * time.Second

// gatewayProfile fetches a CPU profile of the gateway (the subprocess, or
// -target's) over d (at most maxRemoteProfile) from its /debug/pprof
// route.
func (e *env) gatewayProfile(ctx context.Context, d time.Duration) ([]byte, error) {
	secs := max(int(min(d, maxRemoteProfile).Round(time.Second)/time.Second), 1)
	deadline := time.Now().Add(time.Duration(secs)*time.Second + 10*time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	status, body, err := e.pprofGet(fmt.Sprintf("/profile?seconds=%d", secs), deadline)
	if err != nil {
		return nil, fmt.Errorf("bench: gateway profile: %w", err)
	}
	if status != fasthttp.StatusOK {
		return nil, fmt.Errorf("bench: gateway profile: status %d: %.200s", status, body)
	}
	return body, nil
}

// pprofGet GETs /debug/pprof plus sub from the gateway with the API token
// and returns the answer's status and a copy of its body.
func (e *env) pprofGet(sub string, deadline time.Time) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(e.gatewayURL + "/debug/pprof" + sub)
	req.Header.Set("Authorization", "Bearer "+e.apiToken)
	if err := fasthttp.DoDeadline(req, resp, deadline); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}
