package henn

import (
	"fmt"
)

// affine is x ↦ W·x + b. A nil w stands for diag(s), so the scalars an
// activation leaves behind cost nothing until they are folded into the
// next Dense.
type affine struct {
	w   [][]float64
	s   []float64
	b   []float64
	in  int
	out int
}

func identity(n int) *affine {
	a := &affine{s: make([]float64, n), b: make([]float64, n), in: n, out: n}
	for i := range a.s {
		a.s[i] = 1
	}
	return a
}

// isIdentity reports whether a is exactly x ↦ x (nothing to evaluate).
func (a *affine) isIdentity() bool {
	if a.w != nil {
		return false
	}
	for i := range a.s {
		if a.s[i] != 1 || a.b[i] != 0 {
			return false
		}
	}
	return true
}

func (a *affine) matrix() [][]float64 {
	if a.w != nil {
		return a.w
	}
	w := make([][]float64, a.out)
	for i := range w {
		w[i] = make([]float64, a.in)
		w[i][i] = a.s[i]
	}
	return w
}

// then returns d∘a.
func (a *affine) then(d Dense) *affine {
	out := len(d.W)
	r := &affine{w: make([][]float64, out), b: make([]float64, out), in: a.in, out: out}
	for i, row := range d.W {
		ri := make([]float64, a.in)
		var bi float64
		for j, v := range row {
			if v == 0 {
				continue
			}
			bi += v * a.b[j]
			if a.w == nil {
				ri[j] += v * a.s[j]
				continue
			}
			for k, u := range a.w[j] {
				if u != 0 {
					ri[k] += v * u
				}
			}
		}
		if d.B != nil {
			bi += d.B[i]
		}
		r.w[i], r.b[i] = ri, bi
	}
	return r
}

// scaleShift returns x ↦ c1·a(x) + c0.
func (a *affine) scaleShift(c1, c0 float64) *affine {
	r := &affine{b: make([]float64, a.out), in: a.in, out: a.out}
	if a.w == nil {
		r.s = make([]float64, a.out)
		for i := range a.s {
			r.s[i] = c1 * a.s[i]
		}
	} else {
		r.w = make([][]float64, a.out)
		for i, row := range a.w {
			r.w[i] = make([]float64, len(row))
			for j, v := range row {
				r.w[i][j] = c1 * v
			}
		}
	}
	for i := range a.b {
		r.b[i] = c1*a.b[i] + c0
	}
	return r
}

// stage is one ciphertext step: a linear map (one level) or, when lin is
// nil, an elementwise square (one level).
type stage struct {
	lin *affine
}

// lower turns a network into alternating linear maps and squares: every
// degree-2 activation c2·x²+c1·x+c0 = c2·(x+t)²+e with t = c1/(2·c2),
// e = c0−c1²/(4·c2); t joins the bias before it, c2 and e join the map after
// it. Consecutive affine maps are merged, so the depth is the number of
// squares plus the number of linear maps between and around them.
func lower(net Network) ([]stage, int, error) {
	out, err := net.Validate()
	if err != nil {
		return nil, 0, err
	}
	var stages []stage
	pending := identity(net.InputDim)
	for i, l := range net.Layers {
		switch l := l.(type) {
		case Dense:
			pending = pending.then(l)
		case *Dense:
			pending = pending.then(*l)
		case Poly, *Poly:
			p, _ := l.(Poly)
			if pp, ok := l.(*Poly); ok {
				p = *pp
			}
			c := p.Coeffs
			switch deg := c.Degree(); {
			case deg <= 1:
				c1 := 0.0
				if len(c) > 1 {
					c1 = c[1]
				}
				pending = pending.scaleShift(c1, c[0])
			case deg == 2:
				c0, c1, c2 := c[0], c[1], c[2]
				t := c1 / (2 * c2)
				e := c0 - c1*c1/(4*c2)
				pending = pending.scaleShift(1, t)
				stages = append(stages, stage{lin: &affine{w: pending.matrix(), b: pending.b, in: pending.in, out: pending.out}}, stage{})
				n := pending.out
				pending = identity(n).scaleShift(c2, e)
			default:
				return nil, 0, fmt.Errorf("henn: layer %d: activation of degree %d needs %d levels; the encrypted evaluator takes degree ≤ 2 (one level)", i, deg, depthOf(deg))
			}
		default:
			return nil, 0, fmt.Errorf("henn: layer %d: unsupported layer type %T", i, l)
		}
	}
	if !pending.isIdentity() {
		stages = append(stages, stage{lin: &affine{w: pending.matrix(), b: pending.b, in: pending.in, out: pending.out}})
	}
	return stages, out, nil
}

func depthOf(deg int) int {
	d := 0
	for (1 << d) < deg+1 {
		d++
	}
	return d
}
