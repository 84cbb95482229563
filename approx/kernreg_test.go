package approx

import (
	"math"
	"strings"
	"testing"
)

func TestNadarayaWatsonLimits(t *testing.T) {
	x := []float64{-2, -1.3, -0.4, 0.1, 0.75, 1.6, 2.2}
	y := make([]float64, len(x))
	var mean float64
	for i, v := range x {
		y[i] = math.Sin(3*v) + v
		mean += y[i] / float64(len(x))
	}
	for _, k := range builtinKernels(t) {
		// A bandwidth far below the sample spacing interpolates…
		tiny, err := NewNadarayaWatson(k, 1e-3, x, y)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x {
			if got := tiny.Predict(x[i]); math.Abs(got-y[i]) > 1e-12 {
				t.Errorf("%s h=1e-3: m(%g) = %.15g, want y = %.15g", k.Name(), x[i], got, y[i])
			}
		}
		// …and one far above the data's range averages.
		wide, err := NewNadarayaWatson(k, 1e8, x, y)
		if err != nil {
			t.Fatal(err)
		}
		if got := wide.Predict(0.3); math.Abs(got-mean) > 1e-6 {
			t.Errorf("%s h=1e8: m(0.3) = %.10g, want the mean %.10g", k.Name(), got, mean)
		}
	}
	box, _ := NewNadarayaWatson(UniformKernel{}, 0.1, x, y)
	if v := box.Predict(10); !math.IsNaN(v) {
		t.Errorf("box kernel far from the data gives %g, want NaN", v)
	}
}

func TestNadarayaWatsonBinned(t *testing.T) {
	s := normalSample(3000, 3)
	y := make([]float64, len(s.X))
	for i, v := range s.X {
		y[i] = ReLU(v)
	}
	for _, k := range builtinKernels(t) {
		nw, err := NewNadarayaWatson(k, 0.3, s.X, y)
		if err != nil {
			t.Fatal(err)
		}
		b := nw.binned(nwBins)
		// Binning costs O((Δ/h)²) for continuous kernels but O(Δ/h) for
		// the box, whose weights jump at the edge of the window.
		tol := 1e-4
		if k.Name() == "uniform" {
			tol = 1e-2
		}
		for x := -2.5; x <= 2.5; x += 0.1 {
			if e, g := nw.Predict(x), b(x); math.Abs(e-g) > tol {
				t.Errorf("%s: binned m(%g) = %.8g, exact %.8g", k.Name(), x, g, e)
			}
		}
	}
}

func TestKernelRidgePolyDotIsLeastSquares(t *testing.T) {
	s := normalSample(5000, 4)
	const lo, hi = -10.0, 10.0 // every sample inside
	direct, err := FitLS(ReLU, &s, 2, lo, hi, 0)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float64, len(s.X))
	for i, v := range s.X {
		y[i] = ReLU(v)
	}
	kr, err := NewKernelRidge(PolyDot{Degree: 2, Scale: 1, Offset: 1}, s.X, y, 40, 1e-12)
	if err != nil {
		t.Fatal(err)
	}
	if kr.Rank() != 3 {
		t.Errorf("polydot(2) kept %d features, want 3", kr.Rank())
	}
	for x := -4.0; x <= 4.0; x += 0.25 {
		if got, want := kr.Predict(x), direct.Eval(x); math.Abs(got-want) > 1e-8 {
			t.Errorf("KRR(polydot 2) at %g = %.12g, LS quadratic %.12g", x, got, want)
		}
	}
	p, err := FitKernelRidge(PolyDot{Degree: 2, Scale: 1, Offset: 1}, s, 40, 1e-12, 2, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	for i := range direct {
		if math.Abs(p[i]-direct[i]) > 1e-8 {
			t.Errorf("projected KRR coefficient %d = %.12g, LS %.12g", i, p[i], direct[i])
		}
	}
	// A real ridge pulls the fit away from least squares, smoothly.
	shrunk, err := FitKernelRidge(PolyDot{Degree: 2, Scale: 1, Offset: 1}, s, 40, 1e-2, 2, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	var moved float64
	for i := range direct {
		moved = math.Max(moved, math.Abs(shrunk[i]-direct[i]))
	}
	if moved < 1e-4 || moved > 0.1 {
		t.Errorf("ridge 1e-2 moves the coefficients by %g", moved)
	}
}

func TestKernelRegressionFitsNearDirect(t *testing.T) {
	s := normalSample(20000, 5)
	const lo, hi = -4.0, 4.0
	direct, err := FitLS(ReLU, &s, 2, lo, hi, 0)
	if err != nil {
		t.Fatal(err)
	}
	rbf, err := FitKernelRidge(RBFDot{Sigma: 1}, s, 64, 1e-6, 2, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	nw, err := FitNadarayaWatson(GaussianKernel{}, 0.05, s, 2, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	// Both smoothers are close to ReLU at these settings, so their
	// projections are close to the direct projection of ReLU.
	for name, p := range map[string]Poly{"krr rbf": rbf, "nw": nw} {
		for i := range direct {
			if math.Abs(p[i]-direct[i]) > 0.01 {
				t.Errorf("%s: coefficient %d = %.5f, direct fit %.5f", name, i, p[i], direct[i])
			}
		}
	}
	// A wide Nadaraya–Watson bandwidth smooths like the convolution: the
	// fit's constant term grows.
	wide, err := FitNadarayaWatson(GaussianKernel{}, 1, s, 2, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	if !(wide[0] > direct[0]+0.05) {
		t.Errorf("NW h=1 constant %.4f not above direct %.4f", wide[0], direct[0])
	}
}

func TestKernelRegressionBadInput(t *testing.T) {
	x, y := []float64{0, 1, 2}, []float64{0, 1, 2}
	cases := map[string]error{}
	_, cases["nil kernel"] = NewNadarayaWatson(nil, 1, x, y)
	_, cases["h=0"] = NewNadarayaWatson(GaussianKernel{}, 0, x, y)
	_, cases["length"] = NewNadarayaWatson(GaussianKernel{}, 1, x, y[:2])
	_, cases["empty"] = NewNadarayaWatson(GaussianKernel{}, 1, nil, nil)
	_, cases["NaN x"] = NewNadarayaWatson(GaussianKernel{}, 1, []float64{math.NaN()}, []float64{0})
	_, cases["Inf y"] = NewKernelRidge(RBFDot{Sigma: 1}, []float64{0}, []float64{math.Inf(1)}, 1, 0)
	_, cases["nil reg kernel"] = NewKernelRidge(nil, x, y, 2, 0)
	_, cases["sigma"] = NewKernelRidge(RBFDot{}, x, y, 2, 0)
	_, cases["polydot degree"] = NewKernelRidge(PolyDot{Degree: 0, Scale: 1, Offset: 1}, x, y, 2, 0)
	_, cases["centres"] = NewKernelRidge(RBFDot{Sigma: 1}, x, y, 0, 0)
	_, cases["lambda"] = NewKernelRidge(RBFDot{Sigma: 1}, x, y, 2, -1)
	_, cases["NaN sample"] = FitKernelRidge(RBFDot{Sigma: 1}, Sample{Label: "s", X: []float64{1, math.NaN()}}, 2, 0, 2, -3, 3)
	_, cases["interval"] = FitKernelRidge(RBFDot{Sigma: 1}, Sample{Label: "s", X: x}, 2, 0, 2, 3, -3)
	_, cases["outside"] = FitKernelRidge(RBFDot{Sigma: 1}, Sample{Label: "s", X: x}, 2, 0, 2, 10, 11)
	_, cases["nw NaN"] = FitNadarayaWatson(GaussianKernel{}, 1, Sample{Label: "s", X: []float64{math.Inf(-1)}}, 2, -3, 3)
	for name, err := range cases {
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "approx: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
}

// Kernel regression is a FitActivation method: on a sample it gives the
// polynomial FitNadarayaWatson gives, and it refuses what it cannot do.
func TestFitActivationKernReg(t *testing.T) {
	s := normalSample(1000, 11)
	a, err := FitActivation(FitOptions{Method: "KernReg", Kernel: "gaussian", Bandwidth: 0.3, Interval: "-3,3", Calibration: &s})
	if err != nil {
		t.Fatal(err)
	}
	want, err := FitNadarayaWatson(GaussianKernel{}, 0.3, s, 2, -3, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(a.Coefficients[i]-want[i]) > 1e-12 {
			t.Errorf("c%d = %v, FitNadarayaWatson %v", i, a.Coefficients[i], want[i])
		}
	}
	if a.Method != MethodKernReg || a.Bandwidth != 0.3 {
		t.Errorf("method %q bandwidth %v", a.Method, a.Bandwidth)
	}
	for _, c := range []struct {
		opt  FitOptions
		want string
	}{
		{FitOptions{Method: "kernreg", Bandwidth: 0.3, Calibration: Normal{Mu: 0, Sigma: 1}}, "distribution"},
		{FitOptions{Method: "kernreg", Kernel: "none", Calibration: &s}, "needs a kernel"},
		{FitOptions{Method: "kernreg", AutoBandwidth: true, Calibration: &s}, "give a bandwidth"},
		{FitOptions{Method: "nw", Calibration: &s}, "want ls, ridge, minimax, chebyshev, kernreg"},
	} {
		if _, err := FitActivation(c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.opt.Method, err, c.want)
		}
	}
}
