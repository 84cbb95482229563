package graph

import "math"

func init() {
	ops["Slice"] = opSlice
	ops["Pad"] = opPad
	ops["Split"] = opSplit
	ops["Expand"] = opExpand
	ops["ConstantOfShape"] = opConstantOfShape
	ops["Size"] = func(c *ctx, in []*Tensor) ([]*Tensor, error) {
		if err := c.need(in, 1); err != nil {
			return nil, err
		}
		t := Scalar(float64(prod(in[0].Shape))) // the shape, not the data: shape inference runs Size on a data-less stand-in
		t.DType = Int64
		return one(t), nil
	}
	ops["ArgMax"] = opArg(func(v, best float64) bool { return v > best })
	ops["ArgMin"] = opArg(func(v, best float64) bool { return v < best })
}

// satInts converts integer values saturating at ±2^53 (Slice's ends are
// often INT64_MAX).
func (c *ctx) satInts(t *Tensor, what string) ([]int, error) {
	out := make([]int, len(t.Data))
	for i, v := range t.Data {
		if v != math.Trunc(v) {
			return nil, c.errf("%s must hold integers, got %g", what, v)
		}
		out[i] = int(math.Max(-(1 << 53), math.Min(1<<53, v)))
	}
	return out, nil
}

// gatherCoords builds y of shape by reading x at src(coord) for every
// output coordinate; src returns -1 for "use fill".
func gatherCoords(x *Tensor, shape []int, src func(coord []int) int, fill float64) (*Tensor, error) {
	n, err := ShapeSize(shape)
	if err != nil {
		return nil, err
	}
	y := &Tensor{Shape: shape, Data: make([]float64, n)}
	coord := make([]int, len(shape))
	for k := range y.Data {
		if i := src(coord); i >= 0 {
			y.Data[k] = x.Data[i]
		} else {
			y.Data[k] = fill
		}
		for d := len(shape) - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < shape[d] {
				break
			}
			coord[d] = 0
		}
	}
	return y, nil
}

// opSlice is ONNX Slice (starts/ends/axes/steps as inputs from opset 10,
// attributes before).
func opSlice(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	r := x.Rank()
	var starts, ends, axes, steps []int
	if c.opset() < 10 {
		starts, ends, axes = int64s(c.n.AttrInts("starts")), int64s(c.n.AttrInts("ends")), int64s(c.n.AttrInts("axes"))
	} else {
		if err := c.need(in, 3); err != nil {
			return nil, err
		}
		var err error
		arg := func(i int, what string) []int {
			if err != nil || len(in) <= i || in[i] == nil {
				return nil
			}
			var v []int
			v, err = c.satInts(in[i], what)
			return v
		}
		starts, ends, axes, steps = arg(1, "starts"), arg(2, "ends"), arg(3, "axes"), arg(4, "steps")
		if err != nil {
			return nil, err
		}
	}
	if len(starts) != len(ends) {
		return nil, c.errf("starts %v and ends %v differ in length", starts, ends)
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, i)
		}
	}
	if steps == nil {
		for range starts {
			steps = append(steps, 1)
		}
	}
	if len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, c.errf("starts, ends, axes and steps differ in length")
	}
	begin, step := make([]int, r), make([]int, r)
	shape := append([]int(nil), x.Shape...)
	for i := range step {
		step[i] = 1
	}
	for i, a := range axes {
		ax, err := c.normAxis(int64(a), r)
		if err != nil {
			return nil, err
		}
		d, s, e, st := x.Shape[ax], starts[i], ends[i], steps[i]
		if st == 0 {
			return nil, c.errf("step must not be 0")
		}
		if s < 0 {
			s += d
		}
		if e < 0 {
			e += d
		}
		if st > 0 {
			s, e = min(max(s, 0), d), min(max(e, 0), d)
			shape[ax] = max(0, (e-s+st-1)/st)
		} else {
			s, e = min(max(s, 0), d-1), min(max(e, -1), d-1)
			shape[ax] = max(0, (s-e-st-1)/(-st))
		}
		begin[ax], step[ax] = s, st
	}
	str := strides(x.Shape)
	y, err := gatherCoords(x, shape, func(coord []int) int {
		off := 0
		for d, v := range coord {
			off += (begin[d] + v*step[d]) * str[d]
		}
		return off
	}, 0)
	if err != nil {
		return nil, c.errf("%v", err)
	}
	return one(y), nil
}

// opPad is ONNX Pad in constant, reflect and edge modes; negative pads
// crop.
// distinctAxes normalises Pad's axes input against rank r and refuses an
// axis named twice (runtime and shape inference).
func distinctAxes(c *ctx, a []int, r int) ([]int, error) {
	axes := make([]int, 0, len(a))
	seen := make([]bool, r)
	for _, v := range a {
		ax, err := c.normAxis(int64(v), r)
		if err != nil {
			return nil, err
		}
		if seen[ax] {
			return nil, c.errf("axes %v name axis %d twice", a, ax)
		}
		seen[ax] = true
		axes = append(axes, ax)
	}
	return axes, nil
}

func opPad(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	r := x.Rank()
	var pads []int
	value := 0.0
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if c.opset() < 11 {
		pads = int64s(c.n.AttrInts("pads"))
		value = c.n.AttrFloat("value", 0)
	} else {
		if err := c.need(in, 2); err != nil {
			return nil, err
		}
		var err error
		if pads, err = c.toInts(in[1], "pads"); err != nil {
			return nil, err
		}
		if len(in) > 2 && in[2] != nil && in[2].Size() > 0 {
			value = in[2].Data[0]
		}
		if len(in) > 3 && in[3] != nil {
			a, err := c.toInts(in[3], "axes")
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
	pb, shape := make([]int, r), append([]int(nil), x.Shape...)
	for i, ax := range axes {
		pb[ax] = pads[i]
		shape[ax] += pads[i] + pads[i+k]
		if shape[ax] < 0 {
			return nil, c.errf("pads %v crop more than the input shape %v", pads, x.Shape)
		}
	}
	mode := c.n.AttrString("mode", "constant")
	if mode != "constant" && mode != "reflect" && mode != "edge" {
		return nil, c.unsupported("mode %q (constant, reflect and edge are supported)", mode)
	}
	if allZero(pads) {
		// PyTorch emits an all-zero Pad before every AveragePool.
		return one(x), nil
	}
	str := strides(x.Shape)
	y, err := gatherCoords(x, shape, func(coord []int) int {
		off := 0
		for d, v := range coord {
			p, n := v-pb[d], x.Shape[d]
			if p < 0 || p >= n {
				switch {
				case mode == "constant" || n == 0:
					return -1
				case mode == "edge":
					p = min(max(p, 0), n-1)
				case n == 1:
					p = 0
				default:
					period := 2 * (n - 1)
					p = ((p % period) + period) % period
					if p >= n {
						p = period - p
					}
				}
			}
			off += p * str[d]
		}
		return off
	}, value)
	if err != nil {
		return nil, c.errf("%v", err)
	}
	return one(y), nil
}

// opSplit splits along axis into len(Outputs) parts: sizes from the
// split input (opset 13+) or attribute, else equal parts (the last one
// smaller if needed, opset 18).
func opSplit(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if x.Rank() == 0 {
		return nil, c.errf("cannot split a scalar")
	}
	axis, err := c.normAxis(c.n.AttrInt("axis", 0), x.Rank())
	if err != nil {
		return nil, err
	}
	var sizes []int
	if len(in) > 1 && in[1] != nil {
		if sizes, err = c.toInts(in[1], "split"); err != nil {
			return nil, err
		}
	} else if s := c.n.AttrInts("split"); s != nil {
		sizes = int64s(s)
	}
	parts := len(c.n.Outputs)
	d := x.Shape[axis]
	if c.n.HasAttr("num_outputs") {
		// Opset 18: num_outputs equal parts, the last one smaller if the
		// dimension does not divide; it excludes an explicit split.
		if sizes != nil {
			return nil, c.errf("both split sizes and num_outputs given")
		}
		if k := c.n.AttrInt("num_outputs", 0); k != int64(parts) {
			return nil, c.errf("num_outputs %d but %d outputs", k, parts)
		}
	}
	if sizes == nil {
		if parts == 0 {
			return nil, c.errf("no outputs")
		}
		if d%parts != 0 && c.opset() < 18 {
			return nil, c.errf("dimension %d does not split into %d equal parts (uneven parts need opset 18's num_outputs or split sizes)", d, parts)
		}
		chunk := (d + parts - 1) / parts
		for i := 0; i < parts; i++ {
			sizes = append(sizes, max(0, min(chunk, d-i*chunk)))
		}
	}
	total := 0
	for _, s := range sizes {
		if s < 0 {
			return nil, c.errf("split sizes %v must be non-negative", sizes)
		}
		total += s
	}
	if total != d || len(sizes) != parts {
		return nil, c.errf("split sizes %v do not cover dimension %d in %d outputs", sizes, d, parts)
	}
	outer, inner := prod(x.Shape[:axis]), prod(x.Shape[axis+1:])
	var outs []*Tensor
	start := 0
	for _, s := range sizes {
		shape := append([]int(nil), x.Shape...)
		shape[axis] = s
		y := Zeros(shape...)
		for o := 0; o < outer; o++ {
			copy(y.Data[o*s*inner:(o+1)*s*inner], x.Data[(o*d+start)*inner:(o*d+start+s)*inner])
		}
		outs = append(outs, y)
		start += s
	}
	return outs, nil
}

// opExpand broadcasts the input to a shape (bidirectionally).
func opExpand(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 2); err != nil {
		return nil, err
	}
	target, err := c.toInts(in[1], "shape")
	if err != nil {
		return nil, err
	}
	shape, err := broadcastShape(in[0].Shape, target)
	if err != nil {
		return nil, c.errf("%v", err)
	}
	y, err := broadcastBinary(in[0], &Tensor{Shape: shape, Data: make([]float64, mustSize(shape))}, func(a, _ float64) float64 { return a })
	if err != nil {
		return nil, c.errf("%v", err)
	}
	return one(y), nil
}

func mustSize(shape []int) int {
	n, err := ShapeSize(shape)
	if err != nil {
		return 0
	}
	return n
}

// opConstantOfShape fills a shape with the value attribute (default 0).
func opConstantOfShape(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 1); err != nil {
		return nil, err
	}
	shape, err := c.toInts(in[0], "shape")
	if err != nil {
		return nil, err
	}
	v, dt := 0.0, Float32
	if a, ok := c.n.Attrs["value"]; ok && a.Tensor != nil && a.Tensor.Size() > 0 {
		v, dt = a.Tensor.Data[0], a.Tensor.DType
	}
	n, err := ShapeSize(shape)
	if err != nil {
		return nil, c.errf("%v", err)
	}
	y := &Tensor{Shape: shape, Data: make([]float64, n), DType: dt}
	for i := range y.Data {
		y.Data[i] = v
	}
	return one(y), nil
}

// opArg is ArgMax/ArgMin along axis with keepdims and select_last_index.
func opArg(better func(v, best float64) bool) opFunc {
	return func(c *ctx, in []*Tensor) ([]*Tensor, error) {
		if err := c.need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if x.Rank() == 0 {
			return nil, c.errf("input must have rank ≥ 1")
		}
		axis, err := c.normAxis(c.n.AttrInt("axis", 0), x.Rank())
		if err != nil {
			return nil, err
		}
		last := c.n.AttrInt("select_last_index", 0) != 0
		outer, d, inner := prod(x.Shape[:axis]), x.Shape[axis], prod(x.Shape[axis+1:])
		var shape []int
		for i, v := range x.Shape {
			if i != axis {
				shape = append(shape, v)
			} else if c.n.AttrInt("keepdims", 1) != 0 {
				shape = append(shape, 1)
			}
		}
		if shape == nil {
			shape = []int{}
		}
		y := &Tensor{Shape: shape, Data: make([]float64, outer*inner), DType: Int64}
		for o := 0; o < outer; o++ {
			for j := 0; j < inner; j++ {
				best, bi := 0.0, 0
				for k := 0; k < d; k++ {
					v := x.Data[(o*d+k)*inner+j]
					if k == 0 || better(v, best) || (last && v == best) {
						best, bi = v, k
					}
				}
				y.Data[o*inner+j] = float64(bi)
			}
		}
		return one(y), nil
	}
}

func allZero(v []int) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}
