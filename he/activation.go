package he

import (
	"errors"
	"fmt"
	"math"

	"github.com/krelu/krelu/activation"
	"github.com/tuneinsight/lattigo/v6/circuits/ckks/polynomial"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
	"github.com/tuneinsight/lattigo/v6/utils/bignum"
)

// QuadOptions tune [EvalQuadratic].
type QuadOptions struct {
	// FoldLeading leaves the leading coefficient out: the result holds
	// p(x)/c_d and the caller multiplies its next linear layer by c_d
	// (returned as the factor). The output scale is then exactly that of a
	// bare square, Δ_in²/q_level, independent of the coefficients.
	FoldLeading bool
}

// minScaleRatio bounds how far a folded coefficient may push the scale:
// the scalar MulThenAdd encodes c1 at the ratio of two scales, which needs
// headroom for precision.
const minScaleRatio = 1 << 10

// EvalQuadratic evaluates p(x) = c0 + c1·x + c2·x² (degree ≤ 2) on ct in
// exactly one level for degree 2 and none for degree 1. The only
// non-scalar operation is one MulRelin (x·x) and one Rescale; c2 goes into
// the scale metadata, c1·x is accumulated by a scalar MulThenAdd that
// needs no rescale, c0 is a constant addition. It returns the result and
// the factor the caller must still multiply by (1, or c_d with
// FoldLeading).
//
// The output scale is Δ_in²/(|c2|·q_L) (Δ_in²/q_L with FoldLeading), where
// q_L is the prime dropped by the rescale; Lattigo tracks it exactly in the
// ciphertext metadata. Use [InputScaleFor] to make it hit a target.
func EvalQuadratic(eval *ckks.Evaluator, ct *rlwe.Ciphertext, p activation.Poly, opt QuadOptions) (*rlwe.Ciphertext, float64, error) {
	params := *eval.GetParameters()
	if err := CheckCiphertext(params, ct); err != nil {
		return nil, 0, err
	}
	if err := checkCoeffs(p); err != nil {
		return nil, 0, err
	}
	d := p.Degree()
	if d > 2 {
		return nil, 0, fmt.Errorf("he: EvalQuadratic needs degree ≤ 2, have %d (use EvalPolynomial)", d)
	}
	if d == 0 {
		return nil, 0, fmt.Errorf("he: constant polynomial %v: nothing to evaluate", p[0])
	}
	c := [3]float64{}
	copy(c[:], p)
	lead := c[d]
	factor := 1.0

	var out *rlwe.Ciphertext
	if d == 1 {
		out = ct.CopyNew()
	} else {
		if err := NeedLevel(ct, 1); err != nil {
			return nil, 0, err
		}
		var err error
		if out, err = eval.MulRelinNew(ct, ct); err != nil {
			return nil, 0, fmt.Errorf("he: square: %w", err)
		}
	}
	a0, a1 := c[0], c[1]
	if opt.FoldLeading {
		factor = lead
		a0 /= lead
		if d == 2 {
			a1 /= lead
		}
	} else {
		// The represented value is data/scale, so dividing the scale by
		// |lead| multiplies the value by |lead| at no cost.
		if lead < 0 {
			negate(params, out)
		}
		out.Scale = out.Scale.Div(rlwe.NewScale(math.Abs(lead)))
	}
	if d == 2 && a1 != 0 {
		if r := out.Scale.Float64() / ct.Scale.Float64(); r < minScaleRatio {
			return nil, 0, fmt.Errorf("he: leading coefficient %g too large for input scale 2^%.1f (use FoldLeading)", lead, ct.Scale.Log2())
		}
		if err := eval.MulThenAdd(ct, a1, out); err != nil {
			return nil, 0, fmt.Errorf("he: linear term: %w", err)
		}
	}
	if a0 != 0 {
		if err := eval.Add(out, a0, out); err != nil {
			return nil, 0, fmt.Errorf("he: constant term: %w", err)
		}
	}
	if d == 2 {
		if err := eval.Rescale(out, out); err != nil {
			return nil, 0, fmt.Errorf("he: rescale: %w", err)
		}
	}
	return out, factor, nil
}

func negate(params ckks.Parameters, ct *rlwe.Ciphertext) {
	r := params.RingQ().AtLevel(ct.Level())
	for i := range ct.Value {
		r.Neg(ct.Value[i], ct.Value[i])
	}
}

func checkCoeffs(p activation.Poly) error {
	if len(p) == 0 {
		return fmt.Errorf("he: empty polynomial")
	}
	for i, c := range p {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return fmt.Errorf("he: coefficient %d is %v", i, c)
		}
	}
	return nil
}

// InputScaleFor returns the encryption scale Δ_in for a ciphertext at
// level that makes [EvalQuadratic] output exactly at target:
// Δ_in = sqrt(target·|lead|·q_level), with lead = 1 under FoldLeading.
func InputScaleFor(params ckks.Parameters, level int, lead float64, target rlwe.Scale) (rlwe.Scale, error) {
	if level < 1 || level > params.MaxLevel() {
		return rlwe.Scale{}, fmt.Errorf("he: level %d outside [1, %d]", level, params.MaxLevel())
	}
	if !(math.Abs(lead) > 0) || math.IsInf(lead, 0) {
		return rlwe.Scale{}, fmt.Errorf("he: invalid leading coefficient %v", lead)
	}
	q := float64(params.Q()[level])
	return rlwe.NewScale(math.Sqrt(target.Float64() * math.Abs(lead) * q)), nil
}

// Square returns ct² (MulRelin + Rescale): the floor any one-level
// activation is measured against.
func Square(eval *ckks.Evaluator, ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	if err := CheckCiphertext(*eval.GetParameters(), ct); err != nil {
		return nil, err
	}
	if err := NeedLevel(ct, 1); err != nil {
		return nil, err
	}
	out, err := eval.MulRelinNew(ct, ct)
	if err != nil {
		return nil, fmt.Errorf("he: square: %w", err)
	}
	if err := eval.Rescale(out, out); err != nil {
		return nil, fmt.Errorf("he: rescale: %w", err)
	}
	return out, nil
}

// PolyDepth is the number of levels Lattigo's generic evaluator consumes
// for a polynomial of degree d: ceil(log2(d+1)).
func PolyDepth(d int) int {
	if d < 1 {
		return 0
	}
	return bitsLen(d)
}

func bitsLen(d int) int {
	n := 0
	for d > 0 {
		n++
		d >>= 1
	}
	return n
}

// EvalPolynomial evaluates p (power basis) on ct with Lattigo's generic
// baby-step giant-step evaluator, consuming [PolyDepth](p.Degree()) levels;
// the output is at ct's scale. It is the general path for any degree and
// the baseline EvalQuadratic is measured against.
func EvalPolynomial(eval *ckks.Evaluator, ct *rlwe.Ciphertext, p activation.Poly) (*rlwe.Ciphertext, error) {
	params := *eval.GetParameters()
	if err := CheckCiphertext(params, ct); err != nil {
		return nil, err
	}
	if err := checkCoeffs(p); err != nil {
		return nil, err
	}
	d := p.Degree()
	if d < 1 {
		return nil, fmt.Errorf("he: constant polynomial: nothing to evaluate")
	}
	if err := NeedLevel(ct, PolyDepth(d)); err != nil {
		return nil, err
	}
	poly := bignum.NewPolynomial(bignum.Monomial, []float64(p[:d+1]), nil)
	out, err := polynomial.NewEvaluator(params, eval).Evaluate(ct, poly, ct.Scale)
	if err != nil {
		return nil, fmt.Errorf("he: polynomial evaluator: %w", err)
	}
	return out, nil
}

// EvalChebyshev evaluates Σ a_k T_k(t), t = (2x−lo−hi)/(hi−lo), on ct
// with Lattigo's generic evaluator; numerically preferable to the power
// basis above degree ~8. It consumes PolyDepth(len(cheb)-1) levels, plus
// one for the change of variable unless the interval is [−1, 1].
//
// Folding the factor 2/(hi−lo) into the scale instead (free) was measured
// to cost precision: Lattigo's evaluator then adds powers whose scales
// differ by non-integer ratios (24 bits instead of 30+ for degree 6 at
// scale 2^40; 2^-9 instead of 2^-19 for a degree-7 sign stage).
func EvalChebyshev(eval *ckks.Evaluator, ct *rlwe.Ciphertext, cheb []float64, interval [2]float64) (*rlwe.Ciphertext, error) {
	params := *eval.GetParameters()
	if err := CheckCiphertext(params, ct); err != nil {
		return nil, err
	}
	if err := checkCoeffs(cheb); err != nil {
		return nil, err
	}
	lo, hi := interval[0], interval[1]
	if !(lo < hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil, fmt.Errorf("he: invalid interval [%v, %v]", lo, hi)
	}
	d := len(cheb) - 1
	if d < 1 {
		return nil, fmt.Errorf("he: constant polynomial: nothing to evaluate")
	}
	unit := lo == -1 && hi == 1
	depth := PolyDepth(d)
	if !unit {
		depth++
	}
	if err := NeedLevel(ct, depth); err != nil {
		return nil, err
	}
	t := ct
	if !unit {
		var err error
		if t, err = affine(eval, ct, 2/(hi-lo), -(lo+hi)/(hi-lo)); err != nil {
			return nil, err
		}
	}
	poly := bignum.NewPolynomial(bignum.Chebyshev, cheb, [2]float64{-1, 1})
	out, err := polynomial.NewEvaluator(params, eval).Evaluate(t, poly, ct.Scale)
	if err != nil {
		return nil, fmt.Errorf("he: polynomial evaluator: %w", err)
	}
	return out, nil
}

// affine returns a·x + b in one level, at x's scale.
func affine(eval *ckks.Evaluator, ct *rlwe.Ciphertext, a, b float64) (*rlwe.Ciphertext, error) {
	t, err := eval.MulNew(ct, a)
	if err != nil {
		return nil, fmt.Errorf("he: change of variable: %w", err)
	}
	if err := eval.Rescale(t, t); err != nil {
		return nil, fmt.Errorf("he: change of variable: %w", err)
	}
	if b != 0 {
		if err := eval.Add(t, b, t); err != nil {
			return nil, fmt.Errorf("he: change of variable: %w", err)
		}
	}
	return t, nil
}

// chebyshevAbove is the degree above which EvalActivation evaluates in the
// Chebyshev basis on the activation's interval, at one more level. The
// power basis is cheaper but its powers of x outgrow the scale: a degree-30
// fit to ReLU on [−3.9, 3.9] decrypted to −14 bits at LogN 14 against 32
// bits in the Chebyshev basis, and the power basis's minimum precision
// already falls from 25 bits at degree 8 to 18 at degree 10.
const chebyshevAbove = 8

// EvalActivation evaluates a fitted activation at minimal depth: degree ≤ 2
// through EvalQuadratic (one level), degrees 3…8 through the generic
// evaluator in the power basis (PolyDepth levels), higher degrees in the
// Chebyshev basis of the activation's interval (see [ActivationDepth]).
func EvalActivation(eval *ckks.Evaluator, ct *rlwe.Ciphertext, act *activation.Activation) (*rlwe.Ciphertext, error) {
	if err := act.Validate(); err != nil {
		return nil, err
	}
	p := act.Poly()
	switch d := p.Degree(); {
	case d <= 2:
		out, _, err := EvalQuadratic(eval, ct, p, QuadOptions{})
		return out, err
	case d > chebyshevAbove:
		// From the power coefficients rather than act.Chebyshev, so that
		// the encrypted result is the polynomial the file states (and
		// the one reports compare against) even if the two disagree.
		cheb := activation.PowerToChebyshev(p[:d+1], act.Interval[0], act.Interval[1])
		return EvalChebyshev(eval, ct, cheb, act.Interval)
	}
	return EvalPolynomial(eval, ct, p)
}

// ActivationDepth is the number of levels EvalActivation consumes.
func ActivationDepth(act *activation.Activation) int {
	d := act.Poly().Degree()
	switch {
	case d <= 1:
		return 0
	case d == 2:
		return 1
	case d > chebyshevAbove:
		if act.Interval == [2]float64{-1, 1} {
			return PolyDepth(d)
		}
		return PolyDepth(d) + 1 // the change of variable to [−1, 1]
	}
	return PolyDepth(d)
}

// ErrScaleMismatch is returned when two ciphertexts to be added carry
// different scales: Lattigo would add them silently and return a wrong
// sum (x + x/1.5 came back as 1.333x when measured).
var ErrScaleMismatch = errors.New("he: scale mismatch")

// AddCiphertexts returns a + b after checking that both belong to the
// evaluator's parameters and carry the same scale (to 2^-30 relative); the
// result is at the lower of the two levels.
func AddCiphertexts(eval *ckks.Evaluator, a, b *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	params := *eval.GetParameters()
	for _, ct := range []*rlwe.Ciphertext{a, b} {
		if err := CheckCiphertext(params, ct); err != nil {
			return nil, err
		}
	}
	if d := math.Abs(a.Scale.Log2() - b.Scale.Log2()); d > 1e-9 {
		return nil, fmt.Errorf("%w: 2^%.6f vs 2^%.6f", ErrScaleMismatch, a.Scale.Log2(), b.Scale.Log2())
	}
	out, err := eval.AddNew(a, b)
	if err != nil {
		return nil, fmt.Errorf("he: add: %w", err)
	}
	return out, nil
}
