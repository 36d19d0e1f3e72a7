package meta

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

// batchDoer plays Graph for batch requests: it records each request and
// answers with answer(request), or err.
type batchDoer struct {
	mu     sync.Mutex
	reqs   []*fasthttp.Request
	answer func(req *fasthttp.Request, resp *fasthttp.Response)
	err    error
}

func (d *batchDoer) Do(req *fasthttp.Request, resp *fasthttp.Response) error {
	d.mu.Lock()
	c := &fasthttp.Request{}
	req.CopyTo(c)
	d.reqs = append(d.reqs, c)
	d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	d.answer(req, resp)
	return nil
}

// batchCall is one call of a batch request as Graph reads it.
type batchCall struct {
	method, url string
	form        fasthttp.Args
}

// readBatch parses a batch request the way Graph does. It may run on the
// caller's goroutines: it reports with Errorf.
func readBatch(t *testing.T, req *fasthttp.Request) (top *fasthttp.Args, calls []*batchCall) {
	t.Helper()
	top = &fasthttp.Args{}
	if ct := string(req.Header.ContentType()); ct != "application/x-www-form-urlencoded" {
		t.Errorf("content type %q", ct)
		return top, nil
	}
	top.ParseBytes(req.Body())
	v, err := fastjson.ParseBytes(top.Peek("batch"))
	if err != nil {
		t.Errorf("batch parameter: %v", err)
		return top, nil
	}
	for _, c := range v.GetArray() {
		bc := &batchCall{method: string(c.GetStringBytes("method")), url: string(c.GetStringBytes("relative_url"))}
		bc.form.ParseBytes(c.GetStringBytes("body"))
		calls = append(calls, bc)
	}
	return top, calls
}

// byRecipient answers each call of a batch by its recipient id:
// "ok…" succeeds, "gone" is error 551, "late" is not completed (null). A
// plain call succeeds.
func byRecipient(t *testing.T) func(*fasthttp.Request, *fasthttp.Response) {
	return func(req *fasthttp.Request, resp *fasthttp.Response) {
		if string(req.Header.ContentType()) == "application/json" {
			psid := fastjson.GetString(req.Body(), "recipient", "id")
			resp.SetBodyString(`{"recipient_id":"` + psid + `","message_id":"m_` + psid + `"}`)
			return
		}
		_, calls := readBatch(t, req)
		out := []byte{'['}
		for i, c := range calls {
			if i > 0 {
				out = append(out, ',')
			}
			psid := fastjson.GetString(c.form.Peek("recipient"), "id")
			switch {
			case psid == "late":
				out = append(out, "null"...)
			case psid == "gone":
				out = append(out, `{"code":400,"body":`...)
				out = normalize.AppendString(out, `{"error":{"message":"(#551) This person isn't available right now.","type":"OAuthException","code":551,"fbtrace_id":"A1"}}`)
				out = append(out, '}')
			default:
				out = append(out, `{"code":200,"body":`...)
				out = normalize.AppendString(out, `{"recipient_id":"`+psid+`","message_id":"m_`+psid+`"}`)
				out = append(out, '}')
			}
		}
		resp.Header.Set("X-Business-Use-Case-Usage", `{"1":[{"type":"messenger","call_count":10,"estimated_time_to_regain_access":0}]}`)
		resp.SetBody(append(out, ']'))
	}
}

var batchAPI = &SendAPI{Channel: "Messenger", Bot: "page", User: "PSID", MaxText: 2000}

// sendAll sends a text to each PSID at once, one goroutine each, and
// returns the outcomes by PSID.
func sendAll(e Endpoint, psids ...string) (map[string]adapters.Sent, map[string]error) {
	var mu sync.Mutex
	sent, errs := map[string]adapters.Sent{}, map[string]error{}
	var wg sync.WaitGroup
	for _, p := range psids {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := batchAPI.Send(ctx, e, adapters.Recipient{BotID: pageFor(p), ChannelID: p}, &normalize.Reply{Text: "hi " + p, MessagingType: "RESPONSE"})
			mu.Lock()
			sent[p], errs[p] = s, err
			mu.Unlock()
		})
	}
	wg.Wait()
	return sent, errs
}

// pageFor spreads recipients over two Pages with different tokens.
func pageFor(psid string) string {
	if len(psid)%2 == 0 {
		return "1"
	}
	return "2"
}

var batchTokens = map[string]string{"1": "tok-one", "2": "tok+two/="}

// busy makes b's next calls find calls coming close together, as under
// load: they wait for the batch to fill.
func busy(b *Batcher) *Batcher {
	b.arrivals.Busy(time.Now(), 0)
	return b
}

// TestBatch sends four replies at once through a Batcher of four: one
// batch request carries them, each with its own Page token and its
// message as a form, and each reply gets its own outcome.
func TestBatch(t *testing.T) {
	d := &batchDoer{answer: byRecipient(t)}
	e := Endpoint{APIBase: "https://graph.example/v25.0", Tokens: batchTokens, Client: d,
		Batch: busy(&Batcher{Max: 4, Wait: time.Minute})} // fills before it waits
	sent, errs := sendAll(e, "ok1", "ok22", "gone", "late")
	if len(d.reqs) != 1 {
		t.Fatalf("%d requests, want one batch", len(d.reqs))
	}
	req := d.reqs[0]
	if u := string(req.URI().FullURI()); u != "https://graph.example/" {
		t.Errorf("batch posted to %s, want the Graph root", u)
	}
	top, calls := readBatch(t, req)
	if string(top.Peek("include_headers")) != "false" || len(top.Peek("access_token")) == 0 {
		t.Errorf("top-level arguments %s", top.String())
	}
	if len(calls) != 4 {
		t.Fatalf("%d calls in the batch", len(calls))
	}
	for _, c := range calls {
		psid := fastjson.GetString(c.form.Peek("recipient"), "id")
		if c.method != "POST" || c.url != "v25.0/me/messages" {
			t.Errorf("%s: %s %s", psid, c.method, c.url)
		}
		if tok := string(c.form.Peek("access_token")); tok != batchTokens[pageFor(psid)] {
			t.Errorf("%s: token %q, want its page's", psid, tok)
		}
		if got := fastjson.GetString(c.form.Peek("message"), "text"); got != "hi "+psid {
			t.Errorf("%s: message %q", psid, c.form.Peek("message"))
		}
		if mt := string(c.form.Peek("messaging_type")); mt != "RESPONSE" {
			t.Errorf("%s: messaging_type %q (a string member is sent bare)", psid, mt)
		}
	}
	for _, p := range []string{"ok1", "ok22"} {
		if errs[p] != nil || sent[p].MessageID != "m_"+p {
			t.Errorf("%s: %+v %v", p, sent[p], errs[p])
		}
	}
	var ae *adapters.APIError
	if !errors.As(errs["gone"], &ae) || ae.Class != adapters.ClassRecipient || ae.Code != "user_unavailable" || ae.HTTPStatus != 400 {
		t.Errorf("gone: %v", errs["gone"])
	}
	if !errors.As(errs["late"], &ae) || ae.Class != adapters.ClassTransient || ae.Code != "batch_incomplete" {
		t.Errorf("late: %v", errs["late"])
	}
}

// TestBatchWhole covers answers that fail every call of a batch, each the
// way a single call's answer would.
func TestBatchWhole(t *testing.T) {
	answer := func(status int, body string) func(*fasthttp.Request, *fasthttp.Response) {
		return func(_ *fasthttp.Request, resp *fasthttp.Response) {
			resp.SetStatusCode(status)
			resp.SetBodyString(body)
		}
	}
	two := `[{"code":200,"body":"{}"},{"code":200,"body":"{}"}]`
	for _, tt := range []struct {
		name   string
		d      *batchDoer
		class  adapters.Class
		code   string
		status int
	}{
		{"bad top token", &batchDoer{answer: answer(400, `{"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190}}`)}, adapters.ClassConfig, "bad_token", 400},
		{"throttled whole", &batchDoer{answer: answer(400, `{"error":{"message":"limit","type":"OAuthException","code":613}}`)}, adapters.ClassRateLimited, "rate_limited", 400},
		{"server error", &batchDoer{answer: answer(502, `<html>bad gateway</html>`)}, adapters.ClassTransient, "server_error", 502},
		{"object", &batchDoer{answer: answer(200, `{"ok":true}`)}, adapters.ClassTransient, "bad_response", 200},
		{"too few", &batchDoer{answer: answer(200, `[{"code":200,"body":"{}"}]`)}, adapters.ClassTransient, "bad_response", 200},
		{"not a result", &batchDoer{answer: answer(200, `[{"code":"200","body":"{}"},{"code":200}]`)}, adapters.ClassTransient, "bad_response", 200},
		{"call body not an object", &batchDoer{answer: answer(200, `[{"code":200,"body":"[]"},{"code":200,"body":"x"}]`)}, adapters.ClassTransient, "bad_response", 200},
		{"network", &batchDoer{err: errors.New("connection reset")}, adapters.ClassTransient, "network", 0},
		{"timeout", &batchDoer{err: fasthttp.ErrTimeout}, adapters.ClassTransient, "timeout", 0},
	} {
		e := Endpoint{APIBase: "https://graph.example/v25.0/", Tokens: batchTokens, Client: tt.d, Batch: busy(&Batcher{Max: 2, Wait: time.Minute})}
		_, errs := sendAll(e, "ok1", "ok22")
		if len(tt.d.reqs) != 1 {
			t.Errorf("%s: %d requests", tt.name, len(tt.d.reqs))
		}
		for p, err := range errs {
			var ae *adapters.APIError
			if !errors.As(err, &ae) || ae.Class != tt.class || ae.Code != tt.code || ae.HTTPStatus != tt.status {
				t.Errorf("%s: %s: %v (%+v), want %v %s", tt.name, p, err, ae, tt.class, tt.code)
			}
		}
	}
	// Sanity: the same two calls succeed when Graph answers them.
	d := &batchDoer{answer: answer(200, two)}
	_, errs := sendAll(Endpoint{APIBase: "https://graph.example/v25.0", Tokens: batchTokens, Client: d, Batch: busy(&Batcher{Max: 2, Wait: time.Minute})}, "ok1", "ok22")
	for p, err := range errs {
		if err != nil {
			t.Errorf("answered: %s: %v", p, err)
		}
	}
}

// TestBatchAlone: a call with nobody to share its batch goes out as a
// plain call, and a Batcher below 2 never batches.
func TestBatchAlone(t *testing.T) {
	plain := func(_ *fasthttp.Request, resp *fasthttp.Response) {
		resp.SetBodyString(`{"recipient_id":"ok1","message_id":"m_1"}`)
	}
	for _, b := range []*Batcher{{Max: 8, Wait: time.Millisecond}, {Max: 1}, {}, nil} {
		d := &batchDoer{answer: plain}
		e := Endpoint{APIBase: "https://graph.example/v25.0", Tokens: batchTokens, Client: d, Batch: b}
		sent, errs := sendAll(e, "ok1")
		if errs["ok1"] != nil || sent["ok1"].MessageID != "m_1" {
			t.Errorf("%+v: %+v %v", b, sent["ok1"], errs["ok1"])
		}
		if len(d.reqs) != 1 || !strings.HasSuffix(string(d.reqs[0].URI().Path()), "/me/messages") ||
			string(d.reqs[0].Header.ContentType()) != "application/json" {
			t.Errorf("%+v: not a plain call: %d requests", b, len(d.reqs))
		}
	}
}

// TestBatchQuiet: a call after a quiet spell goes out at once as a plain
// call, however long the wait; calls right behind it batch.
func TestBatchQuiet(t *testing.T) {
	d := &batchDoer{answer: byRecipient(t)}
	e := Endpoint{APIBase: "https://graph.example/v25.0", Tokens: batchTokens, Client: d, Batch: &Batcher{Max: 2, Wait: time.Hour}}
	done := make(chan map[string]error, 1)
	go func() { _, errs := sendAll(e, "ok1"); done <- errs }()
	select {
	case errs := <-done:
		if errs["ok1"] != nil {
			t.Fatal(errs["ok1"])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a call after a quiet spell waited for others")
	}
	if len(d.reqs) != 1 || string(d.reqs[0].Header.ContentType()) != "application/json" {
		t.Fatalf("%d requests, want one plain call", len(d.reqs))
	}
	// Within the wait of that one: the next two wait for each other.
	if _, errs := sendAll(e, "ok2", "ok33"); errs["ok2"] != nil || errs["ok33"] != nil {
		t.Fatal(errs)
	}
	if len(d.reqs) != 2 {
		t.Fatalf("%d requests, want the two calls in one batch", len(d.reqs))
	}
	if _, calls := readBatch(t, d.reqs[1]); len(calls) != 2 {
		t.Fatalf("%d calls in the batch", len(calls))
	}
}

// TestBatchCancelled: a call whose context is done before it joins a
// batch is not sent.
func TestBatchCancelled(t *testing.T) {
	d := &batchDoer{answer: byRecipient(t)}
	e := Endpoint{APIBase: "https://graph.example/v25.0", Tokens: batchTokens, Client: d, Batch: busy(&Batcher{Max: 2, Wait: time.Minute})}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := batchAPI.Send(ctx, e, adapters.Recipient{BotID: "1", ChannelID: "ok1"}, &normalize.Reply{Text: "x"})
	var ae *adapters.APIError
	if !errors.As(err, &ae) || ae.Code != "canceled" || len(d.reqs) != 0 {
		t.Errorf("%v, %d requests", err, len(d.reqs))
	}
}

// TestBatchMax: more calls than Max make several batches, none larger
// than Max, and a Max beyond Graph's limit is held to it.
func TestBatchMax(t *testing.T) {
	d := &batchDoer{answer: byRecipient(t)}
	e := Endpoint{APIBase: "https://graph.example/v25.0", Tokens: batchTokens, Client: d, Batch: busy(&Batcher{Max: 3, Wait: 20 * time.Millisecond})}
	var psids []string
	for i := range 7 {
		psids = append(psids, "ok"+strconv.Itoa(i))
	}
	_, errs := sendAll(e, psids...)
	for p, err := range errs {
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	calls := 0
	for _, r := range d.reqs {
		n := 1
		if string(r.Header.ContentType()) != "application/json" {
			_, cs := readBatch(t, r)
			n = len(cs)
		}
		if n > 3 {
			t.Errorf("a batch of %d", n)
		}
		calls += n
	}
	if calls != 7 || len(d.reqs) < 3 {
		t.Errorf("%d calls in %d requests", calls, len(d.reqs))
	}
	if b := NewBatcher(config.SendBatching{SendBatch: 500, SendBatchWait: time.Millisecond}); b.Max != MaxBatch {
		t.Errorf("NewBatcher(500).Max = %d", b.Max)
	}
	if NewBatcher(config.SendBatching{SendBatch: 1}) != nil {
		t.Error("NewBatcher(1) batches")
	}
}

// TestBatchTarget: a batch goes to the Graph root and its calls carry the
// configured version.
func TestBatchTarget(t *testing.T) {
	for _, c := range []struct{ base, root, version string }{
		{"https://graph.facebook.com/v25.0", "https://graph.facebook.com/", "v25.0/"},
		{"https://graph.facebook.com/v25.0/", "https://graph.facebook.com/", "v25.0/"},
		{"http://127.0.0.1:9/proxy/v21.0", "http://127.0.0.1:9/proxy/", "v21.0/"},
		{"https://graph.facebook.com", "https://graph.facebook.com/", ""},
		{"http://127.0.0.1:9/graph", "http://127.0.0.1:9/graph/", ""},
		{"http://v1", "http://v1/", ""},
	} {
		if root, v := batchTarget(c.base); root != c.root || v != c.version {
			t.Errorf("%s: %q %q, want %q %q", c.base, root, v, c.root, c.version)
		}
	}
}

// TestAppendForm: each member of the rendered body becomes one form
// argument holding the same value, strings bare, and the token is added.
func TestAppendForm(t *testing.T) {
	body := `{"recipient":{"id":"1"},"messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT","message":{"text":"a & b = 100% \"q\" é","quick_replies":[{"content_type":"text","title":"x","payload":"P+1"}]},"notification_type":"SILENT_PUSH"}`
	form, ok := appendForm(nil, new([]byte), []byte(body), "t&k=n")
	if !ok {
		t.Fatal("refused an object")
	}
	var a fasthttp.Args
	a.ParseBytes(form)
	src := fastjson.MustParse(body)
	o, _ := src.Object()
	n := 0
	o.Visit(func(k []byte, v *fastjson.Value) {
		n++
		want := string(v.MarshalTo(nil))
		if v.Type() == fastjson.TypeString {
			want = string(v.GetStringBytes())
		}
		if got := string(a.Peek(string(k))); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	})
	if a.Len() != n+1 || string(a.Peek("access_token")) != "t&k=n" {
		t.Errorf("form %s", form)
	}
	if _, ok := appendForm(nil, new([]byte), []byte(`[1]`), "t"); ok {
		t.Error("took an array")
	}
}

// FuzzBatchAnswer: whatever Graph answers a batch of three, each call
// gets exactly one outcome (an error, or a status with its body), and
// nothing panics.
func FuzzBatchAnswer(f *testing.F) {
	for _, s := range []string{
		`[{"code":200,"body":"{\"recipient_id\":\"1\",\"message_id\":\"m_1\"}"},null,{"code":400,"body":"{\"error\":{\"code\":551}}"}]`,
		`[{"code":200,"headers":[{"name":"Content-Type","value":"text/javascript"}],"body":"{}"},{"code":200,"body":"{}"},{"code":200,"body":"{}"}]`,
		`{"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190}}`,
		`[1,2]`, `[null,null,null]`, `[{"code":"200","body":{}},{},[]]`, ``, `<html>`,
	} {
		f.Add(200, []byte(s))
		f.Add(400, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		ops := []*batchOp{{}, {}, {}}
		answerOps(ops, status, body, nil)
		for i, op := range ops {
			if (op.err == nil) == (op.status == 0) {
				t.Fatalf("call %d: status %d, err %v: want exactly one outcome", i, op.status, op.err)
			}
		}
	})
}

// FuzzAppendForm: a JSON object's form holds each member's value (a
// string bare, anything else as JSON) and nothing else but the token.
func FuzzAppendForm(f *testing.F) {
	f.Add([]byte(`{"recipient":{"id":"1"},"messaging_type":"RESPONSE","message":{"text":"a & b = 100% é"}}`), "tok+/=")
	f.Add([]byte(`{"recipient":{"notification_messages_token":"x"},"message":{"attachment":{"type":"image","payload":{"url":"https://e.x/a?b=c&d"}}},"n":1.5e3,"b":true,"z":null}`), "t")
	f.Add([]byte(`[]`), "t")
	f.Fuzz(func(t *testing.T, obj []byte, token string) {
		form, ok := appendForm(nil, new([]byte), obj, token)
		v, err := fastjson.ParseBytes(obj)
		if ok != (err == nil && v.Type() == fastjson.TypeObject) {
			t.Fatalf("ok %v for %q", ok, obj)
		}
		if !ok {
			return
		}
		var a fasthttp.Args
		a.ParseBytes(form)
		o, _ := v.Object()
		seen := map[string]bool{"access_token": true}
		dup := false
		o.Visit(func(k []byte, _ *fastjson.Value) {
			dup = dup || seen[string(k)]
			seen[string(k)] = true
		})
		if dup {
			return // Peek sees the first of a repeated name only
		}
		o.Visit(func(k []byte, m *fastjson.Value) {
			want := string(m.MarshalTo(nil))
			if m.Type() == fastjson.TypeString {
				want = string(m.GetStringBytes())
			}
			if got := string(a.Peek(string(k))); got != want {
				t.Fatalf("%q = %q, want %q (form %s)", k, got, want, form)
			}
		})
		if a.Len() != o.Len()+1 || string(a.Peek("access_token")) != token {
			t.Fatalf("form %s has %d args for %d members", form, a.Len(), o.Len())
		}
	})
}

// TestBatchCallsReused: each call's batch slot (batchOp) is reused once
// its caller has read its outcome. Rounds of concurrent sends from four
// goroutines at once, in batches of up to 5, must each get the outcome of
// their own call.
func TestBatchCallsReused(t *testing.T) {
	d := &batchDoer{answer: byRecipient(t)}
	e := Endpoint{APIBase: "https://graph.example/v25.0", Tokens: batchTokens, Client: d, Batch: busy(&Batcher{Max: 5, Wait: time.Millisecond})}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for round := range 25 {
				var psids []string
				for i := range 7 {
					psids = append(psids, fmt.Sprintf("u%d_%d_%d", g, round, i))
				}
				sent, errs := sendAll(e, psids...)
				for _, p := range psids {
					if errs[p] != nil || sent[p].MessageID != "m_"+p {
						t.Errorf("%s: got %+v, %v", p, sent[p], errs[p])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if len(d.reqs) >= 4*25*7 {
		t.Errorf("%d requests for %d calls: nothing was batched", len(d.reqs), 4*25*7)
	}
}
