package latency

import (
	"testing"
	"time"
)

func TestRecorder(t *testing.T) {
	r := NewRecorder()
	for i := 1; i <= 100; i++ {
		r.Record(time.Duration(i)*time.Millisecond, true)
	}
	r.Record(time.Hour, false)   // warm-up: only in the tick, clamped to the range
	r.Record(-time.Second, true) // clock trouble: clamped to 1 µs
	s := r.Summary()
	if s.Count != 101 || s.P50 < 49.9 || s.P50 > 50.1 || s.P99 < 98.9 || s.P99 > 99.1 || s.Max < 99.9 || s.Max > 100.1 {
		t.Fatalf("summary %+v", s)
	}
	tick := r.TakeTick()
	if tick.Count != 102 || tick.Max < 599_000 {
		t.Fatalf("tick %+v: want the unmeasured hour too, clamped to 10 min", tick)
	}
	if r.TakeTick().Count != 0 {
		t.Fatal("a tick did not start empty")
	}
	if r.Histogram().TotalCount() != 101 {
		t.Fatal("histogram copy")
	}
	if (Summarize(New()) != Summary{}) {
		t.Fatal("summary of nothing")
	}
}
