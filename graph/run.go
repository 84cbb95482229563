package graph

import (
	"fmt"
	"math"
	"slices"
)

// Observer is called after every node with the node and the tensors it
// produced (one per output; nil for an omitted optional output). It must
// not modify the tensors. Returning an error stops the run.
type Observer func(n *Node, outputs []*Tensor) error

// RunOptions tune a run. The zero value runs the graph plainly.
type RunOptions struct {
	// Observe, if set, sees every node's outputs in execution order;
	// calibration uses it to record each activation's pre-activation
	// values (the Relu node's input is the previous node's output).
	Observe Observer
	// Keep, if set, makes Run return these intermediate values as well
	// as the graph outputs.
	Keep []string
	// AllowNonFinite accepts NaN and ±Inf in the inputs (ONNX's own test
	// data feeds them to IsNaN-style ops); by default they are an error.
	AllowNonFinite bool
}

// Run executes the graph on inputs (one tensor per graph input, in its
// declared shape) and returns the graph outputs by name. Errors name the
// node that failed; bad inputs (missing, wrong shape, NaN, non-integral
// values for an integer input) are reported before any node runs.
func (g *Graph) Run(inputs map[string]*Tensor) (map[string]*Tensor, error) {
	return g.RunWith(inputs, RunOptions{})
}

// RunWith is Run with options.
func (g *Graph) RunWith(inputs map[string]*Tensor, opt RunOptions) (map[string]*Tensor, error) {
	vals := make(map[string]*Tensor, len(g.Nodes)+len(g.Initializers)+len(inputs))
	for k, v := range g.Initializers {
		vals[k] = v
	}
	for _, in := range g.Inputs {
		t, ok := inputs[in.Name]
		if !ok || t == nil {
			return nil, fmt.Errorf("graph: missing input %q (shape %v, %s)", in.Name, in.Shape, in.DType)
		}
		if !slices.Equal(t.Shape, in.Shape) {
			return nil, fmt.Errorf("graph: input %q has shape %v, the model expects %v", in.Name, t.Shape, in.Shape)
		}
		if n, _ := ShapeSize(t.Shape); n != len(t.Data) {
			return nil, fmt.Errorf("graph: input %q: shape %v holds %d values, got %d", in.Name, t.Shape, n, len(t.Data))
		}
		for _, v := range t.Data {
			if !opt.AllowNonFinite && (math.IsNaN(v) || math.IsInf(v, 0)) {
				return nil, fmt.Errorf("graph: input %q contains NaN or infinite values", in.Name)
			}
			if !in.DType.IsFloat() && v != math.Trunc(v) && !math.IsNaN(v) {
				return nil, fmt.Errorf("graph: input %q is %s but holds the non-integer value %g", in.Name, in.DType, v)
			}
		}
		if in.DType.IsInt() && t.DType != in.DType {
			// Integer semantics (e.g. Div truncating) follow the
			// declared type; copy the header, not the data.
			t = &Tensor{Shape: t.Shape, Data: t.Data, DType: in.DType}
		}
		vals[in.Name] = t
	}
	for name := range inputs {
		if _, ok := g.Input(name); !ok {
			return nil, fmt.Errorf("graph: %q is not an input of the model", name)
		}
	}
	for _, n := range g.Nodes {
		op, ok := ops[n.Op]
		if !ok {
			return nil, &UnsupportedError{Op: n.Op, Node: n.Name}
		}
		in := make([]*Tensor, len(n.Inputs))
		for i, name := range n.Inputs {
			if name == "" {
				continue
			}
			t, ok := vals[name]
			if !ok {
				return nil, nodeErr(n, "input %q is not defined", name)
			}
			in[i] = t
		}
		out, err := op(&ctx{g: g, n: n}, in)
		if err != nil {
			return nil, err
		}
		// Integer-ness flows from the first input (ONNX ops keep their
		// input type unless they say otherwise, and those set DType).
		if len(in) > 0 && in[0] != nil && in[0].DType.IsInt() {
			for _, t := range out {
				if t != nil && t.DType == 0 {
					t.DType = in[0].DType
				}
			}
		}
		if len(out) < len(n.Outputs) {
			// Optional trailing outputs the implementation does not
			// compute must not be requested.
			for _, name := range n.Outputs[len(out):] {
				if name != "" {
					return nil, nodeErr(n, "optional output %q is not supported", name)
				}
			}
		}
		for i, name := range n.Outputs {
			if name != "" && i < len(out) {
				vals[name] = out[i]
			}
		}
		if opt.Observe != nil {
			if err := opt.Observe(n, out[:min(len(out), len(n.Outputs))]); err != nil {
				return nil, err
			}
		}
	}
	res := make(map[string]*Tensor, len(g.Outputs)+len(opt.Keep))
	for _, o := range g.Outputs {
		t, ok := vals[o.Name]
		if !ok {
			return nil, fmt.Errorf("graph: output %q was not computed", o.Name)
		}
		res[o.Name] = t
	}
	for _, k := range opt.Keep {
		t, ok := vals[k]
		if !ok {
			return nil, fmt.Errorf("graph: value %q does not exist", k)
		}
		res[k] = t
	}
	return res, nil
}

// InferShapes returns the static shape of every value (inputs,
// initializers, node outputs). All supported ops have output shapes that
// depend only on input shapes and on constant tensors (Reshape's target,
// Squeeze's axes), so the shapes are found by one run on zero inputs; the
// cost is one plaintext forward pass.
func (g *Graph) InferShapes() (map[string][]int, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	inputs := make(map[string]*Tensor, len(g.Inputs))
	for _, in := range g.Inputs {
		n, err := ShapeSize(in.Shape)
		if err != nil {
			return nil, err
		}
		inputs[in.Name] = &Tensor{Shape: append([]int(nil), in.Shape...), Data: make([]float64, n)}
	}
	shapes := map[string][]int{}
	for k, v := range g.Initializers {
		shapes[k] = v.Shape
	}
	for _, in := range g.Inputs {
		shapes[in.Name] = in.Shape
	}
	_, err := g.RunWith(inputs, RunOptions{Observe: func(n *Node, outs []*Tensor) error {
		for i, t := range outs {
			if t != nil && n.Outputs[i] != "" {
				shapes[n.Outputs[i]] = append([]int(nil), t.Shape...)
			}
		}
		return nil
	}})
	if err != nil {
		return nil, err
	}
	return shapes, nil
}
