package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/gateway/identity"
	"github.com/switchboard-gw/switchboard/gateway/store"
	"github.com/switchboard-gw/switchboard/gateway/store/bolt"
	"github.com/switchboard-gw/switchboard/normalize"
)

// stuckBackend never takes an event, so everything stays spooled.
type stuckBackend struct{}

func (*stuckBackend) Deliver(ctx context.Context, _ string, _, dst []byte) ([]byte, error) {
	return dst, context.DeadlineExceeded
}

func newPipeline(t *testing.T, now *time.Time) (*Pipeline, store.Store) {
	t.Helper()
	return newPipelineWith(t, now, store.Options{}, nil)
}

// newPipelineWith is newPipeline on a store opened with opts, its
// events remembered for dedupTTL by connection.
func newPipelineWith(t *testing.T, now *time.Time, opts store.Options, dedupTTL map[string]time.Duration) (*Pipeline, store.Store) {
	t.Helper()
	st, err := bolt.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(st, identity.Options{CacheItems: 1000, Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	p := &Pipeline{
		Store: st, Identity: id, Backend: &stuckBackend{},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Workers: 1, RetryMin: time.Hour, RetryMax: time.Hour,
		Now:      func() time.Time { return *now },
		DedupTTL: dedupTTL,
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close(context.Background())
		id.Close()
		st.Close()
	})
	return p, st
}

func text(id, user string, at time.Time) normalize.Event {
	return normalize.Event{ID: id, Type: normalize.TypeText, Channel: "messenger", BotID: "42", ChannelID: user,
		ResponsePath: string(normalize.BuildResponsePath("42", user)), Text: "hi", Timestamp: at}
}

func windowAt(t *testing.T, st store.Store, user string) time.Time {
	t.Helper()
	b, err := st.Get(store.BucketWindow, store.ConversationKey("fb", string(normalize.BuildResponsePath("42", user))))
	if err != nil || len(b) != 8 {
		t.Fatalf("window of %s: %x %v", user, b, err)
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b)))
}

// TestIngestDedupTTL: each connection's events are remembered for its own
// TTL (its channel's redelivery window), the others for the store's.
func TestIngestDedupTTL(t *testing.T) {
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	p, _ := newPipelineWith(t, &now, store.Options{DedupTTL: time.Hour, Now: clock}, map[string]time.Duration{"vb": 10 * time.Minute})
	for _, conn := range []string{"vb", "fb"} {
		if acc, _, err := p.Ingest(conn, []normalize.Event{text(conn+".e1", "u1", now)}); err != nil || acc != 1 {
			t.Fatalf("%s: accepted %d, %v", conn, acc, err)
		}
	}
	now = now.Add(20 * time.Minute)
	for conn, wantDup := range map[string]int{"vb": 0, "fb": 1} {
		if _, dup, err := p.Ingest(conn, []normalize.Event{text(conn+".e1", "u1", now.Add(-20*time.Minute))}); err != nil || dup != wantDup {
			t.Errorf("%s, redelivered 20 minutes later: %d duplicates (%v), want %d", conn, dup, err, wantDup)
		}
	}
}

// TestIngest checks visitor ids, dedup, the window record (at most once a
// minute per conversation) and OTN tokens from opt-ins.
func TestIngest(t *testing.T) {
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	p, st := newPipeline(t, &now)

	evs := []normalize.Event{text("e1", "u1", now), text("e2", "u2", now)}
	acc, dup, err := p.Ingest("fb", evs)
	if err != nil || acc != 2 || dup != 0 {
		t.Fatalf("Ingest: %d %d %v", acc, dup, err)
	}
	if evs[0].VisitorID == "" || evs[0].VisitorID == evs[1].VisitorID {
		t.Fatalf("visitor ids %q %q", evs[0].VisitorID, evs[1].VisitorID)
	}
	again := []normalize.Event{text("e1", "u1", now)}
	if acc, dup, _ := p.Ingest("fb", again); acc != 0 || dup != 1 {
		t.Fatalf("retry: accepted %d duplicates %d", acc, dup)
	}
	if again[0].VisitorID != evs[0].VisitorID {
		t.Fatal("visitor id changed between events of one person")
	}
	if got := windowAt(t, st, "u1"); !got.Equal(now) {
		t.Fatalf("window %v, want %v", got, now)
	}
	p.windows.Wait()
	// Within a minute the record is not rewritten; after it, it is.
	start := now
	now = start.Add(30 * time.Second)
	p.Ingest("fb", []normalize.Event{text("e3", "u1", now)})
	if got := windowAt(t, st, "u1"); !got.Equal(start) {
		t.Fatalf("window rewritten within a minute: %v", got)
	}
	later := start.Add(90 * time.Second)
	now = later
	p.Ingest("fb", []normalize.Event{text("e4", "u1", later)})
	if got := windowAt(t, st, "u1"); !got.Equal(later) {
		t.Fatalf("window %v after a minute, want %v", got, later)
	}
	// What dispatch reads from memory (LastInbound) is what was written.
	p.windows.Wait()
	if ms, ok := p.LastInbound(store.ConversationKey("fb", string(normalize.BuildResponsePath("42", "u1")))); !ok || ms != later.UnixMilli() {
		t.Fatalf("LastInbound %d %v, want %d", ms, ok, later.UnixMilli())
	}
	if _, ok := p.LastInbound(store.ConversationKey("fb", "nobody")); ok {
		t.Fatal("LastInbound remembers a conversation never seen")
	}
	// A read receipt is not the person's action: no window.
	read := text("e5", "u3", now)
	read.Type = normalize.TypeRead
	p.Ingest("fb", []normalize.Event{read})
	if b, _ := st.Get(store.BucketWindow, store.ConversationKey("fb", read.ResponsePath)); b != nil {
		t.Fatal("a read receipt opened the window")
	}
	// A message of an unmodelled kind from the person opens it too; one
	// about the conversation without them as sender does not.
	order := text("e7", "u5", now)
	order.Type, order.Sender.ID = normalize.TypeUnknown, "u5"
	system := text("e8", "u6", now)
	system.Type = normalize.TypeUnknown
	p.Ingest("fb", []normalize.Event{order, system})
	if got := windowAt(t, st, "u5"); !got.Equal(now) {
		t.Fatalf("unknown message from the person: window %v", got)
	}
	if b, _ := st.Get(store.BucketWindow, store.ConversationKey("fb", system.ResponsePath)); b != nil {
		t.Fatal("an unknown event without the person as sender opened the window")
	}
	// An opt-in stores its one-time-notification token.
	optin := text("e6", "u4", now)
	optin.Type, optin.Metadata = normalize.TypeOptin, []byte(`{"type":"one_time_notif_req","one_time_notif_token":"tok-1"}`)
	p.Ingest("fb", []normalize.Event{optin})
	if b, _ := st.Get(store.BucketOTN, store.ConversationKey("fb", optin.ResponsePath)); string(b) != "tok-1" {
		t.Fatalf("OTN token %q", b)
	}
	if p.Pending() != 8 {
		t.Fatalf("pending %d, want the 8 accepted events", p.Pending())
	}
}

// TestIngestWith checks that what IngestWith writes with an event lands in
// its transaction: a taken claim refuses the call and nothing of it is
// spooled, queued or written (its dedup key neither), and a duplicate
// writes nothing extra.
func TestIngestWith(t *testing.T) {
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	p, st := newPipeline(t, &now)
	claim := func(key, value string) store.KV {
		return store.KV{Bucket: "web_messages", Key: key, Value: []byte(value), IfAbsent: true}
	}
	if dup, err := p.IngestWith("fb", text("e1", "u1", now), claim("c/1", "one")); err != nil || dup {
		t.Fatalf("IngestWith: dup %v, %v", dup, err)
	}
	if b, _ := st.Get("web_messages", "c/1"); string(b) != "one" {
		t.Fatalf("claimed value %q", b)
	}
	_, err := p.IngestWith("fb", text("e2", "u2", now), claim("c/1", "two"))
	if !errors.Is(err, store.ErrTaken) {
		t.Fatalf("claim of a taken key: %v, want store.ErrTaken", err)
	}
	if b, _ := st.Get("web_messages", "c/1"); string(b) != "one" {
		t.Fatalf("claimed value %q after a refused claim", b)
	}
	if b, _ := st.Get(store.BucketWindow, store.ConversationKey("fb", string(normalize.BuildResponsePath("42", "u2")))); b != nil {
		t.Fatal("a refused call wrote its window")
	}
	if p.Pending() != 1 {
		t.Fatalf("pending %d, want only the first event", p.Pending())
	}
	// The refused event was not remembered: it goes in with a free key.
	if dup, err := p.IngestWith("fb", text("e2", "u2", now), claim("c/2", "two")); err != nil || dup {
		t.Fatalf("IngestWith after a refusal: dup %v, %v", dup, err)
	}
	// A duplicate is reported and writes nothing of with.
	if dup, err := p.IngestWith("fb", text("e1", "u1", now), claim("c/3", "three")); err != nil || !dup {
		t.Fatalf("duplicate: dup %v, %v", dup, err)
	}
	if b, _ := st.Get("web_messages", "c/3"); b != nil {
		t.Fatal("a duplicate wrote its claim")
	}
	if p.Pending() != 2 {
		t.Fatalf("pending %d, want 2", p.Pending())
	}
}

func BenchmarkIngest(b *testing.B) {
	now := time.Now()
	st, _ := bolt.Open(b.TempDir(), store.Options{})
	defer st.Close()
	id, _ := identity.New(st, identity.Options{CacheItems: 1000, Key: []byte("k")})
	defer id.Close()
	p := &Pipeline{Store: st, Identity: id, Backend: &stuckBackend{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Workers: 1, RetryMin: time.Hour, RetryMax: time.Hour}
	p.Start()
	defer p.Close(context.Background())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		evs := make([]normalize.Event, 1)
		i := 0
		for pb.Next() {
			i++
			evs[0] = text(time.Now().String()+string(rune(i)), "u1", now)
			p.Ingest("fb", evs)
		}
	})
}
