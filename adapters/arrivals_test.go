package adapters

import (
	"testing"
	"time"
)

func TestArrivals(t *testing.T) {
	var a Arrivals
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		after time.Duration // since the call before
		busy  bool
	}{
		{0, false}, // the first call: quiet
		{500 * time.Microsecond, true},
		{999 * time.Microsecond, true},
		{time.Millisecond, false}, // not less than the wait
		{3 * time.Millisecond, false},
		{10 * time.Microsecond, true},
	} {
		t0 = t0.Add(tt.after)
		if got := a.Busy(t0, time.Millisecond); got != tt.busy {
			t.Errorf("a call %s after the one before: busy %v, want %v", tt.after, got, tt.busy)
		}
	}
}
