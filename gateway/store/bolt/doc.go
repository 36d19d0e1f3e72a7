// Package bolt is the embedded store.Store backend: one bbolt file,
// switchboard.db, in a directory of its own, for a single gateway instance.
// Several instances sharing state need the Redis backend instead.
//
// # Durability and group commit
//
// Every write call (Spool, Ack, Put, PutIfAbsent, Take, Delete, DeleteKeys) returns
// once its transaction is committed and fsynced. One committer goroutine
// takes every request queued so far (at most 1000), applies them in one
// read-write transaction and answers each caller, so N concurrent calls
// share one fsync while an idle store adds no delay; db.Batch is not used
// because its MaxBatchDelay timer would add up to 10 ms to every call.
// Under load (the previous commit answered more than one caller) a commit
// also waits until Options.CommitInterval after the previous one began
// (config store.commit_interval, 2 ms by default), so fsyncs stay at a few
// hundred a second whatever the rate: at 5,600 webhooks/s that cut the
// gateway's CPU per event by a fifth with the same p99, for up to the
// interval of added latency; a caller after a quiet spell never waits. A
// request that fails inside a batch (bbolt rejecting a value, say, or a
// claim, store.KV.IfAbsent, finding its key taken) is dropped and the
// batch re-run without it; only a failed Begin or Commit
// fails the whole batch. Reads (Get, Replay, List) use their own read
// transactions and return copies: bbolt memory is only valid inside one.
//
// # Layout
//
//	meta        version → 8-byte format version (1)
//	spool       seq (8 bytes big-endian, from NextSequence) → kind (1 byte),
//	            uvarint lane length, lane, data
//	dedup_at    DedupAt (8 bytes) + DedupKey → 0x01       (items with the store's TTL)
//	dedup_ttl   TTL (8 bytes, ns) → a bucket like dedup_at (items with a shorter Item.DedupTTL)
//	dedup       DedupKey → first-seen time (8 bytes)      (items without DedupAt)
//	dedup_time  first-seen time (8 bytes) + DedupKey → empty
//	kv          one nested bucket per store bucket (identity, window, otn, ...)
//
// Times are unix nanoseconds with the sign bit flipped, big-endian, so they
// sort in time order. An item with a DedupAt (the provider's time of the
// event: every webhook has one) is recorded in dedup_at only: fresh events
// have nearly the same time, so a commit's records land on the index's last
// page or two instead of one random page each: with 64 writers and 200,000
// keys indexed, a commit wrote 21 pages instead of 54 (each a pwrite and
// part of the fsync) and a message's spool, ack and reply ack took 32 µs
// instead of 66 (BenchmarkSpoolAck). Its key counts as seen until its TTL
// (Item.DedupTTL, at most Options.DedupTTL) after DedupAt; items with a
// shorter TTL than the store's are indexed apart, one index per TTL, so
// each index's front is its oldest record, and a key is looked up in
// every index whose TTL covers it (a redelivery under a changed TTL is
// still caught); an item whose DedupAt is already past the TTL when it
// arrives is remembered by first sighting, like an item without one (a
// replayed fixture still deduplicates). Other keys count as seen for their
// TTL after their first sighting; duplicates do not extend it (these few
// records are kept for the store's TTL, the longest). Spool ignores
// expired keys whether or not they were swept; a sweeper goroutine deletes
// them every minute from the front of dedup_at and of each dedup_ttl
// index (by its own TTL) and through dedup_time, in transactions of up to 1000 keys each (Sweep runs it on
// demand). The spool's seqs come from the bucket sequence and are never
// reused, not even after the spool empties; its pages are filled whole, as
// every insert appends.
//
// # Operations
//
// Open takes bbolt's file lock and gives up after one second with
// ErrLocked, so a second process fails fast instead of hanging. The file
// never shrinks: space freed by acks and sweeps is reused, not returned
// (compact offline with `bbolt compact` if a backlog once grew it). Stats
// gives counters for metrics, among them commits and requests per commit.
package bolt
