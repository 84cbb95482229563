package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/rewrite"
)

func relu(x float64) float64 { return math.Max(x, 0) }

// TestLeastSquaresUniform checks the closed form of the least-squares
// quadratic to ReLU under the uniform law on [−a, a]:
// 3a/32 + x/2 + 15x²/(32a) (the normal equations of ∫(p − ReLU)² on
// [−a, a] solved by hand; docs/nn.md quotes it).
func TestLeastSquaresUniform(t *testing.T) {
	const a, n = 3.0, 200001
	u := make([]float64, n)
	for i := range u {
		u[i] = -a + 2*a*float64(i)/float64(n-1)
	}
	p, err := LeastSquares(u, relu, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := approx.Poly{3 * a / 32, 0.5, 15 / (32 * a)}
	for i := range want {
		if !near(p[i], want[i], 1e-4) {
			t.Errorf("c%d = %v, want %v", i, p[i], want[i])
		}
	}
	// A polynomial target is recovered exactly.
	q, _ := LeastSquares(u, approx.Poly{1, -2, 0.5, 0.25, -0.1}.Eval, 4)
	for i, c := range []float64{1, -2, 0.5, 0.25, -0.1} {
		if !near(q[i], c, 1e-9) {
			t.Errorf("exact quartic: c%d = %v, want %v", i, q[i], c)
		}
	}
	if _, err := LeastSquares([]float64{1, 1, 1, 1}, relu, 2); err == nil {
		t.Error("singular system accepted")
	}
	if _, err := LeastSquares([]float64{1, math.NaN(), 2, 3}, relu, 2); err == nil {
		t.Error("NaN accepted")
	}
}

func TestMinimaxFitter(t *testing.T) {
	p, err := MinimaxFitter()([]float64{-2, 0.5, 1})
	if err != nil {
		t.Fatal(err)
	}
	// Worst error of a/16 + x/2 + x²/(2a) on [−a, a] is a/16, at 0 and ±a.
	var worst float64
	for x := -2.0; x <= 2; x += 1e-3 {
		worst = math.Max(worst, math.Abs(p.Eval(x)-relu(x)))
	}
	if !near(worst, 2.0/16, 1e-6) {
		t.Errorf("worst error %v, want 1/8", worst)
	}
}

func TestGaussianSmoothedReLU(t *testing.T) {
	// At 0 it is h·φ(0); far out it is ReLU.
	if v := GaussianSmoothedReLU(0, 2); !near(v, 2/math.Sqrt(2*math.Pi), 1e-12) {
		t.Errorf("g(0) = %v", v)
	}
	if v := GaussianSmoothedReLU(30, 1); !near(v, 30, 1e-12) {
		t.Errorf("g(30) = %v", v)
	}
	if v := GaussianSmoothedReLU(-30, 1); math.Abs(v) > 1e-12 {
		t.Errorf("g(−30) = %v", v)
	}
}

// trainedXOR returns a small ReLU network trained on the XOR-sign task.
func trainedXOR(t *testing.T) (*Network, *mat.Dense, []int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(21, 22))
	x, y := xorData(rng, 1500)
	n, _ := NewMLP([]int{2, 12, 2}, nil, 5)
	if _, err := n.Train(x, y, x, y, TrainConfig{Epochs: 25, BatchSize: 32, LR: 0.01, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	return n, x, y
}

func TestSwapMethods(t *testing.T) {
	n, x, _ := trainedXOR(t)
	ref, _ := n.Predict(x)
	agree := map[string]float64{}
	for name, deg := range SwapMethods {
		m, res, err := SwapByName(n, x, name, 0.25)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(res.Polys) != 1 || res.Polys[0].Degree() != deg {
			t.Errorf("%s: polys %v, want one of degree %d", name, res.Polys, deg)
		}
		if n.Acts()[0].Poly != nil {
			t.Fatalf("%s: swap modified the original network", name)
		}
		p, _ := m.Predict(x)
		agree[name] = Accuracy(p, ref)
	}
	// Fitted on the layer's own pre-activations, the least-squares fits
	// keep almost all decisions on this easy task.
	for _, name := range []string{"direct", "direct4", "kernel", "decision-aware"} {
		if agree[name] < 0.9 {
			t.Errorf("%s keeps only %.3f of the decisions", name, agree[name])
		}
	}
	// The decision-aware quadratic is fitted for exactly this criterion.
	if agree["decision-aware"] < agree["direct"]-0.01 {
		t.Errorf("decision-aware agreement %.3f below direct %.3f", agree["decision-aware"], agree["direct"])
	}
	if _, _, err := SwapByName(n, x, "cubic", 0); err == nil || !strings.Contains(err.Error(), "unknown swap method") {
		t.Errorf("unknown method: %v", err)
	}
}

// TestDecisionAwareOptimum checks that the head program is solved: the
// gradient of the convex objective vanishes at the returned quadratic.
func TestDecisionAwareOptimum(t *testing.T) {
	n, x, _ := trainedXOR(t)
	m, res, err := DecisionAware(n, x, DecisionAwareConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := n.Predict(x)
	a := m.Acts()[0]
	p := append(approx.Poly(nil), res.Polys[0]...)
	// obj is the program's objective at w = (α, β, η) through the network.
	obj := func(w []float64) float64 {
		a.Poly = approx.Poly{w[2], w[1], w[0]}
		defer func() { a.Poly = p }()
		l, err := m.Logits(x)
		if err != nil {
			t.Fatal(err)
		}
		rows := make([][]float64, len(ref))
		for i := range rows {
			rows[i] = l.RawRowView(i)
		}
		return approx.DecisionObjective(rows, ref, a.Poly, 1e-4)
	}
	w := []float64{p[2], p[1], p[0]}
	f0 := obj(w)
	for j := range 3 {
		// The objective is piecewise quadratic: a central difference
		// is its gradient up to the kinks' measure-zero set.
		h := 1e-6 * math.Max(1, math.Abs(w[j]))
		v, u := append([]float64(nil), w...), append([]float64(nil), w...)
		v[j] += h
		u[j] -= h
		if g := (obj(v) - obj(u)) / (2 * h); math.Abs(g) > 1e-6*math.Max(1, f0) {
			t.Errorf("gradient[%d] ≈ %v at the optimum", j, g)
		}
		// and no coordinate step improves the objective.
		for _, s := range []float64{1e-3, -1e-3} {
			v := append([]float64(nil), w...)
			v[j] += s * math.Max(1, math.Abs(v[j]))
			if obj(v) < f0-1e-12 {
				t.Errorf("step %v on coordinate %d improves the objective", s, j)
			}
		}
	}
	if res.Kept[0] < 0.9 {
		t.Errorf("kept %.3f of the calibration decisions", res.Kept[0])
	}
	// A network that already has polynomials is refused.
	if _, _, err := DecisionAware(m, x, DecisionAwareConfig{}); err == nil {
		t.Error("decision-aware on a polynomial network accepted")
	}
}

// TestDecisionAwareCNN exercises the non-head path (Nelder–Mead through the
// network) on a tiny CNN with random data.
func TestDecisionAwareCNN(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	n, _ := NewCNN(6, 3, nil, 4)
	x := randDense(rng, 60, 784)
	m, res, err := DecisionAware(n, x, DecisionAwareConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Polys) != 2 || len(res.Kept) != 2 {
		t.Fatalf("result %+v", res)
	}
	// gonum's Nelder–Mead reaches the quadratic the hand-written one it
	// replaced found here (recorded), to 1e-4: the objective is flat near
	// its minimum, where the two agree to 8 digits.
	for j, w := range []float64{2.1874196177727425, 3.0227541098799913, 0.7581465131657195} {
		if got := res.Polys[0][j]; math.Abs(got-w) > 1e-4*math.Abs(w) {
			t.Errorf("first layer c%d = %.10g, hand-written Nelder–Mead %.10g", j, got, w)
		}
	}
	ls, _, _ := Swap(n, x, DirectFitter(2))
	ref, _ := n.Predict(x)
	pl, _ := ls.Predict(x)
	pd, _ := m.Predict(x)
	if Accuracy(pd, ref) < Accuracy(pl, ref)-0.05 {
		t.Errorf("decision-aware keeps %.3f, direct least squares %.3f", Accuracy(pd, ref), Accuracy(pl, ref))
	}
}

// The head program is solved by gonum's optimize.Newton since the
// hand-written generalised-Newton solver was removed. On three random
// heads it reaches the minimiser that solver found (recorded below) to
// 1e-12, so no published decision-aware figure moved.
func TestNewtonSVMMatchesHandWrittenSolver(t *testing.T) {
	want := [][3]float64{
		{0.2271735270797133, 0.840144462708523, 0.48012525238367376},
		{0.27559563341715015, 0.9103151729351607, 0.5226529660476505},
		{0.3530133707220082, 1.1937883442624864, 0.5876186236809324},
	}
	for seed, w := range want {
		n, _ := NewMLP([]int{30, 12, 4}, nil, uint64(seed+1))
		x := randDense(rand.New(rand.NewPCG(uint64(seed), 5)), 300, 30)
		_, res, err := DecisionAware(n, x, DecisionAwareConfig{})
		if err != nil {
			t.Fatal(err)
		}
		p := res.Polys[0]
		got := []float64{p[2], p[1], p[0]}
		for j := range 3 {
			if math.Abs(got[j]-w[j]) > 1e-12*math.Max(1, math.Abs(w[j])) {
				t.Errorf("seed %d: w[%d] = %.17g, hand-written Newton %.17g", seed, j, got[j], w[j])
			}
		}
	}
}

// TestDecisionAwareMatchesRewrite: the head program has a unique minimiser
// (λ > 0), so nn's decision-aware swap and package rewrite's decision fit
// of the same network exported to the graph IR — different starts,
// different forward passes (gonum matrices against the graph runtime) —
// must reach the same quadratic.
func TestDecisionAwareMatchesRewrite(t *testing.T) {
	n, _ := NewMLP([]int{30, 12, 4}, nil, 7)
	x := randDense(rand.New(rand.NewPCG(7, 5)), 200, 30)
	_, res, err := DecisionAware(n, x, DecisionAwareConfig{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := n.Graph()
	if err != nil {
		t.Fatal(err)
	}
	var calib []*graph.Tensor
	for i := range 200 {
		calib = append(calib, &graph.Tensor{Shape: []int{1, 30}, Data: append([]float64(nil), x.RawRowView(i)...)})
	}
	_, rep, err := rewrite.Rewrite(g, calib, rewrite.Options{Method: rewrite.Decision})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Layers) != 1 || rep.Layers[0].Solver != "newton" {
		t.Fatalf("rewrite layers %+v: want one, solved by newton", rep.Layers)
	}
	for j, c := range rep.Layers[0].Coefficients {
		if w := res.Polys[0][j]; math.Abs(c-w) > 1e-7*math.Max(1, math.Abs(w)) {
			t.Errorf("c%d: rewrite %.12g, nn %.12g", j, c, w)
		}
	}
}
