package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/graph"
)

// TestGraphExport: the exported graph computes the network's logits.
func TestGraphExport(t *testing.T) {
	mlp, err := NewMLP([]int{12, 8, 3}, approx.Poly{0.1, 0.5, 0.2}, 1)
	if err != nil {
		t.Fatal(err)
	}
	cnn, err := NewCNN(16, 10, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []*Network{mlp, cnn} {
		g, err := n.Graph()
		if err != nil {
			t.Fatal(err)
		}
		x := mat.NewDense(3, n.InputDim, nil)
		for i := 0; i < 3; i++ {
			for j := 0; j < n.InputDim; j++ {
				x.Set(i, j, rng.Float64())
			}
		}
		want, err := n.Logits(x)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			in := &graph.Tensor{Shape: g.Inputs[0].Shape, Data: x.RawRowView(i)}
			out, err := g.Run(map[string]*graph.Tensor{"input": in})
			if err != nil {
				t.Fatal(err)
			}
			for j, v := range out[g.Outputs[0].Name].Data {
				if d := math.Abs(v - want.At(i, j)); d > 1e-9*(1+math.Abs(v)) {
					t.Fatalf("%s input %d logit %d: graph %g, network %g", n.Arch, i, j, v, want.At(i, j))
				}
			}
		}
	}
}
