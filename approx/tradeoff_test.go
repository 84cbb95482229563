package approx

import (
	"math"
	"testing"
)

func TestBandwidthTradeoffNormal(t *testing.T) {
	src := Normal{Mu: 0, Sigma: 1}
	const lo, hi = -4.0, 4.0
	for _, k := range builtinKernels(t) {
		s := KernelStd(k)
		hs := append([]float64{0}, LogSpace(0.01/s, 3/s, 12)...)
		pts, err := BandwidthTradeoff(k, src, 2, lo, hi, hs)
		if err != nil {
			t.Fatal(err)
		}
		direct := pts[0]
		best, ok := BestMaxErr(pts)
		if !ok {
			t.Fatalf("%s: no best point", k.Name())
		}
		t.Logf("%s: direct rmse=%.4f max=%.4f; best max at h=%.3g: rmse=%.4f max=%.4f",
			k.Name(), direct.RMSE, direct.MaxErr, best.H, best.RMSE, best.MaxErr)
		// The claim of the method: smoothing lowers the worst case on a
		// wide interval…
		if !(best.H > 0 && best.MaxErr < 0.75*direct.MaxErr) {
			t.Errorf("%s: best max error %.4f at h=%g, direct fit %.4f", k.Name(), best.MaxErr, best.H, direct.MaxErr)
		}
		// …and pays for it in RMSE, since the direct fit is the RMSE optimum.
		for _, p := range pts[1:] {
			if p.RMSE < direct.RMSE*(1-1e-9) {
				t.Errorf("%s h=%g: RMSE %.6g below the least-squares optimum %.6g", k.Name(), p.H, p.RMSE, direct.RMSE)
			}
		}
		// As h → 0 the kernel fit tends to the direct fit.
		if math.Abs(pts[1].MaxErr-direct.MaxErr) > 0.01 || math.Abs(pts[1].RMSE-direct.RMSE) > 1e-3 {
			t.Errorf("%s: h=%g gives rmse %g max %g, direct %g %g", k.Name(), pts[1].H, pts[1].RMSE, pts[1].MaxErr, direct.RMSE, direct.MaxErr)
		}
	}
}

func TestBandwidthTradeoffBadInput(t *testing.T) {
	src := Normal{Mu: 0, Sigma: 1}
	for _, hs := range [][]float64{nil, {-1}, {math.NaN()}, {0.5, math.Inf(1)}} {
		if _, err := BandwidthTradeoff(GaussianKernel{}, src, 2, -3, 3, hs); err == nil {
			t.Errorf("hs=%v: no error", hs)
		}
	}
	if _, err := BandwidthTradeoff(nil, src, 2, -3, 3, []float64{1}); err == nil {
		t.Error("nil kernel: no error")
	}
	if _, err := BandwidthTradeoff(GaussianKernel{}, nil, 2, -3, 3, []float64{1}); err == nil {
		t.Error("nil source: no error")
	}
	if _, ok := BestMaxErr(nil); ok {
		t.Error("BestMaxErr(nil) reports a point")
	}
}

func TestOptimalBandwidth(t *testing.T) {
	src := Normal{Mu: 0, Sigma: 1}
	const lo, hi = -4.0, 4.0
	// Two kernels keep this test cheap; docs/kernels.md has all five.
	for _, k := range []Kernel{GaussianKernel{}, UniformKernel{}} {
		opt, err := OptimalBandwidth(k, src, 2, lo, hi, CriterionMax)
		if err != nil {
			t.Fatal(err)
		}
		grid, err := BandwidthTradeoff(k, src, 2, lo, hi, append([]float64{0}, LogSpace(0.05, 5, 10)...))
		if err != nil {
			t.Fatal(err)
		}
		best, _ := BestMaxErr(grid)
		if opt.MaxErr > best.MaxErr+1e-9 {
			t.Errorf("%s: optimum max error %.6f at h=%g worse than a grid point %.6f at h=%g", k.Name(), opt.MaxErr, opt.H, best.MaxErr, best.H)
		}
		// No quadratic beats the minimax error B/16 on [−B, B].
		if opt.MaxErr < hi/16 {
			t.Errorf("%s: max error %.6f below the minimax optimum %.6f", k.Name(), opt.MaxErr, hi/16)
		}
		if opt.MaxErr > 0.55 {
			t.Errorf("%s: optimum max error %.4f, expected ≈ 0.5", k.Name(), opt.MaxErr)
		}
		if k.Name() != "gaussian" {
			continue
		}
		rm, err := OptimalBandwidth(k, src, 2, lo, hi, CriterionRMSE)
		if err != nil {
			t.Fatal(err)
		}
		if rm.RMSE > grid[0].RMSE*(1+1e-6) {
			t.Errorf("%s: RMSE optimum %.8f at h=%g above the direct fit %.8f", k.Name(), rm.RMSE, rm.H, grid[0].RMSE)
		}
	}
	if _, err := OptimalBandwidth(GaussianKernel{}, src, 2, lo, hi, Criterion{W: -1}); err == nil {
		t.Error("bad criterion: no error")
	}
	if _, err := OptimalBandwidth(GaussianKernel{}, &Sample{Label: "flat", X: []float64{1, 1, 1}}, 2, lo, hi, CriterionMax); err == nil {
		t.Error("zero-spread sample: no error")
	}
}

// Where smoothing does not help: under a uniform calibration distribution
// the direct fit's worst error already sits at the kink (3a/32 at x = 0 for
// the LS fit 3a/32 + x/2 + 15x²/(32a)), and smoothing only raises the curve
// there, so the best bandwidth is the smallest one.
func TestBandwidthTradeoffUniformNoGain(t *testing.T) {
	const a = 4.0
	src := Uniform{A: -a, B: a}
	for _, k := range []Kernel{GaussianKernel{}, EpanechnikovKernel{}} {
		pts, err := BandwidthTradeoff(k, src, 2, -a, a, []float64{0, 0.1, 0.3, 1})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(pts[0].MaxErr-3*a/32) > 1e-6 {
			t.Errorf("%s: direct max error %.8f, want 3a/32 = %.8f", k.Name(), pts[0].MaxErr, 3*a/32)
		}
		for i := 1; i < len(pts); i++ {
			if pts[i].MaxErr <= pts[i-1].MaxErr {
				t.Errorf("%s: max error %.6f at h=%g not above %.6f at h=%g", k.Name(), pts[i].MaxErr, pts[i].H, pts[i-1].MaxErr, pts[i-1].H)
			}
		}
	}
}

// ReLU is convex, so by Jensen f_h(x) = E[ReLU(x − hU)] ≥ ReLU(x): the
// smoothing bias is one-sided, which is why the best kernel fit's error
// range is [0, 2E] rather than the minimax [−E, E].
func TestSmoothedReLUAboveReLU(t *testing.T) {
	for _, k := range builtinKernels(t) {
		for _, h := range smoothBandwidths {
			f := SmoothedReLU(k, h)
			for x := -5.0; x <= 5.0; x += 0.01 {
				if f(x) < ReLU(x)-1e-15 {
					t.Errorf("%s h=%g: f_h(%g) = %g below ReLU", k.Name(), h, x, f(x))
				}
			}
		}
	}
}

// As h → 0 the kernel fit tends to the direct fit, coefficient by
// coefficient, at rate O(h) (the smoothing bias is at most h·G(0)).
func TestKernelFitTendsToDirectFit(t *testing.T) {
	src := Normal{Mu: 0, Sigma: 1}
	direct, err := FitLS(ReLU, src, 2, -4, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range builtinKernels(t) {
		for _, h := range []float64{1e-2, 1e-4} {
			p, err := FitLS(SmoothedReLU(k, h), src, 2, -4, 4, 0)
			if err != nil {
				t.Fatal(err)
			}
			bound := 2 * h * k.(kernelCDF).IntCDF(0)
			for i := range direct {
				if math.Abs(p[i]-direct[i]) > bound {
					t.Errorf("%s h=%g: coefficient %d = %.10f, direct %.10f (bound %g)", k.Name(), h, i, p[i], direct[i], bound)
				}
			}
		}
	}
}
