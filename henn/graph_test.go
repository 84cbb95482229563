package henn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/krelu/krelu/graph"
)

// testGraph is a small residual CNN: Conv(pad 1) → BN → Poly → AvgPool →
// Conv + skip → Poly → Flatten → Gemm.
func testGraph(rng *rand.Rand) *graph.Graph {
	randT := func(scale float64, shape ...int) *graph.Tensor {
		t := graph.Zeros(shape...)
		for i := range t.Data {
			t.Data[i] = scale * (2*rng.Float64() - 1)
		}
		return t
	}
	ints := func(v ...int64) graph.Attr { return graph.Attr{Kind: graph.AttrInts, Ints: v} }
	poly := graph.Attr{Kind: graph.AttrFloats, Floats: []float64{0.2, 0.5, 0.3}}
	g := &graph.Graph{
		Inputs:  []graph.ValueInfo{{Name: "x", Shape: []int{1, 1, 6, 6}, DType: graph.Float32}},
		Outputs: []graph.ValueInfo{{Name: "y", Shape: []int{1, 3}, DType: graph.Float32}},
		Initializers: map[string]*graph.Tensor{
			"w1": randT(0.5, 2, 1, 3, 3), "b1": randT(0.1, 2),
			"s": randT(1, 2), "bb": randT(0.1, 2), "mu": randT(0.1, 2), "var": graph.Zeros(2),
			"w2": randT(0.4, 2, 2, 3, 3), "b2": randT(0.1, 2),
			"wf": randT(0.5, 3, 18), "bf": randT(0.1, 3),
		},
	}
	for i := range g.Initializers["var"].Data {
		g.Initializers["var"].Data[i] = 1 + rng.Float64()
	}
	g.Nodes = []*graph.Node{
		{Op: "Conv", Name: "conv1", Inputs: []string{"x", "w1", "b1"}, Outputs: []string{"c1"},
			Attrs: map[string]graph.Attr{"pads": ints(1, 1, 1, 1), "kernel_shape": ints(3, 3)}},
		{Op: "BatchNormalization", Name: "bn1", Inputs: []string{"c1", "s", "bb", "mu", "var"}, Outputs: []string{"n1"}},
		{Op: graph.OpPoly, Name: "act1", Inputs: []string{"n1"}, Outputs: []string{"a1"}, Attrs: map[string]graph.Attr{"coefficients": poly}},
		{Op: "AveragePool", Name: "pool", Inputs: []string{"a1"}, Outputs: []string{"p1"},
			Attrs: map[string]graph.Attr{"kernel_shape": ints(2, 2), "strides": ints(2, 2)}},
		{Op: "Conv", Name: "conv2", Inputs: []string{"p1", "w2", "b2"}, Outputs: []string{"c2"},
			Attrs: map[string]graph.Attr{"pads": ints(1, 1, 1, 1), "kernel_shape": ints(3, 3)}},
		{Op: "Add", Name: "skip", Inputs: []string{"c2", "p1"}, Outputs: []string{"r"}},
		{Op: graph.OpPoly, Name: "act2", Inputs: []string{"r"}, Outputs: []string{"a2"}, Attrs: map[string]graph.Attr{"coefficients": poly}},
		{Op: "Flatten", Name: "flat", Inputs: []string{"a2"}, Outputs: []string{"f"}},
		{Op: "Gemm", Name: "fc", Inputs: []string{"f", "wf", "bf"}, Outputs: []string{"y"},
			Attrs: map[string]graph.Attr{"transB": {Kind: graph.AttrInt, Int: 1}}},
	}
	return g
}

// randomRuns draws n random inputs of testGraph and its plaintext outputs.
func randomRuns(t *testing.T, rng *rand.Rand, g *graph.Graph, n int) (inputs, want [][]float64) {
	t.Helper()
	for range n {
		x := graph.Zeros(1, 1, 6, 6)
		for i := range x.Data {
			x.Data[i] = rng.Float64()
		}
		out, err := g.Run(map[string]*graph.Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		inputs, want = append(inputs, x.Data), append(want, out["y"].Data)
	}
	return inputs, want
}

func TestCompileGraphEncrypted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	g := testGraph(rng)
	m, err := CompileGraph(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Depth() != 5 {
		t.Errorf("depth %d, want 5 (conv, square, conv+skip, square, gemm; the pooling is free)", m.Depth())
	}
	inputs, want := randomRuns(t, rng, g, 3)
	got, _, err := runModel(m, len(inputs), func(c *Client, lo, hi int) (*Ciphertexts, error) { return c.EncryptBatch(m.Layout(), inputs[lo:hi]) })
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		for j := range want[i] {
			if d := math.Abs(got[i][j] - want[i][j]); d > 1e-3 {
				t.Errorf("input %d logit %d: encrypted %.6f, plaintext %.6f", i, j, got[i][j], want[i][j])
			}
		}
	}
	t.Logf("preset %s, block %d, %d inputs per ciphertext, %d rotation keys", m.Preset(), m.Layout().Block, m.Layout().PerCiphertext(), len(m.Rotations()))
	for _, op := range m.Plan() {
		t.Logf("%+v", op)
	}
}
