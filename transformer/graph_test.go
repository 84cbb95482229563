package transformer

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/onnx"
	"github.com/krelu/krelu/rewrite"
)

// randomModel returns a model whose every parameter — biases, LayerNorm
// gains and shifts included — is random, so that no term of the export can
// be wrong unnoticed.
func randomModel(t *testing.T, layers int, act Activation, seed uint64) *Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 17))
	m, err := New(Config{Vocab: 11, EmbDim: 5, Dim: 8, Heads: 2, Hidden: 12, Layers: layers, MaxLen: 7, Classes: 3}, act, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		for i := range p.W {
			p.W[i] = 0.6 * rng.NormFloat64()
		}
	}
	return m
}

// TestGraphReproducesPredict: the graph runtime on the exported graph gives
// Model.Predict's logits to 1e-9, for 1 and 2 layers, ReLU and polynomial
// FFN activations, and several sentence lengths.
func TestGraphReproducesPredict(t *testing.T) {
	poly := PolyActivation("quad", approx.Poly{0.1, 0.5, 0.2})
	for _, layers := range []int{1, 2} {
		for _, act := range []Activation{ReLU, poly} {
			m := randomModel(t, layers, act, uint64(10*layers))
			rng := rand.New(rand.NewPCG(uint64(layers), 3))
			for _, n := range []int{1, 2, 5, 7} {
				g, err := m.Graph(n)
				if err != nil {
					t.Fatal(err)
				}
				for range 3 {
					ids := make([]int, n)
					for i := range ids {
						ids[i] = rng.IntN(m.Cfg.Vocab)
					}
					_, want, err := m.Predict(ids)
					if err != nil {
						t.Fatal(err)
					}
					out, err := g.Run(map[string]*graph.Tensor{"ids": GraphInput(ids)})
					if err != nil {
						t.Fatal(err)
					}
					got := out["logits"]
					if len(got.Data) != len(want) || got.Shape[0] != 1 || got.Shape[1] != m.Cfg.Classes {
						t.Fatalf("logits shape %v, want [1 %d]", got.Shape, m.Cfg.Classes)
					}
					for j := range want {
						if d := math.Abs(got.Data[j] - want[j]); !(d <= 1e-9) {
							t.Errorf("%d layers, %s, %d tokens %v: logit %d = %.15g, Predict %.15g", layers, act, n, ids, j, got.Data[j], want[j])
						}
					}
				}
			}
		}
	}
}

// TestGraphONNXRoundTrip: the exported graph written as ONNX and read back
// reproduces Model.Predict to 1e-9. It is not bit-identical: ONNX stores a
// float attribute as float32, so LayerNorm's ε = 1e-5 comes back as
// float32(1e-5) (checked), which moves the logits by ~1e-14; the weights,
// written as double where float32 would round them, come back exactly.
func TestGraphONNXRoundTrip(t *testing.T) {
	for _, act := range []Activation{ReLU, PolyActivation("quad", approx.Poly{0.1, 0.5, 0.2})} {
		m := randomModel(t, 2, act, 5)
		ids := []int{3, 0, 10, 3}
		g, err := m.Graph(len(ids))
		if err != nil {
			t.Fatal(err)
		}
		data, err := onnx.Write(g)
		if err != nil {
			t.Fatalf("%s: %v", act, err)
		}
		h, err := onnx.Read(data, onnx.Options{})
		if err != nil {
			t.Fatalf("%s: %v", act, err)
		}
		if o := h.Outputs[0]; o.Name != "logits" || len(o.Shape) != 2 || o.Shape[0] != 1 || o.Shape[1] != m.Cfg.Classes {
			t.Errorf("%s: output read back as %+v, want logits [1 %d]", act, o, m.Cfg.Classes)
		}
		for name, w := range g.Initializers {
			r := h.Initializers[name]
			if r == nil || len(r.Data) != len(w.Data) {
				t.Fatalf("%s: initializer %s lost", act, name)
			}
			for i := range w.Data {
				if r.Data[i] != w.Data[i] {
					t.Fatalf("%s: initializer %s[%d] = %v after the round trip, %v before", act, name, i, r.Data[i], w.Data[i])
				}
			}
		}
		for _, n := range h.Nodes {
			if n.Op == "LayerNormalization" && n.AttrFloat("epsilon", 0) != float64(float32(1e-5)) {
				t.Errorf("epsilon read back as %v", n.AttrFloat("epsilon", 0))
			}
		}
		_, want, err := m.Predict(ids)
		if err != nil {
			t.Fatal(err)
		}
		b, err := h.Run(map[string]*graph.Tensor{"ids": GraphInput(ids)})
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range want {
			if got := b["logits"].Data[j]; !(math.Abs(got-v) <= 1e-9) {
				t.Errorf("%s: logit %d: %.15g after the round trip, Predict %.15g", act, j, got, v)
			}
		}
	}
}

func TestGraphErrors(t *testing.T) {
	m := randomModel(t, 1, ReLU, 1)
	for _, n := range []int{0, -1, 8} {
		if _, err := m.Graph(n); err == nil || !strings.Contains(err.Error(), "want 1…7") {
			t.Errorf("graph for %d tokens: %v", n, err)
		}
	}
	g, _ := m.Graph(3)
	if _, err := g.Run(map[string]*graph.Tensor{"ids": GraphInput([]int{1, 2, 11})}); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("id outside the vocabulary: %v", err)
	}
}

// TestGraphRewrite: the exported graph goes through package rewrite like
// an imported ONNX model. Each FFN ReLU becomes a fitted quadratic — the
// last by Newton (only the residual Add, ReduceMean and the classifier
// follow it), the first of a 2-layer model by Nelder–Mead (attention and
// Softmax follow) — and the rewritten graph computes exactly the model
// with those quadratics as its activation (one shared quadratic when the
// model has one layer).
func TestGraphRewrite(t *testing.T) {
	for _, layers := range []int{1, 2} {
		m := randomModel(t, layers, ReLU, uint64(40+layers))
		const n = 5
		g, err := m.Graph(n)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(layers), 41))
		var calib []*graph.Tensor
		var sents [][]int
		for range 40 {
			ids := make([]int, n)
			for i := range ids {
				ids[i] = rng.IntN(m.Cfg.Vocab)
			}
			sents = append(sents, ids)
			calib = append(calib, GraphInput(ids))
		}
		rg, rep, err := rewrite.Rewrite(g, calib, rewrite.Options{Method: rewrite.Decision})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Layers) != layers || rep.Layers[layers-1].Solver != "newton" || (layers == 2 && rep.Layers[0].Solver != "nelder-mead") {
			t.Fatalf("%d layers: report %+v", layers, rep.Layers)
		}
		t.Logf("%d layers: calibration agreement %.3f, solvers %s", layers, rep.CalibAgreement, rep.Layers[0].Solver)
		if layers != 1 {
			continue
		}
		m.Act = PolyActivation("decision", rep.Layers[0].Coefficients)
		for _, ids := range sents[:5] {
			_, want, err := m.Predict(ids)
			if err != nil {
				t.Fatal(err)
			}
			out, err := rg.Run(map[string]*graph.Tensor{"ids": GraphInput(ids)})
			if err != nil {
				t.Fatal(err)
			}
			for j, v := range want {
				if d := math.Abs(out["logits"].Data[j] - v); !(d <= 1e-9) {
					t.Errorf("rewritten graph logit %d = %v, model with the fitted quadratic %v", j, out["logits"].Data[j], v)
				}
			}
		}
	}
}
