package graph

import (
	"fmt"
	"slices"
)

// Tensor is a dense row-major array of float64 values. Integer-valued
// tensors (indices, shapes) are held as float64 too; every integer an ONNX
// model uses as an index or a dimension is far below 2^53, so the
// conversion is exact.
type Tensor struct {
	Shape []int
	Data  []float64
	// DType records the element type a constant tensor had in its file
	// (readers set it for initializers and Constant values; Int64 for
	// shapes and indices) so that exporters can write it back. Zero means
	// floating point. The runtime ignores it.
	DType DType
}

// maxElems bounds the size of any tensor built from a declared shape, so a
// corrupt model claiming a huge dimension fails with an error instead of
// exhausting memory. 2^28 float64 values are 2 GiB, above any tensor of
// the models krelu targets.
const maxElems = 1 << 28

// NewTensor returns a tensor holding data in the given shape. The shape is
// copied; data is not. It fails if a dimension is negative or len(data)
// does not match the shape.
func NewTensor(shape []int, data []float64) (*Tensor, error) {
	n, err := ShapeSize(shape)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, fmt.Errorf("graph: shape %v holds %d values, got %d", shape, n, len(data))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}, nil
}

// Zeros returns a zero tensor of the given shape. It panics on a negative
// dimension; use NewTensor for shapes that come from user input.
func Zeros(shape ...int) *Tensor {
	n, err := ShapeSize(shape)
	if err != nil {
		panic(err)
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float64, n)}
}

// Scalar returns a rank-0 tensor holding v.
func Scalar(v float64) *Tensor { return &Tensor{Shape: []int{}, Data: []float64{v}} }

// ShapeSize returns the number of elements of a shape, or an error if a
// dimension is negative or the product exceeds the size limit.
func ShapeSize(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("graph: negative dimension in shape %v", shape)
		}
		if d != 0 && n > maxElems/d {
			return 0, fmt.Errorf("graph: shape %v has more than %d elements", shape, maxElems)
		}
		n *= d
	}
	return n, nil
}

// Size returns the number of elements.
func (t *Tensor) Size() int { return len(t.Data) }

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.Shape) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float64(nil), t.Data...), DType: t.DType}
}

// At returns the element at the given index (one coordinate per dimension).
func (t *Tensor) At(idx ...int) float64 {
	if len(idx) != len(t.Shape) {
		panic(fmt.Sprintf("graph: At with %d indices on rank-%d tensor", len(idx), len(t.Shape)))
	}
	off := 0
	for i, x := range idx {
		if x < 0 || x >= t.Shape[i] {
			panic(fmt.Sprintf("graph: index %v out of range for shape %v", idx, t.Shape))
		}
		off = off*t.Shape[i] + x
	}
	return t.Data[off]
}

// String formats the shape and, for small tensors, the values.
func (t *Tensor) String() string {
	if len(t.Data) <= 16 {
		return fmt.Sprintf("Tensor%v%v", t.Shape, t.Data)
	}
	return fmt.Sprintf("Tensor%v[%d values]", t.Shape, len(t.Data))
}

// prod returns the product of dims (1 for none).
func prod(dims []int) int {
	p := 1
	for _, d := range dims {
		p *= d
	}
	return p
}

// strides returns row-major strides of shape.
func strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// broadcastShape returns the NumPy-style multidirectional broadcast of the
// shapes (ONNX "Broadcasting in ONNX", docs/Broadcasting.md).
func broadcastShape(shapes ...[]int) ([]int, error) {
	r := 0
	for _, s := range shapes {
		r = max(r, len(s))
	}
	out := make([]int, r)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := r - len(s)
		for i, d := range s {
			switch {
			case out[off+i] == d || d == 1:
			case out[off+i] == 1:
				out[off+i] = d
			default:
				return nil, fmt.Errorf("shapes %v are not broadcastable", shapes)
			}
		}
	}
	return out, nil
}

// broadcastIndex maps each flat index of out to the flat index of a tensor
// of shape in broadcast to out. It returns nil when in equals out.
func broadcastIndex(in, out []int) []int {
	if slices.Equal(in, out) {
		return nil
	}
	inStr := strides(in)
	// effective stride per output dim: 0 where broadcast.
	eff := make([]int, len(out))
	off := len(out) - len(in)
	for i := range in {
		if in[i] != 1 {
			eff[off+i] = inStr[i]
		}
	}
	return stridedIndex(out, eff)
}

// stridedIndex returns, for each row-major position of shape, the offset
// Σ coord[d]·eff[d] (eff[d] = 0 repeats a broadcast dimension; permuted
// strides transpose).
func stridedIndex(shape, eff []int) []int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	idx := make([]int, n)
	coord := make([]int, len(shape))
	pos := 0
	for k := 0; k < n; k++ {
		idx[k] = pos
		for d := len(shape) - 1; d >= 0; d-- {
			coord[d]++
			pos += eff[d]
			if coord[d] < shape[d] {
				break
			}
			pos -= eff[d] * coord[d]
			coord[d] = 0
		}
	}
	return idx
}

// check reports a nil tensor or one whose data does not fill its shape.
func (t *Tensor) check() error {
	if t == nil {
		return fmt.Errorf("missing tensor")
	}
	n, err := ShapeSize(t.Shape)
	if err != nil {
		return err
	}
	if n != len(t.Data) {
		return fmt.Errorf("shape %v holds %d values, got %d", t.Shape, n, len(t.Data))
	}
	return nil
}
