package approx

import (
	"math"
	"testing"
)

func TestBaselineClosedForms(t *testing.T) {
	for _, a := range []float64{1, 3.5} {
		p, err := FitLS(ReLU, Uniform{-a, a}, 2, -a, a, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkPoly(t, "UniformLSReLU", UniformLSReLU(a), p, 1e-9)
		q, e, err := Minimax(ReLU, 2, -a, a)
		if err != nil {
			t.Fatal(err)
		}
		checkPoly(t, "MinimaxReLU2", MinimaxReLU2(a), q, 1e-7)
		if !near(e, a/16, 1e-9) {
			t.Errorf("minimax error %v, want %v", e, a/16)
		}
	}
	// The quoted HE-friendly quadratic is the rounded N(0,1) optimum.
	c := 1 / (2 * math.Sqrt(2*math.Pi))
	checkPoly(t, "HE-friendly", HEFriendlyBaseline, []float64{c, 0.5, c}, 5e-4)
	// Note: 0.25 + 0.5x + 0.125x² is (x+2)²/8 − 1/4, not (x+2)²/8 as
	// sometimes written; we keep the power-of-two coefficients.
	for _, x := range []float64{-3, 0, 1.7} {
		if !near(FasterCryptoNetsBaseline.Eval(x), (x+2)*(x+2)/8-0.25, 1e-15) {
			t.Errorf("Faster CryptoNets at %v", x)
		}
	}
}

func TestCompositeSignReLU(t *testing.T) {
	c, err := NewCompositeSignReLU(4, math.Ldexp(1, -10), DefaultCompositeDegrees)
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Depth(); d != 14 {
		t.Errorf("depth %d, want 4+4+5+1 = 14", d)
	}
	for i, d := range c.Deltas {
		t.Logf("stage %d (degree %d): δ = %.3g", i, c.Degrees[i], d)
	}
	// Odd, and close to sign away from 0.
	for _, x := range []float64{0.001, 0.01, 0.3, 1} {
		if !near(c.Sign(-x), -c.Sign(x), 1e-12) {
			t.Errorf("sign not odd at %v", x)
		}
		if !near(c.Sign(x), 1, c.Deltas[2]*(1+1e-9)) {
			t.Errorf("sign(%v) = %v", x, c.Sign(x))
		}
	}
	var worst float64
	for x := -4.0; x <= 4; x += 1e-3 {
		worst = math.Max(worst, math.Abs(c.Eval(x)-ReLU(x)))
	}
	// On |x| < εB the error is at most ≈ εB; elsewhere B·δ/2.
	if bound := math.Max(4*c.Deltas[2]/2, 4*c.Eps) * 1.01; worst > bound {
		t.Errorf("composite ReLU max error %.3g", worst)
	}
	t.Logf("composite ReLU max error on [-4,4]: %.3g", worst)
	if _, err := NewCompositeSignReLU(4, 0.01, []int{4}); err == nil {
		t.Error("even stage degree accepted")
	}
}
