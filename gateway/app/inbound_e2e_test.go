package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

// TestWebhookReachesBackendInOrder sends a batched webhook (two pages,
// several events) and single ones, and checks the backend receives every
// canonical event, signed, with a visitor id, in order per response path.
func TestWebhookReachesBackendInOrder(t *testing.T) {
	rec := newRecorder(t)
	g := startGateway(t, testConfig(t, rec.url, ""))

	batch := fmt.Sprintf(`{"object":"page","entry":[
	 {"id":%[1]q,"time":1,"messaging":[
	  {"sender":{"id":"u1"},"recipient":{"id":%[1]q},"timestamp":1718000000001,"message":{"mid":"m1","text":"one"}},
	  {"sender":{"id":"u1"},"recipient":{"id":%[1]q},"timestamp":1718000000002,"message":{"mid":"m2","text":"two","quick_reply":{"payload":"P2"}}},
	  {"sender":{"id":"u2"},"recipient":{"id":%[1]q},"timestamp":1718000000003,"postback":{"mid":"m3","title":"Go","payload":"GO"}}]},
	 {"id":%[2]q,"time":2,"messaging":[
	  {"sender":{"id":"u1"},"recipient":{"id":%[2]q},"timestamp":1718000000004,"message":{"mid":"m4","text":"other page"}}]}]}`, testPage, testPage2)
	status, body := g.webhook(t, batch)
	if status != 200 {
		t.Fatalf("webhook: %d %s", status, body)
	}
	var ack struct{ Accepted, Duplicates int }
	json.Unmarshal(body, &ack)
	if ack.Accepted != 4 || ack.Duplicates != 0 {
		t.Fatalf("ack %s, want 4 accepted", body)
	}
	for i := 5; i <= 8; i++ {
		if st, b := g.webhook(t, textWebhook(testPage, "u1", fmt.Sprint("m", i), fmt.Sprint("msg ", i), 1718000000000+int64(i))); st != 200 {
			t.Fatalf("webhook %d: %d %s", i, st, b)
		}
	}
	events := rec.waitFor(8)
	byPath := map[string][]string{}
	visitor := map[string]string{}
	for _, ev := range events {
		if ev.Channel != "messenger" || ev.Connection != "fb" {
			t.Errorf("event %s: channel %q connection %q", ev.ID, ev.Channel, ev.Connection)
		}
		if ev.ResponsePath != string(normalize.BuildResponsePath(ev.BotID, ev.ChannelID)) {
			t.Errorf("event %s: response_path %q", ev.ID, ev.ResponsePath)
		}
		if !strings.HasPrefix(ev.VisitorID, "v_") {
			t.Errorf("event %s: visitor_id %q", ev.ID, ev.VisitorID)
		}
		if v, ok := visitor[ev.ResponsePath]; ok && v != ev.VisitorID {
			t.Errorf("path %s: visitor id changed from %s to %s", ev.ResponsePath, v, ev.VisitorID)
		}
		visitor[ev.ResponsePath] = ev.VisitorID
		byPath[ev.ResponsePath] = append(byPath[ev.ResponsePath], ev.NativeID)
	}
	want := map[string][]string{
		testPage + "/c/u1":  {"m1", "m2", "m5", "m6", "m7", "m8"},
		testPage + "/c/u2":  {"m3"},
		testPage2 + "/c/u1": {"m4"},
	}
	for p, mids := range want {
		if fmt.Sprint(byPath[p]) != fmt.Sprint(mids) {
			t.Errorf("path %s: got %v, want %v", p, byPath[p], mids)
		}
	}
	if visitor[testPage+"/c/u1"] == visitor[testPage2+"/c/u1"] {
		t.Error("PSIDs of two pages share a visitor id; PSIDs are page-scoped")
	}
	for _, ev := range events {
		if ev.NativeID == "m2" && (ev.Type != normalize.TypeQuickReply || ev.Payload != "P2") {
			t.Errorf("quick reply event: %+v", ev)
		}
	}
}

// TestDuplicateWebhookReachesBackendOnce replays a webhook, as Meta does
// on a slow answer, and checks the backend sees it once.
func TestDuplicateWebhookReachesBackendOnce(t *testing.T) {
	rec := newRecorder(t)
	g := startGateway(t, testConfig(t, rec.url, ""))
	body := textWebhook(testPage, "u1", "m_dup", "hello", 1718000000001)
	if st, _ := g.webhook(t, body); st != 200 {
		t.Fatal(st)
	}
	st, b := g.webhook(t, body)
	if st != 200 || !strings.Contains(string(b), `"duplicates":1`) {
		t.Fatalf("retry answered %d %s, want 200 with one duplicate", st, b)
	}
	// A later event on the same path arrives after anything queued before
	// it, so once it is in, a duplicate would have been seen.
	g.webhook(t, textWebhook(testPage, "u1", "m_after", "after", 1718000000002))
	events := rec.waitFor(2)
	if len(events) != 2 || events[0].NativeID != "m_dup" || events[1].NativeID != "m_after" {
		t.Fatalf("backend got %v", nativeIDs(events))
	}
}

// TestBackendDownThenUp keeps the backend failing while events arrive on
// many paths, then recovers it: every event arrives once, in order per
// path, and the provider got its 200s while the backend was down.
func TestBackendDownThenUp(t *testing.T) {
	rec := newRecorder(t)
	rec.setDown(true)
	g := startGateway(t, testConfig(t, rec.url, ""))
	const users, per = 10, 5
	for i := range per {
		for u := range users {
			mid := fmt.Sprintf("m_%d_%d", u, i)
			if st, b := g.webhook(t, textWebhook(testPage, fmt.Sprint("u", u), mid, mid, int64(1718000000000+i))); st != 200 {
				t.Fatalf("webhook while backend down: %d %s", st, b)
			}
		}
	}
	rec.waitTries(3 * users) // every lane retried at least a few times
	if n := rec.count(); n != 0 {
		t.Fatalf("backend acknowledged %d events while down", n)
	}
	rec.setDown(false)
	events := rec.waitFor(users * per)
	seen := map[string]bool{}
	next := map[string]int{}
	for _, ev := range events {
		if seen[ev.ID] {
			t.Errorf("event %s delivered twice", ev.ID)
		}
		seen[ev.ID] = true
		var u, i int
		fmt.Sscanf(ev.NativeID, "m_%d_%d", &u, &i)
		if i != next[ev.ChannelID] {
			t.Errorf("path %s: got message %d, want %d", ev.ChannelID, i, next[ev.ChannelID])
		}
		next[ev.ChannelID] = i + 1
	}
	if len(events) != users*per {
		t.Fatalf("got %d events, want %d", len(events), users*per)
	}
}

func nativeIDs(evs []normalize.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.NativeID
	}
	return out
}

// TestBadInput sends every kind of bad request and checks the status, the
// JSON error code, and that nothing reached the backend.
func TestBadInput(t *testing.T) {
	rec := newRecorder(t)
	cfg := testConfig(t, rec.url, "")
	cfg.Limits.MaxBodyBytes = 4096
	g := startGateway(t, cfg)
	sign := func(b string) string { return mustSign(testAppSecret, b) }
	good := textWebhook(testPage, "u1", "m_good", "hi", 1718000000001)
	big := textWebhook(testPage, "u1", "m_big", strings.Repeat("x", 5000), 1718000000001)
	invalidUTF8 := strings.Replace(good, "hi", "h\xffi", 1)
	cases := []struct {
		name   string
		path   string
		body   string
		sig    string
		status int
		code   string
	}{
		{"missing signature", "/webhooks/messenger/fb", good, "", 401, "missing_signature"},
		{"bad signature", "/webhooks/messenger/fb", good, sign(good + " "), 401, "bad_signature"},
		{"signature of another secret", "/webhooks/messenger/fb", good, mustSign("other", good), 401, "bad_signature"},
		{"unknown connection", "/webhooks/messenger/nope", good, sign(good), 404, "unknown_connection"},
		{"wrong channel for connection", "/webhooks/telegram/fb", good, sign(good), 404, "unknown_connection"},
		{"invalid utf-8", "/webhooks/messenger/fb", invalidUTF8, sign(invalidUTF8), 400, "invalid_utf8"},
		{"malformed json", "/webhooks/messenger/fb", `{"object":"page",`, sign(`{"object":"page",`), 400, "malformed_json"},
		{"not a page object", "/webhooks/messenger/fb", `{"object":"user","entry":[]}`, sign(`{"object":"user","entry":[]}`), 400, "unknown_object"},
		{"entry not an array", "/webhooks/messenger/fb", `{"object":"page","entry":{}}`, sign(`{"object":"page","entry":{}}`), 400, "wrong_type"},
		{"missing sender", "/webhooks/messenger/fb", noSender, sign(noSender), 400, "missing_field"},
		{"body too large", "/webhooks/messenger/fb", big, sign(big), 413, "body_too_large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := map[string]string{}
			if c.sig != "" {
				hdr["X-Hub-Signature-256"] = c.sig
			}
			st, b := post(t, g.base+c.path, []byte(c.body), hdr)
			if st != c.status {
				t.Fatalf("status %d, want %d (%s)", st, c.status, b)
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != c.code || e.Error.Message == "" {
				t.Fatalf("body %s, want JSON error code %s", b, c.code)
			}
		})
	}
	// sha1 only is refused even when right.
	st, _ := post(t, g.base+"/webhooks/messenger/fb", []byte(good), map[string]string{"X-Hub-Signature": "sha1=0000000000000000000000000000000000000000"})
	if st != 401 {
		t.Errorf("sha1-only signature: %d, want 401", st)
	}
	// A good webhook after all that is the only thing the backend sees.
	if st, b := g.webhook(t, good); st != 200 {
		t.Fatalf("good webhook: %d %s", st, b)
	}
	events := rec.waitFor(1)
	if len(events) != 1 || events[0].NativeID != "m_good" {
		t.Fatalf("backend got %v, want only m_good", nativeIDs(events))
	}
}

const noSender = `{"object":"page","entry":[{"id":"1061000000000001","time":1,"messaging":[{"recipient":{"id":"1061000000000001"},"timestamp":1,"message":{"mid":"m_x","text":"x"}}]}]}`

func mustSign(secret, body string) string {
	return string(signerFor(secret).Sign(nil, []byte(body)))
}

// TestHandshake checks Meta's GET verification.
func TestHandshake(t *testing.T) {
	g := startGateway(t, testConfig(t, newRecorder(t).url, ""))
	get := func(q string) (int, string) {
		st, b := httpGet(t, g.base+"/webhooks/messenger/fb?"+q)
		return st, b
	}
	if st, b := get("hub.mode=subscribe&hub.verify_token=" + testVerifyToken + "&hub.challenge=1158201444"); st != 200 || b != "1158201444" {
		t.Fatalf("good handshake: %d %q", st, b)
	}
	for _, q := range []string{
		"hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
		"hub.mode=unsubscribe&hub.verify_token=" + testVerifyToken + "&hub.challenge=1",
		"hub.challenge=1",
	} {
		if st, _ := get(q); st != 403 {
			t.Errorf("%s: %d, want 403", q, st)
		}
	}
}

// TestProfilesNeedToken: Go's profiles are served to API token holders
// only; a CPU profile is a gzipped protobuf.
func TestProfilesNeedToken(t *testing.T) {
	rec := newRecorder(t)
	g := startGateway(t, testConfig(t, rec.url, ""))
	for _, path := range []string{"/debug/pprof", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1"} {
		if st, b := httpGet(t, g.base+path); st != 401 || !strings.Contains(b, "missing_token") {
			t.Fatalf("%s without a token: %d %s", path, st, b)
		}
	}
	get := func(path string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, g.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+testAPIToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, b := get("/debug/pprof"); st != 200 || !bytes.Contains(b, []byte("goroutine")) {
		t.Fatalf("index: %d %.200s", st, b)
	}
	if st, b := get("/debug/pprof/goroutine?debug=1"); st != 200 || !bytes.Contains(b, []byte("goroutine profile:")) {
		t.Fatalf("goroutines: %d %.200s", st, b)
	}
	if st, b := get("/debug/pprof/profile?seconds=1"); st != 200 || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("cpu profile: %d, %d bytes starting %x", st, len(b), b[:min(len(b), 4)])
	}
}

// TestHealthAndMetrics checks the operations routes.
func TestHealthAndMetrics(t *testing.T) {
	rec := newRecorder(t)
	g := startGateway(t, testConfig(t, rec.url, ""))
	g.webhook(t, textWebhook(testPage, "u1", "m1", "hi", 1))
	rec.waitFor(1)
	for path, want := range map[string]string{
		"/healthz": `"ok"`,
		"/readyz":  `"ready"`,
		"/metrics": `switchboard_webhooks_total{connection="fb",outcome="ok"}`,
	} {
		st, b := httpGet(t, g.base+path)
		if st != 200 || !strings.Contains(b, want) {
			t.Errorf("%s: %d %q, want %s", path, st, b, want)
		}
	}
	// This App's gauges: the event counts as delivered once the
	// pipeline has its ack, just after the backend saw it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, b := httpGet(t, g.base+"/metrics")
		if strings.Contains(b, `switchboard_events_total{stage="delivered"} 1`) && strings.Contains(b, "switchboard_spool_entries") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks the delivered event:\n%s", b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The latency histograms: the webhook's handling and the store's
	// commits (its event's spool write made at least one).
	_, b := httpGet(t, g.base+"/metrics")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^switchboard_webhook_duration_seconds_count\{connection="fb"\} [1-9]`),
		regexp.MustCompile(`(?m)^switchboard_webhook_duration_seconds_bucket\{connection="fb",vmrange="[^"]+"\} [1-9]`),
		regexp.MustCompile(`(?m)^switchboard_store_commit_duration_seconds_count [1-9]`),
		regexp.MustCompile(`(?m)^switchboard_store_commit_duration_seconds_bucket\{vmrange="[^"]+"\} [1-9]`),
	} {
		if !want.MatchString(b) {
			t.Errorf("/metrics lacks %s:\n%s", want, b)
		}
	}
}

// TestRefusalLogsAreSampled: a flood of refused webhooks is answered and
// counted in full, but logs only a bounded number of lines per
// connection, unknown connections included (with their reason), as do a
// body over the limit and an API call with a wrong token; a line after
// dropped ones says how many it stands for.
func TestRefusalLogsAreSampled(t *testing.T) {
	rec := newRecorder(t)
	var logs syncBuffer
	cfg := testConfig(t, rec.url, "")
	cfg.Limits.MaxBodyBytes = 4096
	g := startGatewayLog(t, cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	body := []byte(textWebhook(testPage, "u1", "m1", "hi", 1))
	badSig := map[string]string{"X-Hub-Signature-256": mustSign("wrong", string(body))}
	const flood, workers = 300, 8
	refusedBefore := metricValue(t, g, `switchboard_webhooks_total{connection="fb",outcome="bad_signature"}`)

	start := time.Now()
	var wg sync.WaitGroup
	statuses := make(chan int, flood+workers*10)
	send := func(url string) int { // off the test goroutine: no t.Fatal
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", badSig["X-Hub-Signature-256"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for w := range workers {
		wg.Go(func() {
			for i := w; i < flood; i += workers {
				statuses <- send(g.base + "/webhooks/messenger/fb")
			}
			for range 10 {
				statuses <- send(g.base + "/webhooks/messenger/nope")
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(statuses)
	got := map[int]int{}
	for st := range statuses {
		got[st]++
	}
	if got[401] != flood || got[404] != workers*10 {
		t.Fatalf("answers %v, want %d × 401 and %d × 404", got, flood, workers*10)
	}
	if n := metricValue(t, g, `switchboard_webhooks_total{connection="fb",outcome="bad_signature"}`) - refusedBefore; n != flood {
		t.Errorf("metrics counted %v refusals, want all %d", n, flood)
	}

	lines := func(conn string) []map[string]any {
		var out []map[string]any
		for l := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "server: webhook refused" && m["connection"] == conn {
				out = append(out, m)
			}
		}
		return out
	}
	// The burst, plus one a second while the flood lasted.
	most := 10 + int(elapsed.Seconds()) + 1
	if n := len(lines("fb")); n < 10 || n > most {
		t.Errorf("%d lines for %d refused webhooks in %v, want 10 to %d", n, flood, elapsed, most)
	}
	unknown := lines("nope")
	if n := len(unknown); n < 10 || n > most {
		t.Errorf("%d lines for %d webhooks to an unknown connection, want 10 to %d", n, workers*10, most)
	} else if unknown[0]["reason"] != "no messenger connection named nope" || unknown[0]["status"] != float64(404) {
		t.Errorf("unknown connection logged as %v", unknown[0])
	}

	// A body over the limit, refused before any handler, is logged too.
	if st, _ := post(t, g.base+"/webhooks/messenger/fb", bytes.Repeat([]byte("x"), 5000), nil); st != 413 {
		t.Fatalf("oversized body: %d, want 413", st)
	}
	if !strings.Contains(logs.String(), `"msg":"server: request refused","path":"/webhooks/messenger/fb","status":413`) {
		t.Errorf("the oversized body is not in the log:\n%s", logs.String())
	}

	// So is an API call with a wrong token (the token itself never).
	if st, _ := post(t, g.base+"/v1/messages", []byte(`{}`), map[string]string{"Authorization": "Bearer wrong-token"}); st != 403 {
		t.Fatalf("wrong API token: %d, want 403", st)
	}
	if l := logs.String(); !strings.Contains(l, `"msg":"server: API request refused","path":"/v1/messages","status":403`) || strings.Contains(l, "wrong-token") {
		t.Errorf("the refused API call is not in the log, or its token is:\n%s", l)
	}

	// Once the budget refills, the next refusal is logged with the count
	// of those dropped before it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		post(t, g.base+"/webhooks/messenger/fb", body, badSig)
		ls := lines("fb")
		if n, ok := ls[len(ls)-1]["suppressed"].(float64); ok {
			if n < 1 {
				t.Fatalf("suppressed=%v", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line says how many were suppressed:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metricValue reads one series from /metrics (0 when absent).
func metricValue(t *testing.T, g *gateway, series string) float64 {
	t.Helper()
	_, b := httpGet(t, g.base+"/metrics")
	for l := range strings.SplitSeq(b, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	return 0
}

// TestDedupTTLByConnection: with store.dedup_ttl unset, the pipeline
// remembers each connection's events for its channel's redelivery window;
// set, for that.
func TestDedupTTLByConnection(t *testing.T) {
	rec := newRecorder(t)
	cfg := testConfig(t, rec.url, "") // Messenger; dedup_ttl unset
	if g := startGateway(t, cfg); g.Pipeline.DedupTTL["fb"] != config.RedeliveryGraph {
		t.Errorf("fb's events kept %s, want Meta's redelivery window %s", g.Pipeline.DedupTTL["fb"], config.RedeliveryGraph)
	}
	cfg = testConfigWith(t, rec.url, "", func(c *config.Config) { c.Store.DedupTTL = 100 * time.Hour })
	if g := startGateway(t, cfg); g.Pipeline.DedupTTL["fb"] != 100*time.Hour {
		t.Errorf("with dedup_ttl set, fb's events kept %s, want 100h", g.Pipeline.DedupTTL["fb"])
	}
}
