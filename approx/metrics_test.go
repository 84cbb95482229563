package approx

import (
	"math"
	"slices"
	"testing"
)

// Under N(0,1) the LS quadratic has mean squared error
// E[ReLU²] − c·E[ReLU·(1,X,X²)] = 1/4 − 3/(4π).
func TestEvalMetricsNormalClosedForm(t *testing.T) {
	c := 1 / (2 * math.Sqrt(2*math.Pi))
	p := Poly{c, 0.5, c}
	m, err := EvalMetrics(p, ReLU, Normal{0, 1}, -12, 12)
	if err != nil {
		t.Fatal(err)
	}
	want := math.Sqrt(0.25 - 3/(4*math.Pi))
	if !near(m.RMSE, want, 1e-9) {
		t.Errorf("RMSE %.12g, want %.12g", m.RMSE, want)
	}
	// ReLU's odd part is matched exactly, so both halves have equal error.
	if !near(m.RMSENeg, want, 1e-9) || !near(m.RMSEPos, want, 1e-9) {
		t.Errorf("RMSE x<0 %.12g, x≥0 %.12g, want %.12g", m.RMSENeg, m.RMSEPos, want)
	}
	if !near(m.RelL2, want/math.Sqrt(0.5), 1e-9) {
		t.Errorf("RelL2 %.12g", m.RelL2)
	}
	// The error is largest at the interval ends: p(12) − 12.
	if !near(m.MaxAbs, p.Eval(12)-12, 1e-9) {
		t.Errorf("MaxAbs %.12g, want %.12g", m.MaxAbs, p.Eval(12)-12)
	}
	if m.Depth != 1 || m.N != 0 || m.OutsideFrac > 1e-30 {
		t.Errorf("depth %d n %d outside %v", m.Depth, m.N, m.OutsideFrac)
	}
}

// On a uniform source the minimax quadratic's error a/16 is attained at
// 0 and ±a; the quadrature metrics agree with those of a fine midpoint
// sample of the same distribution.
func TestEvalMetricsDistMatchesSample(t *testing.T) {
	a := 4.0
	p := MinimaxReLU2(a)
	md, err := EvalMetrics(p, ReLU, Uniform{-a, a}, -a, a)
	if err != nil {
		t.Fatal(err)
	}
	if !near(md.MaxAbs, a/16, 1e-12) {
		t.Errorf("MaxAbs %.15g, want %v", md.MaxAbs, a/16)
	}
	n := 400000
	x := make([]float64, n)
	for i := range x {
		x[i] = -a + 2*a*(float64(i)+0.5)/float64(n)
	}
	ms, err := EvalMetrics(p, ReLU, &Sample{Label: "grid", X: x}, -a, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		d, s float64
	}{{"rmse", md.RMSE, ms.RMSE}, {"mae", md.MAE, ms.MAE}, {"p99", md.P99Abs, ms.P99Abs}, {"rel", md.RelL2, ms.RelL2}, {"neg", md.RMSENeg, ms.RMSENeg}} {
		if !near(c.d, c.s, 1e-6) {
			t.Errorf("%s: dist %.9g, sample %.9g", c.name, c.d, c.s)
		}
	}
	if ms.N != n {
		t.Errorf("N = %d", ms.N)
	}
}

func TestEvalMetricsOutside(t *testing.T) {
	s := &Sample{Label: "s", X: []float64{-10, -1, 0, 1, 10}}
	m, err := EvalMetrics(Poly{0, 0.5, 0.5}, ReLU, s, -2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !near(m.OutsideFrac, 0.4, 1e-15) || m.N != 5 {
		t.Errorf("outside %v n %d", m.OutsideFrac, m.N)
	}
	// errors at −1, 0, 1: 0, 0, 0 → p = x/2 + x²/2 equals ReLU at −1, 0, 1.
	if m.MaxAbs > 1e-15 {
		t.Errorf("MaxAbs %v", m.MaxAbs)
	}
	if _, err := EvalMetrics(Poly{1}, ReLU, s, 20, 30); err == nil {
		t.Error("no held-out values in the interval accepted")
	}
	if _, err := EvalMetrics(nil, ReLU, s, -1, 1); err == nil {
		t.Error("empty polynomial accepted")
	}
	if _, err := EvalMetrics(Poly{1}, ReLU, s, 1, -1); err == nil {
		t.Error("inverted interval accepted")
	}
}

func TestJacksonBound(t *testing.T) {
	// Jackson's bound must dominate the true minimax error.
	for _, deg := range []int{1, 2, 4, 7} {
		_, e, err := Minimax(ReLU, deg, -3, 3)
		if err != nil {
			t.Fatal(err)
		}
		if j := JacksonBound(1, deg, -3, 3); !(e <= j) {
			t.Errorf("degree %d: minimax error %v above Jackson bound %v", deg, e, j)
		}
	}
	if !near(JacksonBound(1, 2, -4, 4), math.Pi*4/6, 1e-15) {
		t.Error("Jackson bound formula")
	}
}

func TestKthSmallest(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 1001} {
		x := Draw(Normal{0, 1}, n, uint64(n))
		// add ties
		for i := 0; i < n/3; i++ {
			x[i] = x[n-1-i]
		}
		sorted := append([]float64(nil), x...)
		slices.Sort(sorted)
		for _, k := range []int{0, n / 2, (99 * n) / 100, n - 1} {
			a := append([]float64(nil), x...)
			if got := kthSmallest(a, k); got != sorted[k] {
				t.Errorf("n=%d k=%d: %v, want %v", n, k, got, sorted[k])
			}
		}
	}
}
