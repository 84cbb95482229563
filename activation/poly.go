package activation

import "math"

// MaxDegree is the largest polynomial degree krelu accepts. Beyond it the
// power basis loses all precision in float64 and CKKS depth becomes absurd.
const MaxDegree = 30

// Poly is a polynomial in the power basis: p(x) = Σ Poly[i]·x^i.
type Poly []float64

// Degree returns the degree of p, ignoring trailing zero coefficients.
func (p Poly) Degree() int {
	d := len(p) - 1
	for d > 0 && p[d] == 0 {
		d--
	}
	return d
}

// Eval returns p(x) by Horner's rule.
func (p Poly) Eval(x float64) float64 {
	var y float64
	for i := len(p) - 1; i >= 0; i-- {
		y = y*x + p[i]
	}
	return y
}

// Deriv returns p'(x) by Horner's rule.
func (p Poly) Deriv(x float64) float64 {
	var y float64
	for i := len(p) - 1; i >= 1; i-- {
		y = y*x + float64(i)*p[i]
	}
	return y
}

// Depth returns the CKKS multiplicative depth (levels) at which krelu
// evaluates a polynomial of degree d. A degree-2 polynomial costs one level:
// it is evaluated as one square with c2 folded into the scale and c1·x added
// at matching scale (package he). Other degrees use the power-of-two tree of
// Lattigo's polynomial evaluator, GenericDepth(d).
func Depth(d int) int {
	if d == 2 {
		return 1
	}
	return GenericDepth(d)
}

// GenericDepth returns ceil(log2(d+1)), the depth of Lattigo's generic
// polynomial evaluator (Bossuat et al., Eurocrypt 2021) for degree d ≥ 1,
// which also spends a level on the non-integer scalar multiplications.
func GenericDepth(d int) int {
	if d < 1 {
		return 0
	}
	return int(math.Ceil(math.Log2(float64(d + 1))))
}
