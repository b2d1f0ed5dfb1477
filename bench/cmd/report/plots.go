//go:build linux

package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/racefree/racefree/bench/internal/cases"
)

// plotFile is one PNG written.
type plotFile struct {
	path, title string
}

// Plot size: 600x400 pixels at the 96 dpi vg uses for PNGs.
const plotW, plotH = 6.25 * vg.Inch, 4.1667 * vg.Inch

// writePlots draws the cost of every operation that has a numeric axis
// against that axis: Open and Stat against path depth (linear), RemoveAll
// and Install against tree size (log-log).
func writePlots(r *run, dir string) ([]plotFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []plotFile
	for _, op := range cases.Ops {
		if op.Axis != "depth" && op.Axis != "files" {
			continue
		}
		title := fmt.Sprintf("%s: %s time per operation against %s", op.Name, unitName(op), op.Axis)
		p, err := costPlot(r, op, title, op.Axis == "files")
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, strings.ToLower(op.Name)+"-"+op.Axis+".png")
		if err := p.Save(plotW, plotH, path); err != nil {
			return nil, err
		}
		files = append(files, plotFile{path, title})
	}
	return files, nil
}

// series is one implementation's medians and ranges along the axis.
type series struct {
	plotter.XYs
	plotter.YErrors
}

func costPlot(r *run, op *cases.Op, title string, logScale bool) (*plot.Plot, error) {
	u := unit(op)
	// The y unit: µs, or ms where the slowest median is beyond 10 ms.
	scale, unitLabel := 1e3, "µs"
	for _, c := range op.Cases() {
		if m, ok := r.median(openat2, c, u); ok && m > 1e7 {
			scale, unitLabel = 1e6, "ms"
		}
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = op.Axis
	p.Y.Label.Text = unitName(op) + " time per operation (" + unitLabel + ")"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	if logScale {
		p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	} else {
		p.Y.Min = 0
		p.X.Tick.Marker = plot.ConstantTicks(depthTicks(op))
	}
	add := func(profile, label string, impl cases.Impl, style int, dashed bool) error {
		var s series
		for _, param := range op.Params {
			xs := r.values(profile, cases.Case{Op: op, Param: param, Impl: impl}, u)
			if len(xs) == 0 {
				continue
			}
			m := median(xs) / scale
			s.XYs = append(s.XYs, plotter.XY{X: float64(param.Value), Y: m})
			s.YErrors = append(s.YErrors, struct{ Low, High float64 }{m - slices.Min(xs)/scale, slices.Max(xs)/scale - m})
		}
		if len(s.XYs) == 0 {
			return nil
		}
		line, points, err := plotter.NewLinePoints(s.XYs)
		if err != nil {
			return err
		}
		c := plotutil.Color(style)
		if impl.Name == "racefree" {
			c = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
			line.Width = vg.Points(2)
		}
		line.Color, points.Color = c, c
		points.Shape = plotutil.Shape(style)
		if dashed {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		bars, err := plotter.NewYErrorBars(s)
		if err != nil {
			return err
		}
		bars.Color = c
		p.Add(line, points, bars)
		p.Legend.Add(label, line, points)
		return nil
	}
	for i, im := range op.Impls {
		label := strings.NewReplacer("`", "").Replace(im.Title)
		if err := add(openat2, label, im, i, im.Floor); err != nil {
			return nil, err
		}
		if i == 0 && op.Walk {
			if err := add(walk, label+", walk (no openat2)", im, len(op.Impls), true); err != nil {
				return nil, err
			}
		}
	}
	p.Add(plotter.NewGrid())
	// Headroom above the lines for the legend.
	if logScale {
		p.Y.Max *= 8
	} else {
		p.Y.Max *= 1.6
	}
	return p, nil
}

// depthTicks marks exactly the depths measured.
func depthTicks(op *cases.Op) []plot.Tick {
	ticks := make([]plot.Tick, len(op.Params))
	for i, param := range op.Params {
		ticks[i] = plot.Tick{Value: float64(param.Value), Label: param.Label}
	}
	return ticks
}
