package approx

import (
	"fmt"
	"math"
)

// Published fixed quadratic replacements for ReLU. Each needs no data.
var (
	// SquareBaseline is x², the activation of CryptoNets
	// (Gilad-Bachrach et al., ICML 2016), where the network is trained
	// with it in place; it is not an approximation of ReLU.
	SquareBaseline = Poly{0, 0, 1}
	// FasterCryptoNetsBaseline is 0.25 + 0.5x + 0.125x² (coefficients
	// 2⁻², 2⁻¹, 2⁻³), the power-of-two quadratic in the style of Faster
	// CryptoNets (Chou et al. 2018). It is often written (x+2)²/8, but
	// that equals 0.5 + 0.5x + 0.125x²; the coefficients are what we use.
	FasterCryptoNetsBaseline = Poly{0.25, 0.5, 0.125}
	// HEFriendlyBaseline is 0.1992 + 0.5002x + 0.1997x², the widely quoted
	// "HE-friendly" quadratic: a rounded least-squares fit of ReLU under
	// N(0,1), whose exact optimum is (1+x²)/(2√(2π)) + x/2 ≈
	// 0.199471 + 0.5x + 0.199471x².
	HEFriendlyBaseline = Poly{0.1992, 0.5002, 0.1997}
)

// UniformLSReLU returns the least-squares quadratic of ReLU under the
// uniform distribution on [−a,a], 3a/32 + x/2 + 15x²/(32a): the normal
// equations with moments E[X²] = a²/3, E[X⁴] = a⁴/5 and
// E[ReLU·(1,X,X²)] = (a/4, a²/6, a³/8).
func UniformLSReLU(a float64) Poly { return Poly{3 * a / 32, 0.5, 15 / (32 * a)} }

// MinimaxReLU2 returns the best uniform quadratic of ReLU on [−a,a],
// a/16 + x/2 + x²/(2a) with error a/16: ReLU = x/2 + |x|/2 and the best
// quadratic for |t| on [−1,1] is t² + 1/8 (error 1/8).
func MinimaxReLU2(a float64) Poly { return Poly{a / 16, 0.5, 1 / (2 * a)} }

// CompositeSignReLU is ReLU(x) ≈ x·(1+s(x/B))/2 on [−B,B], where s is a
// composition of odd minimax polynomials approximating sign(t) on
// [−1,−ε] ∪ [ε,1] (Lee, Lee, Kim, No, "Minimax approximation of sign
// function by composite polynomial for homomorphic comparison", IEEE TDSC
// 2021; ReLU form from Lee et al., "Precise approximation of
// convolutional neural networks for homomorphically encrypted data",
// 2021). Stage i is the best odd polynomial of degree Degrees[i]
// approximating 1 on the image interval of the previous stage,
// [1−δ, 1+δ] (on [ε,1] for the first), found by our Remez exchange in
// float64 on the basis T_{2k+1}(x/M).
type CompositeSignReLU struct {
	B       float64
	Eps     float64
	Degrees []int
	// stages are Chebyshev-odd coefficient vectors c: p(x) = Σ c_k T_{2k+1}(x/M_i).
	stages [][]float64
	scales []float64
	// Deltas are the minimax errors |p_i − 1| of each stage.
	Deltas []float64
}

// NewCompositeSignReLU builds the composite on [−B,B] with sign
// separation ε (relative to B) and odd stage degrees, e.g. [15 15 27].
func NewCompositeSignReLU(B, eps float64, degrees []int) (*CompositeSignReLU, error) {
	if !(B > 0) || math.IsInf(B, 0) {
		return nil, fmt.Errorf("approx: composite sign: bound B = %v must be positive", B)
	}
	if !(eps > 0 && eps < 1) {
		return nil, fmt.Errorf("approx: composite sign: ε = %v must be in (0,1)", eps)
	}
	if len(degrees) == 0 {
		return nil, fmt.Errorf("approx: composite sign: no stage degrees")
	}
	c := &CompositeSignReLU{B: B, Eps: eps, Degrees: degrees}
	a, b := eps, 1.0
	for _, d := range degrees {
		if d < 1 || d%2 == 0 || d > 63 {
			return nil, fmt.Errorf("approx: composite sign: stage degree %d must be odd and in [1, 63]", d)
		}
		nb := (d + 1) / 2
		M := b
		basis := func(x float64, out []float64) {
			t := x / M
			// out[k] = T_{2k+1}(t) via T_{n+2} = 2(2t²−1)T_n − T_{n−2}.
			out[0] = t
			if nb > 1 {
				out[1] = 4*t*t*t - 3*t
			}
			for k := 2; k < nb; k++ {
				out[k] = 2*(2*t*t-1)*out[k-1] - out[k-2]
			}
		}
		one := func(float64) float64 { return 1 }
		coef, _, _, delta, _, err := remezCore(basis, nb, one, a, b, nil)
		if err != nil {
			return nil, fmt.Errorf("approx: composite sign stage of degree %d on [%g, %g]: %w", d, a, b, err)
		}
		c.stages = append(c.stages, coef)
		c.scales = append(c.scales, M)
		c.Deltas = append(c.Deltas, delta)
		a, b = 1-delta, 1+delta
		if !(a > 0) {
			return nil, fmt.Errorf("approx: composite sign: stage of degree %d leaves error %.3g ≥ 1; increase ε or the degrees", d, delta)
		}
	}
	return c, nil
}

// Sign evaluates the composite approximation of sign(t), t ∈ [−1,1].
func (c *CompositeSignReLU) Sign(t float64) float64 {
	for i, coef := range c.stages {
		u := t / c.scales[i]
		Tprev, T := u, 4*u*u*u-3*u
		s := coef[0] * Tprev
		if len(coef) > 1 {
			s += coef[1] * T
		}
		w := 2 * (2*u*u - 1)
		for k := 2; k < len(coef); k++ {
			Tprev, T = T, w*T-Tprev
			s += coef[k] * T
		}
		t = s
	}
	return t
}

// Eval returns x·(1+s(x/B))/2.
func (c *CompositeSignReLU) Eval(x float64) float64 { return x * (1 + c.Sign(x/c.B)) / 2 }

// Depth is the CKKS depth: each stage of degree d costs ceil(log2(d+1))
// levels (the 1/B scaling folds into the first stage), plus one for the
// final product with x.
func (c *CompositeSignReLU) Depth() int {
	depth := 1
	for _, d := range c.Degrees {
		depth += GenericDepth(d)
	}
	return depth
}

// DefaultCompositeDegrees are the stage degrees of Lee et al.'s
// depth-optimal composite for high precision.
var DefaultCompositeDegrees = []int{15, 15, 27}
