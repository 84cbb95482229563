package henn

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/krelu/krelu/npy"
	"github.com/krelu/krelu/onnx"
	"github.com/krelu/krelu/rewrite"
)

// TestCompileCommittedModels calibrates the committed PyTorch models on
// the 16 golden images and compiles them: every ReLU becomes a fitted
// quadratic, the plan fits a 128-bit preset.
func TestCompileCommittedModels(t *testing.T) {
	for _, c := range []struct {
		name   string
		levels int
	}{{"mlp", 5}, {"lenet5", 9}} {
		t.Run(c.name, func(t *testing.T) {
			g, err := onnx.ReadFile("../models/"+c.name+".onnx", onnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			calib, _, err := rewrite.LoadInputs("../models/golden/images.npy", g.Inputs[0].Shape, 0)
			if err != nil {
				t.Fatal(err)
			}
			rg, rep, err := rewrite.Rewrite(g, calib, rewrite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range rep.Layers {
				if l.Method != rewrite.Kernel || len(l.Coefficients) != 3 || !(l.Interval[1] > l.Interval[0]) || l.Levels != 1 {
					t.Errorf("layer %+v", l)
				}
			}
			m, err := CompileGraph(rg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if m.Depth() != c.levels {
				t.Errorf("%d levels, want %d", m.Depth(), c.levels)
			}
			// The .henn file round trip keeps the model.
			path := filepath.Join(t.TempDir(), c.name+".henn")
			if err := WriteModelFile(path, &ModelFile{Source: c.name, Graph: rg}); err != nil {
				t.Fatal(err)
			}
			m2, mf, err := LoadModel(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if m2.Depth() != m.Depth() || len(m2.Rotations()) != len(m.Rotations()) || mf.Source != c.name {
				t.Errorf("reloaded model differs")
			}
			a, _ := rewrite.Outputs(rg, calib[:2])
			b, _ := rewrite.Outputs(mf.Graph, calib[:2])
			for i := range a {
				for j := range a[i] {
					if a[i][j] != b[i][j] {
						t.Fatalf("reloaded graph gives other outputs")
					}
				}
			}
		})
	}
}

// TestMLPEncrypted runs the committed MLP encrypted on a few golden
// images and compares with its plaintext polynomial run.
func TestMLPEncrypted(t *testing.T) {
	if testing.Short() {
		t.Skip("LogN 14 keys and a full MLP: run without -short")
	}
	g := quadratic(t, "../models/mlp.onnx")
	in, _, err := rewrite.LoadInputs("../models/golden/images.npy", g.Inputs[0].Shape, 4)
	if err != nil {
		t.Fatal(err)
	}
	want, err := rewrite.Outputs(g, in)
	if err != nil {
		t.Fatal(err)
	}
	m, err := CompileGraph(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	flat := make([][]float64, len(in))
	for i, x := range in {
		flat[i] = x.Data
	}
	got, _, _, err := runChunked(m, flat, &InferReport{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		for j := range want[i] {
			if d := math.Abs(got[i][j] - want[i][j]); d > 1e-2*(1+math.Abs(want[i][j])) {
				t.Errorf("image %d logit %d: encrypted %.5f, plaintext %.5f", i, j, got[i][j], want[i][j])
			}
		}
	}
}

// TestNaturalLayoutsEncrypted forces the grid layouts (multiplexed
// channels on the gapped grid, residual join in place) on the small test
// graph, which otherwise prefers the hybrid dense form.
func TestNaturalLayoutsEncrypted(t *testing.T) {
	if testing.Short() {
		t.Skip("a second encrypted graph: run without -short")
	}
	forceNatural = true
	defer func() { forceNatural = false }()
	rng := rand.New(rand.NewPCG(3, 4))
	g := testGraph(rng)
	m, err := CompileGraph(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	multiplexed := false
	for _, op := range m.Plan() {
		multiplexed = multiplexed || strings.Contains(op.Layout, "multiplexed")
	}
	if !multiplexed {
		t.Fatalf("no multiplexed layout in the plan: %+v", m.Plan())
	}
	inputs, want := randomRuns(t, rng, g, 2)
	got, _, _, err := runChunked(m, inputs, &InferReport{})
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
}

func TestBadModelFiles(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"garbage":   "\x00\x01garbage",
		"header":    ModelFormat + "\n{\"format\": 12",
		"truncated": ModelFormat + "\n{\"format\":\"krelu.henn/v1\",\"graph\":{\"Nodes\":[",
		"type":      ModelFormat + "\n{\"format\":\"krelu.henn/v1\",\"graph\":{\"Nodes\":\"x\"}}",
		"nograph":   ModelFormat + "\n{\"format\":\"krelu.henn/v1\"}",
		"relu": ModelFormat + "\n{\"format\":\"krelu.henn/v1\",\"graph\":{\"Inputs\":[{\"Name\":\"x\",\"Shape\":[1,2],\"DType\":1}]," +
			"\"Outputs\":[{\"Name\":\"y\"}],\"Nodes\":[{\"Op\":\"Relu\",\"Name\":\"r\",\"Inputs\":[\"x\"],\"Outputs\":[\"y\"]}]}}",
	}
	for name, body := range cases {
		p := filepath.Join(dir, name+".henn")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadModel(p, Options{})
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "json") || strings.Contains(msg, "Go struct") || strings.Contains(msg, "gob") {
			t.Errorf("%s: error shows internals: %v", name, msg)
		}
	}
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	shape := []int{1, 1, 28, 28}
	nan := make([]float64, 2*784)
	nan[900] = math.NaN()
	write := func(name string, data []float64, s []int) string {
		var buf bytes.Buffer
		if err := npy.Write(&buf, data, s); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, c := range map[string]struct {
		path string
		want string
	}{
		"nan":   {write("nan.npy", nan, []int{2, 1, 28, 28}), "NaN"},
		"shape": {write("shape.npy", make([]float64, 2*100), []int{2, 100}), "shape"},
		"src":   {"nowhere.csv", "unknown input source"},
	} {
		_, _, err := rewrite.LoadInputs(c.path, shape, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", name, err, c.want)
		}
	}
	// A graph still holding a ReLU is refused by the compiler.
	g, err := onnx.ReadFile("../models/mlp.onnx", onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CompileGraph(g, Options{}); err == nil || !strings.Contains(err.Error(), "krelu compile") {
		t.Errorf("ReLU graph: %v", err)
	}
}
