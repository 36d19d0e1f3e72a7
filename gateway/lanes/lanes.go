// Package lanes is an ordered work queue keyed by lane: items of one lane
// are handled one at a time in push order, different lanes run in parallel
// up to a bound, and a lane that must wait (a retry with backoff, a rate
// limit) steps aside without blocking any other lane.
//
// The gateway keys lanes by connection and response path, so one slow or
// failing conversation never holds up another, while each conversation's
// messages keep their order. Both backend forwarding and channel dispatch
// run on it.
package lanes

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Result is what a handler decided about the head item of its lane.
type Result struct {
	// Retry asks for the same item again after RetryAfter; the lane waits.
	Retry      bool
	RetryAfter time.Duration
}

// Done is the Result of a finished item.
var Done = Result{}

// RetryAfter is the Result of an item to try again after d.
func RetryAfter(d time.Duration) Result { return Result{Retry: true, RetryAfter: d} }

// Handler handles the head item of a lane. attempt counts from 1.
type Handler[T any] func(ctx context.Context, lane string, item T, attempt int) Result

// Queue runs Handler over lanes. Create it with New; the zero value is not
// usable.
type Queue[T any] struct {
	handle  Handler[T]
	workers int

	mu    sync.Mutex
	cond  *sync.Cond
	lanes map[string]*lane[T]
	// ready holds the lanes with work, not running, not waiting, from
	// ready[head] on: a FIFO over one array (see popReady).
	ready   []*lane[T]
	head    int
	free    []*lane[T] // emptied lanes, for reuse (at most maxFree)
	pending int        // items queued, running included
	closed  bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type lane[T any] struct {
	key     string
	items   []T
	attempt int
	running bool
	waiting *time.Timer
}

// New starts a queue of workers goroutines running h.
func New[T any](workers int, h Handler[T]) *Queue[T] {
	if workers < 1 {
		workers = 1
	}
	q := &Queue[T]{handle: h, workers: workers, lanes: make(map[string]*lane[T])}
	q.cond = sync.NewCond(&q.mu)
	q.ctx, q.cancel = context.WithCancel(context.Background())
	q.wg.Add(workers)
	for range workers {
		go q.work()
	}
	return q
}

// Push appends item to the tail of lane key. It reports false once the
// queue is closed; the item is then not queued (it stays wherever the
// caller keeps it durably, e.g. the spool, for the next start).
func (q *Queue[T]) Push(key string, item T) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	l := q.lanes[key]
	if l == nil {
		l = q.newLane(key)
		q.lanes[key] = l
	}
	l.items = append(l.items, item)
	q.pending++
	if len(l.items) == 1 && !l.running && l.waiting == nil {
		q.ready = append(q.ready, l)
		q.cond.Signal()
	}
	return true
}

// Pending returns the number of items queued or running.
func (q *Queue[T]) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending
}

func (q *Queue[T]) work() {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		for q.head == len(q.ready) && !q.closed {
			q.cond.Wait()
		}
		if q.closed {
			q.mu.Unlock()
			return
		}
		l := q.popReady()
		l.running = true
		l.attempt++
		item, attempt := l.items[0], l.attempt
		q.mu.Unlock()

		res := q.handle(q.ctx, l.key, item, attempt)

		q.mu.Lock()
		l.running = false
		switch {
		case q.closed:
			// Leave the lane as it is: Close does not wait for it.
		case res.Retry:
			q.park(l, res.RetryAfter)
		default:
			var zero T
			l.items[0] = zero
			if len(l.items) == 1 {
				l.items = l.items[:0] // the array stays for the lane's next item
			} else {
				l.items = l.items[1:]
			}
			l.attempt = 0
			q.pending--
			if len(l.items) == 0 {
				delete(q.lanes, l.key)
				q.freeLane(l)
			} else {
				q.ready = append(q.ready, l)
				q.cond.Signal()
			}
		}
		q.mu.Unlock()
	}
}

// maxFree bounds the emptied lanes kept for reuse: a conversation's lane
// lives from its first message to its last reply, so most lanes are made
// and emptied again and again; the ones kept spare their allocations.
const maxFree = 1024

// newLane is a lane for key, reused when one is free. Called with mu held.
func (q *Queue[T]) newLane(key string) *lane[T] {
	n := len(q.free)
	if n == 0 {
		return &lane[T]{key: key}
	}
	l := q.free[n-1]
	q.free[n-1] = nil
	q.free = q.free[:n-1]
	l.key = key
	return l
}

// freeLane keeps an emptied lane, not running nor waiting and out of the
// map, for reuse: nothing else refers to it any more. Its items array is
// kept from where its last item was, so a lane that held one item at a
// time reuses it (see the pop in work). Called with mu held.
func (q *Queue[T]) freeLane(l *lane[T]) {
	if len(q.free) >= maxFree {
		return
	}
	*l = lane[T]{items: l.items[:0]}
	q.free = append(q.free, l)
}

// maxKeptReady bounds the ready array kept once empty.
const maxKeptReady = 4096

// popReady takes the first ready lane. The taken front of the array is
// reclaimed when the FIFO empties, or moved over once it is more than
// half of it, so a steady flow reuses one array where a ready[1:] slice
// would keep reallocating it. Called with mu held, ready not empty.
func (q *Queue[T]) popReady() *lane[T] {
	l := q.ready[q.head]
	q.ready[q.head] = nil
	q.head++
	switch {
	case q.head == len(q.ready) && cap(q.ready) > maxKeptReady:
		q.ready, q.head = nil, 0 // let a burst's array go
	case q.head == len(q.ready):
		q.ready, q.head = q.ready[:0], 0
	case q.head > len(q.ready)/2 && q.head >= 64:
		n := copy(q.ready, q.ready[q.head:])
		clear(q.ready[n:])
		q.ready, q.head = q.ready[:n], 0
	}
	return l
}

// park makes l wait d before its head item runs again. Called with mu held.
func (q *Queue[T]) park(l *lane[T], d time.Duration) {
	if d <= 0 {
		q.ready = append(q.ready, l)
		q.cond.Signal()
		return
	}
	l.waiting = time.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		l.waiting = nil
		if q.closed {
			return
		}
		q.ready = append(q.ready, l)
		q.cond.Signal()
	})
}

// Close stops the queue: no new item starts, handlers in flight see their
// context cancelled once ctx is done, and Close returns when they have all
// returned. Items not yet handled are dropped from memory; callers keep
// them durably and replay them on the next start.
func (q *Queue[T]) Close(ctx context.Context) error {
	q.mu.Lock()
	q.closed = true
	for _, l := range q.lanes {
		if l.waiting != nil {
			l.waiting.Stop()
		}
	}
	q.cond.Broadcast()
	q.mu.Unlock()
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	select {
	case <-done:
		q.cancel()
		return nil
	case <-ctx.Done():
		q.cancel()
		<-done
		return ctx.Err()
	}
}

// Backoff is the delay before attempt (counting from 1) of an item that
// keeps failing: exponential from lo, capped at hi, with jitter over the
// upper half so lanes that failed together do not retry together.
func Backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}
