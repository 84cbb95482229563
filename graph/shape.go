package graph

import (
	"math"
)

func init() {
	ops["Flatten"] = opFlatten
	ops["Reshape"] = opReshape
	ops["Transpose"] = opTranspose
	ops["Squeeze"] = opSqueeze
	ops["Unsqueeze"] = opUnsqueeze
	ops["Concat"] = opConcat
	ops["Gather"] = opGather
	ops["Constant"] = opConstant
	ops["Shape"] = opShape
	ops["Cast"] = opCast
}

// reshaped returns x's data under a new shape (data shared: the runtime
// never mutates tensors in place).
func reshaped(x *Tensor, shape []int) *Tensor {
	return &Tensor{Shape: shape, Data: x.Data}
}

func opFlatten(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	r := x.Rank()
	axis := int(c.n.AttrInt("axis", 1))
	if axis < -r || axis > r {
		return nil, c.errf("axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	return one(reshaped(x, []int{prod(x.Shape[:axis]), prod(x.Shape[axis:])})), nil
}

// opReshape follows ONNX Reshape: 0 copies the input dimension (unless
// allowzero=1), one -1 is inferred.
func opReshape(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 2); err != nil {
		return nil, err
	}
	x := in[0]
	target, err := c.toInts(in[1], "shape")
	if err != nil {
		return nil, err
	}
	shape, err := reshapeTarget(c, x.Shape, target)
	if err != nil {
		return nil, err
	}
	return one(reshaped(x, shape)), nil
}

// reshapeTarget resolves an ONNX Reshape target for an input of shape x:
// 0 copies the input dimension (unless allowzero=1), one -1 is inferred.
// The runtime and shape inference both use it.
func reshapeTarget(c *ctx, x, target []int) ([]int, error) {
	size := prod(x)
	allowZero := c.n.AttrInt("allowzero", 0) != 0
	shape := make([]int, len(target))
	infer, known := -1, 1
	for i, d := range target {
		switch {
		case d == 0 && !allowZero:
			if i >= len(x) {
				return nil, c.errf("shape %v copies dimension %d of an input of shape %v", target, i, x)
			}
			shape[i] = x[i]
		case d == -1:
			if infer >= 0 {
				return nil, c.errf("shape %v has more than one -1", target)
			}
			infer = i
			continue
		case d < 0:
			return nil, c.errf("shape %v has a negative dimension", target)
		default:
			shape[i] = d
		}
		known *= shape[i]
	}
	if infer >= 0 {
		if known == 0 || size%known != 0 {
			return nil, c.errf("cannot reshape %v to %v", x, target)
		}
		shape[infer] = size / known
	}
	if n, err := ShapeSize(shape); err != nil || n != size {
		return nil, c.errf("cannot reshape %v (%d values) to %v", x, size, target)
	}
	return shape, nil
}

func opTranspose(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	perm, err := transposePerm(c, x.Rank())
	if err != nil {
		return nil, err
	}
	return one(transpose(x, perm)), nil
}

// transposePerm reads Transpose's perm for rank r (default: reversed
// axes) and checks it is a permutation; runtime and shape inference share it.
func transposePerm(c *ctx, r int) ([]int, error) {
	perm := int64s(c.n.AttrInts("perm"))
	if perm == nil {
		perm = make([]int, r)
		for i := range perm {
			perm[i] = r - 1 - i
		}
	}
	if len(perm) != r {
		return nil, c.errf("perm %v does not match rank %d", perm, r)
	}
	seen := make([]bool, r)
	for _, p := range perm {
		if p < 0 || p >= r || seen[p] {
			return nil, c.errf("perm %v is not a permutation of 0..%d", perm, r-1)
		}
		seen[p] = true
	}
	return perm, nil
}

// transpose permutes x's axes: output axis i is input axis perm[i].
func transpose(x *Tensor, perm []int) *Tensor {
	r := x.Rank()
	shape := make([]int, r)
	for i, p := range perm {
		shape[i] = x.Shape[p]
	}
	y := Zeros(shape...)
	inStr := strides(x.Shape)
	eff := make([]int, r)
	for i, p := range perm {
		eff[i] = inStr[p]
	}
	for k, p := range stridedIndex(shape, eff) {
		y.Data[k] = x.Data[p]
	}
	return y
}

// axesArg reads axes from the attribute (older opsets) or the optional
// second input (opset 13+).
func (c *ctx) axesArg(in []*Tensor) ([]int, error) {
	if len(in) > 1 && in[1] != nil {
		return c.toInts(in[1], "axes")
	}
	if a := c.n.AttrInts("axes"); a != nil {
		return int64s(a), nil
	}
	return nil, nil
}

// dataAndAxes returns Squeeze/Unsqueeze's data input and axes.
func (c *ctx) dataAndAxes(in []*Tensor) (*Tensor, []int, error) {
	if err := c.need(in, 1); err != nil {
		return nil, nil, err
	}
	axes, err := c.axesArg(in)
	return in[0], axes, err
}

func opSqueeze(c *ctx, in []*Tensor) ([]*Tensor, error) {
	x, axes, err := c.dataAndAxes(in)
	if err != nil {
		return nil, err
	}
	drop := make([]bool, x.Rank())
	if axes == nil {
		for i, d := range x.Shape {
			drop[i] = d == 1
		}
	}
	for _, a := range axes {
		ax, err := c.normAxis(int64(a), x.Rank())
		if err != nil {
			return nil, err
		}
		if x.Shape[ax] != 1 {
			return nil, c.errf("cannot squeeze axis %d of shape %v (size is not 1)", a, x.Shape)
		}
		drop[ax] = true
	}
	shape := []int{}
	for i, d := range x.Shape {
		if !drop[i] {
			shape = append(shape, d)
		}
	}
	return one(reshaped(x, shape)), nil
}

func opUnsqueeze(c *ctx, in []*Tensor) ([]*Tensor, error) {
	x, axes, err := c.dataAndAxes(in)
	if err != nil {
		return nil, err
	}
	if len(axes) == 0 {
		return nil, c.errf("axes are required")
	}
	r := x.Rank() + len(axes)
	ins := make([]bool, r)
	for _, a := range axes {
		ax, err := c.normAxis(int64(a), r)
		if err != nil {
			return nil, err
		}
		if ins[ax] {
			return nil, c.errf("axes %v repeat an axis", axes)
		}
		ins[ax] = true
	}
	shape := make([]int, r)
	j := 0
	for i := range shape {
		if ins[i] {
			shape[i] = 1
		} else {
			shape[i] = x.Shape[j]
			j++
		}
	}
	return one(reshaped(x, shape)), nil
}

func opConcat(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if len(in) == 0 {
		return nil, c.errf("needs at least one input")
	}
	if err := c.need(in, len(in)); err != nil {
		return nil, err
	}
	r := in[0].Rank()
	axis, err := c.normAxis(c.n.AttrInt("axis", 0), max(r, 1))
	if err != nil {
		return nil, err
	}
	if r == 0 {
		return nil, c.errf("cannot concatenate scalars")
	}
	shape := append([]int(nil), in[0].Shape...)
	shape[axis] = 0
	for _, t := range in {
		if t.Rank() != r {
			return nil, c.errf("inputs have different ranks")
		}
		for d := range shape {
			if d != axis && t.Shape[d] != shape[d] {
				return nil, c.errf("input shapes %v and %v differ outside axis %d", in[0].Shape, t.Shape, axis)
			}
		}
		shape[axis] += t.Shape[axis]
	}
	outer := 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	y := Zeros(shape...)
	pos := 0
	for o := 0; o < outer; o++ {
		for _, t := range in {
			blk := t.Size() / max(outer, 1)
			if outer == 0 {
				blk = 0
			}
			copy(y.Data[pos:pos+blk], t.Data[o*blk:(o+1)*blk])
			pos += blk
		}
	}
	return one(y), nil
}

// opGather is ONNX Gather (embedding lookup when axis = 0); negative
// indices count from the end.
func opGather(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 2); err != nil {
		return nil, err
	}
	x, idxT := in[0], in[1]
	if x.Rank() == 0 {
		return nil, c.errf("data must have rank ≥ 1")
	}
	axis, err := c.normAxis(c.n.AttrInt("axis", 0), x.Rank())
	if err != nil {
		return nil, err
	}
	idx, err := c.toInts(idxT, "indices")
	if err != nil {
		return nil, err
	}
	n := x.Shape[axis]
	for i, v := range idx {
		if v < -n || v >= n {
			return nil, c.errf("index %d out of range [%d, %d)", v, -n, n)
		}
		if v < 0 {
			idx[i] = v + n
		}
	}
	outer, inner := prod(x.Shape[:axis]), prod(x.Shape[axis+1:])
	shape := append(append(append([]int(nil), x.Shape[:axis]...), idxT.Shape...), x.Shape[axis+1:]...)
	y := Zeros(shape...)
	pos := 0
	for o := 0; o < outer; o++ {
		for _, v := range idx {
			src := (o*n + v) * inner
			copy(y.Data[pos:pos+inner], x.Data[src:src+inner])
			pos += inner
		}
	}
	return one(y), nil
}

// opConstant returns the value attribute (tensor, value_float(s),
// value_int(s)).
func opConstant(c *ctx, _ []*Tensor) ([]*Tensor, error) {
	for name, a := range c.n.Attrs {
		switch name {
		case "value":
			if a.Tensor == nil {
				return nil, c.errf("value is not a tensor")
			}
			return one(a.Tensor), nil
		case "value_float":
			return one(Scalar(a.Float)), nil
		case "value_int":
			t := Scalar(float64(a.Int))
			t.DType = Int64
			return one(t), nil
		case "value_floats":
			return one(&Tensor{Shape: []int{len(a.Floats)}, Data: append([]float64(nil), a.Floats...)}), nil
		case "value_ints":
			d := make([]float64, len(a.Ints))
			for i, v := range a.Ints {
				d[i] = float64(v)
			}
			return one(&Tensor{Shape: []int{len(d)}, Data: d, DType: Int64}), nil
		}
	}
	return nil, c.errf("no supported value attribute (value, value_float(s), value_int(s))")
}

// opShape returns the input's shape as an int64 vector, sliced by the
// start/end attributes (opset 15).
func opShape(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 1); err != nil {
		return nil, err
	}
	r := in[0].Rank()
	clamp := func(v int64) int {
		a := int(v)
		if a < 0 {
			a += r
		}
		return min(max(a, 0), r)
	}
	start, end := clamp(c.n.AttrInt("start", 0)), clamp(c.n.AttrInt("end", int64(r)))
	d := []float64{}
	for _, v := range in[0].Shape[start:max(start, end)] {
		d = append(d, float64(v))
	}
	return one(&Tensor{Shape: []int{len(d)}, Data: d, DType: Int64}), nil
}

// ONNX TensorProto element types Cast may target.
const (
	castFloat    = 1
	castInt32    = 6
	castInt64    = 7
	castDouble   = 11
	castFloat16  = 10
	castBFloat16 = 16
)

// opCast converts between the element types the runtime represents: to
// float32 rounds to single precision, to integers truncates toward zero.
func opCast(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 1); err != nil {
		return nil, err
	}
	to := c.n.AttrInt("to", 0)
	var f func(float64) float64
	var dt DType
	switch to {
	case castFloat:
		f, dt = func(v float64) float64 { return float64(float32(v)) }, Float32
	case castFloat16:
		f, dt = roundFloat16, Float16
	case castBFloat16:
		f, dt = func(v float64) float64 { return roundBits(float64(float32(v)), 7, -126, 0x1.fefp127) }, BFloat16
	case castDouble:
		f, dt = func(v float64) float64 { return v }, Float64
	case castInt32:
		f, dt = math.Trunc, Int32
	case castInt64:
		f, dt = math.Trunc, Int64
	default:
		return nil, c.unsupported("cast to element type %d (float, float16, bfloat16, double, int32, int64 are supported)", to)
	}
	out, err := unary(f)(c, in)
	if err == nil {
		out[0].DType = dt
	}
	return out, err
}

// roundFloat16 rounds v to the nearest IEEE 754 binary16 value (ties to
// even), overflowing to ±Inf.
func roundFloat16(v float64) float64 { return roundBits(v, 10, -14, 65520) }

// roundBits rounds v to a binary format with mant fraction bits and
// minimum normal exponent emin; magnitudes ≥ overflow become ±Inf.
func roundBits(v float64, mant, emin int, overflow float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	a := math.Abs(v)
	if a >= overflow {
		return math.Copysign(math.Inf(1), v)
	}
	_, exp := math.Frexp(a)
	e := max(exp-1, emin)
	q := math.Ldexp(1, e-mant)
	return math.Copysign(math.RoundToEven(a/q)*q, v)
}
