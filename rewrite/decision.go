package rewrite

import (
	"fmt"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/graph"
)

// decisionEvals bounds the forward passes of a Nelder–Mead decision-aware
// fit (an earlier layer); each pass runs the rest of the graph on every
// calibration input.
const decisionEvals = 200

// fitDecision fits the activation node n of g (earlier activations already
// replaced, later ones still exact) by the decision-aware program of
// approx.FitDecisionAware against ref, the original graph's decisions on
// calib, starting from the direct least-squares quadratic (whose interval
// the layer reports). The forward pass for each candidate quadratic runs
// only the part of g after n (the graph runtime on values cached from one
// full pass per input).
func fitDecision(g *graph.Graph, n *graph.Node, calib []*graph.Tensor, ref []int, pre []float64, opt Options) (*Layer, error) {
	if opt.Degree != 2 {
		return nil, fmt.Errorf("the decision-aware fit is a quadratic; degree %d is not offered", opt.Degree)
	}
	l, err := fit(pre, Direct, opt)
	if err != nil {
		return nil, err
	}
	t, err := newTail(g, n, calib)
	if err != nil {
		return nil, err
	}
	r, err := approx.FitDecisionAware(ref, approx.Poly(l.Coefficients), t.logits,
		approx.DecisionOptions{Affine: t.affine, Evals: decisionEvals})
	if err != nil {
		return nil, err
	}
	l.Method = Decision
	l.Solver = r.Solver
	measure(l, r.Poly, pre)
	return l, nil
}

// tail is the part of a graph from one activation node on, with the values
// it reads from earlier nodes cached for every calibration input.
type tail struct {
	g      *graph.Graph
	node   *graph.Node // the activation, as a krelu.Poly node of g
	feeds  []map[string]*graph.Tensor
	affine bool
}

// affineOps are the ops that are affine in each input that depends on the
// activation, the other inputs held fixed.
var affineOps = map[string]bool{
	"Gemm": true, "MatMul": true, "Conv": true, "Add": true, "Sub": true, "Sum": true, "Mul": true,
	"Div": true, "Neg": true, "Flatten": true, "Reshape": true, "Transpose": true, "Squeeze": true,
	"Unsqueeze": true, "Concat": true, "Slice": true, "Split": true, "Identity": true, "Dropout": true,
	"AveragePool": true, "GlobalAveragePool": true, "BatchNormalization": true, "Pad": true,
	"ReduceMean": true, "ReduceSum": true, "Mean": true,
}

// sumOps may read several activation-dependent inputs and stay affine.
var sumOps = map[string]bool{"Add": true, "Sub": true, "Sum": true, "Mean": true, "Concat": true}

func newTail(g *graph.Graph, n *graph.Node, calib []*graph.Tensor) (*tail, error) {
	idx := -1
	for i, m := range g.Nodes {
		if m == n {
			idx = i
		}
	}
	if idx < 0 || len(n.Inputs) != 1 || len(n.Outputs) != 1 {
		return nil, fmt.Errorf("node %q is not a one-input activation of the graph", n.Name)
	}
	act := &graph.Node{Op: graph.OpPoly, Name: n.Name, Inputs: n.Inputs, Outputs: n.Outputs}
	nodes := append([]*graph.Node{act}, g.Nodes[idx+1:]...)
	produced := map[string]bool{}
	var need []string
	seen := map[string]bool{}
	for _, m := range nodes {
		for _, in := range m.Inputs {
			if in == "" || produced[in] || seen[in] || g.Initializers[in] != nil {
				continue
			}
			seen[in] = true
			need = append(need, in)
		}
		for _, o := range m.Outputs {
			produced[o] = true
		}
	}
	t := &tail{g: &graph.Graph{Name: g.Name, Opset: g.Opset, Outputs: g.Outputs, Initializers: g.Initializers, Nodes: nodes}, node: act}
	for i, x := range calib {
		res, err := g.RunWith(map[string]*graph.Tensor{g.Inputs[0].Name: x}, graph.RunOptions{Keep: need})
		if err != nil {
			return nil, fmt.Errorf("calibration input %d: %w", i, err)
		}
		f := make(map[string]*graph.Tensor, len(need))
		for _, k := range need {
			f[k] = res[k]
		}
		t.feeds = append(t.feeds, f)
	}
	for _, k := range need {
		v := t.feeds[0][k]
		dt := v.DType
		if dt == 0 {
			dt = graph.Float64
		}
		t.g.Inputs = append(t.g.Inputs, graph.ValueInfo{Name: k, Shape: v.Shape, DType: dt})
	}
	// The logits are affine in the quadratic's coefficients when every
	// op after the activation is affine in its activation-dependent
	// inputs and multiplies at most one of them.
	dep := map[string]bool{n.Outputs[0]: true}
	t.affine = true
	for _, m := range nodes[1:] {
		k := 0
		for _, in := range m.Inputs {
			if dep[in] {
				k++
			}
		}
		if k == 0 {
			continue
		}
		if !affineOps[m.Op] || (k > 1 && !sumOps[m.Op]) || (m.Op == "Div" && !dep[m.Inputs[0]]) ||
			(m.Op == "Pad" && len(m.Inputs) > 1 && !dep[m.Inputs[0]]) {
			t.affine = false
		}
		for _, o := range m.Outputs {
			dep[o] = true
		}
	}
	if err := t.g.Validate(); err != nil {
		return nil, fmt.Errorf("the graph after %s node %q: %w", n.Op, n.Name, err)
	}
	return t, nil
}

// logits runs the tail with the activation replaced by p on every cached
// calibration input.
func (t *tail) logits(p approx.Poly) ([][]float64, error) {
	t.node.Attrs = map[string]graph.Attr{"coefficients": {Kind: graph.AttrFloats, Floats: append([]float64(nil), p...)}}
	out := make([][]float64, len(t.feeds))
	name := t.g.Outputs[0].Name
	for i, f := range t.feeds {
		res, err := t.g.Run(f)
		if err != nil {
			return nil, fmt.Errorf("calibration input %d: %w", i, err)
		}
		out[i] = res[name].Data
	}
	return out, nil
}
