package transformer

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/krelu/krelu/approx"
)

// heTinyConfig is tinyConfig with the HE-friendly encoder.
func heTinyConfig(layers int) Config {
	c := tinyConfig()
	c.Layers, c.HEFriendly, c.QuadShift = layers, true, 3
	return c
}

// checkEncoderAgrees compares the exported encoder on TokenRows with the
// model's own Forward and Predict logits.
func checkEncoderAgrees(t *testing.T, m *Model, sentences [][]int) {
	t.Helper()
	e, err := m.Encoder()
	if err != nil {
		t.Fatal(err)
	}
	for i, ids := range sentences {
		rows, err := m.TokenRows(ids)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Forward(rows)
		if err != nil {
			t.Fatal(err)
		}
		c, err := m.Forward(ids)
		if err != nil {
			t.Fatal(err)
		}
		_, pl, err := m.Predict(ids)
		if err != nil {
			t.Fatal(err)
		}
		for k := range got {
			tol := 1e-9 * math.Max(1, math.Abs(c.Logits[k]))
			if d := math.Abs(got[k] - c.Logits[k]); d > tol || got[k] != got[k] {
				t.Errorf("sentence %d logit %d: encoder %.15g, model %.15g", i, k, got[k], c.Logits[k])
			}
			if pl[k] != c.Logits[k] {
				t.Errorf("sentence %d logit %d: Predict %v, Forward %v", i, k, pl[k], c.Logits[k])
			}
		}
	}
}

// TestEncoderMatchesModel: random HE-friendly models with perturbed
// normalisations, 1 and 2 layers, agree with their export to 1e-9.
func TestEncoderMatchesModel(t *testing.T) {
	for _, layers := range []int{1, 2} {
		rng := rand.New(rand.NewPCG(21, uint64(layers)))
		m, err := New(heTinyConfig(layers), PolyActivation("k2", approx.Poly{0.5, 0.5, 0.12}), rng)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Params() {
			for i := range p.W {
				p.W[i] += 0.3 * rng.NormFloat64()
			}
		}
		var sentences [][]int
		for range 20 {
			ids := make([]int, 1+rng.IntN(m.Cfg.MaxLen))
			for i := range ids {
				ids[i] = rng.IntN(m.Cfg.Vocab)
			}
			sentences = append(sentences, ids)
		}
		checkEncoderAgrees(t, m, sentences)
		// The test can fail: a changed normalisation scale is seen.
		e, _ := m.Encoder()
		m.Blocks[0].LN.Gamma.W[0] *= 1.001
		rows, _ := m.TokenRows(sentences[0])
		a, _ := e.Forward(rows)
		c, _ := m.Forward(sentences[0])
		if math.Abs(a[0]-c.Logits[0])+math.Abs(a[1]-c.Logits[1]) < 1e-9 {
			t.Error("a perturbed model still agrees with the old export")
		}
	}
}

// TestEncoderRealSentences trains a small HE-friendly model briefly on
// real SST-2 sentences (embeddings learned from scratch) and checks the
// export on real dev sentences.
func TestEncoderRealSentences(t *testing.T) {
	trainEx, err := ReadSST2File(sst2Path(t, "train.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	devEx, err := ReadSST2File(sst2Path(t, "dev.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	trainEx, devEx = trainEx[:300], devEx[:60]
	v := NewVocab(Words(trainEx, devEx))
	opt := EncodeOptions{MaxLen: 64, Truncate: true}
	train, err := v.EncodeAll(trainEx, opt)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := v.EncodeAll(devEx, opt)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Vocab: v.Len(), EmbDim: 16, Dim: 16, Heads: 4, Hidden: 32, Layers: 2, MaxLen: 64, Classes: 2, HEFriendly: true, QuadShift: 4}
	m, err := New(cfg, PolyActivation("k2", approx.Poly{0.54, 0.5, 0.12}), rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	m.TrainEmb = true
	if _, err := CalibrateNorm(m, train, 50); err != nil {
		t.Fatal(err)
	}
	if _, err := Train(m, train, nil, TrainOptions{Epochs: 1, Batch: 16, LR: 3e-3, Clip: 1, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	checkEncoderAgrees(t, m, dev.IDs)
	if d, err := m.EncoderError(dev); err != nil || d > 1e-9 {
		t.Errorf("EncoderError = %v, %v; want ≤ 1e-9", d, err)
	}
	m.Cfg.HEFriendly = false
	if _, err := m.EncoderError(dev); err == nil {
		t.Error("EncoderError of a model without encrypted form succeeded")
	}
}

func TestEncoderErrors(t *testing.T) {
	m, _ := New(tinyConfig(), PolyActivation("p", approx.Poly{0, 0, 1}), nil)
	if _, err := m.Encoder(); err == nil || !strings.Contains(err.Error(), "softmax") {
		t.Errorf("softmax model exported: %v", err)
	}
	m, _ = New(heTinyConfig(1), ReLU, nil)
	if _, err := m.Encoder(); err == nil || !strings.Contains(err.Error(), "ReLU") {
		t.Errorf("ReLU model exported: %v", err)
	}
	m.Act = PolyActivation("p4", approx.Poly{0, 1, 0, 0, 1})
	if _, err := m.Encoder(); err == nil || !strings.Contains(err.Error(), "degree 4") {
		t.Errorf("quartic exported: %v", err)
	}
	if _, err := m.TokenRows(nil); err == nil {
		t.Error("empty sentence accepted")
	}
	if _, err := m.TokenRows([]int{1, 99}); err == nil {
		t.Error("out-of-vocabulary id accepted")
	}
	for _, c := range []Config{
		{Vocab: 6, EmbDim: 4, Dim: 8, Heads: 2, Hidden: 8, Layers: 1, MaxLen: 6, Classes: 2, HEFriendly: true},
		{Vocab: 6, EmbDim: 4, Dim: 8, Heads: 2, Hidden: 8, Layers: 1, MaxLen: 6, Classes: 2, HEFriendly: true, QuadShift: math.Inf(1)},
		{Vocab: 6, EmbDim: 4, Dim: 8, Heads: 2, Hidden: 8, Layers: 1, MaxLen: 6, Classes: 2, HEFriendly: true, QuadShift: math.NaN()},
		{Vocab: 6, EmbDim: 4, Dim: 8, Heads: 2, Hidden: 8, Layers: 1, MaxLen: 6, Classes: 2, QuadShift: 2},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	soft, _ := New(tinyConfig(), ReLU, nil)
	if _, err := CalibrateNorm(soft, &Dataset{IDs: [][]int{{1}}, Labels: []int{0}}, 0); err == nil {
		t.Error("calibrated a LayerNorm model")
	}
}

// TestCalibrateNorm: after calibration the centred input of each
// normalisation, scaled by Gamma, has unit mean square.
func TestCalibrateNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	m, _ := New(heTinyConfig(2), PolyActivation("p", approx.Poly{0.5, 0.5, 0.1}), rng)
	ds := &Dataset{IDs: [][]int{{1, 2, 3}, {4, 5}, {0, 1, 2, 3, 4, 5}}, Labels: []int{0, 1, 0}}
	sig, err := CalibrateNorm(m, ds, 0)
	if err != nil {
		t.Fatal(err)
	}
	for l := range m.Blocks {
		var s float64
		var n int
		for _, ids := range ds.IDs {
			c, _ := m.Forward(ids)
			h := c.blocks[l].h.RawMatrix().Data // Beta is 0: h = Gamma·centred
			for _, v := range h {
				s += v * v
			}
			n += len(h)
		}
		if rms := math.Sqrt(s / float64(n)); math.Abs(rms-1) > 1e-12 || !(sig[l] > 0) {
			t.Errorf("layer %d: σ %v, normalised rms %v, want 1", l, sig[l], rms)
		}
	}
}

// TestHEFriendlySaveLoad: the HE-friendly configuration survives a file.
func TestHEFriendlySaveLoad(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	m, _ := New(heTinyConfig(2), PolyActivation("k2", approx.Poly{0.5, 0.5, 0.1}), rng)
	m.Blocks[1].LN.Gamma.W[3] = 2.5
	var b strings.Builder
	if err := (&Saved{Model: m, Vocab: NewVocab([]string{"a", "b", "c", "d", "e"})}).Save(&b); err != nil {
		t.Fatal(err)
	}
	s, err := Load(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Model.Cfg.HEFriendly || s.Model.Cfg.QuadShift != 3 || !s.Model.Blocks[1].LN.Affine || s.Model.Blocks[1].Attn.Quad != 3 {
		t.Fatalf("loaded config %+v", s.Model.Cfg)
	}
	ids := []int{1, 2, 3, 4}
	a, _ := m.Forward(ids)
	c, _ := s.Model.Forward(ids)
	for k := range a.Logits {
		if a.Logits[k] != c.Logits[k] {
			t.Errorf("logit %d: %v before, %v after the file", k, a.Logits[k], c.Logits[k])
		}
	}
}
