package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/bench/mockgraph"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

// startGraph starts the mock Graph API serving the test pages.
func startGraph(t *testing.T) *mockgraph.Server {
	t.Helper()
	g := mockgraph.New()
	g.AddPage(testPage, "page-token-1")
	g.AddPage(testPage2, "page-token-2")
	if _, err := g.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// sendsTo returns the texts the mock Graph API accepted, by recipient id,
// in arrival order.
func sendsTo(g *mockgraph.Server) map[string][]string {
	out := map[string][]string{}
	for _, r := range g.Requests() {
		if r.Status != 200 || !strings.HasSuffix(r.Path, "/messages") {
			continue
		}
		v, err := fastjson.ParseBytes(r.Body)
		if err != nil {
			continue
		}
		id := string(v.GetStringBytes("recipient", "id"))
		out[id] = append(out[id], string(v.GetStringBytes("message", "text")))
	}
	return out
}

func waitCount(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type sendAnswer struct {
	Results []normalize.SendResult `json:"results"`
	Error   *struct{ Code, Message string }
}

func (g *gateway) send(t *testing.T, path string, msgs ...normalize.Reply) (int, sendAnswer, http.Header) {
	t.Helper()
	b, _ := json.Marshal(normalize.MessagesRequest{ResponsePath: path, Messages: msgs})
	req, _ := http.NewRequest("POST", g.base+"/v1/messages", strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+testAPIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a sendAnswer
	json.NewDecoder(resp.Body).Decode(&a)
	return resp.StatusCode, a, resp.Header
}

// TestSyncReplyReachesGraph has the backend answer each event with a
// reply and checks the Graph API receives it rendered, as a response.
func TestSyncReplyReachesGraph(t *testing.T) {
	graph := startGraph(t)
	rec := newRecorder(t)
	rec.reply = func(ev normalize.Event) []normalize.Reply {
		return []normalize.Reply{{Text: "echo: " + ev.Text, QuickReplies: []normalize.QuickReply{{Title: "user_email"}}}}
	}
	g := startGateway(t, testConfig(t, rec.url, graph.URL()))
	g.webhook(t, textWebhook(testPage, "u1", "m1", "hello", time.Now().UnixMilli()))
	waitCount(t, "the reply at the Graph API", func() bool { return graph.Count() >= 1 })
	r := graph.Requests()[0]
	if r.Path != "/v25.0/me/messages" || !strings.Contains(r.Query, "access_token=page-token-1") {
		t.Fatalf("call %s?%s", r.Path, r.Query)
	}
	v := fastjson.MustParseBytes(r.Body)
	if string(v.GetStringBytes("recipient", "id")) != "u1" || string(v.GetStringBytes("message", "text")) != "echo: hello" ||
		string(v.GetStringBytes("messaging_type")) != "RESPONSE" ||
		string(v.GetStringBytes("message", "quick_replies", "0", "content_type")) != "user_email" {
		t.Fatalf("rendered %s", r.Body)
	}
}

// TestOTNTokenUsedOnceEndToEnd opts a person in through a real optin
// webhook and sends two otn replies: the first uses the token, the second
// is refused without a call.
func TestOTNTokenUsedOnceEndToEnd(t *testing.T) {
	graph := startGraph(t)
	rec := newRecorder(t)
	g := startGateway(t, testConfig(t, rec.url, graph.URL()))
	optin := fmt.Sprintf(`{"object":"page","entry":[{"id":%[1]q,"time":1,"messaging":[{"sender":{"id":"u9"},"recipient":{"id":%[1]q},"timestamp":%d,"optin":{"type":"one_time_notif_req","payload":"RESTOCK","one_time_notif_token":"otn-abc"}}]}]}`, testPage, time.Now().UnixMilli())
	if st, b := g.webhook(t, optin); st != 200 {
		t.Fatalf("optin webhook: %d %s", st, b)
	}
	path := testPage + "/c/u9"
	st, a, _ := g.send(t, path, normalize.Reply{Text: "It is back in stock", OTN: true})
	if st != 200 || a.Results[0].Error != nil || a.Results[0].MessageID == "" {
		t.Fatalf("first otn send: %d %+v", st, a)
	}
	calls := graph.Count()
	v := fastjson.MustParseBytes(graph.Requests()[calls-1].Body)
	if string(v.GetStringBytes("recipient", "one_time_notif_token")) != "otn-abc" {
		t.Fatalf("first otn send rendered %s", graph.Requests()[calls-1].Body)
	}
	st, a, _ = g.send(t, path, normalize.Reply{Text: "again", OTN: true})
	if st != 200 || a.Results[0].Error == nil || a.Results[0].Error.Code != "no_otn_token" {
		t.Fatalf("second otn send: %d %+v, want no_otn_token", st, a)
	}
	if graph.Count() != calls {
		t.Fatal("the second otn reply reached the Graph API")
	}
}

// TestBreakerEndToEnd makes the Graph API fail with 500s until the breaker
// opens (503 breaker_open with Retry-After, no calls), then recovers it
// through half-open.
func TestBreakerEndToEnd(t *testing.T) {
	graph := startGraph(t)
	rec := newRecorder(t)
	g := startGateway(t, testConfig(t, rec.url, graph.URL()))
	g.webhook(t, textWebhook(testPage, "u1", "m1", "hi", time.Now().UnixMilli()))
	rec.waitFor(1)
	graph.SetServerError(500)
	path := testPage + "/c/u1"
	var st int
	var a sendAnswer
	var hdr http.Header
	for i := 0; i < 20; i++ {
		if st, a, hdr = g.send(t, path, normalize.Reply{Text: "x"}); st == 503 {
			break
		}
	}
	if st != 503 || a.Error == nil || a.Error.Code != "breaker_open" || hdr.Get("Retry-After") == "" {
		t.Fatalf("after repeated 500s: %d %+v Retry-After=%q, want 503 breaker_open", st, a, hdr.Get("Retry-After"))
	}
	calls := graph.Count()
	if st, _, _ = g.send(t, path, normalize.Reply{Text: "x"}); st != 503 || graph.Count() != calls {
		t.Fatal("a call went through the open breaker")
	}
	graph.SetServerError(0)
	waitCount(t, "half-open", func() bool {
		st, a, _ = g.send(t, path, normalize.Reply{Text: "recovered"})
		return st == 200
	})
	if a.Results[0].Error != nil || a.Results[0].MessageID == "" {
		t.Fatalf("after recovery: %+v", a)
	}
}

// TestRecipientErrorBurstDoesNotOpenBreaker fails 20 sends for their
// recipients (551 person unavailable) and checks the bot still sends.
func TestRecipientErrorBurstDoesNotOpenBreaker(t *testing.T) {
	graph := startGraph(t)
	rec := newRecorder(t)
	g := startGateway(t, testConfig(t, rec.url, graph.URL()))
	for i := range 20 {
		u := fmt.Sprint("gone", i)
		graph.SetRecipientError(u, 551, 1545041)
		g.webhook(t, textWebhook(testPage, u, "m"+u, "hi", time.Now().UnixMilli()))
	}
	g.webhook(t, textWebhook(testPage, "ok", "m_ok", "hi", time.Now().UnixMilli()))
	rec.waitFor(21)
	for i := range 20 {
		st, a, _ := g.send(t, testPage+"/c/gone"+fmt.Sprint(i), normalize.Reply{Text: "x"})
		if st != 200 || a.Results[0].Error == nil || a.Results[0].Error.Retryable {
			t.Fatalf("send %d: %d %+v, want a permanent per-recipient error", i, st, a)
		}
		if a.Results[0].Error.ChannelCode != "551/1545041" {
			t.Fatalf("channel_code %q", a.Results[0].Error.ChannelCode)
		}
	}
	if st, a, _ := g.send(t, testPage+"/c/ok", normalize.Reply{Text: "still here"}); st != 200 || a.Results[0].Error != nil {
		t.Fatalf("after the burst: %d %+v", st, a)
	}
}

// TestThousandRepliesToFiftyPathsEndToEnd sends 1,000 replies to 50
// conversations concurrently through /v1/messages and checks each
// conversation received them in order at the Graph API.
func TestThousandRepliesToFiftyPathsEndToEnd(t *testing.T) {
	graph := startGraph(t)
	thousandReplies(t, graph, testConfig(t, newRecorder(t).url, graph.URL()))
	if graph.Batches() != 0 {
		t.Errorf("%d batch requests without send_batch", graph.Batches())
	}
}

// TestSendBatchingEndToEnd is the same with send_batch: the replies reach
// the Graph API in batch requests, still in order per conversation.
func TestSendBatchingEndToEnd(t *testing.T) {
	graph := startGraph(t)
	cfg := testConfig(t, newRecorder(t).url, graph.URL())
	cfg.Connections[0].Messenger.SendBatching = config.SendBatching{SendBatch: 16, SendBatchWait: 5 * time.Millisecond}
	thousandReplies(t, graph, cfg)
	if b := graph.Batches(); b == 0 || b >= graph.Count() {
		t.Errorf("%d batch requests for %d calls", b, graph.Count())
	}
}

func thousandReplies(t *testing.T, graph *mockgraph.Server, cfg *config.Config) {
	t.Helper()
	g := startGateway(t, cfg)
	const paths, per, batch = 50, 20, 5
	for u := range paths {
		g.webhook(t, textWebhook(testPage, fmt.Sprint("p", u), fmt.Sprint("m", u), "hi", time.Now().UnixMilli()))
	}
	var wg sync.WaitGroup
	for u := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < per; b += batch {
				msgs := make([]normalize.Reply, batch)
				for i := range msgs {
					msgs[i] = normalize.Reply{Text: fmt.Sprint(b + i)}
				}
				if st, a, _ := g.send(t, testPage+"/c/p"+fmt.Sprint(u), msgs...); st != 200 {
					t.Errorf("path %d: %d %+v", u, st, a)
				}
			}
		}()
	}
	wg.Wait()
	got := sendsTo(graph)
	for u := range paths {
		texts := got[fmt.Sprint("p", u)]
		if len(texts) != per {
			t.Fatalf("p%d got %d replies, want %d", u, len(texts), per)
		}
		for i, s := range texts {
			if s != fmt.Sprint(i) {
				t.Fatalf("p%d: reply %d is %q: out of order", u, i, s)
			}
		}
	}
}

// TestAPIAuth checks the /v1 API refuses missing and wrong tokens.
func TestAPIAuth(t *testing.T) {
	g := startGateway(t, testConfig(t, newRecorder(t).url, ""))
	for _, c := range []struct {
		hdr  map[string]string
		code int
	}{
		{nil, 401},
		{map[string]string{"Authorization": "Bearer wrong"}, 403},
		{map[string]string{"Authorization": "Basic " + testAPIToken}, 401},
	} {
		st, b := post(t, g.base+"/v1/messages", []byte(`{"response_path":"1/c/2","messages":[{"text":"x"}]}`), c.hdr)
		if st != c.code || !strings.Contains(string(b), `"error"`) {
			t.Errorf("%v: %d %s, want %d", c.hdr, st, b, c.code)
		}
	}
	st, b := g.api(t, "/v1/messages", map[string]any{"response_path": "1/c/2", "messages": []any{map[string]any{"txet": "typo"}}})
	if st != 400 || !strings.Contains(string(b), "malformed_json") {
		t.Errorf("unknown field: %d %s, want 400", st, b)
	}
}

// TestHandoverEndToEnd runs the handover actions against the mock.
func TestHandoverEndToEnd(t *testing.T) {
	graph := startGraph(t)
	g := startGateway(t, testConfig(t, newRecorder(t).url, graph.URL()))
	path := testPage + "/c/u1"
	for _, action := range []string{"inbox", "take", "request", "release"} {
		if st, b := g.api(t, "/v1/handover", map[string]string{"response_path": path, "action": action}); st != 200 {
			t.Fatalf("%s: %d %s", action, st, b)
		}
	}
	if st, b := g.api(t, "/v1/handover", map[string]string{"response_path": path, "action": "pass", "target_app_id": "263902037430900"}); st != 200 {
		t.Fatalf("pass: %d %s", st, b)
	}
	graph.SetThreadOwner(testPage, "u1", "263902037430900")
	st, b := g.api(t, "/v1/handover", map[string]string{"response_path": path, "action": "owner"})
	if st != 200 || !strings.Contains(string(b), `"owner":"263902037430900"`) {
		t.Fatalf("owner: %d %s", st, b)
	}
	if st, _ := g.api(t, "/v1/handover", map[string]string{"response_path": path, "action": "steal"}); st != 400 {
		t.Fatalf("unknown action: %d", st)
	}
	var sawInbox bool
	for _, r := range graph.Requests() {
		if strings.HasSuffix(r.Path, "/pass_thread_control") && strings.Contains(string(r.Body), `"target_app_id":263902037430900`) {
			sawInbox = true
		}
	}
	if !sawInbox {
		t.Fatal("inbox did not pass thread control to the Page Inbox app")
	}
}

// TestSendByProvidedID links two Messenger users of one person to the
// customer's id and checks /v1/messages addressed by provided_id reaches
// the conversation the person wrote from last; an unknown id is a 404.
func TestSendByProvidedID(t *testing.T) {
	graph := startGraph(t)
	rec := newRecorder(t)
	g := startGateway(t, testConfig(t, rec.url, graph.URL()))
	now := time.Now().UnixMilli()
	g.webhook(t, textWebhook(testPage, "older", "m1", "hi", now-60_000))
	g.webhook(t, textWebhook(testPage2, "newer", "m2", "hi", now))
	rec.waitFor(2)
	for _, p := range []string{testPage + "/c/older", testPage2 + "/c/newer"} {
		if st, b := g.api(t, "/v1/identities/link", map[string]string{"response_path": p, "provided_id": "cust_42"}); st != 200 {
			t.Fatalf("link %s: %d %s", p, st, b)
		}
	}
	st, b := g.api(t, "/v1/messages", map[string]any{"provided_id": "cust_42", "messages": []map[string]string{{"text": "found you"}}})
	if st != 200 || !strings.Contains(string(b), `"response_path":"`+testPage2+`/c/newer"`) {
		t.Fatalf("send by provided_id: %d %s", st, b)
	}
	if got := sendsTo(graph)["newer"]; fmt.Sprint(got) != "[found you]" {
		t.Fatalf("Graph API got %v for the newer conversation", sendsTo(graph))
	}
	if st, b := g.api(t, "/v1/messages", map[string]any{"provided_id": "nobody", "messages": []map[string]string{{"text": "x"}}}); st != 404 || !strings.Contains(string(b), "unknown_person") {
		t.Fatalf("unknown provided_id: %d %s", st, b)
	}
}

// TestBackendBatchingEndToEnd runs the gateway with backend.batch: events
// of many conversations reach the backend in fewer POSTs, in order per
// conversation, and every reply reaches the Graph API.
func TestBackendBatchingEndToEnd(t *testing.T) {
	graph := startGraph(t)
	rec := newRecorder(t)
	rec.reply = func(ev normalize.Event) []normalize.Reply { return []normalize.Reply{{Text: "echo: " + ev.Text}} }
	cfg := testConfig(t, rec.url, graph.URL())
	cfg.Backend.Batch, cfg.Backend.BatchWait = 16, 5*time.Millisecond
	g := startGateway(t, cfg)
	const users, per = 12, 4
	now := time.Now().UnixMilli()
	var wg sync.WaitGroup
	for u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if st, b := g.webhook(t, textWebhook(testPage, fmt.Sprint("b", u), fmt.Sprintf("m_%d_%d", u, i), fmt.Sprint(i), now+int64(i))); st != 200 {
					t.Errorf("webhook: %d %s", st, b)
				}
			}
		}()
	}
	wg.Wait()
	events := rec.waitFor(users * per)
	next := map[string]int{}
	for _, ev := range events {
		if ev.Text != fmt.Sprint(next[ev.ChannelID]) {
			t.Fatalf("%s: got %q, want %d: out of order", ev.ChannelID, ev.Text, next[ev.ChannelID])
		}
		next[ev.ChannelID]++
	}
	rec.mu.Lock()
	batches := rec.batches
	rec.mu.Unlock()
	if batches == 0 || batches >= users*per {
		t.Fatalf("%d batched POSTs for %d events", batches, users*per)
	}
	waitCount(t, "every reply", func() bool { return graph.Count() >= users*per })
	for u := range users {
		if got := sendsTo(graph)[fmt.Sprint("b", u)]; fmt.Sprint(got) != "[echo: 0 echo: 1 echo: 2 echo: 3]" {
			t.Fatalf("b%d replies %v", u, got)
		}
	}
}
