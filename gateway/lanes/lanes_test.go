package lanes

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestOrderPerLane pushes interleaved items to many lanes and checks each
// lane saw its own items in push order, one at a time.
func TestOrderPerLane(t *testing.T) {
	const lanesN, perLane = 50, 40
	var mu sync.Mutex
	got := map[string][]int{}
	running := map[string]bool{}
	var wg sync.WaitGroup
	wg.Add(lanesN * perLane)
	q := New(8, func(_ context.Context, key string, item int, _ int) Result {
		mu.Lock()
		if running[key] {
			t.Errorf("lane %s ran two items at once", key)
		}
		running[key] = true
		mu.Unlock()
		time.Sleep(time.Microsecond)
		mu.Lock()
		running[key] = false
		got[key] = append(got[key], item)
		mu.Unlock()
		wg.Done()
		return Done
	})
	defer q.Close(context.Background())
	pushRounds(q, lanesN, perLane)
	wg.Wait()
	for l := range lanesN {
		items := got[fmt.Sprint("lane", l)]
		if len(items) != perLane {
			t.Fatalf("lane %d: %d items, want %d", l, len(items), perLane)
		}
		for i, v := range items {
			if v != i {
				t.Fatalf("lane %d: item %d is %d", l, i, v)
			}
		}
	}
	// A worker settles its lane just after the handler returns (and a
	// Close racing with that leaves the item counted, for the replay):
	// wait for the count to settle rather than read it at once.
	waitFor(t, func() bool { return q.Pending() == 0 })
}

// TestRetryDoesNotBlockOtherLanes parks one lane on retries while another
// lane keeps flowing, then lets the first finish in order.
func TestRetryDoesNotBlockOtherLanes(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	slowDone := make(chan int, 10)
	fastDone := make(chan int, 10)
	q := New(1, func(_ context.Context, key string, item int, attempt int) Result {
		if key == "slow" {
			if failing.Load() {
				return RetryAfter(5 * time.Millisecond)
			}
			slowDone <- item
			return Done
		}
		fastDone <- item
		return Done
	})
	defer q.Close(context.Background())
	q.Push("slow", 1)
	q.Push("slow", 2)
	for i := range 5 {
		q.Push("fast", i)
	}
	for i := range 5 {
		if v := <-fastDone; v != i {
			t.Fatalf("fast lane got %d, want %d", v, i)
		}
	}
	if q.Pending() != 2 {
		t.Fatalf("pending = %d, want the 2 slow items", q.Pending())
	}
	failing.Store(false)
	if a, b := <-slowDone, <-slowDone; a != 1 || b != 2 {
		t.Fatalf("slow lane order %d, %d", a, b)
	}
}

// TestAttemptCounts checks the attempt number grows on retries and resets
// for the next item.
func TestAttemptCounts(t *testing.T) {
	var mu sync.Mutex
	var attempts []int
	done := make(chan struct{})
	q := New(2, func(_ context.Context, _ string, item int, attempt int) Result {
		mu.Lock()
		attempts = append(attempts, attempt)
		mu.Unlock()
		if item == 0 && attempt < 3 {
			return RetryAfter(0)
		}
		if item == 1 {
			close(done)
		}
		return Done
	})
	defer q.Close(context.Background())
	q.Push("a", 0)
	q.Push("a", 1)
	<-done
	mu.Lock()
	defer mu.Unlock()
	want := []int{1, 2, 3, 1}
	if fmt.Sprint(attempts) != fmt.Sprint(want) {
		t.Fatalf("attempts %v, want %v", attempts, want)
	}
}

// TestCloseWaitsForInFlight checks Close returns only after the running
// handler returned, and refuses pushes afterwards.
func TestCloseWaitsForInFlight(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	q := New(1, func(ctx context.Context, _ string, _ int, _ int) Result {
		close(started)
		<-release
		finished.Store(true)
		return Done
	})
	q.Push("a", 1)
	q.Push("a", 2)
	<-started
	closed := make(chan struct{})
	go func() { q.Close(context.Background()); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a handler was running")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-closed
	if !finished.Load() {
		t.Fatal("handler did not finish")
	}
	if q.Push("a", 3) {
		t.Fatal("Push accepted after Close")
	}
}

// TestCloseDeadlineCancelsHandlers checks a handler stuck past the
// deadline sees its context cancelled.
func TestCloseDeadlineCancelsHandlers(t *testing.T) {
	started := make(chan struct{})
	q := New(1, func(ctx context.Context, _ string, _ int, _ int) Result {
		close(started)
		<-ctx.Done()
		return Done
	})
	q.Push("a", 1)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := q.Close(ctx); err == nil {
		t.Fatal("Close met its deadline although the handler was stuck")
	}
}

// TestReadyIsFIFO: with one worker, lanes take turns in the order they
// became ready, a lane with more items going to the back after each; 300
// lanes make the ready FIFO reclaim its front many times over, and lanes
// emptied and made again (reused) keep their order too.
func TestReadyIsFIFO(t *testing.T) {
	const lanesN, perLane = 300, 3
	gate := make(chan struct{})
	var mu sync.Mutex
	var got []string
	done := make(chan struct{})
	q := New(1, func(_ context.Context, key string, item int, _ int) Result {
		if key == "lane0" && item == 0 {
			<-gate // hold the only worker while everything is pushed
		}
		mu.Lock()
		got = append(got, fmt.Sprint(key, "/", item))
		if len(got) == lanesN*perLane+lanesN {
			close(done)
		}
		mu.Unlock()
		return Done
	})
	defer q.Close(context.Background())
	pushRounds(q, lanesN, perLane)
	close(gate)
	// The model: a FIFO of lanes; each turn handles a lane's head item
	// and sends the lane to the back while it has more.
	var want []string
	fifo := []int{}
	for l := range lanesN {
		fifo = append(fifo, l)
	}
	next := make([]int, lanesN)
	for len(fifo) > 0 {
		l := fifo[0]
		fifo = fifo[1:]
		want = append(want, fmt.Sprint("lane", l, "/", next[l]))
		if next[l]++; next[l] < perLane {
			fifo = append(fifo, l)
		}
	}
	// Then every lane again, emptied by now: each is made anew (from the
	// free lanes) and runs in push order.
	waitFor(t, func() bool { return q.Pending() == 0 })
	for l := range lanesN {
		q.Push(fmt.Sprint("lane", l), perLane)
		want = append(want, fmt.Sprint("lane", l, "/", perLane))
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("not every item was handled")
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("turn %d handled %s, want %s", i, got[i], want[i])
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		runtime.Gosched()
	}
}

// pushRounds pushes items 0 to perLane-1 to lanes "lane0" to
// "lane<lanesN-1>", a round over every lane per item.
func pushRounds(q *Queue[int], lanesN, perLane int) {
	for i := range perLane {
		for l := range lanesN {
			q.Push(fmt.Sprint("lane", l), i)
		}
	}
}
