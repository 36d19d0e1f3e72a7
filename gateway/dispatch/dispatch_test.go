package dispatch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway/connections"
	"github.com/switchboard-gw/switchboard/gateway/store"
	"github.com/switchboard-gw/switchboard/gateway/store/bolt"
	"github.com/switchboard-gw/switchboard/normalize"
)

// fakeChannel is an Outbound whose answers the test scripts; it records
// what was sent per recipient, in order.
type fakeChannel struct {
	mu    sync.Mutex
	sent  map[string][]string
	tos   []adapters.Recipient
	calls int
	// fail, when set, decides an error for a call (nil: success).
	fail func(call int, to adapters.Recipient, r *normalize.Reply) error
}

func (f *fakeChannel) Send(_ context.Context, to adapters.Recipient, r *normalize.Reply) (adapters.Sent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		if err := f.fail(f.calls, to, r); err != nil {
			return adapters.Sent{}, err
		}
	}
	if f.sent == nil {
		f.sent = map[string][]string{}
	}
	f.sent[to.ChannelID] = append(f.sent[to.ChannelID], r.Text)
	f.tos = append(f.tos, to)
	return adapters.Sent{MessageID: fmt.Sprint("m_", f.calls)}, nil
}

func (f *fakeChannel) setFail(fn func(call int, to adapters.Recipient, r *normalize.Reply) error) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

func (f *fakeChannel) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// windowed adds Messenger-like window rules to fakeChannel.
type windowed struct{ *fakeChannel }

func (windowed) CheckWindow(since time.Duration, known bool, r *normalize.Reply, otn bool) error {
	if otn || (known && since <= 24*time.Hour) || (known && r.Tag == "HUMAN_AGENT" && since <= 7*24*time.Hour) {
		return nil
	}
	return adapters.Renderf("outside_window", "outside the window")
}

const bot = "42"

func newDispatcher(t *testing.T, out adapters.Outbound) (*Dispatcher, store.Store) {
	t.Helper()
	st, err := bolt.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := &Dispatcher{
		Store:         st,
		Conns:         connections.NewSet(&connections.Conn{Name: "fb", Channel: "messenger", Outbound: out, Bots: []string{bot}}),
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		Workers:       8,
		EnforceWindow: true,
		Timeout:       time.Second,
		Breaker:       config.Breaker{Failures: 3, OpenFor: 150 * time.Millisecond, Interval: time.Minute},
		RetryMin:      2 * time.Millisecond,
		RetryMax:      20 * time.Millisecond,
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Close(context.Background())
		st.Close()
	})
	return d, st
}

func path(user string) string { return string(normalize.BuildResponsePath(bot, user)) }

// openWindow records an inbound message from user at.
func openWindow(t *testing.T, st store.Store, user string, at time.Time) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(at.UnixMilli()))
	if err := st.Put(store.BucketWindow, store.ConversationKey("fb", path(user)), b[:]); err != nil {
		t.Fatal(err)
	}
}

// spool hands replies to the dispatcher as the pipeline does: Accept
// queues them, then their items are spooled and the seqs reported.
func spool(t *testing.T, d *Dispatcher, st store.Store, user string, texts ...string) {
	t.Helper()
	msgs := make([]normalize.Reply, len(texts))
	for i, s := range texts {
		msgs[i] = normalize.Reply{Text: s}
	}
	items := d.Accept(store.ConversationKey("fb", path(user)), "ev", msgs, nil)
	seqs, err := st.Spool(items)
	if err != nil {
		t.Fatal(err)
	}
	d.Committed(items, seqs, nil)
}

func spooledCount(t *testing.T, st store.Store) int {
	n := 0
	if err := st.Replay(func(store.Entry) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestThousandRepliesToFiftyPathsInOrder spools 1,000 replies over 50
// conversations with transient failures sprinkled in, and checks each
// conversation received its replies in order, each once, and the spool
// is empty afterwards.
func TestThousandRepliesToFiftyPathsInOrder(t *testing.T) {
	ch := &fakeChannel{}
	ch.fail = func(call int, _ adapters.Recipient, _ *normalize.Reply) error {
		if call%7 == 0 {
			return &adapters.APIError{Class: adapters.ClassTransient, Code: "server_error", HTTPStatus: 500}
		}
		return nil
	}
	d, st := newDispatcher(t, windowed{ch})
	d.Breaker.Failures = 1000 // sprinkled failures must not open it here
	const paths, per = 50, 20
	for u := range paths {
		openWindow(t, st, fmt.Sprint("u", u), time.Now())
	}
	for i := range per {
		for u := range paths {
			spool(t, d, st, fmt.Sprint("u", u), fmt.Sprint(i))
		}
	}
	waitUntil(t, "all sent", func() bool { s, _ := d.Counters(); return s == paths*per })
	ch.mu.Lock()
	for u := range paths {
		got := ch.sent[fmt.Sprint("u", u)]
		if len(got) != per {
			t.Fatalf("u%d got %d replies, want %d", u, len(got), per)
		}
		for i, s := range got {
			if s != fmt.Sprint(i) {
				t.Fatalf("u%d: reply %d is %q: out of order", u, i, s)
			}
		}
	}
	ch.mu.Unlock()
	waitUntil(t, "spool drained", func() bool { return spooledCount(t, st) == 0 })
}

// TestBreakerOpensAndRecovers fails calls with 5xx until the breaker
// opens, checks /v1/messages is refused at once with breaker_open and a
// Retry-After, then lets the channel recover through half-open.
func TestBreakerOpensAndRecovers(t *testing.T) {
	ch := &fakeChannel{}
	ch.fail = func(int, adapters.Recipient, *normalize.Reply) error {
		return &adapters.APIError{Class: adapters.ClassTransient, Code: "server_error", HTTPStatus: 503}
	}
	d, st := newDispatcher(t, windowed{ch})
	openWindow(t, st, "u1", time.Now())
	req := &normalize.MessagesRequest{ResponsePath: path("u1"), Messages: []normalize.Reply{{Text: "hi"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	res, err := d.Send(ctx, "", req)
	cancel()
	if err != nil || res[0].Error == nil || !res[0].Error.Retryable {
		t.Fatalf("send during outage: %v %+v", err, res)
	}
	waitUntil(t, "breaker open", func() bool { return d.openFor(d.breakerFor("fb", bot)) > 0 })
	calls := ch.callCount()
	_, err = d.Send(context.Background(), "", req)
	var re *RequestError
	if !errors.As(err, &re) || re.Status != 503 || re.Code != "breaker_open" || re.RetryAfter <= 0 {
		t.Fatalf("send with breaker open: %v, want 503 breaker_open with RetryAfter", err)
	}
	if ch.callCount() != calls {
		t.Fatal("a call reached the channel while the breaker was open")
	}
	ch.setFail(nil)
	waitUntil(t, "half-open", func() bool { return d.openFor(d.breakerFor("fb", bot)) == 0 })
	res, err = d.Send(context.Background(), "", req)
	if err != nil || res[0].Error != nil || res[0].MessageID == "" {
		t.Fatalf("send after recovery: %v %+v", err, res)
	}
	if s := d.breakerFor("fb", bot).cb.State().String(); s != "closed" {
		t.Fatalf("breaker %s after a successful probe, want closed", s)
	}
}

// TestRecipientErrorsDoNotTrip sends a burst that fails for the
// recipient (blocked, outside window, bad request) and rate limits per
// recipient: the breaker stays closed.
func TestRecipientErrorsDoNotTrip(t *testing.T) {
	ch := &fakeChannel{}
	ch.fail = func(call int, _ adapters.Recipient, _ *normalize.Reply) error {
		switch call % 3 {
		case 0:
			return &adapters.APIError{Class: adapters.ClassRecipient, Code: "user_unavailable", ChannelCode: "551"}
		case 1:
			return &adapters.APIError{Class: adapters.ClassRequest, Code: "invalid_request", ChannelCode: "100"}
		}
		return &adapters.APIError{Class: adapters.ClassRecipient, Code: "outside_window", ChannelCode: "10/2018278"}
	}
	d, st := newDispatcher(t, windowed{ch})
	for u := range 30 {
		openWindow(t, st, fmt.Sprint("u", u), time.Now())
		res, err := d.Send(context.Background(), "", &normalize.MessagesRequest{ResponsePath: path(fmt.Sprint("u", u)), Messages: []normalize.Reply{{Text: "x"}}})
		if err != nil {
			t.Fatalf("send %d: %v (the breaker must not open on per-recipient errors)", u, err)
		}
		if res[0].Error == nil || res[0].Error.Retryable {
			t.Fatalf("send %d: %+v, want a permanent error", u, res[0])
		}
	}
	if s := d.breakerFor("fb", bot).cb.State().String(); s != "closed" {
		t.Fatalf("breaker %s, want closed", s)
	}
}

// TestSpooledRepliesWaitWhileBreakerOpen checks a synchronous reply is
// kept in the spool while the breaker is open and goes out, in order,
// once the channel recovers.
func TestSpooledRepliesWaitWhileBreakerOpen(t *testing.T) {
	ch := &fakeChannel{}
	ch.fail = func(int, adapters.Recipient, *normalize.Reply) error {
		return &adapters.APIError{Class: adapters.ClassTransient, Code: "network"}
	}
	d, st := newDispatcher(t, windowed{ch})
	openWindow(t, st, "u1", time.Now())
	spool(t, d, st, "u1", "a", "b", "c")
	waitUntil(t, "breaker open", func() bool { return d.openFor(d.breakerFor("fb", bot)) > 0 })
	if n := spooledCount(t, st); n != 3 {
		t.Fatalf("%d replies spooled while the breaker is open, want 3", n)
	}
	ch.setFail(nil)
	waitUntil(t, "sent", func() bool { s, _ := d.Counters(); return s == 3 })
	ch.mu.Lock()
	got := fmt.Sprint(ch.sent["u1"])
	ch.mu.Unlock()
	if got != "[a b c]" {
		t.Fatalf("sent %s, want [a b c]", got)
	}
	waitUntil(t, "spool drained", func() bool { return spooledCount(t, st) == 0 })
}

// TestRateLimitPausesTheBot makes the channel answer one bot-wide rate
// limit and checks no call at all goes out before its Retry-After.
func TestRateLimitPausesTheBot(t *testing.T) {
	const wait = 80 * time.Millisecond
	var mu sync.Mutex
	var limitedAt time.Time
	var callTimes []time.Time
	ch := &fakeChannel{}
	ch.fail = func(call int, _ adapters.Recipient, _ *normalize.Reply) error {
		mu.Lock()
		defer mu.Unlock()
		if call == 1 {
			limitedAt = time.Now()
			return &adapters.APIError{Class: adapters.ClassRateLimited, Code: "rate_limited", ChannelCode: "613", RetryAfter: wait}
		}
		callTimes = append(callTimes, time.Now())
		return nil
	}
	d, st := newDispatcher(t, windowed{ch})
	openWindow(t, st, "u1", time.Now())
	openWindow(t, st, "u2", time.Now())
	spool(t, d, st, "u1", "first")
	waitUntil(t, "rate limited", func() bool { return ch.callCount() >= 1 })
	spool(t, d, st, "u2", "second")
	waitUntil(t, "sent", func() bool { s, _ := d.Counters(); return s == 2 })
	mu.Lock()
	defer mu.Unlock()
	for _, at := range callTimes {
		if at.Sub(limitedAt) < wait {
			t.Fatalf("a call went out %s after the rate limit, before its Retry-After of %s", at.Sub(limitedAt), wait)
		}
	}
	if s := d.breakerFor("fb", bot).cb.State().String(); s != "closed" {
		t.Fatalf("rate limit tripped the breaker: %s", s)
	}
}

// TestOTNTokenUsedOnce stores an opt-in token and checks the first otn
// reply uses it and the second is refused without a call.
func TestOTNTokenUsedOnce(t *testing.T) {
	ch := &fakeChannel{}
	d, st := newDispatcher(t, windowed{ch})
	if err := st.Put(store.BucketOTN, store.ConversationKey("fb", path("u1")), []byte("otn-token-1")); err != nil {
		t.Fatal(err)
	}
	req := &normalize.MessagesRequest{ResponsePath: path("u1"), Messages: []normalize.Reply{{Text: "back in stock", OTN: true}}}
	res, err := d.Send(context.Background(), "", req)
	if err != nil || res[0].Error != nil {
		t.Fatalf("first otn send: %v %+v", err, res)
	}
	if tok := ch.tos[0].OTNToken; tok != "otn-token-1" {
		t.Fatalf("sent with token %q", tok)
	}
	res, err = d.Send(context.Background(), "", req)
	if err != nil || res[0].Error == nil || res[0].Error.Code != "no_otn_token" {
		t.Fatalf("second otn send: %v %+v, want no_otn_token", err, res)
	}
	if ch.callCount() != 1 {
		t.Fatalf("%d calls, want 1", ch.callCount())
	}
}

// TestWindowPolicy checks replies outside the 24-hour window are refused
// before any call, unless tagged for a human agent within 7 days.
func TestWindowPolicy(t *testing.T) {
	ch := &fakeChannel{}
	d, st := newDispatcher(t, windowed{ch})
	send := func(user string, r normalize.Reply) *normalize.SendError {
		res, err := d.Send(context.Background(), "", &normalize.MessagesRequest{ResponsePath: path(user), Messages: []normalize.Reply{r}})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Error
	}
	if e := send("never", normalize.Reply{Text: "hi"}); e == nil || e.Code != "outside_window" {
		t.Fatalf("no inbound ever: %+v", e)
	}
	openWindow(t, st, "old", time.Now().Add(-25*time.Hour))
	if e := send("old", normalize.Reply{Text: "hi"}); e == nil || e.Code != "outside_window" {
		t.Fatalf("25 h old: %+v", e)
	}
	if ch.callCount() != 0 {
		t.Fatal("a refused reply reached the channel")
	}
	if e := send("old", normalize.Reply{Text: "agent here", Tag: "HUMAN_AGENT"}); e != nil {
		t.Fatalf("HUMAN_AGENT within 7 days refused: %+v", e)
	}
	openWindow(t, st, "fresh", time.Now())
	if e := send("fresh", normalize.Reply{Text: "hi"}); e != nil {
		t.Fatalf("fresh window refused: %+v", e)
	}
	if !ch.tos[len(ch.tos)-1].Response {
		t.Fatal("reply inside the window not marked as a response")
	}
	d.EnforceWindow = false
	if e := send("never", normalize.Reply{Text: "hi"}); e != nil {
		t.Fatalf("with enforcement off: %+v", e)
	}
}

// memWindows is a Windows over a map of conversation key → unix ms.
type memWindows map[string]int64

func (m memWindows) LastInbound(key string) (int64, bool) {
	ms, ok := m[key]
	return ms, ok
}

// TestWindowsMemory: a remembered time inside the window answers the
// check without the store; one beyond it, or none, sends the check to the
// store, whose newer time wins.
func TestWindowsMemory(t *testing.T) {
	ch := &fakeChannel{}
	d, st := newDispatcher(t, windowed{ch})
	now := time.Now()
	key := func(user string) string { return store.ConversationKey("fb", path(user)) }
	d.Windows = memWindows{
		key("remembered"): now.Add(-time.Minute).UnixMilli(), // the store has nothing: memory alone opens it
		key("stale"):      now.Add(-25 * time.Hour).UnixMilli(),
		key("closed"):     now.Add(-25 * time.Hour).UnixMilli(),
	}
	openWindow(t, st, "stale", now)
	openWindow(t, st, "forgotten", now)
	openWindow(t, st, "closed", now.Add(-26*time.Hour))
	for user, ok := range map[string]bool{"remembered": true, "stale": true, "forgotten": true, "closed": false, "never": false} {
		res, err := d.Send(context.Background(), "", &normalize.MessagesRequest{ResponsePath: path(user), Messages: []normalize.Reply{{Text: "hi"}}})
		if err != nil {
			t.Fatal(err)
		}
		if e := res[0].Error; ok != (e == nil) {
			t.Errorf("%s: error %+v, want sent %v", user, e, ok)
		}
	}
}

// paced adds a per-recipient pace to fakeChannel, as Telegram has.
type paced struct {
	*fakeChannel
	every time.Duration
}

func (p paced) Pace(adapters.Recipient) (time.Duration, int) { return p.every, 1 }

// TestPacePerRecipient checks sends to one recipient are spaced by the
// channel's pace while another recipient is not held up by it.
func TestPacePerRecipient(t *testing.T) {
	const every = 40 * time.Millisecond
	var mu sync.Mutex
	times := map[string][]time.Time{}
	ch := &fakeChannel{}
	ch.fail = func(_ int, to adapters.Recipient, _ *normalize.Reply) error {
		mu.Lock()
		times[to.ChannelID] = append(times[to.ChannelID], time.Now())
		mu.Unlock()
		return nil
	}
	d, _ := newDispatcher(t, paced{ch, every})
	start := time.Now()
	spoolNoWindow := func(user string, texts ...string) { spool(t, d, d.Store, user, texts...) }
	spoolNoWindow("u1", "a", "b", "c")
	spoolNoWindow("u2", "x")
	waitUntil(t, "sent", func() bool { s, _ := d.Counters(); return s == 4 })
	mu.Lock()
	defer mu.Unlock()
	u1 := times["u1"]
	for i := 1; i < len(u1); i++ {
		// rate.Limiter grants tokens on a continuous clock: allow 10% slack.
		if gap := u1[i].Sub(u1[i-1]); gap < every*9/10 {
			t.Fatalf("u1 sends %d and %d only %s apart, pace is %s", i-1, i, gap, every)
		}
	}
	if first := times["u2"][0].Sub(start); first >= 2*every {
		t.Fatalf("u2 waited %s behind u1's pace", first)
	}
}

// TestAcceptSkipsSettledReplies checks that replies finished before the
// transaction that spools them is written (one sent, one refused for good)
// are never written: seq 0, nothing spooled, nothing left to ack.
func TestAcceptSkipsSettledReplies(t *testing.T) {
	ch := &fakeChannel{}
	d, st := newDispatcher(t, windowed{ch})
	openWindow(t, st, "u1", time.Now()) // u2 has none: its reply is refused
	sent := d.Accept(store.ConversationKey("fb", path("u1")), "ev1", []normalize.Reply{{Text: "a"}}, nil)
	refused := d.Accept(store.ConversationKey("fb", path("u2")), "ev2", []normalize.Reply{{Text: "b"}}, nil)
	waitUntil(t, "both finished", func() bool { s, f := d.Counters(); return s == 1 && f == 1 })
	seqs, err := st.Spool(append(sent, refused...))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqs, []uint64{0, 0}) {
		t.Fatalf("seqs %v, want [0 0]: finished replies need no spool entry", seqs)
	}
	d.Committed(sent, seqs[:1], nil)
	d.Committed(refused, seqs[1:], nil)
	if n := spooledCount(t, st); n != 0 {
		t.Fatalf("%d entries spooled, want 0", n)
	}
	if got := st.(*bolt.Store).Stats().Settled; got != 2 {
		t.Fatalf("Stats().Settled = %d, want 2", got)
	}
}

// TestAcceptAcksAfterLateCommit holds the channel while accepted replies
// are spooled, so they finish after their entries are written but before
// their seqs are known, and checks each is acked once its seq is known,
// and that replies replayed from the spool go out and are acked too.
func TestAcceptAcksAfterLateCommit(t *testing.T) {
	ch := &fakeChannel{}
	d, st := newDispatcher(t, windowed{ch})
	openWindow(t, st, "u1", time.Now())
	ch.mu.Lock() // sends wait until the entries are written
	items := d.Accept(store.ConversationKey("fb", path("u1")), "ev", []normalize.Reply{{Text: "a"}, {Text: "b"}}, nil)
	seqs, err := st.Spool(items)
	ch.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(seqs, 0) {
		t.Fatalf("seqs %v: a reply still in flight was not spooled", seqs)
	}
	waitUntil(t, "sent from memory", func() bool { s, _ := d.Counters(); return s == 2 })
	if n := spooledCount(t, st); n != 2 {
		t.Fatalf("%d spooled before the seqs are known, want 2", n)
	}
	d.Committed(items, seqs, nil)
	waitUntil(t, "acked after the commit", func() bool { return spooledCount(t, st) == 0 })

	// Replay: entries spooled by an earlier process go out and are acked.
	ch.mu.Lock()
	items = d.Accept(store.ConversationKey("fb", path("u1")), "ev2", []normalize.Reply{{Text: "c"}}, nil)
	seqs, err = st.Spool(items)
	ch.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "sent", func() bool { s, _ := d.Counters(); return s == 3 })
	var replayed []store.Entry
	st.Replay(func(e store.Entry) error { replayed = append(replayed, e); return nil })
	if len(replayed) != 1 || replayed[0].Seq != seqs[0] {
		t.Fatalf("replayed %+v", replayed)
	}
	d.Push(replayed)
	waitUntil(t, "replayed reply sent and acked", func() bool { s, _ := d.Counters(); return s == 4 && spooledCount(t, st) == 0 })
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if got := fmt.Sprint(ch.sent["u1"]); got != "[a b c c]" {
		t.Fatalf("sent %s", got)
	}
}
