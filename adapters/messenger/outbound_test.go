package messenger

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/adapters/meta/metatest"
	"github.com/switchboard-gw/switchboard/bench/mockgraph"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

const (
	outPage  = "1061"
	outToken = "test-page-token"
)

func outAdapter(base string) *Adapter {
	return &Adapter{Connection: "fb", AppID: "1000000000001", APIBase: base, PageTokens: map[string]string{outPage: outToken}}
}

// TestRenderGolden renders every testdata/outbound case and compares the
// path, exact body and degradations (or the error) with its golden file.
func TestRenderGolden(t *testing.T) {
	metatest.RenderGolden(t, outAdapter("https://graph.example/v25.0").Render, metatest.SendAPICall)
}

// TestWireTypesMatchEncodingJSON checks that every rendered body decodes
// strictly into the wire types of types.go and that encoding/json writes
// them back byte for byte: the json tags are a true description of the
// wire format.
func TestWireTypesMatchEncodingJSON(t *testing.T) {
	a := outAdapter("https://graph.example/v25.0")
	metatest.WireTypes(t, a.Render)
	body, _, _, err := a.RenderHandover(nil, adapters.Recipient{BotID: outPage, ChannelID: "5901"}, "inbox", "", `a "b" <c>`)
	if err != nil {
		t.Fatal(err)
	}
	adaptertest.RoundTrip(t, "handover", body, &ThreadControlRequest{})
}

func TestRenderHandover(t *testing.T) {
	a := outAdapter("https://graph.example/v25.0")
	to := adapters.Recipient{BotID: outPage, ChannelID: "5901"}
	tests := []struct {
		action, target, metadata string
		method, path, body       string
		code                     string
	}{
		{"inbox", "", "to a human", "POST", PathPassThreadControl, `{"recipient":{"id":"5901"},"target_app_id":263902037430900,"metadata":"to a human"}`, ""},
		{"pass", "123456789", "", "POST", PathPassThreadControl, `{"recipient":{"id":"5901"},"target_app_id":123456789}`, ""},
		{"pass", "", "", "", "", "", "invalid_target_app_id"},
		{"pass", "12a", "", "", "", "", "invalid_target_app_id"},
		{"take", "", "bot again", "POST", PathTakeThreadControl, `{"recipient":{"id":"5901"},"metadata":"bot again"}`, ""},
		{"request", "", "please", "POST", PathRequestThreadControl, `{"recipient":{"id":"5901"},"metadata":"please"}`, ""},
		{"release", "", "ignored", "POST", PathReleaseThreadControl, `{"recipient":{"id":"5901"}}`, ""},
		{"owner", "", "", "GET", PathThreadOwner + "?recipient=5901", ``, ""},
		{"steal", "", "", "", "", "", "invalid_handover_action"},
		{"take", "", strings.Repeat("m", 1001), "", "", "", "metadata_too_long"},
	}
	for _, tt := range tests {
		body, method, path, err := a.RenderHandover(nil, to, tt.action, tt.target, tt.metadata)
		if tt.code != "" {
			var re *adapters.RenderError
			if !errors.As(err, &re) || re.Code != tt.code {
				t.Errorf("%s: err %v, want %s", tt.action, err, tt.code)
			}
			continue
		}
		if err != nil || method != tt.method || path != tt.path || string(body) != tt.body {
			t.Errorf("%s: got %s %s %s %v\nwant %s %s %s", tt.action, method, path, body, err, tt.method, tt.path, tt.body)
		}
	}
	if _, _, _, err := a.RenderHandover(nil, adapters.Recipient{BotID: "9", ChannelID: "1"}, "take", "", ""); err == nil {
		t.Error("unknown bot accepted")
	}
	if _, _, _, err := a.RenderHandover(nil, adapters.Recipient{BotID: outPage}, "take", "", ""); err == nil {
		t.Error("missing PSID accepted")
	}
}

// outMock starts a mock Graph API with the test page.
func outMock(t testing.TB) (*mockgraph.Server, *Adapter) {
	t.Helper()
	s, base, client := metatest.MockGraph(t, outPage, outToken)
	a := outAdapter(base)
	a.Client = client
	return s, a
}

func TestSendMock(t *testing.T) {
	s, a := outMock(t)
	ctx := context.Background()
	to := adapters.Recipient{BotID: outPage, ChannelID: "5901", Response: true}

	sent, err := a.Send(ctx, to, &normalize.Reply{Text: "hello", QuickReplies: []normalize.QuickReply{{Title: "Hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sent.MessageID, "m_") || sent.AttachmentID != "" {
		t.Errorf("sent = %+v", sent)
	}
	body := metatest.SentBody(t, s, outToken)
	want := `{"recipient":{"id":"5901"},"messaging_type":"RESPONSE","message":{"text":"hello","quick_replies":[{"content_type":"text","title":"Hi","payload":"Hi"}]}}`
	if string(body) != want {
		t.Errorf("body %s\nwant %s", body, want)
	}

	sent, err = a.Send(ctx, to, &normalize.Reply{Attachment: &normalize.OutAttachment{Type: "image", URL: "https://example.com/a.png", Reusable: true}})
	if err != nil || sent.MessageID == "" || sent.AttachmentID == "" {
		t.Errorf("reusable: %+v %v", sent, err)
	}

	sent, err = a.Send(ctx, to, &normalize.Reply{SenderAction: normalize.SenderActionTypingOn})
	if err != nil || sent.MessageID == "" {
		t.Errorf("sender action: %+v %v", sent, err)
	}

	sent, err = a.Send(ctx, to, &normalize.Reply{Text: "x", QuickReplies: make([]normalize.QuickReply, 14)})
	if err == nil {
		t.Error("14 empty quick replies sent")
	}
	if s.Count() != 3 {
		t.Errorf("render error reached the API: %d calls", s.Count())
	}

	// Degradations are reported with a successful send.
	qrs := make([]normalize.QuickReply, 15)
	for i := range qrs {
		qrs[i].Title = "Q"
	}
	sent, err = a.Send(ctx, to, &normalize.Reply{Text: "x", QuickReplies: qrs})
	if err != nil || len(sent.Degraded) != 1 {
		t.Errorf("degraded send: %+v %v", sent, err)
	}
}

func TestSendMockErrors(t *testing.T) {
	s, a := outMock(t)
	ctx := context.Background()
	to := adapters.Recipient{BotID: outPage, ChannelID: "5901", Response: true}
	reply := &normalize.Reply{Text: "hello"}

	tests := []struct {
		name  string
		setup func()
		to    adapters.Recipient
		reply *normalize.Reply
		class adapters.Class
		code  string
		wait  time.Duration
	}{
		{"outside window", func() { s.SetRecipientError("5901", 10, 2018278) }, to, reply, adapters.ClassRecipient, "outside_window", 0},
		{"unavailable", func() { s.SetRecipientError("5901", 551, 0) }, to, reply, adapters.ClassRecipient, "user_unavailable", 0},
		{"no matching user", func() { s.SetRecipientError("5901", 100, 2018001) }, to, reply, adapters.ClassRecipient, "no_matching_user", 0},
		{"throttled 613", func() { s.SetThrottle(&mockgraph.Throttle{Code: 613, RetryAfter: 3 * time.Second}) }, to, reply, adapters.ClassRateLimited, "rate_limited", 3 * time.Second},
		{"throttled 80006", func() { s.SetThrottle(&mockgraph.Throttle{Code: 80006, RegainMinutes: 5}) }, to, reply, adapters.ClassRateLimited, "rate_limited", 5 * time.Minute},
		{"5xx", func() { s.SetServerError(503) }, to, reply, adapters.ClassTransient, "server_error", 0},
		{"bare 502", func() { s.FailNext(1, 502, "<html>bad gateway</html>") }, to, reply, adapters.ClassTransient, "server_error", 0},
		{"bare 429", func() { s.Script(1, mockgraph.Failure{Status: 429, Header: map[string]string{"Retry-After": "2"}}) }, to, reply, adapters.ClassRateLimited, "rate_limited", 2 * time.Second},
		{"bad token", func() { s.AddPage("2002", "another") }, adapters.Recipient{BotID: "2002", ChannelID: "5901"}, reply, adapters.ClassConfig, "bad_token", 0},
		{"request bug", nil, to, &normalize.Reply{Text: "x", ChannelData: json.RawMessage(`{"message":null}`)}, adapters.ClassRequest, "invalid_request", 0},
		{"200 not JSON", func() { s.FailNext(1, 200, "ok") }, to, reply, adapters.ClassTransient, "bad_response", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Reset()
			if tt.name == "bad token" {
				a.PageTokens["2002"] = "revoked-token"
				defer delete(a.PageTokens, "2002")
			}
			if tt.setup != nil {
				tt.setup()
			}
			_, err := a.Send(ctx, tt.to, tt.reply)
			ae := adaptertest.APIError(t, err)
			if ae.Class != tt.class || ae.Code != tt.code {
				t.Errorf("got %v %q (%s), want %v %q", ae.Class, ae.Code, ae.ChannelCode, tt.class, tt.code)
			}
			if ae.RetryAfter != tt.wait {
				t.Errorf("RetryAfter = %v, want %v", ae.RetryAfter, tt.wait)
			}
			if strings.Contains(err.Error(), outToken) || strings.Contains(err.Error(), "revoked-token") {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}

	t.Run("rate limit", func(t *testing.T) {
		s.Reset()
		s.SetRateLimit(2)
		var limited int
		for range 5 {
			if _, err := a.Send(ctx, to, reply); err != nil {
				if ae := adaptertest.APIError(t, err); ae.Class == adapters.ClassRateLimited && ae.ChannelCode == "613" {
					limited++
				}
			}
		}
		if limited < 2 {
			t.Errorf("%d of 5 limited at 2/s", limited)
		}
	})
}

func TestSendNetworkErrors(t *testing.T) {
	s, a := outMock(t)
	closed := outAdapter("http://127.0.0.1:1/v25.0")
	closed.Client = &fasthttp.Client{ReadTimeout: time.Second, WriteTimeout: time.Second}
	adaptertest.NetworkErrors(t, a, closed, adapters.Recipient{BotID: outPage, ChannelID: "5901"}, s.SetLatency, outToken)
}

func TestHandoverMock(t *testing.T) {
	s, a := outMock(t)
	ctx := context.Background()
	to := adapters.Recipient{BotID: outPage, ChannelID: "5901"}

	owner := func() string {
		t.Helper()
		id, err := a.Handover(ctx, to, "owner", "", "")
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	if got := owner(); got != "" {
		t.Errorf("idle owner = %q", got)
	}
	steps := []struct {
		action, target, owner string
	}{
		{"take", "", "1000000000001"},
		{"inbox", "", PageInboxAppID},
		{"pass", "98765432109876543", "98765432109876543"}, // beyond float64 precision
		{"request", "", "98765432109876543"},
		{"release", "", ""},
	}
	for _, st := range steps {
		id, err := a.Handover(ctx, to, st.action, st.target, "meta")
		if err != nil || id != "" {
			t.Fatalf("%s: %q %v", st.action, id, err)
		}
		if got := owner(); got != st.owner {
			t.Errorf("after %s: owner %q, want %q", st.action, got, st.owner)
		}
	}
	reqs := s.Requests()
	var paths []string
	for _, r := range reqs {
		paths = append(paths, r.Method+" "+r.Path)
	}
	if !strings.Contains(strings.Join(paths, ","), "POST /v25.0/me/pass_thread_control") ||
		!strings.Contains(strings.Join(paths, ","), "GET /v25.0/me/thread_owner") {
		t.Errorf("paths %v", paths)
	}

	s.SetRecipientError("5901", 551, 0)
	_, err := a.Handover(ctx, to, "take", "", "")
	if ae := adaptertest.APIError(t, err); ae.Class != adapters.ClassRecipient {
		t.Errorf("got %v", ae)
	}
	s.SetRecipientError("5901", 0, 0)

	s.FailNext(1, 200, `{"success":false}`)
	if _, err := a.Handover(ctx, to, "take", "", ""); adaptertest.APIError(t, err).Code != "handover_refused" {
		t.Errorf("success:false: %v", err)
	}
	s.FailNext(1, 200, `{"data":[{"thread_owner":{"app_id":1234567890123456789}}]}`)
	if id, err := a.Handover(ctx, to, "owner", "", ""); err != nil || id != "1234567890123456789" {
		t.Errorf("numeric app_id: %q %v", id, err)
	}
	if _, err := a.Handover(ctx, to, "dance", "", ""); err == nil {
		t.Error("unknown action accepted")
	}
}

// TestSendDefaultClient covers a nil Client.
func TestSendDefaultClient(t *testing.T) {
	_, a := outMock(t)
	a.Client = nil
	sent, err := a.Send(context.Background(), adapters.Recipient{BotID: outPage, ChannelID: "5901"}, &normalize.Reply{Text: "x"})
	if err != nil || sent.MessageID == "" {
		t.Errorf("%+v %v", sent, err)
	}
}

func TestSendPlainDoer(t *testing.T) {
	_, a := outMock(t)
	a.Client = adaptertest.PlainDoer{Client: &fasthttp.Client{}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.Send(ctx, adapters.Recipient{BotID: outPage, ChannelID: "5901"}, &normalize.Reply{Text: "x"}); err != nil {
		t.Error(err)
	}
}

// FuzzRender feeds arbitrary replies to Render: it must not panic, and
// what it renders must be one valid JSON object.
func FuzzRender(f *testing.F) {
	adaptertest.OutSeeds(f)
	a := outAdapter("https://graph.example/v25.0")
	f.Fuzz(func(t *testing.T, raw []byte) {
		metatest.CheckRender(t, a.Render, outPage, raw)
	})
}

// TestSendMockBatched sends three replies at once with send_batch 3: the
// mock Graph API gets one batch request whose calls it serves like plain
// ones (same bodies, same token checks, per-call scripted errors), and
// each reply gets its own outcome.
func TestSendMockBatched(t *testing.T) {
	s, a := outMock(t)
	a.Batch = meta.NewBatcher(config.SendBatching{SendBatch: 3, SendBatchWait: time.Minute}) // fills first
	send := func(psids ...string) map[string]error {
		errs := make([]error, len(psids))
		var wg sync.WaitGroup
		for i, p := range psids {
			wg.Go(func() {
				_, errs[i] = a.Send(context.Background(), adapters.Recipient{BotID: outPage, ChannelID: p, Response: true}, &normalize.Reply{Text: "hello " + p})
			})
		}
		wg.Wait()
		m := map[string]error{}
		for i, p := range psids {
			m[p] = errs[i]
		}
		return m
	}

	// A first reply finds the stream quiet and goes alone; the ones
	// right behind it are close together, and batch.
	if errs := send("5900"); errs["5900"] != nil {
		t.Fatal(errs["5900"])
	}
	s.Reset()
	s.SetRecipientError("5902", 551, 0)
	errs := send("5901", "5902", "5903")
	if s.Batches() != 1 || s.Count() != 3 {
		t.Fatalf("%d batches, %d calls; want the 3 calls in 1 batch", s.Batches(), s.Count())
	}
	for _, p := range []string{"5901", "5903"} {
		if errs[p] != nil {
			t.Errorf("%s: %v", p, errs[p])
		}
	}
	if ae := adaptertest.APIError(t, errs["5902"]); ae.Class != adapters.ClassRecipient || ae.Code != "user_unavailable" {
		t.Errorf("5902: %v", errs["5902"])
	}
	for _, r := range s.Requests() {
		var body struct {
			Recipient struct{ ID string }
			Message   struct{ Text string }
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("call body %s: %v", r.Body, err)
		}
		psid := body.Recipient.ID
		want := `{"recipient":{"id":"` + psid + `"},"messaging_type":"RESPONSE","message":{"text":"hello ` + psid + `"}}`
		if string(r.Body) != want || r.Path != "/v25.0/me/messages" || r.Query != "access_token="+outToken {
			t.Errorf("batched call %s?%s %s\nwant the plain call's body %s", r.Path, r.Query, r.Body, want)
		}
	}

	// Throttling reaches each call; a batch answer carries no per-call
	// headers (include_headers=false), so the wait is the code's default.
	s.Reset()
	s.SetThrottle(&mockgraph.Throttle{Code: 613, RetryAfter: 3 * time.Second})
	for p, err := range send("5901", "5903", "5904") {
		if ae := adaptertest.APIError(t, err); ae.Class != adapters.ClassRateLimited || ae.RetryAfter != meta.DefaultRetryAfter {
			t.Errorf("throttled %s: %v (wait %v)", p, err, ae.RetryAfter)
		}
	}
	// A token Graph refuses fails that call only.
	s.Reset()
	a.PageTokens["2002"] = "revoked-token"
	defer delete(a.PageTokens, "2002")
	var wg sync.WaitGroup
	var bad error
	wg.Go(func() {
		_, bad = a.Send(context.Background(), adapters.Recipient{BotID: "2002", ChannelID: "5901"}, &normalize.Reply{Text: "x"})
	})
	good := send("5902", "5903")
	wg.Wait()
	if ae := adaptertest.APIError(t, bad); ae.Code != "bad_token" {
		t.Errorf("revoked token: %v", bad)
	}
	for p, err := range good {
		if err != nil {
			t.Errorf("%s beside a revoked token: %v", p, err)
		}
	}
	if s.Batches() != 1 {
		t.Errorf("%d batches", s.Batches())
	}
}
