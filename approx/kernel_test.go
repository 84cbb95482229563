package approx

import (
	"math"
	"strings"
	"testing"
)

// genericKernel hides the closed-form methods of a built-in kernel so that
// the quadrature path is exercised on exactly the same density.
type genericKernel struct{ k Kernel }

func (g genericKernel) Name() string          { return "generic-" + g.k.Name() }
func (g genericKernel) PDF(u float64) float64 { return g.k.PDF(u) }
func (g genericKernel) Support() float64      { return g.k.Support() }

func kernelClose(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func builtinKernels(t *testing.T) []Kernel {
	t.Helper()
	var ks []Kernel
	for _, n := range KernelNames() {
		k, err := KernelByName(n)
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	if len(ks) != 5 {
		t.Fatalf("have %d built-in kernels, want 5", len(ks))
	}
	return ks
}

func TestKernelDensity(t *testing.T) {
	for _, k := range builtinKernels(t) {
		r := kernelReach(k)
		mass := kernQuad(k.PDF, -r, r, []float64{0}, 1e-14)
		if !kernelClose(mass, 1, 1e-12) {
			t.Errorf("%s: ∫K = %.15g, want 1", k.Name(), mass)
		}
		for _, u := range []float64{0.1, 0.5, 0.99, 1.5, 3} {
			if k.PDF(u) != k.PDF(-u) {
				t.Errorf("%s: K(%g) = %g != K(%g) = %g", k.Name(), u, k.PDF(u), -u, k.PDF(-u))
			}
			if k.PDF(u) < 0 {
				t.Errorf("%s: K(%g) < 0", k.Name(), u)
			}
		}
		if s := k.Support(); !math.IsInf(s, 1) && k.PDF(s*1.0001) != 0 {
			t.Errorf("%s: K nonzero outside its support %g", k.Name(), s)
		}
		std := math.Sqrt(kernQuad(func(u float64) float64 { return u * u * k.PDF(u) }, -r, r, []float64{0}, 1e-14))
		if !kernelClose(KernelStd(k), std, 1e-10) {
			t.Errorf("%s: KernelStd = %.12g, quadrature %.12g", k.Name(), KernelStd(k), std)
		}
		if g := KernelStd(genericKernel{k}); !kernelClose(g, std, 1e-10) {
			t.Errorf("%s: generic KernelStd = %.12g, want %.12g", k.Name(), g, std)
		}
	}
}

func TestKernelCDFClosedForms(t *testing.T) {
	for _, k := range builtinKernels(t) {
		c := k.(kernelCDF)
		r := kernelReach(k)
		for x := -3.0; x <= 3.0; x += 0.125 {
			F := kernQuad(k.PDF, -r, x, []float64{0}, 1e-15)
			if !kernelClose(c.CDF(x), F, 1e-12) {
				t.Errorf("%s: CDF(%g) = %.15g, quadrature %.15g", k.Name(), x, c.CDF(x), F)
			}
			G := kernQuad(c.CDF, -r, x, []float64{0, -1, 1}, 1e-15)
			if !kernelClose(c.IntCDF(x), G, 1e-11) {
				t.Errorf("%s: IntCDF(%g) = %.15g, quadrature %.15g", k.Name(), x, c.IntCDF(x), G)
			}
		}
	}
}

func TestKernelByName(t *testing.T) {
	for name, want := range map[string]string{
		"gaussian": "gaussian", "Normal": "gaussian", "box": "uniform", " Uniform ": "uniform",
		"epanechnikov": "epanechnikov", "triangular": "triangular", "logistic": "logistic",
	} {
		k, err := KernelByName(name)
		if err != nil {
			t.Errorf("KernelByName(%q): %v", name, err)
			continue
		}
		if k.Name() != want {
			t.Errorf("KernelByName(%q).Name() = %q, want %q", name, k.Name(), want)
		}
	}
	_, err := KernelByName("cosine")
	if err == nil {
		t.Fatal("KernelByName(cosine): no error")
	}
	for _, n := range append(KernelNames(), "cosine") {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not mention %q", err, n)
		}
	}
}

func TestKernQuadPolynomials(t *testing.T) {
	// A 15-point Kronrod rule is exact to degree 22 on each panel.
	for d := 0; d <= 20; d++ {
		f := func(x float64) float64 { return math.Pow(x, float64(d)) }
		got := kernQuad(f, -1, 2, nil, 1e-14)
		want := (math.Pow(2, float64(d+1)) - math.Pow(-1, float64(d+1))) / float64(d+1)
		if !kernelClose(got, want, 1e-13) {
			t.Errorf("∫x^%d over [-1,2] = %.16g, want %.16g", d, got, want)
		}
	}
	if got := kernQuad(math.Abs, -1, 3, []float64{0}, 1e-14); !kernelClose(got, 5, 1e-14) {
		t.Errorf("∫|x| over [-1,3] = %g, want 5", got)
	}
	if got := kernQuad(math.Abs, 1, 1, nil, 1e-14); got != 0 {
		t.Errorf("empty interval gives %g", got)
	}
}
