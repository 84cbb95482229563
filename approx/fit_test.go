package approx

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func checkPoly(t *testing.T, name string, got Poly, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d coefficients, want %d", name, len(got), len(want))
	}
	for i := range want {
		if !near(got[i], want[i], tol) {
			t.Errorf("%s: c%d = %.12g, want %.12g (diff %.3g)", name, i, got[i], want[i], got[i]-want[i])
		}
	}
}

// The least-squares quadratic of ReLU under N(0,1) over the whole line is
// (1+x²)/(2√(2π)) + x/2: E[ReLU·(1, X, X²)] = (1/√(2π), 1/2, 2/√(2π))
// against the moments (1, 0, 1, 0, 3). [−12, 12] holds all but 2e-33 of
// the mass.
func TestFitLSNormalClosedForm(t *testing.T) {
	c := 1 / (2 * math.Sqrt(2*math.Pi))
	p, err := FitLS(ReLU, Normal{0, 1}, 2, -12, 12, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkPoly(t, "N(0,1)", p, []float64{c, 0.5, c}, 1e-9)
}

func TestFitLSUniformClosedForm(t *testing.T) {
	for _, a := range []float64{0.5, 1, 4, 30} {
		p, err := FitLS(ReLU, Uniform{-a, a}, 2, -a, a, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkPoly(t, "uniform", p, []float64{3 * a / 32, 0.5, 15 / (32 * a)}, 1e-9*math.Max(1, a))
	}
}

// Sample fits of 10^6 N(0,1) draws converge to the analytic fit on the
// same interval at the Monte Carlo rate n^(-1/2).
func TestFitLSSampleConverges(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 200_000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	s, err := NewSample("normal draws", x)
	if err != nil {
		t.Fatal(err)
	}
	for _, deg := range []int{2, 4} {
		ps, err := FitLS(ReLU, s, deg, -5, 5, 0)
		if err != nil {
			t.Fatal(err)
		}
		pa, err := FitLS(ReLU, Normal{0, 1}, deg, -5, 5, 0)
		if err != nil {
			t.Fatal(err)
		}
		tol := 5 / math.Sqrt(float64(n))
		for i := range pa {
			if !near(ps[i], pa[i], tol) {
				t.Errorf("deg %d: sample c%d = %.6f, analytic %.6f (tol %.2g)", deg, i, ps[i], pa[i], tol)
			}
		}
	}
}

// The streaming normal equations and the QR path agree on the same
// discrete data to near machine precision.
func TestFitLSSampleMatchesDistOnGrid(t *testing.T) {
	// A uniform sample on a fine midpoint grid approximates Uniform{-2,2}.
	n := 200_000
	x := make([]float64, n)
	for i := range x {
		x[i] = -2 + 4*(float64(i)+0.5)/float64(n)
	}
	s := &Sample{Label: "grid", X: x}
	ps, err := FitLS(ReLU, s, 2, -2, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkPoly(t, "grid", ps, []float64{3 * 2.0 / 32, 0.5, 15 / 64.0}, 1e-6)
}

func TestFitLSHigherDegreeAndRidge(t *testing.T) {
	// Uniform-weight GELU fits on [−4,4] converge quickly (max error
	// 0.30, 0.14, 0.022, 0.0020 at degrees 2, 4, 8, 12).
	prev := math.Inf(1)
	for _, deg := range []int{2, 4, 8, 12} {
		p, err := FitLS(GELU, Uniform{-4, 4}, deg, -4, 4, 0)
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		for x := -4.0; x <= 4; x += 0.01 {
			worst = math.Max(worst, math.Abs(p.Eval(x)-GELU(x)))
		}
		if !(worst < prev/2) {
			t.Errorf("degree %d GELU max error %.3g did not halve from %.3g", deg, worst, prev)
		}
		prev = worst
	}
	if prev > 3e-3 {
		t.Errorf("degree-12 GELU max error %.3g, want < 3e-3", prev)
	}
	p0, err := FitLS(GELU, Normal{0, 1}, 8, -4, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := FitLS(GELU, Normal{0, 1}, 8, -4, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	a0, a1 := PowerToChebyshev(p0, -4, 4), PowerToChebyshev(p1, -4, 4)
	var n0, n1 float64
	for k := range a0 {
		n0 += a0[k] * a0[k]
		n1 += a1[k] * a1[k]
	}
	if !(n1 < n0) {
		t.Errorf("ridge did not shrink the Chebyshev coefficients: %v vs %v", n1, n0)
	}
}

func TestFitLSBadInput(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name       string
		src        Source
		deg        int
		lo, hi, rg float64
	}{
		{"degree 0", Normal{0, 1}, 0, -1, 1, 0},
		{"degree 31", Normal{0, 1}, 31, -1, 1, 0},
		{"inverted", Normal{0, 1}, 2, 1, -1, 0},
		{"nan interval", Normal{0, 1}, 2, nan, 1, 0},
		{"negative ridge", Normal{0, 1}, 2, -1, 1, -1},
		{"nil source", nil, 2, -1, 1, 0},
		{"empty sample", &Sample{Label: "e"}, 2, -1, 1, 0},
		{"nan sample", &Sample{Label: "n", X: []float64{1, nan, 2}}, 2, -1, 1, 0},
		{"inf sample", &Sample{Label: "i", X: []float64{1, math.Inf(1)}}, 2, -1, 1, 0},
		{"too few distinct", &Sample{Label: "d", X: []float64{1, 1, 1, 1}}, 2, -2, 2, 0},
		{"all outside", &Sample{Label: "o", X: []float64{5, 6, 7}}, 1, -2, 2, 0},
		{"no mass", Uniform{3, 4}, 2, -2, 2, 0},
	}
	for _, c := range cases {
		if _, err := FitLS(ReLU, c.src, c.deg, c.lo, c.hi, c.rg); err == nil {
			t.Errorf("%s: no error", c.name)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
}

func TestChebyshevPowerRoundTrip(t *testing.T) {
	p := Poly{0.3, -1, 2, 0.5, -0.25, 0.125}
	a := PowerToChebyshev(p, -3, 5)
	q := ChebyshevToPower(a, -3, 5)
	checkPoly(t, "round trip", q, p, 1e-11)
}

func TestChebyshevInterp(t *testing.T) {
	// Interpolating a polynomial of the same degree is exact.
	f := func(x float64) float64 { return 1 - 2*x + 3*x*x }
	p, err := ChebyshevInterp(f, 2, -2, 3)
	if err != nil {
		t.Fatal(err)
	}
	checkPoly(t, "quadratic", p, []float64{1, -2, 3}, 1e-12)
	// ReLU on [−1,1] at the nodes ±√3/2, 0: p = (√3/2)·(t+t·... ) checks
	// interpolation conditions directly.
	p, err = ChebyshevInterp(ReLU, 2, -1, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []float64{-math.Sqrt(3) / 2, 0, math.Sqrt(3) / 2} {
		if !near(p.Eval(x), ReLU(x), 1e-14) {
			t.Errorf("p(%v) = %v, want %v", x, p.Eval(x), ReLU(x))
		}
	}
	if _, err := ChebyshevInterp(ReLU, 0, -1, 1); err == nil {
		t.Error("degree 0 accepted")
	}
}

func BenchmarkFitSamples1e7(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float64, 10_000_000)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	s := &Sample{Label: "bench", X: x}
	b.ResetTimer()
	for range b.N {
		if _, err := FitLS(ReLU, s, 2, -5, 5, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitLSNormalQuadrature(b *testing.B) {
	for range b.N {
		if _, err := FitLS(ReLU, Normal{0, 1}, 2, -4, 4, 0); err != nil {
			b.Fatal(err)
		}
	}
}
