package he

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/tuneinsight/lattigo/v6/circuits/ckks/minimax"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// Composite minimax sign polynomials in the Chebyshev basis on [−1, 1],
// generated once with Lattigo (it prints them and takes seconds, so they
// are stored):
//
//	minimax.GenMinimaxCompositePolynomialForSign(256, logAlpha, 30, degrees)
//
// SignAlpha10 (degrees 15, 15, 15, 7; logAlpha 10) separates |t| ≥ 2^-10
// with output error 2^-18.4 in 15 levels. SignAlpha6 (degrees 7, 7;
// logAlpha 6) is a cheap 6-level one (error 2^-1.4) for tests.
var (
	SignAlpha10 = [][]string{
		{"0", "0.6448250726384", "0", "-0.2163237775183", "0", "0.1315899000493", "0", "-0.0959962927605", "0", "0.0768328965010", "0", "-0.0653677013138", "0", "0.0583488127633", "0", "-0.5215883144327"},
		{"0", "0.7321576047659", "0", "-0.2451824899486", "0", "0.1485733903325", "0", "-0.1077721906885", "0", "0.0856403433769", "0", "-0.0721951977828", "0", "0.0636897479779", "0", "-0.4553360561510"},
		{"0", "1.2108149479722", "0", "-0.3934225644644", "0", "0.2241575384142", "0", "-0.1479286689728", "0", "0.1032071481418", "0", "-0.0733116632338", "0", "0.0518886717231", "0", "-0.0674024935287"},
		{"0", "1.2041676690838", "0", "-0.2538822463945", "0", "0.0565064787453", "0", "-0.0067948596642"},
	}
	SignAlpha6 = [][]string{
		{"0", "0.696386056742", "0", "-0.238254974210", "0", "0.151716679186", "0", "-0.519275939718"},
		{"0", "1.272541029242", "0", "-0.422701462809", "0", "0.253249552132", "0", "-0.479127836103"},
	}
)

// ReLUReference is the high-precision reference ReLU(x) = x·(1+sign(x/B))/2
// with sign a composite minimax polynomial evaluated by Lattigo's minimax
// evaluator (Lee, Lee, Kim, No, IEEE TDSC 2021). It is deep: the sum of
// the stages' depths plus one level.
type ReLUReference struct {
	// B is the half-width of the input interval [−B, B].
	B    float64
	sign minimax.Polynomial
}

// NewReLUReference builds the reference on [−B, B] from a composite sign
// polynomial in Lattigo's format (e.g. SignAlpha10).
func NewReLUReference(B float64, sign [][]string) (*ReLUReference, error) {
	if !(B > 0) || math.IsInf(B, 0) {
		return nil, fmt.Errorf("he: ReLU reference needs B > 0, have %v", B)
	}
	if len(sign) == 0 {
		return nil, fmt.Errorf("he: empty composite sign polynomial")
	}
	for i, st := range sign {
		if len(st) < 2 {
			return nil, fmt.Errorf("he: sign stage %d has %d coefficients", i, len(st))
		}
		for j, c := range st {
			if _, ok := new(big.Float).SetString(c); !ok {
				return nil, fmt.Errorf("he: sign stage %d coefficient %d %q is not a number", i, j, c)
			}
		}
	}
	return &ReLUReference{B: B, sign: minimax.NewPolynomial(sign)}, nil
}

// Depth is the number of levels Eval consumes: one for x/B, the stages,
// one for the final product.
func (r *ReLUReference) Depth() int {
	d := 2
	for _, p := range r.sign {
		d += p.Depth()
	}
	return d
}

// Plain evaluates the reference in plaintext, as the encrypted circuit
// computes it.
func (r *ReLUReference) Plain(x float64) float64 {
	s := r.sign.Evaluate(x / r.B)
	f, _ := s[0].Float64()
	return x * (1 + f) / 2
}

// noBootstrapper satisfies Lattigo's minimax evaluator, which demands a
// bootstrapper even when the parameters have enough levels.
type noBootstrapper struct{}

var errNoBootstrap = errors.New("he: out of levels (bootstrapping is not supported)")

func (noBootstrapper) Bootstrap(*rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	return nil, errNoBootstrap
}
func (noBootstrapper) BootstrapMany([]rlwe.Ciphertext) ([]rlwe.Ciphertext, error) {
	return nil, errNoBootstrap
}
func (noBootstrapper) Depth() int             { return 0 }
func (noBootstrapper) MinimumInputLevel() int { return 0 }
func (noBootstrapper) OutputLevel() int       { return 0 }

// Eval computes the reference on ct. On the standard ring the evaluator
// must hold the complex-conjugation key (KeyOwner.AddConjugation): the
// minimax evaluator cleans the imaginary part after every stage.
func (r *ReLUReference) Eval(eval *ckks.Evaluator, ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	params := *eval.GetParameters()
	if err := CheckCiphertext(params, ct); err != nil {
		return nil, err
	}
	if err := NeedLevel(ct, r.Depth()); err != nil {
		return nil, err
	}
	// t = x/B costs a level: folding 1/B into the scale instead leaves
	// the first stage at a non-standard scale, which cost Lattigo's
	// evaluator ten bits of precision when measured.
	t, err := affine(eval, ct, 1/r.B, 0)
	if err != nil {
		return nil, err
	}
	sign, err := minimax.NewEvaluator(params, eval, noBootstrapper{}).Evaluate(t, r.sign)
	if err != nil {
		return nil, fmt.Errorf("he: composite sign: %w", err)
	}
	// Lattigo's minimax evaluator lands each stage at the default scale
	// and then relabels the result with the input's scale "to avoid float
	// errors"; say what it is.
	sign.Scale = params.DefaultScale()
	// (1 + sign)·x/2: the 1/2 goes into the scale.
	if err := eval.Add(sign, 1, sign); err != nil {
		return nil, fmt.Errorf("he: 1 + sign: %w", err)
	}
	out, err := eval.MulRelinNew(sign, ct)
	if err != nil {
		return nil, fmt.Errorf("he: x·(1+sign): %w", err)
	}
	out.Scale = out.Scale.Mul(rlwe.NewScale(2))
	if err := eval.Rescale(out, out); err != nil {
		return nil, fmt.Errorf("he: rescale: %w", err)
	}
	return out, nil
}

// ReferenceReport measures the composite-sign ReLU reference on the same
// values as a Report.
type ReferenceReport struct {
	LogN             int     `json:"logn"`
	Preset           string  `json:"preset"`
	B                float64 `json:"b"`
	Degrees          []int   `json:"degrees"`
	LevelsConsumed   int     `json:"levels_consumed"`
	EvalSeconds      float64 `json:"eval_seconds"`
	EvalCPUSeconds   float64 `json:"eval_cpu_seconds"`
	KeygenSeconds    float64 `json:"keygen_seconds"`
	MaxAbsErrVsReLU  float64 `json:"max_abs_error_vs_relu"`
	MeanAbsErrVsReLU float64 `json:"mean_abs_error_vs_relu"`
	Values           int     `json:"n_values"`
}

// RunReferenceReport evaluates the SignAlpha10 composite ReLU on the first
// ciphertext's worth of values, on [−B, B] with B the largest |value|, at
// the smallest preset deep enough (LogN ≥ logN).
func RunReferenceReport(values []float64, logN int) (*ReferenceReport, error) {
	if len(values) == 0 {
		return nil, fmt.Errorf("he: no values")
	}
	var B float64
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("he: value %v", v)
		}
		B = math.Max(B, math.Abs(v))
	}
	if B == 0 {
		B = 1
	}
	ref, err := NewReLUReference(B, SignAlpha10)
	if err != nil {
		return nil, err
	}
	var plan *Plan
	for n := max(logN, 13); n <= 16; n++ {
		if plan, err = NewPlan(ref.Depth(), 0, n); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	owner, err := NewKeyOwner(plan.Params)
	if err != nil {
		return nil, err
	}
	keys, err := owner.EvaluationKeys()
	if err != nil {
		return nil, err
	}
	if err := owner.AddConjugation(keys); err != nil {
		return nil, err
	}
	rr := &ReferenceReport{LogN: plan.Params.LogN(), Preset: plan.Preset.Name, B: B, Degrees: []int{15, 15, 15, 7},
		KeygenSeconds: time.Since(t0).Seconds()}
	vals := values[:min(len(values), plan.Params.MaxSlots())]
	rr.Values = len(vals)
	ct, err := owner.Encrypt(vals, plan.Level)
	if err != nil {
		return nil, err
	}
	out, d, err := timed(func(ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error) { return ref.Eval(keys.NewEvaluator(), ct) }, ct)
	if err != nil {
		return nil, err
	}
	rr.EvalSeconds, rr.EvalCPUSeconds = d[0], d[1]
	rr.LevelsConsumed = plan.Level - out.Level()
	got, err := owner.Decrypt(out)
	if err != nil {
		return nil, err
	}
	var sum float64
	for i, x := range vals {
		e := math.Abs(got[i] - math.Max(x, 0))
		rr.MaxAbsErrVsReLU = math.Max(rr.MaxAbsErrVsReLU, e)
		sum += e
	}
	rr.MeanAbsErrVsReLU = sum / float64(len(vals))
	return rr, nil
}
