package webchat

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters/web"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway/connections"
	"github.com/switchboard-gw/switchboard/gateway/identity"
	"github.com/switchboard-gw/switchboard/gateway/store"
	"github.com/switchboard-gw/switchboard/gateway/store/bolt"
	"github.com/switchboard-gw/switchboard/normalize"
)

const testSecret = "webchat-test-identity-secret"

// ingester records the events the service hands the pipeline, spooling
// each into st with what comes with it, as the pipeline does (dedup by
// event id, claims checked by the store).
type ingester struct {
	st     store.Store
	mu     sync.Mutex
	events []normalize.Event
	err    error
}

func (g *ingester) IngestWith(_ string, ev normalize.Event, with ...store.KV) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return false, g.err
	}
	seqs, err := g.st.Spool([]store.Item{{Kind: store.KindInbound, DedupKey: ev.ID, Lane: ev.ResponsePath, Data: []byte(ev.ID), Sets: with}})
	if err != nil {
		return false, err
	}
	if seqs[0] == 0 {
		return true, nil
	}
	g.events = append(g.events, ev)
	return false, nil
}

type harness struct {
	t    *testing.T
	svc  *Service
	st   store.Store
	ing  *ingester
	base string
	srv  *fasthttp.Server
}

// newHarness serves one web connection "site" on a real loopback
// listener, through a fasthttp.Server configured by tune.
func newHarness(t *testing.T, w config.Web, tune func(*Service, *fasthttp.Server)) *harness {
	t.Helper()
	if w.BotID == "" {
		w.BotID = "acme"
	}
	if w.IdentitySecret == "" {
		w.IdentitySecret = testSecret
	}
	cfg := &config.Config{Connections: []config.Connection{{Name: "site", Channel: config.ChannelWeb, Web: &w}}}
	conns, err := connections.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(st, identity.Options{CacheItems: 1000, Key: []byte("identity-key-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	ing := &ingester{st: st}
	svc, err := New(cfg, conns, st, id, ing, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r := router.New()
	svc.Mount(r)
	srv := &fasthttp.Server{Handler: r.Handler, WriteTimeout: 30 * time.Second}
	if tune != nil {
		tune(svc, srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		svc.Close()
		srv.Shutdown()
		id.Close()
		st.Close()
	})
	return &harness{t: t, svc: svc, st: st, ing: ing, base: "http://" + ln.Addr().String(), srv: srv}
}

// do sends a request to the web route and decodes a JSON answer into out.
func (h *harness) do(method, route, token string, body any, hdr map[string]string, out any) (int, http.Header) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.base+"/web/v1/site/"+route, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: %d %s", method, route, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, resp.Header
}

func (h *harness) session(body any) sessionAnswer {
	h.t.Helper()
	var a sessionAnswer
	if st, _ := h.do("POST", "sessions", "", body, nil, &a); st != 200 {
		h.t.Fatalf("sessions: %d %+v", st, a)
	}
	return a
}

func (h *harness) conv(a sessionAnswer) string { return store.ConversationKey("site", a.ResponsePath) }

func (h *harness) appendText(conv, text string) uint64 {
	h.t.Helper()
	f := web.Frame{Type: web.FrameMessage, From: web.FromBot, Text: text}
	data, err := h.svc.appendFrame(conv, &f)
	if err != nil {
		h.t.Fatal(err)
	}
	h.svc.hub.notify(conv, &stored{seq: f.Seq, data: data})
	return f.Seq
}

// sse is an open stream being read.
type sse struct {
	resp   *http.Response
	frames chan web.Frame
	events chan string // "session:<reason>" and "typing"
}

func (h *harness) stream(token, query string, hdr map[string]string) *sse {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.base+"/web/v1/site/stream"+query, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h.t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	s := &sse{resp: resp, frames: make(chan web.Frame, 1000), events: make(chan string, 100)}
	h.t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(s.frames)
		sc := bufio.NewScanner(resp.Body)
		var ev, data, id string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				switch ev {
				case "message":
					var f web.Frame
					json.Unmarshal([]byte(data), &f)
					if strconv.FormatUint(f.Seq, 10) != id {
						s.events <- "bad id " + id
					}
					s.frames <- f
				case "session":
					var v struct{ Reason string }
					json.Unmarshal([]byte(data), &v)
					s.events <- "session:" + v.Reason
				case "typing":
					s.events <- "typing"
				}
				ev, data, id = "", "", ""
			case strings.HasPrefix(line, "event: "):
				ev = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			}
		}
	}()
	return s
}

// next returns the next n frames or fails after a deadline.
func (s *sse) next(t *testing.T, n int) []web.Frame {
	t.Helper()
	var out []web.Frame
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case f, ok := <-s.frames:
			if !ok {
				t.Fatalf("stream closed after %d of %d frames", len(out), n)
			}
			out = append(out, f)
		case <-timeout:
			t.Fatalf("got %d of %d frames", len(out), n)
		}
	}
	return out
}

// quiet asserts no frame arrives for d.
func (s *sse) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case f, ok := <-s.frames:
		if ok {
			t.Fatalf("unexpected frame %+v", f)
		}
	case <-time.After(d):
	}
}

func seqs(fs []web.Frame) []uint64 {
	var out []uint64
	for _, f := range fs {
		out = append(out, f.Seq)
	}
	return out
}

func wantSeqs(t *testing.T, got []web.Frame, from, to uint64) {
	t.Helper()
	if len(got) != int(to-from+1) {
		t.Fatalf("seqs %v, want %d..%d", seqs(got), from, to)
	}
	for i, f := range got {
		if f.Seq != from+uint64(i) {
			t.Fatalf("seqs %v, want %d..%d", seqs(got), from, to)
		}
	}
}

// TestSeqsAreGapFreeUnderConcurrency: concurrent appenders to one
// conversation get distinct seqs 1..N, each stored once.
func TestSeqsAreGapFreeUnderConcurrency(t *testing.T) {
	h := newHarness(t, config.Web{}, nil)
	const writers, each = 8, 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[uint64]bool{}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				f := web.Frame{Type: web.FrameMessage, From: web.FromBot, Text: fmt.Sprintf("%d-%d", w, i)}
				if _, err := h.svc.appendFrame("c1", &f); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[f.Seq] {
					t.Errorf("seq %d given twice", f.Seq)
				}
				seen[f.Seq] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	head, err := h.svc.head("c1")
	if err != nil || head != writers*each {
		t.Fatalf("head %d %v, want %d", head, err, writers*each)
	}
	for s := uint64(1); s <= head; s++ {
		if !seen[s] {
			t.Fatalf("gap at %d", s)
		}
	}
	// The hint is only a hint: a stale one is probed past.
	h.st.Put(BucketHead, "c1", []byte("3"))
	if head, _ := h.svc.head("c1"); head != writers*each {
		t.Fatalf("head from a stale hint: %d", head)
	}
}

// TestHistoryPaging pages a conversation newest first with the cursor.
func TestHistoryPaging(t *testing.T) {
	h := newHarness(t, config.Web{}, nil)
	a := h.session(nil)
	for i := 1; i <= 75; i++ {
		h.appendText(h.conv(a), fmt.Sprint("m", i))
	}
	var all []uint64
	cursor := ""
	for page := 0; ; page++ {
		var ans struct {
			Events []web.Frame `json:"events"`
			Next   *string     `json:"next"`
		}
		q := "history?limit=30"
		if cursor != "" {
			q += "&before=" + cursor
		}
		if st, _ := h.do("GET", q, a.Token, nil, nil, &ans); st != 200 {
			t.Fatalf("history: %d", st)
		}
		for _, f := range ans.Events {
			all = append(all, f.Seq)
		}
		if ans.Next == nil {
			break
		}
		cursor = *ans.Next
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(all) != 75 || all[0] != 75 || all[74] != 1 {
		t.Fatalf("paged seqs %v", all)
	}
	for i := 1; i < len(all); i++ {
		if all[i] != all[i-1]-1 {
			t.Fatalf("not newest first without gaps: %v", all)
		}
	}
	for i := 76; i <= 105; i++ {
		h.appendText(h.conv(a), fmt.Sprint("m", i))
	}
	var big struct{ Events []json.RawMessage }
	h.do("GET", "history?limit=1000", a.Token, nil, nil, &big)
	if len(big.Events) != MaxPage {
		t.Fatalf("limit not capped: %d", len(big.Events))
	}
	for _, bad := range []string{"history?before=x", "history?before=0", "history?limit=0", "history?limit=-3"} {
		if st, _ := h.do("GET", bad, a.Token, nil, nil, nil); st != 400 {
			t.Errorf("%s: %d, want 400", bad, st)
		}
	}
	// Another browser's token reads only its own (empty) conversation.
	b := h.session(nil)
	var other struct{ Events []json.RawMessage }
	h.do("GET", "history", b.Token, nil, nil, &other)
	if len(other.Events) != 0 {
		t.Fatalf("another session sees %d events", len(other.Events))
	}
	if st, _ := h.do("GET", "history", "", nil, nil, nil); st != 401 {
		t.Fatalf("history without a token: %d", st)
	}
}

// TestStreamReplaysExactlyWhatWasMissed: after=SEQ replays the gap, then
// live frames follow once; Last-Event-ID wins over the URL's after.
func TestStreamReplaysExactlyWhatWasMissed(t *testing.T) {
	h := newHarness(t, config.Web{}, nil)
	a := h.session(nil)
	conv := h.conv(a)
	for i := 1; i <= 5; i++ {
		h.appendText(conv, fmt.Sprint(i))
	}
	s := h.stream(a.Token, "?after=2", nil)
	wantSeqs(t, s.next(t, 3), 3, 5)
	h.appendText(conv, "6")
	wantSeqs(t, s.next(t, 1), 6, 6)
	s.quiet(t, 200*time.Millisecond)

	// A reconnecting EventSource sends its original URL and Last-Event-ID.
	r := h.stream(a.Token, "?after=1", map[string]string{"Last-Event-ID": "4"})
	wantSeqs(t, r.next(t, 2), 5, 6)
	r.quiet(t, 100*time.Millisecond)
	// EventSource cannot set headers: the token may come as a parameter.
	q := h.stream("", "?after=5&token="+a.Token, nil)
	wantSeqs(t, q.next(t, 1), 6, 6)
	// A cursor past the head starts from the head.
	z := h.stream(a.Token, "?after=99", nil)
	h.appendText(conv, "7")
	wantSeqs(t, z.next(t, 1), 7, 7)
	// Typing is live only, never stored.
	if _, err := h.svc.Deliver(t.Context(), "site", strings.TrimPrefix(a.ResponsePath, "acme/c/"), &web.Frame{Type: web.FrameTyping, From: web.FromBot, On: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-z.events:
		if ev != "typing" {
			t.Fatalf("event %q", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no typing event")
	}
	if head, _ := h.svc.head(conv); head != 7 {
		t.Fatalf("typing was stored: head %d", head)
	}
	if st, _ := h.do("GET", "stream?after=x", a.Token, nil, nil, nil); st != 400 {
		t.Fatalf("bad after: %d", st)
	}
}

// TestTabsEachGetEveryMessageOnce: three streams of one conversation each
// receive all frames appended concurrently, in seq order, exactly once.
func TestTabsEachGetEveryMessageOnce(t *testing.T) {
	h := newHarness(t, config.Web{}, nil)
	a := h.session(nil)
	conv := h.conv(a)
	tabs := []*sse{h.stream(a.Token, "", nil), h.stream(a.Token, "", nil), h.stream(a.Token, "", nil)}
	waitFor(t, func() bool { return h.svc.hub.count() == 3 })
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				h.appendText(conv, fmt.Sprint(w, "-", i))
			}
		}()
	}
	wg.Wait()
	for _, tab := range tabs {
		wantSeqs(t, tab.next(t, 100), 1, 100)
		tab.quiet(t, 100*time.Millisecond)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met")
}

// messageReads counts the history reads (web_messages Gets) of a store.
type messageReads struct {
	store.Store
	n atomic.Int64
}

func (m *messageReads) Get(bucket, key string) ([]byte, error) {
	if bucket == BucketMessages {
		m.n.Add(1)
	}
	return m.Store.Get(bucket, key)
}

// TestStreamTakesTheHint: a stream woken for a frame stored here sends it
// from the wake-up's hint, reading nothing, and reads from the store only
// the frames before it that it has not sent (nothing past it); a wake-up
// without a hint reads to the end.
func TestStreamTakesTheHint(t *testing.T) {
	reads := &messageReads{}
	h := newHarness(t, config.Web{}, func(s *Service, _ *fasthttp.Server) {
		reads.Store = s.Store
		s.Store = reads
	})
	a := h.session(nil)
	conv := h.conv(a)
	s := h.stream(a.Token, "", nil)
	h.appendText(conv, "one")
	s.next(t, 1) // the stream is live
	store := func(text string) *stored {
		t.Helper()
		f := web.Frame{Type: web.FrameMessage, From: web.FromBot, Text: text}
		data, err := h.svc.appendFrame(conv, &f)
		if err != nil {
			t.Fatal(err)
		}
		return &stored{seq: f.Seq, data: data}
	}
	texts := func(fs []web.Frame) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Text)
		}
		return out
	}

	two := store("two")
	reads.n.Store(0)
	h.svc.hub.notify(conv, two)
	if got := texts(s.next(t, 1)); !slices.Equal(got, []string{"two"}) {
		t.Fatalf("frames %v", got)
	}
	if n := reads.n.Load(); n != 0 {
		t.Errorf("the stream read %d history items for a frame its wake-up carried", n)
	}

	store("three")
	four := store("four")
	reads.n.Store(0)
	h.svc.hub.notify(conv, four) // three's wake-up was lost, say
	if got := texts(s.next(t, 2)); !slices.Equal(got, []string{"three", "four"}) {
		t.Fatalf("frames %v", got)
	}
	if n := reads.n.Load(); n != 1 {
		t.Errorf("the stream read %d history items, want 1 (three's)", n)
	}

	store("five")
	store("six")
	h.svc.hub.notify(conv, nil) // a merge: no hint
	if got := texts(s.next(t, 2)); !slices.Equal(got, []string{"five", "six"}) {
		t.Fatalf("frames %v", got)
	}
	s.quiet(t, 100*time.Millisecond)
}

// TestHubKeepsTheNewestHint: hints reaching a stream out of order never
// hide a newer one, and one that says "read to the end" (a merge) is not
// hidden by a frame's hint arriving after it.
func TestHubKeepsTheNewestHint(t *testing.T) {
	h := newHub()
	s := h.subscribe("c", "tok")
	h.notify("c", &stored{seq: 5})
	h.notify("c", &stored{seq: 4})
	if got := s.latest.Swap(nil); got == nil || got.seq != 5 {
		t.Fatalf("hint %+v, want seq 5", got)
	}
	h.notify("c", nil)
	h.notify("c", &stored{seq: 6})
	if got := s.latest.Swap(nil); got != readToEnd {
		t.Fatalf("hint %+v after a merge, want readToEnd", got)
	}
	h.notify("c", &stored{seq: 7})
	if got := s.latest.Load(); got == nil || got.seq != 7 {
		t.Fatalf("hint %+v once taken, want the next frame's", got)
	}
}

// TestStreamOutlivesTheServerWriteTimeout: a server whose WriteTimeout is
// shorter than the stream's life still delivers frames, because the stream
// moves the deadline before each write (the heartbeat keeps it moving).
func TestStreamOutlivesTheServerWriteTimeout(t *testing.T) {
	h := newHarness(t, config.Web{}, func(s *Service, srv *fasthttp.Server) {
		srv.WriteTimeout = 300 * time.Millisecond
		s.Heartbeat = 100 * time.Millisecond
		s.WriteTimeout = 300 * time.Millisecond
	})
	a := h.session(nil)
	s := h.stream(a.Token, "", nil)
	time.Sleep(1200 * time.Millisecond)
	h.appendText(h.conv(a), "late")
	if f := s.next(t, 1); f[0].Text != "late" {
		t.Fatalf("frame %+v", f[0])
	}
}

// TestSessionTokens: tokens are stored hashed, resume while valid, expire,
// and a logout revokes the token and ends its streams.
func TestSessionTokens(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	h := newHarness(t, config.Web{SessionTTL: time.Hour}, func(s *Service, _ *fasthttp.Server) {
		s.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	a := h.session(map[string]any{"metadata": map[string]string{"page": "/"}})
	if !strings.HasPrefix(a.VisitorID, "wv_") || len(a.VisitorID) < 3+26 || !strings.HasPrefix(a.Token, tokenPrefix) {
		t.Fatalf("session %+v", a)
	}
	if a.ResponsePath != "acme/c/"+a.VisitorID {
		t.Fatalf("response path %q", a.ResponsePath)
	}
	if b, _ := h.st.Get(BucketSessions, a.Token); b != nil {
		t.Fatal("the raw token is a store key")
	}
	if b, _ := h.st.Get(BucketSessions, tokenKey(a.Token)); b == nil || bytes.Contains(b, []byte(a.Token)) {
		t.Fatalf("session record %s", b)
	}
	// Resume: same visitor, same token.
	if r := h.session(map[string]string{"token": a.Token}); r.VisitorID != a.VisitorID || r.Token != a.Token {
		t.Fatalf("resume: %+v", r)
	}
	// A forged or unknown token mints a new visitor, it never resumes one.
	if r := h.session(map[string]string{"token": a.Token + "x"}); r.VisitorID == a.VisitorID {
		t.Fatal("a wrong token resumed the visitor")
	}
	// The visitor id alone is no token.
	if st, _ := h.do("GET", "history", a.VisitorID, nil, nil, nil); st != 401 {
		t.Fatalf("visitor id as token: %d", st)
	}
	s := h.stream(a.Token, "", nil)
	var out sessionAnswer
	if st, _ := h.do("POST", "logout", a.Token, struct{}{}, nil, &out); st != 200 {
		t.Fatalf("logout: %d", st)
	}
	if out.VisitorID == a.VisitorID || out.Token == a.Token {
		t.Fatalf("logout answer %+v", out)
	}
	select {
	case ev := <-s.events:
		if ev != "session:ended" {
			t.Fatalf("stream event %q", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked token's stream was not ended")
	}
	for _, route := range []string{"history", "stream"} {
		if st, _ := h.do("GET", route, a.Token, nil, nil, nil); st != 401 {
			t.Errorf("%s with a revoked token: %d", route, st)
		}
	}
	if st, _ := h.do("POST", "messages", a.Token, map[string]string{"text": "hi"}, nil, nil); st != 401 {
		t.Errorf("message with a revoked token: %d", st)
	}
	if st, _ := h.do("GET", "history", out.Token, nil, nil, nil); st != 200 {
		t.Errorf("new token: %d", st)
	}
	// Expiry: an hour of inactivity ends the session.
	mu.Lock()
	now = now.Add(61 * time.Minute)
	mu.Unlock()
	if st, _ := h.do("GET", "history", out.Token, nil, nil, nil); st != 401 {
		t.Errorf("expired token: %d", st)
	}
}

// TestSessionCreationIsRateLimited: past the per-minute budget, sessions
// answers 429 with Retry-After; other routes are not limited.
func TestSessionCreationIsRateLimited(t *testing.T) {
	h := newHarness(t, config.Web{SessionsPerMinute: 3}, nil)
	var last sessionAnswer
	for range 3 {
		last = h.session(nil)
	}
	st, hdr := h.do("POST", "sessions", "", nil, nil, nil)
	if st != 429 || hdr.Get("Retry-After") == "" {
		t.Fatalf("4th session: %d, Retry-After %q", st, hdr.Get("Retry-After"))
	}
	if st, _ := h.do("GET", "history", last.Token, nil, nil, nil); st != 200 {
		t.Fatalf("history while sessions are limited: %d", st)
	}
	// Resuming a live session is no creation: not limited.
	if st, _ := h.do("POST", "sessions", "", map[string]string{"token": last.Token}, nil, nil); st != 200 {
		t.Fatalf("resume while sessions are limited: %d", st)
	}
	// A made-up token does not get around the limit.
	if st, _ := h.do("POST", "sessions", "", map[string]string{"token": last.Token + "x"}, nil, nil); st != 429 {
		t.Fatalf("unknown token while limited: %d", st)
	}
}

// TestCORS: the allow-list answers preflights and refuses other origins;
// same-origin and origin-less requests pass.
func TestCORS(t *testing.T) {
	h := newHarness(t, config.Web{AllowedOrigins: []string{"https://shop.example.com"}}, nil)
	ok := map[string]string{"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}
	st, hdr := h.do("OPTIONS", "messages", "", nil, ok, nil)
	if st != 204 || hdr.Get("Access-Control-Allow-Origin") != "https://shop.example.com" ||
		!strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(hdr.Get("Access-Control-Allow-Methods"), "POST") || hdr.Get("Vary") != "Origin" {
		t.Fatalf("allowed preflight: %d %v", st, hdr)
	}
	evil := map[string]string{"Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"}
	if st, hdr := h.do("OPTIONS", "messages", "", nil, evil, nil); st != 403 || hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("refused preflight: %d %v", st, hdr)
	}
	if st, _ := h.do("POST", "sessions", "", nil, map[string]string{"Origin": "https://evil.example.net"}, nil); st != 403 {
		t.Fatalf("session from a refused origin: %d", st)
	}
	if st, hdr := h.do("POST", "sessions", "", nil, map[string]string{"Origin": "https://shop.example.com"}, nil); st != 200 || hdr.Get("Access-Control-Allow-Origin") != "https://shop.example.com" {
		t.Fatalf("session from an allowed origin: %d %v", st, hdr)
	}
	same := "http://" + strings.TrimPrefix(h.base, "http://")
	if st, _ := h.do("POST", "sessions", "", nil, map[string]string{"Origin": same}, nil); st != 200 {
		t.Fatalf("same-origin session (the demo page): %d", st)
	}
	if st, _ := h.do("POST", "sessions", "", nil, nil, nil); st != 200 {
		t.Fatalf("session without Origin: %d", st)
	}
	// An error answer to an allowed origin stays readable by the page.
	if st, hdr := h.do("GET", "history", "", nil, map[string]string{"Origin": "https://shop.example.com"}, nil); st != 401 || hdr.Get("Access-Control-Allow-Origin") == "" {
		t.Fatalf("401 to an allowed origin: %d %v", st, hdr)
	}
	if st, _ := h.do("OPTIONS", "nope", "", nil, ok, nil); st != 204 {
		t.Fatalf("preflight of any route: %d", st)
	}
	req, _ := http.NewRequest("POST", h.base+"/web/v1/other/sessions", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Fatalf("unknown connection: %v %v", resp, err)
	}
}

// TestMergeIsOnce: merging an anonymous conversation copies its frames
// once, marked, and later replies to it follow into the identified one.
func TestMergeIsOnce(t *testing.T) {
	h := newHarness(t, config.Web{}, nil)
	anon, ident := store.ConversationKey("site", "acme/c/wv_a"), store.ConversationKey("site", "acme/c/cust_1")
	h.appendText(ident, "older, identified")
	for i := 1; i <= 3; i++ {
		h.appendText(anon, fmt.Sprint("anon ", i))
	}
	for range 2 {
		if _, err := h.svc.merge(anon, ident, "wv_a"); err != nil {
			t.Fatal(err)
		}
	}
	if head, _ := h.svc.head(ident); head != 4 {
		t.Fatalf("identified head %d, want 4 (1 + 3 merged once)", head)
	}
	b, _ := h.svc.frame(ident, 4)
	var f web.Frame
	json.Unmarshal(b, &f)
	if f.Text != "anon 3" || f.MergedFrom != "wv_a" {
		t.Fatalf("merged frame %+v", f)
	}
	if _, err := h.svc.Deliver(t.Context(), "site", "wv_a", &web.Frame{Type: web.FrameMessage, From: web.FromBot, Text: "late reply"}); err != nil {
		t.Fatal(err)
	}
	if head, _ := h.svc.head(ident); head != 5 {
		t.Fatalf("a late reply to the anonymous path did not follow: head %d", head)
	}
}

// TestCloseEndsStreams: shutting down ends every stream with a session
// event, so the HTTP server's shutdown is not held.
func TestCloseEndsStreams(t *testing.T) {
	h := newHarness(t, config.Web{}, nil)
	a := h.session(nil)
	s := h.stream(a.Token, "", nil)
	waitFor(t, func() bool { return h.svc.hub.count() == 1 })
	h.svc.Close()
	select {
	case ev := <-s.events:
		if ev != "session:shutdown" {
			t.Fatalf("event %q", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream not ended")
	}
	waitFor(t, func() bool { return h.svc.hub.count() == 0 })
}

// TestMessageIsStoredWithItsEvent: a visitor's message takes its seq and
// goes to the pipeline with the session's metadata, its history item in
// the same transaction: a failing spool answers 503 and leaves no item
// (nor a used seq) behind, a seq another writer took is skipped, and a
// seq whose event was seen before still gets its item.
func TestMessageIsStoredWithItsEvent(t *testing.T) {
	h := newHarness(t, config.Web{}, nil)
	a := h.session(map[string]any{"metadata": map[string]string{"plan": "free", "page": "/"}})
	var m messageAnswer
	if st, _ := h.do("POST", "messages", a.Token, map[string]any{"text": "hi", "metadata": map[string]string{"page": "/cart"}}, nil, &m); st != 202 || m.Seq != 1 || m.ID == "" {
		t.Fatalf("message: %d %+v", st, m)
	}
	h.ing.mu.Lock()
	ev := h.ing.events[0]
	h.ing.mu.Unlock()
	if ev.Channel != "web" || ev.ResponsePath != a.ResponsePath || ev.ID != web.EventID("site", a.VisitorID, 1) || ev.NativeID != m.ID {
		t.Fatalf("event %+v", ev)
	}
	if string(ev.Metadata) != `{"page":"/cart","plan":"free"}` {
		t.Fatalf("metadata %s", ev.Metadata)
	}
	if st, _ := h.do("POST", "messages", a.Token, map[string]any{"text": "hi", "from": "x"}, nil, nil); st != 400 {
		t.Fatalf("unknown field: %d", st)
	}
	h.ing.mu.Lock()
	h.ing.err = fmt.Errorf("disk full")
	h.ing.mu.Unlock()
	if st, hdr := h.do("POST", "messages", a.Token, map[string]any{"text": "again"}, nil, nil); st != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("spool down: %d", st)
	}
	history := func() []int {
		var got struct{ Events []struct{ Seq int } }
		h.do("GET", "history", a.Token, nil, nil, &got)
		var seqs []int
		for _, e := range got.Events {
			seqs = append(seqs, e.Seq)
		}
		return seqs
	}
	if got := history(); !slices.Equal(got, []int{1}) {
		t.Fatalf("history after a refused message: seqs %v, want [1]", got)
	}
	h.ing.mu.Lock()
	h.ing.err = nil
	h.ing.mu.Unlock()
	post := func(want uint64) {
		t.Helper()
		var m messageAnswer
		if st, _ := h.do("POST", "messages", a.Token, map[string]any{"text": "again"}, nil, &m); st != 202 || m.Seq != want {
			t.Fatalf("message: %d seq %d, want 202 seq %d", st, m.Seq, want)
		}
	}
	post(2)
	// Another instance takes seq 3 behind this one's back.
	if err := h.st.Put(BucketMessages, msgKey(h.conv(a), 3), []byte(`{"seq":3}`)); err != nil {
		t.Fatal(err)
	}
	post(4)
	// Seq 5's event was seen before without its item: the item is
	// stored (no gap in the history) and the event not forwarded again.
	if _, err := h.st.Spool([]store.Item{{Kind: store.KindInbound, DedupKey: web.EventID("site", a.VisitorID, 5), Lane: "x"}}); err != nil {
		t.Fatal(err)
	}
	h.ing.mu.Lock()
	forwarded := len(h.ing.events)
	h.ing.mu.Unlock()
	post(5)
	h.ing.mu.Lock()
	if len(h.ing.events) != forwarded {
		t.Errorf("a duplicate event was forwarded again")
	}
	h.ing.mu.Unlock()
	if got := history(); !slices.Equal(got, []int{5, 4, 3, 2, 1}) {
		t.Fatalf("history seqs %v, want [5 4 3 2 1]", got)
	}
}

func TestEmbedAndDemo(t *testing.T) {
	h := newHarness(t, config.Web{}, nil)
	resp, err := http.Get(h.base + "/web/embed.js")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || !bytes.Contains(b, []byte("Switchboard")) {
		t.Fatalf("embed.js: %d %s", resp.StatusCode, resp.Header)
	}
	if len(b) > 24<<10 {
		t.Errorf("embed.js is %d bytes: keep the widget small", len(b))
	}
	req, _ := http.NewRequest("GET", h.base+"/web/embed.js", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if r2, err := http.DefaultClient.Do(req); err != nil || r2.StatusCode != 304 {
		t.Fatalf("conditional get: %v %v", r2, err)
	}
	for _, p := range []string{"/web/demo", "/web/demo/site"} {
		resp, err := http.Get(h.base + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`data-connection="site"`)) || bytes.Contains(b, []byte(testSecret)) {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := http.Get(h.base + "/web/demo/nope"); resp.StatusCode != 404 {
		t.Fatalf("demo of an unknown connection: %d", resp.StatusCode)
	}
}

// countingStore counts the reads of conversation items.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	reads int
}

func (c *countingStore) Get(bucket, key string) ([]byte, error) {
	if bucket == BucketMessages {
		c.mu.Lock()
		c.reads++
		c.mu.Unlock()
	}
	return c.Store.Get(bucket, key)
}

// TestHeadRemembered: appending to a conversation reads one item to find
// its head once this instance knows it, instead of probing up to
// HeadHintEvery items past the stored hint (the web bench found those
// reads at ~16% of the gateway's CPU); items another writer added are
// still found.
func TestHeadRemembered(t *testing.T) {
	h := newHarness(t, config.Web{}, nil)
	cs := &countingStore{Store: h.st}
	h.svc.Store = cs
	const conv, n = "site\x00wv_test", 64
	for i := range n {
		f := web.Frame{Type: web.FrameMessage, From: web.FromVisitor, Text: "x"}
		if _, err := h.svc.appendFrame(conv, &f); err != nil || f.Seq != uint64(i+1) {
			t.Fatalf("append %d: seq %d, %v", i, f.Seq, err)
		}
		h.svc.heads.Wait() // ristretto applies sets asynchronously
	}
	// One probe per append (the item after the head is absent), plus the
	// first append's. Without the memory: about 9 per append.
	if cs.reads > n+2 {
		t.Fatalf("%d item reads for %d appends", cs.reads, n)
	}
	// Another writer (an instance on a shared store) adds items.
	for seq := uint64(n + 1); seq <= n+3; seq++ {
		if _, err := h.st.PutIfAbsent(BucketMessages, msgKey(conv, seq), []byte(`{"type":"message"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := h.svc.head(conv); err != nil || got != n+3 {
		t.Fatalf("head %d, %v; want %d", got, err, n+3)
	}
}

// TestExpiredSessionsAreSwept: SweepSessions deletes the records of
// expired sessions, over as many store pages as it takes, and keeps live
// ones, which still resume.
func TestExpiredSessionsAreSwept(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	h := newHarness(t, config.Web{SessionTTL: time.Hour}, func(s *Service, _ *fasthttp.Server) {
		s.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	a, b, c := h.session(nil), h.session(nil), h.session(nil)
	advance(30 * time.Minute)
	if r := h.session(map[string]string{"token": b.Token}); r.Token != b.Token {
		t.Fatalf("resume: %+v", r)
	}
	advance(31 * time.Minute) // a and c expired; b, resumed, has 29 minutes left
	// Records the sweep reads page by page: 1,300 expired, 1,200 live.
	mu.Lock()
	at := now
	mu.Unlock()
	for i := range 2500 {
		exp := at.Add(-time.Minute)
		if i%25 >= 13 {
			exp = at.Add(time.Minute)
		}
		rec := fmt.Sprintf(`{"c":"site","v":"wv_x%d","ch":"wv_x%d","exp":%d}`, i, i, exp.UnixMilli())
		if err := h.st.Put(BucketSessions, fmt.Sprintf("%064x", i), []byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := h.svc.SweepSessions()
	if err != nil || n != 2+1300 {
		t.Fatalf("SweepSessions = %d, %v; want %d", n, err, 2+1300)
	}
	for _, s := range []struct {
		token string
		kept  bool
	}{{a.Token, false}, {b.Token, true}, {c.Token, false}} {
		if v, _ := h.st.Get(BucketSessions, tokenKey(s.token)); (v != nil) != s.kept {
			t.Errorf("session record kept %v, want %v", v != nil, s.kept)
		}
	}
	if st, _ := h.do("GET", "history", b.Token, nil, nil, nil); st != 200 {
		t.Errorf("a live session after the sweep: %d", st)
	}
	left, err := h.st.List(BucketSessions, "", 5000)
	if err != nil || len(left) != 1+1200 {
		t.Fatalf("%d records left (%v), want %d", len(left), err, 1+1200)
	}
	if n, err := h.svc.SweepSessions(); err != nil || n != 0 {
		t.Fatalf("a second sweep deleted %d (%v)", n, err)
	}
}
