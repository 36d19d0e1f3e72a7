package dispatch

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway/connections"
	"github.com/switchboard-gw/switchboard/gateway/lanes"
	"github.com/switchboard-gw/switchboard/gateway/store"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Dispatcher sends replies. Fill the exported fields, then call Start.
type Dispatcher struct {
	Store store.Store
	Conns *connections.Set
	// People resolves provided_id addressing; nil refuses it.
	People People
	Log    *slog.Logger
	// Workers bounds channel API calls in flight.
	Workers int
	// EnforceWindow refuses replies outside a channel's messaging window
	// before calling the provider.
	EnforceWindow bool
	// Timeout bounds one channel API call.
	Timeout time.Duration
	Breaker config.Breaker
	// RetryMin and RetryMax bound the backoff of transient failures.
	RetryMin, RetryMax time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Windows, when set, answers the window check of an active
	// conversation from memory; the store is read otherwise.
	Windows Windows

	queue    *lanes.Queue[*job]
	acked    func([]uint64, error) // ackDone, bound once: an ack allocates nothing
	pacer    *pacer
	mu       sync.RWMutex
	breakers map[breakerKey]*breaker
	sent     atomic.Uint64
	failed   atomic.Uint64
}

// Windows remembers the last inbound time recorded per conversation (the
// value of store.BucketWindow under the same key, unix milliseconds).
// It may forget, never invent: a value it has is one the store holds or
// held a moment ago, which cannot turn an open window closed.
type Windows interface {
	LastInbound(key string) (ms int64, ok bool)
}

// job is one reply on its way.
type job struct {
	seq uint64 // spool entry of a replayed reply
	// ref is the spool entry of a reply accepted from the backend:
	// &spool, which lives in the job to spare an allocation.
	ref     *spoolRef
	spool   spoolRef
	conn    *connections.Conn
	path    string
	botID   string
	userID  string
	eventID string
	reply   normalize.Reply
	// caller is set for /v1/messages replies: the result goes back to it
	// and the reply is given up once its context is done.
	caller context.Context
	done   chan<- normalize.SendResult
	// otnToken holds the token across retries once looked up.
	otnToken string
}

// breaker guards one (connection, bot) and carries its bot-wide pause.
type breaker struct {
	cb          *gobreaker.CircuitBreaker[adapters.Sent]
	openedAt    atomic.Int64 // unix nanos of the last transition to open
	pausedUntil atomic.Int64 // unix nanos; bot-wide rate limit
}

// Start begins dispatching.
func (d *Dispatcher) Start() error {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	p, err := newPacer()
	if err != nil {
		return err
	}
	d.pacer = p
	d.breakers = make(map[breakerKey]*breaker)
	d.acked = d.ackDone
	d.queue = lanes.New(d.Workers, d.handle)
	return nil
}

// Close stops dispatching; sends in flight finish until ctx is done.
// Spooled replies not sent yet are replayed on the next start.
func (d *Dispatcher) Close(ctx context.Context) error {
	if d.queue == nil {
		return nil
	}
	err := d.queue.Close(ctx)
	d.pacer.close()
	return err
}

// Pending is the number of replies queued or in flight.
func (d *Dispatcher) Pending() int { return d.queue.Pending() }

// Counters returns how many replies were sent and failed for good.
func (d *Dispatcher) Counters() (sent, failed uint64) { return d.sent.Load(), d.failed.Load() }

// Accept takes a backend's synchronous replies to the conversation lane
// (a store.ConversationKey, the lane of the event answered): it queues
// them for sending at once, behind what the conversation already has
// queued, and appends to items the spool items that make them durable.
// The caller spools those (in the transaction that acks the event) and
// reports their seqs to Committed; a reply that finished before then is
// acked as soon as its seq is known. With Committed it is
// pipeline.Replies.
func (d *Dispatcher) Accept(lane, eventID string, msgs []normalize.Reply, items []store.Item) []store.Item {
	connection, responsePath := store.SplitConversationKey(lane)
	for _, m := range msgs {
		data, err := marshalSpooled(&spooled{Connection: connection, ResponsePath: responsePath, EventID: eventID, Reply: m})
		if err != nil {
			continue // a decoded Reply always marshals
		}
		j, err := d.newJob(connection, responsePath, m)
		if err != nil {
			d.Log.Error("dispatch: reply has no route, dropped", "connection", connection, "event_id", eventID, "err", err)
			d.failed.Add(1)
			continue
		}
		j.eventID, j.ref = eventID, &j.spool
		items = append(items, store.Item{Kind: store.KindOutbound, Lane: lane, Data: data, Settled: j.ref})
		d.queue.Push(lane, j)
	}
	return items
}

// Committed tells the replies of items, as Accept appended them, the seqs
// their spool entries got (seqs[i] is items[i]'s; none when err is set:
// they were not spooled), so each is acked once both it finished and its
// seq is known.
func (d *Dispatcher) Committed(items []store.Item, seqs []uint64, err error) {
	for i := range items {
		var seq uint64
		if err == nil && i < len(seqs) {
			seq = seqs[i]
		}
		items[i].Settled.(*spoolRef).known(d, seq)
	}
}

// spoolRef ties a reply sent from memory to its spool entry, whose seq is
// known only once the entry is committed: whichever of "sent" and
// "committed" happens second acks it. A reply finished before the store
// writes its entry is not written at all (store.Item.Settled): in the
// bench suite's text mix, every reply at 300 webhooks/s, 81-95% at half
// capacity and 40-47% at capacity, each saving a spool write and an ack.
type spoolRef struct {
	mu       sync.Mutex
	seq      uint64
	isKnown  bool
	finished bool
}

// known records the committed seq (0: not spooled) and acks it if the
// reply already finished.
func (r *spoolRef) known(d *Dispatcher, seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq, r.isKnown = seq, true
	if r.finished && seq != 0 {
		d.ack(seq)
	}
}

// Settled implements store.Settler: the store skips the entry of a reply
// that already finished (sent, or given up for good).
func (r *spoolRef) Settled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.finished
}

// finish marks the reply done and acks its entry if the seq is known.
func (r *spoolRef) finish(d *Dispatcher) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished = true
	if r.isKnown && r.seq != 0 {
		d.ack(r.seq)
	}
}

// ack removes a finished reply from the spool without waiting: a reply
// whose ack is lost is sent again after a restart, which beats holding
// the lane for an fsync.
func (d *Dispatcher) ack(seq uint64) {
	d.Store.AckAsync(seq, nil, d.acked)
}

// ackDone reports an ack the store could not record (its error names the
// entry).
func (d *Dispatcher) ackDone(_ []uint64, err error) {
	if err != nil {
		d.Log.Error("dispatch: ack not recorded; the reply may be sent again after a restart", "err", err)
	}
}

// Push queues replies replayed from the spool at start, in order; it is
// the other half of pipeline.Replies.
func (d *Dispatcher) Push(entries []store.Entry) {
	for _, e := range entries {
		var s spooled
		if err := json.Unmarshal(e.Data, &s); err != nil {
			d.Log.Error("dispatch: unreadable spooled reply, dropped", "seq", e.Seq, "err", err)
			d.Store.AckAsync(e.Seq, nil, nil)
			continue
		}
		j, err := d.newJob(s.Connection, s.ResponsePath, s.Reply)
		if err != nil {
			d.Log.Error("dispatch: spooled reply has no route, dropped", "seq", e.Seq, "connection", s.Connection, "err", err)
			d.Store.AckAsync(e.Seq, nil, nil)
			d.failed.Add(1)
			continue
		}
		j.seq, j.eventID = e.Seq, s.EventID
		d.queue.Push(e.Lane, j)
	}
}

func (d *Dispatcher) newJob(connection, responsePath string, r normalize.Reply) (*job, error) {
	conn := d.Conns.Get(connection)
	if conn == nil {
		return nil, fmt.Errorf("unknown connection %q", connection)
	}
	if conn.Outbound == nil {
		return nil, fmt.Errorf("connection %q cannot send", connection)
	}
	bot, user, err := normalize.ParseResponsePath(responsePath)
	if err != nil {
		return nil, err
	}
	// The reply stays as the backend wrote it: every adapter's renderer
	// resolves the Messenger Actions shorthand (Reply.Expand) on its own
	// pooled copy.
	return &job{conn: conn, path: responsePath, botID: bot, userID: user, reply: r}, nil
}

// breakerKey names a breaker: one per (connection, bot).
type breakerKey struct{ conn, bot string }

// breakerFor is the breaker of (conn, bot), made on first use. Finding an
// existing one, as every send does, takes the read lock only and
// allocates nothing.
func (d *Dispatcher) breakerFor(conn, bot string) *breaker {
	key := breakerKey{conn, bot}
	d.mu.RLock()
	b := d.breakers[key]
	d.mu.RUnlock()
	if b != nil {
		return b
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if b := d.breakers[key]; b != nil {
		return b
	}
	b = &breaker{}
	failures := d.Breaker.Failures
	b.cb = gobreaker.NewCircuitBreaker[adapters.Sent](gobreaker.Settings{
		Name:        conn + "/" + bot,
		MaxRequests: 1,
		Interval:    d.Breaker.Interval,
		Timeout:     d.Breaker.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsExcluded:  excluded,
		OnStateChange: func(name string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				b.openedAt.Store(d.Now().UnixNano())
			}
			d.Log.Warn("dispatch: breaker changed state", "breaker", name, "from", from.String(), "to", to.String())
		},
	})
	d.breakers[key] = b
	return b
}

// excluded reports errors that say nothing about the channel's health: the
// recipient's own state, a bad request, a rate limit (honoured separately),
// a refusal before any call, or our own cancellation. gobreaker asks it
// of every call, successes (nil) included, which it answers without the
// allocations of errors.As.
func excluded(err error) bool {
	if err == nil {
		return false
	}
	var ae *adapters.APIError
	if errors.As(err, &ae) {
		return ae.Class != adapters.ClassTransient && ae.Class != adapters.ClassConfig
	}
	var re *adapters.RenderError
	return errors.As(err, &re) || errors.Is(err, context.Canceled)
}

// openFor returns how long b stays open, or 0 when it lets calls through.
func (d *Dispatcher) openFor(b *breaker) time.Duration {
	if b.cb.State() != gobreaker.StateOpen {
		return 0
	}
	left := d.Breaker.OpenFor - time.Duration(d.Now().UnixNano()-b.openedAt.Load())
	return max(left, time.Second)
}

// handle sends the head reply of a lane; the lanes handler. Every job is
// queued under store.ConversationKey(j.conn.Name, j.path), so lane is that
// key: the window, OTN and pacing state of the conversation.
func (d *Dispatcher) handle(ctx context.Context, lane string, j *job, attempt int) lanes.Result {
	if j.caller != nil && j.caller.Err() != nil {
		return d.finish(j, adapters.Sent{}, &adapters.APIError{Class: adapters.ClassTransient, Code: "timeout", Message: "gave up before sending: the API caller's deadline passed"})
	}
	b := d.breakerFor(j.conn.Name, j.botID)
	if until := b.pausedUntil.Load(); until > d.Now().UnixNano() {
		return d.retry(j, time.Duration(until-d.Now().UnixNano()), &adapters.APIError{Class: adapters.ClassRateLimited, Code: "rate_limited", Message: "the bot is rate limited by the channel"})
	}
	to, err := d.policy(j, lane)
	if err != nil {
		return d.finish(j, adapters.Sent{}, err)
	}
	if p, ok := j.conn.Outbound.(adapters.Paced); ok {
		if wait := d.pacer.wait(lane, p, to, d.Now()); wait > 0 {
			return d.retry(j, wait, &adapters.APIError{Class: adapters.ClassRateLimited, Code: "paced", Message: "keeping the channel's per-recipient pace"})
		}
	}
	sent, err := b.cb.Execute(func() (adapters.Sent, error) {
		cctx, cancel := context.WithTimeout(ctx, d.Timeout)
		defer cancel()
		return j.conn.Outbound.Send(cctx, to, &j.reply)
	})
	if err == nil {
		if j.otnToken != "" {
			if derr := d.Store.Delete(store.BucketOTN, lane); derr != nil {
				d.Log.Error("dispatch: used one-time-notification token not forgotten", "connection", j.conn.Name, "err", derr)
			}
		}
		return d.finish(j, sent, nil)
	}
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		open := &adapters.APIError{Class: adapters.ClassTransient, Code: "breaker_open", Message: "the channel's circuit breaker is open", RetryAfter: d.openFor(b)}
		if j.caller != nil {
			return d.finish(j, adapters.Sent{}, open) // an API caller hears it at once
		}
		return d.retry(j, max(open.RetryAfter, d.RetryMin), open)
	}
	var ae *adapters.APIError
	if !errors.As(err, &ae) {
		return d.finish(j, adapters.Sent{}, err)
	}
	switch ae.Class {
	case adapters.ClassRateLimited:
		wait := ae.RetryAfter
		if wait <= 0 {
			wait = lanes.Backoff(attempt, d.RetryMin, d.RetryMax)
		}
		wait += rand.N(wait/10 + 1) // jitter: lanes of one bot do not wake together
		if !ae.PerRecipient {
			b.pausedUntil.Store(d.Now().Add(wait).UnixNano())
		}
		return d.retry(j, wait, ae)
	case adapters.ClassTransient:
		if j.caller != nil && attempt >= apiAttempts {
			return d.finish(j, adapters.Sent{}, err)
		}
		return d.retry(j, lanes.Backoff(attempt, d.RetryMin, d.RetryMax), ae)
	case adapters.ClassConfig:
		d.Log.Error("dispatch: CHANNEL CONFIGURATION ERROR: check the connection's token and permissions",
			"connection", j.conn.Name, "bot", j.botID, "code", ae.Code, "channel_code", ae.ChannelCode, "message", ae.Message)
	}
	return d.finish(j, adapters.Sent{}, err)
}

// apiAttempts bounds the tries of a /v1/messages reply on transient
// failures: its caller is waiting and can retry itself, while spooled
// replies are retried until they go out.
const apiAttempts = 3

// responseWindow is how long after a person's last action a reply counts
// as a response (Meta's RESPONSE messaging type) rather than an update.
const responseWindow = 24 * time.Hour

// policy builds the recipient after the messaging-window and OTN checks;
// key is the conversation's (store.ConversationKey).
func (d *Dispatcher) policy(j *job, key string) (adapters.Recipient, error) {
	to := adapters.Recipient{BotID: j.botID, ChannelID: j.userID}
	if j.reply.OTN && j.otnToken == "" {
		tok, err := d.Store.Get(store.BucketOTN, key)
		if err != nil {
			return to, &adapters.APIError{Class: adapters.ClassTransient, Code: "store", Message: err.Error()}
		}
		if tok == nil {
			return to, adapters.Renderf("no_otn_token", "no one-time-notification token is stored for %s (the person has not opted in, or it was used)", j.path)
		}
		j.otnToken = string(tok)
	}
	to.OTNToken = j.otnToken
	w, ok := j.conn.Outbound.(adapters.Windowed)
	if !ok {
		to.Response = true
		return to, nil
	}
	since, known, err := d.sinceInbound(key)
	if err != nil {
		return to, &adapters.APIError{Class: adapters.ClassTransient, Code: "store", Message: err.Error()}
	}
	to.Response = known && since <= responseWindow && j.reply.Tag == ""
	if d.EnforceWindow {
		if err := w.CheckWindow(since, known, &j.reply, to.OTNToken != ""); err != nil {
			return to, err
		}
	}
	return to, nil
}

// sinceInbound is the time since the last inbound message of a
// conversation, known false when it never wrote one. A remembered time
// within the response window is taken as is: the store can only hold it
// or a later one, and either leaves the window open (each adapter's
// CheckWindow only distinguishes times beyond responseWindow). Anything
// else is read from the store, the source of truth.
func (d *Dispatcher) sinceInbound(key string) (time.Duration, bool, error) {
	now := d.Now()
	if d.Windows != nil {
		if ms, ok := d.Windows.LastInbound(key); ok {
			if since := now.Sub(time.UnixMilli(ms)); since <= responseWindow {
				return since, true, nil
			}
		}
	}
	last, err := d.Store.Get(store.BucketWindow, key)
	if err != nil || len(last) != 8 {
		return 0, false, err
	}
	return now.Sub(time.UnixMilli(int64(binary.BigEndian.Uint64(last)))), true, nil
}

// retry waits and tries j again, unless its API caller cannot wait that
// long: then it reports err to the caller.
func (d *Dispatcher) retry(j *job, wait time.Duration, err *adapters.APIError) lanes.Result {
	if j.caller != nil {
		if dl, ok := j.caller.Deadline(); ok && d.Now().Add(wait).After(dl) {
			e := *err
			if e.RetryAfter == 0 {
				e.RetryAfter = wait
			}
			return d.finish(j, adapters.Sent{}, &e)
		}
	}
	return lanes.RetryAfter(wait)
}

// finish ends j: reports to its caller or removes it from the spool.
func (d *Dispatcher) finish(j *job, sent adapters.Sent, err error) lanes.Result {
	res := normalize.SendResult{MessageID: sent.MessageID, AttachmentID: sent.AttachmentID, Degraded: sent.Degraded}
	if err != nil {
		res.Error = adapters.SendError(err)
		d.failed.Add(1)
		if j.caller == nil {
			d.Log.Warn("dispatch: reply failed for good", "connection", j.conn.Name, "event_id", j.eventID, "code", res.Error.Code, "err", err)
		}
	} else {
		d.sent.Add(1)
	}
	if j.done != nil {
		j.done <- res
	}
	switch {
	case j.ref != nil:
		j.ref.finish(d)
	case j.seq != 0:
		d.ack(j.seq)
	}
	return lanes.Done
}
