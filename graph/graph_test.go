package graph

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func tensor(shape []int, data ...float64) *Tensor {
	t, err := NewTensor(shape, data)
	if err != nil {
		panic(err)
	}
	return t
}

func run1(t *testing.T, n *Node, inits map[string]*Tensor, x *Tensor) *Tensor {
	t.Helper()
	g := &Graph{Inputs: []ValueInfo{{Name: n.Inputs[0], Shape: x.Shape, DType: Float32}}, Initializers: inits,
		Nodes: []*Node{n}, Outputs: []ValueInfo{{Name: n.Outputs[0]}}}
	out, err := g.Run(map[string]*Tensor{n.Inputs[0]: x})
	if err != nil {
		t.Fatal(err)
	}
	return out[n.Outputs[0]]
}

func close(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12 {
			return false
		}
	}
	return true
}

// Depthwise convolution with stride 2 and padding, checked by hand.
func TestConvDepthwise(t *testing.T) {
	x := tensor([]int{1, 2, 3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1)
	w := tensor([]int{2, 1, 2, 2}, 1, 0, 0, 1, 0, 1, 1, 0)
	n := &Node{Op: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"y"}, Attrs: map[string]Attr{
		"group": {Kind: AttrInt, Int: 2}, "strides": {Kind: AttrInts, Ints: []int64{2, 2}},
		"pads": {Kind: AttrInts, Ints: []int64{1, 1, 0, 0}}}}
	y := run1(t, n, map[string]*Tensor{"w": w}, x)
	// Channel 0, kernel [[1,0],[0,1]]: y = x[2i-1][2j-1] + x[2i][2j].
	// Channel 1, kernel [[0,1],[1,0]]: y = x[2i-1][2j] + x[2i][2j-1].
	want := []float64{0 + 1, 0 + 3, 0 + 7, 5 + 9, 0 + 0, 0 + 8, 6 + 0, 4 + 2}
	if !slices.Equal(y.Shape, []int{1, 2, 2, 2}) || !close(y.Data, want) {
		t.Fatalf("got %v %v, want %v", y.Shape, y.Data, want)
	}
}

func TestBroadcastAndMatMul(t *testing.T) {
	a := tensor([]int{2, 1, 3}, 1, 2, 3, 4, 5, 6)
	b := tensor([]int{3}, 10, 20, 30)
	y, err := broadcastBinary(a, b, func(x, y float64) float64 { return x + y })
	if err != nil || !close(y.Data, []float64{11, 22, 33, 14, 25, 36}) {
		t.Fatalf("add: %v %v", y, err)
	}
	n := &Node{Op: "MatMul", Inputs: []string{"a", "b"}, Outputs: []string{"y"}}
	m := run1(t, n, map[string]*Tensor{"b": tensor([]int{3}, 1, 1, 1)}, a)
	if !slices.Equal(m.Shape, []int{2, 1}) || !close(m.Data, []float64{6, 15}) {
		t.Fatalf("matmul: %v", m)
	}
}

func TestPolyAndObserver(t *testing.T) {
	n := &Node{Op: OpPoly, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: map[string]Attr{
		"coefficients": {Kind: AttrFloats, Floats: []float64{1, 2, 3}}}}
	y := run1(t, n, nil, tensor([]int{3}, -1, 0, 2))
	if !close(y.Data, []float64{2, 1, 17}) {
		t.Fatalf("poly: %v", y.Data)
	}
}

func TestErrors(t *testing.T) {
	g := &Graph{Inputs: []ValueInfo{{Name: "x", Shape: []int{1, 4}, DType: Float32}},
		Nodes:   []*Node{{Op: "MaxPool", Name: "pool1", Inputs: []string{"x"}, Outputs: []string{"y"}}},
		Outputs: []ValueInfo{{Name: "y"}}}
	err := g.Validate()
	var ue *UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "AveragePool") || !strings.Contains(err.Error(), "pool1") {
		t.Fatalf("MaxPool error: %v", err)
	}
	g.Nodes[0].Op = "Relu"
	for _, in := range []*Tensor{tensor([]int{4}, 1, 2, 3, 4), tensor([]int{1, 4}, 1, math.NaN(), 3, 4), {Shape: []int{1, 4}, Data: []float64{1}}} {
		if _, err := g.Run(map[string]*Tensor{"x": in}); err == nil {
			t.Errorf("input %v: no error", in)
		}
	}
	if _, err := g.Run(nil); err == nil || !strings.Contains(err.Error(), "missing input") {
		t.Errorf("missing input: %v", err)
	}
	shapes, err := g.InferShapes()
	if err != nil || !slices.Equal(shapes["y"], []int{1, 4}) {
		t.Fatalf("shapes %v %v", shapes, err)
	}
}
