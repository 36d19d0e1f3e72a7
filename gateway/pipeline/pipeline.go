package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/gateway/backend"
	"github.com/switchboard-gw/switchboard/gateway/identity"
	"github.com/switchboard-gw/switchboard/gateway/lanes"
	"github.com/switchboard-gw/switchboard/gateway/store"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Replies is where a backend's synchronous replies go: the outbound
// dispatch. Accept, given the answered event's lane (its
// store.ConversationKey, which its replies share), queues them for sending
// at once and appends to items the spool items that make them durable
// (spooled in the same transaction that acks the event); Committed is
// told their seqs once that transaction ran, with the items Accept
// appended, which stay as they were until then. Push takes replies
// replayed from the spool at start.
type Replies interface {
	Accept(lane, eventID string, msgs []normalize.Reply, items []store.Item) []store.Item
	Committed(items []store.Item, seqs []uint64, err error)
	Push(entries []store.Entry)
}

// Pipeline ingests canonical events and forwards them to the backend.
// Fill the exported fields, then call Start.
type Pipeline struct {
	Store    store.Store
	Identity *identity.Resolver
	Backend  backend.Client
	Replies  Replies // nil: replies are logged and dropped
	Log      *slog.Logger
	// Workers bounds events in flight to the backend.
	Workers int
	// RetryMin and RetryMax bound the backoff between delivery attempts.
	RetryMin, RetryMax time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DedupTTL is how long each connection's event ids are remembered
	// (store.Item.DedupTTL: its channel's redelivery window); a
	// connection without one gets the store's.
	DedupTTL map[string]time.Duration

	queue *lanes.Queue[job]
	pool  sync.Pool // *ingestBuf
	// windows remembers the last inbound time written per conversation,
	// so an active conversation costs one window write a minute, not one
	// per event (a random B+tree write is what a commit pays for).
	windows *ristretto.Cache[string, int64]

	accepted, duplicates, delivered, failed atomic.Uint64
}

// job is one spooled event waiting for the backend.
type job struct {
	seq   uint64
	id    string
	event []byte
}

// Start begins forwarding and replays what the spool holds from before:
// inbound events to the backend, outbound replies to Replies, each in
// spool order.
func (p *Pipeline) Start() error {
	if p.Log == nil {
		p.Log = slog.Default()
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	windows, err := ristretto.NewCache(&ristretto.Config[string, int64]{
		NumCounters: 1e6, MaxCost: 1e5, BufferItems: 64, IgnoreInternalCost: true,
	})
	if err != nil {
		return err
	}
	p.windows = windows
	p.queue = lanes.New(p.Workers, p.forward)
	var outbound []store.Entry
	n := 0
	err = p.Store.Replay(func(e store.Entry) error {
		switch e.Kind {
		case store.KindInbound:
			id, ev, err := decodeInbound(e.Data)
			if err != nil {
				p.Log.Error("pipeline: unreadable spool entry, skipped", "seq", e.Seq, "err", err)
				return nil
			}
			p.queue.Push(e.Lane, job{seq: e.Seq, id: id, event: ev})
			n++
		case store.KindOutbound:
			outbound = append(outbound, e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(outbound) > 0 && p.Replies != nil {
		p.Replies.Push(outbound)
	}
	if n+len(outbound) > 0 {
		p.Log.Info("pipeline: replaying spool", "events", n, "replies", len(outbound))
	}
	return nil
}

// Close stops forwarding, letting deliveries in flight finish until ctx
// is done. Undelivered events stay in the spool for the next start.
func (p *Pipeline) Close(ctx context.Context) error {
	if p.queue == nil {
		return nil
	}
	err := p.queue.Close(ctx)
	p.windows.Close()
	return err
}

// Pending is the number of events waiting for the backend.
func (p *Pipeline) Pending() int {
	if p.queue == nil {
		return 0
	}
	return p.queue.Pending()
}

// Counters returns a snapshot of the counters.
func (p *Pipeline) Counters() (accepted, duplicates, delivered, failed uint64) {
	return p.accepted.Load(), p.duplicates.Load(), p.delivered.Load(), p.failed.Load()
}

// ingestBuf is the per-call scratch of Ingest, pooled.
type ingestBuf struct {
	items   []store.Item
	keys    []string // identity key of each new visitor, by item
	scratch []byte   // encodeInbound's
	key     []byte   // the identity key being looked up
}

// Ingest makes events durable and queues them for the backend. It fills
// VisitorID (and, for a person known to identity, ProvidedID and
// Attributes unless the adapter set them), then spools every event in one
// group-committed transaction, dropping those whose ID was seen before (a
// provider's retry). When it returns nil the events are on disk and the
// provider may be answered. events must not alias request memory
// (adapters guarantee it).
func (p *Pipeline) Ingest(connection string, events []normalize.Event) (accepted, duplicates int, err error) {
	return p.ingest(connection, events, nil)
}

// IngestWith is Ingest of one event whose spool entry also writes with,
// in the same transaction: what the event is part of is stored with it
// or not at all. A claim among with (store.KV.IfAbsent) that is already
// taken fails the call with store.ErrTaken, and nothing is written or
// queued. with is not written when the event is a duplicate.
func (p *Pipeline) IngestWith(connection string, ev normalize.Event, with ...store.KV) (duplicate bool, err error) {
	_, dups, err := p.ingest(connection, []normalize.Event{ev}, with)
	return dups > 0, err
}

// ingest is Ingest; with is written with the first event.
func (p *Pipeline) ingest(connection string, events []normalize.Event, with []store.KV) (accepted, duplicates int, err error) {
	if len(events) == 0 {
		return 0, 0, nil
	}
	b, _ := p.pool.Get().(*ingestBuf)
	if b == nil {
		b = new(ingestBuf)
	}
	defer func() {
		clear(b.items)
		clear(b.keys)
		b.items, b.keys = b.items[:0], b.keys[:0]
		p.pool.Put(b)
	}()
	now := p.Now()
	ttl := p.DedupTTL[connection]
	for i := range events {
		ev := &events[i]
		var sets []store.KV
		key := ""
		ln := lane(connection, ev)
		if ev.ChannelID != "" {
			// A known person's key is only looked up: a view of the
			// buffer does; a new one's is kept, as a string of its own.
			b.key = identity.AppendChannelUserKey(b.key[:0], ev.Channel, ev.ResponsePath)
			vid, isNew, err := p.Identity.Resolve(adapters.View(b.key))
			if err != nil {
				return 0, 0, err
			}
			ev.VisitorID = vid
			if isNew {
				key = string(b.key)
				sets = identity.NewUserSets(sets, key, vid)
			} else {
				// A known person may carry a provided id (linked, or
				// identified on the web) and attributes: events say so.
				prof, err := p.Identity.Profile(vid)
				if err != nil {
					return 0, 0, err
				}
				if ev.ProvidedID == "" {
					ev.ProvidedID = prof.ProvidedID
				}
				if len(ev.Attributes) == 0 {
					ev.Attributes = prof.Attributes
				}
			}
			// An event with a channel id has its response path (every
			// adapter's conformance test checks it), so its lane is its
			// conversation's key.
			sets = p.appendPolicySets(sets, ln, ev, now)
		}
		if i == 0 {
			sets = append(sets, with...)
		}
		b.items = append(b.items, store.Item{
			Kind:     store.KindInbound,
			DedupKey: ev.ID,
			DedupAt:  ev.Timestamp,
			DedupTTL: ttl,
			Lane:     ln,
			Data:     encodeInbound(&b.scratch, ev),
			Sets:     sets,
		})
		b.keys = append(b.keys, key)
	}
	seqs, err := p.Store.Spool(b.items)
	if err != nil {
		return 0, 0, err
	}
	for i, seq := range seqs {
		if seq == 0 {
			duplicates++
			continue
		}
		accepted++
		for _, kv := range b.items[i].Sets {
			if kv.Bucket == store.BucketWindow {
				p.windows.Set(kv.Key, int64(binary.BigEndian.Uint64(kv.Value)), 1)
			}
		}
		if b.keys[i] != "" {
			p.Identity.Remember(b.keys[i], events[i].VisitorID)
		}
		it := &b.items[i]
		p.queue.Push(it.Lane, job{seq: seq, id: events[i].ID, event: it.Data[inboundHeaderLen(it.Data):]})
	}
	p.accepted.Add(uint64(accepted))
	p.duplicates.Add(uint64(duplicates))
	return accepted, duplicates, nil
}

// LastInbound is the last inbound time (unix ms) this pipeline wrote to
// store.BucketWindow for a conversation key, if it still remembers it
// (dispatch.Windows). Safe before Start: it then remembers nothing.
func (p *Pipeline) LastInbound(key string) (int64, bool) {
	if p.windows == nil {
		return 0, false
	}
	return p.windows.Get(key)
}

// lane is the ordering key of an event: its conversation (or, for events
// that address no person, its bot).
func lane(connection string, ev *normalize.Event) string {
	if ev.ResponsePath != "" {
		return store.ConversationKey(connection, ev.ResponsePath)
	}
	return store.ConversationKey(connection, ev.BotID)
}

// opensWindow reports whether an event is a person's own action, which
// (re)opens the channel's messaging window (meta.md §9). A message of a
// kind we do not model (a WhatsApp order, an unsupported Messenger
// message) counts when the person of the conversation sent it.
func opensWindow(ev *normalize.Event) bool {
	switch ev.Type {
	case normalize.TypeText, normalize.TypeQuickReply, normalize.TypePostback,
		normalize.TypeAttachment, normalize.TypeLocation, normalize.TypeContact,
		normalize.TypeReferral, normalize.TypeOptin, normalize.TypeReaction,
		normalize.TypeAccountLink, normalize.TypeEdited, normalize.TypeConversationStarted:
		return true
	case normalize.TypeUnknown:
		return ev.Sender.ID != "" && ev.Sender.ID == ev.ChannelID
	}
	return false
}

// windowGranularity is how stale the recorded last inbound time may be:
// a conversation's window is written at most once per this period, so it
// may look closed up to this long before Meta would close it.
const windowGranularity = time.Minute

// appendPolicySets records the state outbound policy needs, in the same
// transaction as the event: the last inbound time of the conversation pk
// (store.ConversationKey; at most once per windowGranularity), and a
// one-time-notification token from an opt-in.
func (p *Pipeline) appendPolicySets(sets []store.KV, pk string, ev *normalize.Event, now time.Time) []store.KV {
	if !opensWindow(ev) {
		return sets
	}
	at := ev.Timestamp
	if at.IsZero() || at.After(now) {
		at = now
	}
	ms := at.UnixMilli()
	if last, ok := p.windows.Get(pk); !ok || ms-last >= windowGranularity.Milliseconds() {
		var ts [8]byte
		binary.BigEndian.PutUint64(ts[:], uint64(ms))
		sets = append(sets, store.KV{Bucket: store.BucketWindow, Key: pk, Value: ts[:]})
	}
	if ev.Type == normalize.TypeOptin && len(ev.Metadata) > 0 {
		if tok := fastjson.GetString(ev.Metadata, "one_time_notif_token"); tok != "" {
			sets = append(sets, store.KV{Bucket: store.BucketOTN, Key: pk, Value: []byte(tok)})
		}
	}
	return sets
}

// encodeInbound returns the spool data of an inbound entry: uvarint id
// length, id, canonical JSON. It is encoded in *scratch (kept for the next
// call) and copied out at its size: one allocation, where growing a
// fresh buffer took two or three for a long message.
func encodeInbound(scratch *[]byte, ev *normalize.Event) []byte {
	buf := binary.AppendUvarint((*scratch)[:0], uint64(len(ev.ID)))
	buf = append(buf, ev.ID...)
	buf = ev.AppendJSON(buf)
	*scratch = buf
	return bytes.Clone(buf)
}

func inboundHeaderLen(data []byte) int {
	n, k := binary.Uvarint(data)
	return k + int(n)
}

var errBadEntry = errors.New("pipeline: bad spool entry")

func decodeInbound(data []byte) (id string, event []byte, err error) {
	n, k := binary.Uvarint(data)
	if k <= 0 || uint64(len(data)-k) < n {
		return "", nil, errBadEntry
	}
	return string(data[k : k+int(n)]), data[k+int(n):], nil
}

// answers are the buffers backend answers are read into: an answer lives
// only until its replies are decoded (normalize.DecodeAnswer copies).
var answers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledAnswer keeps a rare large answer's buffer out of the pool.
const maxPooledAnswer = 64 << 10

// forward delivers one event, the lanes handler.
func (p *Pipeline) forward(ctx context.Context, lane string, j job, attempt int) lanes.Result {
	buf := answers.Get().(*[]byte)
	answer, err := p.Backend.Deliver(ctx, j.id, j.event, (*buf)[:0])
	defer func() {
		switch {
		case cap(answer) > maxPooledAnswer:
			return // let a rare large one go
		case answer != nil:
			*buf = answer[:0]
		}
		answers.Put(buf)
	}()
	if err != nil {
		d := lanes.Backoff(attempt, p.RetryMin, p.RetryMax)
		lvl := slog.LevelWarn
		if attempt > 1 {
			lvl = slog.LevelDebug // one warning per event, not per retry
		}
		p.Log.LogAttrs(ctx, lvl, "pipeline: backend did not take event, will retry",
			slog.String("event_id", j.id), slog.Int("attempt", attempt), slog.Duration("retry_in", d), slog.String("err", err.Error()))
		p.failed.Add(1)
		return lanes.RetryAfter(d)
	}
	var msgs []normalize.Reply
	if len(answer) > 0 {
		msgs, err = normalize.DecodeAnswer(answer)
		if err != nil {
			p.Log.Warn("pipeline: backend answer unreadable, event acknowledged without replies", "event_id", j.id, "err", err)
		}
	}
	a := acquireAcking()
	a.p, a.id = p, j.id
	if len(msgs) > 0 {
		if p.Replies == nil {
			p.Log.Warn("pipeline: no outbound dispatch configured, replies dropped", "event_id", j.id, "replies", len(msgs))
		} else {
			a.items = p.Replies.Accept(lane, j.id, msgs, a.items)
		}
	}
	// The event leaves the spool and its replies enter it in one
	// transaction, committed with the next batch: neither the lane nor
	// the replies (already queued for sending) wait for that fsync.
	// Should the process die first, the event is still spooled and is
	// delivered again (at-least-once; the backend dedups on
	// X-Switchboard-Event-Id).
	p.Store.AckAsync(j.seq, a.items, a.done)
	p.delivered.Add(1)
	return lanes.Done
}

// acking is what an event's asynchronous ack needs once committed. It is
// pooled with its callback bound once (done), so an ack costs no
// allocation where a closure per ack cost one; the store calls done once
// and refers to items no more after it.
type acking struct {
	p     *Pipeline
	id    string       // the event's
	items []store.Item // its replies' spool items (Replies.Accept)
	done  func(seqs []uint64, err error)
}

var ackings sync.Pool

func acquireAcking() *acking {
	if a, ok := ackings.Get().(*acking); ok {
		return a
	}
	a := new(acking)
	a.done = a.committed
	return a
}

// maxPooledItems keeps the items array of an answer with many replies
// out of the pool.
const maxPooledItems = 64

func (a *acking) committed(seqs []uint64, err error) {
	if err != nil {
		a.p.Log.Error("pipeline: ack not recorded; the event will be delivered again after a restart", "event_id", a.id, "err", err)
	}
	if len(a.items) > 0 {
		a.p.Replies.Committed(a.items, seqs, err)
	}
	if cap(a.items) > maxPooledItems {
		return
	}
	clear(a.items)
	a.p, a.id, a.items = nil, "", a.items[:0]
	ackings.Put(a)
}
