package nn

import (
	"fmt"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/henn"
)

// HENN exports n as the plain description evaluated under encryption by
// package henn: dense layers become henn.Dense with W transposed to out×in,
// a convolution becomes the henn.Dense of its expanded (mostly zero) matrix,
// activations become henn.Poly. ReLU cannot be evaluated in CKKS at depth
// one, so a network that still has a ReLU layer is refused.
func (n *Network) HENN() (henn.Network, error) {
	out := henn.Network{InputDim: n.InputDim}
	for i, l := range n.Layers {
		switch l := l.(type) {
		case *Dense:
			out.Layers = append(out.Layers, henn.Dense{W: transpose(l.In, l.Out, l.W.Value), B: append([]float64(nil), l.B.Value...)})
		case *Conv:
			m, b := l.Matrix()
			r, c := m.Dims()
			out.Layers = append(out.Layers, henn.Dense{W: transpose(r, c, m.RawMatrix().Data), B: b})
		case *Act:
			if l.Poly == nil {
				return henn.Network{}, fmt.Errorf("nn: layer %d is ReLU, which has no encrypted form; swap in a polynomial first (krelu eval --swap ... -o MODEL)", i)
			}
			out.Layers = append(out.Layers, henn.Poly{Coeffs: append(approx.Poly(nil), l.Poly...)})
		default:
			return henn.Network{}, fmt.Errorf("nn: layer %d (%s) has no encrypted form", i, l.Spec().Type)
		}
	}
	return out, nil
}

// transpose returns the out×in rows of an in×out row-major matrix.
func transpose(in, out int, w []float64) [][]float64 {
	t := make([][]float64, out)
	for j := range t {
		t[j] = make([]float64, in)
		for i := range t[j] {
			t[j][i] = w[i*out+j]
		}
	}
	return t
}
