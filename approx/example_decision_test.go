package approx_test

import (
	"fmt"
	"math"

	"github.com/krelu/krelu/approx"
)

// A two-class head: sample i has two hidden units u = (x_i, −x_i), class
// scores relu(u₁) and relu(u₂), so the reference decision is 0 for x > 0
// and 1 otherwise. The logits are affine in the quadratic's coefficients,
// so Newton solves the program; the fitted quadratic keeps every decision.
func ExampleFitDecisionAware() {
	xs := []float64{-2, -1.2, -0.5, -0.1, 0.2, 0.6, 1.1, 2.5}
	var ref []int
	for _, x := range xs {
		ref = append(ref, map[bool]int{true: 0, false: 1}[x > 0])
	}
	logits := func(p approx.Poly) ([][]float64, error) {
		out := make([][]float64, len(xs))
		for i, x := range xs {
			out[i] = []float64{p.Eval(x), p.Eval(-x)}
		}
		return out, nil
	}
	r, err := approx.FitDecisionAware(ref, approx.Poly{0.1, 0.5, 0.3}, logits, approx.DecisionOptions{Affine: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Solver, r.Kept, r.Margin > 0, math.Abs(r.Poly[1]) > 0)
	// Output: newton 1 true true
}
