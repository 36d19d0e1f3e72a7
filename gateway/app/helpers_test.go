package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/adapters/meta"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway/backend"
	"github.com/switchboard-gw/switchboard/normalize"
)

const (
	testAppSecret   = "test-app-secret"
	testVerifyToken = "test-verify-token"
	testBackendKey  = "test-backend-secret"
	testAPIToken    = "test-api-token"
	testPage        = "1061000000000001"
	testPage2       = "1061000000000002"
)

// recorder is a real HTTP bot backend that verifies the gateway's
// signature and records the events it acknowledged, in arrival order.
type recorder struct {
	t      testing.TB
	url    string
	srv    *fasthttp.Server
	signer meta.Signer

	mu      sync.Mutex
	cond    *sync.Cond
	down    bool
	events  []normalize.Event
	tries   int
	batches int
	badSigs int
	// reply, when set, builds the synchronous answer to an event.
	reply func(ev normalize.Event) []normalize.Reply
}

func newRecorder(t testing.TB) *recorder {
	r := &recorder{t: t, signer: meta.Signer{Secret: []byte(testBackendKey)}}
	r.cond = sync.NewCond(&r.mu)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.url = "http://" + ln.Addr().String() + "/events"
	r.srv = &fasthttp.Server{Handler: r.handle}
	go r.srv.Serve(ln)
	t.Cleanup(func() { r.srv.Shutdown() })
	return r
}

func (r *recorder) handle(ctx *fasthttp.RequestCtx) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tries++
	if r.down {
		ctx.SetStatusCode(503)
		return
	}
	want := r.signer.Sign(nil, ctx.PostBody())
	if !bytes.Equal(ctx.Request.Header.Peek(backend.HeaderSignature), want) {
		r.badSigs++
		ctx.SetStatusCode(401)
		return
	}
	if len(ctx.Request.Header.Peek(backend.HeaderBatch)) > 0 {
		r.handleBatch(ctx)
		return
	}
	var ev normalize.Event
	if err := json.Unmarshal(ctx.PostBody(), &ev); err != nil {
		r.t.Errorf("backend got invalid JSON: %v", err)
		ctx.SetStatusCode(400)
		return
	}
	if got := string(ctx.Request.Header.Peek(backend.HeaderEventID)); got != ev.ID {
		r.t.Errorf("%s = %q, event id %q", backend.HeaderEventID, got, ev.ID)
	}
	r.events = append(r.events, ev)
	r.cond.Broadcast()
	if r.reply != nil {
		if msgs := r.reply(ev); len(msgs) > 0 {
			b, _ := json.Marshal(normalize.BackendAnswer{Messages: msgs})
			ctx.SetContentType("application/json")
			ctx.SetBody(b)
		}
	}
}

// handleBatch takes a batched POST ({"events": [...]}) and answers one
// result per event, in order. Called with r.mu held.
func (r *recorder) handleBatch(ctx *fasthttp.RequestCtx) {
	var body struct{ Events []normalize.Event }
	if err := json.Unmarshal(ctx.PostBody(), &body); err != nil {
		r.t.Errorf("backend got an invalid batch: %v", err)
		ctx.SetStatusCode(400)
		return
	}
	r.batches++
	results := make([]normalize.BackendAnswer, len(body.Events))
	for i, ev := range body.Events {
		r.events = append(r.events, ev)
		if r.reply != nil {
			results[i].Messages = r.reply(ev)
		}
	}
	r.cond.Broadcast()
	b, _ := json.Marshal(struct {
		Results []normalize.BackendAnswer `json:"results"`
	}{results})
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

func (r *recorder) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

// waitFor blocks until n events were acknowledged (or fails after a
// generous deadline) and returns a copy of them.
func (r *recorder) waitFor(n int) []normalize.Event {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	stop := time.AfterFunc(time.Until(deadline), func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	defer stop.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.events) < n && time.Now().Before(deadline) {
		r.cond.Wait()
	}
	if len(r.events) < n {
		r.t.Fatalf("backend got %d events, want %d", len(r.events), n)
	}
	return append([]normalize.Event(nil), r.events...)
}

// waitTries blocks until the backend was tried at least n times.
func (r *recorder) waitTries(n int) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		tries := r.tries
		r.mu.Unlock()
		if tries >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.t.Fatalf("backend tried fewer than %d times", n)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// testConfig is a validated configuration with one Messenger connection
// "fb" serving two pages, a store under a temp dir, and the recorder.
func testConfig(t testing.TB, backendURL, graphBase string) *config.Config {
	return testConfigWith(t, backendURL, graphBase, nil)
}

// testConfigWith is testConfig with edit applied before the defaults.
func testConfigWith(t testing.TB, backendURL, graphBase string, edit func(*config.Config)) *config.Config {
	if graphBase == "" {
		graphBase = "http://127.0.0.1:9/v25.0" // discard port: nothing listens
	}
	c := &config.Config{
		Listen:    "127.0.0.1:0",
		APITokens: []string{testAPIToken},
		Backend:   config.Backend{URL: backendURL, Secret: testBackendKey, RetryMin: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond},
		Store:     config.Store{Path: t.TempDir()},
		Connections: []config.Connection{{
			Name:    "fb",
			Channel: config.ChannelMessenger,
			Messenger: &config.Messenger{
				Meta:  config.Meta{AppSecret: testAppSecret, VerifyToken: testVerifyToken, APIBase: graphBase},
				Pages: []config.Account{{ID: testPage, AccessToken: "page-token-1"}, {ID: testPage2, AccessToken: "page-token-2"}},
			},
		}},
	}
	c.Outbound.Breaker = config.Breaker{Failures: 3, OpenFor: 200 * time.Millisecond, Interval: time.Minute}
	if edit != nil {
		edit(c)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// gateway is a running App on a real loopback listener.
type gateway struct {
	*App
	base string
}

func startGateway(t testing.TB, cfg *config.Config) *gateway {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return startGatewayLog(t, cfg, log)
}

// startGatewayLog is startGateway with the gateway logging to log.
func startGatewayLog(t testing.TB, cfg *config.Config, log *slog.Logger) *gateway {
	t.Helper()
	a, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go a.Serve(ln)
	g := &gateway{App: a, base: "http://" + ln.Addr().String()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	})
	return g
}

type testWriter struct{ t testing.TB }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// post sends body to path with headers and returns status and body.
func post(t testing.TB, url string, body []byte, hdr map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// webhook posts a Messenger webhook signed with the test app secret.
func (g *gateway) webhook(t testing.TB, body string) (int, []byte) {
	t.Helper()
	s := meta.Signer{Secret: []byte(testAppSecret)}
	return post(t, g.base+"/webhooks/messenger/fb", []byte(body), map[string]string{
		"X-Hub-Signature-256": string(s.Sign(nil, []byte(body))),
	})
}

// api posts to the /v1 API with the test token.
func (g *gateway) api(t testing.TB, path string, v any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(v)
	return post(t, g.base+path, b, map[string]string{"Authorization": "Bearer " + testAPIToken})
}

// textWebhook is a Messenger text webhook of one message.
func textWebhook(page, psid, mid, text string, ts int64) string {
	return fmt.Sprintf(`{"object":"page","entry":[{"id":%q,"time":%d,"messaging":[{"sender":{"id":%q},"recipient":{"id":%q},"timestamp":%d,"message":{"mid":%q,"text":%q}}]}]}`,
		page, ts, psid, page, ts, mid, text)
}

func signerFor(secret string) *meta.Signer { return &meta.Signer{Secret: []byte(secret)} }

func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
