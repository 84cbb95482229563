package graph

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// ONNX 1.12's test data stops at opset 17, so the opset-18 forms — Reduce*
// axes as an input, Split's num_outputs, Pad's axes — are checked here
// against independent references: brute-force reductions over
// coordinates, and Pad's opset-13 form (all axes), which the conformance
// run covers.

// runOp runs one node of the given opset on named inputs; the first input
// is fed, the others are initializers.
func runOp(opset int, n *Node, names []string, ts []*Tensor) ([]*Tensor, error) {
	g := &Graph{Opset: opset, Initializers: map[string]*Tensor{}, Nodes: []*Node{n}}
	g.Inputs = []ValueInfo{{Name: names[0], Shape: ts[0].Shape, DType: Float64}}
	for i := 1; i < len(names); i++ {
		g.Initializers[names[i]] = ts[i]
	}
	for _, o := range n.Outputs {
		g.Outputs = append(g.Outputs, ValueInfo{Name: o})
	}
	res, err := g.Run(map[string]*Tensor{names[0]: ts[0]})
	if err != nil {
		return nil, err
	}
	out := make([]*Tensor, len(n.Outputs))
	for i, o := range n.Outputs {
		out[i] = res[o]
	}
	return out, nil
}

func int64Tensor(v ...int) *Tensor {
	t := &Tensor{Shape: []int{len(v)}, DType: Int64}
	for _, x := range v {
		t.Data = append(t.Data, float64(x))
	}
	return t
}

// refReduce reduces x over the axes in red by visiting every coordinate.
func refReduce(x *Tensor, red []bool, keep bool, op string) *Tensor {
	var shape, kshape []int
	for d, n := range x.Shape {
		if red[d] {
			kshape = append(kshape, 1)
			if keep {
				shape = append(shape, 1)
			}
			continue
		}
		kshape = append(kshape, n)
		shape = append(shape, n)
	}
	size := 1
	for _, n := range kshape {
		size *= n
	}
	acc := make([]float64, size)
	cnt := make([]float64, size)
	switch op {
	case "ReduceMax":
		for i := range acc {
			acc[i] = math.Inf(-1)
		}
	case "ReduceMin":
		for i := range acc {
			acc[i] = math.Inf(1)
		}
	case "ReduceProd":
		for i := range acc {
			acc[i] = 1
		}
	}
	coord := make([]int, len(x.Shape))
	for i, v := range x.Data {
		rem := i
		for d := len(x.Shape) - 1; d >= 0; d-- {
			coord[d] = rem % x.Shape[d]
			rem /= x.Shape[d]
		}
		o := 0
		for d := range coord {
			c := coord[d]
			if red[d] {
				c = 0
			}
			o = o*kshape[d] + c
		}
		cnt[o]++
		switch op {
		case "ReduceSum", "ReduceMean", "ReduceLogSum":
			acc[o] += v
		case "ReduceMax":
			acc[o] = math.Max(acc[o], v)
		case "ReduceMin":
			acc[o] = math.Min(acc[o], v)
		case "ReduceProd":
			acc[o] *= v
		case "ReduceL1":
			acc[o] += math.Abs(v)
		case "ReduceL2", "ReduceSumSquare":
			acc[o] += v * v
		case "ReduceLogSumExp":
			acc[o] += math.Exp(v)
		}
	}
	for o := range acc {
		switch op {
		case "ReduceMean":
			acc[o] /= cnt[o]
		case "ReduceL2":
			acc[o] = math.Sqrt(acc[o])
		case "ReduceLogSum", "ReduceLogSumExp":
			acc[o] = math.Log(acc[o])
		}
	}
	return &Tensor{Shape: shape, Data: acc}
}

func TestOpset18ReduceAxesInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 1))
	x := Zeros(3, 4, 2)
	for i := range x.Data {
		x.Data[i] = 0.5 + rng.Float64() // positive: ReduceLogSum is defined
	}
	ops := []string{"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"}
	for _, op := range ops {
		for _, axes := range [][]int{{0}, {1}, {-1}, {0, 2}, {-3, -2}, {0, 1, 2}} {
			red := make([]bool, 3)
			for _, a := range axes {
				red[(a+3)%3] = true
			}
			for _, keep := range []int64{0, 1} {
				n := &Node{Op: op, Name: "r", Inputs: []string{"x", "axes"}, Outputs: []string{"y"},
					Attrs: map[string]Attr{"keepdims": {Kind: AttrInt, Int: keep}}}
				out, err := runOp(18, n, []string{"x", "axes"}, []*Tensor{x, int64Tensor(axes...)})
				if err != nil {
					t.Fatalf("%s axes %v: %v", op, axes, err)
				}
				want := refReduce(x, red, keep == 1, op)
				if !sameShape(out[0].Shape, want.Shape) || !closeRel(out[0].Data, want.Data, 1e-13) {
					t.Errorf("%s axes %v keepdims %d: %v %v, want %v %v", op, axes, keep, out[0].Shape, out[0].Data, want.Shape, want.Data)
				}
			}
		}
		// Empty axes: all axes, or none with noop_with_empty_axes; an
		// omitted axes input means all axes.
		all := refReduce(x, []bool{true, true, true}, true, op)
		for _, c := range []struct {
			noop  int64
			names []string
			ts    []*Tensor
			want  *Tensor
		}{
			{0, []string{"x", "axes"}, []*Tensor{x, {Shape: []int{0}, DType: Int64}}, all},
			{1, []string{"x", "axes"}, []*Tensor{x, {Shape: []int{0}, DType: Int64}}, x},
			{0, []string{"x"}, []*Tensor{x}, all},
		} {
			n := &Node{Op: op, Name: "r", Inputs: c.names, Outputs: []string{"y"},
				Attrs: map[string]Attr{"noop_with_empty_axes": {Kind: AttrInt, Int: c.noop}}}
			out, err := runOp(18, n, c.names, c.ts)
			if err != nil {
				t.Fatalf("%s noop %d inputs %v: %v", op, c.noop, c.names, err)
			}
			if !sameShape(out[0].Shape, c.want.Shape) || !closeRel(out[0].Data, c.want.Data, 1e-13) {
				t.Errorf("%s noop %d inputs %v: %v %v, want %v %v", op, c.noop, c.names, out[0].Shape, out[0].Data, c.want.Shape, c.want.Data)
			}
		}
	}
	n := &Node{Op: "ReduceMean", Name: "r", Inputs: []string{"x", "axes"}, Outputs: []string{"y"}}
	if _, err := runOp(18, n, []string{"x", "axes"}, []*Tensor{x, int64Tensor(3)}); err == nil {
		t.Error("axis 3 of a rank-3 tensor accepted")
	}
}

func TestOpset18SplitNumOutputs(t *testing.T) {
	x := &Tensor{Shape: []int{2, 7}}
	for i := range 14 {
		x.Data = append(x.Data, float64(i))
	}
	split := func(opset int, attrs map[string]Attr, outs int, extra ...*Tensor) ([]*Tensor, error) {
		n := &Node{Op: "Split", Name: "s", Inputs: []string{"x"}, Attrs: attrs}
		names := []string{"x"}
		if len(extra) > 0 {
			n.Inputs, names = append(n.Inputs, "split"), append(names, "split")
		}
		for i := range outs {
			n.Outputs = append(n.Outputs, string(rune('a'+i)))
		}
		return runOp(opset, n, names, append([]*Tensor{x}, extra...))
	}
	axis1 := func(k int64) map[string]Attr {
		return map[string]Attr{"axis": {Kind: AttrInt, Int: 1}, "num_outputs": {Kind: AttrInt, Int: k}}
	}
	// ONNX's example: 7 values in 4 outputs are 2, 2, 2 and 1.
	out, err := split(18, axis1(4), 4)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float64{{0, 1, 7, 8}, {2, 3, 9, 10}, {4, 5, 11, 12}, {6, 13}}
	for i, w := range want {
		if !close(out[i].Data, w) || out[i].Shape[0] != 2 || out[i].Shape[1] != len(w)/2 {
			t.Errorf("part %d: %v %v, want %v", i, out[i].Shape, out[i].Data, w)
		}
	}
	for _, c := range []struct {
		opset int
		attrs map[string]Attr
		outs  int
		extra []*Tensor
		msg   string
	}{
		{18, axis1(3), 4, nil, "num_outputs 3 but 4 outputs"},
		{18, axis1(2), 2, []*Tensor{int64Tensor(3, 4)}, "both split sizes and num_outputs"},
		{13, map[string]Attr{"axis": {Kind: AttrInt, Int: 1}}, 4, nil, "does not split into 4 equal parts"},
	} {
		if _, err := split(c.opset, c.attrs, c.outs, c.extra...); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("opset %d %v: %v, want %q", c.opset, c.attrs, err, c.msg)
		}
	}
	// Opset 13 without sizes splits a dividing dimension evenly.
	if out, err := split(13, map[string]Attr{"axis": {Kind: AttrInt, Int: 0}}, 2); err != nil || !close(out[1].Data, x.Data[7:]) {
		t.Errorf("opset 13 even split: %v %v", out, err)
	}
}

func TestOpset18PadAxes(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 2))
	x := Zeros(1, 3, 4, 5)
	for i := range x.Data {
		x.Data[i] = rng.NormFloat64()
	}
	pad := func(mode string, pads []int, value float64, axes []int) (*Tensor, error) {
		n := &Node{Op: "Pad", Name: "p", Inputs: []string{"x", "pads", "value"}, Outputs: []string{"y"},
			Attrs: map[string]Attr{"mode": {Kind: AttrString, String: mode}}}
		names := []string{"x", "pads", "value"}
		ts := []*Tensor{x, int64Tensor(pads...), {Shape: []int{}, Data: []float64{value}}}
		if axes != nil {
			n.Inputs, names, ts = append(n.Inputs, "axes"), append(names, "axes"), append(ts, int64Tensor(axes...))
		}
		out, err := runOp(18, n, names, ts)
		if err != nil {
			return nil, err
		}
		return out[0], nil
	}
	for _, mode := range []string{"constant", "reflect", "edge"} {
		// ONNX's example pads axes 1 and 3 by (0, 3) before and (0, 4)
		// after; reflect needs pads smaller than the axis, so here
		// (1, 2) and (2, 3). Negative pads crop.
		for _, p := range [][4]int{{1, 2, 2, 3}, {0, 2, -1, 3}} {
			full := []int{0, p[0], 0, p[1], 0, p[2], 0, p[3]}
			want, err := pad(mode, full, 1.2, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, axes := range [][]int{{1, 3}, {-3, -1}} {
				got, err := pad(mode, []int{p[0], p[1], p[2], p[3]}, 1.2, axes)
				if err != nil {
					t.Fatalf("%s axes %v: %v", mode, axes, err)
				}
				if !sameShape(got.Shape, want.Shape) || !close(got.Data, want.Data) {
					t.Errorf("%s pads %v axes %v: shape %v, want %v (or values differ)", mode, p, axes, got.Shape, want.Shape)
				}
			}
			// The axes in the other order take the pads in that order.
			got, err := pad(mode, []int{p[1], p[0], p[3], p[2]}, 1.2, []int{3, 1})
			if err != nil || !close(got.Data, want.Data) {
				t.Errorf("%s axes (3, 1): %v", mode, err)
			}
		}
	}
	if _, err := pad("constant", []int{1, 1, 1, 1}, 0, []int{1, -3}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("axis named twice: %v", err)
	}
	if _, err := pad("constant", []int{1, 1}, 0, []int{1, 3}); err == nil {
		t.Error("2 pads for 2 axes accepted")
	}
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func closeRel(a, b []float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !(math.Abs(a[i]-b[i]) <= tol*(1+math.Abs(b[i]))) {
			return false
		}
	}
	return true
}
