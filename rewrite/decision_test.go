package rewrite

import (
	"testing"

	"github.com/krelu/krelu/onnx"
)

// TestDecisionMLP: on the committed PyTorch MLP the decision-aware rewrite
// fits its first ReLU by Nelder–Mead through the rest of the graph and its
// last (followed by one Gemm only) exactly by Newton, and keeps at least
// as many of the original's decisions on the calibration set as the
// direct least-squares fit it starts from — the criterion it optimises.
func TestDecisionMLP(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 500 MNIST images and runs the MLP ~400 times on them")
	}
	g, err := onnx.ReadFile("../models/mlp.onnx", onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	x, _, err := LoadInputs("mnist:train", g.Inputs[0].Shape, 500)
	if err != nil {
		t.Fatal(err)
	}
	agree := map[string]float64{}
	for _, m := range []string{Direct, Decision, Auto} {
		_, rep, err := Rewrite(g, x, Options{Method: m})
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		agree[m] = rep.CalibAgreement
		for _, l := range rep.Layers {
			t.Logf("%s: %s %s %s agreement %v coefficients %.4g", m, l.Node, l.Method, l.Solver, l.Agreement, l.Coefficients)
		}
		if m == Decision {
			if len(rep.Layers) != 2 || rep.Layers[0].Solver != "nelder-mead" || rep.Layers[1].Solver != "newton" {
				t.Errorf("decision layers %+v: want nelder-mead then newton", rep.Layers)
			}
		}
		if m == Auto {
			for _, l := range rep.Layers {
				if len(l.Agreement) != 4 {
					t.Errorf("auto scored %d candidates at %s, want 4", len(l.Agreement), l.Node)
				}
			}
		}
	}
	t.Logf("calibration agreement: %v", agree)
	if agree[Decision] < agree[Direct] {
		t.Errorf("decision-aware agreement %.4f below direct %.4f", agree[Decision], agree[Direct])
	}
}
