package serve

import (
	"context"
	"math"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/henn"
)

// TestServeGraphModel serves a model compiled from a .henn file (what
// `krelu compile` writes; `krelu serve --model MODEL.henn` loads it with
// henn.LoadModel) and checks the encrypted outputs against the plaintext
// polynomial graph.
func TestServeGraphModel(t *testing.T) {
	w1 := graph.Zeros(8, 16)
	w2 := graph.Zeros(4, 8)
	for i := range w1.Data {
		w1.Data[i] = math.Sin(float64(i)) / 4
	}
	for i := range w2.Data {
		w2.Data[i] = math.Cos(float64(i)) / 2
	}
	tb := graph.Attr{Kind: graph.AttrInt, Int: 1}
	g := &graph.Graph{
		Inputs:       []graph.ValueInfo{{Name: "x", Shape: []int{1, 16}, DType: graph.Float32}},
		Outputs:      []graph.ValueInfo{{Name: "y", Shape: []int{1, 4}, DType: graph.Float32}},
		Initializers: map[string]*graph.Tensor{"w1": w1, "w2": w2},
		Nodes: []*graph.Node{
			{Op: "Gemm", Name: "fc1", Inputs: []string{"x", "w1"}, Outputs: []string{"h"}, Attrs: map[string]graph.Attr{"transB": tb}},
			{Op: graph.OpPoly, Name: "act", Inputs: []string{"h"}, Outputs: []string{"a"},
				Attrs: map[string]graph.Attr{"coefficients": {Kind: graph.AttrFloats, Floats: []float64{0.1, 0.5, 0.3}}}},
			{Op: "Gemm", Name: "fc2", Inputs: []string{"a", "w2"}, Outputs: []string{"y"}, Attrs: map[string]graph.Attr{"transB": tb}},
		},
	}
	path := filepath.Join(t.TempDir(), "tiny.henn")
	if err := henn.WriteModelFile(path, &henn.ModelFile{Source: "tiny", Graph: g}); err != nil {
		t.Fatal(err)
	}
	m, _, err := henn.LoadModel(path, henn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	sess, err := (&Client{BaseURL: ts.URL, HTTP: ts.Client()}).NewSession(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	inputs := testInputs(5, 16)
	got, err := sess.Classify(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range inputs {
		out, err := g.Run(map[string]*graph.Tensor{"x": {Shape: []int{1, 16}, Data: x}})
		if err != nil {
			t.Fatal(err)
		}
		for j, want := range out["y"].Data {
			if d := math.Abs(got[i][j] - want); d > 1e-3 {
				t.Errorf("input %d output %d: encrypted %g, plaintext %g", i, j, got[i][j], want)
			}
		}
	}
}
