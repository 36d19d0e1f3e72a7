package reference

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/bench/channelmock"
	"github.com/switchboard-gw/switchboard/bench/mockbackend"
	"github.com/switchboard-gw/switchboard/bench/traffic"
)

const (
	appSecret     = "app-secret"
	backendSecret = "backend-secret"
	page          = "100000000000001"
	token         = "page-token/1+2" // escaped in the query
)

// rig is the pipeline between the suite's own mock backend and channel
// mock, with what each saw.
type rig struct {
	s       *Server
	base    string
	backend *mockbackend.Server
	channel *channelmock.Server

	mu      sync.Mutex
	events  []string
	replies map[string]string // event id → recipient
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{replies: map[string]string{}}
	r.backend = &mockbackend.Server{Secret: []byte(backendSecret), OnEvent: func(id []byte, _ time.Time) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.events = append(r.events, string(id))
	}}
	backendURL, err := r.backend.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.backend.Close() })
	r.channel = &channelmock.Server{OnReply: func(_ string, recipient, text []byte, _ time.Time) {
		id, ok := mockbackend.EventID(text)
		if !ok {
			t.Errorf("reply %q names no event", text)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.replies[string(id)] = string(recipient)
	}}
	r.channel.AddMessengerPage(page, token)
	if err := r.channel.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.channel.Close() })
	r.s = &Server{Config: Config{
		AppSecret: appSecret, BackendURL: backendURL, BackendSecret: backendSecret,
		APIBase: r.channel.MessengerBase(), Pages: map[string]string{page: token},
	}}
	if r.base, err = r.s.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.s.Close() })
	return r
}

func post(t *testing.T, url string, w *traffic.Webhook) int {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(url + w.Path)
	for _, h := range w.Header {
		req.Header.SetBytesV(h.Name, h.Value)
	}
	req.SetBody(w.Body)
	if err := fasthttp.DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode()
}

// TestWholeJob: every event of every kind the realistic mix sends (batches
// of several items included) reaches the backend under the id the gateway
// would give it, and its reply reaches the Send API addressed to its
// sender, before the webhook's 200.
func TestWholeJob(t *testing.T) {
	r := newRig(t)
	msg := traffic.NewMessenger("bench", []byte(appSecret), []string{page}, 50, 7)
	mix, err := traffic.ParseMix("realistic")
	if err != nil {
		t.Fatal(err)
	}
	gen, err := traffic.NewGenerator(mix, msg)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	want := map[string]string{}
	seen := map[string]bool{} // what the bodies held
	var w traffic.Webhook
	for range 200 {
		gen.Next(&w, rnd)
		if got := post(t, r.base, &w); got != 200 {
			t.Fatalf("webhook %s: status %d", w.Body, got)
		}
		gen.Acked(&w)
		for _, ev := range w.Events {
			want[ev.ID] = ev.User
		}
		for _, k := range []string{`"text":`, `"quick_reply":`, `"attachments":`, `"postback":`, `"read":`, `"delivery":`} {
			seen[k] = seen[k] || bytes.Contains(w.Body, []byte(k))
		}
		seen["batch"] = seen["batch"] || len(w.Events) > 1
		// The 200 comes after the replies: they are there already.
		r.mu.Lock()
		for _, ev := range w.Events {
			if r.replies[ev.ID] != ev.User {
				t.Errorf("event %s: reply to %q, want %q", ev.ID, r.replies[ev.ID], ev.User)
			}
		}
		r.mu.Unlock()
	}
	for _, k := range []string{`"text":`, `"quick_reply":`, `"attachments":`, `"postback":`, `"read":`, `"delivery":`, "batch"} {
		if !seen[k] {
			t.Errorf("200 webhooks of the realistic mix had no %s: the test covers less than it claims", k)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) != len(want) || len(r.replies) != len(want) {
		t.Errorf("%d events, backend saw %d, channel got %d replies", len(want), len(r.events), len(r.replies))
	}
	if n := r.s.OK.Load(); n != 200 || r.s.SendFailed.Load() != 0 || r.backend.BadSignature.Load() != 0 {
		t.Errorf("ok %d, send failures %d, bad backend signatures %d", n, r.s.SendFailed.Load(), r.backend.BadSignature.Load())
	}
}

// TestRefuses: a bad signature is refused before anything is forwarded;
// a backend that fails gets the webhook answered 500, for Meta to retry.
func TestRefuses(t *testing.T) {
	r := newRig(t)
	msg := traffic.NewMessenger("bench", []byte("another secret"), []string{page}, 5, 7)
	gen, err := traffic.NewGenerator(traffic.Mix{{Channel: traffic.MessengerName, Kind: "text", Weight: 1}}, msg)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	var w traffic.Webhook
	gen.Next(&w, rnd)
	if got := post(t, r.base, &w); got != fasthttp.StatusUnauthorized {
		t.Errorf("bad signature: status %d, want 401", got)
	}
	if r.backend.Requests.Load() != 0 || r.s.Refused.Load() != 1 {
		t.Errorf("bad signature: %d backend requests, %d refused", r.backend.Requests.Load(), r.s.Refused.Load())
	}

	r.backend.Close()
	good := traffic.NewMessenger("bench", []byte(appSecret), []string{page}, 5, 8)
	if gen, err = traffic.NewGenerator(traffic.Mix{{Channel: traffic.MessengerName, Kind: "text", Weight: 1}}, good); err != nil {
		t.Fatal(err)
	}
	gen.Next(&w, rnd)
	if got := post(t, r.base, &w); got != fasthttp.StatusInternalServerError {
		t.Errorf("backend down: status %d, want 500", got)
	}
	if r.s.Failed.Load() != 1 {
		t.Errorf("backend down: failed %d, want 1", r.s.Failed.Load())
	}
}

func TestConfigRequired(t *testing.T) {
	for _, c := range []Config{
		{},
		{AppSecret: "a", BackendURL: "/events", BackendSecret: "b", APIBase: "http://127.0.0.1:1/v25.0"},
		{AppSecret: "a", BackendURL: "http://127.0.0.1:1/events", BackendSecret: "b"},
	} {
		s := &Server{Config: c}
		if _, err := s.Start(""); err == nil {
			s.Close()
			t.Errorf("%+v: started", c)
		}
	}
}
