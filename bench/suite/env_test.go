package suite

import (
	"math"
	"testing"
)

func TestRangeQuantile(t *testing.T) {
	const r1, r2, r3 = "1.000e-04...1.136e-04", "2.000e-04...2.272e-04", "1.000e-03...1.136e-03"
	for _, c := range []struct {
		name          string
		before, after map[string]uint64
		q, want       float64
		ok            bool
	}{
		{"nothing counted", nil, nil, 0.5, 0, false},
		{"nothing new", map[string]uint64{r1: 5}, map[string]uint64{r1: 5}, 0.5, 0, false},
		{"inside one bucket", nil, map[string]uint64{r1: 10}, 0.5, 1.068e-04, true},
		{"the window's counts only", map[string]uint64{r1: 100}, map[string]uint64{r1: 100, r2: 4}, 0.5, 2.136e-04, true},
		{"the tail's bucket", nil, map[string]uint64{r1: 98, r3: 2}, 0.99, 1.068e-03, true},
		{"the median's bucket", nil, map[string]uint64{r3: 2, r1: 98}, 0.5, 1.0694e-04, true},
		{"an unreadable range is skipped", nil, map[string]uint64{"x": 50, r2: 2}, 0.5, 2.136e-04, true},
	} {
		got, ok := rangeQuantile(c.before, c.after, c.q)
		if ok != c.ok || math.Abs(got-c.want) > 1e-7 {
			t.Errorf("%s: %g, %v; want %g, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
