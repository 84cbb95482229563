package graph

import (
	"errors"
	"math"
	"slices"
)

// Shape inference without the forward pass.
//
// A model file of a few hundred bytes can declare a Conv whose pads grow a
// 1×1 input to 2001×2001, so running the graph on zeros to learn its
// shapes lets an untrusted file allocate gigabytes before anything checks
// it. InferShapes therefore works on abstract values: every value has a
// shape, and only small tensors whose values are known without the model
// inputs (initializers, Constant, Shape and the integer arithmetic on
// them that Reshape targets come from) also carry data. Ops with a shape
// rule below cost O(rank); the rest run on zeros, within inferBudget.

// absVal is a value during shape inference: its shape always, its data
// only when known independently of the model inputs.
type absVal struct {
	shape []int
	val   *Tensor // nil: not known
	dtype DType
}

// shapeRule returns the output shapes of a node from its inputs' shapes
// (and the values of the inputs that carry them). in[i] is nil for an
// omitted optional input. A rule returns errNeedValue when the shape
// depends on a value that is not known; the node then runs on zeros.
type shapeRule func(c *ctx, in []*absVal) ([][]int, error)

var errNeedValue = errors.New("needs an input value")

// shapeRules holds the shape-only rule of every op that has one.
var shapeRules = map[string]shapeRule{}

const (
	// inferBudget bounds, in float64 values, what InferShapes may
	// materialize to run ops without a shape rule (Slice, Split, the
	// reductions, …): 2^24 values, 128 MiB. A graph needing more is
	// refused with an error naming the node.
	inferBudget = 1 << 24
	// foldLimit is the largest known tensor InferShapes computes the
	// values of (shape arithmetic holds a handful of integers).
	foldLimit = 1 << 12
)

// InferShapes returns the static shape of every value (inputs,
// initializers, node outputs). It does not run the forward pass: ops
// have shape rules, and values that shapes depend on (Reshape's target,
// Pad's pads, Expand's shape) are propagated when they are computed from
// constants. The few ops without a rule run on zero tensors, and a graph
// whose zero tensors would exceed 2^24 values (128 MiB) is refused.
func (g *Graph) InferShapes() (map[string][]int, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	vals := make(map[string]*absVal, len(g.Nodes)+len(g.Initializers)+len(g.Inputs))
	for k, v := range g.Initializers {
		vals[k] = &absVal{shape: v.Shape, val: v, dtype: v.DType}
	}
	for _, in := range g.Inputs {
		if _, err := ShapeSize(in.Shape); err != nil {
			return nil, err
		}
		dt := DType(0)
		if in.DType.IsInt() {
			dt = in.DType
		}
		vals[in.Name] = &absVal{shape: in.Shape, dtype: dt}
	}
	spent := 0
	for _, n := range g.Nodes {
		if _, ok := ops[n.Op]; !ok {
			return nil, &UnsupportedError{Op: n.Op, Node: n.Name}
		}
		in := make([]*absVal, len(n.Inputs))
		known := true
		for i, name := range n.Inputs {
			if name == "" {
				continue
			}
			v, ok := vals[name]
			if !ok {
				return nil, nodeErr(n, "input %q is not defined", name)
			}
			in[i] = v
			known = known && v.val != nil
		}
		// Shape and Size read only their input's shape: their values are
		// known, and they run on a data-less stand-in.
		shapeOnly := n.Op == "Shape" || n.Op == "Size"
		if shapeOnly {
			known = true
		}
		c := &ctx{g: g, n: n}
		var shapes [][]int
		rule, hasRule := shapeRules[n.Op]
		if hasRule {
			var err error
			shapes, err = rule(c, in)
			switch {
			case errors.Is(err, errNeedValue):
				hasRule = false
			case err != nil:
				return nil, err
			}
		}
		if hasRule {
			total := 0
			for _, s := range shapes {
				sz, err := ShapeSize(s)
				if err != nil {
					return nil, c.errf("output shape: %v", err)
				}
				total += sz
			}
			if !known || total > foldLimit {
				dt := DType(0)
				if len(in) > 0 && in[0] != nil && in[0].dtype.IsInt() {
					dt = in[0].dtype
				}
				if n.Op == "Cast" {
					dt = castDType(n)
				}
				if len(shapes) < len(n.Outputs) {
					for _, name := range n.Outputs[len(shapes):] {
						if name != "" {
							return nil, nodeErr(n, "optional output %q is not supported", name)
						}
					}
				}
				for i, name := range n.Outputs {
					if name != "" && i < len(shapes) {
						vals[name] = &absVal{shape: shapes[i], dtype: dt}
					}
				}
				continue
			}
		}
		// Run the node: on its known inputs (constant folding) or, for
		// an op without a rule, on zeros standing in for the unknown ones.
		args := make([]*Tensor, len(in))
		cost := 0
		for i, v := range in {
			if v == nil {
				continue
			}
			if v.val != nil {
				args[i] = v.val
				continue
			}
			if shapeOnly {
				args[i] = &Tensor{Shape: v.shape, DType: v.dtype}
				continue
			}
			sz, _ := ShapeSize(v.shape)
			cost += sz
			if spent+cost > inferBudget {
				return nil, c.errf("shape inference would run this %s node on %d values (%d MiB), above its budget of %d MiB", n.Op, spent+cost, (spent+cost)>>17, inferBudget>>17)
			}
			args[i] = &Tensor{Shape: v.shape, Data: make([]float64, sz), DType: v.dtype}
		}
		spent += cost
		out, err := runNode(g, n, args)
		if err != nil {
			return nil, err
		}
		for i, name := range n.Outputs {
			if name == "" || i >= len(out) || out[i] == nil {
				continue
			}
			t := out[i]
			spent += len(t.Data)
			if spent > inferBudget {
				return nil, c.errf("shape inference ran this %s node to %d values (%d MiB), above its budget of %d MiB", n.Op, spent, spent>>17, inferBudget>>17)
			}
			v := &absVal{shape: t.Shape, dtype: t.DType}
			if known && len(t.Data) <= foldLimit {
				v.val = t
			}
			vals[name] = v
		}
	}
	shapes := make(map[string][]int, len(vals))
	for k, v := range vals {
		shapes[k] = append([]int(nil), v.shape...)
	}
	return shapes, nil
}

// castDType is the DType a Cast node's output carries in the runtime.
func castDType(n *Node) DType {
	switch n.AttrInt("to", castFloat) {
	case castInt32:
		return Int32
	case castInt64:
		return Int64
	}
	return 0
}

// ints returns the known integer values of an input, or errNeedValue.
func (c *ctx) ints(v *absVal, what string) ([]int, error) {
	if v.val == nil {
		return nil, errNeedValue
	}
	return c.toInts(v.val, what)
}

func sameShapeRule(c *ctx, in []*absVal) ([][]int, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, c.errf("input 0 is missing")
	}
	return [][]int{in[0].shape}, nil
}

// present checks that the first k inputs are present.
func present(c *ctx, in []*absVal, k int) error {
	if len(in) < k {
		return c.errf("needs %d inputs, has %d", k, len(in))
	}
	for i := 0; i < k; i++ {
		if in[i] == nil {
			return c.errf("input %d is missing", i)
		}
	}
	return nil
}

// binaryRule is the shape of Add, Sub, Mul, Div and Pow, which read
// their first two inputs.
func binaryRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 2); err != nil {
		return nil, err
	}
	if c.opset() < 7 && c.n.AttrInt("broadcast", 0) != 0 && c.n.HasAttr("axis") {
		return nil, errNeedValue // legacy broadcast: rare, let the op decide
	}
	return variadicRule(c, in[:2])
}

// variadicRule is the shape of Max, Min, Sum and Mean.
func variadicRule(c *ctx, in []*absVal) ([][]int, error) {
	if len(in) == 0 {
		return nil, c.errf("needs at least one input")
	}
	if err := present(c, in, len(in)); err != nil {
		return nil, err
	}
	ss := make([][]int, len(in))
	for i, v := range in {
		ss[i] = v.shape
	}
	out, err := broadcastShape(ss...)
	if err != nil {
		return nil, c.errf("%v", err)
	}
	return [][]int{out}, nil
}

func init() {
	for _, op := range []string{"Relu", "Sigmoid", "Tanh", "Erf", "Sqrt", "Neg", "Abs", "Exp", "Log",
		"Reciprocal", "Identity", "Gelu", OpPoly, "LeakyRelu", "Elu", "Softplus", "Softsign",
		"HardSigmoid", "HardSwish", "Sin", "Cos", "Floor", "Ceil", "Clip", "Softmax", "LogSoftmax"} {
		shapeRules[op] = sameShapeRule
	}
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "Pow"} {
		shapeRules[op] = binaryRule
	}
	for _, op := range []string{"Max", "Min", "Sum", "Mean"} {
		shapeRules[op] = variadicRule
	}
	shapeRules["Cast"] = castRule
	shapeRules["Conv"] = convRule
	shapeRules["AveragePool"] = avgPoolRule
	shapeRules["GlobalAveragePool"] = globalPoolRule
	shapeRules["MatMul"] = matMulRule
	shapeRules["Gemm"] = gemmRule
	shapeRules["Flatten"] = flattenRule
	shapeRules["Reshape"] = reshapeRule
	shapeRules["Transpose"] = transposeRule
	shapeRules["Concat"] = concatRule
	shapeRules["Gather"] = gatherRule
	shapeRules["Pad"] = padRule
	shapeRules["Expand"] = expandRule
	shapeRules["ConstantOfShape"] = constantOfShapeRule
	shapeRules["Tile"] = tileRule
	shapeRules["Range"] = rangeRule
}

func castRule(c *ctx, in []*absVal) ([][]int, error) {
	switch c.n.AttrInt("to", 0) {
	case castFloat, castFloat16, castBFloat16, castDouble, castInt32, castInt64:
		return sameShapeRule(c, in)
	}
	return nil, errNeedValue // let the op report the unsupported type
}

func convRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 2); err != nil {
		return nil, err
	}
	x, w := in[0].shape, in[1].shape
	if len(x) < 3 {
		return nil, c.errf("input must be (N, C, spatial…), got shape %v", x)
	}
	if len(w) != len(x) {
		return nil, c.errf("weight shape %v does not match input shape %v", w, x)
	}
	group := int(c.n.AttrInt("group", 1))
	ch, m, cg := x[1], w[0], w[1]
	if group < 1 || ch%group != 0 || m%group != 0 || cg != ch/group {
		return nil, c.errf("group %d inconsistent with input channels %d and weight shape %v", group, ch, w)
	}
	kernel := w[2:]
	if ks := c.n.AttrInts("kernel_shape"); ks != nil && !slices.Equal(int64s(ks), kernel) {
		return nil, c.errf("kernel_shape %v differs from weight shape %v", ks, w)
	}
	sp, err := c.window(x[2:], kernel, false)
	if err != nil {
		return nil, err
	}
	return [][]int{append([]int{x[0], m}, sp.out...)}, nil
}

func avgPoolRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 1); err != nil {
		return nil, err
	}
	x := in[0].shape
	if len(x) < 3 {
		return nil, c.errf("input must be (N, C, spatial…), got shape %v", x)
	}
	ks := c.n.AttrInts("kernel_shape")
	if ks == nil {
		return nil, c.errf("attribute kernel_shape is required")
	}
	sp, err := c.window(x[2:], int64s(ks), c.n.AttrInt("ceil_mode", 0) != 0)
	if err != nil {
		return nil, err
	}
	return [][]int{append([]int{x[0], x[1]}, sp.out...)}, nil
}

func globalPoolRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 1); err != nil {
		return nil, err
	}
	x := in[0].shape
	if len(x) < 2 {
		return nil, c.errf("input must be (N, C, spatial…), got shape %v", x)
	}
	out := []int{x[0], x[1]}
	for range x[2:] {
		out = append(out, 1)
	}
	return [][]int{out}, nil
}

func matMulRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 2); err != nil {
		return nil, err
	}
	mm, err := matMulDims(c, in[0].shape, in[1].shape)
	if err != nil {
		return nil, err
	}
	return [][]int{mm.out}, nil
}

func gemmRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 2); err != nil {
		return nil, err
	}
	a, b := in[0].shape, in[1].shape
	if len(a) != 2 || len(b) != 2 {
		return nil, c.errf("A and B must be matrices, got shapes %v and %v", a, b)
	}
	m, k, k2, n := a[0], a[1], b[0], b[1]
	if c.n.AttrInt("transA", 0) != 0 {
		m, k = k, m
	}
	if c.n.AttrInt("transB", 0) != 0 {
		k2, n = n, k2
	}
	if k != k2 {
		return nil, c.errf("inner dimensions differ: A %v, B %v", a, b)
	}
	if len(in) > 2 && in[2] != nil && c.n.AttrFloat("beta", 1) != 0 {
		cs := in[2].shape
		out, err := broadcastShape(cs, []int{m, n})
		if len(cs) > 2 || err != nil || !slices.Equal(out, []int{m, n}) {
			return nil, c.errf("C of shape %v does not broadcast to %v", cs, []int{m, n})
		}
	}
	return [][]int{{m, n}}, nil
}

func flattenRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 1); err != nil {
		return nil, err
	}
	x := in[0].shape
	r := len(x)
	axis := int(c.n.AttrInt("axis", 1))
	if axis < -r || axis > r {
		return nil, c.errf("axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	return [][]int{{prod(x[:axis]), prod(x[axis:])}}, nil
}

func reshapeRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 2); err != nil {
		return nil, err
	}
	x := in[0].shape
	target, err := c.ints(in[1], "shape")
	if err != nil {
		return nil, err
	}
	shape, err := reshapeTarget(c, x, target)
	if err != nil {
		return nil, err
	}
	return [][]int{shape}, nil
}

func transposeRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 1); err != nil {
		return nil, err
	}
	x := in[0].shape
	perm, err := transposePerm(c, len(x))
	if err != nil {
		return nil, err
	}
	out := make([]int, len(x))
	for i, p := range perm {
		out[i] = x[p]
	}
	return [][]int{out}, nil
}

func concatRule(c *ctx, in []*absVal) ([][]int, error) {
	if len(in) == 0 {
		return nil, c.errf("needs at least one input")
	}
	if err := present(c, in, len(in)); err != nil {
		return nil, err
	}
	r := len(in[0].shape)
	axis, err := c.normAxis(c.n.AttrInt("axis", 0), max(r, 1))
	if err != nil {
		return nil, err
	}
	if r == 0 {
		return nil, c.errf("cannot concatenate scalars")
	}
	shape := append([]int(nil), in[0].shape...)
	shape[axis] = 0
	for _, t := range in {
		if len(t.shape) != r {
			return nil, c.errf("inputs have different ranks")
		}
		for d := range shape {
			if d != axis && t.shape[d] != shape[d] {
				return nil, c.errf("input shapes %v and %v differ outside axis %d", in[0].shape, t.shape, axis)
			}
		}
		shape[axis] += t.shape[axis]
	}
	return [][]int{shape}, nil
}

func gatherRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 2); err != nil {
		return nil, err
	}
	x, idx := in[0].shape, in[1].shape
	if len(x) == 0 {
		return nil, c.errf("data must have rank ≥ 1")
	}
	axis, err := c.normAxis(c.n.AttrInt("axis", 0), len(x))
	if err != nil {
		return nil, err
	}
	return [][]int{append(append(append([]int(nil), x[:axis]...), idx...), x[axis+1:]...)}, nil
}

func padRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 1); err != nil {
		return nil, err
	}
	x := in[0].shape
	r := len(x)
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	var pads []int
	if c.opset() < 11 {
		pads = int64s(c.n.AttrInts("pads"))
	} else {
		if err := present(c, in, 2); err != nil {
			return nil, err
		}
		var err error
		if pads, err = c.ints(in[1], "pads"); err != nil {
			return nil, err
		}
		if len(in) > 3 && in[3] != nil {
			a, err := c.ints(in[3], "axes")
			if err != nil {
				return nil, err
			}
			if axes, err = distinctAxes(c, a, r); err != nil {
				return nil, err
			}
		}
	}
	k := len(axes)
	if len(pads) != 2*k {
		return nil, c.errf("pads %v must have %d entries", pads, 2*k)
	}
	shape := append([]int(nil), x...)
	for i, ax := range axes {
		shape[ax] += pads[i] + pads[i+k]
		if shape[ax] < 0 {
			return nil, c.errf("pads %v crop more than the input shape %v", pads, x)
		}
	}
	return [][]int{shape}, nil
}

func expandRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 2); err != nil {
		return nil, err
	}
	target, err := c.ints(in[1], "shape")
	if err != nil {
		return nil, err
	}
	shape, err := broadcastShape(in[0].shape, target)
	if err != nil {
		return nil, c.errf("%v", err)
	}
	return [][]int{shape}, nil
}

func constantOfShapeRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 1); err != nil {
		return nil, err
	}
	shape, err := c.ints(in[0], "shape")
	if err != nil {
		return nil, err
	}
	if _, err := ShapeSize(shape); err != nil {
		return nil, c.errf("%v", err)
	}
	return [][]int{shape}, nil
}

func tileRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 2); err != nil {
		return nil, err
	}
	x := in[0].shape
	reps, err := c.ints(in[1], "repeats")
	if err != nil {
		return nil, err
	}
	if len(reps) != len(x) {
		return nil, c.errf("repeats %v must have one entry per input dim %v", reps, x)
	}
	shape := make([]int, len(x))
	for i, r := range reps {
		if r < 0 {
			return nil, c.errf("repeats %v must be non-negative", reps)
		}
		if _, err := ShapeSize([]int{x[i], r}); err != nil {
			return nil, c.errf("%v", err)
		}
		shape[i] = x[i] * r
	}
	return [][]int{shape}, nil
}

func rangeRule(c *ctx, in []*absVal) ([][]int, error) {
	if err := present(c, in, 3); err != nil {
		return nil, err
	}
	for _, v := range in[:3] {
		if v.val == nil {
			return nil, errNeedValue
		}
		if v.val.Size() != 1 {
			return nil, c.errf("start, limit and delta must be scalars")
		}
	}
	start, limit, delta := in[0].val.Data[0], in[1].val.Data[0], in[2].val.Data[0]
	if delta == 0 || math.IsNaN(delta) {
		return nil, c.errf("delta must be non-zero")
	}
	n := math.Max(math.Ceil((limit-start)/delta), 0)
	if n > maxElems {
		return nil, c.errf("range of %g values is too large", n)
	}
	return [][]int{{int(n)}}, nil
}
