package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/switchboard-gw/switchboard/gateway/store"
)

// FileName is the database file inside the directory given to Open.
const FileName = "switchboard.db"

// ErrLocked is returned by Open when another process holds the database.
var ErrLocked = errors.New("bolt: store is locked by another process")

// ErrInvalidKey is returned for an empty or oversized bucket name, key or
// DedupKey; nothing is written.
var ErrInvalidKey = errors.New("bolt: invalid bucket or key")

// ErrCorrupt is returned by Replay for a spool entry it cannot decode.
var ErrCorrupt = errors.New("bolt: corrupt spool entry")

const (
	formatVersion   = 1
	defaultDedupTTL = 7 * 24 * time.Hour

	// maxBatch bounds the requests in one commit: a bigger transaction
	// holds its callers longer and grows the dirty-page set.
	maxBatch    = 1000
	sweepEvery  = time.Minute
	sweepChunk  = 1000 // dedup keys removed per transaction
	replayChunk = 256  // entries read per read transaction
	timeLen     = 8
)

// lockTimeout is how long Open waits for the file lock. A variable so
// tests could shorten it.
var lockTimeout = time.Second

var (
	bucketMeta      = []byte("meta")
	bucketSpool     = []byte("spool")      // seq(8) → kind(1) uvarint(len lane) lane data
	bucketDedup     = []byte("dedup")      // key → insert time(8)
	bucketDedupTime = []byte("dedup_time") // insert time(8) key → empty, for the sweeper
	bucketDedupAt   = []byte("dedup_at")   // DedupAt(8) key → seenMark
	bucketDedupTTL  = []byte("dedup_ttl")  // TTL(8) → a dedup_at of its own, for items with a shorter TTL
	bucketKV        = []byte("kv")         // one nested bucket per store bucket
	keyVersion      = []byte("version")
)

var _ store.Store = (*Store)(nil)

// Store is the embedded store. Writes go through one committer goroutine
// that applies every request queued so far in one transaction; reads use
// their own read transactions and never wait for it.
type Store struct {
	db  *bbolt.DB
	ttl int64 // dedup TTL in nanoseconds
	// ttls are the TTLs (ns) of the indexes under dedup_ttl, as far as
	// the committer knows: loaded by init, then read and grown only by
	// the committer goroutine (a TTL whose bucket a rolled-back
	// transaction created is harmless: its bucket is then missing).
	ttls []int64
	// interval is Options.CommitInterval.
	interval time.Duration
	now      func() time.Time
	observe  func(time.Duration) // store.Options.ObserveCommit

	// cursors serve the committer's lookups (see cursors), and buf holds
	// what its transaction writes (see txBuf); only the committer
	// goroutine uses them.
	cursors cursors
	buf     txBuf

	closed atomic.Bool
	reqs   *queue // the committer's inbox

	committerDone chan struct{}
	stopSweep     chan struct{}
	sweeperDone   chan struct{}

	spooled    atomic.Int64
	commits    atomic.Uint64
	pages      atomic.Uint64
	requests   atomic.Uint64
	duplicates atomic.Uint64
	settled    atomic.Uint64
}

// Stats are counters for metrics. Requests/Commits is the group-commit
// factor: write calls answered per fsync.
type Stats struct {
	Spooled    int64  // entries in the spool now
	Commits    uint64 // write transactions committed since Open
	Pages      uint64 // pages those commits wrote (meta pages included)
	Requests   uint64 // write calls committed since Open
	Duplicates uint64 // items dropped by dedup since Open
	Settled    uint64 // items not written because already settled (store.Item.Settled)
}

// Open opens (creating if needed) the store in directory dir. It fails
// with ErrLocked after about a second if another process has it open.
func Open(dir string, opts store.Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bolt: creating %s: %w", dir, err)
	}
	file := filepath.Join(dir, FileName)
	db, err := bbolt.Open(file, 0o600, &bbolt.Options{
		Timeout: lockTimeout,
		// As etcd: the freelist is rebuilt on open instead of written on
		// every commit, one page less per fsync. Data sync is unchanged.
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
		// Map address space for a large file up front: growing the map
		// later remaps under the write lock and stalls every commit.
		InitialMmapSize: 1 << 30,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s (waited %s)", ErrLocked, file, lockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: opening %s: %w", file, err)
	}
	s := &Store{
		db:            db,
		interval:      max(opts.CommitInterval, 0),
		ttl:           int64(opts.DedupTTL),
		now:           opts.Now,
		observe:       opts.ObserveCommit,
		reqs:          newQueue(),
		cursors:       make(cursors),
		committerDone: make(chan struct{}),
		stopSweep:     make(chan struct{}),
		sweeperDone:   make(chan struct{}),
	}
	if s.ttl <= 0 {
		s.ttl = int64(defaultDedupTTL)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt: opening %s: %w", file, err)
	}
	go s.commitLoop()
	go s.sweepLoop()
	return s, nil
}

// init creates the buckets, checks the format version and counts the spool.
func (s *Store) init() error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketSpool, bucketDedup, bucketDedupTime, bucketDedupAt, bucketDedupTTL, bucketKV} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("creating bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyVersion); v == nil {
			if err := meta.Put(keyVersion, binary.BigEndian.AppendUint64(nil, formatVersion)); err != nil {
				return err
			}
		} else if len(v) != 8 || binary.BigEndian.Uint64(v) != formatVersion {
			return fmt.Errorf("unsupported format version %x (want %d)", v, formatVersion)
		}
		s.spooled.Store(int64(tx.Bucket(bucketSpool).Stats().KeyN))
		return tx.Bucket(bucketDedupTTL).ForEachBucket(func(k []byte) error {
			if len(k) == timeLen {
				s.ttls = append(s.ttls, int64(binary.BigEndian.Uint64(k)))
			}
			return nil
		})
	})
}

// Stats returns the counters; safe to call at any time, also after Close.
func (s *Store) Stats() Stats {
	return Stats{
		Spooled:    s.spooled.Load(),
		Commits:    s.commits.Load(),
		Pages:      s.pages.Load(),
		Requests:   s.requests.Load(),
		Duplicates: s.duplicates.Load(),
		Settled:    s.settled.Load(),
	}
}

// Spool implements store.Store.
func (s *Store) Spool(items []store.Item) ([]uint64, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if len(items) == 0 {
		return []uint64{}, nil
	}
	if err := checkItems(items); err != nil {
		return nil, err
	}
	r := acquireRequest(opSpool)
	defer releaseRequest(r)
	r.items = items
	r.seqs = make([]uint64, 0, len(items))
	if err := s.do(r); err != nil {
		return nil, err
	}
	return r.seqs, nil
}

// Ack implements store.Store. Acking a seq that is not spooled (acked
// before, or never spooled) only spools next.
func (s *Store) Ack(seq uint64, next []store.Item) ([]uint64, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := checkItems(next); err != nil {
		return nil, err
	}
	r := acquireRequest(opAck)
	defer releaseRequest(r)
	r.seq = seq
	r.items = next
	r.seqs = make([]uint64, 0, len(next))
	if err := s.do(r); err != nil {
		return nil, err
	}
	return r.seqs, nil
}

// AckAsync implements store.Store. A batch holding only asynchronous
// requests lingers up to asyncLinger for more work, so acks ride along
// with the next synchronous commit instead of paying an fsync each.
func (s *Store) AckAsync(seq uint64, next []store.Item, done func([]uint64, error)) {
	if s.closed.Load() {
		if done != nil {
			done(nil, fmt.Errorf("bolt: ack of entry %d: %w", seq, store.ErrClosed))
		}
		return
	}
	if err := checkItems(next); err != nil {
		if done != nil {
			done(nil, err)
		}
		return
	}
	// Pooled: the committer releases it once done has run. seqs is not
	// kept in the pool, so done may keep the slice it is given.
	r := acquireRequest(opAck)
	r.seq, r.items, r.async, r.isAsync = seq, next, done, true
	if !s.reqs.push(r) {
		if done != nil {
			done(nil, store.ErrClosed)
		}
		releaseRequest(r)
	}
}

// Replay implements store.Store. It reads the spool in chunks, each in its
// own read transaction, and calls fn outside any transaction: a slow fn
// does not pin old pages, and fn may call the store (an Ack from fn does
// not deadlock here, though the store.Store contract does not promise it).
// Entries spooled during Replay with a higher Seq are visited too.
func (s *Store) Replay(fn func(store.Entry) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	var after uint64
	chunk := make([]store.Entry, 0, replayChunk)
	for {
		chunk = chunk[:0]
		var bad error // a corrupt entry, reported after the good ones before it
		err := s.db.View(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bucketSpool).Cursor()
			for k, v := c.Seek(seqKey(after + 1)); k != nil && len(chunk) < replayChunk; k, v = c.Next() {
				e, err := decodeEntry(k, v)
				if err != nil {
					bad = err
					return nil
				}
				chunk = append(chunk, e)
			}
			return nil
		})
		if err != nil {
			return mapErr(err)
		}
		for _, e := range chunk {
			if err := fn(e); err != nil {
				return err
			}
		}
		if bad != nil || len(chunk) < replayChunk {
			return bad
		}
		after = chunk[len(chunk)-1].Seq
	}
}

// Get implements store.Store. The value is a copy.
func (s *Store) Get(bucket, key string) ([]byte, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := checkKey(bucket, key); err != nil {
		return nil, err
	}
	var out []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketKV).Bucket([]byte(bucket)); b != nil {
			if v, ok := lookup(b.Cursor(), []byte(key)); ok {
				out = append(make([]byte, 0, len(v)), v...)
			}
		}
		return nil
	})
	return out, mapErr(err)
}

// Put implements store.Store.
func (s *Store) Put(bucket, key string, value []byte) error {
	_, err := s.kv(opPut, bucket, key, value)
	return err
}

// PutIfAbsent implements store.Store.
func (s *Store) PutIfAbsent(bucket, key string, value []byte) ([]byte, error) {
	return s.kv(opPutIfAbsent, bucket, key, value)
}

// Take implements store.Store.
func (s *Store) Take(bucket, key string) ([]byte, error) {
	return s.kv(opTake, bucket, key, nil)
}

// Delete implements store.Store.
func (s *Store) Delete(bucket, key string) error {
	_, err := s.kv(opDelete, bucket, key, nil)
	return err
}

// DeleteKeys implements store.Store.
func (s *Store) DeleteKeys(bucket string, keys []string) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	for _, k := range keys {
		if err := checkKey(bucket, k); err != nil {
			return err
		}
	}
	if len(keys) == 0 {
		return nil
	}
	r := acquireRequest(opDeleteKeys)
	defer releaseRequest(r)
	r.bucket, r.keys = bucket, keys
	return s.do(r)
}

// List implements store.Store.
func (s *Store) List(bucket, after string, limit int) ([]store.KV, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := checkBucket(bucket); err != nil {
		return nil, err
	}
	var out []store.KV
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketKV).Bucket([]byte(bucket))
		if b == nil || limit <= 0 {
			return nil
		}
		c := b.Cursor()
		k, v := c.First()
		if after != "" {
			if k, v = c.Seek([]byte(after)); k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			out = append(out, store.KV{Bucket: bucket, Key: string(k), Value: append(make([]byte, 0, len(v)), v...)})
		}
		return nil
	})
	return out, mapErr(err)
}

func (s *Store) kv(op opKind, bucket, key string, value []byte) ([]byte, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := checkKey(bucket, key); err != nil {
		return nil, err
	}
	r := acquireRequest(op)
	defer releaseRequest(r)
	r.bucket, r.key, r.value = bucket, key, value
	if err := s.do(r); err != nil {
		return nil, err
	}
	return r.val, nil
}

// Sweep deletes dedup keys older than the TTL, in transactions of at most
// sweepChunk keys, and returns how many it deleted. A background goroutine
// calls it every minute; expired keys are ignored by Spool even before
// they are swept, so Sweep only bounds the file's growth.
func (s *Store) Sweep() (int, error) {
	total := 0
	for {
		if s.closed.Load() {
			return total, store.ErrClosed
		}
		r := acquireRequest(opSweep)
		err := s.do(r)
		n := r.n
		releaseRequest(r)
		total += n
		if err != nil || n < sweepChunk {
			return total, err
		}
	}
}

func (s *Store) sweepLoop() {
	defer close(s.sweeperDone)
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopSweep:
			return
		case <-t.C:
			// An error here is ErrClosed or a failed commit that the next
			// write will report to its caller; the next tick retries.
			_, _ = s.Sweep()
		}
	}
}

// Close answers the queued writes, stops the goroutines and closes the
// database. Every later call, Close included, returns store.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return store.ErrClosed
	}
	s.reqs.close()

	close(s.stopSweep)
	<-s.sweeperDone
	<-s.committerDone
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("bolt: closing: %w", err)
	}
	return nil
}

// mapErr turns bbolt's error for a read racing Close into store.ErrClosed.
func mapErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

// --- group commit ---

type opKind uint8

const (
	opSpool opKind = iota
	opAck
	opPut
	opPutIfAbsent
	opTake
	opDelete
	opDeleteKeys
	opSweep
)

// request is one write call waiting for the committer. The caller owns it
// again once done is signalled.
type request struct {
	op     opKind
	seq    uint64       // opAck: the entry to remove
	items  []store.Item // opSpool, opAck
	bucket string
	key    string
	keys   []string // opDeleteKeys
	value  []byte

	// Results. apply resets them, as a batch may be applied more than once.
	seqs  []uint64
	val   []byte
	n     int   // opSweep: keys deleted
	delta int64 // change in spooled entries
	dups  int
	// settled counts items skipped by store.Item.Settled.
	settled int
	err     error

	done chan struct{}
	// isAsync requests have no waiting caller; async, when set, is told
	// the outcome after the commit.
	isAsync bool
	async   func([]uint64, error)
}

// asyncLinger is how long a batch of only asynchronous requests waits for
// a synchronous one to share its commit: acks are not urgent (a lost one
// means a redelivery), fsyncs are what costs.
const asyncLinger = 5 * time.Millisecond

var requestPool = sync.Pool{New: func() any { return &request{done: make(chan struct{}, 1)} }}

func acquireRequest(op opKind) *request {
	r := requestPool.Get().(*request)
	r.op = op
	return r
}

func releaseRequest(r *request) {
	done := r.done
	*r = request{done: done}
	requestPool.Put(r)
}

// do queues r for the committer and waits for its answer.
func (s *Store) do(r *request) error {
	if !s.reqs.push(r) {
		return store.ErrClosed
	}
	<-r.done
	return r.err
}

// commitLoop is the committer: it takes the first request and everything
// queued behind it (up to maxBatch), and commits them in one transaction.
// Requests arriving meanwhile form the next batch, so the batch size
// follows the load. Under load (the previous commit answered more than one
// waiting caller) it also gathers requests until Options.CommitInterval
// after the previous commit began: fewer, larger commits, each fsync
// serving more callers. A lone caller after a quiet spell never waits.
// A batch of only asynchronous requests waits up to asyncLinger for a
// caller who waits, and then commits with it.
func (s *Store) commitLoop() {
	defer close(s.committerDone)
	batch := make([]*request, 0, maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var last time.Time // when the previous commit began
	busy := false      // the previous commit answered more than one caller
	for {
		batch = batch[:0]
		open := s.reqs.take(&batch, maxBatch)
		if len(batch) == 0 {
			if !open {
				return
			}
			<-s.reqs.wake
			continue
		}
		waiting := !allAsync(batch)
		due := s.gatherUntil(waiting, busy, last)
		for open && len(batch) < maxBatch {
			d := time.Until(due)
			if d <= 0 {
				break
			}
			timer.Reset(d)
			select {
			case <-s.reqs.wake:
				n := len(batch)
				open = s.reqs.take(&batch, maxBatch)
				if !waiting && !allAsync(batch[n:]) {
					waiting = true
					due = s.gatherUntil(waiting, busy, last)
				}
			case <-timer.C:
			}
			timer.Stop()
		}
		if open {
			s.reqs.take(&batch, maxBatch) // what queued while the last one was taken
		}
		last, busy = time.Now(), waiters(batch) > 1
		s.commit(batch)
		clear(batch)
	}
}

// gatherUntil is when a batch commits: asyncLinger from now while no
// caller waits for it; CommitInterval after the previous commit began
// when that one was busy; at once otherwise.
func (s *Store) gatherUntil(waiting, busy bool, last time.Time) time.Time {
	switch {
	case !waiting:
		return time.Now().Add(asyncLinger)
	case busy:
		return last.Add(s.interval)
	}
	return time.Time{}
}

func allAsync(batch []*request) bool { return waiters(batch) == 0 }

// waiters counts the requests of batch whose caller waits for the commit.
func waiters(batch []*request) int {
	n := 0
	for _, r := range batch {
		if !r.isAsync {
			n++
		}
	}
	return n
}

// commit applies batch in one transaction and answers every request. When
// one request fails, the transaction is rolled back and the batch is run
// again without it, so one bad request cannot fail the others; a failing
// Begin or Commit fails them all.
func (s *Store) commit(batch []*request) {
	live := batch
	for len(live) > 0 {
		failed, err := s.tryCommit(live)
		if failed < 0 {
			if err != nil {
				for _, r := range live {
					r.err = err
				}
				break
			}
			var delta int64
			var dups, settled int
			for _, r := range live {
				delta += r.delta
				dups += r.dups
				settled += r.settled
			}
			s.spooled.Add(delta)
			s.duplicates.Add(uint64(dups))
			s.settled.Add(uint64(settled))
			s.requests.Add(uint64(len(live)))
			s.commits.Add(1)
			break
		}
		live[failed].err = err
		rest := make([]*request, 0, len(live)-1)
		rest = append(rest, live[:failed]...)
		live = append(rest, live[failed+1:]...)
	}
	for _, r := range batch {
		if r.isAsync {
			if r.async != nil {
				if r.err != nil {
					r.async(nil, fmt.Errorf("bolt: ack of entry %d: %w", r.seq, r.err))
				} else {
					r.async(r.seqs, nil)
				}
			}
			releaseRequest(r) // nobody else refers to it
			continue
		}
		r.done <- struct{}{}
	}
}

// tryCommit returns the index of the request that failed, or -1 and the
// error of the transaction itself.
func (s *Store) tryCommit(live []*request) (int, error) {
	start := time.Now()
	tx, err := s.db.Begin(true)
	if err != nil {
		return -1, fmt.Errorf("bolt: beginning transaction: %w", err)
	}
	defer clear(s.cursors) // a cursor is valid only in its transaction
	s.buf.reset()
	now := s.now().UnixNano()
	for i, r := range live {
		if err := s.apply(tx, r, now); err != nil {
			_ = tx.Rollback()
			return i, err
		}
	}
	if err := tx.Commit(); err != nil {
		return -1, fmt.Errorf("bolt: committing: %w", err)
	}
	if s.observe != nil {
		s.observe(time.Since(start))
	}
	st := tx.Stats()
	s.pages.Add(uint64(st.GetWrite()))
	return -1, nil
}

func (s *Store) apply(tx *bbolt.Tx, r *request, now int64) error {
	r.seqs, r.val, r.n, r.delta, r.dups, r.settled = r.seqs[:0], nil, 0, 0, 0, 0
	switch r.op {
	case opSpool:
		return s.spool(tx, r, now)
	case opAck:
		// One seek: the cursor that finds the entry deletes it (a Get
		// and a Delete would each walk the tree).
		c := s.cursors.of(tx.Bucket(bucketSpool))
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], r.seq)
		if got, _ := c.Seek(k[:]); bytes.Equal(got, k[:]) {
			if err := c.Delete(); err != nil {
				return fmt.Errorf("bolt: acking %d: %w", r.seq, err)
			}
			r.delta--
		}
		return s.spool(tx, r, now)
	case opPut, opPutIfAbsent:
		b, err := kvBucket(tx.Bucket(bucketKV), r.bucket)
		if err != nil {
			return fmt.Errorf("bolt: bucket %q: %w", r.bucket, err)
		}
		if r.op == opPutIfAbsent {
			if v, ok := lookup(s.cursors.of(b), []byte(r.key)); ok {
				r.val = append(make([]byte, 0, len(v)), v...)
				return nil
			}
		}
		if err := b.Put([]byte(r.key), r.value); err != nil {
			return fmt.Errorf("bolt: putting %q/%q: %w", r.bucket, r.key, err)
		}
		r.val = r.value
		if r.val == nil {
			r.val = []byte{} // stored, hence not nil
		}
		return nil
	case opTake, opDelete:
		b := tx.Bucket(bucketKV).Bucket([]byte(r.bucket))
		if b == nil {
			return nil
		}
		v, ok := lookup(s.cursors.of(b), []byte(r.key))
		if !ok {
			return nil
		}
		if r.op == opTake {
			r.val = append(make([]byte, 0, len(v)), v...)
		}
		if err := b.Delete([]byte(r.key)); err != nil {
			return fmt.Errorf("bolt: deleting %q/%q: %w", r.bucket, r.key, err)
		}
		return nil
	case opDeleteKeys:
		b := tx.Bucket(bucketKV).Bucket([]byte(r.bucket))
		if b == nil {
			return nil
		}
		for _, k := range r.keys {
			if err := b.Delete([]byte(k)); err != nil {
				return fmt.Errorf("bolt: deleting %q/%q: %w", r.bucket, k, err)
			}
		}
		return nil
	case opSweep:
		return s.sweep(tx, r, now)
	}
	return fmt.Errorf("bolt: unknown op %d", r.op)
}

// kvBucket is the store bucket name under kv, created the first time.
// An open bucket is cached by its transaction, and Bucket finds it there
// without the copy of the name CreateBucketIfNotExists makes first.
func kvBucket(kv *bbolt.Bucket, name string) (*bbolt.Bucket, error) {
	if b := kv.Bucket([]byte(name)); b != nil {
		return b, nil
	}
	return kv.CreateBucketIfNotExists([]byte(name))
}

// spool appends r.items, skipping duplicates and settled items, and
// writes the Sets of the new ones.
func (s *Store) spool(tx *bbolt.Tx, r *request, now int64) error {
	sp := tx.Bucket(bucketSpool)
	// Seqs only grow, so every insert appends: full pages, not the half
	// full ones bbolt's default split leaves for random inserts.
	sp.FillPercent = 1.0
	// kv is opened on first use: opening a bucket (a seek, a Bucket and
	// its maps) is most of what a commit of one webhook allocates, and
	// most items have no Sets.
	var kv *bbolt.Bucket
	for i := range r.items {
		it := &r.items[i]
		// Asked here, as late as the commit allows: the later, the more
		// replies are found already sent and never written.
		if it.Settled != nil && it.Settled.Settled() {
			r.seqs = append(r.seqs, 0)
			r.settled++
			continue
		}
		if it.DedupKey != "" {
			var dup bool
			var err error
			ttl := int64(it.DedupTTL)
			if ttl <= 0 || ttl > s.ttl {
				ttl = s.ttl
			}
			if it.DedupAt.IsZero() {
				dup, err = s.remember(tx, it.DedupKey, now, ttl)
			} else {
				dup, err = s.rememberAt(tx, it.DedupKey, it.DedupAt.UnixNano(), now, ttl)
			}
			if err != nil {
				return err
			}
			if dup {
				r.seqs = append(r.seqs, 0)
				r.dups++
				continue
			}
		}
		seq, err := sp.NextSequence()
		if err != nil {
			return fmt.Errorf("bolt: next seq: %w", err)
		}
		if err := sp.Put(s.buf.seqKey(seq), s.buf.entry(it)); err != nil {
			return fmt.Errorf("bolt: spooling item %d: %w", i, err)
		}
		for j := range it.Sets {
			set := &it.Sets[j]
			if kv == nil {
				kv = tx.Bucket(bucketKV)
			}
			b, err := kvBucket(kv, set.Bucket)
			if err != nil {
				return fmt.Errorf("bolt: item %d: bucket %q: %w", i, set.Bucket, err)
			}
			if set.IfAbsent {
				if _, ok := lookup(s.cursors.of(b), []byte(set.Key)); ok {
					// The batch is re-run without this request: nothing
					// of it stays written.
					return fmt.Errorf("bolt: item %d: %w: %q/%q", i, store.ErrTaken, set.Bucket, set.Key)
				}
			}
			if err := b.Put(s.buf.bytes(set.Key), set.Value); err != nil {
				return fmt.Errorf("bolt: item %d: putting %q/%q: %w", i, set.Bucket, set.Key, err)
			}
		}
		r.seqs = append(r.seqs, seq)
		r.delta++
	}
	return nil
}

// remember reports whether key was recorded within ttl; if not, it
// records key at now. A duplicate does not extend the window: it closes
// ttl after the first sighting. The sweeper keeps these records for the
// store's TTL, the longest.
func (s *Store) remember(tx *bbolt.Tx, key string, now, ttl int64) (dup bool, err error) {
	dd := tx.Bucket(bucketDedup)
	idx := tx.Bucket(bucketDedupTime)
	k := s.buf.bytes(key)
	if v, _ := lookup(s.cursors.of(dd), k); len(v) == timeLen {
		t := decodeTime(v)
		if now-t < ttl {
			return true, nil
		}
		if err := idx.Delete(s.buf.timeKey(t, key)); err != nil {
			return false, fmt.Errorf("bolt: dedup %q: %w", key, err)
		}
	}
	tk := s.buf.timeKey(now, key)
	if err := dd.Put(k, tk[:timeLen]); err != nil {
		return false, fmt.Errorf("bolt: dedup %q: %w", key, err)
	}
	if err := idx.Put(tk, nil); err != nil {
		return false, fmt.Errorf("bolt: dedup %q: %w", key, err)
	}
	return false, nil
}

// seenMark is the value of a dedup_at record: not empty, so Get tells a
// record from a missing key.
var seenMark = []byte{1}

// rememberAt is remember for a key with a provider time at: the record is
// keyed by at first, so fresh keys land next to each other at the end of
// an index, and the key is a duplicate while now is within ttl of at. An
// item with the store's TTL is recorded in dedup_at, one with a shorter
// TTL in that TTL's own index under dedup_ttl, so each index's front is
// its oldest record and the sweeper deletes from there. A key is looked
// up in every index whose TTL still covers at, so a redelivery is caught
// even when its TTL changed since its first sighting. A key whose at is
// already past ttl (a replayed fixture, a provider clock far off) and in
// no index is remembered by first sighting instead, so it still
// deduplicates.
func (s *Store) rememberAt(tx *bbolt.Tx, key string, at, now, ttl int64) (dup bool, err error) {
	k := s.buf.timeKey(at, key)
	seen := func(b *bbolt.Bucket) bool {
		_, ok := lookup(s.cursors.of(b), k)
		return ok
	}
	if now-at < s.ttl && seen(tx.Bucket(bucketDedupAt)) {
		return true, nil
	}
	for _, t := range s.ttls {
		if now-at >= t {
			continue
		}
		if b := ttlIndex(tx, t); b != nil && seen(b) {
			return true, nil
		}
	}
	if now-at >= ttl {
		return s.remember(tx, key, now, ttl)
	}
	b := tx.Bucket(bucketDedupAt)
	if ttl != s.ttl {
		if b, err = s.createTTLIndex(tx, ttl); err != nil {
			return false, fmt.Errorf("bolt: dedup %q: %w", key, err)
		}
	}
	if err := b.Put(k, seenMark); err != nil {
		return false, fmt.Errorf("bolt: dedup %q: %w", key, err)
	}
	return false, nil
}

// ttlIndex is the dedup_at index of items with TTL ttl (ns), or nil.
func ttlIndex(tx *bbolt.Tx, ttl int64) *bbolt.Bucket {
	var name [timeLen]byte
	binary.BigEndian.PutUint64(name[:], uint64(ttl))
	return tx.Bucket(bucketDedupTTL).Bucket(name[:])
}

// createTTLIndex is ttlIndex, created (and known to s.ttls) if need be.
func (s *Store) createTTLIndex(tx *bbolt.Tx, ttl int64) (*bbolt.Bucket, error) {
	if b := ttlIndex(tx, ttl); b != nil {
		return b, nil
	}
	b, err := tx.Bucket(bucketDedupTTL).CreateBucket(binary.BigEndian.AppendUint64(nil, uint64(ttl)))
	if err != nil {
		return nil, err
	}
	if !slices.Contains(s.ttls, ttl) {
		s.ttls = append(s.ttls, ttl)
	}
	return b, nil
}

// sweep deletes up to sweepChunk expired dedup keys of each index, oldest
// first; r.n counts both, so a chunk short of 2×sweepChunk may still leave
// work, and Sweep stops only when a call deletes fewer than sweepChunk.
func (s *Store) sweep(tx *bbolt.Tx, r *request, now int64) error {
	r.n = 0
	sweepIndex := func(b *bbolt.Bucket, ttl int64) error {
		expired := expiredFront(b, now, ttl)
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("bolt: sweeping: %w", err)
			}
		}
		r.n += len(expired)
		return nil
	}
	if err := sweepIndex(tx.Bucket(bucketDedupAt), s.ttl); err != nil {
		return err
	}
	for _, t := range s.ttls {
		if b := ttlIndex(tx, t); b != nil {
			if err := sweepIndex(b, t); err != nil {
				return err
			}
		}
	}

	// Keys remembered by first sighting: the index entry, then the key's
	// record if it still names that time.
	dd, idx := tx.Bucket(bucketDedup), tx.Bucket(bucketDedupTime)
	expired := expiredFront(idx, now, s.ttl)
	for _, k := range expired {
		if err := idx.Delete(k); err != nil {
			return fmt.Errorf("bolt: sweeping: %w", err)
		}
		if len(k) <= timeLen {
			continue // malformed index key: drop it
		}
		if v := dd.Get(k[timeLen:]); bytes.Equal(v, k[:timeLen]) {
			if err := dd.Delete(k[timeLen:]); err != nil {
				return fmt.Errorf("bolt: sweeping: %w", err)
			}
		}
	}
	r.n += len(expired)
	return nil
}

// expiredFront returns copies of the first keys of b, a bucket keyed by
// time(8) + key, that are past ttl or malformed: at most sweepChunk. The
// caller deletes them after the walk, as deleting under a bbolt cursor
// can skip keys.
func expiredFront(b *bbolt.Bucket, now, ttl int64) [][]byte {
	var expired [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && len(expired) < sweepChunk; k, _ = c.Next() {
		if len(k) > timeLen && now-decodeTime(k) < ttl {
			break
		}
		expired = append(expired, bytes.Clone(k))
	}
	return expired
}

// --- encoding ---

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq) }

func decodeTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// txBuf holds the keys and values the committer's transaction writes:
// bbolt keeps a value until its transaction ends (it copies keys), so
// they are appended here instead of allocated one by one, and the buffer
// serves the next transaction again. A slice handed out stays valid when
// the buffer grows (it keeps the old array), so growing mid-transaction
// is safe.
type txBuf struct{ b []byte }

// maxTxBuf bounds the buffer kept between transactions: one that grew
// for an unusual commit is dropped.
const maxTxBuf = 4 << 20

// reset starts a transaction: every slice handed out before is dead.
func (t *txBuf) reset() {
	if cap(t.b) > maxTxBuf {
		t.b = nil
	}
	t.b = t.b[:0]
}

// cut is what was appended from start on, capped so that appending to
// it cannot write over what follows.
func (t *txBuf) cut(start int) []byte { return t.b[start:len(t.b):len(t.b)] }

// bytes is s as bytes.
func (t *txBuf) bytes(s string) []byte {
	n := len(t.b)
	t.b = append(t.b, s...)
	return t.cut(n)
}

// seqKey is seqKey(seq) in the buffer: seq, big-endian.
func (t *txBuf) seqKey(seq uint64) []byte {
	n := len(t.b)
	t.b = binary.BigEndian.AppendUint64(t.b, seq)
	return t.cut(n)
}

// timeKey is the order-preserving encoding of unix nanoseconds at (sign
// bit flipped, big-endian) followed by key.
func (t *txBuf) timeKey(at int64, key string) []byte {
	n := len(t.b)
	t.b = binary.BigEndian.AppendUint64(t.b, uint64(at)^(1<<63))
	t.b = append(t.b, key...)
	return t.cut(n)
}

// entry is the spool value of it: kind, uvarint lane length, lane, data
// (decodeEntry reads it).
func (t *txBuf) entry(it *store.Item) []byte {
	n := len(t.b)
	t.b = append(t.b, byte(it.Kind))
	t.b = binary.AppendUvarint(t.b, uint64(len(it.Lane)))
	t.b = append(t.b, it.Lane...)
	t.b = append(t.b, it.Data...)
	return t.cut(n)
}

// decodeEntry copies the entry out of bbolt's memory, which is valid only
// inside the transaction.
func decodeEntry(k, v []byte) (store.Entry, error) {
	if len(k) != 8 || len(v) < 1 {
		return store.Entry{}, fmt.Errorf("%w: key %x", ErrCorrupt, k)
	}
	seq := binary.BigEndian.Uint64(k)
	n, w := binary.Uvarint(v[1:])
	if w <= 0 || n > uint64(len(v)-1-w) {
		return store.Entry{}, fmt.Errorf("%w: seq %d", ErrCorrupt, seq)
	}
	lane := v[1+w : 1+w+int(n)]
	data := v[1+w+int(n):]
	e := store.Entry{Seq: seq, Kind: store.Kind(v[0]), Lane: string(lane)}
	if len(data) > 0 {
		e.Data = bytes.Clone(data)
	}
	return e, nil
}

// cursors keep one cursor per bucket for the committer's transaction:
// bbolt's Bucket.Get makes a cursor and grows its stack, level by level,
// on every call (three or four allocations), where a kept cursor's Seek
// reuses both. Cursors stay valid across writes to their bucket as long
// as each use seeks first; they must not outlive the transaction.
type cursors map[*bbolt.Bucket]*bbolt.Cursor

// of is b's cursor, made on first use.
func (cs cursors) of(b *bbolt.Bucket) *bbolt.Cursor {
	c := cs[b]
	if c == nil {
		c = b.Cursor()
		cs[b] = c
	}
	return c
}

// lookup is key's value through cursor c of its bucket (the committer's
// kept one, or a fresh one in a read transaction); unlike Bucket.Get it
// tells a present empty value from an absent key. The buckets it reads
// hold no nested buckets.
func lookup(c *bbolt.Cursor, key []byte) ([]byte, bool) {
	k, v := c.Seek(key)
	if k == nil || !bytes.Equal(k, key) {
		return nil, false
	}
	return v, true
}

// --- validation ---

func checkKey(bucket, key string) error {
	if err := checkBucket(bucket); err != nil {
		return err
	}
	if key == "" || len(key) > bbolt.MaxKeySize {
		return fmt.Errorf("%w: bucket %q: key of %d bytes", ErrInvalidKey, bucket, len(key))
	}
	return nil
}

func checkBucket(bucket string) error {
	if bucket == "" || len(bucket) > bbolt.MaxKeySize {
		return fmt.Errorf("%w: bucket name of %d bytes", ErrInvalidKey, len(bucket))
	}
	return nil
}

// checkItems rejects a call before it is queued, so a bad item fails its
// own call, whole, and never reaches a shared transaction.
func checkItems(items []store.Item) error {
	for i := range items {
		it := &items[i]
		if len(it.DedupKey) > bbolt.MaxKeySize-timeLen {
			return fmt.Errorf("%w: item %d: dedup key of %d bytes", ErrInvalidKey, i, len(it.DedupKey))
		}
		for j := range it.Sets {
			if err := checkKey(it.Sets[j].Bucket, it.Sets[j].Key); err != nil {
				return fmt.Errorf("item %d: set %d: %w", i, j, err)
			}
		}
	}
	return nil
}
