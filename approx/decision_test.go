package approx

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestNelderMeadRosenbrock(t *testing.T) {
	f := func(x []float64) float64 {
		return 100*math.Pow(x[1]-x[0]*x[0], 2) + math.Pow(1-x[0], 2) + math.Pow(x[2]-1, 2)
	}
	x := nelderMead(f, []float64{-1.2, 1, 0.5}, 5000)
	for i := range x {
		if math.Abs(x[i]-1) > 1e-3 {
			t.Errorf("x = %v, want (1, 1, 1)", x)
			break
		}
	}
}

// head is a random head relu(u) → W·h + b on n samples of width d with k
// classes: the reference decisions and the logits with the activation
// replaced by a quadratic.
func head(seed uint64, n, d, k int) ([]int, LogitsFunc, []float64) {
	rng := rand.New(rand.NewPCG(seed, 9))
	u := make([]float64, n*d)
	for i := range u {
		u[i] = rng.NormFloat64()
	}
	w := make([]float64, d*k)
	for i := range w {
		w[i] = rng.NormFloat64() / math.Sqrt(float64(d))
	}
	b := make([]float64, k)
	fwd := func(f func(float64) float64) [][]float64 {
		out := make([][]float64, n)
		for i := range out {
			out[i] = append([]float64(nil), b...)
			for j := 0; j < d; j++ {
				h := f(u[i*d+j])
				for c := 0; c < k; c++ {
					out[i][c] += h * w[j*k+c]
				}
			}
		}
		return out
	}
	l := fwd(func(x float64) float64 { return math.Max(x, 0) })
	ref := make([]int, n)
	for i, row := range l {
		for c, v := range row {
			if v > row[ref[i]] {
				ref[i] = c
			}
		}
	}
	return ref, func(p Poly) ([][]float64, error) { return fwd(p.Eval), nil }, u
}

// TestFitDecisionAwareAffine: on an affine head Newton reaches the
// program's minimum (a vanishing central-difference gradient and no
// improving coordinate step) and keeps at least as many decisions as the
// least-squares start; the Nelder–Mead path on the same problem gets no
// lower objective than Newton's exact minimum.
func TestFitDecisionAwareAffine(t *testing.T) {
	ref, logits, u := head(1, 400, 16, 4)
	start, err := lsStart(u)
	if err != nil {
		t.Fatal(err)
	}
	r, err := FitDecisionAware(ref, start, logits, DecisionOptions{Affine: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Solver != "newton" || len(r.Poly) != 3 {
		t.Fatalf("result %+v", r)
	}
	obj := func(p Poly) float64 {
		l, _ := logits(p)
		return DecisionObjective(l, ref, p, 1e-4)
	}
	f0 := obj(r.Poly)
	for j := range 3 {
		h := 1e-6 * math.Max(1, math.Abs(r.Poly[j]))
		a, b := append(Poly(nil), r.Poly...), append(Poly(nil), r.Poly...)
		a[j] += h
		b[j] -= h
		if g := (obj(a) - obj(b)) / (2 * h); math.Abs(g) > 1e-6 {
			t.Errorf("gradient[%d] ≈ %g at the optimum", j, g)
		}
		for _, s := range []float64{1e-3, -1e-3} {
			a := append(Poly(nil), r.Poly...)
			a[j] += s
			if obj(a) < f0-1e-12 {
				t.Errorf("step %g on c%d improves the objective", s, j)
			}
		}
	}
	l0, _ := logits(start)
	_, kept0 := DecisionMargin(l0, ref)
	if r.Kept < kept0 {
		t.Errorf("decision-aware keeps %.4f, its least-squares start %.4f", r.Kept, kept0)
	}
	nm, err := FitDecisionAware(ref, start, logits, DecisionOptions{Evals: 400})
	if err != nil {
		t.Fatal(err)
	}
	if nm.Solver != "nelder-mead" || obj(nm.Poly) < f0-1e-12 {
		t.Errorf("Nelder–Mead %s reached %.12g below Newton's minimum %.12g", nm.Solver, obj(nm.Poly), f0)
	}
	if nm.Evals > 400+1 {
		t.Errorf("Nelder–Mead used %d forward passes, budget 400", nm.Evals)
	}
}

// TestFitDecisionAwareNotAffine: declaring a nonlinear model affine is an
// error, not a wrong answer.
func TestFitDecisionAwareNotAffine(t *testing.T) {
	ref, logits, u := head(2, 100, 8, 3)
	square := func(p Poly) ([][]float64, error) {
		l, err := logits(p)
		for _, row := range l {
			for c := range row {
				row[c] = math.Max(row[c], 0)
			}
		}
		return l, err
	}
	start, err := lsStart(u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FitDecisionAware(ref, start, square, DecisionOptions{Affine: true}); err == nil || !strings.Contains(err.Error(), "not affine") {
		t.Errorf("nonlinear logits declared affine: %v", err)
	}
	for _, o := range []DecisionOptions{{Lambda: -1}, {Lambda: math.NaN()}, {Evals: 2}} {
		if _, err := FitDecisionAware(ref, start, logits, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	if _, err := FitDecisionAware(nil, start, logits, DecisionOptions{}); err == nil {
		t.Error("no reference decisions accepted")
	}
	bad := append([]int(nil), ref...)
	bad[3] = 7
	if _, err := FitDecisionAware(bad, start, logits, DecisionOptions{Affine: true}); err == nil || !strings.Contains(err.Error(), "outside [0, 3)") {
		t.Errorf("reference class 7 of 3: %v", err)
	}
}

// lsStart is the least-squares quadratic to ReLU under the samples u, the
// start krelu's callers use.
func lsStart(u []float64) (Poly, error) {
	s, err := NewSample("u", u)
	if err != nil {
		return nil, err
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range u {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return FitLS(ReLU, s, 2, lo, hi, 0)
}
