//go:build !race

package server

import (
	"testing"
	"time"
)

// TestSeriesLookupsAllocateNothing pins what the webhook path relies on:
// once a connection's series exist, counting a webhook and recording its
// duration allocate nothing.
func TestSeriesLookupsAllocateNothing(t *testing.T) {
	var m metrics
	m.webhook("alloc-test", "ok")
	m.events("alloc-test", 1, 1)
	m.took("alloc-test", time.Now())
	n := testing.AllocsPerRun(200, func() {
		m.webhook("alloc-test", "ok")
		m.events("alloc-test", 1, 1)
		m.took("alloc-test", time.Now())
	})
	if n != 0 {
		t.Fatalf("%.1f allocations per webhook's metrics, want 0", n)
	}
	if len(m.counters) != 3 || len(m.durations) != 1 {
		t.Fatalf("series made: %d counters, %d histograms; want 3 and 1", len(m.counters), len(m.durations))
	}
}
