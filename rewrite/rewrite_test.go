package rewrite

import (
	"math"
	"strings"
	"testing"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/onnx"
)

func lenet(t *testing.T) (*graph.Graph, []*graph.Tensor, []int) {
	t.Helper()
	g, err := onnx.ReadFile("../models/lenet5.onnx", onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	x, _, err := LoadInputs("../models/golden/images.npy", g.Inputs[0].Shape, 0)
	if err != nil {
		t.Fatal(err)
	}
	y, err := LoadLabels("../models/golden/labels.npy")
	if err != nil {
		t.Fatal(err)
	}
	return g, x, y
}

// TestFoldBatchNorm: folding changes no output beyond rounding.
func TestFoldBatchNorm(t *testing.T) {
	g, x, _ := lenet(t)
	f, n, err := FoldBatchNorm(g)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("folded %d BatchNormalizations, want 2", n)
	}
	for _, node := range f.Nodes {
		if node.Op == "BatchNormalization" {
			t.Errorf("node %s left", node.Name)
		}
	}
	a, err := Outputs(g, x)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Outputs(f, x)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		for j := range a[i] {
			if d := math.Abs(a[i][j] - b[i][j]); d > 1e-9*(1+math.Abs(a[i][j])) {
				t.Fatalf("input %d output %d: %g folded, %g original", i, j, b[i][j], a[i][j])
			}
		}
	}
}

// TestRewriteReport: every ReLU becomes a fitted quadratic with a
// per-layer report; the auto choice scores all candidates.
func TestRewriteReport(t *testing.T) {
	g, x, y := lenet(t)
	for _, m := range []string{Kernel, Auto} {
		rg, rep, err := Rewrite(g, x, Options{Method: m})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Layers) != 4 {
			t.Fatalf("%s: %d layers, want 4", m, len(rep.Layers))
		}
		for _, l := range rep.Layers {
			if l.Levels != 1 || len(l.Coefficients) != 3 || l.OutsideFrac != 0 || !(l.RMSE > 0) || l.Values == 0 {
				t.Errorf("%s: layer %+v", m, l)
			}
			if m == Auto && len(l.Agreement) != 4 {
				t.Errorf("auto: layer %s scored %d candidates", l.Node, len(l.Agreement))
			}
		}
		for _, n := range rg.Nodes {
			if n.Op == "Relu" {
				t.Errorf("%s: ReLU %s left", m, n.Name)
			}
		}
		p, err := Predict(rg, x)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: golden accuracy %.3f, calibration agreement %.3f, kernel chosen %d", m, Agreement(p, y), rep.CalibAgreement, rep.KernelChosen)
	}
	if _, _, err := Rewrite(g, x, Options{Method: "cubic-spline"}); err == nil || !strings.Contains(err.Error(), "kernel") {
		t.Errorf("unknown method: %v", err)
	}
	if _, _, err := Rewrite(g, nil, Options{}); err == nil {
		t.Error("no calibration inputs: no error")
	}
}
