package suite

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway/app"
)

// startDefaultGateway serves the embedded default configuration, as
// `go run ./gateway` does, on a free port with its store in a temp dir;
// its demo Graph stand-in is moved to that port too.
func startDefaultGateway(t *testing.T) string {
	t.Helper()
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg.Store.Path = t.TempDir()
	for _, c := range cfg.Connections {
		if c.Messenger != nil {
			c.Messenger.APIBase = base + "/_demo/graph"
		}
	}
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	go a.Serve(ln) //nolint:errcheck // ends at Shutdown
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	})
	return base
}

// TestTargetDefaultGateway: -target alone loads the gateway `go run
// ./gateway` starts, its connection, secret and Page taken from the same
// embedded default.
func TestTargetDefaultGateway(t *testing.T) {
	base := startDefaultGateway(t)
	var progress strings.Builder
	res, err := Run(context.Background(), Options{Target: base, Rate: 200, Duration: 400 * time.Millisecond,
		Warmup: 100 * time.Millisecond, Progress: &syncWriter{w: &progress}, Stdout: io.Discard})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	// Every webhook accepted (under the race detector the gateway may not
	// keep the rate: the figures' size is not the point). Answers are
	// counted by the calls' due time: on a loaded machine (a parallel
	// `go test ./...`) the 0.4 s window can pass before any answer comes,
	// leaving the throughput, counted by arrival in the window, at 0.
	if res.Errors != 0 || res.LatencyMS.Count == 0 || res.EventsPerSec < res.ThroughputRPS {
		t.Fatalf("answered %d, throughput %v events %v errors %v\n%s", res.LatencyMS.Count, res.ThroughputRPS, res.EventsPerSec, res.Gateway.ErrorsBy, progress.String())
	}
	// Its own CPU, memory and store, read from its /metrics (the gateway
	// runs in this test's process: the figures are the process's, which
	// is what they would be of a gateway elsewhere).
	g := res.Gateway
	if g.CPU == nil || g.CPU.Source != "metrics" || g.CPU.Scope != "process" || res.CPUMicrosPerEvent == nil {
		t.Fatalf("CPU %+v, cpu_us_per_event %v: want the target's own, from its /metrics\n%s", g.CPU, res.CPUMicrosPerEvent, progress.String())
	}
	if g.Memory == nil || g.Memory.RSSPeakMB <= 0 {
		t.Fatalf("memory %+v: want the target's RSS", g.Memory)
	}
	if g.Store == nil {
		t.Fatal("no store figures: the target's store counters were not read")
	}
}

// TestTargetProfile: -cpuprofile with -target writes the running
// gateway's own CPU profile, fetched with the embedded default's API
// token (a build that knew only the bench's own token, or started no
// fetch without a subprocess, wrote nothing).
func TestTargetProfile(t *testing.T) {
	base := startDefaultGateway(t)
	var progress strings.Builder
	var prof bytes.Buffer
	_, err := Run(context.Background(), Options{Target: base, Rate: 200, Duration: 400 * time.Millisecond,
		Warmup: 100 * time.Millisecond, CPUProfile: &prof, Progress: &syncWriter{w: &progress}, Stdout: io.Discard})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	zr, err := gzip.NewReader(&prof)
	if err != nil {
		t.Fatalf("not a gzipped profile (%d bytes): %v", prof.Len(), err)
	}
	if b, err := io.ReadAll(zr); err != nil || len(b) == 0 {
		t.Fatalf("profile: %d bytes, %v", len(b), err)
	}
}

// TestTargetPreflight: a -target that refuses the bench's webhooks ends
// the run before any phase, with the gateway's reason and the flag to fix.
func TestTargetPreflight(t *testing.T) {
	base := startDefaultGateway(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere := "http://" + ln.Addr().String()
	ln.Close()
	for _, c := range []struct {
		name string
		o    Options
		want []string
	}{
		{"unknown connection", Options{Target: base, Connection: "bench"},
			[]string{"404", "unknown_connection", "-connection", `"bench"`}},
		{"wrong app secret", Options{Target: base, AppSecret: "not-the-secret"},
			[]string{"401", "signature", "-app-secret"}},
		{"a channel it lacks", Options{Target: base, Mix: "messenger:text=1,telegram:text=1"},
			[]string{"404", "telegram", `"` + TelegramConnection + `"`}},
		{"nothing listening", Options{Target: nowhere},
			[]string{"no answer", "is the gateway running"}},
		{"wrong API token for -cpuprofile", Options{Target: base, APIToken: "not-the-token", CPUProfile: io.Discard},
			[]string{"403", "bad_token", "-api-token", "$SWITCHBOARD_API_TOKEN"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var progress strings.Builder
			c.o.Rate, c.o.Duration, c.o.Timeout = 200, 400*time.Millisecond, 2*time.Second
			c.o.Progress, c.o.Stdout = &syncWriter{w: &progress}, io.Discard
			_, err := Run(context.Background(), c.o)
			if err == nil {
				t.Fatal("the run went ahead")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if c.o.APIToken != "" && strings.Contains(err.Error()+progress.String(), c.o.APIToken) {
				t.Errorf("the API token was printed: %v\n%s", err, progress.String())
			}
			if strings.Contains(progress.String(), "gateway main") {
				t.Errorf("a phase ran:\n%s", progress.String())
			}
		})
	}
}
