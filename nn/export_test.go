package nn

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/krelu/krelu/approx"
)

func TestHENNExport(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	mlp, _ := NewMLP([]int{784, 16, 10}, approx.Poly{0.3, 0.5, 0.1}, 1)
	cnn, _ := NewCNN(8, 10, approx.Poly{0.2, 0.5, 0.12}, 2)
	for _, n := range []*Network{mlp, cnn} {
		for _, p := range n.Params() {
			if strings.HasPrefix(p.Name, "b") {
				for i := range p.Value {
					p.Value[i] = 0.1 * rng.NormFloat64()
				}
			}
		}
		h, err := n.HENN()
		if err != nil {
			t.Fatal(err)
		}
		if out, err := h.Validate(); err != nil || out != 10 {
			t.Fatalf("%s: henn validate: %d, %v", n.Arch, out, err)
		}
		x := randDense(rng, 3, 784)
		want := n.Forward(x)
		for i := 0; i < 3; i++ {
			got, err := h.Forward(x.RawRowView(i))
			if err != nil {
				t.Fatal(err)
			}
			for j, v := range got {
				if !near(v, want.At(i, j), 1e-10) {
					t.Fatalf("%s: logit %d of sample %d: henn %v, nn %v", n.Arch, j, i, v, want.At(i, j))
				}
			}
		}
	}
	relu, _ := NewMLP([]int{4, 3, 2}, nil, 1)
	if _, err := relu.HENN(); err == nil || !strings.Contains(err.Error(), "ReLU") {
		t.Errorf("ReLU export: %v", err)
	}
}
