// Package load drives an HTTP server with requests built by a Source, open
// loop at a target rate or closed loop at a concurrency, and measures how
// it answers.
//
// Open loop (Rate > 0) follows a fixed schedule: request i is due at
// Start + i/Rate, whatever happened to earlier ones, and its latency is
// measured from that intended time, not from when it could finally be
// sent. A server that stalls therefore shows the stall in the latency of
// every request that was due during it, as the people behind a real
// provider's webhooks would see it: no coordinated omission (Gil Tene's
// term; wrk2 measures the same way). Requests due while every connection
// is busy queue in the generator and are sent in order as connections free
// up; the time they queue counts.
//
// Closed loop (Rate == 0) runs Concurrency workers, each sending its next
// request when the previous one finished (and, when the Source waits for
// it, when its downstream effects did: for the gateway, every reply
// reached the channel API). Its throughput is what the server sustains
// with that many requests in flight, and its latency is measured from the
// actual send.
//
// Latencies go to HDR histograms (bench/latency). Only 2xx answers to
// requests due inside the measurement window [Start+Warmup,
// Start+Warmup+Duration) are measured; failures are counted by kind.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/bench/latency"
)

// Call is one request of a run.
type Call struct {
	// Seq numbers calls from 0 in the order they were scheduled.
	Seq uint64
	// Intended is when the call was due: its place in the open-loop
	// schedule, or its send time in closed loop.
	Intended time.Time
	// Measured: Intended falls inside the measurement window.
	Measured bool
	// Events is how many events the request carries (set by Fill).
	Events int
}

// Source builds the requests of a run.
type Source interface {
	// NewWorker returns the request builder of one sending goroutine.
	NewWorker() Worker
}

// Worker builds and follows one goroutine's requests; it is never used
// concurrently.
type Worker interface {
	// Fill writes the request of c into req (method, path, headers, body)
	// and sets c.Events. The host is set by the generator.
	Fill(c *Call, req *fasthttp.Request)
	// Answered reports the outcome of c: status 0 and err for transport
	// failures. body is the answer's, valid only during the call.
	Answered(c *Call, status int, body []byte, err error)
	// Wait, in closed loop only, blocks until c's downstream effects are
	// complete or ctx ends.
	Wait(ctx context.Context, c *Call) error
}

// Config is one run.
type Config struct {
	// URL is the server's base URL (scheme and host; the path comes from
	// the Source).
	URL string
	// Rate is requests per second, open loop. Zero means closed loop.
	Rate float64
	// Concurrency is the number of closed-loop workers.
	Concurrency int
	// Connections bounds the keep-alive connections; in open loop it is
	// also the number of sending goroutines, so at most Connections
	// requests are in flight. Zero: 64 in open loop, Concurrency in closed
	// loop.
	Connections int
	// Start is when the schedule begins (zero: now). Warmup runs first,
	// unmeasured; Duration is the measurement window after it.
	Start            time.Time
	Warmup, Duration time.Duration
	// Timeout bounds one request (and, in closed loop, one Wait). Zero
	// means 5 s.
	Timeout time.Duration
	Source  Source
	// Tick, when set, is called about once a second with the progress.
	Tick func(Tick)
}

// Tick is the progress of a run over the last second.
type Tick struct {
	Elapsed time.Duration
	// Phase is "warmup", "measure" or "finish" (the schedule ended,
	// requests still in flight).
	Phase string
	// Per second over the tick.
	Sent, OK, Failed float64
	// Latency of the 2xx answers of the tick (measured or not).
	Latency latency.Summary
	// Queued is open-loop calls due but not yet sent.
	Queued int
}

// Result is what a run measured.
type Result struct {
	Loop        string  `json:"loop"` // "open" or "closed"
	Rate        float64 `json:"rate,omitempty"`
	Concurrency int     `json:"concurrency,omitempty"`
	Connections int     `json:"connections"`

	Start       time.Time `json:"start"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	End         time.Time `json:"end"`

	// Calls were scheduled (open loop) or made (closed loop); OK were
	// answered 2xx, Failed otherwise or not at all.
	Calls  uint64 `json:"calls"`
	OK     uint64 `json:"ok"`
	Failed uint64 `json:"failed"`
	// WindowOK are 2xx answers received inside the window, carrying
	// WindowEvents events.
	WindowOK     uint64 `json:"window_ok"`
	WindowEvents uint64 `json:"window_events"`
	// Latency: 2xx answers to calls due inside the window.
	Latency latency.Summary `json:"latency_ms"`
	// Errors counts failures by kind: http_NNN, timeout, conn_refused,
	// conn_reset, no_free_conns, not_sent (still queued a Timeout after
	// the schedule ended), roundtrip_timeout (closed loop: the downstream
	// effects did not complete within Timeout), other.
	Errors map[string]uint64 `json:"errors,omitempty"`
	// MaxQueue is the longest an open-loop call waited for a free
	// connection: large values mean the server (or too few connections)
	// could not keep up with the schedule.
	MaxQueue time.Duration `json:"max_queue_ns"`

	hist *latency.Recorder
}

// Window is the length of the measurement window.
func (r *Result) Window() time.Duration { return r.WindowEnd.Sub(r.WindowStart) }

// RPS is 2xx answers per second inside the window.
func (r *Result) RPS() float64 { return perSecond(r.WindowOK, r.Window()) }

// EventsPerSec is events accepted (in 2xx-answered requests) per second
// inside the window.
func (r *Result) EventsPerSec() float64 { return perSecond(r.WindowEvents, r.Window()) }

// Recorder returns the latency recorder of the run (for merging into a
// report or chart).
func (r *Result) Recorder() *latency.Recorder { return r.hist }

func perSecond(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// ErrConfig is an invalid Config.
var ErrConfig = errors.New("load: invalid config")

// run is the shared state of one Run.
type run struct {
	cfg      Config
	client   *fasthttp.HostClient
	host     string
	ws, we   time.Time
	hardStop time.Time
	hist     *latency.Recorder

	calls, sent, ok, failed atomic.Uint64
	windowOK, windowEvents  atomic.Uint64
	queued                  atomic.Int64
	maxQueue                atomic.Int64

	mu     sync.Mutex
	errors map[string]uint64
}

// Run drives the server as cfg says and returns what it measured. It
// returns early, with what was measured so far, when ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Source == nil || cfg.Duration <= 0 || cfg.Warmup < 0 || cfg.Rate < 0 || (cfg.Rate == 0 && cfg.Concurrency <= 0) {
		return nil, fmt.Errorf("%w: need a source, a positive duration, and a rate or a concurrency", ErrConfig)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%w: url %q", ErrConfig, cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Connections <= 0 {
		cfg.Connections = 64
		if cfg.Rate == 0 {
			cfg.Connections = cfg.Concurrency
		}
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Now()
	}
	addr := u.Host
	if u.Port() == "" {
		addr += map[bool]string{true: ":443", false: ":80"}[u.Scheme == "https"]
	}
	r := &run{
		cfg:  cfg,
		host: u.Host,
		ws:   cfg.Start.Add(cfg.Warmup),
		hist: latency.NewRecorder(),
		client: &fasthttp.HostClient{
			Addr:                          addr,
			IsTLS:                         u.Scheme == "https",
			Name:                          "switchboard-bench",
			NoDefaultUserAgentHeader:      true,
			DisableHeaderNamesNormalizing: true,
			MaxConns:                      cfg.Connections,
			MaxConnWaitTimeout:            cfg.Timeout,
			MaxIdleConnDuration:           time.Minute,
			ReadTimeout:                   cfg.Timeout,
			WriteTimeout:                  cfg.Timeout,
			RetryIfErr:                    func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		},
		errors: map[string]uint64{},
	}
	r.we = r.ws.Add(cfg.Duration)
	r.hardStop = r.we.Add(cfg.Timeout)
	defer r.client.CloseIdleConnections()

	tickDone := make(chan struct{})
	var tickWG sync.WaitGroup
	if cfg.Tick != nil {
		tickWG.Add(1)
		go func() { defer tickWG.Done(); r.ticks(tickDone) }()
	}
	if cfg.Rate > 0 {
		r.open(ctx)
	} else {
		r.closed(ctx)
	}
	close(tickDone)
	tickWG.Wait()

	res := &Result{
		Loop: "closed", Rate: cfg.Rate, Concurrency: cfg.Concurrency, Connections: cfg.Connections,
		Start: cfg.Start, WindowStart: r.ws, WindowEnd: r.we, End: time.Now(),
		Calls: r.calls.Load(), OK: r.ok.Load(), Failed: r.failed.Load(),
		WindowOK: r.windowOK.Load(), WindowEvents: r.windowEvents.Load(),
		Latency: r.hist.Summary(), MaxQueue: time.Duration(r.maxQueue.Load()),
		hist: r.hist,
	}
	if cfg.Rate > 0 {
		res.Loop, res.Concurrency = "open", 0
	}
	if len(r.errors) > 0 {
		res.Errors = r.errors
	}
	if ctx.Err() != nil && res.End.Before(r.we) { // cut short: the window is what ran
		res.WindowEnd = res.End
	}
	return res, ctx.Err()
}

// open runs the schedule: one goroutine releases calls when due, the
// senders take them in order.
func (r *run) open(ctx context.Context) {
	buf := min(max(int(r.cfg.Rate*2), 1024), 1<<16)
	due := make(chan Call, buf)
	var wg sync.WaitGroup
	for range r.cfg.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := r.cfg.Source.NewWorker()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for c := range due {
				r.queued.Add(-1)
				now := time.Now()
				for q := int64(now.Sub(c.Intended)); ; {
					m := r.maxQueue.Load()
					if q <= m || r.maxQueue.CompareAndSwap(m, q) {
						break
					}
				}
				if ctx.Err() != nil || now.After(r.hardStop) {
					r.fail("not_sent")
					continue
				}
				r.do(w, &c, req, resp)
			}
		}()
	}
	interval := float64(time.Second) / r.cfg.Rate
	spin := spinFor(r.cfg.Rate)
	for i := uint64(0); ; i++ {
		t := r.cfg.Start.Add(time.Duration(float64(i) * interval))
		if !t.Before(r.we) || ctx.Err() != nil {
			break
		}
		waitUntil(ctx, t, spin)
		r.calls.Add(1)
		r.queued.Add(1)
		select {
		case due <- Call{Seq: i, Intended: t, Measured: !t.Before(r.ws)}:
		case <-ctx.Done():
		}
	}
	close(due)
	wg.Wait()
}

// closed runs Concurrency workers back to back until the window ends.
func (r *run) closed(ctx context.Context) {
	if d := time.Until(r.cfg.Start); d > 0 {
		sleep(ctx, d)
	}
	var seq atomic.Uint64
	var wg sync.WaitGroup
	for range r.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := r.cfg.Source.NewWorker()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(r.we) {
					return
				}
				r.calls.Add(1)
				c := Call{Seq: seq.Add(1) - 1, Intended: now, Measured: !now.Before(r.ws)}
				if !r.do(w, &c, req, resp) {
					continue
				}
				wctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
				err := w.Wait(wctx, &c)
				cancel()
				if err != nil && ctx.Err() == nil {
					r.fail("roundtrip_timeout")
				}
			}
		}()
	}
	wg.Wait()
}

// do sends one call and records its outcome; it reports a 2xx.
func (r *run) do(w Worker, c *Call, req *fasthttp.Request, resp *fasthttp.Response) bool {
	req.Reset()
	resp.Reset()
	w.Fill(c, req)
	req.Header.SetHost(r.host)
	r.sent.Add(1)
	err := r.client.DoDeadline(req, resp, time.Now().Add(r.cfg.Timeout))
	done := time.Now()
	status := 0
	var body []byte
	if err == nil {
		status, body = resp.StatusCode(), resp.Body()
	}
	w.Answered(c, status, body, err)
	if err != nil {
		r.fail(errorKind(err))
		return false
	}
	if status < 200 || status > 299 {
		r.fail(fmt.Sprintf("http_%d", status))
		return false
	}
	r.ok.Add(1)
	r.hist.Record(done.Sub(c.Intended), c.Measured)
	if !done.Before(r.ws) && done.Before(r.we) {
		r.windowOK.Add(1)
		r.windowEvents.Add(uint64(c.Events))
	}
	return true
}

func (r *run) fail(kind string) {
	r.failed.Add(1)
	r.mu.Lock()
	r.errors[kind]++
	r.mu.Unlock()
}

// ticks reports progress once a second until done is closed.
func (r *run) ticks(done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := time.Now()
	var sent, ok, failed uint64
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			d := now.Sub(last).Seconds()
			s, o, f := r.sent.Load(), r.ok.Load(), r.failed.Load()
			phase := "measure"
			switch {
			case now.Before(r.ws):
				phase = "warmup"
			case !now.Before(r.we):
				phase = "finish"
			}
			r.cfg.Tick(Tick{
				Elapsed: now.Sub(r.cfg.Start), Phase: phase,
				Sent: float64(s-sent) / d, OK: float64(o-ok) / d, Failed: float64(f-failed) / d,
				Latency: r.hist.TakeTick(), Queued: int(r.queued.Load()),
			})
			sent, ok, failed, last = s, o, f, now
		}
	}
}

// errorKind names a transport failure.
func errorKind(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout), os.IsTimeout(err):
		return "timeout"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no_free_conns"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "conn_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, fasthttp.ErrConnectionClosed):
		return "conn_reset"
	}
	return "other"
}
