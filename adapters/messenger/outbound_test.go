package messenger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/bench/mockgraph"
	"github.com/switchboard-gw/switchboard/normalize"
)

// The -update flag rewrites golden files. The inbound golden tests of this
// package may register it too: whichever file comes first does.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite testdata golden files")
	}
}

func outUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const (
	outPage  = "1061"
	outToken = "test-page-token"
)

func outAdapter(base string) *Adapter {
	return &Adapter{Connection: "fb", AppID: "1000000000001", APIBase: base, PageTokens: map[string]string{outPage: outToken}}
}

// outCase is testdata/outbound/<case>.json.
type outCase struct {
	Recipient struct {
		BotID     string `json:"bot_id"`
		ChannelID string `json:"channel_id"`
		OTNToken  string `json:"otn_token"`
		Response  bool   `json:"response"`
	} `json:"recipient"`
	Reply normalize.Reply `json:"reply"`
}

func (c *outCase) to() adapters.Recipient {
	return adapters.Recipient{BotID: c.Recipient.BotID, ChannelID: c.Recipient.ChannelID, OTNToken: c.Recipient.OTNToken, Response: c.Recipient.Response}
}

// outGolden is testdata/outbound/<case>.golden.json.
type outGolden struct {
	Path     string          `json:"path,omitempty"`
	Body     json.RawMessage `json:"body,omitempty"`
	Degraded []string        `json:"degraded,omitempty"`
	Error    *outGoldenError `json:"error,omitempty"`
}

type outGoldenError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func outCases(t testing.TB) []string {
	files, err := filepath.Glob("testdata/outbound/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".golden.json") {
			names = append(names, strings.TrimSuffix(filepath.Base(f), ".json"))
		}
	}
	if len(names) == 0 {
		t.Fatal("no outbound cases")
	}
	return names
}

func readOutCase(t testing.TB, name string) *outCase {
	raw, err := os.ReadFile(filepath.Join("testdata/outbound", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var c outCase
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &c
}

// TestRenderGolden renders every testdata/outbound case and compares the
// path, exact body and degradations (or the error) with its golden file.
func TestRenderGolden(t *testing.T) {
	a := outAdapter("https://graph.example/v25.0")
	for _, name := range outCases(t) {
		t.Run(name, func(t *testing.T) {
			c := readOutCase(t, name)
			before := outJSON(t, &c.Reply)
			body, path, degraded, err := a.Render([]byte("prefix:"), c.to(), &c.Reply)
			if !bytes.HasPrefix(body, []byte("prefix:")) {
				t.Fatalf("Render dropped dst: %q", body)
			}
			body = body[len("prefix:"):]
			if after := outJSON(t, &c.Reply); after != before {
				t.Errorf("Render modified the reply:\nbefore %s\nafter  %s", before, after)
			}

			var got outGolden
			if err != nil {
				var re *adapters.RenderError
				if !errors.As(err, &re) {
					t.Fatalf("error %T %v, want *adapters.RenderError", err, err)
				}
				if len(body) != 0 {
					t.Errorf("body %q appended on error", body)
				}
				got.Error = &outGoldenError{Code: re.Code, Message: re.Msg}
			} else {
				if !json.Valid(body) {
					t.Fatalf("invalid JSON: %s", body)
				}
				got.Path, got.Body = path, body
			}
			got.Degraded = degraded
			// Keep the renderer's own escapes: no HTML escaping on top.
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			out := buf.Bytes()

			file := filepath.Join("testdata/outbound", name+".golden.json")
			if outUpdate() {
				if err := os.WriteFile(file, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, rerr := os.ReadFile(file)
			if rerr != nil {
				t.Fatalf("%v (run with -update)", rerr)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("%s differs (-want +got):\n%s", file, cmp.Diff(string(want), string(out)))
			}
		})
	}
}

func outJSON(t testing.TB, r *normalize.Reply) string {
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestWireTypesMatchEncodingJSON checks that the append encoders of
// types.go write what encoding/json writes for the same structs, so the
// json tags are a true description of the wire format.
func TestWireTypesMatchEncodingJSON(t *testing.T) {
	for _, name := range outCases(t) {
		c := readOutCase(t, name)
		rs := renderers.Get().(*renderer)
		req, err := rs.build(c.to(), &c.Reply)
		if err == nil {
			want, merr := json.Marshal(req)
			if merr != nil {
				t.Fatal(merr)
			}
			if got := req.appendJSON(nil); !bytes.Equal(got, want) {
				t.Errorf("%s:\nappendJSON   %s\nencoding/json %s", name, got, want)
			}
		}
		rs.release()
	}

	tc := ThreadControlRequest{Recipient: SendRecipient{ID: "5901"}, TargetAppID: "263902037430900", Metadata: `a "b" <c>`}
	want, _ := json.Marshal(&tc)
	if got := tc.appendJSON(nil); !bytes.Equal(got, want) {
		t.Errorf("ThreadControlRequest:\nappendJSON   %s\nencoding/json %s", got, want)
	}
}

// TestRenderMessageDecodes decodes rendered bodies into the wire types
// strictly: every member the renderer writes is a member types.go names.
func TestRenderMessageDecodes(t *testing.T) {
	a := outAdapter("https://graph.example/v25.0")
	for _, name := range outCases(t) {
		c := readOutCase(t, name)
		if len(c.Reply.ChannelData) > 0 {
			continue
		}
		body, _, _, err := a.Render(nil, c.to(), &c.Reply)
		if err != nil {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		var req SendRequest
		if err := dec.Decode(&req); err != nil {
			t.Errorf("%s: %v\n%s", name, err, body)
		}
	}
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

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
		cut  bool
	}{
		{"short", 20, "short", false},
		{"Exactly twenty chars", 20, "Exactly twenty chars", false},
		{"Exactly twenty chars!", 20, "Exactly twenty char…", true},
		{"ééééééééééééééééééééé", 20, "ééééééééééééééééééé…", true},
		{"word word word word word", 11, "word word…", true},
	}
	for _, tt := range tests {
		got, cut := truncate(tt.in, tt.n)
		if got != tt.want || cut != tt.cut {
			t.Errorf("truncate(%q, %d) = %q %v, want %q %v", tt.in, tt.n, got, cut, tt.want, tt.cut)
		}
	}
}

func TestIsFacebookURL(t *testing.T) {
	ok := []string{"https://facebook.com/x", "https://www.facebook.com/x", "https://business.facebook.com/1/videos/2", "http://WWW.FACEBOOK.COM/x", "https://facebook.com:443/x"}
	bad := []string{"https://facebook.com.evil.example/x", "https://evil.example/facebook.com", "https://facebook.com@evil.example/",
		"https://user@facebook.com/x", "https://notfacebook.com/x", "ftp://facebook.com/x", "facebook.com/x", "https://fbcdn.net/x", "https:///x"}
	for _, u := range ok {
		if !isFacebookURL(u) {
			t.Errorf("%s refused", u)
		}
	}
	for _, u := range bad {
		if isFacebookURL(u) {
			t.Errorf("%s accepted", u)
		}
	}
}

// outMock starts a mock Graph API with the test page.
func outMock(t testing.TB) (*mockgraph.Server, *Adapter) {
	t.Helper()
	s := mockgraph.New()
	s.AddPage(outPage, outToken)
	base, err := s.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	a := outAdapter(base)
	a.Client = &fasthttp.Client{ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
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
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v25.0/me/messages" || r.Query != "access_token="+outToken {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.Query)
	}
	want := `{"recipient":{"id":"5901"},"messaging_type":"RESPONSE","message":{"text":"hello","quick_replies":[{"content_type":"text","title":"Hi","payload":"Hi"}]}}`
	if string(r.Body) != want {
		t.Errorf("body %s\nwant %s", r.Body, want)
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

func outAPIError(t *testing.T, err error) *adapters.APIError {
	t.Helper()
	var ae *adapters.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %T %v, want *adapters.APIError", err, err)
	}
	return ae
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
			ae := outAPIError(t, err)
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
				if ae := outAPIError(t, err); ae.Class == adapters.ClassRateLimited && ae.ChannelCode == "613" {
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
	to := adapters.Recipient{BotID: outPage, ChannelID: "5901"}

	t.Run("timeout", func(t *testing.T) {
		s.SetLatency(300 * time.Millisecond)
		defer s.SetLatency(0)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := a.Send(ctx, to, &normalize.Reply{Text: "slow"})
		if ae := outAPIError(t, err); ae.Class != adapters.ClassTransient || ae.Code != "timeout" {
			t.Errorf("got %v %q", ae.Class, ae.Code)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := a.Send(ctx, to, &normalize.Reply{Text: "x"})
		if ae := outAPIError(t, err); ae.Class != adapters.ClassTransient || ae.Code != "canceled" {
			t.Errorf("got %v %q", ae.Class, ae.Code)
		}
	})
	t.Run("refused", func(t *testing.T) {
		b := outAdapter("http://127.0.0.1:1/v25.0")
		b.Client = &fasthttp.Client{ReadTimeout: time.Second, WriteTimeout: time.Second}
		_, err := b.Send(context.Background(), to, &normalize.Reply{Text: "x"})
		if ae := outAPIError(t, err); ae.Class != adapters.ClassTransient || (ae.Code != "network" && ae.Code != "timeout") {
			t.Errorf("got %v %q", ae.Class, ae.Code)
		}
		if strings.Contains(err.Error(), outToken) {
			t.Errorf("error leaks the token: %v", err)
		}
	})
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
	if ae := outAPIError(t, err); ae.Class != adapters.ClassRecipient {
		t.Errorf("got %v", ae)
	}
	s.SetRecipientError("5901", 0, 0)

	s.FailNext(1, 200, `{"success":false}`)
	if _, err := a.Handover(ctx, to, "take", "", ""); outAPIError(t, err).Code != "handover_refused" {
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

// plainDoer hides DoDeadline, so Send falls back to Do.
type plainDoer struct{ c *fasthttp.Client }

func (p plainDoer) Do(req *fasthttp.Request, resp *fasthttp.Response) error { return p.c.Do(req, resp) }

func TestSendPlainDoer(t *testing.T) {
	_, a := outMock(t)
	a.Client = plainDoer{&fasthttp.Client{}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.Send(ctx, adapters.Recipient{BotID: outPage, ChannelID: "5901"}, &normalize.Reply{Text: "x"}); err != nil {
		t.Error(err)
	}
}

func TestAppendURI(t *testing.T) {
	a := &Adapter{APIBase: "https://graph.example/v25.0/"}
	if got := string(a.appendURI(nil, PathMessages, "EAAB-x_y.z~1")); got != "https://graph.example/v25.0/me/messages?access_token=EAAB-x_y.z~1" {
		t.Errorf("plain token: %s", got)
	}
	if got := string(a.appendURI(nil, PathThreadOwner+"?recipient=1", "a+b/c=&d")); got != "https://graph.example/v25.0/me/thread_owner?recipient=1&access_token=a%2Bb%2Fc%3D%26d" {
		t.Errorf("escaped token: %s", got)
	}
}

// FuzzRender feeds arbitrary replies to Render: it must not panic, and
// what it renders must be one valid JSON object.
func FuzzRender(f *testing.F) {
	files, _ := filepath.Glob("testdata/outbound/*.json")
	for _, file := range files {
		if !strings.HasSuffix(file, ".golden.json") {
			raw, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(raw)
		}
	}
	a := outAdapter("https://graph.example/v25.0")
	f.Fuzz(func(t *testing.T, raw []byte) {
		var c outCase
		if json.Unmarshal(raw, &c) != nil {
			return
		}
		to := c.to()
		to.BotID = outPage
		body, path, _, err := a.Render(nil, to, &c.Reply)
		if err != nil {
			var re *adapters.RenderError
			if !errors.As(err, &re) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		var m map[string]json.RawMessage
		if path != PathMessages || json.Unmarshal(body, &m) != nil || m == nil {
			t.Fatalf("path %q body %s", path, body)
		}
	})
}
