package optim

import (
	"math"
	"testing"
)

// The first Adam step moves every coordinate by exactly LR·sign(g): with
// bias correction m̂ = g and v̂ = g², so the update is g/(|g|+ε).
func TestAdamFirstStepIsSignTimesLR(t *testing.T) {
	a := NewAdam(0.1)
	x := []float64{1, -2, 3}
	g := []float64{0.5, -4, 1e-3}
	a.Step([]Tensor{{Value: x, Grad: g}}, 1)
	want := []float64{0.9, -1.9, 2.9}
	for i := range x {
		if math.Abs(x[i]-want[i]) > 1e-5 {
			t.Fatalf("x[%d] = %v, want %v", i, x[i], want[i])
		}
	}
}

// Adam minimises a convex quadratic; frozen tensors and unmarked rows stay.
func TestAdamConvergesAndRespectsFrozenRows(t *testing.T) {
	a := NewAdam(0.05)
	x := []float64{5, -3, 2, 7}
	frozen := []float64{1}
	rowsX := []bool{true, false} // rows {5,-3} updated, {2,7} kept
	for it := 0; it < 2000; it++ {
		g := make([]float64, len(x))
		for i := range x {
			g[i] = 2 * (x[i] - 1) // gradient of Σ (x-1)²
		}
		a.Step([]Tensor{{Value: x, Grad: g, Rows: rowsX}, {Value: frozen, Grad: []float64{9}, Frozen: true}}, 1)
	}
	if math.Abs(x[0]-1) > 1e-3 || math.Abs(x[1]-1) > 1e-3 {
		t.Fatalf("updated rows did not converge to 1: %v", x)
	}
	if x[2] != 2 || x[3] != 7 || frozen[0] != 1 {
		t.Fatalf("frozen values changed: x=%v frozen=%v", x, frozen)
	}
	if a.Steps() != 2000 {
		t.Fatalf("Steps() = %d", a.Steps())
	}
}

// Clipping scales the whole gradient so its global norm is Clip: with
// Adam's normalisation the first step is unchanged in direction but the
// moments see the clipped gradient.
func TestAdamClip(t *testing.T) {
	a := NewAdam(1)
	a.Clip = 1
	x := []float64{0, 0}
	a.Step([]Tensor{{Value: x, Grad: []float64{30, 40}}}, 1)
	// m after one step = 0.1·(0.6, 0.8); the update is still ≈ -1 each.
	if math.Abs(a.m[0][0]-0.06) > 1e-12 || math.Abs(a.m[0][1]-0.08) > 1e-12 {
		t.Fatalf("moments saw unclipped gradient: %v", a.m[0])
	}
}

// Decoupled weight decay multiplies values by 1 − LR·WeightDecay before the
// gradient step, and leaves NoDecay tensors (biases) alone.
func TestAdamWeightDecaySkipsNoDecay(t *testing.T) {
	a := NewAdam(0.1)
	a.WeightDecay = 0.5
	w, b := []float64{2}, []float64{2}
	a.Step([]Tensor{{Value: w, Grad: []float64{0}}, {Value: b, Grad: []float64{0}, NoDecay: true}}, 1)
	if w[0] != 2*(1-0.1*0.5) || b[0] != 2 {
		t.Fatalf("after one decayed step with zero gradient: w=%v (want %v), b=%v (want 2)", w[0], 2*(1-0.1*0.5), b[0])
	}
}
