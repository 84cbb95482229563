package graph_test

import (
	"fmt"

	"github.com/krelu/krelu/graph"
)

// mlp is y = W2·relu(W1·x + b1).
func mlp() *graph.Graph {
	return &graph.Graph{
		Name:   "mlp",
		Inputs: []graph.ValueInfo{{Name: "x", Shape: []int{1, 2}, DType: graph.Float32}},
		Initializers: map[string]*graph.Tensor{
			"W1": {Shape: []int{2, 2}, Data: []float64{1, -1, 2, 1}},
			"b1": {Shape: []int{2}, Data: []float64{0, -4}},
			"W2": {Shape: []int{2, 1}, Data: []float64{1, 1}},
		},
		Nodes: []*graph.Node{
			{Op: "Gemm", Name: "fc1", Inputs: []string{"x", "W1", "b1"}, Outputs: []string{"h"}},
			{Op: "Relu", Name: "act1", Inputs: []string{"h"}, Outputs: []string{"a"}},
			{Op: "MatMul", Name: "fc2", Inputs: []string{"a", "W2"}, Outputs: []string{"y"}},
		},
		Outputs: []graph.ValueInfo{{Name: "y"}},
	}
}

// A two-layer perceptron y = W2·relu(W1·x + b1), run with an observer that
// records the value each activation receives.
func Example() {
	g := mlp()
	x, _ := graph.NewTensor([]int{1, 2}, []float64{3, 1})
	out, err := g.RunWith(map[string]*graph.Tensor{"x": x}, graph.RunOptions{
		Observe: func(n *graph.Node, outs []*graph.Tensor) error {
			if n.Op == "Gemm" {
				fmt.Println("pre-activation of", n.Name, outs[0].Data)
			}
			return nil
		},
	})
	fmt.Println(out["y"], err)
	// Output:
	// pre-activation of fc1 [5 -6]
	// Tensor[1 1][5] <nil>
}

// Summarize infers shapes and counts parameters and activations; it is
// what `krelu inspect` prints.
func ExampleGraph_Summarize() {
	s, err := mlp().Summarize()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Params, s.Activations, s.Outputs[0].Shape, s.OpCounts)
	// Output: 8 1 [1 1] map[Gemm:1 MatMul:1 Relu:1]
}
