package nn

import (
	"fmt"

	"github.com/krelu/krelu/graph"
)

// Graph exports n into krelu's model IR (package graph): Dense becomes
// MatMul + Add, Conv a 2-D Conv (NCHW; nn computes in HWC, so the first
// Dense after a convolution has its input rows permuted and a Flatten is
// inserted), an activation Relu or a krelu.Poly. The graph runs in plaintext
// (graph.Run) and compiles for CKKS (henn.CompileGraph), which lowers the
// convolution with packed, multiplexed diagonals instead of the expanded
// matrix that [Network.HENN] passes.
func (n *Network) Graph() (*graph.Graph, error) {
	g := &graph.Graph{Name: n.Arch, Initializers: map[string]*graph.Tensor{}}
	in := graph.ValueInfo{Name: "input", Shape: []int{1, n.InputDim}, DType: graph.Float32}
	if len(n.Layers) > 0 {
		if c, ok := n.Layers[0].(*Conv); ok {
			in.Shape = []int{1, c.InC, c.H, c.W}
			if c.InC != 1 {
				return nil, fmt.Errorf("nn: exporting a %d-channel input needs an HWC→CHW transpose, not implemented", c.InC)
			}
		}
	}
	g.Inputs = []graph.ValueInfo{in}
	cur := in.Name
	var conv *Conv // last convolution whose HWC output feeds the next Dense
	for i, l := range n.Layers {
		name := fmt.Sprintf("l%d", i)
		add := func(op string, inputs []string, attrs map[string]graph.Attr) {
			g.Nodes = append(g.Nodes, &graph.Node{Op: op, Name: name + "_" + op, Inputs: inputs, Outputs: []string{name + "_" + op}, Attrs: attrs})
			cur = name + "_" + op
		}
		switch l := l.(type) {
		case *Dense:
			w := make([]float64, l.In*l.Out)
			copy(w, l.W.Value) // In×Out row-major, as MatMul wants
			if conv != nil {
				// Graph row (o·OH+y)·OW+x is nn's HWC row (y·OW+x)·OutC+o.
				for o := 0; o < conv.OutC; o++ {
					for p := 0; p < conv.OH*conv.OW; p++ {
						copy(w[(o*conv.OH*conv.OW+p)*l.Out:][:l.Out], l.W.Value[(p*conv.OutC+o)*l.Out:][:l.Out])
					}
				}
				add("Flatten", []string{cur}, nil)
				conv = nil
			}
			g.Initializers[name+".w"] = &graph.Tensor{Shape: []int{l.In, l.Out}, Data: w}
			g.Initializers[name+".b"] = &graph.Tensor{Shape: []int{l.Out}, Data: append([]float64(nil), l.B.Value...)}
			add("MatMul", []string{cur, name + ".w"}, nil)
			add("Add", []string{cur, name + ".b"}, nil)
		case *Conv:
			if conv != nil {
				return nil, fmt.Errorf("nn: layer %d: exporting stacked convolutions is not implemented", i)
			}
			w := make([]float64, l.OutC*l.InC*l.K*l.K)
			for o := 0; o < l.OutC; o++ {
				for c := 0; c < l.InC; c++ {
					for ky := 0; ky < l.K; ky++ {
						for kx := 0; kx < l.K; kx++ {
							w[((o*l.InC+c)*l.K+ky)*l.K+kx] = l.Kern.Value[((ky*l.K+kx)*l.InC+c)*l.OutC+o]
						}
					}
				}
			}
			g.Initializers[name+".w"] = &graph.Tensor{Shape: []int{l.OutC, l.InC, l.K, l.K}, Data: w}
			g.Initializers[name+".b"] = &graph.Tensor{Shape: []int{l.OutC}, Data: append([]float64(nil), l.B.Value...)}
			ints := func(v ...int64) graph.Attr { return graph.Attr{Kind: graph.AttrInts, Ints: v} }
			p, s, k := int64(l.Pad), int64(l.Stride), int64(l.K)
			add("Conv", []string{cur, name + ".w", name + ".b"}, map[string]graph.Attr{
				"kernel_shape": ints(k, k), "strides": ints(s, s), "pads": ints(p, p, p, p)})
			conv = l
		case *Act:
			if l.Poly == nil {
				add("Relu", []string{cur}, nil)
			} else {
				add(graph.OpPoly, []string{cur}, map[string]graph.Attr{
					"coefficients": {Kind: graph.AttrFloats, Floats: append([]float64(nil), l.Poly...)}})
			}
		default:
			return nil, fmt.Errorf("nn: layer %d (%T) has no graph form", i, l)
		}
	}
	g.Outputs = []graph.ValueInfo{{Name: cur, Shape: []int{1, n.Classes()}, DType: graph.Float32}}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g, nil
}
