package graph

import (
	"math"
	"slices"
)

func init() {
	ops["BatchNormalization"] = opBatchNorm
	ops["AveragePool"] = opAveragePool
	ops["GlobalAveragePool"] = opGlobalAveragePool
	ops["Softmax"] = opSoftmax(false)
	ops["LogSoftmax"] = opSoftmax(true)
	ops["LayerNormalization"] = opLayerNorm
}

// opBatchNorm is ONNX BatchNormalization. In inference mode (the default)
// y = scale·(x − mean)/√(var + ε) + B per channel (axis 1). With
// training_mode=1 (opset 14+) it normalizes with the batch statistics and
// also returns the updated running mean and variance, as the ONNX
// reference does.
func opBatchNorm(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 5); err != nil {
		return nil, err
	}
	x, scale, bias, mean, vr := in[0], in[1], in[2], in[3], in[4]
	if x.Rank() < 2 {
		return nil, c.errf("input must have rank ≥ 2, got shape %v", x.Shape)
	}
	ch := x.Shape[1]
	for i, t := range in[1:5] {
		if t.Size() != ch {
			return nil, c.errf("parameter %d has %d values, want %d (channels)", i+1, t.Size(), ch)
		}
	}
	if c.n.AttrInt("spatial", 1) == 0 {
		return nil, c.unsupported("spatial=0 (per-activation statistics, opset ≤ 8)")
	}
	eps := c.n.AttrFloat("epsilon", 1e-5)
	inner := 1
	for _, d := range x.Shape[2:] {
		inner *= d
	}
	nb := x.Shape[0]
	training := c.n.AttrInt("training_mode", 0) != 0
	useMean, useVar := mean.Data, vr.Data
	var runMean, runVar *Tensor
	if training {
		momentum := c.n.AttrFloat("momentum", 0.9)
		bm, bv := make([]float64, ch), make([]float64, ch)
		cnt := float64(nb * inner)
		for ci := 0; ci < ch; ci++ {
			s := 0.0
			for b := 0; b < nb; b++ {
				for _, v := range x.Data[(b*ch+ci)*inner : (b*ch+ci+1)*inner] {
					s += v
				}
			}
			bm[ci] = s / cnt
			q := 0.0
			for b := 0; b < nb; b++ {
				for _, v := range x.Data[(b*ch+ci)*inner : (b*ch+ci+1)*inner] {
					q += (v - bm[ci]) * (v - bm[ci])
				}
			}
			bv[ci] = q / cnt
		}
		runMean, runVar = Zeros(mean.Shape...), Zeros(vr.Shape...)
		for ci := 0; ci < ch; ci++ {
			runMean.Data[ci] = mean.Data[ci]*momentum + bm[ci]*(1-momentum)
			runVar.Data[ci] = vr.Data[ci]*momentum + bv[ci]*(1-momentum)
		}
		useMean, useVar = bm, bv
	}
	y := Zeros(x.Shape...)
	for ci := 0; ci < ch; ci++ {
		a := scale.Data[ci] / math.Sqrt(useVar[ci]+eps)
		b := bias.Data[ci] - a*useMean[ci]
		for bi := 0; bi < nb; bi++ {
			off := (bi*ch + ci) * inner
			for i := off; i < off+inner; i++ {
				y.Data[i] = a*x.Data[i] + b
			}
		}
	}
	if training {
		return []*Tensor{y, runMean, runVar}, nil
	}
	return one(y), nil
}

// opAveragePool is ONNX AveragePool over any number of spatial dims, with
// pads, auto_pad, ceil_mode, dilations and count_include_pad.
func opAveragePool(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if x.Rank() < 3 {
		return nil, c.errf("input must be (N, C, spatial…), got shape %v", x.Shape)
	}
	ks := c.n.AttrInts("kernel_shape")
	if ks == nil {
		return nil, c.errf("attribute kernel_shape is required")
	}
	sp, err := c.window(x.Shape[2:], int64s(ks), c.n.AttrInt("ceil_mode", 0) != 0)
	if err != nil {
		return nil, err
	}
	includePad := c.n.AttrInt("count_include_pad", 0) != 0
	r := len(sp.in)
	outShape := append([]int{x.Shape[0], x.Shape[1]}, sp.out...)
	size, err := ShapeSize(outShape)
	if err != nil {
		return nil, c.errf("%v", err)
	}
	y := &Tensor{Shape: outShape, Data: make([]float64, size)}
	inSize, outSize := 1, 1
	for i := 0; i < r; i++ {
		inSize *= sp.in[i]
		outSize *= sp.out[i]
	}
	inStr := strides(sp.in)
	ocoord := make([]int, r)
	kcoord := make([]int, r)
	planes := x.Shape[0] * x.Shape[1]
	for p := 0; p < planes; p++ {
		src := x.Data[p*inSize : (p+1)*inSize]
		dst := y.Data[p*outSize : (p+1)*outSize]
		for i := range ocoord {
			ocoord[i] = 0
		}
		for o := 0; o < outSize; o++ {
			sum, cnt := 0.0, 0
			for i := range kcoord {
				kcoord[i] = 0
			}
			for {
				inside, inPadded := true, true
				off := 0
				for d := 0; d < r; d++ {
					pos := ocoord[d]*sp.stride[d] - sp.padB[d] + kcoord[d]*sp.dil[d]
					if pos < 0 || pos >= sp.in[d] {
						inside = false
					}
					if pos < -sp.padB[d] || pos >= sp.in[d]+sp.padE[d] {
						inPadded = false
					}
					off += pos * inStr[d]
				}
				if inside {
					sum += src[off]
					cnt++
				} else if includePad && inPadded {
					cnt++
				}
				d := r - 1
				for ; d >= 0; d-- {
					kcoord[d]++
					if kcoord[d] < sp.k[d] {
						break
					}
					kcoord[d] = 0
				}
				if d < 0 {
					break
				}
			}
			if cnt > 0 {
				dst[o] = sum / float64(cnt)
			}
			for d := r - 1; d >= 0; d-- {
				ocoord[d]++
				if ocoord[d] < sp.out[d] {
					break
				}
				ocoord[d] = 0
			}
		}
	}
	return one(y), nil
}

// opGlobalAveragePool averages every (N, C) plane to one value.
func opGlobalAveragePool(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if x.Rank() < 2 {
		return nil, c.errf("input must be (N, C, spatial…), got shape %v", x.Shape)
	}
	inner := 1
	shape := []int{x.Shape[0], x.Shape[1]}
	for _, d := range x.Shape[2:] {
		inner *= d
		shape = append(shape, 1)
	}
	y := Zeros(shape...)
	for p := range y.Data {
		s := 0.0
		for _, v := range x.Data[p*inner : (p+1)*inner] {
			s += v
		}
		y.Data[p] = s / float64(inner)
	}
	return one(y), nil
}

// opSoftmax is ONNX Softmax/LogSoftmax. Before opset 13 the input is
// coerced to 2-D at axis (default 1) and normalized over the flattened
// trailing block; from 13 on it is normalized along axis (default -1).
func opSoftmax(logOut bool) opFunc {
	return func(c *ctx, in []*Tensor) ([]*Tensor, error) {
		if err := c.need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		r := x.Rank()
		legacy := c.opset() < 13
		def := int64(-1)
		if legacy {
			def = 1
		}
		if r == 0 {
			return nil, c.errf("input must have rank ≥ 1")
		}
		axis, err := c.normAxis(c.n.AttrInt("axis", def), r)
		if err != nil {
			return nil, err
		}
		outer, n, inner := 1, 1, 1
		for i, d := range x.Shape {
			switch {
			case i < axis:
				outer *= d
			case i == axis || legacy:
				n *= d
			default:
				inner *= d
			}
		}
		y := Zeros(x.Shape...)
		for o := 0; o < outer; o++ {
			for j := 0; j < inner; j++ {
				base := o*n*inner + j
				mx := math.Inf(-1)
				for k := 0; k < n; k++ {
					mx = math.Max(mx, x.Data[base+k*inner])
				}
				s := 0.0
				for k := 0; k < n; k++ {
					s += math.Exp(x.Data[base+k*inner] - mx)
				}
				for k := 0; k < n; k++ {
					v := x.Data[base+k*inner] - mx
					if logOut {
						y.Data[base+k*inner] = v - math.Log(s)
					} else {
						y.Data[base+k*inner] = math.Exp(v) / s
					}
				}
			}
		}
		return one(y), nil
	}
}

// opLayerNorm is ONNX LayerNormalization (opset 17): normalize over the
// dims from axis on, then scale and shift. It also returns Mean and
// InvStdDev, shaped like X with the normalized dims set to 1.
func opLayerNorm(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 2); err != nil {
		return nil, err
	}
	x, scale := in[0], in[1]
	r := x.Rank()
	if r == 0 {
		return nil, c.errf("input must have rank ≥ 1")
	}
	axis, err := c.normAxis(c.n.AttrInt("axis", -1), r)
	if err != nil {
		return nil, err
	}
	eps := c.n.AttrFloat("epsilon", 1e-5)
	outer, n := prod(x.Shape[:axis]), prod(x.Shape[axis:])
	si, err := c.paramIndex(scale, x.Shape, "Scale")
	if err != nil {
		return nil, err
	}
	var bias *Tensor
	var bi []int
	if len(in) > 2 && in[2] != nil {
		bias = in[2]
		if bi, err = c.paramIndex(bias, x.Shape, "B"); err != nil {
			return nil, err
		}
	}
	at := func(t *Tensor, idx []int, i int) float64 {
		if idx == nil {
			return t.Data[i]
		}
		return t.Data[idx[i]]
	}
	statShape := append([]int(nil), x.Shape...)
	for i := axis; i < r; i++ {
		statShape[i] = 1
	}
	y, mean, inv := Zeros(x.Shape...), Zeros(statShape...), Zeros(statShape...)
	for o := 0; o < outer; o++ {
		row := x.Data[o*n : (o+1)*n]
		mu := 0.0
		for _, v := range row {
			mu += v
		}
		mu /= float64(n)
		vr := 0.0
		for _, v := range row {
			vr += (v - mu) * (v - mu)
		}
		vr /= float64(n)
		is := 1 / math.Sqrt(vr+eps)
		mean.Data[o], inv.Data[o] = mu, is
		for k, v := range row {
			i := o*n + k
			out := (v - mu) * is * at(scale, si, i)
			if bias != nil {
				out += at(bias, bi, i)
			}
			y.Data[i] = out
		}
	}
	return []*Tensor{y, mean, inv}, nil
}

// paramIndex maps a parameter unidirectionally broadcast to shape.
func (c *ctx) paramIndex(p *Tensor, shape []int, what string) ([]int, error) {
	out, err := broadcastShape(p.Shape, shape)
	if err != nil || !slices.Equal(out, shape) {
		return nil, c.errf("%s of shape %v does not broadcast to %v", what, p.Shape, shape)
	}
	return broadcastIndex(p.Shape, shape), nil
}

// reducer describes one ONNX Reduce* op: a start value, an accumulation
// and a final map of (accumulator, count).
type reducer struct {
	init float64
	acc  func(a, v float64) float64
	fin  func(a float64, n int) float64
}

func sumAcc(a, v float64) float64 { return a + v }

var reducers = map[string]reducer{
	"ReduceMean": {0, sumAcc, func(a float64, n int) float64 { return a / float64(n) }},
	"ReduceSum":  {0, sumAcc, nil},
	"ReduceMax":  {math.Inf(-1), math.Max, nil},
	"ReduceMin":  {math.Inf(1), math.Min, nil},
	"ReduceProd": {1, func(a, v float64) float64 { return a * v }, nil},
	"ReduceL1":   {0, func(a, v float64) float64 { return a + math.Abs(v) }, nil},
	"ReduceL2": {0, func(a, v float64) float64 { return a + v*v },
		func(a float64, _ int) float64 { return math.Sqrt(a) }},
	"ReduceSumSquare": {0, func(a, v float64) float64 { return a + v*v }, nil},
	"ReduceLogSum":    {0, sumAcc, func(a float64, _ int) float64 { return math.Log(a) }},
}

func init() {
	for name, r := range reducers {
		ops[name] = opReduce(r)
	}
	ops["ReduceLogSumExp"] = opReduceLogSumExp
}

// reduceAxes resolves a Reduce* node's axes (attribute before opset 18 —
// 13 for ReduceSum — or the optional second input) to a mask; nil means
// no-op (noop_with_empty_axes).
func (c *ctx) reduceAxes(in []*Tensor, r int) ([]bool, error) {
	axes, err := c.axesArg(in)
	if err != nil {
		return nil, err
	}
	red := make([]bool, r)
	if len(axes) == 0 {
		if c.n.AttrInt("noop_with_empty_axes", 0) != 0 {
			return nil, nil
		}
		for i := range red {
			red[i] = true
		}
		return red, nil
	}
	for _, a := range axes {
		ax, err := c.normAxis(int64(a), r)
		if err != nil {
			return nil, err
		}
		red[ax] = true
	}
	return red, nil
}

// reduce folds x over the masked axes with r; keepdims keeps them as 1.
func reduce(x *Tensor, red []bool, keep bool, r reducer) *Tensor {
	rank := x.Rank()
	kshape := make([]int, rank)
	oshape := []int{}
	for i, d := range x.Shape {
		kshape[i] = d
		if red[i] {
			kshape[i] = 1
			if keep {
				oshape = append(oshape, 1)
			}
		} else {
			oshape = append(oshape, d)
		}
	}
	size, _ := ShapeSize(kshape)
	acc := make([]float64, size)
	for i := range acc {
		acc[i] = r.init
	}
	cnt := 0
	if size > 0 {
		cnt = len(x.Data) / size
	}
	kstr := strides(kshape)
	coord := make([]int, rank)
	off := 0
	for _, v := range x.Data {
		acc[off] = r.acc(acc[off], v)
		for d := rank - 1; d >= 0; d-- {
			coord[d]++
			if !red[d] {
				off += kstr[d]
			}
			if coord[d] < x.Shape[d] {
				break
			}
			if !red[d] {
				off -= kstr[d] * coord[d]
			}
			coord[d] = 0
		}
	}
	if r.fin != nil {
		for i := range acc {
			acc[i] = r.fin(acc[i], cnt)
		}
	}
	return &Tensor{Shape: oshape, Data: acc}
}

// opReduce implements the ONNX Reduce* family with keepdims (default 1)
// and noop_with_empty_axes.
func opReduce(r reducer) opFunc {
	return func(c *ctx, in []*Tensor) ([]*Tensor, error) {
		if err := c.need(in, 1); err != nil {
			return nil, err
		}
		red, err := c.reduceAxes(in, in[0].Rank())
		if err != nil {
			return nil, err
		}
		if red == nil {
			return one(in[0]), nil
		}
		return one(reduce(in[0], red, c.n.AttrInt("keepdims", 1) != 0, r)), nil
	}
}

// opReduceLogSumExp computes log Σ exp(x) stably: max + log Σ exp(x − max).
func opReduceLogSumExp(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	red, err := c.reduceAxes(in, x.Rank())
	if err != nil {
		return nil, err
	}
	if red == nil {
		return one(x), nil
	}
	keep := c.n.AttrInt("keepdims", 1) != 0
	mx := reduce(x, red, true, reducers["ReduceMax"])
	shifted, err := broadcastBinary(x, mx, func(a, m float64) float64 {
		if math.IsInf(m, 0) {
			return math.Exp(a)
		}
		return math.Exp(a - m)
	})
	if err != nil {
		return nil, c.errf("%v", err)
	}
	s := reduce(shifted, red, keep, reducers["ReduceSum"])
	for i := range s.Data {
		m := mx.Data[i]
		if math.IsInf(m, 0) {
			m = 0
		}
		s.Data[i] = m + math.Log(s.Data[i])
	}
	return one(s), nil
}
