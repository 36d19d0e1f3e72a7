package app

import (
	vm "github.com/VictoriaMetrics/metrics"

	"github.com/switchboard-gw/switchboard/gateway/store/bolt"
)

// registerMetrics exposes the running parts' state on /metrics as
// a.metrics, the metrics set of this App (New made it, with the store's
// commit histogram), unregistered at shutdown so a restarted or second App
// (tests) never reports a dead one's numbers.
func (a *App) registerMetrics() {
	s := a.metrics
	s.NewGauge("switchboard_backend_pending", func() float64 { return float64(a.Pipeline.Pending()) })
	s.NewGauge("switchboard_outbound_pending", func() float64 { return float64(a.Dispatch.Pending()) })
	s.NewGauge(`switchboard_events_total{stage="delivered"}`, func() float64 {
		_, _, delivered, _ := a.Pipeline.Counters()
		return float64(delivered)
	})
	s.NewGauge(`switchboard_backend_failures_total`, func() float64 {
		_, _, _, failed := a.Pipeline.Counters()
		return float64(failed)
	})
	s.NewGauge(`switchboard_replies_total{outcome="sent"}`, func() float64 {
		sent, _ := a.Dispatch.Counters()
		return float64(sent)
	})
	s.NewGauge(`switchboard_replies_total{outcome="failed"}`, func() float64 {
		_, failed := a.Dispatch.Counters()
		return float64(failed)
	})
	if b, ok := a.Store.(*bolt.Store); ok {
		s.NewGauge("switchboard_spool_entries", func() float64 { return float64(b.Stats().Spooled) })
		s.NewGauge("switchboard_store_commits_total", func() float64 { return float64(b.Stats().Commits) })
		s.NewGauge("switchboard_store_writes_total", func() float64 { return float64(b.Stats().Requests) })
		s.NewGauge("switchboard_store_pages_written_total", func() float64 { return float64(b.Stats().Pages) })
		s.NewGauge("switchboard_store_settled_total", func() float64 { return float64(b.Stats().Settled) })
	}
	vm.RegisterSet(s)
}

func (a *App) unregisterMetrics() {
	if a.metrics != nil {
		vm.UnregisterSet(a.metrics, true)
		a.metrics = nil
	}
}
