package adapters

import (
	"sync/atomic"
	"time"
)

// Arrivals tells a batcher whether calls are coming close together. A
// batch's first call waits for others only when the call before it came
// within the wait: a call after a quiet spell goes out at once, alone,
// and only a busy stream pays the wait that fills batches. At a few
// hundred calls a second a wait of a millisecond would gather one call
// in most batches anyway. The zero value is ready; the first call finds
// the stream quiet.
type Arrivals struct{ last atomic.Int64 }

// Busy records a call arriving at now and reports whether the one before
// it arrived less than within earlier.
func (a *Arrivals) Busy(now time.Time, within time.Duration) bool {
	n := now.UnixNano()
	prev := a.last.Swap(n)
	return prev != 0 && n-prev < int64(within)
}
