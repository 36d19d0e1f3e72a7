// Package ledger accounts for every event the bench suite sends: which
// were acknowledged by the gateway, which reached the mock backend (and
// how many times), and which replies reached the mock channel API, with
// the round-trip latency from the webhook's intended send time to the
// reply's arrival. What was acknowledged and never arrived is lost.
//
// Events are registered (Expect) before their webhook is sent, because the
// backend may see an event before its webhook's answer reaches the client.
// The ledger holds one small entry per event for the whole run (about
// 150 bytes each): a million events cost about 150 MB.
package ledger

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/bench/latency"
)

const nShards = 64

// Ledger is safe for concurrent use.
type Ledger struct {
	epoch  time.Time
	seed   maphash.Seed
	shards [nShards]shard

	// UnknownEvents and UnknownReplies count arrivals whose event id was
	// never sent: a misrouted or corrupted event. With Late, arrivals
	// waiting for their registration are added by Unknown.
	UnknownEvents, UnknownReplies atomic.Uint64

	// Late, set before the run, keeps arrivals for ids not registered yet
	// until ExpectAnswered registers them: the web channel's event ids
	// are named by the gateway's answer (it numbers a conversation's
	// items), and the backend may see an event before that answer is
	// read.
	Late bool
}

type shard struct {
	mu sync.Mutex
	m  map[string]*entry
	// early holds arrivals for ids not registered yet, when the ledger
	// takes late registrations (Late).
	early map[string]*early
}

// early is what arrived for an id before its webhook's answer named it.
type early struct {
	backend []int64 // arrival times, ns since the epoch
	replies []earlyReply
}

type earlyReply struct {
	user string
	at   int64
}

type entry struct {
	shard     *shard
	phase     *Phase
	intended  int64 // ns since epoch
	user      string
	waiter    *Waiter
	measured  bool
	answered  bool // the webhook got an answer or an error
	acked     bool // … and it was 2xx
	backend   uint32
	replies   uint32
	misrouted bool
}

// New returns an empty ledger.
func New() *Ledger {
	l := &Ledger{epoch: time.Now(), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = map[string]*entry{}
		l.shards[i].early = map[string]*early{}
	}
	return l
}

func (l *Ledger) shard(id string) *shard {
	return &l.shards[maphash.String(l.seed, id)%nShards]
}

func (l *Ledger) since(t time.Time) int64 { return int64(t.Sub(l.epoch)) }

// Phase is one load run against the gateway: its events, counters and
// round-trip latencies.
type Phase struct {
	Name string
	// RoundTrip holds, for events whose webhook was meant to be sent
	// inside the window, intended send → reply at the channel API.
	RoundTrip *latency.Recorder

	winStart, winEnd int64 // ns since the ledger's epoch

	sent, acked, refused             atomic.Int64
	backendFirst, backendDup         atomic.Int64
	repliesFirst, replyDup           atomic.Int64
	backendInWindow, repliesInWindow atomic.Int64
	outstanding                      atomic.Int64 // acked and not yet replied
	mu                               sync.Mutex
	entries                          []*entry
}

// Phase starts a phase whose measurement window is [start, end).
func (l *Ledger) Phase(name string, start, end time.Time) *Phase {
	return &Phase{Name: name, RoundTrip: latency.NewRecorder(), winStart: l.since(start), winEnd: l.since(end)}
}

// Waiter lets a closed-loop worker wait for the replies to every event
// of its webhook. Reuse one per worker.
type Waiter struct {
	remaining atomic.Int32
	ch        chan struct{}
}

// NewWaiter returns a waiter.
func NewWaiter() *Waiter { return &Waiter{ch: make(chan struct{}, 1)} }

// Arm expects n replies.
func (w *Waiter) Arm(n int) {
	select { // drop a stale signal from an earlier webhook
	case <-w.ch:
	default:
	}
	w.remaining.Store(int32(n))
}

func (w *Waiter) done() {
	if w.remaining.Add(-1) == 0 {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}

// Wait blocks until every armed reply arrived, or ctx ends.
func (w *Waiter) Wait(ctx context.Context) error {
	if w.remaining.Load() <= 0 {
		return nil
	}
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Expect registers an event before its webhook is sent. user is where its
// reply must go; w (nil for none) is told when the reply arrives.
func (l *Ledger) Expect(p *Phase, id, user string, intended time.Time, w *Waiter) {
	at := l.since(intended)
	s := l.shard(id)
	e := &entry{shard: s, phase: p, intended: at, user: user, waiter: w, measured: at >= p.winStart && at < p.winEnd}
	s.mu.Lock()
	s.m[id] = e
	s.mu.Unlock()
	p.sent.Add(1)
	p.mu.Lock()
	p.entries = append(p.entries, e)
	p.mu.Unlock()
}

// Answered records the outcome of the webhook that carried id.
func (l *Ledger) Answered(id string, ok bool) {
	s := l.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[id]
	if e == nil || e.answered {
		return
	}
	e.answered, e.acked = true, ok
	if !ok {
		e.phase.refused.Add(1)
		return
	}
	e.phase.acked.Add(1)
	if e.replies == 0 {
		e.phase.outstanding.Add(1)
	}
}

// Backend records that the mock backend received event id at at. id is
// only read.
func (l *Ledger) Backend(id []byte, at time.Time) {
	s := l.shard(string(id))
	s.mu.Lock()
	e := s.m[string(id)]
	if e == nil {
		if l.Late {
			a := l.earlyOf(s, string(id))
			a.backend = append(a.backend, l.since(at))
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		l.UnknownEvents.Add(1)
		return
	}
	e.backend++
	first := e.backend == 1
	s.mu.Unlock()
	l.backendArrived(e, first, l.since(at))
}

// backendArrived counts an event's arrival at the backend at t, the
// entry's own counter already updated under its shard's lock.
func (l *Ledger) backendArrived(e *entry, first bool, t int64) {
	p := e.phase
	if !first {
		p.backendDup.Add(1)
		return
	}
	p.backendFirst.Add(1)
	if t >= p.winStart && t < p.winEnd {
		p.backendInWindow.Add(1)
	}
}

// earlyOf returns id's early arrivals, made on first use. s.mu is held.
func (l *Ledger) earlyOf(s *shard, id string) *early {
	a := s.early[id]
	if a == nil {
		a = &early{}
		s.early[id] = a
	}
	return a
}

// Reply records that the reply to event id reached user at the channel
// API at at. id and user are only read.
func (l *Ledger) Reply(id, user []byte, at time.Time) {
	s := l.shard(string(id))
	s.mu.Lock()
	e := s.m[string(id)]
	if e == nil {
		if l.Late {
			a := l.earlyOf(s, string(id))
			a.replies = append(a.replies, earlyReply{user: string(user), at: l.since(at)})
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		l.UnknownReplies.Add(1)
		return
	}
	first := e.reply(string(user))
	w, intended, measured := e.waiter, e.intended, e.measured
	s.mu.Unlock()
	l.replyArrived(e.phase, first, l.since(at), intended, measured, w)
}

// reply counts a reply to e for user and reports whether it is the
// first. Its shard's lock is held.
func (e *entry) reply(user string) (first bool) {
	e.replies++
	first = e.replies == 1
	if user != e.user {
		e.misrouted = true
	}
	if first && e.acked {
		e.phase.outstanding.Add(-1)
	}
	return first
}

// replyArrived counts a reply that reached the channel API at t.
func (l *Ledger) replyArrived(p *Phase, first bool, t, intended int64, measured bool, w *Waiter) {
	if !first {
		p.replyDup.Add(1)
		return
	}
	p.repliesFirst.Add(1)
	if t >= p.winStart && t < p.winEnd {
		p.repliesInWindow.Add(1)
	}
	p.RoundTrip.Record(time.Duration(t-intended), measured)
	if w != nil {
		w.done()
	}
}

// ExpectAnswered registers an event its webhook's answer named (see
// Late), with the outcome of that answer, and applies what arrived for
// it before. ok false registers a refused webhook's event under id, which
// the caller makes up (the answer named nothing).
func (l *Ledger) ExpectAnswered(p *Phase, id, user string, intended time.Time, w *Waiter, ok bool) {
	l.Expect(p, id, user, intended, w)
	l.Answered(id, ok)
	s := l.shard(id)
	s.mu.Lock()
	a := s.early[id]
	delete(s.early, id)
	e := s.m[id]
	var backendFirst []bool
	var replyFirst []bool
	if a != nil {
		for range a.backend {
			e.backend++
			backendFirst = append(backendFirst, e.backend == 1)
		}
		for _, r := range a.replies {
			replyFirst = append(replyFirst, e.reply(r.user))
		}
	}
	intendedAt, measured := e.intended, e.measured
	s.mu.Unlock()
	if a == nil {
		return
	}
	for i, t := range a.backend {
		l.backendArrived(e, backendFirst[i], t)
	}
	for i, r := range a.replies {
		l.replyArrived(p, replyFirst[i], r.at, intendedAt, measured, w)
	}
}

// Unknown counts arrivals whose event id was never sent, those still
// waiting for a late registration included.
func (l *Ledger) Unknown() (events, replies uint64) {
	events, replies = l.UnknownEvents.Load(), l.UnknownReplies.Load()
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for _, a := range s.early {
			events += uint64(len(a.backend))
			replies += uint64(len(a.replies))
		}
		s.mu.Unlock()
	}
	return events, replies
}

// Outstanding is the number of acknowledged events whose reply has not
// arrived yet: the gateway's backlog, as seen from outside.
func (p *Phase) Outstanding() int64 { return p.outstanding.Load() }

// Replied is the number of events whose first reply arrived so far.
func (p *Phase) Replied() int64 { return p.repliesFirst.Load() }

// Drain waits until nothing is outstanding, ctx ends or timeout passes,
// and reports whether everything arrived.
func (p *Phase) Drain(ctx context.Context, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for p.Outstanding() > 0 {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// InWindow returns how many events first reached the backend, and how many
// replies first reached the channel API, inside the window.
func (p *Phase) InWindow() (backend, replies int64) {
	return p.backendInWindow.Load(), p.repliesInWindow.Load()
}

// Accounting is where every event of a phase ended up. Each event counts
// in at most one of the Lost* figures.
type Accounting struct {
	// Sent: events in webhooks sent. Acked: in webhooks answered 2xx.
	// Refused: in webhooks answered otherwise or failed (timeouts,
	// connection errors); these are errors, not losses.
	Sent    int64 `json:"sent"`
	Acked   int64 `json:"acked"`
	Refused int64 `json:"refused"`
	// AtBackend: distinct events the backend received;
	// BackendDuplicates: deliveries beyond the first (at-least-once
	// redelivery).
	AtBackend         int64 `json:"at_backend"`
	BackendDuplicates int64 `json:"backend_duplicates"`
	// Replied: distinct events whose reply reached the channel API;
	// ReplyDuplicates: replies beyond the first.
	Replied         int64 `json:"replied"`
	ReplyDuplicates int64 `json:"reply_duplicates"`
	// LostAtBackend: acknowledged, never reached the backend.
	// LostReplies: reached the backend, its reply never reached the
	// channel API. Lost is their sum.
	LostAtBackend int64 `json:"lost_at_backend"`
	LostReplies   int64 `json:"lost_replies"`
	Lost          int64 `json:"lost"`
	// Misrouted: a reply reached someone else than the event's sender.
	Misrouted int64 `json:"misrouted"`
	// DeliveredUnacked: refused or failed webhooks whose events still
	// went through (the gateway spooled them, the client gave up first).
	DeliveredUnacked int64 `json:"delivered_unacked"`
}

// Account walks the phase's events. Call it after Drain.
func (p *Phase) Account() Accounting {
	p.mu.Lock()
	entries := p.entries
	p.mu.Unlock()
	var a Accounting
	for _, e := range entries {
		backend, replies, acked, misrouted := snapshot(e)
		a.Sent++
		if acked {
			a.Acked++
		} else {
			a.Refused++
		}
		if backend > 0 {
			a.AtBackend++
			a.BackendDuplicates += int64(backend - 1)
		}
		if replies > 0 {
			a.Replied++
			a.ReplyDuplicates += int64(replies - 1)
		}
		if misrouted {
			a.Misrouted++
		}
		switch {
		case !acked && (backend > 0 || replies > 0):
			a.DeliveredUnacked++
		case acked && backend == 0 && replies == 0:
			a.LostAtBackend++
		case acked && replies == 0:
			a.LostReplies++
		}
	}
	a.Lost = a.LostAtBackend + a.LostReplies
	return a
}

// snapshot reads an entry's counters under its shard's lock (a late
// arrival may still be writing them).
func snapshot(e *entry) (backend, replies uint32, acked, misrouted bool) {
	e.shard.mu.Lock()
	defer e.shard.mu.Unlock()
	return e.backend, e.replies, e.acked, e.misrouted
}
