package mockgraph

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

const (
	page  = "1061"
	token = "tok"
)

func start(t *testing.T) (*Server, string) {
	t.Helper()
	s := New()
	s.AddPage(page, token)
	base, err := s.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, base
}

var client = &fasthttp.Client{ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}

type answer struct {
	status int
	body   map[string]any
	header map[string]string
}

func call(t *testing.T, method, url, body string) answer {
	t.Helper()
	return callWith(t, method, url, body, nil)
}

// callWith makes one call with the headers hdr and reads the JSON answer
// and the throttling headers.
func callWith(t *testing.T, method, url, body string, hdr map[string]string) answer {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(method)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if body != "" {
		req.SetBodyString(body)
	}
	if err := client.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode(), header: map[string]string{}}
	if err := json.Unmarshal(resp.Body(), &a.body); err != nil {
		t.Fatalf("answer %q: %v", resp.Body(), err)
	}
	for _, k := range []string{"Retry-After", "X-Business-Use-Case-Usage"} {
		if v := resp.Header.Peek(k); v != nil {
			a.header[k] = string(v)
		}
	}
	return a
}

func (a answer) code() float64 {
	e, _ := a.body["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return c
}

const text = `{"recipient":{"id":"5901"},"messaging_type":"RESPONSE","message":{"text":"hi"}}`

func TestMessages(t *testing.T) {
	s, base := start(t)
	send := base + "/me/messages?access_token=" + token

	a := call(t, "POST", send, text)
	if a.status != 200 || a.body["recipient_id"] != "5901" || !strings.HasPrefix(a.body["message_id"].(string), "m_") || a.body["attachment_id"] != nil {
		t.Errorf("text: %+v", a)
	}
	a = call(t, "POST", base+"/"+page+"/messages?access_token="+token,
		`{"recipient":{"id":"5901"},"message":{"attachment":{"type":"image","payload":{"url":"https://x/y.png","is_reusable":true}}}}`)
	if a.status != 200 || a.body["attachment_id"] == nil {
		t.Errorf("reusable by page id: %+v", a)
	}
	a = call(t, "POST", send, `{"recipient":{"id":"5901"},"sender_action":"typing_on"}`)
	if a.status != 200 {
		t.Errorf("sender action: %+v", a)
	}
	a = call(t, "POST", send, `{"recipient":{"one_time_notif_token":"otn"},"message":{"text":"x"}}`)
	if a.status != 200 {
		t.Errorf("otn: %+v", a)
	}

	refused := []struct {
		name, url, body string
		code            float64
	}{
		{"no token", base + "/me/messages", text, 190},
		{"unknown token", base + "/me/messages?access_token=nope", text, 190},
		{"other page", base + "/2002/messages?access_token=" + token, text, 100},
		{"not JSON", send, `{`, 100},
		{"no recipient", send, `{"message":{"text":"x"}}`, 100},
		{"no message", send, `{"recipient":{"id":"1"}}`, 100},
		{"text too long", send, `{"recipient":{"id":"1"},"message":{"text":"` + strings.Repeat("é", 2001) + `"}}`, 100},
		{"14 quick replies", send, `{"recipient":{"id":"1"},"message":{"text":"x","quick_replies":[` + strings.Repeat(`{"content_type":"user_email"},`, 13) + `{"content_type":"user_email"}]}}`, 100},
		{"unknown path", base + "/me/nothing?access_token=" + token, text, 2500},
		{"no version", strings.TrimSuffix(base, "/v25.0") + "/me/messages?access_token=" + token, text, 2500},
	}
	for _, r := range refused {
		if a := call(t, "POST", r.url, r.body); a.status != 400 || a.code() != r.code {
			t.Errorf("%s: %d %v, want 400 code %v", r.name, a.status, a.body, r.code)
		}
	}

	reqs := s.Requests()
	if len(reqs) != 4+len(refused) || s.Count() != len(reqs) {
		t.Fatalf("%d requests recorded, count %d", len(reqs), s.Count())
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v25.0/me/messages" || r.Query != "access_token="+token || string(r.Body) != text || r.Status != 200 || r.Time.IsZero() {
		t.Errorf("recorded %+v", r)
	}
}

func TestScriptedFailures(t *testing.T) {
	s, base := start(t)
	send := base + "/me/messages?access_token=" + token

	s.FailNext(2, 502, `{"oops":1}`)
	for range 2 {
		if a := call(t, "POST", send, text); a.status != 502 {
			t.Errorf("scripted: %+v", a)
		}
	}
	if a := call(t, "POST", send, text); a.status != 200 {
		t.Errorf("after script: %+v", a)
	}

	s.Script(1, Failure{Status: 429, Body: `{}`, Header: map[string]string{"Retry-After": "4"}})
	if a := call(t, "POST", send, text); a.status != 429 || a.header["Retry-After"] != "4" {
		t.Errorf("scripted header: %+v", a)
	}

	s.SetRecipientError("5901", 10, 2018278)
	a := call(t, "POST", send, text)
	if e := a.body["error"].(map[string]any); a.status != 400 || e["code"] != 10.0 || e["error_subcode"] != 2018278.0 || e["fbtrace_id"] == "" {
		t.Errorf("recipient error: %+v", a)
	}
	if a := call(t, "POST", send, strings.Replace(text, "5901", "5902", 1)); a.status != 200 {
		t.Errorf("other recipient: %+v", a)
	}
	s.SetRecipientError("5901", 2, 0)
	if a := call(t, "POST", send, text); a.status != 500 || a.code() != 2 {
		t.Errorf("server-side code: %+v", a)
	}
	s.SetRecipientError("5901", 0, 0)
	if a := call(t, "POST", send, text); a.status != 200 {
		t.Errorf("cleared: %+v", a)
	}

	s.SetThrottle(&Throttle{Code: 80006, RegainMinutes: 7, RetryAfter: 1500 * time.Millisecond})
	a = call(t, "POST", send, text)
	if a.code() != 80006 || a.header["Retry-After"] != "2" || !strings.Contains(a.header["X-Business-Use-Case-Usage"], `"estimated_time_to_regain_access":7`) {
		t.Errorf("throttle: %+v", a)
	}
	var usage map[string][]map[string]any
	if err := json.Unmarshal([]byte(a.header["X-Business-Use-Case-Usage"]), &usage); err != nil || usage[page] == nil {
		t.Errorf("usage header %q: %v", a.header["X-Business-Use-Case-Usage"], err)
	}
	s.SetThrottle(&Throttle{})
	if a := call(t, "POST", send, text); a.code() != 613 {
		t.Errorf("default throttle code: %+v", a)
	}
	s.SetThrottle(nil)

	s.SetServerError(503)
	a = call(t, "POST", send, text)
	if e := a.body["error"].(map[string]any); a.status != 503 || e["is_transient"] != true {
		t.Errorf("server error: %+v", a)
	}
	s.SetServerError(0)

	s.Reset()
	if s.Count() != 0 || len(s.Requests()) != 0 {
		t.Error("Reset kept requests")
	}
	if a := call(t, "POST", send, text); a.status != 200 {
		t.Errorf("after Reset: %+v", a)
	}
}

func TestRateLimitAndLatency(t *testing.T) {
	s, base := start(t)
	send := base + "/me/messages?access_token=" + token
	s.SetRateLimit(3)
	ok, limited := 0, 0
	for range 6 {
		a := call(t, "POST", send, text)
		switch {
		case a.status == 200:
			ok++
		case a.code() == 613 && a.header["X-Business-Use-Case-Usage"] != "":
			limited++
		}
	}
	if ok < 3 || limited < 2 || ok+limited != 6 {
		t.Errorf("3/s: %d ok, %d limited", ok, limited)
	}
	s.SetRateLimit(0)

	s.SetLatency(50 * time.Millisecond)
	t0 := time.Now()
	call(t, "POST", send, text)
	if d := time.Since(t0); d < 50*time.Millisecond {
		t.Errorf("latency %v", d)
	}
}

func TestHandover(t *testing.T) {
	s, base := start(t)
	s.AppID = "42"
	ctl := func(edge, body string) answer {
		return call(t, "POST", base+"/me/"+edge+"?access_token="+token, body)
	}
	owner := func() any {
		a := call(t, "GET", base+"/me/thread_owner?recipient=5901&access_token="+token, "")
		data := a.body["data"].([]any)
		if len(data) == 0 {
			return ""
		}
		return data[0].(map[string]any)["thread_owner"].(map[string]any)["app_id"]
	}
	if o := owner(); o != "" {
		t.Errorf("idle owner %v", o)
	}
	steps := []struct{ edge, body, owner string }{
		{"take_thread_control", `{"recipient":{"id":"5901"},"metadata":"m"}`, "42"},
		{"pass_thread_control", `{"recipient":{"id":"5901"},"target_app_id":263902037430900}`, "263902037430900"},
		{"pass_thread_control", `{"recipient":{"id":"5901"},"target_app_id":"7"}`, "7"},
		{"request_thread_control", `{"recipient":{"id":"5901"}}`, "7"},
		{"release_thread_control", `{"recipient":{"id":"5901"}}`, ""},
	}
	for _, st := range steps {
		if a := ctl(st.edge, st.body); a.status != 200 || a.body["success"] != true {
			t.Errorf("%s: %+v", st.edge, a)
		}
		if o := owner(); o != st.owner {
			t.Errorf("after %s: owner %v, want %q", st.edge, o, st.owner)
		}
	}
	if a := ctl("pass_thread_control", `{"recipient":{"id":"5901"}}`); a.code() != 100 {
		t.Errorf("pass without target: %+v", a)
	}
	if a := ctl("steal_thread_control", `{"recipient":{"id":"5901"}}`); a.code() != 2500 {
		t.Errorf("unknown action: %+v", a)
	}
	if a := ctl("take_thread_control", `{}`); a.code() != 100 {
		t.Errorf("no recipient: %+v", a)
	}
	s.SetThreadOwner(page, "5901", "9")
	if o := owner(); o != "9" {
		t.Errorf("seeded owner %v", o)
	}
}

func TestConcurrent(t *testing.T) {
	s, base := start(t)
	send := base + "/me/messages?access_token=" + token
	var wg sync.WaitGroup
	ids := make(chan string, 200)
	for range 8 {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for range 25 {
				req.SetRequestURI(send)
				req.Header.SetMethod("POST")
				req.SetBodyString(text)
				var out struct {
					MessageID string `json:"message_id"`
				}
				if err := client.Do(req, resp); err != nil {
					t.Error(err)
					return
				}
				if err := json.Unmarshal(resp.Body(), &out); err != nil || out.MessageID == "" {
					t.Errorf("answer %q: %v", resp.Body(), err)
					return
				}
				ids <- out.MessageID
				_ = s.Requests()
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("duplicate message id %s", id)
		}
		seen[id] = true
	}
	if s.Count() != 200 || len(seen) != 200 {
		t.Errorf("count %d, %d ids", s.Count(), len(seen))
	}
}

func TestCloseUnstarted(t *testing.T) {
	if err := New().Close(); err != nil {
		t.Error(err)
	}
}

func TestRecordOff(t *testing.T) {
	s, base := start(t)
	s.SetRecord(false)
	call(t, "POST", base+"/me/messages?access_token="+token, text)
	if s.Count() != 1 || len(s.Requests()) != 0 {
		t.Errorf("count %d, %d recorded", s.Count(), len(s.Requests()))
	}
	s.SetRecord(true)
	call(t, "POST", base+"/me/messages/extra?access_token="+token, text)
	if r := s.Requests(); len(r) != 1 || r[0].Status != 400 {
		t.Errorf("recorded %+v", r)
	}
}
