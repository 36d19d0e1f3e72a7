package bolt

import "sync"

// queue is the committer's inbox: first in, first out, and unbounded, so
// that enqueueing never blocks. That is what lets an AckAsync callback,
// which runs on the committer's goroutine, queue another AckAsync: with a
// bounded channel a full inbox would have the committer wait on itself.
// Callers who wait for their commit bound it anyway (one request each),
// and asynchronous work is bounded by what it answers.
type queue struct {
	mu     sync.Mutex
	items  []*request
	closed bool
	pushes uint64 // requests ever queued
	// wake holds a token when items may have arrived since the committer
	// last looked.
	wake chan struct{}
}

func newQueue() *queue { return &queue{wake: make(chan struct{}, 1)} }

// push appends r; it reports false, queueing nothing, once the queue is
// closed.
func (q *queue) push(r *request) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, r)
	q.pushes++
	q.mu.Unlock()
	q.signal()
	return true
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close refuses further pushes; what is queued is still taken.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

// take moves queued requests, oldest first, into batch until it holds
// max. open is false once the queue is closed and has nothing left.
func (q *queue) take(batch *[]*request, max int) (open bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(max-len(*batch), len(q.items))
	if n > 0 {
		*batch = append(*batch, q.items[:n]...)
		clear(q.items[:n])
		switch {
		case n < len(q.items):
			q.items = q.items[n:]
		case cap(q.items) > maxBatch:
			q.items = nil // let a burst's array go
		default:
			q.items = q.items[:0] // taken whole: the next pushes reuse it
		}
	}
	if len(q.items) > 0 {
		q.signal() // more than max: the next batch starts at once
	}
	return !q.closed || len(q.items) > 0
}

// pushed is how many requests were ever queued.
func (q *queue) pushed() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pushes
}

// len is how many requests wait to be taken.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
