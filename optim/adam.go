package optim

import (
	"fmt"
	"math"
)

// Tensor is one trainable parameter as the optimiser sees it: its values and
// the gradient of the loss with respect to them, of the same length.
type Tensor struct {
	Value, Grad []float64
	// Frozen leaves the tensor untouched (e.g. pre-trained embeddings).
	Frozen bool
	// Rows, when non-nil, splits Value into len(Rows) equal rows and updates
	// only the rows marked true. The others have zero gradient and zero
	// moments, so skipping them is exact and saves sweeping a large frozen
	// embedding table.
	Rows []bool
	// NoDecay exempts the tensor from WeightDecay: shrinking biases and
	// normalisation gains towards zero only adds bias.
	NoDecay bool
}

// Adam is the optimiser of Kingma & Ba, "Adam: A Method for Stochastic
// Optimization" (ICLR 2015), with bias correction, optional global-norm
// gradient clipping and optional decoupled weight decay (Loshchilov &
// Hutter, "Decoupled Weight Decay Regularization", ICLR 2019).
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	// Clip is the largest global gradient norm (after scaling); 0 disables
	// clipping. Clipping keeps polynomial-activation training stable when a
	// pre-activation strays far outside the fitted interval.
	Clip float64
	// WeightDecay is the decoupled decay rate per step, multiplied by LR.
	WeightDecay float64

	t    int
	m, v [][]float64
}

// NewAdam returns Adam with the usual β1 = 0.9, β2 = 0.999, ε = 1e-8.
func NewAdam(lr float64) *Adam { return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8} }

// Steps is the number of updates made so far.
func (a *Adam) Steps() int { return a.t }

// Step updates ts from their gradients multiplied by scale (for example
// 1/batch size when the gradients are sums). The tensors must be passed in
// the same order and with the same lengths on every call; the moments are
// kept by position.
func (a *Adam) Step(ts []Tensor, scale float64) {
	if a.m == nil {
		a.m = make([][]float64, len(ts))
		a.v = make([][]float64, len(ts))
		for k, t := range ts {
			a.m[k] = make([]float64, len(t.Value))
			a.v[k] = make([]float64, len(t.Value))
		}
	}
	if len(ts) != len(a.m) {
		panic(fmt.Sprintf("optim: Step called with %d tensors, first call had %d", len(ts), len(a.m)))
	}
	if a.Clip > 0 {
		var ss float64
		forEachRow(ts, func(_ int, t Tensor, lo, hi int) {
			for _, g := range t.Grad[lo:hi] {
				ss += g * g
			}
		})
		if norm := math.Sqrt(ss) * math.Abs(scale); norm > a.Clip {
			scale *= a.Clip / norm
		}
	}
	a.t++
	c1 := 1 - math.Pow(a.Beta1, float64(a.t))
	c2 := 1 - math.Pow(a.Beta2, float64(a.t))
	decay := 1 - a.LR*a.WeightDecay
	forEachRow(ts, func(k int, t Tensor, lo, hi int) {
		m, v := a.m[k], a.v[k]
		if len(m) != len(t.Value) || len(t.Grad) != len(t.Value) {
			panic(fmt.Sprintf("optim: tensor %d has %d values and %d gradients, first call had %d", k, len(t.Value), len(t.Grad), len(m)))
		}
		for i := lo; i < hi; i++ {
			g := t.Grad[i] * scale
			m[i] = a.Beta1*m[i] + (1-a.Beta1)*g
			v[i] = a.Beta2*v[i] + (1-a.Beta2)*g*g
			if a.WeightDecay != 0 && !t.NoDecay {
				t.Value[i] *= decay
			}
			t.Value[i] -= a.LR * (m[i] / c1) / (math.Sqrt(v[i]/c2) + a.Eps)
		}
	})
}

// forEachRow calls f for every updated span [lo, hi) of every tensor.
func forEachRow(ts []Tensor, f func(k int, t Tensor, lo, hi int)) {
	for k, t := range ts {
		if t.Frozen {
			continue
		}
		if t.Rows == nil {
			f(k, t, 0, len(t.Value))
			continue
		}
		n := len(t.Value) / len(t.Rows)
		for r, on := range t.Rows {
			if on {
				f(k, t, r*n, (r+1)*n)
			}
		}
	}
}
