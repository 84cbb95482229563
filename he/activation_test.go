package he

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/krelu/krelu/approx"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
)

func rlweScale(s float64) rlwe.Scale { return rlwe.NewScale(s) }

func TestEvalChebyshevHigherDegree(t *testing.T) {
	f := getFixture(t, 14, 4)
	params := f.plan.Params
	eval := f.keys.NewEvaluator()
	xs := testValues(params.MaxSlots(), -4, 4, 4)
	// Degree 6 in the Chebyshev basis on [-4, 4]: 3 levels + 1 for the
	// change of variable.
	cheb := []float64{1.1, 1.0, 0.5, 0.01, -0.08, 0.003, 0.02}
	p := approx.ChebyshevToPower(cheb, -4, 4)
	ct, err := f.owner.Encrypt(xs, 4)
	if err != nil {
		t.Fatal(err)
	}
	out, err := EvalChebyshev(eval, ct, cheb, [2]float64{-4, 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := 4 - out.Level(); got != PolyDepth(6)+1 {
		t.Errorf("consumed %d levels, want %d", got, PolyDepth(6)+1)
	}
	want := make([]float64, len(xs))
	for i, x := range xs {
		want[i] = p.Eval(x)
	}
	st, _ := f.owner.Precision(want, out)
	t.Logf("Chebyshev degree 6: precision %.1f bits mean, %.1f min", st.AVGLog2Prec.Real, st.MINLog2Prec.Real)
	if st.AVGLog2Prec.Real < 20 {
		t.Errorf("precision %.1f bits", st.AVGLog2Prec.Real)
	}
	if _, err := EvalChebyshev(eval, ct, cheb, [2]float64{4, -4}); err == nil {
		t.Error("reversed interval accepted")
	}
	lowCt, _ := f.owner.Encrypt(xs[:10], 3)
	if _, err := EvalChebyshev(eval, lowCt, cheb, [2]float64{-4, 4}); err == nil || !strings.Contains(err.Error(), "needs 4 levels") {
		t.Errorf("level too low: %v", err)
	}
}

// A degree-30 fit decrypted to noise (−14 bits) through the power basis;
// EvalActivation must take the Chebyshev path above degree 8 and say so
// in ActivationDepth.
func TestEvalActivationHighDegree(t *testing.T) {
	act, err := approx.FitActivation(approx.FitOptions{Kernel: "none", Method: approx.MethodChebyshev, Degree: 30,
		Interval: "-3.9,3.9", Calibration: approx.Normal{Mu: 0, Sigma: 1}})
	if err != nil {
		t.Fatal(err)
	}
	depth := ActivationDepth(act)
	if depth != PolyDepth(30)+1 {
		t.Fatalf("ActivationDepth %d, want %d", depth, PolyDepth(30)+1)
	}
	f := getFixture(t, 14, depth)
	xs := testValues(f.plan.Params.MaxSlots(), -3.9, 3.9, 5)
	ct, err := f.owner.Encrypt(xs, depth)
	if err != nil {
		t.Fatal(err)
	}
	out, err := EvalActivation(f.keys.NewEvaluator(), ct, act)
	if err != nil {
		t.Fatal(err)
	}
	if out.Level() != 0 {
		t.Errorf("output at level %d, want 0 (all %d levels used)", out.Level(), depth)
	}
	want := make([]float64, len(xs))
	for i, x := range xs {
		want[i] = act.Poly().Eval(x)
	}
	st, err := f.owner.Precision(want, out)
	if err != nil {
		t.Fatal(err)
	}
	if st.AVGLog2Prec.Real < 20 || st.MINLog2Prec.Real < 15 {
		t.Errorf("degree 30: precision %.1f bits mean, %.1f min", st.AVGLog2Prec.Real, st.MINLog2Prec.Real)
	}
	for _, c := range []struct {
		deg, want int
	}{{1, 0}, {2, 1}, {3, 2}, {8, 4}, {9, 5}} {
		a := &approx.Activation{Degree: c.deg, Coefficients: make([]float64, c.deg+1), Interval: [2]float64{-4, 4}}
		a.Coefficients[c.deg] = 1
		if got := ActivationDepth(a); got != c.want {
			t.Errorf("ActivationDepth(degree %d) = %d, want %d", c.deg, got, c.want)
		}
	}
}

func TestEvalQuadraticDegreeOneIsFree(t *testing.T) {
	f := getFixture(t, 13, 1)
	eval := f.keys.NewEvaluator()
	xs := testValues(64, -3, 3, 5)
	ct, _ := f.owner.Encrypt(xs, 1)
	out, factor, err := EvalQuadratic(eval, ct, approx.Poly{0.3, -1.7}, QuadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Level() != 1 || factor != 1 {
		t.Errorf("level %d factor %v", out.Level(), factor)
	}
	got, _ := f.owner.Decrypt(out)
	for i, x := range xs {
		if d := math.Abs(got[i] - (0.3 - 1.7*x)); d > 1e-6 {
			t.Fatalf("slot %d: error %g", i, d)
		}
	}
	if _, _, err := EvalQuadratic(eval, ct, approx.Poly{1, 0, 0, 0.5}, QuadOptions{}); err == nil {
		t.Error("degree 3 accepted by EvalQuadratic")
	}
	if _, _, err := EvalQuadratic(eval, ct, approx.Poly{1, math.NaN(), 2}, QuadOptions{}); err == nil {
		t.Error("NaN coefficient accepted")
	}
}

func TestInputScaleFor(t *testing.T) {
	f := getFixture(t, 13, 1)
	params := f.plan.Params
	eval := f.keys.NewEvaluator()
	p := approx.Poly{0.199471, 0.5, 0.199471}
	target := params.DefaultScale()
	s, err := InputScaleFor(params, 1, p[2], target)
	if err != nil {
		t.Fatal(err)
	}
	xs := testValues(32, -2, 2, 6)
	ct, err := f.owner.EncryptScale(xs, 1, s)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := EvalQuadratic(eval, ct, p, QuadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(out.Scale.Log2() - target.Log2()); d > 1e-9 {
		t.Errorf("output scale 2^%.12f, want 2^%.12f", out.Scale.Log2(), target.Log2())
	}
}

// TestParallelEvaluators runs activations on independent ciphertexts from
// two goroutines, each with its own evaluator (go test -race).
func TestParallelEvaluators(t *testing.T) {
	f := getFixture(t, 13, 1)
	p := approx.Poly{0.25, 0.5, 0.125}
	xs := testValues(f.plan.Params.MaxSlots(), -4, 4, 8)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	outs := make([][]float64, 2)
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			eval := f.keys.NewEvaluator()
			ct, err := f.owner.Encrypt(xs, 1)
			if err != nil {
				errs[g] = err
				return
			}
			out, _, err := EvalQuadratic(eval, ct, p, QuadOptions{})
			if err != nil {
				errs[g] = err
				return
			}
			outs[g], errs[g] = f.owner.Decrypt(out)
		}(g)
	}
	wg.Wait()
	for g := range errs {
		if errs[g] != nil {
			t.Fatal(errs[g])
		}
		for i, x := range xs {
			if d := math.Abs(outs[g][i] - p.Eval(x)); d > 1e-6 {
				t.Fatalf("goroutine %d slot %d: error %g", g, i, d)
			}
		}
	}
}

func TestRunActivationReport(t *testing.T) {
	act := &approx.Activation{
		Format: approx.FormatV1, Target: "relu", Kernel: "gaussian", Bandwidth: 0.5, Method: "ls", Degree: 2,
		Interval: [2]float64{-3, 3}, Coefficients: []float64{0.25, 0.5, 0.125},
	}
	vals := testValues(5000, -3.5, 3.5, 9)
	r, err := RunReport(act, vals, ReportOptions{LogN: 13, Reps: 1, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r.LevelsConsumed != 1 || r.GenericLevelsConsumed != 2 {
		t.Errorf("levels %d / %d", r.LevelsConsumed, r.GenericLevelsConsumed)
	}
	if r.PrecisionBits < 20 {
		t.Errorf("precision %.1f bits", r.PrecisionBits)
	}
	if r.Ciphertexts != 2 || r.Values != 5000 {
		t.Errorf("%d ciphertexts for %d values", r.Ciphertexts, r.Values)
	}
	// Closed form: the plaintext error against ReLU is p(x) - relu(x),
	// largest at the ends |x| = 3.5: 0.25 + 1.75 + 1.53125 - 3.5 = 0.03125,
	// and at 0: 0.25.
	if math.Abs(r.PlainMaxAbsErrVsReLU-0.25) > 1e-3 {
		t.Errorf("plaintext max error vs ReLU %v, want 0.25", r.PlainMaxAbsErrVsReLU)
	}
	if math.Abs(r.MaxAbsErrVsReLU-r.PlainMaxAbsErrVsReLU) > 1e-5 || r.MaxAbsErrVsPoly > 1e-5 {
		t.Errorf("encrypted errors %g vs poly, %g vs ReLU", r.MaxAbsErrVsPoly, r.MaxAbsErrVsReLU)
	}
	outside := 0
	for _, v := range vals {
		if math.Abs(v) > 3 {
			outside++
		}
	}
	if r.Outside != outside || !strings.Contains(r.Warning, "outside the fitted interval") || strings.Contains(r.Warning, "bits") {
		t.Errorf("outside %d (want %d), warning %q", r.Outside, outside, r.Warning)
	}
	for name, v := range map[string]float64{"eval/square": r.EvalOverSquare, "generic/eval": r.GenericOverEval, "throughput": r.Throughput} {
		if !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("%s = %v, want a positive finite number", name, v)
		}
	}
	if _, err := RunReport(act, nil, ReportOptions{LogN: 13}); err == nil {
		t.Error("no values accepted")
	}
	if _, err := RunReport(act, []float64{math.Inf(1)}, ReportOptions{LogN: 13}); err == nil {
		t.Error("Inf accepted")
	}
}

// Inputs of 10^6 overflow the modulus after squaring: the report must say
// that the decrypted values are noise rather than print them plainly.
func TestRunReportWarnsOnLostPrecision(t *testing.T) {
	act := &approx.Activation{
		Format: approx.FormatV1, Target: "relu", Kernel: "gaussian", Bandwidth: 0.5, Method: "ls", Degree: 2,
		Interval: [2]float64{-3, 3}, Coefficients: []float64{0.25, 0.5, 0.125},
	}
	r, err := RunReport(act, testValues(64, 1e6, 1e6+1, 3), ReportOptions{LogN: 13, Reps: 1, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.MinPrecisionBits >= minTrustedBits || !strings.Contains(r.Warning, "not usable") {
		t.Errorf("precision %.1f bits, warning %q", r.MinPrecisionBits, r.Warning)
	}
}

func TestCPURatio(t *testing.T) {
	for _, c := range []struct{ a, b, aw, bw, want float64 }{
		{2, 4, 9, 9, 0.5}, // CPU times win when both are measured
		{0, 4, 3, 6, 0.5}, // below the clock's resolution: wall clock
		{2, 0, 3, 6, 0.5},
		{0, 0, 0, 0, 0}, // nothing measured: 0, never NaN or Inf
	} {
		if got := cpuRatio(c.a, c.b, c.aw, c.bw); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("cpuRatio(%v, %v, %v, %v) = %v, want %v", c.a, c.b, c.aw, c.bw, got, c.want)
		}
	}
}

func TestAddCiphertextsScaleMismatch(t *testing.T) {
	f := getFixture(t, 13, 1)
	eval := f.keys.NewEvaluator()
	xs := []float64{1, 2, 3}
	a, _ := f.owner.Encrypt(xs, 1)
	b, _ := f.owner.EncryptScale(xs, 1, f.plan.Params.DefaultScale().Div(rlweScale(1.5)))
	if _, err := AddCiphertexts(eval, a, b); !errors.Is(err, ErrScaleMismatch) {
		t.Errorf("scale mismatch: got %v", err)
	}
	c, _ := f.owner.Encrypt(xs, 1)
	sum, err := AddCiphertexts(eval, a, c)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := f.owner.Decrypt(sum)
	for i, x := range xs {
		if math.Abs(got[i]-2*x) > 1e-6 {
			t.Errorf("slot %d: %v", i, got[i])
		}
	}
}
