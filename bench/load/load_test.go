package load

import (
	"context"
	"errors"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// testServer is a loopback fasthttp server running handle.
func testServer(t *testing.T, handle fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: handle}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// testSource sends POST /x with a small body and counts what it is told.
type testSource struct {
	answered, waited atomic.Int64
	waitErr          error
}

func (s *testSource) NewWorker() Worker { return &testWorker{s} }

type testWorker struct{ s *testSource }

func (w *testWorker) Fill(c *Call, req *fasthttp.Request) {
	req.Header.SetMethod("POST")
	req.SetRequestURI("/x")
	req.SetBodyString(`{"n":1}`)
	c.Events = 2
}

func (w *testWorker) Answered(*Call, int, []byte, error) { w.s.answered.Add(1) }

func (w *testWorker) Wait(context.Context, *Call) error {
	w.s.waited.Add(1)
	return w.s.waitErr
}

func ok(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }

// TestOpenLoopKeepsSchedule: every call of the schedule is made and
// answered, and none leaves before it is due (a busy machine may make them
// late, never early), so the load is paced, not a burst.
func TestOpenLoopKeepsSchedule(t *testing.T) {
	var mu sync.Mutex
	var arrivals []time.Time
	url := testServer(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		ok(ctx)
	})
	src := &testSource{}
	start := time.Now().Add(20 * time.Millisecond)
	res, err := Run(context.Background(), Config{URL: url, Rate: 200, Connections: 4, Start: start, Duration: time.Second, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loop != "open" || res.Calls != 200 || res.OK != 200 || res.Failed != 0 || src.answered.Load() != 200 {
		t.Fatalf("loop %s calls %d ok %d failed %d answered %d, want 200 calls all ok", res.Loop, res.Calls, res.OK, res.Failed, src.answered.Load())
	}
	if res.Latency.Count != 200 {
		t.Fatalf("measured %d latencies, want 200", res.Latency.Count)
	}
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(arrivals, func(i, j int) bool { return arrivals[i].Before(arrivals[j]) })
	for k, at := range arrivals { // by the k-th arrival, at most k calls were due
		if due := start.Add(time.Duration(k) * 5 * time.Millisecond); at.Before(due.Add(-time.Millisecond)) {
			t.Fatalf("call %d arrived %s before it was due", k, due.Sub(at))
		}
	}
	if src.waited.Load() != 0 {
		t.Fatal("open loop waited for downstream effects")
	}
	if got := res.EventsPerSec() / res.RPS(); got != 2 {
		t.Fatalf("events per request %v, want 2", got)
	}
}

// TestOpenLoopNoCoordinatedOmission stalls the server for 300 ms. A
// generator that waits for answers before sending (coordinated omission)
// would see one slow request; measured from the intended send time, every
// request due during the stall is slow, and none goes unmeasured.
func TestOpenLoopNoCoordinatedOmission(t *testing.T) {
	start := time.Now().Add(50 * time.Millisecond)
	stallFrom, stallTo := start.Add(100*time.Millisecond), start.Add(400*time.Millisecond)
	url := testServer(t, func(ctx *fasthttp.RequestCtx) {
		if now := time.Now(); now.After(stallFrom) && now.Before(stallTo) {
			time.Sleep(stallTo.Sub(now))
		}
		ok(ctx)
	})
	res, err := Run(context.Background(), Config{URL: url, Rate: 100, Connections: 1, Start: start, Duration: time.Second, Source: &testSource{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Latency.Count != 100 {
		t.Fatalf("measured %d of 100 calls: the stall hid some", res.Latency.Count)
	}
	// Calls due in [100ms, 300ms) waited at least 100 ms: 20% of all.
	if res.Latency.P90 < 100 {
		t.Fatalf("p90 = %.1f ms, want ≥ 100 ms: the stall did not show in the calls due during it (%+v)", res.Latency.P90, res.Latency)
	}
	if res.Latency.Max < 250 {
		t.Fatalf("max = %.1f ms, want about 300 ms", res.Latency.Max)
	}
	if res.MaxQueue < 200*time.Millisecond {
		t.Fatalf("max queue %s: calls due during the stall were not held back", res.MaxQueue)
	}
}

// TestClosedLoop: workers send back to back, latency is from the actual
// send, and each 2xx is followed by Wait.
func TestClosedLoop(t *testing.T) {
	url := testServer(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(10 * time.Millisecond)
		ok(ctx)
	})
	src := &testSource{}
	res, err := Run(context.Background(), Config{URL: url, Concurrency: 4, Warmup: 100 * time.Millisecond, Duration: 500 * time.Millisecond, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loop != "closed" || res.Connections != 4 {
		t.Fatalf("loop %s connections %d", res.Loop, res.Connections)
	}
	if res.OK < 10 || res.OK > 240 { // at most 4 workers × 600 ms / 10 ms
		t.Fatalf("%d calls in 600 ms with 4 workers at 10 ms each", res.OK)
	}
	if src.waited.Load() != int64(res.OK) {
		t.Fatalf("waited %d times for %d answers", src.waited.Load(), res.OK)
	}
	if res.Latency.P50 < 10 || res.Latency.P50 > 200 {
		t.Fatalf("p50 %.1f ms, want about 10 ms (service time, no queue)", res.Latency.P50)
	}
	if res.Latency.Count >= int64(res.OK) {
		t.Fatalf("warm-up calls were measured: %d of %d", res.Latency.Count, res.OK)
	}
}

func TestClosedLoopWaitTimeoutIsAnError(t *testing.T) {
	url := testServer(t, ok)
	src := &testSource{waitErr: context.DeadlineExceeded}
	res, err := Run(context.Background(), Config{URL: url, Concurrency: 1, Duration: 100 * time.Millisecond, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors["roundtrip_timeout"] == 0 {
		t.Fatalf("errors %v, want roundtrip_timeout", res.Errors)
	}
}

func TestWarmupIsNotMeasured(t *testing.T) {
	url := testServer(t, ok)
	res, err := Run(context.Background(), Config{URL: url, Rate: 100, Warmup: 300 * time.Millisecond, Duration: 500 * time.Millisecond, Source: &testSource{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Calls != 80 || res.Latency.Count != 50 {
		t.Fatalf("calls %d measured %d, want 80 and 50", res.Calls, res.Latency.Count)
	}
	if w := res.Window(); w != 500*time.Millisecond {
		t.Fatalf("window %s", w)
	}
}

func TestErrorsByKind(t *testing.T) {
	url := testServer(t, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(503) })
	res, err := Run(context.Background(), Config{URL: url, Rate: 50, Duration: 200 * time.Millisecond, Source: &testSource{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors["http_503"] != res.Calls || res.OK != 0 || res.Latency.Count != 0 {
		t.Fatalf("errors %v ok %d calls %d", res.Errors, res.OK, res.Calls)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	res, err = Run(context.Background(), Config{URL: dead, Rate: 50, Duration: 100 * time.Millisecond, Source: &testSource{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors["conn_refused"] == 0 {
		t.Fatalf("errors %v, want conn_refused", res.Errors)
	}
}

func TestTicks(t *testing.T) {
	url := testServer(t, ok)
	var ticks []Tick
	_, err := Run(context.Background(), Config{URL: url, Rate: 100, Warmup: 500 * time.Millisecond, Duration: 1500 * time.Millisecond,
		Source: &testSource{}, Tick: func(t Tick) { ticks = append(ticks, t) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(ticks) < 1 || ticks[0].Phase != "measure" || ticks[0].OK == 0 || ticks[0].Latency.Count == 0 {
		t.Fatalf("ticks %+v", ticks)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{URL: "http://127.0.0.1:1", Duration: time.Second, Source: &testSource{}},                           // no rate nor concurrency
		{URL: "http://127.0.0.1:1", Rate: 1, Source: &testSource{}},                                         // no duration
		{URL: "ftp://127.0.0.1:1", Rate: 1, Duration: time.Second, Source: &testSource{}},                   // scheme
		{URL: "http://127.0.0.1:1", Rate: 1, Duration: time.Second},                                         // no source
		{URL: "http://127.0.0.1:1", Rate: -1, Concurrency: 1, Duration: time.Second, Source: &testSource{}}, // negative
	} {
		if _, err := Run(context.Background(), c); !errors.Is(err, ErrConfig) {
			t.Errorf("Run(%+v) = %v, want ErrConfig", c, err)
		}
	}
}

func TestCancel(t *testing.T) {
	url := testServer(t, ok)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	res, err := Run(ctx, Config{URL: url, Rate: 100, Duration: 10 * time.Second, Source: &testSource{}})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > 2*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(t0))
	}
	if res == nil || res.Window() > time.Second {
		t.Fatalf("result %+v", res)
	}
}
