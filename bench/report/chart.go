package report

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart draws latency against load: for every open-loop phase of the run
// (main and sweep), x is the offered webhooks/s and y the latency
// percentile in ms on a log scale: the gateway's answer p50 and p99, its
// round trip p99, and the ceiling's answer p99 at the same rate. The
// gateway's capacity (closed loop) is a vertical line. A run with no
// open-loop phase plots its closed-loop phases instead. The format follows
// the file's extension (.png or .svg).
func (r *Results) Chart(path string) error {
	var all []*Phase
	all = append(all, &r.Gateway, &r.Ceiling)
	if r.Max != nil {
		if r.Max.Gateway != nil {
			all = append(all, r.Max.Gateway)
		}
		if r.Max.Ceiling != nil {
			all = append(all, r.Max.Ceiling)
		}
	}
	for i := range r.Sweep {
		all = append(all, &r.Sweep[i].Gateway)
		if r.Sweep[i].Ceiling != nil {
			all = append(all, r.Sweep[i].Ceiling)
		}
	}
	var phases []*Phase
	for _, p := range all {
		if p.Loop == "open" {
			phases = append(phases, p)
		}
	}
	// x: the offered rate of open-loop phases (an overloaded point stays
	// where it was asked for instead of folding back to what got through);
	// without any, the achieved rate of the closed-loop ones.
	xOf := func(p *Phase) float64 { return p.Rate }
	xLabel := "offered webhooks/s (open loop)"
	if len(phases) == 0 {
		phases = all
		xOf = func(p *Phase) float64 { return p.ThroughputRPS }
		xLabel = "achieved webhooks/s (closed loop)"
	}
	series := []struct {
		name   string
		server string
		value  func(*Phase) float64
		color  color.RGBA
		dashed bool
	}{
		{"gateway answer p50", "gateway", func(p *Phase) float64 { return p.LatencyMS.P50 }, color.RGBA{31, 119, 180, 255}, true},
		{"gateway answer p99", "gateway", func(p *Phase) float64 { return p.LatencyMS.P99 }, color.RGBA{31, 119, 180, 255}, false},
		{"gateway round trip p99", "gateway", func(p *Phase) float64 {
			if p.RoundTripMS == nil {
				return 0
			}
			return p.RoundTripMS.P99
		}, color.RGBA{214, 39, 40, 255}, false},
		{"ceiling answer p99", "ceiling", func(p *Phase) float64 { return p.LatencyMS.P99 }, color.RGBA{127, 127, 127, 255}, false},
	}

	pl := plot.New()
	pl.Title.Text = fmt.Sprintf("Switchboard: latency against load (%s mode, %d CPUs)", r.Mode, r.Host.CPUs)
	pl.X.Label.Text = xLabel
	pl.Y.Label.Text = "latency, ms (log)"
	pl.Y.Scale = plot.LogScale{}
	pl.Y.Tick.Marker = ticks125{}
	pl.Legend.Top = true
	pl.Legend.Left = true
	pl.Add(plotter.NewGrid())
	drawn := 0
	for _, s := range series {
		var xys plotter.XYs
		for _, p := range phases {
			if p.Server != s.server || xOf(p) <= 0 {
				continue
			}
			if v := s.value(p); v > 0 {
				xys = append(xys, plotter.XY{X: xOf(p), Y: v})
			}
		}
		if len(xys) == 0 {
			continue
		}
		sort.Slice(xys, func(i, j int) bool { return xys[i].X < xys[j].X })
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("report: chart: %w", err)
		}
		line.Color, points.Color = s.color, s.color
		points.Shape = draw.CircleGlyph{}
		if s.dashed {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		pl.Add(line, points)
		pl.Legend.Add(s.name, line, points)
		drawn++
	}
	if drawn == 0 {
		return fmt.Errorf("report: chart: nothing measured")
	}
	if m := r.Max; m != nil && m.GatewayRPS > 0 && len(phases) < len(all) {
		capacity, err := plotter.NewLine(plotter.XYs{{X: m.GatewayRPS, Y: pl.Y.Min}, {X: m.GatewayRPS, Y: pl.Y.Max}})
		if err != nil {
			return fmt.Errorf("report: chart: %w", err)
		}
		capacity.Color = color.RGBA{44, 160, 44, 255}
		capacity.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		pl.Add(capacity)
		pl.Legend.Add(fmt.Sprintf("gateway capacity, closed loop (ceiling: %.0f/s)", m.CeilingRPS), capacity)
		pl.X.Max = max(pl.X.Max, m.GatewayRPS)
	}
	// Room above the data for the legend, and a little below.
	pl.Y.Max *= 6
	pl.Y.Min /= 1.5
	pl.X.Min = 0
	pl.X.Max *= 1.05
	if err := pl.Save(9*vg.Inch, 5.5*vg.Inch, path); err != nil {
		return fmt.Errorf("report: chart: %w", err)
	}
	return nil
}

// ticks125 marks a log axis at 1, 2 and 5 of every decade.
type ticks125 struct{}

func (ticks125) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo && v <= hi {
				out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return out
}
