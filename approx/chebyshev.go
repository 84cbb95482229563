package approx

import (
	"fmt"
	"math"

	"github.com/krelu/krelu/activation"
)

// scaleTo returns t = (2x − lo − hi)/(hi − lo), the map of [lo,hi] onto [−1,1].
func scaleTo(x, lo, hi float64) float64 { return (2*x - lo - hi) / (hi - lo) }

// checkPowerForm verifies that the power form p of the Chebyshev series a
// on [lo,hi] still evaluates to the series, to 1e-6 of its scale, at 33
// Chebyshev points. The conversion multiplies powers of 2/(hi−lo): on
// [−1e200, 1e200] they underflowed and the x² coefficient of a direct fit
// came out as exactly 0, and high degrees on wide intervals cancel. A fit
// whose stored coefficients are wrong must fail, not be written.
func checkPowerForm(p Poly, a []float64, lo, hi float64) error {
	const n = 33
	tk := make([]float64, len(a))
	var maxDiff, scale float64
	for i := range n {
		t := math.Cos(math.Pi * float64(i) / (n - 1))
		x := lo/2 + hi/2 + (hi/2-lo/2)*t // halves first: hi−lo may overflow
		activation.ChebyshevT(t, tk)
		var s float64
		for k, c := range a {
			s += c * tk[k]
		}
		scale = math.Max(scale, math.Max(math.Abs(s), math.Abs(x)))
		maxDiff = math.Max(maxDiff, math.Abs(p.Eval(x)-s))
	}
	if !(maxDiff <= 1e-6*scale) {
		return fmt.Errorf("approx: the power-basis form of this degree-%d fit on [%g, %g] is off by %.3g (scale %.3g): "+
			"the interval is too wide or too far from 0 for the power basis; rescale the data or lower the degree",
			len(a)-1, lo, hi, maxDiff, scale)
	}
	return nil
}

// ChebyshevInterp returns the degree-deg polynomial interpolating f at
// the deg+1 Chebyshev points of the first kind on [lo,hi] (Trefethen,
// Approximation Theory and Approximation Practice, ch. 3–4): near-minimax
// within a factor 2+(2/π)log(deg+1) of the best error, at no search cost.
func ChebyshevInterp(f Target, deg int, lo, hi float64) (Poly, error) {
	a, err := ChebyshevInterpCoeffs(f, deg, lo, hi)
	if err != nil {
		return nil, err
	}
	return ChebyshevToPower(a, lo, hi), nil
}

// ChebyshevInterpCoeffs is ChebyshevInterp returning Chebyshev coefficients.
func ChebyshevInterpCoeffs(f Target, deg int, lo, hi float64) ([]float64, error) {
	if err := checkFitArgs(f, deg, lo, hi); err != nil {
		return nil, err
	}
	a := activation.Interpolate(f, deg, lo, hi)
	for k, v := range a {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("approx: Chebyshev interpolation: coefficient %d is %v (target not finite on [%v, %v]?)", k, v, lo, hi)
		}
	}
	return a, nil
}

// checkFitArgs validates the arguments shared by every fitting routine.
func checkFitArgs(f Target, deg int, lo, hi float64) error {
	if f == nil {
		return fmt.Errorf("approx: nil target")
	}
	if deg < 1 || deg > MaxDegree {
		return fmt.Errorf("approx: degree %d out of range [1, %d]", deg, MaxDegree)
	}
	return checkInterval(lo, hi)
}

func checkInterval(lo, hi float64) error {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return fmt.Errorf("approx: interval [%v, %v] is not finite", lo, hi)
	}
	if !(lo < hi) {
		return fmt.Errorf("approx: inverted or empty interval [%v, %v] (want lo < hi)", lo, hi)
	}
	return nil
}
