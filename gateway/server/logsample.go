package server

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Refused requests may log refusalBurst lines per key at once, then
// refusalsPerSecond.
const (
	refusalBurst      = 10
	refusalsPerSecond = 1
)

// logSampler bounds the log lines of refused requests. A flood of them (a
// provider retrying with a rotated secret, a scanner, a load test pointed
// at the wrong connection, a backend with a stale API token) would
// otherwise write a line per request, and the log would become the
// bottleneck or fill the disk. Each refusalKey has its own budget, so one
// noisy connection cannot hide another's reasons. The line logged after
// dropped ones says how many were dropped; the metrics count every
// webhook refusal. The zero value is ready to use.
type logSampler struct {
	mu    sync.RWMutex
	byKey map[refusalKey]*sampled
	// now is the clock (time.Now when nil).
	now func() time.Time
}

// refusalKey is what a refusal's log budget is kept by: the route family
// (refusedWebhook, refusedHTTP, refusedAPI) and, for webhooks, the
// configured connection's name; "" for names no connection has, which
// are the caller's choice and so must not grow the map.
type refusalKey struct{ kind, connection string }

// The refusalKey kinds.
const (
	refusedWebhook = "webhook" // a webhook or its handshake
	refusedHTTP    = "http"    // refused by fasthttp before any handler
	refusedAPI     = "api"     // the /v1 API and pprof: no or a wrong token
)

type sampled struct {
	lim     *rate.Limiter
	dropped atomic.Int64
}

// allow reports whether a line for key may be logged now, and if so how
// many lines for key were dropped since the last one logged.
func (l *logSampler) allow(key refusalKey) (ok bool, dropped int64) {
	s := series(&l.mu, &l.byKey, key, func() *sampled {
		return &sampled{lim: rate.NewLimiter(refusalsPerSecond, refusalBurst)}
	})
	now := time.Now
	if l.now != nil {
		now = l.now
	}
	if !s.lim.AllowN(now(), 1) {
		s.dropped.Add(1)
		return false, 0
	}
	return true, s.dropped.Swap(0)
}
