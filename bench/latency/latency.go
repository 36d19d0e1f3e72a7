// Package latency records latencies in HDR histograms (microsecond
// resolution, 3 significant digits, up to 10 minutes) and summarizes them
// as the percentiles the bench suite reports. A Recorder keeps two
// histograms: everything measured so far, and the current progress tick,
// so the suite can print "p99 of the last second" without a second pass.
package latency

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Range of a histogram, in microseconds.
const (
	lowest  = 1
	highest = int64(10 * time.Minute / time.Microsecond)
	digits  = 3
)

// New returns an empty histogram with the suite's range.
func New() *hdrhistogram.Histogram { return hdrhistogram.New(lowest, highest, digits) }

// Recorder is safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	all  *hdrhistogram.Histogram
	tick *hdrhistogram.Histogram
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{all: New(), tick: New()} }

// Record adds d to the current tick, and to the whole when measured (its
// request was meant to be sent inside the measurement window).
func (r *Recorder) Record(d time.Duration, measured bool) {
	us := max(d.Microseconds(), lowest)
	us = min(us, highest)
	r.mu.Lock()
	r.tick.RecordValue(us) //nolint:errcheck // clamped to range
	if measured {
		r.all.RecordValue(us) //nolint:errcheck // clamped to range
	}
	r.mu.Unlock()
}

// TakeTick returns the summary of what was recorded since the previous
// call and starts a new tick.
func (r *Recorder) TakeTick() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Summarize(r.tick)
	r.tick.Reset()
	return s
}

// Summary is the summary of everything measured so far.
func (r *Recorder) Summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Summarize(r.all)
}

// Histogram returns a copy of everything measured so far.
func (r *Recorder) Histogram() *hdrhistogram.Histogram {
	r.mu.Lock()
	defer r.mu.Unlock()
	return hdrhistogram.Import(r.all.Export())
}

// Summary holds percentiles in milliseconds, as results.json reports them.
type Summary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// Summarize reads the percentiles of h (recorded in microseconds).
func Summarize(h *hdrhistogram.Histogram) Summary {
	if h.TotalCount() == 0 {
		return Summary{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Summary{
		Count: h.TotalCount(),
		Mean:  h.Mean() / 1000,
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
	}
}
