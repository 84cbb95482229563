package approx

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// DecisionOptions tune FitDecisionAware. Zero fields take the defaults.
type DecisionOptions struct {
	// Lambda weighs ½‖(α,β,η)‖² against the mean squared hinge; default
	// 1e-4.
	Lambda float64
	// Affine declares that the logits are an affine function of the
	// quadratic's coefficients — only affine maps follow the activation
	// (the paper's head: activation → dense layer). The program is then a
	// convex piecewise quadratic, solved exactly by generalised Newton;
	// FitDecisionAware checks the claim and fails if the logits are not
	// affine. Otherwise the objective is minimised by Nelder–Mead through
	// the caller's forward pass.
	Affine bool
	// Evals bounds the Nelder–Mead evaluations of the logits (default 200).
	Evals int
}

// DecisionResult is the outcome of FitDecisionAware.
type DecisionResult struct {
	// Poly is the fitted quadratic c0 + c1·u + c2·u² (ascending powers).
	Poly Poly
	// Solver is "newton" (affine logits) or "nelder-mead".
	Solver string
	// Margin is the smallest logit margin of the reference decisions under
	// Poly (negative when a decision is lost), Kept the fraction of
	// reference decisions kept.
	Margin, Kept float64
	// Evals counts the forward passes (calls of the logits function).
	Evals int
}

// LogitsFunc returns the model's logits, one row per calibration sample,
// with the activation being fitted replaced by the quadratic p.
type LogitsFunc func(p Poly) ([][]float64, error)

// FitDecisionAware fits one activation layer's quadratic αu²+βu+η after
// Li, Wu & Miao, "Decision-aware polynomial activations" (arXiv
// 2605.22237): the quadratic is chosen so that the model with it keeps the
// reference decisions ref (the original ReLU model's arg-max on the
// calibration samples) with the largest margin. For sample i with
// reference class c and a rival class r the logit difference
// Δ_ir = logit_c − logit_r must stay positive. Their max-margin program
// (maximise t subject to Δ_ir ≥ t) is solved in its soft-margin L2-SVM
// form, which also covers the infeasible case:
//
//	minimise  λ/2·‖(α,β,η)‖² + 1/M · Σ_ir max(0, 1 − Δ_ir(α,β,η))²
//
// over the M = samples × (classes−1) pairs; a unit functional margin plays
// the role of t. When the logits are affine in (α,β,η) (opt.Affine: the
// last activation, followed by affine maps only, as in the paper's head)
// the program is a strongly convex piecewise quadratic in 3 variables; its
// affine pieces are read off four forward passes (p = u², u, 1, 0), and it
// is solved by the generalised Newton method for L2-SVMs (Mangasarian,
// "A finite Newton method for classification", 2002) with a line search.
// Otherwise (earlier layers; the paper treats heads only) the same
// objective is evaluated through the rest of the model and minimised by
// Nelder–Mead. Both start from start, the least-squares quadratic to ReLU
// in krelu's callers.
func FitDecisionAware(ref []int, start Poly, logits LogitsFunc, opt DecisionOptions) (*DecisionResult, error) {
	if opt.Lambda == 0 {
		opt.Lambda = 1e-4
	}
	if opt.Evals == 0 {
		opt.Evals = 200
	}
	switch {
	case !(opt.Lambda > 0) || math.IsInf(opt.Lambda, 0):
		return nil, fmt.Errorf("approx: decision-aware λ %v: want a finite positive value", opt.Lambda)
	case opt.Evals < 4:
		return nil, fmt.Errorf("approx: decision-aware fit with %d evaluations: want at least 4", opt.Evals)
	case len(ref) == 0:
		return nil, errors.New("approx: decision-aware fit without reference decisions")
	case len(start) > 3:
		return nil, fmt.Errorf("approx: decision-aware fit starts from a quadratic, got degree %d", start.Degree())
	}
	for _, v := range start {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("approx: decision-aware fit: non-finite starting coefficients")
		}
	}
	w0 := []float64{coef(start, 2), coef(start, 1), coef(start, 0)}
	res := &DecisionResult{}
	var failed error
	eval := func(w []float64) [][]float64 {
		res.Evals++
		l, err := logits(Poly{w[2], w[1], w[0]})
		if err == nil && len(l) != len(ref) {
			err = fmt.Errorf("approx: decision-aware fit: %d rows of logits for %d reference decisions", len(l), len(ref))
		}
		if err == nil {
			for i, row := range l {
				if len(row) < 2 || len(row) != len(l[0]) {
					err = errors.New("approx: decision-aware fit needs rows of logits of one length, at least two classes")
					break
				}
				if ref[i] < 0 || ref[i] >= len(row) {
					err = fmt.Errorf("approx: decision-aware fit: reference class %d of sample %d outside [0, %d)", ref[i], i, len(row))
					break
				}
			}
		}
		if err != nil {
			if failed == nil {
				failed = err
			}
			return nil
		}
		return l
	}
	var w []float64
	if opt.Affine {
		obj, grad, hess, err := affineProgram(eval, ref, w0, opt.Lambda)
		if failed != nil {
			return nil, failed
		}
		if err != nil {
			return nil, err
		}
		w, res.Solver = newtonSVM(obj, grad, hess, w0), "newton"
	} else {
		obj := func(w []float64) float64 {
			l := eval(w)
			if l == nil {
				return math.Inf(1)
			}
			return DecisionObjective(l, ref, Poly{w[2], w[1], w[0]}, opt.Lambda)
		}
		w, res.Solver = nelderMead(obj, w0, opt.Evals), "nelder-mead"
		if failed != nil {
			return nil, failed
		}
	}
	res.Poly = Poly{w[2], w[1], w[0]}
	l := eval(w)
	if failed != nil {
		return nil, failed
	}
	res.Margin, res.Kept = DecisionMargin(l, ref)
	return res, nil
}

func coef(p Poly, k int) float64 {
	if k < len(p) {
		return p[k]
	}
	return 0
}

// DecisionObjective is the soft-margin program FitDecisionAware minimises,
// λ/2·‖(α,β,η)‖² + 1/M · Σ_ir max(0, 1 − Δ_ir)², at the quadratic p whose
// model gives logits. It is +Inf if a logit is NaN.
func DecisionObjective(logits [][]float64, ref []int, p Poly, lambda float64) float64 {
	a, b, c := coef(p, 2), coef(p, 1), coef(p, 0)
	s := lambda / 2 * (a*a + b*b + c*c) // in nn's original order, bit for bit
	if len(logits) == 0 {
		return s
	}
	M := float64(len(ref) * (len(logits[0]) - 1))
	for i, c := range ref {
		row := logits[i]
		for r, v := range row {
			if r == c {
				continue
			}
			if h := 1 - (row[c] - v); h > 0 {
				s += h * h / M
			} else if math.IsNaN(h) {
				return math.Inf(1)
			}
		}
	}
	return s
}

// DecisionMargin returns the smallest logit margin logit_c − logit_r of the
// reference decisions c = ref[i] and the fraction of rows whose arg-max
// (the first on ties) is the reference.
func DecisionMargin(logits [][]float64, ref []int) (minMargin, kept float64) {
	minMargin = math.Inf(1)
	k := 0
	for i, c := range ref {
		row := logits[i]
		best := 0
		for r, v := range row {
			if v > row[best] {
				best = r
			}
			if r != c {
				minMargin = math.Min(minMargin, row[c]-v)
			}
		}
		if best == c {
			k++
		}
	}
	return minMargin, float64(k) / float64(len(ref))
}

// affineProgram reads the affine pieces of the logits in (α,β,η) off four
// forward passes, checks at the start that the logits really are affine,
// and returns the SVM objective, its gradient and its generalised Hessian.
func affineProgram(eval func([]float64) [][]float64, ref []int, w0 []float64, lambda float64) (obj func([]float64) float64, grad, hess func([]float64, []float64), err error) {
	basis := [][]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	c := eval([]float64{0, 0, 0})
	var a [3][][]float64
	for j, b := range basis {
		if a[j] = eval(b); a[j] == nil {
			return nil, nil, nil, nil
		}
	}
	at := eval(w0)
	if c == nil || at == nil {
		return nil, nil, nil, nil
	}
	// The check: the logits at the start must be C + Σ w_j (A_j − C).
	scale, dev := 0.0, 0.0
	for i := range at {
		for r := range at[i] {
			pred := c[i][r]
			for j := range 3 {
				pred += w0[j] * (a[j][i][r] - c[i][r])
			}
			scale = math.Max(scale, math.Max(math.Abs(at[i][r]), math.Abs(pred)))
			dev = math.Max(dev, math.Abs(at[i][r]-pred))
		}
	}
	if !(dev <= 1e-8*(1+scale)) {
		return nil, nil, nil, fmt.Errorf("approx: decision-aware fit declared affine, but the logits are not affine in the coefficients (deviation %.3g at logit scale %.3g)", dev, scale)
	}
	// feats[j] = (coefficients of α, β, η, constant) of pair j's Δ.
	var feats [][4]float64
	for i, cl := range ref {
		for r := range c[i] {
			if r == cl {
				continue
			}
			var f [4]float64
			for j := range 3 {
				f[j] = (a[j][i][cl] - c[i][cl]) - (a[j][i][r] - c[i][r])
			}
			f[3] = c[i][cl] - c[i][r]
			feats = append(feats, f)
		}
	}
	M := float64(len(feats))
	obj = func(w []float64) float64 {
		s := lambda / 2 * (w[0]*w[0] + w[1]*w[1] + w[2]*w[2])
		for _, f := range feats {
			if h := 1 - (f[0]*w[0] + f[1]*w[1] + f[2]*w[2] + f[3]); h > 0 {
				s += h * h / M
			}
		}
		return s
	}
	grad = func(g, w []float64) {
		for j := range 3 {
			g[j] = lambda * w[j]
		}
		for _, f := range feats {
			if h := 1 - (f[0]*w[0] + f[1]*w[1] + f[2]*w[2] + f[3]); h > 0 {
				for j := range 3 {
					g[j] -= 2 * h * f[j] / M
				}
			}
		}
	}
	// hess fills the 3×3 generalised Hessian (row-major) of the squared
	// hinge, which is piecewise constant.
	hess = func(h, w []float64) {
		clear(h)
		for j := range 3 {
			h[4*j] = lambda
		}
		for _, f := range feats {
			if 1-(f[0]*w[0]+f[1]*w[1]+f[2]*w[2]+f[3]) > 0 {
				for i := range 3 {
					for j := range 3 {
						h[3*i+j] += 2 * f[i] * f[j] / M
					}
				}
			}
		}
	}
	return obj, grad, hess, nil
}

// newtonSVM minimises a convex piecewise quadratic in 3 variables by
// Newton's method with the generalised Hessian of Mangasarian (2002), as
// gonum's optimize.Newton runs it (line search, and a multiple of the
// identity added should the Hessian not be positive definite). λ > 0 makes
// the program strongly convex, so its minimiser is unique and any
// converging method reaches it; the gradient tolerance is far below what
// the polynomial's printed digits resolve.
func newtonSVM(obj func([]float64) float64, grad, hess func([]float64, []float64), w []float64) []float64 {
	h := make([]float64, 9)
	p := optimize.Problem{
		Func: obj,
		Grad: func(g, x []float64) { grad(g, x) },
		Hess: func(dst *mat.SymDense, x []float64) {
			hess(h, x)
			for i := range 3 {
				for j := i; j < 3; j++ {
					dst.SetSym(i, j, h[3*i+j])
				}
			}
		},
	}
	res, err := optimize.Minimize(p, w, &optimize.Settings{GradientThreshold: 1e-13, MajorIterations: 100}, &optimize.Newton{})
	if err != nil && (res == nil || res.X == nil) {
		return w // no step was possible: keep the start
	}
	if res.F > obj(w) {
		return w
	}
	return res.X
}

// nelderMead minimises obj from x0 with at most evals evaluations by
// gonum's Nelder–Mead (Nelder & Mead 1965) with the standard coefficients
// (reflection 1, expansion 2, contraction and shrink ½), starting from a
// simplex of 10% relative steps, and stops once the simplex's values agree
// to 1e-12 relatively. It never returns a point worse than x0's simplex.
func nelderMead(obj func([]float64) float64, x0 []float64, evals int) []float64 {
	d := len(x0)
	pts := make([][]float64, d+1)
	fs := make([]float64, d+1)
	for i := range pts {
		pts[i] = append([]float64(nil), x0...)
		if i > 0 {
			step := 0.1 * math.Abs(x0[i-1])
			if step == 0 {
				step = 0.01
			}
			pts[i][i-1] += step
		}
		fs[i] = obj(pts[i])
	}
	best := 0
	for i := range fs {
		if fs[i] < fs[best] {
			best = i
		}
	}
	m := &optimize.NelderMead{InitialVertices: pts, InitialValues: fs, Reflection: 1, Expansion: 2, Contraction: 0.5, Shrink: 0.5}
	set := &optimize.Settings{FuncEvaluations: max(evals-d-1, 1), Converger: &optimize.FunctionConverge{Relative: 1e-12, Iterations: evals}}
	res, err := optimize.Minimize(optimize.Problem{Func: obj}, x0, set, m)
	if (err != nil && (res == nil || res.X == nil)) || res.F > fs[best] {
		return pts[best]
	}
	return res.X
}
