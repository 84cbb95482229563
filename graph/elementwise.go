package graph

import "math"

func init() {
	ops["Max"] = variadic(math.Max, nil)
	ops["Min"] = variadic(math.Min, nil)
	ops["Sum"] = variadic(func(a, b float64) float64 { return a + b }, nil)
	ops["Mean"] = variadic(func(a, b float64) float64 { return a + b }, func(v float64, n int) float64 { return v / float64(n) })
	ops["LeakyRelu"] = func(c *ctx, in []*Tensor) ([]*Tensor, error) {
		a := c.n.AttrFloat("alpha", 0.01)
		return unary(func(x float64) float64 {
			if x < 0 {
				return a * x
			}
			return x
		})(c, in)
	}
	ops["Elu"] = func(c *ctx, in []*Tensor) ([]*Tensor, error) {
		a := c.n.AttrFloat("alpha", 1)
		return unary(func(x float64) float64 {
			if x < 0 {
				return a * (math.Exp(x) - 1)
			}
			return x
		})(c, in)
	}
	ops["Softplus"] = unary(func(x float64) float64 {
		if x > 30 {
			return x
		}
		return math.Log1p(math.Exp(x))
	})
	ops["Softsign"] = unary(func(x float64) float64 { return x / (1 + math.Abs(x)) })
	ops["HardSigmoid"] = func(c *ctx, in []*Tensor) ([]*Tensor, error) {
		a, b := c.n.AttrFloat("alpha", 0.2), c.n.AttrFloat("beta", 0.5)
		return unary(func(x float64) float64 { return math.Max(0, math.Min(1, a*x+b)) })(c, in)
	}
	ops["HardSwish"] = unary(func(x float64) float64 { return x * math.Max(0, math.Min(1, x/6+0.5)) })
	ops["PRelu"] = opPRelu
	ops["Sin"] = unary(math.Sin)
	ops["Cos"] = unary(math.Cos)
	ops["Floor"] = unary(math.Floor)
	ops["Ceil"] = unary(math.Ceil)
	ops["Range"] = opRange
	ops["Tile"] = opTile
	ops["Clip"] = opClip
	ops["Dropout"] = opDropout
}

// variadic folds any number of broadcast inputs with f (Max, Min, Sum,
// Mean); fin, if set, maps the result given the input count.
func variadic(f func(a, b float64) float64, fin func(v float64, n int) float64) opFunc {
	return func(c *ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) == 0 {
			return nil, c.errf("needs at least one input")
		}
		if err := c.need(in, len(in)); err != nil {
			return nil, err
		}
		acc := in[0]
		for _, t := range in[1:] {
			var err error
			if acc, err = broadcastBinary(acc, t, f); err != nil {
				return nil, c.errf("%v", err)
			}
		}
		if fin != nil {
			out := acc.Clone()
			for i, v := range out.Data {
				out.Data[i] = fin(v, len(in))
			}
			acc = out
		}
		return one(acc), nil
	}
}

// opClip clamps to [min, max]: attributes before opset 11, optional
// scalar inputs from 11 on.
func opClip(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 1); err != nil {
		return nil, err
	}
	lo, hi := math.Inf(-1), math.Inf(1)
	if c.opset() < 11 {
		lo, hi = c.n.AttrFloat("min", lo), c.n.AttrFloat("max", hi)
	} else {
		for i, p := range []*float64{&lo, &hi} {
			if len(in) > i+1 && in[i+1] != nil {
				if in[i+1].Size() != 1 {
					return nil, c.errf("min and max must be scalars")
				}
				*p = in[i+1].Data[0]
			}
		}
	}
	return unary(func(x float64) float64 {
		if math.IsNaN(x) {
			return x
		}
		return math.Min(hi, math.Max(lo, x))
	})(c, in[:1])
}

// opDropout is the identity at inference; training mode (random masks)
// is not supported. The optional mask output is all ones.
func opDropout(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 1); err != nil {
		return nil, err
	}
	training := c.n.AttrInt("is_test", 1) == 0 && c.opset() < 7
	if len(in) > 2 && in[2] != nil && in[2].Size() == 1 && in[2].Data[0] != 0 {
		training = true
	}
	if training {
		return nil, c.unsupported("training mode (random dropout)")
	}
	mask := Zeros(in[0].Shape...)
	for i := range mask.Data {
		mask.Data[i] = 1
	}
	return []*Tensor{in[0], mask}, nil
}

// opPRelu is x for x ≥ 0, slope·x otherwise. Slope broadcasts to x; before
// opset 7 a slope of length C applies per channel (axis 1).
func opPRelu(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 2); err != nil {
		return nil, err
	}
	x, slope := in[0], in[1]
	if c.opset() < 7 && slope.Rank() == 1 && x.Rank() >= 2 && slope.Shape[0] == x.Shape[1] && slope.Shape[0] != 1 {
		shape := make([]int, x.Rank()-1)
		for i := range shape {
			shape[i] = 1
		}
		shape[0] = slope.Shape[0]
		slope = reshaped(slope, shape)
	}
	y, err := broadcastBinary(x, slope, func(v, s float64) float64 {
		if v < 0 {
			return s * v
		}
		return v
	})
	if err != nil {
		return nil, c.errf("%v", err)
	}
	return one(y), nil
}

// opRange is start, start+delta, … below limit (above, for delta < 0):
// max(ceil((limit − start)/delta), 0) values.
func opRange(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 3); err != nil {
		return nil, err
	}
	for _, t := range in[:3] {
		if t.Size() != 1 {
			return nil, c.errf("start, limit and delta must be scalars")
		}
	}
	start, limit, delta := in[0].Data[0], in[1].Data[0], in[2].Data[0]
	if delta == 0 || math.IsNaN(delta) {
		return nil, c.errf("delta must be non-zero")
	}
	n := math.Max(math.Ceil((limit-start)/delta), 0)
	if n > maxElems {
		return nil, c.errf("range of %g values is too large", n)
	}
	y := Zeros(int(n))
	for i := range y.Data {
		y.Data[i] = start + float64(i)*delta
	}
	return one(y), nil
}

// opTile repeats the input repeats[d] times along each dim d.
func opTile(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 2); err != nil {
		return nil, err
	}
	x := in[0]
	reps, err := c.toInts(in[1], "repeats")
	if err != nil {
		return nil, err
	}
	if len(reps) != x.Rank() {
		return nil, c.errf("repeats %v must have one entry per input dim %v", reps, x.Shape)
	}
	shape := make([]int, x.Rank())
	for i, r := range reps {
		if r < 0 {
			return nil, c.errf("repeats %v must be non-negative", reps)
		}
		shape[i] = x.Shape[i] * r
	}
	str := strides(x.Shape)
	y, err := gatherCoords(x, shape, func(coord []int) int {
		off := 0
		for d, v := range coord {
			off += (v % x.Shape[d]) * str[d]
		}
		return off
	}, 0)
	if err != nil {
		return nil, c.errf("%v", err)
	}
	return one(y), nil
}
