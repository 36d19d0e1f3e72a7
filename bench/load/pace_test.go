package load

import (
	"context"
	"testing"
	"time"
)

func TestWaitUntilNeverReturnsEarly(t *testing.T) {
	ctx := context.Background()
	for _, d := range []time.Duration{-time.Millisecond, 0, 50 * time.Microsecond, 400 * time.Microsecond, 3 * time.Millisecond, 25 * time.Millisecond} {
		due := time.Now().Add(d)
		waitUntil(ctx, due, maxSpin)
		if now := time.Now(); now.Before(due) {
			t.Errorf("wait of %s returned %s early", d, due.Sub(now))
		}
	}
}

func TestWaitUntilEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	waitUntil(ctx, start.Add(time.Hour), maxSpin)
	if time.Since(start) > time.Minute {
		t.Fatal("a cancelled wait ran to its due time")
	}
}

func TestSpinFor(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		want time.Duration
	}{
		{300, maxSpin},
		{500, maxSpin},
		{501, 0},
		{8000, 0},
	} {
		if got := spinFor(tc.rate); got != tc.want {
			t.Errorf("spinFor(%v) = %s, want %s", tc.rate, got, tc.want)
		}
	}
}
