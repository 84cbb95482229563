package transformer

import "math"

// Adam is the Adam optimiser (Kingma & Ba 2015) with optional global-norm
// gradient clipping, which keeps polynomial-activation training stable
// when a pre-activation strays far outside the fitted interval.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	// Clip is the largest global gradient norm; 0 disables clipping.
	Clip float64
	step int
	m, v map[*Param][]float64
	Skip map[*Param]bool // parameters left untouched (e.g. frozen embeddings)
	// Rows, if set for a parameter, limits its update to the rows marked
	// true; the others keep zero gradient and moments, so skipping them is
	// exact and saves the sweep over a large frozen embedding.
	Rows map[*Param][]bool
}

// NewAdam returns Adam with the usual defaults and learning rate lr.
func NewAdam(lr float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		m: map[*Param][]float64{}, v: map[*Param][]float64{}, Skip: map[*Param]bool{}, Rows: map[*Param][]bool{}}
}

// Step updates ps from their gradients divided by n (the batch size).
func (a *Adam) Step(ps []*Param, n int) {
	a.step++
	scale := 1 / float64(n)
	if a.Clip > 0 {
		var ss float64
		for _, p := range ps {
			if a.Skip[p] {
				continue
			}
			rows := a.Rows[p]
			for r := 0; r < p.R; r++ {
				if rows == nil || rows[r] {
					for _, g := range p.G[r*p.C : (r+1)*p.C] {
						ss += g * g
					}
				}
			}
		}
		if norm := math.Sqrt(ss) * scale; norm > a.Clip {
			scale *= a.Clip / norm
		}
	}
	c1 := 1 - math.Pow(a.Beta1, float64(a.step))
	c2 := 1 - math.Pow(a.Beta2, float64(a.step))
	for _, p := range ps {
		if a.Skip[p] {
			continue
		}
		m, ok := a.m[p]
		if !ok {
			m = make([]float64, len(p.W))
			a.m[p] = m
			a.v[p] = make([]float64, len(p.W))
		}
		v := a.v[p]
		rows := a.Rows[p]
		for r := 0; r < p.R; r++ {
			if rows != nil && !rows[r] {
				continue
			}
			for i := r * p.C; i < (r+1)*p.C; i++ {
				g := p.G[i] * scale
				m[i] = a.Beta1*m[i] + (1-a.Beta1)*g
				v[i] = a.Beta2*v[i] + (1-a.Beta2)*g*g
				p.W[i] -= a.LR * (m[i] / c1) / (math.Sqrt(v[i]/c2) + a.Eps)
			}
		}
	}
}
