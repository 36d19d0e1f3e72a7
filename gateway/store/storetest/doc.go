// Package storetest is the conformance suite every store.Store backend
// runs, so the embedded and Redis stores behave the same. A backend's test
// calls Run with a function that opens the backend:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, dir string, opts store.Options) store.Store {
//			s, err := bolt.Open(dir, opts)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite gives each test a fresh dir and passes the same dir again to
// check that state survives a Close and reopen. A backend without files
// uses dir as a namespace (a Redis key prefix, say): the same dir must
// reach the same data, a different one must not see it.
//
// Options.Now is always a fake clock the suite moves, so a backend must
// judge dedup expiry by that clock (store the first-seen time and compare),
// not only by its server's own key expiry. A backend that also has a
// `Sweep() (int, error)` method gets it exercised after the clock moves.
//
// Beyond the store.Store comments, the suite pins down: an empty bucket or
// key is an error; a present empty value reads as non-nil; Spool with no
// items returns an empty slice; a taken claim (store.KV.IfAbsent) fails
// the whole call with store.ErrTaken, also when the claim it lost to
// shared its commit; a second Close returns store.ErrClosed;
// seqs are never reused, even after the spool empties and the store
// reopens.
package storetest
