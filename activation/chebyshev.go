package activation

import "math"

// ChebyshevT sets out[k] = T_k(t) for k < len(out) by the three-term
// recurrence T_{k+1} = 2t·T_k − T_{k−1}.
func ChebyshevT(t float64, out []float64) {
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

// PowerToChebyshev returns the Chebyshev coefficients on [lo,hi] of the
// power-basis polynomial p, exactly up to rounding (interpolation at
// deg+1 Chebyshev nodes reproduces a polynomial of that degree).
func PowerToChebyshev(p Poly, lo, hi float64) []float64 {
	return Interpolate(p.Eval, len(p)-1, lo, hi)
}

// Interpolate returns the Chebyshev coefficients on [lo,hi] of the
// degree-deg polynomial interpolating f at the deg+1 Chebyshev points of
// the first kind (Trefethen, ATAP, ch. 3–4).
func Interpolate(f func(float64) float64, deg int, lo, hi float64) []float64 {
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
		ChebyshevT(ts[j], T)
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
