package ledger

import (
	"context"
	"testing"
	"time"
)

func TestAccounting(t *testing.T) {
	l := New()
	now := time.Now()
	p := l.Phase("main", now.Add(-time.Second), now.Add(time.Hour))
	for _, id := range []string{"ok", "dup", "lost-backend", "lost-reply", "refused", "refused-but-came", "misrouted"} {
		l.Expect(p, id, "u1", now, nil)
	}
	if p.Account().Sent != 7 {
		t.Fatal("sent")
	}
	for _, id := range []string{"ok", "dup", "lost-backend", "lost-reply", "misrouted"} {
		l.Answered(id, true)
	}
	l.Answered("refused", false)
	l.Answered("refused-but-came", false)
	if got := p.Outstanding(); got != 5 {
		t.Fatalf("outstanding %d, want 5", got)
	}
	at := now.Add(3 * time.Millisecond)
	for _, id := range []string{"ok", "dup", "dup", "lost-reply", "refused-but-came", "misrouted"} {
		l.Backend([]byte(id), at)
	}
	for _, id := range []string{"ok", "dup", "dup", "refused-but-came"} {
		l.Reply([]byte(id), []byte("u1"), at.Add(2*time.Millisecond))
	}
	l.Reply([]byte("misrouted"), []byte("u2"), at)
	l.Backend([]byte("never-sent"), at)
	l.Reply([]byte("never-sent"), []byte("u1"), at)

	a := p.Account()
	want := Accounting{
		Sent: 7, Acked: 5, Refused: 2,
		AtBackend: 5, BackendDuplicates: 1,
		Replied: 4, ReplyDuplicates: 1,
		LostAtBackend: 1, LostReplies: 1, Lost: 2,
		Misrouted: 1, DeliveredUnacked: 1,
	}
	if a != want {
		t.Fatalf("accounting\n got %+v\nwant %+v", a, want)
	}
	if l.UnknownEvents.Load() != 1 || l.UnknownReplies.Load() != 1 {
		t.Fatal("unknown arrivals not counted")
	}
	if got := p.Outstanding(); got != 2 {
		t.Fatalf("outstanding %d, want the 2 lost", got)
	}
	if p.Drain(context.Background(), 50*time.Millisecond) {
		t.Fatal("drained with replies missing")
	}
	if rt := p.RoundTrip.Summary(); rt.Count != 4 || rt.Max < 4.9 || rt.Max > 5.1 {
		t.Fatalf("round trip %+v, want the 4 first replies, the latest at 5 ms", rt)
	}
	if b, r := p.InWindow(); b != 5 || r != 4 {
		t.Fatalf("in window: backend %d replies %d", b, r)
	}
}

// A reply may overtake its webhook's answer: the event must not stay
// outstanding.
func TestReplyBeforeAnswer(t *testing.T) {
	l := New()
	p := l.Phase("main", time.Now(), time.Now().Add(time.Hour))
	l.Expect(p, "e", "u", time.Now(), nil)
	l.Backend([]byte("e"), time.Now())
	l.Reply([]byte("e"), []byte("u"), time.Now())
	l.Answered("e", true)
	if p.Outstanding() != 0 || !p.Drain(context.Background(), time.Second) {
		t.Fatalf("outstanding %d", p.Outstanding())
	}
	if a := p.Account(); a.Lost != 0 || a.Replied != 1 {
		t.Fatalf("%+v", a)
	}
}

func TestMeasuredOnlyInsideWindow(t *testing.T) {
	l := New()
	now := time.Now()
	p := l.Phase("main", now.Add(time.Second), now.Add(2*time.Second))
	l.Expect(p, "warmup", "u", now, nil)
	l.Expect(p, "window", "u", now.Add(1500*time.Millisecond), nil)
	l.Reply([]byte("warmup"), []byte("u"), now.Add(1100*time.Millisecond))
	l.Reply([]byte("window"), []byte("u"), now.Add(1600*time.Millisecond))
	if rt := p.RoundTrip.Summary(); rt.Count != 1 || rt.Max < 99 || rt.Max > 101 {
		t.Fatalf("round trip %+v, want only the window's event (100 ms)", rt)
	}
	if _, r := p.InWindow(); r != 2 {
		t.Fatalf("replies in window %d: both arrived inside it", r)
	}
}

func TestWaiter(t *testing.T) {
	l := New()
	p := l.Phase("main", time.Now(), time.Now().Add(time.Hour))
	w := NewWaiter()
	w.Arm(2)
	l.Expect(p, "a", "u", time.Now(), w)
	l.Expect(p, "b", "u", time.Now(), w)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	l.Reply([]byte("a"), []byte("u"), time.Now())
	if err := w.Wait(ctx); err == nil {
		t.Fatal("Wait returned with one reply of two")
	}
	l.Reply([]byte("b"), []byte("u"), time.Now())
	l.Reply([]byte("b"), []byte("u"), time.Now()) // a duplicate does not count twice
	if err := w.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.Arm(1) // a stale signal must not release the next webhook
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := w.Wait(ctx2); err == nil {
		t.Fatal("Wait returned before the new webhook's reply")
	}
}

// TestLate: with Late, arrivals for an id its webhook's answer names later
// wait for ExpectAnswered and count as if the id had been known; those no
// answer ever names are unknown.
func TestLate(t *testing.T) {
	l := New()
	l.Late = true
	now := time.Now()
	p := l.Phase("main", now.Add(-time.Second), now.Add(time.Hour))
	w := NewWaiter()
	w.Arm(2)
	at := now.Add(time.Millisecond)
	// "early": backend and reply before the answer; "normal": after.
	l.Backend([]byte("early"), at)
	l.Reply([]byte("early"), []byte("u1"), at.Add(time.Millisecond))
	l.Backend([]byte("stray"), at)
	l.ExpectAnswered(p, "early", "u1", now, w, true)
	l.ExpectAnswered(p, "normal", "u2", now, w, true)
	l.ExpectAnswered(p, "refused:1", "u3", now, nil, false)
	l.Backend([]byte("normal"), at)
	if err := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		l.Reply([]byte("normal"), []byte("u2"), at.Add(2*time.Millisecond))
		return w.Wait(ctx)
	}(); err != nil {
		t.Fatalf("waiter not told of both replies: %v", err)
	}
	want := Accounting{Sent: 3, Acked: 2, Refused: 1, AtBackend: 2, Replied: 2}
	if a := p.Account(); a != want {
		t.Fatalf("accounting\n got %+v\nwant %+v", a, want)
	}
	if got := p.Outstanding(); got != 0 {
		t.Fatalf("outstanding %d", got)
	}
	if rt := p.RoundTrip.Summary(); rt.Count != 2 {
		t.Fatalf("round trips %+v", rt)
	}
	if ev, rep := l.Unknown(); ev != 1 || rep != 0 {
		t.Fatalf("unknown %d events, %d replies; want the stray event", ev, rep)
	}
}
