package graph

import (
	"errors"
	"slices"
	"testing"
)

// fuzzOps are the ops FuzzRunOps drives with arbitrary attributes; their
// inputs are small tensors of arbitrary shape. Expand and ConstantOfShape
// are left out: their output size is read from data, so a fuzzed input
// legitimately asks for tensors up to the 2^28-value cap, which makes runs
// slow rather than finding bugs.
var fuzzOps = []string{"Conv", "AveragePool", "GlobalAveragePool", "Gemm", "MatMul", "BatchNormalization",
	"Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Gather", "Softmax", "LayerNormalization",
	"ReduceMean", "ReduceLogSumExp", "Slice", "Pad", "Split", "Tile", "ArgMax", "Add", "Clip", "PRelu", "Cast", "Shape"}

// FuzzRunOps runs single nodes with fuzzer-chosen shapes, attribute values
// and integer inputs: an op must return a result or an error, never
// panic, whatever a malicious model file asks of it.
func FuzzRunOps(f *testing.F) {
	f.Add([]byte{0, 4, 1, 2, 3, 3, 2, 1, 1, 3, 3, 1, 1, 0, 0})
	f.Add([]byte{17, 3, 2, 3, 4, 1, 0, 2, 9, 1, 1, 2})
	f.Add([]byte{18, 4, 1, 1, 2, 2, 8, 0, 1, 0, 1, 1, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		pos := 0
		next := func() int {
			if pos >= len(b) {
				return 0
			}
			pos++
			return int(b[pos-1])
		}
		small := func() int { return next()%7 - 2 } // −2…4
		op := fuzzOps[next()%len(fuzzOps)]
		mkTensor := func() *Tensor {
			r := next() % 5
			shape := make([]int, r)
			for i := range shape {
				shape[i] = next() % 5
			}
			n, _ := ShapeSize(shape)
			d := make([]float64, n)
			for i := range d {
				d[i] = float64(small())
			}
			return &Tensor{Shape: shape, Data: d}
		}
		ints := func() []int64 {
			k := next() % 7
			if k == 6 {
				return nil
			}
			v := make([]int64, k)
			for i := range v {
				v[i] = int64(small())
			}
			return v
		}
		n := &Node{Op: op, Name: "n", Outputs: []string{"y"}, Attrs: map[string]Attr{}}
		for _, a := range []string{"strides", "pads", "dilations", "kernel_shape", "perm", "axes", "split", "starts", "ends"} {
			if v := ints(); v != nil {
				n.Attrs[a] = Attr{Kind: AttrInts, Ints: v}
			}
		}
		for _, a := range []string{"axis", "group", "transA", "transB", "keepdims", "ceil_mode", "count_include_pad", "allowzero", "to", "select_last_index"} {
			if next()%2 == 1 {
				n.Attrs[a] = Attr{Kind: AttrInt, Int: int64(small())}
			}
		}
		if next()%3 == 0 {
			n.Attrs["auto_pad"] = Attr{Kind: AttrString, String: []string{"NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER", "bad"}[next()%5]}
		}
		if next()%4 == 0 {
			n.Outputs = append(n.Outputs, "y2")
		}
		nin := next() % 6
		g := &Graph{Initializers: map[string]*Tensor{}, Opset: []int{0, 6, 9, 11, 13}[next()%5]}
		for i := 0; i < nin; i++ {
			name := string(rune('a' + i))
			n.Inputs = append(n.Inputs, name)
			g.Initializers[name] = mkTensor()
		}
		g.Nodes = []*Node{n}
		g.Outputs = []ValueInfo{{Name: "y"}}
		_, _ = g.Run(nil)
		// Where the op runs, its shape rule (if any) must give the
		// shapes it produced: from the input values, and from the
		// input shapes alone unless the rule says it needs values.
		in := make([]*Tensor, len(n.Inputs))
		for i, name := range n.Inputs {
			in[i] = g.Initializers[name]
		}
		out, err := runNode(g, n, in)
		rule, ok := shapeRules[op]
		if err != nil || !ok {
			return
		}
		for _, hide := range []bool{false, true} {
			abs := make([]*absVal, len(in))
			for i, x := range in {
				abs[i] = &absVal{shape: x.Shape, val: x}
				if hide {
					abs[i].val = nil
				}
			}
			shapes, err := rule(&ctx{g: g, n: n}, abs)
			if hide && errors.Is(err, errNeedValue) {
				continue
			}
			if err != nil {
				t.Fatalf("%s runs (output %v) but its shape rule fails: %v", op, out[0].Shape, err)
			}
			for i, s := range shapes {
				if i < len(out) && !slices.Equal(s, out[i].Shape) {
					t.Fatalf("%s output %d: rule gives %v, the op %v (values hidden: %v)", op, i, s, out[i].Shape, hide)
				}
			}
		}
	})
}
