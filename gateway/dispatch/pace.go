package dispatch

import (
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"golang.org/x/time/rate"

	"github.com/switchboard-gw/switchboard/adapters"
)

// paceTTL is how long an idle recipient's limiter is kept; past it the
// recipient starts with a full burst again, which the provider's own
// window (a second, a minute) has long forgotten too.
const paceTTL = 10 * time.Minute

// pacer keeps one token bucket per recipient of paced channels, in a
// bounded TTL cache rather than an unbounded map.
type pacer struct {
	limiters *ristretto.Cache[string, *rate.Limiter]
}

func newPacer() (*pacer, error) {
	c, err := ristretto.NewCache(&ristretto.Config[string, *rate.Limiter]{
		NumCounters:        1e6,
		MaxCost:            1e5,
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, err
	}
	return &pacer{limiters: c}, nil
}

// wait returns how long a send to to must wait to keep the channel's
// pace, reserving a slot when it may go now.
func (p *pacer) wait(key string, ch adapters.Paced, to adapters.Recipient, now time.Time) time.Duration {
	every, burst := ch.Pace(to)
	if every <= 0 {
		return 0
	}
	lim, ok := p.limiters.Get(key)
	if !ok {
		lim = rate.NewLimiter(rate.Every(every), max(burst, 1))
		// ristretto may drop a Set under contention; a dropped limiter
		// only means this recipient's next send starts a fresh bucket.
		p.limiters.SetWithTTL(key, lim, 1, paceTTL)
		p.limiters.Wait()
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

func (p *pacer) close() { p.limiters.Close() }
