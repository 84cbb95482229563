package onnx

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/krelu/krelu/graph"
)

// forwardShapes is the shape inference graph.InferShapes replaced: one
// forward pass on zero inputs, recording every value's shape. It serves
// as the reference the shape rules must reproduce.
func forwardShapes(g *graph.Graph) (map[string][]int, error) {
	inputs := map[string]*graph.Tensor{}
	for _, in := range g.Inputs {
		inputs[in.Name] = graph.Zeros(in.Shape...)
	}
	shapes := map[string][]int{}
	for k, v := range g.Initializers {
		shapes[k] = v.Shape
	}
	for _, in := range g.Inputs {
		shapes[in.Name] = in.Shape
	}
	_, err := g.RunWith(inputs, graph.RunOptions{Observe: func(n *graph.Node, outs []*graph.Tensor) error {
		for i, t := range outs {
			if t != nil && n.Outputs[i] != "" {
				shapes[n.Outputs[i]] = t.Shape
			}
		}
		return nil
	}})
	return shapes, err
}

// TestInferShapesMatchesForwardPass: for every committed model, the shape
// rules give every value the shape a forward pass gives it.
func TestInferShapesMatchesForwardPass(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(modelsDir, "*.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	deep, err := filepath.Glob(filepath.Join(modelsDir, "deep", "*.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, deep...)
	if len(files) < 6 {
		t.Fatalf("found only %d models: %v", len(files), files)
	}
	for _, f := range files {
		g, err := ReadFile(f, Options{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want, err := forwardShapes(g)
		if err != nil {
			t.Fatalf("%s: forward pass: %v", f, err)
		}
		got, err := g.InferShapes()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d shapes inferred, the forward pass has %d", f, len(got), len(want))
		}
		for k, w := range want {
			if s, ok := got[k]; !ok || !slices.Equal(s, w) {
				t.Errorf("%s: %q inferred %v, forward pass %v", f, k, s, w)
			}
		}
		t.Logf("%s: %d values, %d nodes", filepath.Base(f), len(want), len(g.Nodes))
	}
}
