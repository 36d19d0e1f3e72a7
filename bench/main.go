// Command bench is Switchboard's load-test suite.
//
//	go run ./bench [flags]                 run the suite (see bench/README.md)
//	go run ./bench ceiling -listen ADDR    serve the ceiling alone (the suite
//	                                       starts it this way in binary mode)
//	go run ./bench reference -listen ADDR  serve the reference pipeline alone,
//	                                       configured by $SWITCHBOARD_BENCH_REFERENCE_CONFIG
//	                                       (JSON, bench/reference.Config)
//
// main only wires: flags into suite.Options, signals, the CPU profile. The
// suite is bench/suite.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-gw/switchboard/bench/ceiling"
	"github.com/switchboard-gw/switchboard/bench/reference"
	"github.com/switchboard-gw/switchboard/bench/report"
	"github.com/switchboard-gw/switchboard/bench/suite"
	"github.com/switchboard-gw/switchboard/bench/traffic"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitInterrupted is the exit code of a run ended by SIGINT or SIGTERM,
// as a shell reports one killed by SIGINT.
const exitInterrupted = 130

// run is the command; ctx ends it (main cancels it on SIGINT or SIGTERM).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "ceiling":
			return serveCeiling(ctx, args[1:], stdout, stderr)
		case "reference":
			return serveReference(ctx, args[1:], stdout, stderr)
		case "compare":
			return compare(args[1:], stdout, stderr)
		}
	}
	var o suite.Options
	var pages, cpuProfile string
	var check, ref bool
	var runs int
	var versus string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Target, "target", "", "base URL of an already running gateway to load (no mocks: no round trips or loss; its CPU, memory and store figures from its /metrics)")
	fs.StringVar(&o.Mode, "mode", suite.ModeBinary, "how to run the gateway: binary (built and run as a subprocess; its own CPU) or inprocess")
	fs.Float64Var(&o.Rate, "rate", 0, "open loop: webhooks per second (latency from each request's intended send time)")
	fs.IntVar(&o.Concurrency, "concurrency", 0, "closed loop: requests in flight (the gateway's loop also waits for each webhook's replies)")
	fs.IntVar(&o.Connections, "connections", 0, "keep-alive connections (open loop: 64; closed loop: -concurrency)")
	fs.DurationVar(&o.Duration, "duration", 0, "measured time of each phase (10s)")
	fs.DurationVar(&o.Warmup, "warmup", 0, "unmeasured load before each phase's window (2s)")
	fs.DurationVar(&o.Drain, "drain", 0, "how long to wait for missing replies after a phase before counting them lost (30s)")
	fs.DurationVar(&o.Timeout, "timeout", 0, "per request, and per closed-loop round trip (5s)")
	fs.StringVar(&o.Mix, "mix", traffic.DefaultMix, "traffic: a preset ("+presetNames()+") or channel:kind=weight,… e.g. messenger:text=70,messenger:quick_reply=10,messenger:read=20")
	fs.IntVar(&o.Users, "users", 0, "people spread over the Pages (2000)")
	fs.StringVar(&o.Sweep, "sweep", "", "open-loop rates for the latency-against-load chart: webhooks/s or a percentage of capacity, e.g. 300,1000,50%,90% (default with neither -rate nor -concurrency: "+suite.DefaultSweep+")")
	fs.DurationVar(&o.SweepDuration, "sweep-duration", 0, "measured time of each sweep point (-duration, at most 5s)")
	fs.IntVar(&o.MaxConcurrency, "max-concurrency", 0, "closed-loop concurrency of the capacity probe that percentage sweep points need (128)")
	fs.DurationVar(&o.MaxDuration, "max-duration", 0, "measured time of the capacity probe (5s)")
	fs.StringVar(&o.Out, "out", "", "directory for results.json, the chart and summary.txt")
	fs.StringVar(&o.ChartFormat, "chart", "png", "chart format: png or svg")
	fs.BoolVar(&o.Quick, "quick", false, "a smoke run of about 8 s: 1.5 s phases, no sweep")
	fs.StringVar(&o.GatewayBin, "gateway-bin", "", "binary mode: run this gateway build instead of building ./gateway")
	fs.StringVar(&o.Connection, "connection", "", "the Messenger connection's name (default "+suite.DefaultConnection+"; with -target: the running gateway's, by default the embedded default's, demo)")
	fs.StringVar(&o.AppSecret, "app-secret", "", "the connection's app secret (default $SWITCHBOARD_BENCH_APP_SECRET or a fake; with -target: the running gateway's, by default the embedded default's)")
	fs.StringVar(&o.APIToken, "api-token", "", "with -target and -cpuprofile: one of the gateway's api_tokens, for its /debug/pprof (default: the embedded default's, $SWITCHBOARD_API_TOKEN or its demo token; the variable keeps it out of ps and shell history)")
	fs.StringVar(&pages, "pages", "", "comma-separated Page ids of the connection (with -target: the running gateway's, by default the embedded default's)")
	fs.DurationVar(&o.BackendLatency, "backend-latency", 0, "the mock backend's think time per event")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of ids and choices (default: from the clock)")
	fs.IntVar(&o.BackendBatch, "backend-batch", 0, "the gateway's backend.batch: events per POST to the backend (0: one each)")
	fs.IntVar(&o.SendBatch, "send-batch", 0, "the gateway's send_batch (Messenger, Instagram): replies per Graph batch request, at most 50 (0: one call each)")
	fs.IntVar(&o.GatewayConcurrency, "gateway-concurrency", 0, "the gateway's backend.concurrency and outbound.concurrency: events and replies in flight at once (default: the gateway's, 64); batching fills batches only as far as these allow")
	fs.StringVar(&o.CommitInterval, "commit-interval", "", "the gateway's store.commit_interval, e.g. 0s to commit as soon as the previous commit ends (default: the gateway's, 2ms)")
	fs.BoolVar(&o.Verbose, "v", false, "the gateway's info logs")
	fs.BoolVar(&o.KeepTemp, "keep", false, "keep the temp dir (store, config, gateway log)")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write the CPU profile of the main gateway phase: binary mode and -target, the gateway process's own (from its /debug/pprof, at most 29 s; with -target see -api-token); inprocess mode, the bench process's (go tool pprof -tagfocus=role=gateway shows the gateway's share)")
	fs.BoolVar(&ref, "reference", true, "with a Messenger-only mix, also run the reference pipeline (bench/reference: verify, parse, one backend POST and one Send API call per event, no store) under the main phase's load, to read the gateway against the bare job")
	fs.BoolVar(&check, "check", false, "exit 1 when a measured target fails")
	fs.StringVar(&versus, "versus", "", "binary mode: compare the gateway build (-gateway-bin, or ./gateway built) with this one, alternating their runs (-runs each, 3 by default); with -out: DIR/a, DIR/b, DIR/versus.txt")
	fs.IntVar(&runs, "runs", 1, "run the whole suite this many times and report each figure's median and range (with -out: DIR/runN/ each, DIR/results.json the medians)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	o.NoReference = !ref
	if pages != "" {
		o.Pages = strings.Split(pages, ",")
	}
	if o.AppSecret == "" {
		o.AppSecret = os.Getenv("SWITCHBOARD_BENCH_APP_SECRET")
	}
	o.Stdout, o.Progress = stdout, stderr

	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		defer f.Close()
		o.CPUProfile = f
	}
	targets, err := runSuite(ctx, o, runs, versus)
	if err != nil && ctx.Err() != nil {
		fmt.Fprintln(stderr, "bench: interrupted: the gateway and mocks it started are stopped and its temp dir removed (unless -keep); no results written")
		return exitInterrupted
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if check {
		for _, t := range targets {
			if t.Pass != nil && !*t.Pass {
				return 1
			}
		}
	}
	return 0
}

// runSuite runs the suite once, -runs times, or -versus another build,
// and returns the targets -check judges (with -versus, the other build's:
// the one under test).
func runSuite(ctx context.Context, o suite.Options, runs int, versus string) ([]report.Target, error) {
	switch {
	case versus != "":
		if runs == 1 {
			runs = 3
		}
		_, b, err := suite.Versus(ctx, o, versus, runs)
		if err != nil {
			return nil, err
		}
		return b.Targets, nil
	case runs != 1:
		a, err := suite.Repeat(ctx, o, runs)
		if err != nil {
			return nil, err
		}
		return a.Targets, nil
	}
	res, err := suite.Run(ctx, o)
	if err != nil {
		return nil, err
	}
	return res.Targets, nil
}

// compare is `bench compare A B`: two saved runs (each an -out directory
// or its results.json, one run or -runs N) side by side, figure by
// figure, as -versus prints two builds run in turn. Saved runs were not
// alternated: the machine may have changed between them, which a
// difference then includes; what makes them different experiments (mix,
// load, settings) is named first.
func compare(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: bench compare A B   (each an -out directory or its results.json)")
		return 2
	}
	var runs [2]*report.Runs
	for i, p := range args {
		r, err := report.Load(p)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		runs[i] = r
	}
	name := func(path string, r *report.Runs) string {
		return fmt.Sprintf("%s (%s, %d run(s), %s mode, %s)", path, r.Started.Local().Format(time.DateTime), r.N, r.Mode, r.Load)
	}
	report.Compare(stdout, runs[0], runs[1], name(args[0], runs[0]), name(args[1], runs[1]),
		"saved runs, not alternated: a change of the machine between them is part of any difference")
	for _, d := range runs[0].About.Differences(runs[1].About) {
		fmt.Fprintln(stdout, "note: the two differ in "+d)
	}
	return 0
}

// serveCeiling runs the ceiling server until SIGINT or SIGTERM; the app
// secret comes from the environment, never the command line.
func serveCeiling(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return serveYardstick(ctx, "ceiling", args, stdout, stderr, func(listen string) (string, func() error, error) {
		secret := os.Getenv(suite.CeilingSecretEnv)
		if secret == "" {
			secret = suite.DefaultAppSecret
		}
		s := &ceiling.Server{Secret: []byte(secret), TelegramSecret: []byte(suite.TelegramSecret), ViberToken: []byte(suite.ViberToken)}
		if _, err := s.Start(listen); err != nil {
			return "", nil, err
		}
		return s.Addr(), s.Close, nil
	})
}

// serveReference runs the reference pipeline until SIGINT or SIGTERM; its
// configuration (secrets included) comes from the environment as JSON.
func serveReference(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return serveYardstick(ctx, "reference", args, stdout, stderr, func(listen string) (string, func() error, error) {
		s := &reference.Server{}
		if err := json.Unmarshal([]byte(os.Getenv(suite.ReferenceConfigEnv)), &s.Config); err != nil {
			return "", nil, fmt.Errorf("bench reference: $%s: %w", suite.ReferenceConfigEnv, err)
		}
		if _, err := s.Start(listen); err != nil {
			return "", nil, err
		}
		return s.Addr(), s.Close, nil
	})
}

// serveYardstick is `bench <name> -listen ADDR`: it starts the server,
// prints suite.Banner(name) and the address the suite waits for, and
// serves until ctx ends (SIGINT or SIGTERM).
func serveYardstick(ctx context.Context, name string, args []string, stdout, stderr io.Writer, start func(listen string) (addr string, stop func() error, err error)) int {
	fs := flag.NewFlagSet("bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	addr, stop, err := start(*listen)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, suite.Banner(name)+addr)
	<-ctx.Done()
	if err := stop(); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func presetNames() string {
	var names []string
	for k := range traffic.Presets {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
