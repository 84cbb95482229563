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
	// MemoryBudget bounds, in bytes, the node outputs a run holds (a run
	// keeps every value until it returns, for Keep and Observe); a node
	// that would exceed it stops the run with an error naming it. Zero
	// selects DefaultMemoryBudget; negative values are an error.
	MemoryBudget int64
}

// DefaultMemoryBudget is the memory budget of a run when RunOptions leave
// it zero: 1 GiB of float64 values, far above the plaintext pass of any
// model krelu compiles (an encrypted run's ring holds at most 2^16 slots).
const DefaultMemoryBudget = 1 << 30

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
	budget := opt.MemoryBudget
	switch {
	case budget == 0:
		budget = DefaultMemoryBudget
	case budget < 0:
		return nil, fmt.Errorf("graph: the memory budget must be positive, got %d bytes", budget)
	}
	var used int64 // bytes of node outputs held by this run
	for _, n := range g.Nodes {
		if _, ok := ops[n.Op]; !ok {
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
		// Refuse before allocating when the op's shape rule knows the
		// output size; a rule error is left for the op to report.
		if need, ok := outputBytes(g, n, in); ok && used+need > budget {
			return nil, budgetErr(n, used+need, budget)
		}
		out, err := runNode(g, n, in)
		if err != nil {
			return nil, err
		}
		for _, t := range out {
			if t != nil {
				used += 8 * int64(len(t.Data))
			}
		}
		if used > budget {
			return nil, budgetErr(n, used, budget)
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

// runNode runs one node on its inputs (nil for omitted ones) and returns
// its outputs, at least as many as the node names.
func runNode(g *Graph, n *Node, in []*Tensor) ([]*Tensor, error) {
	op, ok := ops[n.Op]
	if !ok {
		return nil, &UnsupportedError{Op: n.Op, Node: n.Name}
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
	return out, nil
}

// outputBytes is the size of a node's outputs when its shape rule can
// tell it before the node runs.
func outputBytes(g *Graph, n *Node, in []*Tensor) (int64, bool) {
	rule, ok := shapeRules[n.Op]
	if !ok {
		return 0, false
	}
	abs := make([]*absVal, len(in))
	for i, t := range in {
		if t != nil {
			abs[i] = &absVal{shape: t.Shape, val: t, dtype: t.DType}
		}
	}
	shapes, err := rule(&ctx{g: g, n: n}, abs)
	if err != nil {
		return 0, false
	}
	var b int64
	for _, s := range shapes {
		sz, err := ShapeSize(s)
		if err != nil {
			return 0, false
		}
		b += 8 * int64(sz)
	}
	return b, true
}

func budgetErr(n *Node, need, budget int64) error {
	return nodeErr(n, "the run's values would take %d MiB, above its memory budget of %d MiB", need>>20, budget>>20)
}
