// Package bolt is the embedded store.Store backend: one bbolt file,
// switchboard.db, in a directory of its own, for a single gateway instance.
// Several instances sharing state need the Redis backend instead.
//
// # Durability and group commit
//
// Every write call (Spool, Ack, Put, PutIfAbsent, Take, Delete) returns
// once its transaction is committed and fsynced. One committer goroutine
// takes every request queued so far (at most 1000), applies them in one
// read-write transaction and answers each caller, so N concurrent calls
// share one fsync while an idle store adds no delay; db.Batch is not used
// because its MaxBatchDelay timer would add up to 10 ms to every call. A
// request that fails inside a batch (bbolt rejecting a value, say) is
// dropped and the batch re-run without it; only a failed Begin or Commit
// fails the whole batch. Reads (Get, Replay) use their own read
// transactions and return copies: bbolt memory is only valid inside one.
//
// # Layout
//
//	meta        version → 8-byte format version (1)
//	spool       seq (8 bytes big-endian, from NextSequence) → kind (1 byte),
//	            uvarint lane length, lane, data
//	dedup       DedupKey → first-seen time (8 bytes)
//	dedup_time  first-seen time (8 bytes) + DedupKey → empty
//	kv          one nested bucket per store bucket (identity, window, otn, ...)
//
// Times are unix nanoseconds from Options.Now with the sign bit flipped,
// big-endian, so they sort in time order. A DedupKey counts as seen for
// DedupTTL after its first sighting; duplicates do not extend it. Spool
// ignores expired keys whether or not they were swept; a sweeper goroutine
// deletes them every minute through dedup_time, in transactions of 1000
// keys (Sweep runs it on demand). Seqs come from the bucket sequence and
// are never reused, not even after the spool empties.
//
// # Operations
//
// Open takes bbolt's file lock and gives up after one second with
// ErrLocked, so a second process fails fast instead of hanging. The file
// never shrinks: space freed by acks and sweeps is reused, not returned
// (compact offline with `bbolt compact` if a backlog once grew it). Stats
// gives counters for metrics, among them commits and requests per commit.
package bolt
