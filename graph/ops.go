package graph

import (
	"fmt"
	"math"
)

// ctx is what an op implementation sees besides its inputs.
type ctx struct {
	g *Graph
	n *Node
}

// opset returns the default-domain opset the graph follows.
func (c *ctx) opset() int {
	if c.g == nil || c.g.Opset == 0 {
		return 18
	}
	return c.g.Opset
}

func (c *ctx) errf(format string, args ...any) error { return nodeErr(c.n, format, args...) }

// unsupported reports a deliberately unhandled mode; it wraps
// ErrUnsupported.
func (c *ctx) unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %w", nodeErr(c.n, format, args...), ErrUnsupported)
}

// need checks that at least k inputs are present (non-nil).
func (c *ctx) need(in []*Tensor, k int) error {
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

// opFunc computes a node's outputs from its inputs.
type opFunc func(c *ctx, in []*Tensor) ([]*Tensor, error)

// ops is the runtime's operator table, filled by init functions.
var ops = map[string]opFunc{}

func one(t *Tensor) []*Tensor { return []*Tensor{t} }

// toInts converts an integer-valued tensor (shape, axes, indices) to ints.
func (c *ctx) toInts(t *Tensor, what string) ([]int, error) {
	out := make([]int, len(t.Data))
	for i, v := range t.Data {
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return nil, c.errf("%s must hold integers, got %g", what, v)
		}
		out[i] = int(v)
	}
	return out, nil
}

// normAxis maps a possibly negative axis into [0, rank).
func (c *ctx) normAxis(axis int64, rank int) (int, error) {
	a := int(axis)
	if a < -rank || a >= rank {
		return 0, c.errf("axis %d out of range for rank %d", axis, rank)
	}
	if a < 0 {
		a += rank
	}
	return a, nil
}

// int64s converts an ints attribute to []int.
func int64s(v []int64) []int {
	if v == nil {
		return nil
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func unary(f func(float64) float64) opFunc {
	return func(c *ctx, in []*Tensor) ([]*Tensor, error) {
		if err := c.need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		y := &Tensor{Shape: append([]int(nil), x.Shape...), Data: make([]float64, len(x.Data))}
		for i, v := range x.Data {
			y.Data[i] = f(v)
		}
		return one(y), nil
	}
}

func binary(f func(a, b float64) float64) opFunc {
	return func(c *ctx, in []*Tensor) ([]*Tensor, error) {
		if err := c.need(in, 2); err != nil {
			return nil, err
		}
		a, b := in[0], in[1]
		if c.opset() < 7 && c.n.AttrInt("broadcast", 0) != 0 && c.n.HasAttr("axis") {
			// Opset ≤ 6 broadcast: B's dims align with A's starting at axis.
			axis := int(c.n.AttrInt("axis", 0))
			if axis < 0 {
				axis += a.Rank()
			}
			if axis < 0 || axis+b.Rank() > a.Rank() {
				return nil, c.errf("legacy broadcast axis %d does not fit shapes %v and %v", axis, a.Shape, b.Shape)
			}
			shape := append([]int(nil), b.Shape...)
			for len(shape) < a.Rank()-axis {
				shape = append(shape, 1)
			}
			b = reshaped(b, shape)
		}
		y, err := broadcastBinary(a, b, f)
		if err != nil {
			return nil, c.errf("%v", err)
		}
		return one(y), nil
	}
}

// broadcastBinary applies f elementwise under multidirectional broadcasting.
func broadcastBinary(a, b *Tensor, f func(a, b float64) float64) (*Tensor, error) {
	shape, err := broadcastShape(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	n, err := ShapeSize(shape)
	if err != nil {
		return nil, err
	}
	y := &Tensor{Shape: shape, Data: make([]float64, n)}
	ia, ib := broadcastIndex(a.Shape, shape), broadcastIndex(b.Shape, shape)
	switch {
	case ia == nil && ib == nil:
		for i := range y.Data {
			y.Data[i] = f(a.Data[i], b.Data[i])
		}
	case ia == nil:
		for i := range y.Data {
			y.Data[i] = f(a.Data[i], b.Data[ib[i]])
		}
	case ib == nil:
		for i := range y.Data {
			y.Data[i] = f(a.Data[ia[i]], b.Data[i])
		}
	default:
		for i := range y.Data {
			y.Data[i] = f(a.Data[ia[i]], b.Data[ib[i]])
		}
	}
	return y, nil
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func init() {
	ops["Relu"] = unary(func(x float64) float64 { return math.Max(x, 0) })
	ops["Sigmoid"] = unary(sigmoid)
	ops["Tanh"] = unary(math.Tanh)
	ops["Erf"] = unary(math.Erf)
	ops["Sqrt"] = unary(math.Sqrt)
	ops["Neg"] = unary(func(x float64) float64 { return -x })
	ops["Abs"] = unary(math.Abs)
	ops["Exp"] = unary(math.Exp)
	ops["Log"] = unary(math.Log)
	ops["Reciprocal"] = unary(func(x float64) float64 { return 1 / x })
	ops["Identity"] = func(c *ctx, in []*Tensor) ([]*Tensor, error) {
		if err := c.need(in, 1); err != nil {
			return nil, err
		}
		return one(in[0]), nil
	}
	ops["Gelu"] = opGelu
	ops[OpPoly] = opPoly
	ops["Add"] = binary(func(a, b float64) float64 { return a + b })
	ops["Sub"] = binary(func(a, b float64) float64 { return a - b })
	ops["Mul"] = binary(func(a, b float64) float64 { return a * b })
	ops["Div"] = opDiv
	ops["Pow"] = binary(math.Pow)
}

// opDiv divides; integer operands (DType Int64/Int32, as in the shape
// arithmetic PyTorch exports) truncate toward zero like C.
func opDiv(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if len(in) == 2 && in[0] != nil && in[1] != nil && in[0].DType.IsInt() && in[1].DType.IsInt() {
		return binary(func(a, b float64) float64 {
			if b == 0 {
				return 0 // C's integer division by zero is undefined; ONNX leaves it open
			}
			return math.Trunc(a / b)
		})(c, in)
	}
	return binary(func(a, b float64) float64 { return a / b })(c, in)
}

// opGelu is ONNX Gelu (opset 20): x·Φ(x), or its tanh approximation.
func opGelu(c *ctx, in []*Tensor) ([]*Tensor, error) {
	switch c.n.AttrString("approximate", "none") {
	case "none":
		return unary(func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) })(c, in)
	case "tanh":
		k := math.Sqrt(2 / math.Pi)
		return unary(func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(k*(x+0.044715*x*x*x))) })(c, in)
	default:
		return nil, c.errf("approximate must be \"none\" or \"tanh\", got %q", c.n.AttrString("approximate", ""))
	}
}

// opPoly evaluates OpPoly by Horner's rule.
func opPoly(c *ctx, in []*Tensor) ([]*Tensor, error) {
	coef := c.n.AttrFloats("coefficients")
	if len(coef) == 0 {
		return nil, c.errf("attribute coefficients (floats, ascending powers) is required")
	}
	for _, v := range coef {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, c.errf("coefficients must be finite")
		}
	}
	return unary(func(x float64) float64 {
		y := coef[len(coef)-1]
		for k := len(coef) - 2; k >= 0; k-- {
			y = y*x + coef[k]
		}
		return y
	})(c, in)
}
