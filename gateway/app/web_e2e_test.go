package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-gw/switchboard/adapters/web"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

// End-to-end tests of the web channel and the identity model, on a real
// gateway (real loopback listener, bbolt store, recording HTTP backend):
// one test per rule of the issue, named after it.

const (
	webBot    = "acme-site"
	webSecret = "web-identity-secret-for-tests"
	webOrigin = "https://shop.example.com"
	jwtKey25  = "jwt-key-2025-0123456789-0123456789"
	jwtKey26  = "jwt-key-2026-0123456789-0123456789"
	webAud    = "widget:acme"
)

// startWeb runs a gateway with the Messenger connection "fb" and the web
// connection "site"; the backend answers every text with "echo: …".
func startWeb(t *testing.T, tune func(w *config.Web)) (*gateway, *recorder) {
	t.Helper()
	rec := newRecorder(t)
	rec.reply = func(ev normalize.Event) []normalize.Reply {
		if ev.Channel == web.Name && ev.Text != "" {
			return []normalize.Reply{{Text: "echo: " + ev.Text}}
		}
		return nil
	}
	cfg := testConfig(t, rec.url, "")
	w := &config.Web{
		BotID: webBot, IdentitySecret: webSecret, AllowedOrigins: []string{webOrigin},
		JWTKeys:     []config.JWTKey{{KID: "k2025", Secret: jwtKey25}, {KID: "k2026", Secret: jwtKey26}},
		JWTAudience: webAud, JWTIssuer: "acme-backend", SessionsPerMinute: 1000,
	}
	if tune != nil {
		tune(w)
	}
	cfg.Connections = append(cfg.Connections, config.Connection{Name: "site", Channel: config.ChannelWeb, Web: w})
	cfg.Identity.Key = "e2e-identity-key-0123456789"
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return startGateway(t, cfg), rec
}

// browser is one browser profile: its session token, like the widget's
// localStorage.
type browser struct {
	t   *testing.T
	g   *gateway
	ses webSession
}

type webSession struct {
	VisitorID    string `json:"visitor_id"`
	Token        string `json:"token"`
	ResponsePath string `json:"response_path"`
	ProvidedID   string `json:"provided_id"`
	Merged       int    `json:"merged"`
}

type apiError struct {
	Error struct{ Code, Message string } `json:"error"`
}

// call sends a widget request; token "" sends none.
func (g *gateway) webCall(t *testing.T, method, route, token string, body any, hdr map[string]string) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, g.base+"/web/v1/site/"+route, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// newBrowser starts a widget session with body (nil: anonymous).
func (g *gateway) newBrowser(t *testing.T, body any) *browser {
	t.Helper()
	b := &browser{t: t, g: g}
	st, out, _ := g.webCall(t, "POST", "sessions", "", body, nil)
	if st != 200 {
		t.Fatalf("sessions: %d %s", st, out)
	}
	json.Unmarshal(out, &b.ses)
	return b
}

func (b *browser) call(method, route string, body any) (int, []byte) {
	b.t.Helper()
	st, out, _ := b.g.webCall(b.t, method, route, b.ses.Token, body, nil)
	return st, out
}

// adopt takes a session answer, as the widget does.
func (b *browser) adopt(st int, out []byte) webSession {
	b.t.Helper()
	if st != 200 {
		b.t.Fatalf("answer %d %s", st, out)
	}
	b.ses = webSession{}
	json.Unmarshal(out, &b.ses)
	return b.ses
}

func (b *browser) say(text string) uint64 {
	b.t.Helper()
	st, out := b.call("POST", "messages", map[string]any{"text": text})
	if st != 202 {
		b.t.Fatalf("message: %d %s", st, out)
	}
	var a struct{ Seq uint64 }
	json.Unmarshal(out, &a)
	return a.Seq
}

// history returns the whole conversation, oldest first.
func (b *browser) history() []web.Frame {
	b.t.Helper()
	var all []web.Frame
	before := ""
	for {
		q := "history?limit=7"
		if before != "" {
			q += "&before=" + before
		}
		st, out := b.call("GET", q, nil)
		if st != 200 {
			b.t.Fatalf("history: %d %s", st, out)
		}
		var h struct {
			Events []web.Frame
			Next   *string
		}
		json.Unmarshal(out, &h)
		for _, f := range h.Events {
			all = append([]web.Frame{f}, all...)
		}
		if h.Next == nil {
			return all
		}
		before = *h.Next
	}
}

func texts(fs []web.Frame) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Text)
	}
	return out
}

// waitHistory waits until the conversation holds n frames.
func (b *browser) waitHistory(n int) []web.Frame {
	b.t.Helper()
	var h []web.Frame
	waitCount(b.t, fmt.Sprintf("%d frames in history", n), func() bool { h = b.history(); return len(h) >= n })
	return h
}

// stream is an open SSE stream.
type stream struct {
	frames chan web.Frame
	ctrl   chan string
	body   io.Closer
}

func (b *browser) stream(after uint64) *stream {
	b.t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/web/v1/site/stream?after=%d", b.g.base, after), nil)
	req.Header.Set("Authorization", "Bearer "+b.ses.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		b.t.Fatalf("stream: %v %v", resp, err)
	}
	s := &stream{frames: make(chan web.Frame, 100), ctrl: make(chan string, 10), body: resp.Body}
	b.t.Cleanup(func() { resp.Body.Close() })
	go func() {
		sc := bufio.NewScanner(resp.Body)
		ev := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = line[7:]
			case strings.HasPrefix(line, "data: ") && ev == "message":
				var f web.Frame
				json.Unmarshal([]byte(line[6:]), &f)
				s.frames <- f
			case strings.HasPrefix(line, "data: ") && ev == "session":
				s.ctrl <- line[6:]
			}
		}
		close(s.frames)
	}()
	return s
}

func (s *stream) next(t *testing.T) web.Frame {
	t.Helper()
	select {
	case f, ok := <-s.frames:
		if !ok {
			t.Fatal("stream closed")
		}
		return f
	case <-time.After(20 * time.Second):
		t.Fatal("no frame on the stream")
	}
	return web.Frame{}
}

func (s *stream) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case f, ok := <-s.frames:
		if ok {
			t.Fatalf("extra frame %+v", f)
		}
	case <-time.After(d):
	}
}

func userHash(id string) string { return web.UserHash([]byte(webSecret), id) }

func signJWT(t *testing.T, key, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claimsFor(sub string, exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{"iss": "acme-backend", "aud": webAud, "sub": sub, "iat": time.Now().Unix(), "exp": exp.Unix(),
		"traits": map[string]any{"plan": "pro"}}
}

// identities calls GET /v1/identities with query.
func (g *gateway) identities(t *testing.T, query string) (int, personAnswer) {
	t.Helper()
	req, _ := http.NewRequest("GET", g.base+"/v1/identities?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+testAPIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p personAnswer
	json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, p
}

type personAnswer struct {
	VisitorID     string          `json:"visitor_id"`
	ProvidedID    string          `json:"provided_id"`
	ResponsePaths []string        `json:"response_paths"`
	Attributes    json.RawMessage `json:"attributes"`
}

// webEvents returns the backend's web events, in arrival order.
func (r *recorder) webEvents() []normalize.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []normalize.Event
	for _, e := range r.events {
		if e.Channel == web.Name {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) waitWeb(t *testing.T, n int) []normalize.Event {
	t.Helper()
	waitCount(t, fmt.Sprintf("%d web events at the backend", n), func() bool { return len(r.webEvents()) >= n })
	return r.webEvents()
}

// TestWebAnonymousVisitor: a new browser gets a server-minted visitor id
// of at least 128 random bits and a token; its messages reach the backend
// with the setConfig metadata on every event; the bot's replies reach the
// browser live with per-conversation seqs; the visitor id alone unlocks
// nothing.
func TestWebAnonymousVisitor(t *testing.T) {
	g, rec := startWeb(t, nil)
	b := g.newBrowser(t, map[string]any{"metadata": map[string]any{"page": "/pricing", "campaign": "spring"}})
	if !strings.HasPrefix(b.ses.VisitorID, "wv_") || len(b.ses.VisitorID)-3 < 26 { // 26 base32 chars = 130 bits
		t.Fatalf("visitor id %q", b.ses.VisitorID)
	}
	if b.ses.ResponsePath != webBot+"/c/"+b.ses.VisitorID || b.ses.Token == "" || b.ses.ProvidedID != "" {
		t.Fatalf("session %+v", b.ses)
	}
	other := g.newBrowser(t, nil)
	if other.ses.VisitorID == b.ses.VisitorID {
		t.Fatal("two browsers share a visitor id")
	}
	s := b.stream(0)
	b.say("hello")
	st, _ := b.call("POST", "messages", map[string]any{"type": "quick_reply", "text": "Red", "payload": "RED", "metadata": map[string]any{"page": "/cart"}})
	if st != 202 {
		t.Fatalf("quick reply: %d", st)
	}
	evs := rec.waitWeb(t, 2)
	for i, ev := range evs {
		if ev.Connection != "site" || ev.BotID != webBot || ev.ChannelID != b.ses.VisitorID || ev.ResponsePath != b.ses.ResponsePath ||
			ev.VisitorID != b.ses.VisitorID || ev.ProvidedID != "" {
			t.Fatalf("event %d: %+v", i, ev)
		}
		var md map[string]string
		json.Unmarshal(ev.Metadata, &md)
		if md["campaign"] != "spring" {
			t.Errorf("event %d lacks the setConfig metadata: %s", i, ev.Metadata)
		}
	}
	if evs[0].Type != normalize.TypeText || evs[0].Text != "hello" || evs[1].Type != normalize.TypeQuickReply || evs[1].Payload != "RED" {
		t.Fatalf("events %+v", evs)
	}
	if md := string(evs[1].Metadata); !strings.Contains(md, `"page":"/cart"`) {
		t.Errorf("message metadata did not override: %s", md)
	}
	// Live: the visitor's own message, then the echo, with seqs 1, 2, …
	got := map[uint64]string{}
	for range 3 {
		f := s.next(t)
		got[f.Seq] = f.From + ":" + f.Text
	}
	if got[1] != "visitor:hello" || got[2] != "bot:echo: hello" && got[3] != "bot:echo: hello" {
		t.Fatalf("stream %v", got)
	}
	b.waitHistory(4) // hello, echo, Red, echo: Red
	// The backend replies later through /v1/messages: live as well.
	st, out := g.api(t, "/v1/messages", map[string]any{"response_path": b.ses.ResponsePath, "messages": []map[string]any{{
		"text": "Pick one", "quick_replies": []map[string]string{{"title": "Yes"}}, "cards": []map[string]any{{"title": "Card", "image_url": "https://example.com/c.png"}}}}})
	if st != 200 || !strings.Contains(string(out), `"message_id":"wm_`) {
		t.Fatalf("/v1/messages: %d %s", st, out)
	}
	for {
		if f := s.next(t); f.Text == "Pick one" {
			if f.Seq != 5 || len(f.QuickReplies) != 1 || len(f.Cards) != 1 {
				t.Fatalf("api reply frame %+v", f)
			}
			break
		}
	}
	// Nothing of it for the visitor id without the token, or for another browser.
	if st, _, _ := g.webCall(t, "GET", "history", b.ses.VisitorID, nil, nil); st != 401 {
		t.Fatalf("visitor id as token: %d", st)
	}
	if st, _, _ := g.webCall(t, "GET", "history", "", nil, nil); st != 401 {
		t.Fatalf("no token: %d", st)
	}
	if h := other.history(); len(h) != 0 {
		t.Fatalf("another browser sees %v", texts(h))
	}
	if h := b.history(); len(h) != 5 {
		t.Fatalf("history %v", texts(h))
	}
	// The web channel takes no webhooks.
	if st, _ := post(t, g.base+"/webhooks/web/site", []byte(`{}`), nil); st != 405 {
		t.Fatalf("webhook on the web connection: %d", st)
	}
}

// TestWebIdentifyNeedsProof: an id without valid proof — a bare id, a
// forged or wrong user_hash, an expired, wrong-audience, wrong-kid or
// unsigned JWT — is refused with 401; nothing is merged, nothing revealed,
// and the anonymous session goes on as it was.
func TestWebIdentifyNeedsProof(t *testing.T) {
	g, rec := startWeb(t, nil)
	// Alice exists, with history, identified on another device.
	alice := g.newBrowser(t, map[string]any{"external_user_id": "alice", "user_hash": userHash("alice")})
	alice.say("alice's secret order")
	alice.waitHistory(2)

	b := g.newBrowser(t, nil)
	b.say("anonymous question")
	b.waitHistory(2)
	now := time.Now()
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claimsFor("alice", now.Add(time.Hour)))
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	refused := map[string]map[string]any{
		"bare id":                        {"id": "alice"},
		"forged hash":                    {"id": "alice", "user_hash": strings.Repeat("ab", 32)},
		"hash of another id":             {"id": "alice", "user_hash": userHash("mallory")},
		"hash with another key":          {"id": "alice", "user_hash": web.UserHash([]byte("guessed-secret-0123456789"), "alice")},
		"expired jwt":                    {"jwt": signJWT(t, jwtKey26, "k2026", claimsFor("alice", now.Add(-time.Hour)))},
		"wrong-audience jwt":             {"jwt": signJWT(t, jwtKey26, "k2026", func() jwt.MapClaims { c := claimsFor("alice", now.Add(time.Hour)); c["aud"] = "widget:other"; return c }())},
		"wrong-kid jwt":                  {"jwt": signJWT(t, jwtKey26, "k1999", claimsFor("alice", now.Add(time.Hour)))},
		"jwt signed by user_hash secret": {"jwt": signJWT(t, webSecret, "k2026", claimsFor("alice", now.Add(time.Hour)))},
		"alg none jwt":                   {"jwt": noneTok},
		"jwt for another id":             {"id": "alice", "jwt": signJWT(t, jwtKey26, "k2026", claimsFor("mallory", now.Add(time.Hour)))},
	}
	for name, body := range refused {
		st, out := b.call("POST", "identify", body)
		if st != 401 {
			t.Errorf("identify, %s: %d %s", name, st, out)
		}
		if bytes.Contains(out, []byte("secret order")) || bytes.Contains(out, []byte("v_")) {
			t.Errorf("identify, %s: the refusal reveals something: %s", name, out)
		}
		// Session creation with the same claim is refused the same way.
		sb := map[string]any{"token": b.ses.Token}
		if id, ok := body["id"]; ok {
			sb["external_user_id"] = id
		}
		for _, k := range []string{"user_hash", "jwt"} {
			if v, ok := body[k]; ok {
				sb[k] = v
			}
		}
		if st, out, _ := g.webCall(t, "POST", "sessions", "", sb, nil); st != 401 {
			t.Errorf("sessions, %s: %d %s", name, st, out)
		}
	}
	// Nothing changed: same visitor, same token, same conversation, and
	// alice's conversation untouched.
	if h := b.history(); len(h) != 2 || h[0].Text != "anonymous question" {
		t.Fatalf("anonymous history after refusals: %v", texts(h))
	}
	if h := alice.history(); len(h) != 2 || h[0].MergedFrom != "" {
		t.Fatalf("alice's history after refusals: %v", texts(h))
	}
	st, p := g.identities(t, "response_path="+url.QueryEscape(b.ses.ResponsePath))
	if st != 200 || p.ProvidedID != "" || p.VisitorID != b.ses.VisitorID {
		t.Fatalf("anonymous person after refusals: %d %+v", st, p)
	}
	b.say("still anonymous")
	evs := rec.waitWeb(t, 3)
	if last := evs[len(evs)-1]; last.ProvidedID != "" || last.VisitorID != b.ses.VisitorID {
		t.Fatalf("event after refusals: %+v", last)
	}
}

// TestWebFirstIdentifyMergesOnce: the first verified identify merges the
// anonymous conversation into the identified person, once; the browser
// gets a new token (the anonymous one stops working); the person's
// conversation is the same on any device; re-identifying merges nothing.
func TestWebFirstIdentifyMergesOnce(t *testing.T) {
	g, rec := startWeb(t, nil)
	// Ana chatted on her phone before.
	phone := g.newBrowser(t, map[string]any{"external_user_id": "ana", "user_hash": userHash("ana")})
	phone.say("from my phone")
	phone.waitHistory(2)

	laptop := g.newBrowser(t, nil)
	anon := laptop.ses
	laptop.say("anonymous hello")
	laptop.waitHistory(2)
	liveAnon := laptop.stream(0)
	for range 2 {
		liveAnon.next(t)
	}
	ses := laptop.adopt(laptop.call("POST", "identify", map[string]any{"id": "ana", "user_hash": userHash("ana"), "attributes": map[string]any{"color": "green"}}))
	if ses.ProvidedID != "ana" || ses.ResponsePath != webBot+"/c/ana" || ses.VisitorID == anon.VisitorID || ses.Token == anon.Token || ses.Merged != 2 {
		t.Fatalf("identify answer %+v", ses)
	}
	if ses.VisitorID != phone.ses.VisitorID {
		t.Fatalf("two devices of ana have visitors %s and %s", ses.VisitorID, phone.ses.VisitorID)
	}
	// The anonymous token is revoked and its stream told so.
	select {
	case c := <-liveAnon.ctrl:
		if !strings.Contains(c, "ended") {
			t.Fatalf("anonymous stream: %s", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("anonymous stream not ended")
	}
	if st, _, _ := g.webCall(t, "GET", "history", anon.Token, nil, nil); st != 401 {
		t.Fatalf("anonymous token after identify: %d", st)
	}
	want := []string{"from my phone", "echo: from my phone", "anonymous hello", "echo: anonymous hello"}
	h := laptop.history()
	if fmt.Sprint(texts(h)) != fmt.Sprint(want) {
		t.Fatalf("identified history %q, want %q", texts(h), want)
	}
	if h[2].MergedFrom != anon.VisitorID || h[0].MergedFrom != "" {
		t.Fatalf("merge marks: %+v", h)
	}
	// Same conversation on the phone, and a new device identified by
	// session creation sees it too.
	if got := texts(phone.history()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("phone history %q", got)
	}
	tablet := g.newBrowser(t, map[string]any{"external_user_id": "ana", "user_hash": userHash("ana")})
	if got := texts(tablet.history()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("tablet history %q", got)
	}
	// Re-identify: same person, nothing merged again, same token kept.
	again := laptop.adopt(laptop.call("POST", "identify", map[string]any{"id": "ana", "user_hash": userHash("ana")}))
	if again.Merged != 0 || again.Token != ses.Token {
		t.Fatalf("re-identify %+v", again)
	}
	if n := len(laptop.history()); n != 4 {
		t.Fatalf("history after re-identify: %d frames", n)
	}
	// Events from the identified browser carry the provided id, the
	// person's visitor id and attributes.
	laptop.say("identified now")
	evs := rec.waitWeb(t, 3)
	ev := evs[len(evs)-1]
	if ev.ProvidedID != "ana" || ev.VisitorID != ses.VisitorID || ev.ResponsePath != webBot+"/c/ana" || !strings.Contains(string(ev.Attributes), `"color":"green"`) {
		t.Fatalf("identified event %+v", ev)
	}
	laptop.waitHistory(6) // … "identified now", its echo
	// A reply to the anonymous response path follows into ana's conversation.
	if st, out := g.api(t, "/v1/messages", map[string]any{"response_path": anon.ResponsePath, "messages": []map[string]any{{"text": "late answer"}}}); st != 200 {
		t.Fatalf("late reply: %d %s", st, out)
	}
	h = phone.waitHistory(7)
	if h[len(h)-1].Text != "late answer" {
		t.Fatalf("late reply went to %q", texts(h))
	}
	// The person lists both web response paths.
	st, p := g.identities(t, "provided_id=ana")
	if st != 200 || p.VisitorID != ses.VisitorID || !contains(p.ResponsePaths, webBot+"/c/ana") || !contains(p.ResponsePaths, anon.ResponsePath) {
		t.Fatalf("person %d %+v", st, p)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestWebIdentifyAsSomeoneElseResetsFirst: a browser identified as one
// person identifying as another is reset first: the second person gets
// nothing of the first, and two provided ids are never merged.
func TestWebIdentifyAsSomeoneElseResetsFirst(t *testing.T) {
	g, _ := startWeb(t, nil)
	b := g.newBrowser(t, map[string]any{"external_user_id": "alice", "user_hash": userHash("alice")})
	b.say("alice here")
	b.waitHistory(2)
	aliceTok := b.ses.Token
	ses := b.adopt(b.call("POST", "identify", map[string]any{"id": "bob", "user_hash": userHash("bob")}))
	if ses.ProvidedID != "bob" || ses.Merged != 0 {
		t.Fatalf("identify as bob %+v", ses)
	}
	if h := b.history(); len(h) != 0 {
		t.Fatalf("bob sees %q", texts(h))
	}
	if st, _, _ := g.webCall(t, "GET", "history", aliceTok, nil, nil); st != 401 {
		t.Fatalf("alice's token after switching: %d", st)
	}
	alice := g.newBrowser(t, map[string]any{"external_user_id": "alice", "user_hash": userHash("alice")})
	if h := alice.history(); len(h) != 2 {
		t.Fatalf("alice's history %q", texts(h))
	}
	_, pa := g.identities(t, "provided_id=alice")
	_, pb := g.identities(t, "provided_id=bob")
	if pa.VisitorID == pb.VisitorID || contains(pb.ResponsePaths, webBot+"/c/alice") || contains(pa.ResponsePaths, webBot+"/c/bob") {
		t.Fatalf("alice %+v and bob %+v were merged", pa, pb)
	}
}

// TestWebJWTIdentify: a JWT from the customer's backend identifies (its
// traits become signed attributes the page cannot change), keys rotate by
// kid, and session creation takes a JWT too.
func TestWebJWTIdentify(t *testing.T) {
	g, rec := startWeb(t, nil)
	b := g.newBrowser(t, nil)
	ses := b.adopt(b.call("POST", "identify", map[string]any{"jwt": signJWT(t, jwtKey25, "k2025", claimsFor("cust_1", time.Now().Add(time.Hour)))}))
	if ses.ProvidedID != "cust_1" {
		t.Fatalf("jwt identify %+v", ses)
	}
	// The page tries to change a signed trait: refused silently, other
	// attributes taken.
	if st, out := b.call("POST", "attributes", map[string]any{"attributes": map[string]any{"plan": "free", "color": "red"}}); st != 204 {
		t.Fatalf("attributes: %d %s", st, out)
	}
	b.say("hi")
	ev := rec.waitWeb(t, 1)[0]
	var attrs map[string]string
	json.Unmarshal(ev.Attributes, &attrs)
	if attrs["plan"] != "pro" || attrs["color"] != "red" || ev.ProvidedID != "cust_1" {
		t.Fatalf("event attributes %s, provided %q", ev.Attributes, ev.ProvidedID)
	}
	// Another device with the rotated key at session creation.
	d := g.newBrowser(t, map[string]any{"jwt": signJWT(t, jwtKey26, "k2026", claimsFor("cust_1", time.Now().Add(time.Hour)))})
	if d.ses.ProvidedID != "cust_1" || len(d.waitHistory(2)) != 2 {
		t.Fatalf("second device %+v", d.ses)
	}
}

// TestWebAttributesDoNotChangeWhoseHistory: setAttributes updates the
// person's attributes (the backend sees them) and nothing else.
func TestWebAttributesDoNotChangeWhoseHistory(t *testing.T) {
	g, rec := startWeb(t, nil)
	alice := g.newBrowser(t, map[string]any{"external_user_id": "alice", "user_hash": userHash("alice")})
	alice.say("alice")
	alice.waitHistory(2)
	b := g.newBrowser(t, nil)
	b.say("before")
	b.waitHistory(2)
	for _, attrs := range []any{
		map[string]any{"name": "Eve", "user_id": "alice", "provided_id": "alice", "external_user_id": "alice"},
	} {
		if st, out := b.call("POST", "attributes", map[string]any{"attributes": attrs}); st != 204 {
			t.Fatalf("attributes: %d %s", st, out)
		}
	}
	if st, _ := b.call("POST", "attributes", map[string]any{"attributes": []int{1}}); st != 400 {
		t.Fatalf("array attributes: %d", st)
	}
	if st, _ := b.call("POST", "attributes", map[string]any{"attributes": map[string]any{}, "id": "alice"}); st != 400 {
		t.Fatalf("attributes with an id field: %d", st)
	}
	if h := b.history(); len(h) != 2 || h[0].Text != "before" {
		t.Fatalf("history after attributes: %q", texts(h))
	}
	b.say("after")
	evs := rec.waitWeb(t, 3)
	ev := evs[len(evs)-1]
	if ev.ProvidedID != "" || ev.VisitorID != b.ses.VisitorID || !strings.Contains(string(ev.Attributes), `"name":"Eve"`) {
		t.Fatalf("event after attributes: %+v", ev)
	}
	_, p := g.identities(t, "visitor_id="+b.ses.VisitorID)
	if p.ProvidedID != "" || !strings.Contains(string(p.Attributes), `"name":"Eve"`) {
		t.Fatalf("person %+v", p)
	}
}

// TestWebLogoutAndReset: logout revokes the token and starts a fresh
// anonymous visitor with an empty chat while the person's history stays
// with the person; reset starts a new conversation for an anonymous
// visitor and is refused for a fixed provided id.
func TestWebLogoutAndReset(t *testing.T) {
	g, _ := startWeb(t, nil)
	b := g.newBrowser(t, map[string]any{"external_user_id": "zoe", "user_hash": userHash("zoe")})
	b.say("zoe's chat")
	b.waitHistory(2)
	if st, out := b.call("POST", "reset", struct{}{}); st != 409 || !strings.Contains(string(out), "fixed_identity") {
		t.Fatalf("reset of a provided id: %d %s", st, out)
	}
	old := b.ses
	ses := b.adopt(b.call("POST", "logout", struct{}{}))
	if ses.ProvidedID != "" || ses.VisitorID == old.VisitorID || ses.Token == old.Token || !strings.HasPrefix(ses.VisitorID, "wv_") {
		t.Fatalf("after logout %+v", ses)
	}
	if h := b.history(); len(h) != 0 {
		t.Fatalf("history after logout %q", texts(h))
	}
	if st, _, _ := g.webCall(t, "POST", "messages", old.Token, map[string]any{"text": "x"}, nil); st != 401 {
		t.Fatalf("old token after logout: %d", st)
	}
	zoe := g.newBrowser(t, map[string]any{"external_user_id": "zoe", "user_hash": userHash("zoe")})
	if h := zoe.history(); len(h) != 2 {
		t.Fatalf("zoe's history after logout elsewhere %q", texts(h))
	}
	// Reset of the anonymous visitor: new conversation, same token.
	b.say("anon chat")
	b.waitHistory(2)
	s := b.stream(0)
	anon := b.ses
	r := b.adopt(b.call("POST", "reset", struct{}{}))
	if r.Token != anon.Token || r.ResponsePath == anon.ResponsePath || r.VisitorID == anon.VisitorID {
		t.Fatalf("reset %+v (was %+v)", r, anon)
	}
	if h := b.history(); len(h) != 0 {
		t.Fatalf("history after reset %q", texts(h))
	}
	select {
	case c := <-s.ctrl:
		if !strings.Contains(c, "changed") {
			t.Fatalf("stream after reset: %s", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream not told of the reset")
	}
}

// TestWebTabsAndReconnect: two tabs of one browser each get every reply
// once; a tab that reconnects with after=SEQ gets exactly what it missed.
func TestWebTabsAndReconnect(t *testing.T) {
	g, _ := startWeb(t, nil)
	b := g.newBrowser(t, nil)
	tab1, tab2 := b.stream(0), b.stream(0)
	for i := range 3 {
		b.say(fmt.Sprint("m", i))
	}
	for _, tab := range []*stream{tab1, tab2} {
		seen := map[uint64]bool{}
		for range 6 {
			f := tab.next(t)
			if seen[f.Seq] {
				t.Fatalf("seq %d twice", f.Seq)
			}
			seen[f.Seq] = true
		}
		tab.none(t, 200*time.Millisecond)
	}
	tab2.body.Close()
	b.say("while tab 2 was away")
	b.waitHistory(8)
	back := b.stream(6)
	for want := uint64(7); want <= 8; want++ {
		if f := back.next(t); f.Seq != want {
			t.Fatalf("replay gave seq %d, want %d", f.Seq, want)
		}
	}
	back.none(t, 200*time.Millisecond)
}

// TestWebOriginsAndRateLimit: only allowed origins (and the gateway's own)
// may use the routes, preflight included; session creation is limited per
// client address.
func TestWebOriginsAndRateLimit(t *testing.T) {
	g, _ := startWeb(t, func(w *config.Web) { w.SessionsPerMinute = 5 })
	pre := func(origin string) (int, http.Header) {
		st, _, h := g.webCall(t, "OPTIONS", "sessions", "", nil, map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST"})
		return st, h
	}
	if st, h := pre(webOrigin); st != 204 || h.Get("Access-Control-Allow-Origin") != webOrigin {
		t.Fatalf("allowed preflight: %d %v", st, h)
	}
	if st, h := pre("https://evil.example.net"); st != 403 || h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("refused preflight: %d %v", st, h)
	}
	if st, _, _ := g.webCall(t, "POST", "sessions", "", nil, map[string]string{"Origin": "https://evil.example.net"}); st != 403 {
		t.Fatalf("session from a refused origin: %d", st)
	}
	n := 1 // the refused one above took no token
	for ; n <= 10; n++ {
		st, _, h := g.webCall(t, "POST", "sessions", "", nil, map[string]string{"Origin": webOrigin})
		if st == 429 {
			if h.Get("Retry-After") == "" || h.Get("Access-Control-Allow-Origin") != webOrigin {
				t.Fatalf("429 headers %v", h)
			}
			break
		}
		if st != 200 {
			t.Fatalf("session %d: %d", n, st)
		}
	}
	if n != 6 {
		t.Fatalf("limited at session %d, want 6", n)
	}
}

// TestIdentitiesAPI: GET /v1/identities finds a person by visitor id,
// provided id or response path; POST /v1/identities/link binds a Messenger
// user to a provided id so the person is reachable on both channels, and
// refuses a second provided id.
func TestIdentitiesAPI(t *testing.T) {
	g, rec := startWeb(t, nil)
	const psid = "2000000000000077"
	fbPath := testPage + "/c/" + psid
	now := time.Now().UnixMilli()
	if st, out := g.webhook(t, textWebhook(testPage, psid, "m_id_1", "hi from messenger", now)); st != 200 {
		t.Fatalf("webhook: %d %s", st, out)
	}
	fbVisitor := rec.waitFor(1)[0].VisitorID
	st, p := g.identities(t, "response_path="+url.QueryEscape(fbPath))
	if st != 200 || p.VisitorID != fbVisitor || p.ProvidedID != "" || len(p.ResponsePaths) != 1 || p.ResponsePaths[0] != fbPath {
		t.Fatalf("messenger user before link: %d %+v", st, p)
	}
	// The web identity of the same customer.
	w := g.newBrowser(t, map[string]any{"external_user_id": "cust_9", "user_hash": userHash("cust_9")})
	w.say("hi from the web")
	rec.waitWeb(t, 1)
	// Account linking: the backend binds the PSID to cust_9.
	st, out := g.api(t, "/v1/identities/link", map[string]string{"response_path": fbPath, "provided_id": "cust_9"})
	if st != 200 {
		t.Fatalf("link: %d %s", st, out)
	}
	var linked personAnswer
	json.Unmarshal(out, &linked)
	if linked.VisitorID != w.ses.VisitorID || linked.ProvidedID != "cust_9" || !contains(linked.ResponsePaths, fbPath) || !contains(linked.ResponsePaths, webBot+"/c/cust_9") {
		t.Fatalf("linked person %+v", linked)
	}
	for _, q := range []string{"visitor_id=" + w.ses.VisitorID, "provided_id=cust_9", "response_path=" + url.QueryEscape(fbPath),
		"response_path=" + url.QueryEscape(webBot+"/c/cust_9"), "response_path=" + url.QueryEscape(fbPath) + "&connection=fb"} {
		st, p := g.identities(t, q)
		if st != 200 || p.VisitorID != linked.VisitorID || len(p.ResponsePaths) != 2 {
			t.Errorf("%s: %d %+v", q, st, p)
		}
	}
	// The Messenger user's events now carry the provided id and the
	// person's visitor id.
	g.webhook(t, textWebhook(testPage, psid, "m_id_2", "again", now+1))
	evs := rec.waitFor(3)
	var last normalize.Event
	for _, e := range evs {
		if e.Channel == "messenger" {
			last = e
		}
	}
	if last.Text != "again" || last.ProvidedID != "cust_9" || last.VisitorID != linked.VisitorID {
		t.Fatalf("messenger event after link: %+v", last)
	}
	// Linking the same user to another provided id is refused; relinking
	// to the same one is fine.
	if st, out := g.api(t, "/v1/identities/link", map[string]string{"response_path": fbPath, "provided_id": "cust_10"}); st != 409 || !strings.Contains(string(out), "provided_id_conflict") {
		t.Fatalf("second provided id: %d %s", st, out)
	}
	if st, _ := g.api(t, "/v1/identities/link", map[string]string{"response_path": fbPath, "provided_id": "cust_9"}); st != 200 {
		t.Fatalf("relink: %d", st)
	}
	if st, p := g.identities(t, "provided_id=cust_10"); st != 404 {
		t.Fatalf("refused link left a person: %d %+v", st, p)
	}
	// Errors and auth.
	for q, want := range map[string]int{
		"": 400, "visitor_id=v_x&provided_id=y": 400, "visitor_id=v_nobody": 404, "provided_id=nobody": 404,
		"response_path=nope": 400, "response_path=" + url.QueryEscape("999/c/1"): 404,
		"response_path=" + url.QueryEscape(fbPath) + "&connection=nope": 404,
	} {
		if st, _ := g.identities(t, q); st != want {
			t.Errorf("GET /v1/identities?%s: %d, want %d", q, st, want)
		}
	}
	if st, _ := httpGet(t, g.base+"/v1/identities?provided_id=cust_9"); st != 401 {
		t.Fatalf("without the API token: %d", st)
	}
	if st, _ := post(t, g.base+"/v1/identities/link", []byte(`{"response_path":"x/c/y","provided_id":"p"}`), map[string]string{"Authorization": "Bearer wrong"}); st != 403 {
		t.Fatalf("link with a wrong token: %d", st)
	}
	if st, _ := g.api(t, "/v1/identities/link", map[string]string{"response_path": fbPath}); st != 400 {
		t.Fatalf("link without provided_id: %d", st)
	}
}

// TestWebMessageAfterRestart: a reply spooled for a web conversation is
// delivered into its history after a restart (the transport is wired
// before the spool replays).
func TestWebHistorySurvivesRestart(t *testing.T) {
	g, _ := startWeb(t, nil)
	b := g.newBrowser(t, nil)
	b.say("before restart")
	b.waitHistory(2)
	cfg := g.Config
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	g2 := startGateway(t, cfg)
	b.g = g2
	if r := g2.newBrowser(t, map[string]string{"token": b.ses.Token}); r.ses.VisitorID != b.ses.VisitorID {
		t.Fatalf("session after restart %+v", r.ses)
	}
	if h := b.history(); len(h) != 2 {
		t.Fatalf("history after restart %q", texts(h))
	}
	if seq := b.say("after restart"); seq != 3 {
		t.Fatalf("seq after restart %d, want 3", seq)
	}
}
