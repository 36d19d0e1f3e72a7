package server

import (
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// metrics are the server's Prometheus series. Labels are connection names
// and short codes only, never a user, so cardinality stays bounded.
type metrics struct {
	mu       sync.RWMutex
	counters map[seriesKey]*vm.Counter
	// durations are the webhook handling histograms, by connection.
	durations map[string]*vm.Histogram
}

type seriesKey struct{ family, connection, outcome string }

// counter returns the series, creating it once; lookups of an existing
// series allocate nothing, which keeps the webhook path allocation-free.
func (m *metrics) counter(k seriesKey) *vm.Counter {
	return series(&m.mu, &m.counters, k, func() *vm.Counter {
		name := k.family + `{connection="` + k.connection + `"`
		if k.outcome != "" {
			name += `,outcome="` + k.outcome + `"`
		}
		return vm.GetOrCreateCounter(name + "}")
	})
}

// series returns (*byKey)[k], made by create the first time; mu guards the
// map, and a lookup that finds the series only takes its read lock.
func series[K comparable, V any](mu *sync.RWMutex, byKey *map[K]*V, k K, create func() *V) *V {
	mu.RLock()
	v := (*byKey)[k]
	mu.RUnlock()
	if v != nil {
		return v
	}
	mu.Lock()
	defer mu.Unlock()
	if v = (*byKey)[k]; v == nil {
		if *byKey == nil {
			*byKey = make(map[K]*V)
		}
		v = create()
		(*byKey)[k] = v
	}
	return v
}

// webhook counts one webhook request by connection and outcome.
func (m *metrics) webhook(connection, outcome string) {
	m.counter(seriesKey{"switchboard_webhooks_total", connection, outcome}).Inc()
}

// took records how long a webhook of connection took to handle, from the
// handler's start (the body already read) to its answer (not yet written):
// verify, parse, the spool's commit.
func (m *metrics) took(connection string, start time.Time) {
	series(&m.mu, &m.durations, connection, func() *vm.Histogram {
		return vm.GetOrCreateHistogram(`switchboard_webhook_duration_seconds{connection="` + connection + `"}`)
	}).UpdateDuration(start)
}

// events counts accepted and duplicate events of one webhook.
func (m *metrics) events(connection string, accepted, duplicates int) {
	m.counter(seriesKey{"switchboard_events_accepted_total", connection, ""}).Add(accepted)
	if duplicates > 0 {
		m.counter(seriesKey{"switchboard_events_duplicate_total", connection, ""}).Add(duplicates)
	}
}

func (s *Server) metricsHandler(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; version=0.0.4")
	vm.WritePrometheus(ctx, true)
}
