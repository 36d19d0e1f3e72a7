package bolt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/goleak"

	"github.com/switchboard-gw/switchboard/gateway/store"
	"github.com/switchboard-gw/switchboard/gateway/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func openT(t testing.TB, dir string, opts store.Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dir string, opts store.Options) store.Store {
		return openT(t, dir, opts)
	})
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	openT(t, dir, store.Options{})
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("dir mode %v, want 0700", perm)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Error(err)
	}

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file, store.Options{}); err == nil {
		t.Error("Open on a regular file succeeded")
	}
}

// TestLocked: a second Open of a directory in use fails fast. flock locks
// belong to the open file, so this holds within one process too.
func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Open(dir, store.Options{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second Open took %s", d)
	}
	t.Logf("second Open failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	openT(t, dir, store.Options{})
}

// blockCommits holds bbolt's writer lock so the committer stalls in Begin
// and requests pile up in its queue. The returned func releases it.
func blockCommits(t *testing.T, s *Store) func() {
	t.Helper()
	tx, err := s.db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	return func() { _ = tx.Rollback() }
}

// waitQueued waits until the store's queue has taken in want requests
// since Open: with commits blocked, every caller counted is then waiting
// in the queue or in the committer's stalled batch.
func waitQueued(t *testing.T, s *Store, want uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.reqs.pushed() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests queued", s.reqs.pushed(), want)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func spoolConcurrently(t *testing.T, s *Store, n int) (wait func() []error) {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Spool([]store.Item{{Kind: store.KindInbound, Lane: "l", Data: []byte(strconv.Itoa(i))}})
		})
	}
	return func() []error { wg.Wait(); return errs }
}

// spoolBehindBlockedCommit holds the committer while n callers spool
// concurrently, releases it once they are all queued, and checks every
// Spool succeeded.
func spoolBehindBlockedCommit(t *testing.T, s *Store, n int) {
	t.Helper()
	release := blockCommits(t, s)
	queued := s.reqs.pushed()
	wait := spoolConcurrently(t, s, n)
	waitQueued(t, s, queued+uint64(n))
	release()
	for i, err := range wait() {
		if err != nil {
			t.Fatalf("Spool %d: %v", i, err)
		}
	}
}

func TestGroupCommit(t *testing.T) {
	s := openT(t, t.TempDir(), store.Options{})
	const n = 200
	spoolBehindBlockedCommit(t, s, n)
	st := s.Stats()
	t.Logf("%d concurrent Spool calls, %+v", n, st)
	// The committer's first batch, then the rest in one.
	if st.Commits > 3 || st.Requests != n || st.Spooled != n {
		t.Fatalf("stats %+v, want <= 3 commits for %d requests", st, n)
	}
	// Every commit writes at least one data page and the meta page.
	if st.Pages < 2*st.Commits {
		t.Errorf("stats %+v: want at least 2 pages per commit", st)
	}
}

// TestWriteAfterAckAsync: a write never overtakes an AckAsync queued
// before it: they commit in the order they were asked for.
func TestWriteAfterAckAsync(t *testing.T) {
	s := openT(t, t.TempDir(), store.Options{})
	for i := range 200 {
		got := make(chan uint64, 1)
		s.AckAsync(0, []store.Item{{Kind: store.KindOutbound, Lane: "l", Data: []byte("reply")}}, func(seqs []uint64, err error) {
			if err != nil {
				t.Error(err)
			}
			got <- seqs[0]
		})
		seqs, err := s.Spool([]store.Item{{Kind: store.KindInbound, Lane: "l", Data: []byte("event")}})
		if err != nil {
			t.Fatal(err)
		}
		if first := <-got; first > seqs[0] {
			t.Fatalf("try %d: the write (seq %d) committed before the AckAsync queued ahead of it (seq %d)", i, seqs[0], first)
		}
	}
}

// TestCommitIntervalUnderLoad: after a commit that answered many callers,
// the next commit gathers until CommitInterval after it began.
func TestCommitIntervalUnderLoad(t *testing.T) {
	const interval = 300 * time.Millisecond
	s := openT(t, t.TempDir(), store.Options{CommitInterval: interval})
	const n = 50
	start := time.Now()
	spoolBehindBlockedCommit(t, s, n)
	// Some commit of the n callers answered several of them and began
	// after start; whatever commits next (more of them, or the lone write
	// below) waits until the interval after it began. Without the
	// interval all of this takes a few milliseconds.
	if _, err := s.Spool([]store.Item{{Kind: store.KindInbound, Lane: "l"}}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < interval {
		t.Fatalf("a write after a busy commit returned %s after the writers started, want >= %s", d, interval)
	}
}

// TestCommitIntervalQuiet: a lone writer never waits for the interval,
// however long it is.
func TestCommitIntervalQuiet(t *testing.T) {
	s := openT(t, t.TempDir(), store.Options{CommitInterval: time.Hour})
	done := make(chan error, 1)
	go func() {
		for i := range 20 {
			if _, err := s.Spool([]store.Item{{Kind: store.KindInbound, DedupKey: strconv.Itoa(i), Lane: "l"}}); err != nil {
				done <- err
				return
			}
			if _, err := s.Ack(uint64(i+1), nil); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("sequential writes waited for the commit interval")
	}
}

// TestGroupCommitUnforced only reports how calls group without help; how
// much depends on the disk's fsync time.
func TestGroupCommitUnforced(t *testing.T) {
	s := openT(t, t.TempDir(), store.Options{})
	const workers, calls = 64, 20
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range calls {
				if _, err := s.Spool([]store.Item{{Kind: store.KindInbound, Data: make([]byte, 1024)}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	t.Logf("%d workers x %d calls: %d commits, %.1f requests per commit", workers, calls, st.Commits, float64(st.Requests)/float64(st.Commits))
	if st.Commits >= st.Requests {
		t.Errorf("no grouping at all: %+v", st)
	}
}

func TestBatchBound(t *testing.T) {
	s := openT(t, t.TempDir(), store.Options{})
	const n = 2500
	spoolBehindBlockedCommit(t, s, n)
	st := s.Stats()
	t.Logf("%+v", st)
	if least := uint64((n + maxBatch - 1) / maxBatch); st.Commits < least || st.Commits > least+3 {
		t.Fatalf("%d commits for %d requests, want %d to %d", st.Commits, n, least, least+3)
	}
}

// TestAckAsyncFromCallback: an AckAsync callback (run on the committer's
// goroutine) may queue more AckAsyncs than a batch holds without the
// committer waiting on itself; every one of them commits. With a bounded
// inbox this deadlocked: dispatch acks a sent reply from such a callback,
// and at 512 concurrent webhooks the inbox was full.
func TestAckAsyncFromCallback(t *testing.T) {
	s, err := Open(t.TempDir(), store.Options{}) // closed below only if it did not deadlock
	if err != nil {
		t.Fatal(err)
	}
	const inner = 3 * maxBatch
	var wg sync.WaitGroup
	wg.Add(1 + inner)
	s.AckAsync(0, []store.Item{{Kind: store.KindOutbound, Lane: "l", Data: []byte("x")}}, func(seqs []uint64, err error) {
		defer wg.Done()
		if err != nil || len(seqs) != 1 {
			t.Errorf("outer: %v %v", seqs, err)
			return
		}
		for range inner {
			s.AckAsync(seqs[0], nil, func(_ []uint64, err error) {
				if err != nil {
					t.Errorf("inner: %v", err)
				}
				wg.Done()
			})
		}
	})
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the committer deadlocked on its own inbox")
	}
	defer s.Close()
	if _, err := s.Spool([]store.Item{{Kind: store.KindInbound, Lane: "l", Data: []byte("y")}}); err != nil {
		t.Fatalf("store unusable after: %v", err)
	}
	if st := s.Stats(); st.Spooled != 1 {
		t.Errorf("stats %+v: want only the last spool left", st)
	}
}

// TestFailureIsolation: a request that fails inside a batch fails alone.
func TestFailureIsolation(t *testing.T) {
	s := openT(t, t.TempDir(), store.Options{})
	const n = 50
	release := blockCommits(t, s)
	queued := s.reqs.pushed()
	wait := spoolConcurrently(t, s, n)
	// Bypasses the up-front validation so bbolt rejects it in the batch.
	var badErr error
	var bad sync.WaitGroup
	bad.Go(func() {
		r := acquireRequest(opPut)
		defer releaseRequest(r)
		r.bucket, r.key, r.value = store.BucketIdentity, "", []byte("v")
		badErr = s.do(r)
	})
	waitQueued(t, s, queued+n+1)
	release()
	for i, err := range wait() {
		if err != nil {
			t.Fatalf("Spool %d failed with the bad request: %v", i, err)
		}
	}
	bad.Wait()
	if !errors.Is(badErr, berrors.ErrKeyRequired) {
		t.Fatalf("bad request: %v, want ErrKeyRequired", badErr)
	}
	st := s.Stats()
	if st.Spooled != n || st.Requests != n {
		t.Fatalf("stats %+v, want %d spooled", st, n)
	}
	var count int
	if err := s.Replay(func(store.Entry) error { count++; return nil }); err != nil || count != n {
		t.Fatalf("Replay: %d entries, %v", count, err)
	}
	// Seqs of the rolled-back attempts were not consumed twice.
	if err := s.db.View(func(tx *bbolt.Tx) error {
		if seq := tx.Bucket(bucketSpool).Sequence(); seq != n {
			return fmt.Errorf("spool sequence %d, want %d", seq, n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestSweep(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	s := openT(t, t.TempDir(), store.Options{DedupTTL: time.Hour, Now: clock})
	const n = 2*sweepChunk + 500
	items := make([]store.Item, n)
	for i := range items {
		items[i] = store.Item{Kind: store.KindInbound, DedupKey: fmt.Sprintf("old-%d", i)}
	}
	if _, err := s.Spool(items); err != nil {
		t.Fatal(err)
	}
	advance(30 * time.Minute)
	if _, err := s.Spool([]store.Item{{Kind: store.KindInbound, DedupKey: "new"}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Sweep(); err != nil || got != 0 {
		t.Fatalf("Sweep before expiry = %d, %v", got, err)
	}
	advance(45 * time.Minute) // old-* expired, new not
	got, err := s.Sweep()
	if err != nil || got != n {
		t.Fatalf("Sweep = %d, %v; want %d", got, err, n)
	}
	if err := s.db.View(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketDedup, bucketDedupTime} {
			if k := tx.Bucket(b).Stats().KeyN; k != 1 {
				return fmt.Errorf("bucket %s has %d keys, want 1", b, k)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seqs, err := s.Spool([]store.Item{{Kind: store.KindInbound, DedupKey: "new"}}); err != nil || seqs[0] != 0 {
		t.Fatalf("unexpired key after Sweep: %v, %v", seqs, err)
	}
}

func TestStats(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	it := store.Item{Kind: store.KindInbound, DedupKey: "k"}
	seqs, err := s.Spool([]store.Item{it, it, {Kind: store.KindInbound}, {Kind: store.KindInbound}, {Kind: store.KindOutbound, Settled: settled{}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ack(seqs[0], nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ack(seqs[0], nil); err != nil { // unknown now: no change
		t.Fatal(err)
	}
	if st := s.Stats(); st.Spooled != 2 || st.Duplicates != 1 || st.Settled != 1 || st.Commits != 3 || st.Requests != 3 {
		t.Fatalf("stats %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, store.Options{})
	if st := s.Stats(); st.Spooled != 2 {
		t.Fatalf("Spooled after reopen = %d, want 2", st.Spooled)
	}
}

// TestObserveCommit checks ObserveCommit hears of every committed
// transaction, with its duration, and of nothing else.
func TestObserveCommit(t *testing.T) {
	var mu sync.Mutex
	var seen []time.Duration
	s := openT(t, t.TempDir(), store.Options{ObserveCommit: func(d time.Duration) {
		mu.Lock()
		seen = append(seen, d)
		mu.Unlock()
	}})
	if _, err := s.Spool([]store.Item{{Kind: store.KindInbound, Lane: "l", Data: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("b", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("b", "k"); err != nil { // a read commits nothing
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := uint64(len(seen)), s.Stats().Commits; got != want || got < 2 {
		t.Fatalf("observed %d commits, Stats says %d (want at least 2)", got, want)
	}
	for _, d := range seen {
		if d <= 0 {
			t.Fatalf("commit durations %v, want each > 0", seen)
		}
	}
}

// settled is a store.Settler whose work is always done.
type settled struct{}

func (settled) Settled() bool { return true }

func TestReplayCorruptEntry(t *testing.T) {
	s := openT(t, t.TempDir(), store.Options{})
	if _, err := s.Spool([]store.Item{{Kind: store.KindInbound, Lane: "l", Data: []byte("ok")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSpool).Put(seqKey(99), []byte{1, 0x05, 'a'}) // lane longer than the value
	}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	err := s.Replay(func(store.Entry) error { calls++; return nil })
	if !errors.Is(err, ErrCorrupt) || calls != 1 {
		t.Fatalf("Replay = %v after %d entries, want ErrCorrupt after the good one", err, calls)
	}
}

func TestReplayMayAck(t *testing.T) {
	s := openT(t, t.TempDir(), store.Options{})
	const n = replayChunk + 7
	items := make([]store.Item, n)
	for i := range items {
		items[i] = store.Item{Kind: store.KindInbound, Lane: "l", Data: []byte(strconv.Itoa(i))}
	}
	if _, err := s.Spool(items); err != nil {
		t.Fatal(err)
	}
	seen := 0
	err := s.Replay(func(e store.Entry) error {
		seen++
		if e.Kind == store.KindOutbound {
			_, err := s.Ack(e.Seq, nil)
			return err
		}
		_, err := s.Ack(e.Seq, []store.Item{{Kind: store.KindOutbound, Lane: e.Lane, Data: e.Data}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Replies spooled during the replay have higher seqs and are visited too.
	if seen != 2*n || s.Stats().Spooled != 0 {
		t.Fatalf("visited %d entries, %d left; want %d and 0", seen, s.Stats().Spooled, 2*n)
	}
}

// --- crash safety ---

const (
	crashDirEnv   = "SWITCHBOARD_BOLT_CRASH_DIR"
	crashRoundEnv = "SWITCHBOARD_BOLT_CRASH_ROUND"
	crashAfter    = 300 // calls returned before the child kills itself
)

// TestCrashChild is the child process of TestCrashSafety: it spools and
// acks from several goroutines, reporting each call on stdout after it
// returned, and SIGKILLs itself while other calls are in flight.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashSafety")
	}
	round := os.Getenv(crashRoundEnv)
	s, err := Open(dir, store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	var mu sync.Mutex
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...) // one write(2) per line
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	var returned atomic.Int64
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				data := fmt.Sprintf("r%s-w%d-%d", round, w, i)
				seqs, err := s.Spool([]store.Item{{Kind: store.KindInbound, Lane: fmt.Sprint(w), Data: []byte(data)}})
				if err != nil {
					fail(err)
				}
				report("S %d %s", seqs[0], data)
				if i%3 == 2 {
					next, err := s.Ack(seqs[0], []store.Item{{Kind: store.KindOutbound, Lane: fmt.Sprint(w), Data: []byte(data + "-reply")}})
					if err != nil {
						fail(err)
					}
					report("A %d %d %s-reply", seqs[0], next[0], data)
				}
				if returned.Add(1) == crashAfter {
					_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				}
			}
		}()
	}
	time.Sleep(time.Minute)
	fail(errors.New("still alive"))
}

func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	spooled := map[uint64]string{} // seq → data, reported by S
	acked := map[uint64]uint64{}   // seq → reply seq, reported by A
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("round %d: child: %v\n%s", round, err, stderr.Bytes())
		}
		if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child did not die by SIGKILL: %v\n%s", round, err, stderr.Bytes())
		}

		lines := 0
		sc := bufio.NewScanner(&stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 3 && f[0] == "S":
				seq, _ := strconv.ParseUint(f[1], 10, 64)
				spooled[seq] = f[2]
			case len(f) == 4 && f[0] == "A":
				seq, _ := strconv.ParseUint(f[1], 10, 64)
				next, _ := strconv.ParseUint(f[2], 10, 64)
				acked[seq] = next
				spooled[next] = f[3]
			default:
				continue
			}
			lines++
		}
		if lines < crashAfter {
			t.Fatalf("round %d: child reported %d calls, want >= %d\n%s", round, lines, crashAfter, stderr.Bytes())
		}

		s, err := Open(dir, store.Options{})
		if err != nil {
			t.Fatalf("round %d: reopening after the crash: %v", round, err)
		}
		onDisk := map[uint64]string{}
		byData := map[string]uint64{}
		if err := s.Replay(func(e store.Entry) error {
			if prev, dup := byData[string(e.Data)]; dup {
				return fmt.Errorf("%q at seqs %d and %d", e.Data, prev, e.Seq)
			}
			onDisk[e.Seq] = string(e.Data)
			byData[string(e.Data)] = e.Seq
			return nil
		}); err != nil {
			t.Fatalf("round %d: Replay: %v", round, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for seq, data := range spooled {
			if _, ok := acked[seq]; ok {
				if got, ok := onDisk[seq]; ok {
					t.Errorf("round %d: acked seq %d (%s) replayed as %q", round, seq, data, got)
				}
				continue
			}
			if got, ok := onDisk[seq]; ok {
				if got != data {
					t.Errorf("round %d: seq %d is %q, want %q", round, seq, got, data)
				}
				continue
			}
			// The child may have died between an Ack's commit and its
			// report: then the reply must be there instead.
			if _, ok := byData[data+"-reply"]; !ok {
				t.Errorf("round %d: seq %d (%s) returned from Spool but is lost", round, seq, data)
			}
		}
		t.Logf("round %d: %d calls reported, %d entries on disk", round, lines, len(onDisk))
	}
}

// TestCommitBufferKeepsValues: the committer writes every transaction's
// keys and values from one buffer it reuses (txBuf). Sixteen writers
// spool items of sizes up to 8 KB, so commits group many of them and the
// buffer grows in the middle of a transaction and is reused by the next;
// every entry, dedup key and key-value set must read back exactly as
// given.
func TestCommitBufferKeepsValues(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, store.Options{})
	const writers, each = 16, 60
	// A redelivery carries the provider time of the first delivery.
	base := time.Now().Add(-time.Minute)
	at := func(w, i int) time.Time { return base.Add(time.Duration(w*each+i) * time.Millisecond) }
	data := func(w, i int) []byte {
		n := (w*each + i) * 137 % 8192
		return bytes.Repeat([]byte{byte('a' + (w+i)%26)}, n+1)
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				it := store.Item{Kind: store.KindInbound, Lane: fmt.Sprintf("lane-%d", w), Data: data(w, i),
					DedupKey: fmt.Sprintf("m_%d_%d", w, i),
					Sets:     []store.KV{{Bucket: "kvtest", Key: fmt.Sprintf("k-%d-%d", w, i), Value: data(i, w)}}}
				if i%2 == 0 {
					it.DedupAt = at(w, i)
				}
				if _, err := s.Spool([]store.Item{it}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if st := s.Stats(); st.Commits >= writers*each {
		t.Logf("no group commit happened (%d commits): the test proves less", st.Commits)
	}
	next := make([]int, writers)
	n := 0
	if err := s.Replay(func(e store.Entry) error {
		var w int
		if _, err := fmt.Sscanf(e.Lane, "lane-%d", &w); err != nil {
			return err
		}
		if want := data(w, next[w]); !bytes.Equal(e.Data, want) {
			t.Fatalf("entry %d of lane %d: %d bytes %.16q…, want %d bytes %.16q…", next[w], w, len(e.Data), e.Data, len(want), want)
		}
		next[w]++
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != writers*each {
		t.Fatalf("replayed %d entries, want %d", n, writers*each)
	}
	for w := range writers {
		for i := range each {
			if v, err := s.Get("kvtest", fmt.Sprintf("k-%d-%d", w, i)); err != nil || !bytes.Equal(v, data(i, w)) {
				t.Fatalf("set k-%d-%d: %d bytes, %v", w, i, len(v), err)
			}
			// Every dedup key was recorded: spooled again, each is a
			// duplicate.
			it := store.Item{Kind: store.KindInbound, Lane: "x", DedupKey: fmt.Sprintf("m_%d_%d", w, i)}
			if i%2 == 0 {
				it.DedupAt = at(w, i)
			}
			if seqs, err := s.Spool([]store.Item{it}); err != nil || seqs[0] != 0 {
				t.Fatalf("m_%d_%d spooled again: seq %v, %v", w, i, seqs, err)
			}
		}
	}
}

// TestAckAsyncRequestsReused: asynchronous acks come from the request
// pool and go back to it once their callback ran. Many concurrent acks,
// each spooling a reply of its own, must each report the seq that reply
// got, and nothing else: a request reused too early would mix them up.
func TestAckAsyncRequestsReused(t *testing.T) {
	s := openT(t, t.TempDir(), store.Options{})
	const writers, each = 8, 250
	var mu sync.Mutex
	got := map[string]uint64{} // reply data → seq its callback reported
	var wg, acks sync.WaitGroup
	acks.Add(writers * each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				seqs, err := s.Spool([]store.Item{{Kind: store.KindInbound, Lane: "l", Data: []byte("event")}})
				if err != nil {
					t.Error(err)
					return
				}
				reply := fmt.Sprintf("reply-%d-%d", w, i)
				s.AckAsync(seqs[0], []store.Item{{Kind: store.KindOutbound, Lane: "l", Data: []byte(reply)}}, func(seqs []uint64, err error) {
					defer acks.Done()
					if err != nil || len(seqs) != 1 {
						t.Errorf("%s: seqs %v, %v", reply, seqs, err)
						return
					}
					mu.Lock()
					got[reply] = seqs[0]
					mu.Unlock()
				})
			}
		})
	}
	wg.Wait()
	acks.Wait()
	n := 0
	if err := s.Replay(func(e store.Entry) error {
		if e.Kind != store.KindOutbound {
			return fmt.Errorf("entry %d (%s) was acked", e.Seq, e.Data)
		}
		if seq, ok := got[string(e.Data)]; !ok || seq != e.Seq {
			return fmt.Errorf("%s is entry %d, its ack reported %d (%v)", e.Data, e.Seq, seq, ok)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != writers*each || len(got) != writers*each {
		t.Fatalf("%d replies spooled, %d reported, want %d", n, len(got), writers*each)
	}
}

// TestSpoolOpensKVOnlyForSets: opening a bucket is most of what a one-
// webhook commit allocates, so the key-value bucket is opened only by an
// item with Sets. Counted in bbolt's cursors (a bucket opened, a Put, a
// nested bucket's lookup each make some): a commit with one Set makes as
// many as before, one without Sets one fewer (3, and 8 with the Set; kv
// opened for every item made it 4 and 8).
func TestSpoolOpensKVOnlyForSets(t *testing.T) {
	s := openT(t, t.TempDir(), store.Options{})
	cursors := func(items []store.Item) int64 {
		t.Helper()
		st := s.db.Stats()
		before := st.TxStats.GetCursorCount()
		if _, err := s.Spool(items); err != nil {
			t.Fatal(err)
		}
		st = s.db.Stats()
		return st.TxStats.GetCursorCount() - before
	}
	plain := []store.Item{{Kind: store.KindInbound, Lane: "c1/u1", Data: []byte("x")}}
	withSet := []store.Item{{Kind: store.KindInbound, Lane: "c1/u1", Data: []byte("x"),
		Sets: []store.KV{{Bucket: store.BucketWindow, Key: "c1/u1", Value: []byte("t")}}}}
	cursors(withSet) // the set's bucket exists from here on
	if p, w := cursors(plain), cursors(withSet); w-p != 5 {
		t.Fatalf("a commit made %d cursors without Sets and %d with one: want 5 more with it (4 when kv was opened for every item)", p, w)
	}
}
