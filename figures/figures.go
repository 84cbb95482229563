package figures

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/krelu/krelu/approx"
)

// Curve is a named function to draw.
type Curve struct {
	Name string
	F    func(float64) float64
}

// TradeoffPoint is one bandwidth of a kernel fit with its RMSE and maximum
// error against ReLU (see approx.BandwidthTradeoff).
type TradeoffPoint = approx.TradeoffPoint

// TradeoffSeries is the trade-off curve of one kernel.
type TradeoffSeries struct {
	Name   string
	Points []TradeoffPoint
}

// curveSamples is the number of points at which curves are sampled; odd so
// that the midpoint of a symmetric interval, ReLU's kink, is a sample.
const curveSamples = 801

const dpi = 150

// legendMargin is the space around a legend drawn below the plots.
const legendMargin = 3 * vg.Millimeter

// canvasFor returns a canvas for the format named by path's extension.
func canvasFor(path string, w, h vg.Length) (vg.CanvasWriterTo, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png":
		return vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))}, nil
	case ".svg":
		return vgsvg.New(w, h), nil
	default:
		return nil, fmt.Errorf("figures: %s: unsupported image format %q (use .png or .svg)", path, ext)
	}
}

// newLegend returns a legend to be drawn outside the data by save.
func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.Top, l.Left = true, true
	l.TextStyle.Font.Size = vg.Points(10)
	l.Padding = vg.Points(2)
	return &l
}

// save draws the plots in a column (one panel per plot) into path, with
// legend (if not nil) in a strip of its own below them: a legend inside
// the axes covers curves wherever it is put. The image is w wide and h
// high plus the legend's height.
func save(path string, w, h vg.Length, legend *plot.Legend, plots ...*plot.Plot) (err error) {
	var legendH vg.Length
	if legend != nil {
		r := legend.Rectangle(draw.Canvas{}) // only its size is used
		legendH = r.Max.Y - r.Min.Y + 2*legendMargin
	}
	c, err := canvasFor(path, w, h+legendH)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	// A white background: transparent PNGs are unreadable in dark viewers.
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	if legend != nil {
		strip := draw.Crop(dc, legendMargin*2, 0, legendMargin, -(h + legendMargin))
		legend.Draw(strip)
		dc = draw.Crop(dc, 0, 0, legendH, 0)
	}
	if len(plots) == 1 {
		plots[0].Draw(dc)
	} else {
		rows := make([][]*plot.Plot, len(plots))
		for i, p := range plots {
			rows[i] = []*plot.Plot{p}
		}
		tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadY: vg.Millimeter * 4,
			PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
		canvases := plot.Align(rows, tiles, dc)
		for i, p := range plots {
			p.Draw(canvases[i][0])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("figures: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("figures: %w", cerr)
		}
	}()
	if _, err := c.WriteTo(f); err != nil {
		return fmt.Errorf("figures: writing %s: %w", path, err)
	}
	return nil
}

func checkInterval(lo, hi float64) error {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || !(lo < hi) {
		return fmt.Errorf("figures: invalid interval [%v, %v]", lo, hi)
	}
	return nil
}

// sample evaluates f on n equally spaced points of [lo, hi] and fails on a
// non-finite value, naming the curve and the point.
func sample(name string, f func(float64) float64, lo, hi float64, n int) (plotter.XYs, error) {
	if f == nil {
		return nil, fmt.Errorf("figures: curve %q has no function", name)
	}
	xy := make(plotter.XYs, n)
	for i := range xy {
		x := lo + (hi-lo)*float64(i)/float64(n-1)
		y := f(x)
		if math.IsNaN(y) || math.IsInf(y, 0) {
			return nil, fmt.Errorf("figures: curve %q is %v at x=%g", name, y, x)
		}
		xy[i] = plotter.XY{X: x, Y: y}
	}
	return xy, nil
}

// addLine draws xy in the i-th style and returns the line for a legend.
func addLine(p *plot.Plot, name string, xy plotter.XYs, i int, width vg.Length) (*plotter.Line, error) {
	l, err := plotter.NewLine(xy)
	if err != nil {
		return nil, fmt.Errorf("figures: curve %q: %w", name, err)
	}
	l.Color = plotutil.Color(i)
	l.Dashes = plotutil.Dashes(i)
	l.Width = width
	p.Add(l)
	return l, nil
}

// CurvesAndErrors draws, over [lo, hi], the curves against the reference
// (top panel) and each curve's error curve(x) − ref(x) (bottom panel) into
// one image at path.
func CurvesAndErrors(path string, lo, hi float64, ref Curve, curves []Curve) error {
	if err := checkInterval(lo, hi); err != nil {
		return err
	}
	if len(curves) == 0 {
		return errors.New("figures: no curves to draw")
	}
	refXY, err := sample(ref.Name, ref.F, lo, hi, curveSamples)
	if err != nil {
		return err
	}
	top, bottom := plot.New(), plot.New()
	top.Title.Text = fmt.Sprintf("Approximations of %s on [%.3g, %.3g]", ref.Name, lo, hi)
	top.X.Label.Text = "x"
	top.Y.Label.Text = "f(x)"
	bottom.Title.Text = "Error p(x) − " + ref.Name + "(x)"
	bottom.X.Label.Text = "x"
	bottom.Y.Label.Text = "error"
	for _, p := range []*plot.Plot{top, bottom} {
		p.Add(plotter.NewGrid())
		p.X.Min, p.X.Max = lo, hi
	}
	// One legend for both panels (the styles are the same), below them.
	legend := newLegend()
	refLine, err := plotter.NewLine(refXY)
	if err != nil {
		return fmt.Errorf("figures: curve %q: %w", ref.Name, err)
	}
	refLine.Color = color.Black
	refLine.Width = vg.Points(2.5)
	top.Add(refLine)
	legend.Add(ref.Name+" (reference; the error panel is relative to it)", refLine)
	zero, _ := plotter.NewLine(plotter.XYs{{X: lo, Y: 0}, {X: hi, Y: 0}})
	zero.Color = color.Gray{Y: 80}
	bottom.Add(zero)
	for i, c := range curves {
		xy, err := sample(c.Name, c.F, lo, hi, curveSamples)
		if err != nil {
			return err
		}
		l, err := addLine(top, c.Name, xy, i, vg.Points(1.5))
		if err != nil {
			return err
		}
		legend.Add(c.Name, l)
		exy := make(plotter.XYs, len(xy))
		for j := range xy {
			exy[j] = plotter.XY{X: xy[j].X, Y: xy[j].Y - refXY[j].Y}
		}
		if _, err := addLine(bottom, c.Name, exy, i, vg.Points(1.5)); err != nil {
			return err
		}
	}
	return save(path, 18*vg.Centimeter, 22*vg.Centimeter, legend, top, bottom)
}

// Tradeoff draws one kernel's RMSE-versus-maximum-error curve over the
// bandwidth h, labelling points by h (h = 0 is the direct fit).
func Tradeoff(path string, pts []TradeoffPoint) error {
	return TradeoffCurves(path, "Bandwidth trade-off", []TradeoffSeries{{Name: "kernel fit", Points: pts}})
}

// TradeoffCurves draws several trade-off curves (e.g. one per kernel) on
// one plot: x is the RMSE against ReLU, y the maximum |error|. Each curve's
// point of smallest maximum error is drawn enlarged and its bandwidth given
// in the legend, below the plot: several kernels reach their minimum close
// together, where text labels would pile up. A single curve has, besides,
// up to eight points labelled with their bandwidth, spread over the plot.
func TradeoffCurves(path, title string, series []TradeoffSeries) error {
	if len(series) == 0 {
		return errors.New("figures: no trade-off curves to draw")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "RMSE against ReLU"
	p.Y.Label.Text = "max |error| against ReLU"
	p.Add(plotter.NewGrid())
	legend := newLegend()
	for i, s := range series {
		if len(s.Points) == 0 {
			return fmt.Errorf("figures: trade-off curve %q has no points", s.Name)
		}
		xy := make(plotter.XYs, len(s.Points))
		for j, q := range s.Points {
			for _, v := range []float64{q.H, q.RMSE, q.MaxErr} {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					return fmt.Errorf("figures: trade-off curve %q: point %d has invalid value %v", s.Name, j, v)
				}
			}
			xy[j] = plotter.XY{X: q.RMSE, Y: q.MaxErr}
		}
		l, sc, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("figures: trade-off curve %q: %w", s.Name, err)
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		sc.Color = plotutil.Color(i)
		sc.Shape = plotutil.Shape(i)
		best := bestPoint(s.Points)
		mark, err := plotter.NewScatter(plotter.XYs{xy[best]})
		if err != nil {
			return fmt.Errorf("figures: trade-off curve %q: %w", s.Name, err)
		}
		mark.Color = plotutil.Color(i)
		mark.Shape = plotutil.Shape(i)
		mark.Radius = vg.Points(6)
		p.Add(l, sc, mark)
		q := s.Points[best]
		legend.Add(fmt.Sprintf("%s: smallest max error %.3g at h = %.3g (RMSE %.3g), enlarged", s.Name, q.MaxErr, q.H, q.RMSE), l, sc)
		if len(series) > 1 {
			continue
		}
		lab := plotter.XYLabels{}
		for _, j := range labelled(s.Points) {
			text := fmt.Sprintf("h=%.3g", s.Points[j].H)
			if s.Points[j].H == 0 {
				text = "direct (h=0)"
			}
			lab.XYs = append(lab.XYs, xy[j])
			lab.Labels = append(lab.Labels, text)
		}
		labels, err := plotter.NewLabels(lab)
		if err != nil {
			return fmt.Errorf("figures: trade-off labels of %q: %w", s.Name, err)
		}
		for k := range labels.TextStyle {
			labels.TextStyle[k].Color = plotutil.Color(i)
			labels.TextStyle[k].Font.Size = vg.Points(8)
		}
		labels.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(2)}
		p.Add(labels)
	}
	// The direct fit (h = 0) is the same point for every kernel: say so once.
	for _, q := range series[0].Points {
		if q.H == 0 {
			legend.Add(fmt.Sprintf("h = 0 (every curve's end at the top left): the direct LS fit, RMSE %.3g, max error %.3g", q.RMSE, q.MaxErr))
			break
		}
	}
	return save(path, 18*vg.Centimeter, 14*vg.Centimeter, legend, p)
}

// bestPoint returns the index of the point of smallest maximum error.
func bestPoint(pts []TradeoffPoint) int {
	best := 0
	for j, q := range pts {
		if q.MaxErr < pts[best].MaxErr {
			best = j
		}
	}
	return best
}

// labelled picks the indices of the points of a single curve to label:
// the smallest maximum error, the direct fit (h = 0), and up to eight more
// points, each at least a tenth of the plot's extent away from the points
// already labelled, so that labels do not pile up where h barely matters.
func labelled(pts []TradeoffPoint) []int {
	const most = 8
	pick := map[int]bool{bestPoint(pts): true}
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for j, q := range pts {
		if q.H == 0 {
			pick[j] = true
		}
		minX, maxX = math.Min(minX, q.RMSE), math.Max(maxX, q.RMSE)
		minY, maxY = math.Min(minY, q.MaxErr), math.Max(maxY, q.MaxErr)
	}
	sx, sy := math.Max(maxX-minX, 1e-300), math.Max(maxY-minY, 1e-300)
	far := func(j int) bool {
		for l := range pick {
			dx, dy := (pts[j].RMSE-pts[l].RMSE)/sx, (pts[j].MaxErr-pts[l].MaxErr)/sy
			if math.Hypot(dx, dy) < 0.1 {
				return false
			}
		}
		return true
	}
	for j, extra := 0, 0; j < len(pts) && extra < most; j++ {
		if !pick[j] && far(j) {
			pick[j] = true
			extra++
		}
	}
	var out []int
	for j := range pts {
		if pick[j] {
			out = append(out, j)
		}
	}
	return out
}

// Histogram draws a histogram of x with the given number of bins, e.g. of
// the pre-activation values a fit is calibrated on.
func Histogram(path, title string, x []float64, bins int) error {
	if len(x) == 0 {
		return errors.New("figures: histogram of no values")
	}
	if bins < 1 {
		return fmt.Errorf("figures: histogram needs at least 1 bin, have %d", bins)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("figures: histogram value %d is %v", i, v)
		}
	}
	h, err := plotter.NewHist(plotter.Values(x), bins)
	if err != nil {
		return fmt.Errorf("figures: histogram: %w", err)
	}
	h.FillColor = color.RGBA{R: 70, G: 130, B: 180, A: 255}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "value"
	p.Y.Label.Text = "count"
	p.Add(plotter.NewGrid(), h)
	return save(path, 16*vg.Centimeter, 10*vg.Centimeter, nil, p)
}
