package graph

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// paddedConv is a Conv whose pads grow a 1×1 input to (2p+1)×(2p+1),
// followed by a global average pool: a model file of a few hundred bytes
// whose forward pass allocates (2p+1)² values.
func paddedConv(p int64) *Graph {
	ints := func(v ...int64) Attr { return Attr{Kind: AttrInts, Ints: v} }
	return &Graph{
		Inputs:       []ValueInfo{{Name: "x", Shape: []int{1, 1, 1, 1}, DType: Float32}},
		Outputs:      []ValueInfo{{Name: "y", Shape: []int{1, 1, 1, 1}, DType: Float32}},
		Initializers: map[string]*Tensor{"w": tensor([]int{1, 1, 1, 1}, 1)},
		Nodes: []*Node{
			{Op: "Conv", Name: "c", Inputs: []string{"x", "w"}, Outputs: []string{"c"},
				Attrs: map[string]Attr{"pads": ints(p, p, p, p), "kernel_shape": ints(1, 1)}},
			{Op: "GlobalAveragePool", Name: "p", Inputs: []string{"c"}, Outputs: []string{"y"}},
		},
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestInferShapesPaddedConv: shapes come from the rules, not a forward
// pass, so a Conv padding 1×1 to 16001×16001 (2 GiB as float64) costs
// less than a megabyte to infer.
func TestInferShapesPaddedConv(t *testing.T) {
	g := paddedConv(8000)
	var shapes map[string][]int
	var err error
	a := allocated(func() { shapes, err = g.InferShapes() })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shapes["c"], []int{1, 1, 16001, 16001}) || !slices.Equal(shapes["y"], []int{1, 1, 1, 1}) {
		t.Errorf("shapes c %v, y %v", shapes["c"], shapes["y"])
	}
	if a > 1<<20 {
		t.Errorf("inferring the shapes allocated %d bytes", a)
	}
}

// TestInferShapesBudget: an op without a shape rule runs on zeros, and
// zeros above inferBudget are refused before they are allocated, with an
// error naming the node.
func TestInferShapesBudget(t *testing.T) {
	g := paddedConv(2100) // 4201² ≈ 1.76·10^7 values > 2^24
	g.Nodes[1] = &Node{Op: "ReduceMean", Name: "mean", Inputs: []string{"c"}, Outputs: []string{"y"}}
	var err error
	a := allocated(func() { _, err = g.InferShapes() })
	if err == nil || !strings.Contains(err.Error(), `"mean"`) || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("got %v, want a budget error naming node mean", err)
	}
	if a > 1<<20 {
		t.Errorf("refusing the graph allocated %d bytes", a)
	}
	// Below the budget the same graph is inferred.
	g.Nodes[0].Attrs["pads"] = Attr{Kind: AttrInts, Ints: []int64{100, 100, 100, 100}}
	shapes, err := g.InferShapes()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shapes["y"], []int{1, 1, 1, 1}) {
		t.Errorf("y %v", shapes["y"])
	}
}

// TestInferShapesFoldsShapeArithmetic: a Reshape whose target is computed
// from the input's Shape (as PyTorch exports flatten) is inferred from
// propagated integers, and the data path stays abstract.
func TestInferShapesFoldsShapeArithmetic(t *testing.T) {
	i64 := func(shape []int, v ...float64) *Tensor { t := tensor(shape, v...); t.DType = Int64; return t }
	g := &Graph{
		Inputs:  []ValueInfo{{Name: "x", Shape: []int{2, 3, 4}, DType: Float32}},
		Outputs: []ValueInfo{{Name: "y"}},
		Initializers: map[string]*Tensor{
			"zero": i64([]int{1}, 0), "minus1": i64([]int{1}, -1),
		},
		Nodes: []*Node{
			{Op: "Shape", Name: "s", Inputs: []string{"x"}, Outputs: []string{"s"}},
			{Op: "Gather", Name: "g", Inputs: []string{"s", "zero"}, Outputs: []string{"n"}},
			{Op: "Concat", Name: "cat", Inputs: []string{"n", "minus1"}, Outputs: []string{"t"}, Attrs: map[string]Attr{"axis": {Kind: AttrInt}}},
			{Op: "Reshape", Name: "r", Inputs: []string{"x", "t"}, Outputs: []string{"y"}},
		},
	}
	shapes, err := g.InferShapes()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shapes["y"], []int{2, 12}) || !slices.Equal(shapes["t"], []int{2}) {
		t.Errorf("y %v, t %v; want [2 12], [2]", shapes["y"], shapes["t"])
	}
}

// TestRunMemoryBudget: a run refuses a node whose outputs would take the
// values it holds above the budget — before allocating them when the op
// has a shape rule, right after otherwise — with an error, not a panic.
func TestRunMemoryBudget(t *testing.T) {
	x := map[string]*Tensor{"x": tensor([]int{1, 1, 1, 1}, 1)}
	g := paddedConv(1000) // 2001² values, 32 MB
	var err error
	a := allocated(func() { _, err = g.RunWith(x, RunOptions{MemoryBudget: 1 << 20}) })
	if err == nil || !strings.Contains(err.Error(), `"c"`) || !strings.Contains(err.Error(), "memory budget of 1 MiB") {
		t.Fatalf("got %v, want a budget error naming node c", err)
	}
	if a > 1<<20 {
		t.Errorf("refusing the run allocated %d bytes", a)
	}
	// The default budget (1 GiB) runs it.
	out, err := g.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	if y := out["y"].Data[0]; y != 1/(2001.0*2001.0) {
		t.Errorf("y = %g, want 1/2001²", y)
	}
	if _, err := g.RunWith(x, RunOptions{MemoryBudget: -1}); err == nil {
		t.Error("a negative budget was accepted")
	}
}

// TestRunMemoryBudgetWithoutRule: Unsqueeze has no shape rule, so the
// budget is checked right after it runs.
func TestRunMemoryBudgetWithoutRule(t *testing.T) {
	g := &Graph{
		Inputs:  []ValueInfo{{Name: "x", Shape: []int{300, 300}, DType: Float32}},
		Outputs: []ValueInfo{{Name: "y"}},
		Nodes: []*Node{
			{Op: "Unsqueeze", Name: "u", Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: map[string]Attr{"axes": {Kind: AttrInts, Ints: []int64{0}}}},
		},
		Opset: 11,
	}
	x := map[string]*Tensor{"x": Zeros(300, 300)}
	_, err := g.RunWith(x, RunOptions{MemoryBudget: 1 << 19})
	if err == nil || !strings.Contains(err.Error(), `"u"`) {
		t.Fatalf("got %v, want a budget error naming node u", err)
	}
	var ue *UnsupportedError
	if errors.As(err, &ue) {
		t.Errorf("budget error reported as unsupported: %v", err)
	}
}
