// Package store defines the durable state Switchboard keeps — the spool of
// acknowledged-but-undelivered work, the dedup record, and small keyed
// values (identity, messaging windows, one-time-notification tokens) — and
// the contract every store backend meets. The embedded backend is
// store/bolt; store/storetest is the conformance suite each backend runs.
package store

import (
	"errors"
	"strings"
	"time"
)

// Kind tells what a spool entry holds.
type Kind uint8

const (
	// KindInbound is a canonical event waiting for the backend's ack.
	KindInbound Kind = 1
	// KindOutbound is a reply waiting to be sent to a channel.
	KindOutbound Kind = 2
)

// Buckets of keyed values. A backend may hold others; these are the ones
// the gateway uses.
const (
	BucketIdentity = "identity" // channel user or provided id → visitor id
	BucketWindow   = "window"   // response path → last inbound time
	BucketOTN      = "otn"      // response path → one-time-notification token
)

// ConversationKey names one conversation of one connection: the key of
// its per-conversation values (BucketWindow, BucketOTN, web history) and
// of its delivery lane. Every part of the gateway that keys by
// conversation uses it, so they all agree.
func ConversationKey(connection, responsePath string) string {
	return connection + "\x00" + responsePath
}

// SplitConversationKey is the connection and response path of a
// ConversationKey (connection names hold no NUL).
func SplitConversationKey(key string) (connection, responsePath string) {
	connection, responsePath, _ = strings.Cut(key, "\x00")
	return connection, responsePath
}

// ErrClosed is returned by every call after Close.
var ErrClosed = errors.New("store: closed")

// ErrTaken is returned (wrapped, with the bucket and key) by Spool and Ack
// when a claim among the new items' Sets (KV.IfAbsent) names a key that
// already holds a value: the call then writes nothing at all.
var ErrTaken = errors.New("store: key already taken")

// Item is one piece of work to spool.
type Item struct {
	Kind Kind
	// DedupKey, when set, makes the item a no-op if the same key was
	// spooled within the store's dedup TTL (a provider's retry).
	DedupKey string
	// DedupAt, when set, is when the provider says the item happened: the
	// same in every redelivery of it. The key then counts as seen for the
	// dedup TTL after DedupAt (not after its first sighting), and only
	// with the same DedupAt. Stores may use it to index fresh keys in time
	// order: the embedded store then writes one index page per commit
	// instead of one random page per item.
	DedupAt time.Time
	// DedupTTL, when positive, is how long DedupKey counts as seen (after
	// DedupAt, or after its first sighting without one) instead of the
	// store's Options.DedupTTL, which is also its most: a longer one is
	// cut to it. The gateway gives each event its channel's redelivery
	// window, so a provider that retries for an hour does not cost the
	// index a week. A key with a DedupAt counts as seen as long as any
	// TTL it was recorded under still covers DedupAt, so a redelivery is
	// caught even when its TTL changed in between (a connection added,
	// dedup_ttl set).
	DedupTTL time.Duration
	// Lane orders delivery: entries of one lane are delivered in spool
	// order. The gateway uses the connection and response path.
	Lane string
	Data []byte
	// Sets are written in the same transaction when the item is new
	// (a duplicate's are not written, nor its claims checked).
	Sets []KV
	// Settled, when set, is asked as the store writes the item: true
	// means the work the item would make durable is already done (a
	// reply sent while the transaction that spools it waited for its
	// commit), so the item is skipped like a duplicate (seq 0, nothing of
	// it written, Sets included). An answer of false may turn true at any
	// moment after: the caller then removes the entry itself once it has
	// the seq.
	Settled Settler
}

// Settler reports whether the work an Item stands for is done. Stores call
// it from their committer, inside a transaction: it must be quick and must
// not call the store.
type Settler interface {
	Settled() bool
}

// KV is one keyed value in a bucket.
type KV struct {
	Bucket string
	Key    string
	Value  []byte
	// IfAbsent makes the set a claim: PutIfAbsent in the item's
	// transaction. If the key already holds a value, the whole call fails
	// with ErrTaken and writes nothing, so an item and the key it claims
	// (a web conversation's next seq) are stored together or not at all.
	IfAbsent bool
}

// Entry is a spooled item.
type Entry struct {
	Seq  uint64 // increasing in spool order, never 0
	Kind Kind
	Lane string
	Data []byte
}

// Store is the durable state. All methods are safe for concurrent use.
// Durable means on disk (fsynced) when the call returns; backends batch
// concurrent writes into one commit (group commit) to stay fast.
type Store interface {
	// Spool durably appends items in order and returns each one's Seq, or
	// 0 for an item dropped as a duplicate or already settled
	// (Item.Settled). Items and their Sets are written atomically
	// together.
	Spool(items []Item) ([]uint64, error)
	// Ack removes the entry seq (delivered or given up) and spools next in
	// the same transaction: a reply replaces the event it answers without
	// a moment where neither is on disk. It returns next's seqs.
	Ack(seq uint64, next []Item) ([]uint64, error)
	// AckAsync is Ack without waiting: the change is queued behind every
	// write already asked for (so it applies after them) and committed
	// with a later batch. done, when not nil, is called with next's seqs
	// or the error (which names seq, so one callback can serve every ack)
	// once it is on disk, in commit order, from the store's
	// own goroutine: it must not block or call the store synchronously,
	// but it may call AckAsync, which never blocks.
	// Use it where a crash before the commit only means work is done
	// again: the acked entry is still spooled and replayed.
	AckAsync(seq uint64, next []Item, done func(seqs []uint64, err error))
	// Replay calls fn for every spooled entry in Seq order; it is how work
	// survives a restart or crash. fn must not call the store.
	Replay(fn func(Entry) error) error
	// Get returns the value of key in bucket, or nil when absent.
	Get(bucket, key string) ([]byte, error)
	// Put stores value under key in bucket.
	Put(bucket, key string, value []byte) error
	// PutIfAbsent stores value unless key exists, and returns the value
	// now stored.
	PutIfAbsent(bucket, key string, value []byte) ([]byte, error)
	// Take returns and deletes the value of key in one step (nil when
	// absent): a one-time token is used exactly once.
	Take(bucket, key string) ([]byte, error)
	// Delete removes key from bucket.
	Delete(bucket, key string) error
	// DeleteKeys removes keys from bucket in one transaction; absent keys
	// are skipped. It is how a janitor deletes many at the cost of one
	// commit.
	DeleteKeys(bucket string, keys []string) error
	// List returns up to limit keyed values of bucket in key order, those
	// after the key after ("" from the first), as copies. Each call reads
	// one snapshot; a caller walking a large bucket calls it again from
	// the last key it got, so no read stays open for long.
	List(bucket, after string, limit int) ([]KV, error)
	// Close flushes and releases the store.
	Close() error
}

// Options tune a store backend.
type Options struct {
	// DedupTTL is how long a DedupKey is remembered, and the most an
	// Item.DedupTTL may ask; 0 means 7 days.
	DedupTTL time.Duration
	// CommitInterval, under load, is the least time between the starts of
	// two commits: a write waits for the rest of it, so each commit (and
	// its fsyncs) serves more writers and costs less CPU per write. "Under
	// load" is a store's own judgement (the embedded store: the previous
	// commit answered more than one caller); a write after a quiet spell
	// commits at once. Zero commits as soon as the previous commit ends.
	CommitInterval time.Duration
	// Now is the clock; nil means time.Now. Tests move it.
	Now func() time.Time
	// ObserveCommit, when set, is told how long each committed write
	// transaction took, from its start to the end of its fsync: the floor
	// under every durable write's latency. Stores call it from their
	// committer, so it must be quick.
	ObserveCommit func(time.Duration)
}
