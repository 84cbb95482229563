package approx

import "math"

// invPhi is 1/φ = (√5 − 1)/2, the fraction of the bracket a golden-section
// step keeps.
const invPhi = 0.6180339887498949

// goldenBracket is the state a golden-section search ends in: the bracket
// [a, b] and its two interior points c < d with their values.
type goldenBracket struct{ a, b, c, d, fc, fd float64 }

// goldenMin narrows [a, b] around a minimum of f by golden-section search
// (Kiefer, "Sequential minimax search for a maximum", Proc. AMS 1953)
// until b − a ≤ max(absTol, relTol·(|a|+|b|)) or maxIter steps. Each step
// costs one evaluation. On a unimodal f the minimum stays inside the
// bracket; on another f the search still only ever moves towards the
// smaller of the two values it holds. An error from f stops the search.
func goldenMin(f func(float64) (float64, error), a, b, relTol, absTol float64, maxIter int) (goldenBracket, error) {
	g := goldenBracket{a: a, b: b, c: b - invPhi*(b-a), d: a + invPhi*(b-a)}
	var err error
	if g.fc, err = f(g.c); err != nil {
		return g, err
	}
	if g.fd, err = f(g.d); err != nil {
		return g, err
	}
	for i := 0; i < maxIter && g.b-g.a > math.Max(absTol, relTol*(math.Abs(g.a)+math.Abs(g.b))); i++ {
		if g.fc <= g.fd {
			g.b, g.d, g.fd = g.d, g.c, g.fc
			g.c = g.b - invPhi*(g.b-g.a)
			if g.fc, err = f(g.c); err != nil {
				return g, err
			}
		} else {
			g.a, g.c, g.fc = g.c, g.d, g.fd
			g.d = g.a + invPhi*(g.b-g.a)
			if g.fd, err = f(g.d); err != nil {
				return g, err
			}
		}
	}
	return g, nil
}

// goldenMax returns the point of [a, b] where a unimodal h is largest, to
// float64 resolution: the better interior point of the final golden-section
// bracket, or an end point if h is larger there (a maximum on the
// boundary, which the interior points only approach).
func goldenMax(h func(float64) float64, a, b float64) float64 {
	g, _ := goldenMin(func(x float64) (float64, error) { return -h(x), nil }, a, b, 1e-15, 1e-15, 80)
	best, hb := g.c, -g.fc
	if -g.fd > hb {
		best, hb = g.d, -g.fd
	}
	if ha := h(g.a); ha > hb {
		best, hb = g.a, ha
	}
	if h(g.b) > hb {
		best = g.b
	}
	return best
}
