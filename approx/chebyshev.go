package approx

import (
	"fmt"
	"math"
)

// chebFill sets out[k] = T_k(t) for k < len(out) by the three-term
// recurrence T_{k+1} = 2t·T_k − T_{k−1}.
func chebFill(t float64, out []float64) {
	if len(out) == 0 {
		return
	}
	out[0] = 1
	if len(out) == 1 {
		return
	}
	out[1] = t
	for k := 2; k < len(out); k++ {
		out[k] = 2*t*out[k-1] - out[k-2]
	}
}

// scaleTo returns t = (2x − lo − hi)/(hi − lo), the map of [lo,hi] onto [−1,1].
func scaleTo(x, lo, hi float64) float64 { return (2*x - lo - hi) / (hi - lo) }

// ChebyshevToPower converts p(x) = Σ a_k T_k(t), t = (2x−lo−hi)/(hi−lo),
// to the power basis in x. For high degrees on wide intervals the power
// coefficients lose relative precision (that is why activation files keep
// the Chebyshev coefficients too).
func ChebyshevToPower(a []float64, lo, hi float64) Poly {
	n := len(a)
	p := make(Poly, n)
	if n == 0 {
		return p
	}
	alpha, beta := 2/(hi-lo), -(lo+hi)/(hi-lo)
	prev := make([]float64, n) // T_{k-1} in powers of x
	cur := make([]float64, n)  // T_k
	prev[0] = 1
	p[0] += a[0]
	if n == 1 {
		return p
	}
	cur[0], cur[1] = beta, alpha
	for i := range 2 {
		p[i] += a[1] * cur[i]
	}
	next := make([]float64, n)
	for k := 2; k < n; k++ {
		// T_{k} = 2(αx+β)T_{k−1} − T_{k−2}
		for i := range next {
			next[i] = 2*beta*cur[i] - prev[i]
			if i > 0 {
				next[i] += 2 * alpha * cur[i-1]
			}
		}
		for i := 0; i <= k; i++ {
			p[i] += a[k] * next[i]
		}
		prev, cur, next = cur, next, prev
	}
	return p
}

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
		chebFill(t, tk)
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

// PowerToChebyshev returns the Chebyshev coefficients on [lo,hi] of the
// power-basis polynomial p, exactly up to rounding (interpolation at
// deg+1 Chebyshev nodes reproduces a polynomial of that degree).
func PowerToChebyshev(p Poly, lo, hi float64) []float64 {
	return chebInterp(p.Eval, len(p)-1, lo, hi)
}

func chebInterp(f func(float64) float64, deg int, lo, hi float64) []float64 {
	n := deg + 1
	fx := make([]float64, n)
	ts := make([]float64, n)
	for j := range n {
		ts[j] = math.Cos(math.Pi * (float64(j) + 0.5) / float64(n))
		fx[j] = f((lo+hi)/2 + (hi-lo)/2*ts[j])
	}
	a := make([]float64, n)
	T := make([]float64, n)
	for j := range n {
		chebFill(ts[j], T)
		for k := range n {
			a[k] += fx[j] * T[k]
		}
	}
	for k := range a {
		a[k] *= 2 / float64(n)
	}
	a[0] /= 2
	return a
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
	a := chebInterp(f, deg, lo, hi)
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
