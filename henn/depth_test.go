package henn

import (
	"math"
	"testing"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/he"
	"github.com/krelu/krelu/levelplan"
	"github.com/krelu/krelu/npy"
)

// deepModel is the 8-activation residual CNN trained by
// scripts/deep_models.py (committed; no Python needed).
const deepModel = "../models/deep/rescnn_kernel2.onnx"

func TestDepthVariants(t *testing.T) {
	want := map[string][2]int{"kernel2": {1, 1}, "ls2": {1, 1}, "minimax4": {3, 4}, "minimax7": {3, 5}, "composite[15,15,27]": {14, 25}}
	for _, v := range DepthVariants() {
		w, ok := want[v.Name]
		if !ok || v.Levels != w[0] || v.Mults != w[1] {
			t.Errorf("%s: %d levels %d mults, want %v", v.Name, v.Levels, v.Mults, w)
		}
	}
}

// TestDeepModelPlans checks the depth argument on the committed
// deep model: under the LogN 16 bootstrapping preset (13 levels per
// bootstrap) the kernel quadratic needs at least 5× fewer bootstraps than
// the composite minimax ReLU, and the plan is consistent.
func TestDeepModelPlans(t *testing.T) {
	g, err := loadGraph(deepModel)
	if err != nil {
		t.Fatal(err)
	}
	res, err := LevelPlan(g, nil, 16)
	if err != nil {
		t.Fatal(err)
	}
	if res.NumBootstraps() != 1 {
		t.Fatalf("kernel model: %d bootstraps at 13 levels, want 1 (17 levels deep)\n%s", res.NumBootstraps(), res)
	}
	levels := 13
	unit := make([]float64, levels+1)
	for i := range unit {
		unit[i] = float64(i + 1)
	}
	costs := &he.OpCosts{Square: unit, PlainMul: unit, Rotate: unit, Add: unit}
	boots := map[string]int{}
	for _, v := range DepthVariants() {
		ops, cost, err := NetworkOps(g, v, nil, costs)
		if err != nil {
			t.Fatal(err)
		}
		r, err := levelplan.Plan(ops, levelplan.Config{MaxLevel: levels, BootLevel: levels, OpCost: cost, BootCost: 100})
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		boots[v.Name] = r.NumBootstraps()
	}
	if k, c := boots["kernel2"], boots["composite[15,15,27]"]; c < 5*k || k < 1 {
		t.Fatalf("bootstraps: kernel %d, composite %d: the depth argument does not hold", k, c)
	}
	if boots["minimax4"] <= boots["kernel2"] {
		t.Fatalf("bootstraps: minimax4 %d ≤ kernel %d", boots["minimax4"], boots["kernel2"])
	}
	t.Logf("bootstraps per inference: %v", boots)
}

// TestDeepModelGoldens runs the committed deep models through krelu's
// graph runtime and compares with PyTorch's logits on the same images.
func TestDeepModelGoldens(t *testing.T) {
	imgs, shape, err := npy.ReadFile("../models/deep/images.npy")
	if err != nil {
		t.Fatal(err)
	}
	per := 28 * 28
	if len(shape) != 4 || shape[1]*shape[2]*shape[3] != per {
		t.Fatalf("images shape %v", shape)
	}
	for _, name := range []string{"relu", "kernel2"} {
		g, err := loadGraph("../models/deep/rescnn_" + name + ".onnx")
		if err != nil {
			t.Fatal(err)
		}
		want, _, err := npy.ReadFile("../models/deep/rescnn_" + name + "_logits.npy")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < shape[0]; i++ {
			x, err := graph.NewTensor([]int{1, 1, 28, 28}, imgs[i*per:(i+1)*per])
			if err != nil {
				t.Fatal(err)
			}
			out, err := g.Run(map[string]*graph.Tensor{g.Inputs[0].Name: x})
			if err != nil {
				t.Fatal(err)
			}
			have := out[g.Outputs[0].Name].Data
			for j, h := range have {
				if w := want[i*10+j]; math.Abs(h-w) > 1e-3*math.Max(1, math.Abs(w)) {
					t.Fatalf("%s image %d logit %d: %.6g, PyTorch %.6g", name, i, j, h, w)
				}
			}
		}
	}
}
