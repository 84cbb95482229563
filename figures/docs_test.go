package figures

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/krelu/krelu/approx"
)

var update = flag.Bool("update", false, "rewrite docs/img/tradeoff_normal.png and docs/img/kernels_normal.png and log the docs/kernels.md tables")

// TestDocsFigures makes the figures of docs/kernels.md. Normally it renders
// a coarse version into a temporary directory; with
//
//	go test ./figures -run TestDocsFigures -update -v
//
// it writes the committed PNGs and logs the tables of the document.
func TestDocsFigures(t *testing.T) {
	dir, n := t.TempDir(), 6
	if *update {
		dir, n = filepath.Join("..", "docs", "img"), 30
	}
	src := approx.Normal{Mu: 0, Sigma: 1}
	const lo, hi = -4.0, 4.0
	var series []TradeoffSeries
	for _, name := range approx.KernelNames() {
		k, err := approx.KernelByName(name)
		if err != nil {
			t.Fatal(err)
		}
		s := approx.KernelStd(k)
		hs := append([]float64{0}, approx.LogSpace(0.05/s, 2.5/s, n)...)
		pts, err := approx.BandwidthTradeoff(k, src, 2, lo, hi, hs)
		if err != nil {
			t.Fatal(err)
		}
		series = append(series, TradeoffSeries{Name: name, Points: pts})
	}
	tr := filepath.Join(dir, "tradeoff_normal.png")
	if err := TradeoffCurves(tr, "Degree-2 LS fit to ReLU*K_h under N(0,1) on [-4,4], measured against ReLU", series); err != nil {
		t.Fatal(err)
	}
	checkImage(t, tr)

	g := approx.GaussianKernel{}
	opt, err := approx.OptimalBandwidth(g, src, 2, lo, hi, approx.CriterionMax)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := approx.FitLS(approx.ReLU, src, 2, lo, hi, 0)
	if err != nil {
		t.Fatal(err)
	}
	smooth, err := approx.FitLS(approx.SmoothedReLU(g, opt.H), src, 2, lo, hi, 0)
	if err != nil {
		t.Fatal(err)
	}
	mm := approx.MinimaxReLU2(hi)
	curves := []Curve{
		{Name: "direct LS (no kernel)", F: direct.Eval},
		{Name: fmt.Sprintf("LS to gaussian-smoothed ReLU, h=%.3f", opt.H), F: smooth.Eval},
		{Name: "minimax on [-4,4]", F: mm.Eval},
	}
	kc := filepath.Join(dir, "kernels_normal.png")
	if err := CurvesAndErrors(kc, lo, hi, Curve{Name: "ReLU", F: approx.ReLU}, curves); err != nil {
		t.Fatal(err)
	}
	checkImage(t, kc)
	if *update {
		logDocsTables(t)
	}
}

// logDocsTables logs, for three calibration distributions, the direct fit
// and each kernel's fit at the bandwidth of smallest maximum error.
func logDocsTables(t *testing.T) {
	t3 := approx.StudentT{Nu: 3, Mu: 0, Sigma: 1}
	b3 := t3.Quantile(0.9995)
	cases := []struct {
		src    approx.Dist
		lo, hi float64
	}{
		{approx.Normal{Mu: 0, Sigma: 1}, -4, 4},
		{approx.Uniform{A: -4, B: 4}, -4, 4},
		{t3, -b3, b3},
	}
	var sb strings.Builder
	for _, c := range cases {
		fmt.Fprintf(&sb, "\n%s on [%.4g, %.4g], degree 2, minimax error %.4f\n", c.src.Name(), c.lo, c.hi, (c.hi-c.lo)/32)
		sb.WriteString("| kernel | h (min max-error) | RMSE | max abs error | RMSE direct | max direct |\n|---|---|---|---|---|---|\n")
		for _, name := range approx.KernelNames() {
			k, _ := approx.KernelByName(name)
			d, err := approx.BandwidthTradeoff(k, c.src, 2, c.lo, c.hi, []float64{0})
			if err != nil {
				t.Fatal(err)
			}
			o, err := approx.OptimalBandwidth(k, c.src, 2, c.lo, c.hi, approx.CriterionMax)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&sb, "| %s | %.4f | %.4f | %.4f | %.4f | %.4f |\n", name, o.H, o.RMSE, o.MaxErr, d[0].RMSE, d[0].MaxErr)
		}
	}
	t.Log(sb.String())
}
