package mockviber

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func start(t *testing.T) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

var client = &fasthttp.Client{ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}

type answer struct {
	http   int
	status int
	msg    string
	token  json.Number
	raw    map[string]any
}

func call(t *testing.T, url, token, body string) answer {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod("POST")
	if token != "" {
		req.Header.Set("X-Viber-Auth-Token", token)
	}
	req.SetBodyString(body)
	if err := client.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	a := answer{http: resp.StatusCode(), status: -1}
	if !strings.HasPrefix(string(resp.Header.ContentType()), "application/json") {
		return a
	}
	dec := json.NewDecoder(strings.NewReader(string(resp.Body())))
	dec.UseNumber()
	if err := dec.Decode(&a.raw); err != nil {
		t.Fatalf("answer %q: %v", resp.Body(), err)
	}
	st, _ := a.raw["status"].(json.Number).Int64()
	a.status = int(st)
	a.msg, _ = a.raw["status_message"].(string)
	a.token, _ = a.raw["message_token"].(json.Number)
	return a
}

const (
	receiver = "r/Zx0w9Q+Pu1tKd8Vm2sLg=="
	text     = `{"receiver":"` + receiver + `","min_api_version":1,"sender":{"name":"Bot"},"type":"text","text":"hi"}`
)

func TestSendMessage(t *testing.T) {
	s := start(t)
	send := s.URL() + "/send_message"

	a := call(t, send, s.Token(), text)
	if a.http != 200 || a.status != 0 || a.msg != "ok" || a.token.String() != strconv.FormatUint(FirstMessageToken, 10) {
		t.Fatalf("first send: %+v", a)
	}
	if FirstMessageToken <= 1<<53 {
		t.Fatal("tokens must exceed 2^53")
	}
	b := call(t, send, s.Token(), text)
	if b.token.String() != strconv.FormatUint(FirstMessageToken+1, 10) {
		t.Errorf("second token %s", b.token)
	}

	reqs := s.Requests()
	if len(reqs) != 2 || s.Count() != 2 {
		t.Fatalf("%d requests, count %d", len(reqs), s.Count())
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/pa/send_message" || r.Receiver != receiver || r.Type != "text" ||
		string(r.Body) != text || r.HTTPStatus != 200 || r.Status != 0 || r.MessageToken != a.token.String() || r.Time.IsZero() {
		t.Errorf("recorded %+v", r)
	}
}

func TestSendMessageErrors(t *testing.T) {
	s := start(t)
	send := s.URL() + "/send_message"
	s.Unsubscribe("gone=")
	s.SetReceiverStatus("nodevice=", 11)
	tests := []struct {
		name, token, body string
		status            int
		msg               string
	}{
		{"no token", "", text, StatusInvalidAuthToken, "missing_auth_token"},
		{"wrong token", "nope", text, StatusInvalidAuthToken, "invalidAuthToken"},
		{"not JSON", s.Token(), `{"receiver":`, StatusBadData, "badData"},
		{"array", s.Token(), `[]`, StatusBadData, "badData"},
		{"no receiver", s.Token(), `{"sender":{"name":"B"},"type":"text","text":"x"}`, StatusBadData, ""},
		{"no type", s.Token(), `{"receiver":"a","sender":{"name":"B"},"text":"x"}`, StatusBadData, ""},
		{"unknown type", s.Token(), `{"receiver":"a","sender":{"name":"B"},"type":"carousel"}`, StatusBadData, ""},
		{"no sender", s.Token(), `{"receiver":"a","type":"text","text":"x"}`, StatusMissingData, "sender.name"},
		{"text missing", s.Token(), `{"receiver":"a","sender":{"name":"B"},"type":"text"}`, StatusMissingData, "text"},
		{"video without size", s.Token(), `{"receiver":"a","sender":{"name":"B"},"type":"video","media":"https://x/v.mp4"}`, StatusMissingData, "size"},
		{"text too long", s.Token(), `{"receiver":"a","sender":{"name":"B"},"type":"text","text":"` + strings.Repeat("é", 7001) + `"}`, StatusBadData, ""},
		{"rich media v1", s.Token(), `{"receiver":"a","min_api_version":1,"sender":{"name":"B"},"type":"rich_media","rich_media":{}}`, StatusIncompatibleVersion, ""},
		{"unsubscribed", s.Token(), `{"receiver":"gone=","sender":{"name":"B"},"type":"text","text":"x"}`, StatusNotSubscribed, "notSubscribed"},
		{"scripted 11", s.Token(), `{"receiver":"nodevice=","sender":{"name":"B"},"type":"text","text":"x"}`, 11, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, send, tt.token, tt.body)
			if a.http != 200 || a.status != tt.status || !strings.Contains(a.msg, tt.msg) || a.token != "" {
				t.Errorf("got %+v, want status %d %q", a, tt.status, tt.msg)
			}
		})
	}
	s.SetReceiverStatus("gone=", 0)
	if a := call(t, send, s.Token(), `{"receiver":"gone=","sender":{"name":"B"},"type":"text","text":"x"}`); a.status != 0 {
		t.Errorf("cleared receiver: %+v", a)
	}
	s.SetToken("rotated")
	if a := call(t, send, "rotated", text); a.status != 0 {
		t.Errorf("new token refused: %+v", a)
	}
}

func TestFailNext(t *testing.T) {
	s := start(t)
	send := s.URL() + "/send_message"
	s.FailNext(2, 503)
	for i := range 2 {
		if a := call(t, send, s.Token(), text); a.http != 503 || a.status != -1 {
			t.Errorf("call %d: %+v", i, a)
		}
	}
	if a := call(t, send, s.Token(), text); a.http != 200 || a.status != 0 {
		t.Errorf("after failures: %+v", a)
	}
	if r := s.Requests()[0]; r.HTTPStatus != 503 || r.Status != -1 {
		t.Errorf("recorded %+v", r)
	}
}

func TestRateLimit(t *testing.T) {
	s := start(t)
	send := s.URL() + "/send_message"
	s.SetRateLimit(3)
	limited := 0
	for range 8 {
		if a := call(t, send, s.Token(), text); a.status == StatusTooManyRequests {
			limited++
		}
	}
	if limited < 4 {
		t.Errorf("%d of 8 limited at 3/s", limited)
	}
	s.SetRateLimit(0)
	if a := call(t, send, s.Token(), text); a.status != 0 {
		t.Errorf("unlimited again: %+v", a)
	}
}

func TestLatencyAndReset(t *testing.T) {
	s := start(t)
	s.SetLatency(50 * time.Millisecond)
	t0 := time.Now()
	call(t, s.URL()+"/send_message", s.Token(), text)
	if d := time.Since(t0); d < 50*time.Millisecond {
		t.Errorf("answered in %v", d)
	}
	s.Unsubscribe(receiver)
	s.FailNext(3, 500)
	s.Reset()
	if s.Count() != 0 || len(s.Requests()) != 0 {
		t.Error("Reset kept calls")
	}
	t0 = time.Now()
	if a := call(t, s.URL()+"/send_message", s.Token(), text); a.status != 0 || time.Since(t0) > 40*time.Millisecond {
		t.Errorf("after Reset: %+v in %v", a, time.Since(t0))
	}
}

// The webhook probe reaches a real listener, signed with the token.
func TestSetWebhook(t *testing.T) {
	s := start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	status := 200
	hook := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		defer mu.Unlock()
		body := ctx.PostBody()
		if string(ctx.Request.Header.Peek("X-Viber-Content-Signature")) != Sign(s.Token(), body) {
			t.Errorf("probe signature does not match")
		}
		got = append(got, string(body))
		ctx.SetStatusCode(status)
	}}
	go hook.Serve(ln)     //nolint:errcheck
	defer hook.Shutdown() //nolint:errcheck
	url := "http://" + ln.Addr().String() + "/webhooks/viber/vb"

	a := call(t, s.URL()+"/set_webhook", s.Token(), `{"url":"`+url+`","event_types":["delivered","seen"],"send_name":true}`)
	if a.status != 0 || s.Webhook() != url {
		t.Fatalf("set_webhook: %+v, webhook %q", a, s.Webhook())
	}
	if ev, _ := a.raw["event_types"].([]any); len(ev) != 2 {
		t.Errorf("event_types %v", a.raw["event_types"])
	}
	mu.Lock()
	if len(got) != 1 || !strings.Contains(got[0], `"event":"webhook"`) {
		t.Errorf("probe bodies %q", got)
	}
	status = 500
	mu.Unlock()
	if a := call(t, s.URL()+"/set_webhook", s.Token(), `{"url":"`+url+`/other"}`); a.status != StatusInvalidURL {
		t.Errorf("refused probe: %+v", a)
	}
	if s.Webhook() != url {
		t.Errorf("failed set_webhook changed the webhook to %q", s.Webhook())
	}

	info := call(t, s.URL()+"/get_account_info", s.Token(), `{}`)
	if info.status != 0 || info.raw["webhook"] != url || info.raw["name"] == "" {
		t.Errorf("get_account_info: %+v", info.raw)
	}
	if a := call(t, s.URL()+"/set_webhook", s.Token(), `{"url":""}`); a.status != 0 || s.Webhook() != "" {
		t.Errorf("remove: %+v", a)
	}
	if a := call(t, s.URL()+"/set_webhook", "bad", `{"url":""}`); a.status != StatusInvalidAuthToken {
		t.Errorf("bad token: %+v", a)
	}
}

func TestMediaAndPaths(t *testing.T) {
	s := start(t)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.MediaURL("clip.mp4", 123456))
	req.Header.SetMethod("HEAD")
	if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 || resp.Header.ContentLength() != 123456 {
		t.Fatalf("HEAD: %v %d %d", err, resp.StatusCode(), resp.Header.ContentLength())
	}
	req.Header.SetMethod("GET")
	resp.Reset() // a HEAD answer skips its body
	if err := client.Do(req, resp); err != nil || len(resp.Body()) != 123456 {
		t.Fatalf("GET: %v %d bytes", err, len(resp.Body()))
	}
	if a := call(t, s.URL()+"/broadcast_message", s.Token(), `{}`); a.http != 404 {
		t.Errorf("unknown method: %+v", a)
	}
	req.SetRequestURI(s.URL() + "/send_message")
	if err := client.Do(req, resp); err != nil || resp.StatusCode() != 405 {
		t.Errorf("GET send_message: %d", resp.StatusCode())
	}
}

func TestConcurrent(t *testing.T) {
	s := start(t)
	send := s.URL() + "/send_message"
	var wg sync.WaitGroup
	tokens := make(chan string, 40)
	for range 4 {
		wg.Go(func() {
			for range 10 {
				tokens <- call(t, send, s.Token(), text).token.String()
			}
		})
	}
	wg.Wait()
	close(tokens)
	seen := map[string]bool{}
	for tok := range tokens {
		if seen[tok] {
			t.Errorf("token %s twice", tok)
		}
		seen[tok] = true
	}
	if s.Count() != 40 || len(s.Requests()) != 40 {
		t.Errorf("count %d, requests %d", s.Count(), len(s.Requests()))
	}
}
