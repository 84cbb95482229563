package logits

import "math"

// Argmax returns the index of the largest value of v, the first one on
// ties; NaNs are never chosen over a number that precedes them. An empty
// v gives 0.
func Argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Softmax replaces v by exp(v)/Σexp(v). It subtracts the maximum first,
// so large logits do not overflow (the result is mathematically the same).
func Softmax(v []float64) {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	var s float64
	for i, x := range v {
		v[i] = math.Exp(x - m)
		s += v[i]
	}
	for i := range v {
		v[i] /= s
	}
}
