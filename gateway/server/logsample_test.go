package server

import (
	"testing"
	"time"
)

// TestLogSampler: each key logs a burst, then one line a second; the
// line after dropped ones says how many, and keys do not share budgets.
func TestLogSampler(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := logSampler{now: func() time.Time { return now }}
	fb := refusalKey{refusedWebhook, "fb"}
	type call struct {
		advance     time.Duration
		key         refusalKey
		ok          bool
		dropped     int64
		repeat      int // the same call this many times (1 when 0)
		description string
	}
	for i, c := range []call{
		{key: fb, ok: true, repeat: refusalBurst, description: "the burst"},
		{key: fb, ok: false, repeat: 25, description: "past the burst"},
		{key: refusalKey{refusedWebhook, ""}, ok: true, description: "another key has its own budget"},
		{key: refusalKey{refusedAPI, "fb"}, ok: true, description: "and another kind"},
		{key: refusalKey{refusedWebhook, "ig"}, ok: true, description: "and another"},
		{advance: time.Second / refusalsPerSecond, key: fb, ok: true, dropped: 25, description: "a second later: one line, with the count"},
		{key: fb, ok: false, description: "then dropped again"},
		{advance: time.Second / refusalsPerSecond, key: fb, ok: true, dropped: 1, description: "the count starts over"},
		{advance: time.Hour, key: fb, ok: true, repeat: refusalBurst, description: "a quiet spell refills the burst"},
	} {
		now = now.Add(c.advance)
		for range max(c.repeat, 1) {
			ok, dropped := l.allow(c.key)
			if ok != c.ok || dropped != c.dropped {
				t.Fatalf("step %d (%s): allow(%v) = %v, %d; want %v, %d", i, c.description, c.key, ok, dropped, c.ok, c.dropped)
			}
		}
	}
}
