package load

import (
	"context"
	"time"
)

// maxSpin bounds the busy-wait before a call is due.
const maxSpin = 250 * time.Microsecond

// spinFor is the busy-wait before each call of an open-loop run at rate:
// maxSpin while calls are at least 2 ms apart (at most 1/8 of a core),
// none at higher rates, where the generator would take CPU from the
// server on a small machine and nanosleep's ~0.1 ms lateness is small
// against the latencies measured there.
func spinFor(rate float64) time.Duration {
	if time.Duration(float64(time.Second)/rate) < 8*maxSpin {
		return 0
	}
	return maxSpin
}

// waitUntil returns at t (or when ctx ends, for long waits). The Go
// runtime wakes an idle program from the netpoller, whose timeout has
// millisecond resolution: time.Sleep returned 0.56 ms late at the median
// and 1.08 ms at p99 on the 2-core VM, as much as the latency the suite
// is there to measure, and it counts as latency because calls are timed
// from when they were due. So the scheduler sleeps in the kernel
// (nanosleep: ~0.12 ms late) until spin before t and busy-waits the rest:
// 0.6 µs late at p99 at 300 calls/s for ~8% of a core.
func waitUntil(ctx context.Context, t time.Time, spin time.Duration) {
	if d := time.Until(t); d > 20*time.Millisecond {
		sleep(ctx, d-10*time.Millisecond)
	}
	for d := time.Until(t) - spin; d > 0 && ctx.Err() == nil; d = time.Until(t) - spin {
		kernelSleep(d)
	}
	if ctx.Err() != nil {
		return
	}
	for time.Now().Before(t) {
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
