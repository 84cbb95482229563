package approx

import (
	"math"
	"testing"
)

var smoothBandwidths = []float64{0.05, 0.3, 1, 2.5}

func TestSmoothedReLUClosedFormMatchesQuadrature(t *testing.T) {
	for _, k := range builtinKernels(t) {
		for _, h := range smoothBandwidths {
			closed := SmoothedReLU(k, h)
			quad, err := NewSmooth(k, ReLU, h)
			if err != nil {
				t.Fatal(err)
			}
			generic, err := NewSmoothedReLU(genericKernel{k}, h)
			if err != nil {
				t.Fatal(err)
			}
			dClosed := SmoothedReLUDeriv(k, h)
			dGeneric := SmoothedReLUDeriv(genericKernel{k}, h)
			for x := -6.0; x <= 6.0; x += 0.0625 {
				c, q, g := closed(x), quad(x), generic(x)
				if math.Abs(c-q) > 1e-9 || math.Abs(c-g) > 1e-9 {
					t.Errorf("%s h=%g x=%g: closed %.15g quadrature %.15g generic %.15g", k.Name(), h, x, c, q, g)
				}
				dc, dg := dClosed(x), dGeneric(x)
				if math.Abs(dc-dg) > 1e-9 {
					t.Errorf("%s h=%g x=%g: derivative closed %.15g quadrature %.15g", k.Name(), h, x, dc, dg)
				}
				// The odd part of any symmetric smoothing of ReLU is x/2.
				if d := closed(x) - closed(-x); math.Abs(d-x) > 1e-12*(1+math.Abs(x)) {
					t.Errorf("%s h=%g: f(x)−f(−x) = %g at x=%g, want x", k.Name(), h, d, x)
				}
			}
		}
	}
}

func TestSmoothedReLUDerivIsDerivative(t *testing.T) {
	const step = 1e-5
	for _, k := range builtinKernels(t) {
		for _, h := range smoothBandwidths {
			f, df := SmoothedReLU(k, h), SmoothedReLUDeriv(k, h)
			for x := -4.0; x <= 4.0; x += 0.37 {
				fd := (f(x+step) - f(x-step)) / (2 * step)
				// f'' may jump at the support ends, costing O(step/h).
				if math.Abs(fd-df(x)) > 1e-6+step/h {
					t.Errorf("%s h=%g x=%g: f' = %g, central difference %g", k.Name(), h, x, df(x), fd)
				}
			}
		}
	}
}

func TestSmoothedReLUKnownForms(t *testing.T) {
	g, l := SmoothedReLU(GaussianKernel{}, 0.7), SmoothedReLU(LogisticKernel{}, 0.7)
	for x := -5.0; x <= 5.0; x += 0.25 {
		t0 := x / 0.7
		phi := math.Exp(-t0*t0/2) / math.Sqrt(2*math.Pi)
		Phi := 0.5 * (1 + math.Erf(t0/math.Sqrt2))
		if want := x*Phi + 0.7*phi; math.Abs(g(x)-want) > 1e-14 {
			t.Errorf("gaussian f(%g) = %.16g, want xΦ+hφ = %.16g", x, g(x), want)
		}
		if want := 0.7 * math.Log(1+math.Exp(t0)); math.Abs(l(x)-want) > 1e-14 {
			t.Errorf("logistic f(%g) = %.16g, want h·softplus = %.16g", x, l(x), want)
		}
	}
	// Far tails: f_h is ReLU beyond a compact support and
	// exponentially close to it for the GaussianKernel.
	if v := SmoothedReLU(GaussianKernel{}, 1)(-40); v < 0 || v > 1e-300 {
		t.Errorf("gaussian f(-40) = %g", v)
	}
	if v := SmoothedReLU(GaussianKernel{}, 1)(40); v != 40 {
		t.Errorf("gaussian f(40) = %g, want 40", v)
	}
}

func TestSmoothedReLUTendsToReLU(t *testing.T) {
	for _, k := range builtinKernels(t) {
		g0 := k.(kernelCDF).IntCDF(0)
		for _, h := range []float64{1e-1, 1e-3, 1e-6} {
			f := SmoothedReLU(k, h)
			var worst float64
			for x := -3.0; x <= 3.0; x += h / 7 * math.Max(1, 1e-2/h) {
				worst = math.Max(worst, math.Abs(f(x)-ReLU(x)))
			}
			// f_h − ReLU is largest at the kink, where it equals h·G(0).
			if worst > h*g0*(1+1e-9) || math.Abs(f(0)-h*g0) > 1e-15 {
				t.Errorf("%s h=%g: sup|f_h−ReLU| = %g, want ≤ h·G(0) = %g", k.Name(), h, worst, h*g0)
			}
		}
	}
}

func TestSmoothGenericTargets(t *testing.T) {
	square := func(x float64) float64 { return x * x }
	for _, k := range builtinKernels(t) {
		s := KernelStd(k)
		for _, h := range []float64{0.2, 1.5} {
			f := Smooth(k, square, h)
			for x := -3.0; x <= 3.0; x += 0.5 {
				// x² * K_h = x² + h²·Var(K).
				if want := x*x + h*h*s*s; !kernelClose(f(x), want, 1e-10) {
					t.Errorf("%s h=%g: (x²*K_h)(%g) = %.14g, want %.14g", k.Name(), h, x, f(x), want)
				}
			}
		}
	}
	// Gaussians compose: (ReLU * N(0,a²)) * N(0,b²) = ReLU * N(0,a²+b²).
	a, b := 0.6, 0.8
	inner := SmoothedReLU(GaussianKernel{}, a)
	twice, want := Smooth(GaussianKernel{}, inner, b), SmoothedReLU(GaussianKernel{}, math.Hypot(a, b))
	for x := -4.0; x <= 4.0; x += 0.2 {
		if math.Abs(twice(x)-want(x)) > 1e-10 {
			t.Errorf("gaussian composition at %g: %.14g, want %.14g", x, twice(x), want(x))
		}
	}
	// A smooth target such as SiLU changes by O(h²) under smoothing.
	silu := func(x float64) float64 { return x / (1 + math.Exp(-x)) }
	fs := Smooth(EpanechnikovKernel{}, silu, 1e-3)
	for x := -3.0; x <= 3.0; x += 0.5 {
		if math.Abs(fs(x)-silu(x)) > 1e-6 {
			t.Errorf("smoothed SiLU(%g) = %g, SiLU = %g", x, fs(x), silu(x))
		}
	}
}

func TestSmoothBadInput(t *testing.T) {
	bad := []float64{0, -1, math.NaN(), math.Inf(1), math.Inf(-1)}
	for _, h := range bad {
		if _, err := NewSmoothedReLU(GaussianKernel{}, h); err == nil {
			t.Errorf("NewSmoothedReLU(h=%v): no error", h)
		}
		if _, err := NewSmoothedReLUDeriv(GaussianKernel{}, h); err == nil {
			t.Errorf("NewSmoothedReLUDeriv(h=%v): no error", h)
		}
		if _, err := NewSmooth(UniformKernel{}, ReLU, h); err == nil {
			t.Errorf("NewSmooth(h=%v): no error", h)
		}
		for _, f := range []Target{SmoothedReLU(LogisticKernel{}, h), SmoothedReLUDeriv(LogisticKernel{}, h), Smooth(LogisticKernel{}, ReLU, h)} {
			if v := f(1); !math.IsNaN(v) {
				t.Errorf("h=%v: invalid bandwidth gives %v, want NaN", h, v)
			}
		}
	}
	if _, err := NewSmoothedReLU(nil, 1); err == nil {
		t.Error("nil kernel: no error")
	}
	if _, err := NewSmooth(GaussianKernel{}, nil, 1); err == nil {
		t.Error("nil target: no error")
	}
}
