package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchboard-gw/switchboard/gateway/store"
)

// OpenFunc opens the backend's store kept under dir. It fails t when it
// cannot. The suite closes every store it opens.
type OpenFunc func(t *testing.T, dir string, opts store.Options) store.Store

// sweeper is the optional ability to delete expired dedup keys on demand.
type sweeper interface {
	Sweep() (int, error)
}

// hangTimeout bounds calls that must not block forever (Close with writers
// in flight).
const hangTimeout = 30 * time.Second

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		fn   func(*testing.T, *harness)
	}{
		{"SpoolOrder", testSpoolOrder},
		{"SpoolEmpty", testSpoolEmpty},
		{"DedupWithinCall", testDedupWithinCall},
		{"DedupAcrossCalls", testDedupAcrossCalls},
		{"DedupExpiry", testDedupExpiry},
		{"DedupDefaultTTL", testDedupDefaultTTL},
		{"DedupAt", testDedupAt},
		{"DedupAtMixed", testDedupAtMixed},
		{"DedupItemTTL", testDedupItemTTL},
		{"DedupItemTTLChanged", testDedupItemTTLChanged},
		{"SetsOnlyForNewItems", testSetsOnlyForNew},
		{"Settled", testSettled},
		{"InvalidItemWritesNothing", testInvalidItem},
		{"Claims", testClaims},
		{"ConcurrentClaims", testConcurrentClaims},
		{"Ack", testAck},
		{"AckUnknownSeq", testAckUnknown},
		{"AckAsync", testAckAsync},
		{"ReplayStopsOnError", testReplayError},
		{"ReplayCopies", testReplayCopies},
		{"KeyValue", testKeyValue},
		{"ListAndDeleteKeys", testListAndDeleteKeys},
		{"EmptyValue", testEmptyValue},
		{"InvalidKey", testInvalidKey},
		{"ConcurrentSpool", testConcurrentSpool},
		{"ConcurrentPutIfAbsentAndTake", testConcurrentKV},
		{"Reopen", testReopen},
		{"SeqsNeverReused", testSeqsNeverReused},
		{"Closed", testClosed},
		{"CloseWithWritesInFlight", testCloseInFlight},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, &harness{t: t, dir: t.TempDir(), open: open, clock: newClock()})
		})
	}
}

// harness opens stores for one test: all on the same dir and clock.
type harness struct {
	t     *testing.T
	dir   string
	open  OpenFunc
	clock *clock
}

// openStore opens the test's store with opts; Now is always the fake clock.
func (h *harness) openStore(opts store.Options) store.Store {
	h.t.Helper()
	opts.Now = h.clock.Now
	s := h.open(h.t, h.dir, opts)
	if s == nil {
		h.t.Fatal("open returned a nil store")
	}
	h.t.Cleanup(func() { _ = s.Close() })
	return s
}

// clock is a fake clock the tests move.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// --- helpers ---

var entryCmp = cmpopts.EquateEmpty()

func spool(t *testing.T, s store.Store, items ...store.Item) []uint64 {
	t.Helper()
	seqs, err := s.Spool(items)
	if err != nil {
		t.Fatalf("Spool: %v", err)
	}
	if len(seqs) != len(items) {
		t.Fatalf("Spool returned %d seqs for %d items", len(seqs), len(items))
	}
	return seqs
}

func ack(t *testing.T, s store.Store, seq uint64, next ...store.Item) []uint64 {
	t.Helper()
	seqs, err := s.Ack(seq, next)
	if err != nil {
		t.Fatalf("Ack(%d): %v", seq, err)
	}
	if len(seqs) != len(next) {
		t.Fatalf("Ack returned %d seqs for %d items", len(seqs), len(next))
	}
	return seqs
}

func replay(t *testing.T, s store.Store) []store.Entry {
	t.Helper()
	var out []store.Entry
	if err := s.Replay(func(e store.Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return out
}

func get(t *testing.T, s store.Store, bucket, key string) []byte {
	t.Helper()
	v, err := s.Get(bucket, key)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", bucket, key, err)
	}
	return v
}

func wantReplay(t *testing.T, s store.Store, want []store.Entry) {
	t.Helper()
	if diff := cmp.Diff(want, replay(t, s), entryCmp); diff != "" {
		t.Fatalf("Replay (-want +got):\n%s", diff)
	}
}

func wantValue(t *testing.T, s store.Store, bucket, key string, want []byte) {
	t.Helper()
	got := get(t, s, bucket, key)
	if (got == nil) != (want == nil) || !bytes.Equal(got, want) {
		t.Fatalf("Get(%q, %q) = %q, want %q", bucket, key, orNil(got), orNil(want))
	}
}

func orNil(b []byte) string {
	if b == nil {
		return "<nil>"
	}
	return string(b)
}

func item(kind store.Kind, lane, data string) store.Item {
	return store.Item{Kind: kind, Lane: lane, Data: []byte(data)}
}

func entry(seq uint64, it store.Item) store.Entry {
	return store.Entry{Seq: seq, Kind: it.Kind, Lane: it.Lane, Data: it.Data}
}

// --- tests ---

func testSpoolOrder(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	first := []store.Item{
		item(store.KindInbound, "c1/u1", `{"text":"hi"}`),
		item(store.KindOutbound, "c1/u1", `{"text":"hello"}`),
		{Kind: store.KindInbound, Lane: "", Data: nil},
	}
	second := []store.Item{
		{Kind: store.KindInbound, Lane: strings.Repeat("l", 300), Data: binary},
		item(store.KindOutbound, "c2/u9", "x"),
	}
	seqs := append(spool(t, s, first...), spool(t, s, second...)...)
	var want []store.Entry
	for i, it := range append(slices.Clone(first), second...) {
		if seqs[i] == 0 {
			t.Fatalf("seq %d is 0", i)
		}
		if i > 0 && seqs[i] <= seqs[i-1] {
			t.Fatalf("seqs not increasing: %v", seqs)
		}
		want = append(want, entry(seqs[i], it))
	}
	wantReplay(t, s, want)
}

func testSpoolEmpty(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	for _, items := range [][]store.Item{nil, {}} {
		seqs, err := s.Spool(items)
		if err != nil || seqs == nil || len(seqs) != 0 {
			t.Fatalf("Spool(%v) = %v, %v; want [], nil", items, seqs, err)
		}
	}
	wantReplay(t, s, nil)
}

func testDedupWithinCall(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	a := store.Item{Kind: store.KindInbound, DedupKey: "mid.1", Lane: "l", Data: []byte("a")}
	b := store.Item{Kind: store.KindInbound, DedupKey: "mid.1", Lane: "l", Data: []byte("b")}
	c := item(store.KindInbound, "l", "c")
	d := item(store.KindInbound, "l", "c") // no DedupKey: never a duplicate
	seqs := spool(t, s, a, b, c, d)
	if seqs[0] == 0 || seqs[1] != 0 || seqs[2] == 0 || seqs[3] == 0 {
		t.Fatalf("seqs = %v, want [n 0 n n]", seqs)
	}
	wantReplay(t, s, []store.Entry{entry(seqs[0], a), entry(seqs[2], c), entry(seqs[3], d)})
}

func testDedupAcrossCalls(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	a := store.Item{Kind: store.KindInbound, DedupKey: "mid.1", Lane: "l", Data: []byte("a")}
	first := spool(t, s, a)
	if again := spool(t, s, a); again[0] != 0 {
		t.Fatalf("second Spool of the same key = %v, want [0]", again)
	}
	// The key is remembered after its entry is acked: a retry arriving
	// after delivery is still a duplicate.
	ack(t, s, first[0])
	if again := spool(t, s, a); again[0] != 0 {
		t.Fatalf("Spool after Ack = %v, want [0]", again)
	}
	// Keys are compared whole.
	other := a
	other.DedupKey = "mid.10"
	if seqs := spool(t, s, other); seqs[0] == 0 {
		t.Fatal("a different key was taken for a duplicate")
	}
}

func testDedupExpiry(t *testing.T, h *harness) {
	s := h.openStore(store.Options{DedupTTL: time.Hour})
	a := store.Item{Kind: store.KindInbound, DedupKey: "k", Lane: "l", Data: []byte("a")}
	spool(t, s, a)
	h.clock.Advance(59 * time.Minute)
	if seqs := spool(t, s, a); seqs[0] != 0 {
		t.Fatalf("within TTL: seq %d, want 0", seqs[0])
	}
	// A duplicate does not extend the window: it ends an hour after the
	// first sighting.
	h.clock.Advance(2 * time.Minute)
	if seqs := spool(t, s, a); seqs[0] == 0 {
		t.Fatal("after TTL: still a duplicate")
	}
	// Spooled again, the key is remembered again.
	if seqs := spool(t, s, a); seqs[0] != 0 {
		t.Fatalf("right after re-spool: seq %d, want 0", seqs[0])
	}

	sw, ok := s.(sweeper)
	if !ok {
		return
	}
	b := store.Item{Kind: store.KindInbound, DedupKey: "k2", Lane: "l", Data: []byte("b")}
	spool(t, s, b)
	h.clock.Advance(30 * time.Minute) // k expired, k2 not yet
	if _, err := sw.Sweep(); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if seqs := spool(t, s, b); seqs[0] != 0 {
		t.Fatal("Sweep forgot a key within its TTL")
	}
	h.clock.Advance(time.Hour)
	if _, err := sw.Sweep(); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if seqs := spool(t, s, a, b); seqs[0] == 0 || seqs[1] == 0 {
		t.Fatalf("after Sweep: seqs %v, want both new", seqs)
	}
	if seqs := spool(t, s, a, b); seqs[0] != 0 || seqs[1] != 0 {
		t.Fatalf("after Sweep and re-spool: seqs %v, want [0 0]", seqs)
	}
}

// testDedupAt: a key with a provider time is a duplicate only with the
// same time, for the TTL after that time (not after its first sighting).
func testDedupAt(t *testing.T, h *harness) {
	s := h.openStore(store.Options{DedupTTL: time.Hour})
	at := h.clock.Now().Add(-10 * time.Minute)
	a := store.Item{Kind: store.KindInbound, DedupKey: "mid.1", DedupAt: at, Lane: "l", Data: []byte("a")}
	if seqs := spool(t, s, a, a); seqs[0] == 0 || seqs[1] != 0 {
		t.Fatalf("same key and time twice in one call: seqs %v, want [n 0]", seqs)
	}
	if seqs := spool(t, s, a); seqs[0] != 0 {
		t.Fatalf("redelivery: seq %d, want 0", seqs[0])
	}
	other := a
	other.DedupAt = at.Add(time.Millisecond)
	if seqs := spool(t, s, other); seqs[0] == 0 {
		t.Fatal("same key with another provider time taken for a duplicate")
	}
	// The window is the TTL after the provider time: 10 minutes are gone.
	h.clock.Advance(49 * time.Minute)
	if seqs := spool(t, s, a); seqs[0] != 0 {
		t.Fatalf("within TTL of its time: seq %d, want 0", seqs[0])
	}
	h.clock.Advance(2 * time.Minute)
	if seqs := spool(t, s, a); seqs[0] == 0 {
		t.Fatal("after TTL of its time: still a duplicate")
	}
	// An item already older than the TTL is remembered by first sighting.
	old := store.Item{Kind: store.KindInbound, DedupKey: "mid.old", DedupAt: h.clock.Now().Add(-2 * time.Hour), Lane: "l"}
	if seqs := spool(t, s, old, old); seqs[0] == 0 || seqs[1] != 0 {
		t.Fatalf("an item older than the TTL twice: seqs %v, want [n 0]", seqs)
	}
	h.clock.Advance(30 * time.Minute)
	if seqs := spool(t, s, old); seqs[0] != 0 {
		t.Fatalf("an item older than the TTL, redelivered within the TTL of its first sighting: seq %d, want 0", seqs[0])
	}

	sw, ok := s.(sweeper)
	if !ok {
		return
	}
	fresh := store.Item{Kind: store.KindInbound, DedupKey: "mid.2", DedupAt: h.clock.Now(), Lane: "l"}
	spool(t, s, fresh)
	if n, err := sw.Sweep(); err != nil || n != 2 {
		t.Fatalf("Sweep = %d, %v; want the 2 expired records (mid.1 at both times; mid.old has 30 minutes left)", n, err)
	}
	if seqs := spool(t, s, fresh); seqs[0] != 0 {
		t.Fatal("Sweep forgot a key within its TTL")
	}
}

// testDedupAtMixed: the same key with and without a provider time are
// remembered apart, and a redelivery of either is caught after a reopen.
func testDedupAtMixed(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	plain := store.Item{Kind: store.KindInbound, DedupKey: "k", Lane: "l"}
	timed := plain
	timed.DedupAt = h.clock.Now()
	if seqs := spool(t, s, plain, timed); seqs[0] == 0 || seqs[1] == 0 {
		t.Fatalf("seqs %v, want both new", seqs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = h.openStore(store.Options{})
	if seqs := spool(t, s, timed, plain); seqs[0] != 0 || seqs[1] != 0 {
		t.Fatalf("after reopen: seqs %v, want [0 0]", seqs)
	}
}

// testDedupItemTTL: an item's own TTL shortens its window, with or
// without a provider time, and never lengthens it beyond the store's;
// Sweep forgets each record after its own TTL.
func testDedupItemTTL(t *testing.T, h *harness) {
	s := h.openStore(store.Options{DedupTTL: time.Hour})
	at := h.clock.Now()
	item := func(key string, ttl time.Duration, at time.Time) store.Item {
		return store.Item{Kind: store.KindInbound, DedupKey: key, DedupAt: at, DedupTTL: ttl, Lane: "l"}
	}
	short := item("mid.short", 10*time.Minute, at)
	long := item("mid.long", 0, at)
	tooLong := item("mid.too-long", 2*time.Hour, at)
	plain := item("plain.short", 10*time.Minute, time.Time{})
	check := func(step string, want ...bool) {
		t.Helper()
		seqs := spool(t, s, short, long, tooLong, plain)
		for i, isNew := range want {
			if (seqs[i] != 0) != isNew {
				t.Fatalf("%s: seqs %v, want new %v", step, seqs, want)
			}
		}
	}
	check("first sighting", true, true, true, true)
	h.clock.Advance(9 * time.Minute)
	check("9 minutes later", false, false, false, false)
	h.clock.Advance(2 * time.Minute)
	check("11 minutes later: the 10-minute items are forgotten", true, false, false, true)
	h.clock.Advance(time.Minute)
	check("12 minutes later: the 10-minute items remembered again", false, false, false, false)
	h.clock.Advance(50 * time.Minute)
	check("62 minutes later: the 2-hour item was cut to the store's hour", true, true, true, true)

	sw, ok := s.(sweeper)
	if !ok {
		return
	}
	h.clock.Advance(2 * time.Hour) // everything so far expired
	if _, err := sw.Sweep(); err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	a, b := item("mid.a", 10*time.Minute, now), item("mid.b", 0, now)
	spool(t, s, a, b)
	h.clock.Advance(20 * time.Minute)
	if n, err := sw.Sweep(); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 (mid.a, 10 minutes; mid.b has 40 left)", n, err)
	}
	if seqs := spool(t, s, b); seqs[0] != 0 {
		t.Fatal("Sweep forgot a key within its TTL")
	}
}

// testDedupItemTTLChanged: a key counts as seen while any TTL it was
// recorded under covers it, so a redelivery whose TTL changed since its
// first sighting (the store's TTL or the item's) is still caught, after a
// reopen too.
func testDedupItemTTLChanged(t *testing.T, h *harness) {
	s := h.openStore(store.Options{DedupTTL: time.Hour})
	at := h.clock.Now()
	x := store.Item{Kind: store.KindInbound, DedupKey: "mid.x", DedupAt: at, Lane: "l"}                             // the store's hour
	y := store.Item{Kind: store.KindInbound, DedupKey: "mid.y", DedupAt: at, DedupTTL: 30 * time.Minute, Lane: "l"} // its own
	if seqs := spool(t, s, x, y); seqs[0] == 0 || seqs[1] == 0 {
		t.Fatalf("seqs %v, want both new", seqs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = h.openStore(store.Options{DedupTTL: 2 * time.Hour})
	x.DedupTTL, y.DedupTTL = time.Hour, 0 // now x has a TTL of its own, y the store's
	h.clock.Advance(20 * time.Minute)
	if seqs := spool(t, s, x, y); seqs[0] != 0 || seqs[1] != 0 {
		t.Fatalf("redeliveries under other TTLs: seqs %v, want [0 0]", seqs)
	}
	// A TTL shorter now than the one x was first recorded under: x still
	// counts as seen while that one (the store's hour then, swept by its
	// two hours now) covers it.
	x.DedupTTL = 10 * time.Minute
	if seqs := spool(t, s, x); seqs[0] != 0 {
		t.Fatalf("a redelivery under a shorter TTL than its first sighting's: seq %d, want 0", seqs[0])
	}
}

func testDedupDefaultTTL(t *testing.T, h *harness) {
	s := h.openStore(store.Options{}) // 0 means 7 days
	a := store.Item{Kind: store.KindInbound, DedupKey: "k", Lane: "l"}
	spool(t, s, a)
	h.clock.Advance(7*24*time.Hour - time.Minute)
	if seqs := spool(t, s, a); seqs[0] != 0 {
		t.Fatal("forgotten before 7 days")
	}
	h.clock.Advance(2 * time.Minute)
	if seqs := spool(t, s, a); seqs[0] == 0 {
		t.Fatal("remembered after 7 days")
	}
}

func testSetsOnlyForNew(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	first := store.Item{
		Kind: store.KindInbound, DedupKey: "mid.1", Lane: "l", Data: []byte("a"),
		Sets: []store.KV{
			{Bucket: store.BucketIdentity, Key: "u1", Value: []byte("v1")},
			{Bucket: store.BucketWindow, Key: "c1/u1", Value: []byte("t1")},
		},
	}
	retry := first
	retry.Sets = []store.KV{
		{Bucket: store.BucketIdentity, Key: "u1", Value: []byte("v2")},
		{Bucket: store.BucketOTN, Key: "c1/u1", Value: []byte("tok")},
	}
	seqs := spool(t, s, first, retry)
	if seqs[1] != 0 {
		t.Fatalf("seqs = %v, want the retry dropped", seqs)
	}
	wantValue(t, s, store.BucketIdentity, "u1", []byte("v1"))
	wantValue(t, s, store.BucketWindow, "c1/u1", []byte("t1"))
	wantValue(t, s, store.BucketOTN, "c1/u1", nil)

	if seqs := spool(t, s, retry); seqs[0] != 0 {
		t.Fatal("retry in a later call not dropped")
	}
	wantValue(t, s, store.BucketIdentity, "u1", []byte("v1"))
	wantValue(t, s, store.BucketOTN, "c1/u1", nil)

	// A new item's Sets overwrite.
	fresh := retry
	fresh.DedupKey = "mid.2"
	if seqs := spool(t, s, fresh); seqs[0] == 0 {
		t.Fatal("new item dropped")
	}
	wantValue(t, s, store.BucketIdentity, "u1", []byte("v2"))
	wantValue(t, s, store.BucketOTN, "c1/u1", []byte("tok"))
}

// settledFlag is a store.Settler answering what the test set.
type settledFlag struct{ atomic.Bool }

func (f *settledFlag) Settled() bool { return f.Load() }

// testSettled checks that an item settled when the store writes it is
// skipped like a duplicate, in Spool and in Ack's next: seq 0, not
// replayed, neither its Sets nor its dedup key recorded; an unsettled one
// is written as usual.
func testSettled(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	done, pending := new(settledFlag), new(settledFlag)
	done.Store(true)
	a := item(store.KindInbound, "l", "a")
	b := store.Item{Kind: store.KindOutbound, Lane: "l", Data: []byte("b"), DedupKey: "k", Settled: done,
		Sets: []store.KV{{Bucket: store.BucketWindow, Key: "c1/u1", Value: []byte("t")}}}
	c := item(store.KindOutbound, "l", "c")
	c.Settled = pending
	seqs := spool(t, s, a, b, c)
	if seqs[0] == 0 || seqs[1] != 0 || seqs[2] == 0 {
		t.Fatalf("seqs = %v, want the settled item's 0 and the others'", seqs)
	}
	wantValue(t, s, store.BucketWindow, "c1/u1", nil)
	d := item(store.KindInbound, "l", "d")
	d.DedupKey = "k" // not seen: the settled item did not record it
	dSeq := spool(t, s, d)[0]
	if dSeq == 0 {
		t.Fatal("the dedup key of a settled item was recorded")
	}
	e, f := item(store.KindOutbound, "l", "e"), item(store.KindOutbound, "l", "f")
	e.Settled = done
	next := ack(t, s, seqs[0], e, f)
	if next[0] != 0 || next[1] == 0 {
		t.Fatalf("Ack's next seqs = %v, want [0 n]", next)
	}
	wantReplay(t, s, []store.Entry{entry(seqs[2], c), entry(dSeq, d), entry(next[1], f)})
}

func testInvalidItem(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	good := store.Item{Kind: store.KindInbound, DedupKey: "k", Lane: "l", Data: []byte("a"),
		Sets: []store.KV{{Bucket: store.BucketIdentity, Key: "u", Value: []byte("v")}}}
	for name, bad := range map[string]store.KV{
		"empty bucket": {Bucket: "", Key: "k", Value: []byte("v")},
		"empty key":    {Bucket: store.BucketIdentity, Key: "", Value: []byte("v")},
	} {
		badItem := item(store.KindInbound, "l", "b")
		badItem.Sets = []store.KV{bad}
		if _, err := s.Spool([]store.Item{good, badItem}); err == nil {
			t.Fatalf("%s: Spool succeeded", name)
		}
		if _, err := s.Ack(1, []store.Item{good, badItem}); err == nil {
			t.Fatalf("%s: Ack succeeded", name)
		}
	}
	// The whole call failed: nothing of the good item was written either,
	// not even its dedup key.
	wantReplay(t, s, nil)
	wantValue(t, s, store.BucketIdentity, "u", nil)
	if seqs := spool(t, s, good); seqs[0] == 0 {
		t.Fatal("dedup key of a failed call was remembered")
	}
}

// testClaims checks KV.IfAbsent: a claim of a free key is written with
// its item; a claim of a taken key fails the whole call with ErrTaken and
// writes nothing of it (no entry, no other set, no dedup key), in Spool
// and in Ack; a duplicate's claims are not checked.
func testClaims(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	claim := func(dedup, key, value string) store.Item {
		return store.Item{Kind: store.KindInbound, DedupKey: dedup, Lane: "l", Data: []byte(dedup),
			Sets: []store.KV{
				{Bucket: "web_messages", Key: key, Value: []byte(value), IfAbsent: true},
				{Bucket: store.BucketWindow, Key: "l", Value: []byte(dedup)},
			}}
	}
	first := claim("m1", "c/1", "one")
	seqs := spool(t, s, first)
	wantValue(t, s, "web_messages", "c/1", []byte("one"))

	taken := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrTaken) {
			t.Fatalf("%s: err = %v, want store.ErrTaken", what, err)
		}
	}
	// Alone, behind a good item, and twice in one call: nothing written.
	_, err := s.Spool([]store.Item{claim("m2", "c/1", "two")})
	taken("claim of a taken key", err)
	_, err = s.Spool([]store.Item{claim("m3", "c/2", "free"), claim("m4", "c/1", "two")})
	taken("second item's claim taken", err)
	_, err = s.Spool([]store.Item{claim("m5", "c/3", "a"), claim("m6", "c/3", "b")})
	taken("two claims of one key in a call", err)
	_, err = s.Ack(seqs[0], []store.Item{claim("m7", "c/1", "two")})
	taken("Ack's claim taken", err)
	wantReplay(t, s, []store.Entry{entry(seqs[0], first)})
	wantValue(t, s, "web_messages", "c/1", []byte("one"))
	wantValue(t, s, "web_messages", "c/2", nil)
	wantValue(t, s, "web_messages", "c/3", nil)
	wantValue(t, s, store.BucketWindow, "l", []byte("m1"))

	// The refused calls' dedup keys were not remembered: they spool now.
	again := spool(t, s, claim("m2", "c/4", "four"), claim("m3", "c/2", "free"))
	if again[0] == 0 || again[1] == 0 {
		t.Fatalf("seqs = %v: a refused call's dedup key was remembered", again)
	}
	wantValue(t, s, "web_messages", "c/4", []byte("four"))
	// A duplicate is dropped as ever, its taken claim unchecked.
	if dup := spool(t, s, claim("m1", "c/1", "other")); dup[0] != 0 {
		t.Fatalf("duplicate spooled as %d", dup[0])
	}
	wantValue(t, s, "web_messages", "c/1", []byte("one"))
}

// testConcurrentClaims races writers claiming the same keys: each key is
// won by exactly one, whose item is the one spooled with it, and the
// losers' items are not spooled, whether or not they shared a commit.
func testConcurrentClaims(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	const writers, keys = 16, 20
	var wg sync.WaitGroup
	won := make([][]string, keys) // by key: the values whose claim succeeded
	var mu sync.Mutex
	for w := range writers {
		wg.Go(func() {
			for k := range keys {
				v := fmt.Sprintf("w%d", w)
				_, err := s.Spool([]store.Item{{Kind: store.KindInbound, Lane: "l", Data: []byte(fmt.Sprintf("%d/%s", k, v)),
					Sets: []store.KV{{Bucket: "claims", Key: fmt.Sprint(k), Value: []byte(v), IfAbsent: true}}}})
				switch {
				case err == nil:
					mu.Lock()
					won[k] = append(won[k], v)
					mu.Unlock()
				case !errors.Is(err, store.ErrTaken):
					t.Errorf("Spool: %v", err)
				}
			}
		})
	}
	wg.Wait()
	var want []string
	for k, vs := range won {
		if len(vs) != 1 {
			t.Fatalf("key %d claimed by %v, want exactly one writer", k, vs)
		}
		wantValue(t, s, "claims", fmt.Sprint(k), []byte(vs[0]))
		want = append(want, fmt.Sprintf("%d/%s", k, vs[0]))
	}
	var got []string
	for _, e := range replay(t, s) {
		got = append(got, string(e.Data))
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("spooled items (-winners +got):\n%s", diff)
	}
}

func testAck(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	a := item(store.KindInbound, "l1", "a")
	b := item(store.KindInbound, "l2", "b")
	c := item(store.KindInbound, "l1", "c")
	seqs := spool(t, s, a, b, c)

	// A reply replaces the event it answers.
	d := item(store.KindOutbound, "l2", "reply to b")
	e := store.Item{Kind: store.KindOutbound, Lane: "l2", Data: []byte("second reply"),
		Sets: []store.KV{{Bucket: store.BucketWindow, Key: "l2", Value: []byte("now")}}}
	next := ack(t, s, seqs[1], d, e)
	if next[0] <= seqs[2] || next[1] <= next[0] {
		t.Fatalf("Ack seqs %v, want increasing after %v", next, seqs)
	}
	wantValue(t, s, store.BucketWindow, "l2", []byte("now"))
	wantReplay(t, s, []store.Entry{entry(seqs[0], a), entry(seqs[2], c), entry(next[0], d), entry(next[1], e)})

	// Ack without follow-ups.
	if got := ack(t, s, seqs[0]); len(got) != 0 {
		t.Fatalf("Ack with no next returned %v", got)
	}
	wantReplay(t, s, []store.Entry{entry(seqs[2], c), entry(next[0], d), entry(next[1], e)})

	// Follow-ups are deduplicated like any spooled item.
	f := store.Item{Kind: store.KindOutbound, DedupKey: "reply-1", Lane: "l1", Data: []byte("f")}
	fs := ack(t, s, seqs[2], f, f)
	if fs[0] == 0 || fs[1] != 0 {
		t.Fatalf("Ack with a duplicate follow-up: %v, want [n 0]", fs)
	}
	wantReplay(t, s, []store.Entry{entry(next[0], d), entry(next[1], e), entry(fs[0], f)})
}

// testAckAsync checks AckAsync applies after the writes queued before it,
// reports next's seqs in commit order, survives a reopen once reported,
// and reports ErrClosed after Close.
func testAckAsync(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	a := item(store.KindInbound, "l1", "a")
	b := item(store.KindInbound, "l2", "b")
	seqs := spool(t, s, a, b)
	type result struct {
		seqs []uint64
		err  error
	}
	results := make(chan result, 2)
	reply := item(store.KindOutbound, "l1", "reply to a")
	s.AckAsync(seqs[0], []store.Item{reply}, func(seqs []uint64, err error) { results <- result{seqs, err} })
	s.AckAsync(seqs[1], nil, func(seqs []uint64, err error) { results <- result{seqs, err} })
	first, second := <-results, <-results
	if first.err != nil || len(first.seqs) != 1 || first.seqs[0] <= seqs[1] {
		t.Fatalf("first AckAsync: %+v, want one seq after %v", first, seqs)
	}
	if second.err != nil || len(second.seqs) != 0 {
		t.Fatalf("second AckAsync: %+v", second)
	}
	// A synchronous write after it sees its effect.
	spool(t, s, item(store.KindInbound, "l3", "c"))
	got := replay(t, s)
	if len(got) != 2 || got[0].Seq != first.seqs[0] || string(got[0].Data) != "reply to a" {
		t.Fatalf("replay after AckAsync: %+v", got)
	}
	// Without a callback it still applies, before later writes.
	s.AckAsync(got[0].Seq, nil, nil)
	spool(t, s, item(store.KindInbound, "l4", "d"))
	if n := len(replay(t, s)); n != 2 {
		t.Fatalf("%d entries after a callback-less AckAsync and a spool, want 2", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	s.AckAsync(1, nil, func(_ []uint64, err error) { closed <- err })
	if err := <-closed; !errors.Is(err, store.ErrClosed) {
		t.Fatalf("AckAsync after Close: %v, want store.ErrClosed", err)
	}
}

func testAckUnknown(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	a := item(store.KindInbound, "l", "a")
	seqs := spool(t, s, a)
	ack(t, s, seqs[0]+1000)
	ack(t, s, 0)
	wantReplay(t, s, []store.Entry{entry(seqs[0], a)})

	// Replays may ack twice; the second still spools its follow-up.
	ack(t, s, seqs[0])
	b := item(store.KindOutbound, "l", "b")
	bs := ack(t, s, seqs[0], b)
	wantReplay(t, s, []store.Entry{entry(bs[0], b)})
}

func testReplayError(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	for i := range 5 {
		spool(t, s, item(store.KindInbound, "l", fmt.Sprint(i)))
	}
	stop := errors.New("stop")
	calls := 0
	err := s.Replay(func(store.Entry) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 {
		t.Fatalf("Replay = %v after %d calls, want %v after 2", err, calls, stop)
	}
}

// testReplayCopies checks that entries and values outlive the call that
// returned them: later writes and Close must not change them.
func testReplayCopies(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	var want []store.Entry
	for i := range 50 {
		it := item(store.KindInbound, fmt.Sprintf("lane-%d", i%3), strings.Repeat(fmt.Sprint(i), 100))
		want = append(want, entry(spool(t, s, it)[0], it))
	}
	if err := s.Put(store.BucketIdentity, "u", []byte("value")); err != nil {
		t.Fatal(err)
	}
	got := replay(t, s)
	val := get(t, s, store.BucketIdentity, "u")
	for _, e := range want[:25] {
		ack(t, s, e.Seq, item(store.KindOutbound, "x", strings.Repeat("z", 100)))
	}
	if err := s.Put(store.BucketIdentity, "u", []byte("other")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, entryCmp); diff != "" {
		t.Fatalf("entries changed after later writes and Close (-want +got):\n%s", diff)
	}
	if string(val) != "value" {
		t.Fatalf("value changed to %q after later writes and Close", val)
	}
}

// testListAndDeleteKeys: List walks a bucket in key order from after a
// key, in pages, with copies; DeleteKeys removes many keys in one call,
// skipping absent ones; neither touches another bucket.
func testListAndDeleteKeys(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	if kvs, err := s.List("never", "", 10); err != nil || len(kvs) != 0 {
		t.Fatalf("List of a bucket never written: %v, %v", kvs, err)
	}
	for _, k := range []string{"c", "a", "e", "b", "d"} {
		if err := s.Put("b1", k, []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put("b2", "a", []byte("other")); err != nil {
		t.Fatal(err)
	}
	keys := func(kvs []store.KV) string {
		var b strings.Builder
		for _, kv := range kvs {
			if kv.Bucket != "b1" || string(kv.Value) != "v"+kv.Key {
				t.Fatalf("List gave %+v", kv)
			}
			b.WriteString(kv.Key)
		}
		return b.String()
	}
	for _, c := range []struct {
		after string
		limit int
		want  string
	}{{"", 10, "abcde"}, {"", 2, "ab"}, {"b", 2, "cd"}, {"bb", 10, "cde"}, {"e", 10, ""}, {"", 0, ""}} {
		kvs, err := s.List("b1", c.after, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got := keys(kvs); got != c.want {
			t.Errorf("List(after %q, limit %d) = %q, want %q", c.after, c.limit, got, c.want)
		}
	}
	// The values are copies: changing one changes nothing stored.
	kvs, _ := s.List("b1", "", 1)
	kvs[0].Value[0] = 'X'
	if v, _ := s.Get("b1", "a"); string(v) != "va" {
		t.Fatalf("a listed value aliased the store: %q", v)
	}

	if err := s.DeleteKeys("b1", []string{"b", "d", "missing"}); err != nil {
		t.Fatal(err)
	}
	if kvs, _ := s.List("b1", "", 10); keys(kvs) != "ace" {
		t.Fatalf("after DeleteKeys: %q, want ace", keys(kvs))
	}
	if err := s.DeleteKeys("never", []string{"x"}); err != nil {
		t.Fatalf("DeleteKeys in a bucket never written: %v", err)
	}
	if err := s.DeleteKeys("b1", nil); err != nil {
		t.Fatalf("DeleteKeys of nothing: %v", err)
	}
	if v, _ := s.Get("b2", "a"); string(v) != "other" {
		t.Fatalf("another bucket changed: %q", v)
	}
	if err := s.DeleteKeys("b1", []string{""}); err == nil {
		t.Fatal("DeleteKeys took an empty key")
	}
}

func testKeyValue(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	const b1, b2 = store.BucketIdentity, store.BucketOTN
	wantValue(t, s, b1, "k", nil)

	buf := []byte("v1")
	if err := s.Put(b1, "k", buf); err != nil {
		t.Fatal(err)
	}
	buf[0] = 'X' // the caller may reuse its buffer
	wantValue(t, s, b1, "k", []byte("v1"))
	wantValue(t, s, b2, "k", nil) // buckets are separate

	v := get(t, s, b1, "k")
	v[0] = 'X' // Get returns a copy
	wantValue(t, s, b1, "k", []byte("v1"))

	if err := s.Put(b1, "k", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, b1, "k", []byte("v2"))

	// PutIfAbsent keeps what is there.
	got, err := s.PutIfAbsent(b1, "k", []byte("v3"))
	if err != nil || string(got) != "v2" {
		t.Fatalf("PutIfAbsent over v2 = %q, %v; want v2", got, err)
	}
	wantValue(t, s, b1, "k", []byte("v2"))
	got, err = s.PutIfAbsent(b2, "k", []byte("w"))
	if err != nil || string(got) != "w" {
		t.Fatalf("PutIfAbsent on absent = %q, %v; want w", got, err)
	}
	wantValue(t, s, b2, "k", []byte("w"))

	// Take returns the value once.
	if err := s.Put(store.BucketOTN, "tok", []byte("t1")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Take(store.BucketOTN, "tok"); err != nil || string(got) != "t1" {
		t.Fatalf("Take = %q, %v; want t1", got, err)
	}
	if got, err := s.Take(store.BucketOTN, "tok"); err != nil || got != nil {
		t.Fatalf("second Take = %q, %v; want nil", got, err)
	}
	wantValue(t, s, store.BucketOTN, "tok", nil)
	if got, err := s.Take("never-used-bucket", "tok"); err != nil || got != nil {
		t.Fatalf("Take from an unused bucket = %q, %v; want nil", got, err)
	}

	// Delete.
	if err := s.Delete(b1, "k"); err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, b1, "k", nil)
	wantValue(t, s, b2, "k", []byte("w"))
	if err := s.Delete(b1, "k"); err != nil {
		t.Fatalf("Delete of an absent key: %v", err)
	}
	if err := s.Delete("never-used-bucket", "k"); err != nil {
		t.Fatalf("Delete in an unused bucket: %v", err)
	}
	if got := get(t, s, "never-used-bucket", "k"); got != nil {
		t.Fatalf("Get from an unused bucket = %q", got)
	}

	// The spool and the buckets do not share names: a bucket may be
	// called anything.
	for _, name := range []string{"spool", "dedup", "kv", "meta"} {
		if err := s.Put(name, "k", []byte(name)); err != nil {
			t.Fatalf("Put in bucket %q: %v", name, err)
		}
		wantValue(t, s, name, "k", []byte(name))
	}
	wantReplay(t, s, nil)
}

func testEmptyValue(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	for _, v := range [][]byte{nil, {}} {
		if err := s.Put(store.BucketWindow, "k", v); err != nil {
			t.Fatal(err)
		}
		wantValue(t, s, store.BucketWindow, "k", []byte{})
		got, err := s.PutIfAbsent(store.BucketWindow, "k", []byte("x"))
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("PutIfAbsent over an empty value = %q, %v; want empty, not nil", orNil(got), err)
		}
		got, err = s.Take(store.BucketWindow, "k")
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("Take of an empty value = %q, %v; want empty, not nil", orNil(got), err)
		}
		wantValue(t, s, store.BucketWindow, "k", nil)
	}
}

func testInvalidKey(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	for _, bk := range [][2]string{{"", "k"}, {store.BucketIdentity, ""}, {"", ""}} {
		b, k := bk[0], bk[1]
		calls := map[string]error{}
		_, calls["Get"] = s.Get(b, k)
		calls["Put"] = s.Put(b, k, []byte("v"))
		_, calls["PutIfAbsent"] = s.PutIfAbsent(b, k, []byte("v"))
		_, calls["Take"] = s.Take(b, k)
		calls["Delete"] = s.Delete(b, k)
		for name, err := range calls {
			if err == nil || errors.Is(err, store.ErrClosed) {
				t.Errorf("%s(%q, %q) = %v, want an invalid-key error", name, b, k, err)
			}
		}
	}
}

func testConcurrentSpool(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	const workers, calls = 16, 25
	type result struct {
		seqs []uint64
		err  error
	}
	results := make([]result, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			<-start
			lane := fmt.Sprintf("w%02d", w)
			for i := range calls {
				items := []store.Item{item(store.KindInbound, lane, fmt.Sprintf("%04d", 2*i))}
				if i%3 == 0 { // some calls carry two items
					items = append(items, item(store.KindInbound, lane, fmt.Sprintf("%04d", 2*i+1)))
				}
				seqs, err := s.Spool(items)
				if err != nil {
					results[w].err = err
					return
				}
				results[w].seqs = append(results[w].seqs, seqs...)
			}
		})
	}
	close(start)
	wg.Wait()

	seen := map[uint64]string{}
	total := 0
	for w, r := range results {
		if r.err != nil {
			t.Fatalf("worker %d: %v", w, r.err)
		}
		for i, seq := range r.seqs {
			if seq == 0 {
				t.Fatalf("worker %d: seq 0", w)
			}
			if i > 0 && seq <= r.seqs[i-1] {
				t.Fatalf("worker %d: seqs not increasing: %v", w, r.seqs)
			}
			if other, dup := seen[seq]; dup {
				t.Fatalf("seq %d given to worker %d and %s", seq, w, other)
			}
			seen[seq] = fmt.Sprint(w)
		}
		total += len(r.seqs)
	}
	entries := replay(t, s)
	if len(entries) != total {
		t.Fatalf("Replay has %d entries, Spool returned %d seqs", len(entries), total)
	}
	last := map[string]string{}
	for i, e := range entries {
		if i > 0 && e.Seq <= entries[i-1].Seq {
			t.Fatalf("Replay out of order at %d: %d after %d", i, e.Seq, entries[i-1].Seq)
		}
		if _, ok := seen[e.Seq]; !ok {
			t.Fatalf("Replay has seq %d that Spool never returned", e.Seq)
		}
		if string(e.Data) <= last[e.Lane] {
			t.Fatalf("lane %s: %q after %q", e.Lane, e.Data, last[e.Lane])
		}
		last[e.Lane] = string(e.Data)
	}
}

func testConcurrentKV(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	const workers = 16
	if err := s.Put(store.BucketOTN, "tok", []byte("secret")); err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		stored  = map[string]int{}
		taken   atomic.Int32
		errs    = make(chan error, 2*workers)
		started = make(chan struct{})
	)
	for w := range workers {
		wg.Go(func() {
			<-started
			v, err := s.PutIfAbsent(store.BucketIdentity, "user", fmt.Appendf(nil, "visitor-%d", w))
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			stored[string(v)]++
			mu.Unlock()
		})
		wg.Go(func() {
			<-started
			v, err := s.Take(store.BucketOTN, "tok")
			if err != nil {
				errs <- err
				return
			}
			if v != nil {
				taken.Add(1)
			}
		})
	}
	close(started)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(stored) != 1 {
		t.Fatalf("PutIfAbsent returned different values: %v", stored)
	}
	for v := range stored {
		wantValue(t, s, store.BucketIdentity, "user", []byte(v))
	}
	if n := taken.Load(); n != 1 {
		t.Fatalf("token taken %d times, want once", n)
	}
}

func testReopen(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	a := store.Item{Kind: store.KindInbound, DedupKey: "mid.1", Lane: "l", Data: []byte("a")}
	b := item(store.KindInbound, "l", "b")
	c := item(store.KindOutbound, "l", "c")
	seqs := spool(t, s, a, b)
	cs := ack(t, s, seqs[0], c)
	if err := s.Put(store.BucketIdentity, "u", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(store.BucketOTN, "gone", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Take(store.BucketOTN, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = h.openStore(store.Options{})
	wantReplay(t, s, []store.Entry{entry(seqs[1], b), entry(cs[0], c)})
	wantValue(t, s, store.BucketIdentity, "u", []byte("v"))
	wantValue(t, s, store.BucketOTN, "gone", nil)
	if again := spool(t, s, a); again[0] != 0 {
		t.Fatal("dedup key forgotten across reopen")
	}
	d := item(store.KindInbound, "l", "d")
	ds := spool(t, s, d)
	if ds[0] <= cs[0] {
		t.Fatalf("seq after reopen %d, want > %d", ds[0], cs[0])
	}
	wantReplay(t, s, []store.Entry{entry(seqs[1], b), entry(cs[0], c), entry(ds[0], d)})
}

func testSeqsNeverReused(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	var last uint64
	for round := range 3 {
		seqs := spool(t, s, item(store.KindInbound, "l", "a"), item(store.KindInbound, "l", "b"))
		if seqs[0] <= last {
			t.Fatalf("round %d: seq %d, want > %d", round, seqs[0], last)
		}
		last = seqs[1]
		for _, seq := range seqs {
			ack(t, s, seq)
		}
		wantReplay(t, s, nil)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = h.openStore(store.Options{})
	}
}

func testClosed(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	spool(t, s, item(store.KindInbound, "l", "a"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	calls := map[string]error{}
	_, calls["Spool"] = s.Spool([]store.Item{item(store.KindInbound, "l", "b")})
	_, calls["Spool(empty)"] = s.Spool(nil)
	_, calls["Ack"] = s.Ack(1, nil)
	calls["Replay"] = s.Replay(func(store.Entry) error { return nil })
	_, calls["Get"] = s.Get(store.BucketIdentity, "k")
	calls["Put"] = s.Put(store.BucketIdentity, "k", []byte("v"))
	_, calls["PutIfAbsent"] = s.PutIfAbsent(store.BucketIdentity, "k", []byte("v"))
	_, calls["Take"] = s.Take(store.BucketIdentity, "k")
	calls["Delete"] = s.Delete(store.BucketIdentity, "k")
	calls["DeleteKeys"] = s.DeleteKeys(store.BucketIdentity, []string{"k"})
	_, calls["List"] = s.List(store.BucketIdentity, "", 1)
	if sw, ok := s.(sweeper); ok {
		_, calls["Sweep"] = sw.Sweep()
	}
	calls["Close"] = s.Close()
	for name, err := range calls {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close = %v, want store.ErrClosed", name, err)
		}
	}
}

// testCloseInFlight closes the store under writers: every call returns
// success or ErrClosed, none hangs, and every success is on disk.
func testCloseInFlight(t *testing.T, h *harness) {
	s := h.openStore(store.Options{})
	const workers = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		written []store.Entry
		calls   atomic.Int64
		errs    = make(chan error, workers)
	)
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				it := item(store.KindInbound, fmt.Sprintf("w%d", w), fmt.Sprintf("%06d", i))
				seqs, err := s.Spool([]store.Item{it})
				if err != nil {
					if !errors.Is(err, store.ErrClosed) {
						errs <- err
					}
					return
				}
				calls.Add(1)
				mu.Lock()
				written = append(written, entry(seqs[0], it))
				mu.Unlock()
			}
		})
	}
	for deadline := time.Now().Add(hangTimeout); calls.Load() < 50 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(hangTimeout):
		t.Fatal("Close hangs with writes in flight")
	}
	select {
	case <-done:
	case <-time.After(hangTimeout):
		t.Fatal("a write hangs after Close")
	}
	close(errs)
	for err := range errs {
		t.Fatalf("write racing Close: %v, want success or store.ErrClosed", err)
	}

	// A call that failed may or may not have been written; one that
	// succeeded must have been.
	s = h.openStore(store.Options{})
	onDisk := map[uint64]store.Entry{}
	for _, e := range replay(t, s) {
		onDisk[e.Seq] = e
	}
	for _, e := range written {
		if diff := cmp.Diff(e, onDisk[e.Seq], entryCmp); diff != "" {
			t.Fatalf("spooled before Close, not replayed (-want +got):\n%s", diff)
		}
	}
}
