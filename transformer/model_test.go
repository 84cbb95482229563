package transformer

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/krelu/krelu/approx"
)

func tinyConfig() Config {
	return Config{Vocab: 6, EmbDim: 4, Dim: 8, Heads: 2, Hidden: 8, Layers: 1, MaxLen: 6, Classes: 2}
}

func TestConfigAndInputErrors(t *testing.T) {
	bad := []Config{
		{Vocab: 6, EmbDim: 4, Dim: 8, Heads: 3, Hidden: 8, Layers: 1, MaxLen: 6, Classes: 2},
		{Vocab: 6, EmbDim: 4, Dim: 8, Heads: 2, Hidden: 8, Layers: 0, MaxLen: 6, Classes: 2},
		{Vocab: 6, EmbDim: 4, Dim: 8, Heads: 2, Hidden: 8, Layers: 1, MaxLen: 6, Classes: 1},
		{Vocab: 0, EmbDim: 4, Dim: 8, Heads: 2, Hidden: 8, Layers: 1, MaxLen: 6, Classes: 2},
	}
	for _, c := range bad {
		if _, err := New(c, ReLU, nil); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	m, err := New(tinyConfig(), ReLU, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ids  []int
		want string
	}{
		{nil, "empty input"},
		{[]int{1, 2, 3, 4, 5, 1, 2}, "7 tokens exceed"},
		{[]int{1, 6}, "token id 6 outside"},
		{[]int{-1}, "token id -1"},
	} {
		if _, err := m.Forward(c.ids); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Forward(%v): %v, want %q", c.ids, err, c.want)
		}
	}
	if _, _, err := m.Loss([]int{1}, 2, false); err == nil {
		t.Error("label 2 accepted for 2 classes")
	}
}

// toyData labels a sentence positive when token 1 occurs before token 2
// (or 2 is absent): learning it needs word identity and order.
func toyData(rng *rand.Rand, n int) *Dataset {
	ds := &Dataset{}
	for i := 0; i < n; i++ {
		t := 2 + rng.IntN(4)
		ids := make([]int, t)
		for j := range ids {
			ids[j] = 3 + rng.IntN(3)
		}
		label := rng.IntN(2)
		if label == 1 {
			ids[rng.IntN(t)] = 1
		} else {
			ids[rng.IntN(t)] = 2
		}
		ds.IDs = append(ds.IDs, ids)
		ds.Labels = append(ds.Labels, label)
	}
	return ds
}

func TestTrainToyTask(t *testing.T) {
	for _, act := range []Activation{ReLU, PolyActivation("ls", approx.Poly{0.15, 0.5, 0.25})} {
		rng := rand.New(rand.NewPCG(1, 2))
		m, err := New(tinyConfig(), act, rng)
		if err != nil {
			t.Fatal(err)
		}
		m.TrainEmb = true
		train, dev := toyData(rng, 400), toyData(rng, 200)
		hist, err := Train(m, train, dev, TrainOptions{Epochs: 6, Batch: 16, LR: 0.01, Clip: 5, Seed: 3, Decay: act.IsReLU()})
		if err != nil {
			t.Fatal(err)
		}
		if acc := hist[len(hist)-1].DevAcc; acc < 0.95 {
			t.Errorf("%v: toy dev accuracy %.3f after %d epochs", act, acc, len(hist))
		}
		if hist[len(hist)-1].Loss >= hist[0].Loss {
			t.Errorf("%v: loss did not fall: %v", act, hist)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	m, _ := New(tinyConfig(), PolyActivation("kernel2", approx.Poly{0.2, 0.5, 0.3}), rng)
	m.LearnRows = []bool{false, true, false, false, false, false}
	v := NewVocab([]string{"a", "b", "c", "d", "e"})
	var buf bytes.Buffer
	if err := (&Saved{Model: m, Vocab: v, Info: map[string]string{"seed": "4"}}).Save(&buf); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	s, err := Load(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	ids := []int{1, 5, 3}
	c1, _ := m.Forward(ids)
	c2, err := s.Model.Forward(ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range c1.Logits {
		if math.Abs(c1.Logits[i]-c2.Logits[i]) > 1e-12 {
			t.Errorf("logit %d: %v after reload, want %v", i, c2.Logits[i], c1.Logits[i])
		}
	}
	if s.Model.Act.Name != "kernel2" || s.Info["seed"] != "4" || s.Vocab.Len() != 6 || !s.Model.LearnRows[1] {
		t.Errorf("reloaded %v %v %v", s.Model.Act, s.Info, s.Vocab.Words)
	}
	if _, err := Load(bytes.NewReader(raw[:len(raw)/2])); err == nil {
		t.Error("truncated model file accepted")
	}
	if err := (&Saved{Model: m, Vocab: NewVocab(nil)}).Save(&buf); err == nil {
		t.Error("vocabulary of the wrong size saved")
	}
}

func TestPreActivationsHook(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 7))
	cfg := tinyConfig()
	cfg.Layers = 2
	m, _ := New(cfg, ReLU, rng)
	ds := toyData(rng, 10)
	u, err := PreActivations(m, ds, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, ids := range ds.IDs {
		want += len(ids)
	}
	if len(u) != want*cfg.Hidden {
		t.Errorf("%d pre-activations, want %d tokens × %d", len(u), want, cfg.Hidden)
	}
	if m.Hook != nil {
		t.Error("PreActivations left its hook installed")
	}
	if _, err := PreActivations(m, ds, 2, 0); err == nil {
		t.Error("layer 2 of 2 accepted")
	}
}

func TestLearnRowsOnlyUpdateMarkedRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	m, _ := New(tinyConfig(), ReLU, rng)
	m.LearnRows = []bool{false, true, false, false, false, false}
	before := append([]float64(nil), m.Emb.W...)
	if _, err := Train(m, toyData(rng, 40), nil, TrainOptions{Epochs: 1, Batch: 8, LR: 0.01, Clip: 1}); err != nil {
		t.Fatal(err)
	}
	d := m.Cfg.EmbDim
	for r := 0; r < m.Cfg.Vocab; r++ {
		changed := false
		for j := r * d; j < (r+1)*d; j++ {
			changed = changed || m.Emb.W[j] != before[j]
		}
		if changed != m.LearnRows[r] {
			t.Errorf("row %d: changed %v, learnable %v", r, changed, m.LearnRows[r])
		}
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	for _, c := range []struct{ q, want float64 }{{0, 1}, {0.5, 3}, {1, 5}, {0.25, 2}} {
		if got := Quantile(xs, c.q); got != c.want {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if !math.IsNaN(Quantile(nil, 0.5)) {
		t.Error("quantile of nothing is not NaN")
	}
	if xs[0] != 5 {
		t.Error("Quantile sorted its input")
	}
}
