package transformer

import (
	"bytes"
	"encoding/gob"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/krelu/krelu/approx"
)

// TestFFNBlockMatchesModel: the exported block reproduces the model's
// logits from the last FFN input, in plaintext.
func TestFFNBlockMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m, _ := New(tinyConfig(), PolyActivation("p", approx.Poly{0.1, 0.5, 0.2}), rng)
	ds := &Dataset{IDs: [][]int{{1, 2, 3}, {4, 5}}, Labels: []int{0, 1}}
	b, err := m.FFNBlock()
	if err != nil {
		t.Fatal(err)
	}
	sentences, logits, err := m.FFNInputs(ds)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range sentences {
		got, err := b.Forward(s)
		if err != nil {
			t.Fatal(err)
		}
		for k := range got {
			if d := math.Abs(got[k] - logits[i][k]); d > 1e-10 {
				t.Errorf("sentence %d logit %d: block %v, model %v", i, k, got[k], logits[i][k])
			}
		}
	}
	m.Act = ReLU
	if _, err := m.FFNBlock(); err == nil || !strings.Contains(err.Error(), "ReLU") {
		t.Errorf("ReLU model exported: %v", err)
	}
}

func TestPlanVocab(t *testing.T) {
	train := []Example{{Sentence: "a good film", Label: 1}, {Sentence: "a bad film", Label: 0}, {Sentence: "a film", Label: 1}}
	words := Words(train)
	vecs := map[string][]float64{"good": {1}, "bad": {2}}
	p, err := PlanVocab(words, train, vecs, 2)
	if err != nil {
		t.Fatal(err)
	}
	// good, bad have vectors; a and film occur 3 times (learned).
	if p.WithVector != 2 || p.Learned != 2 || p.Vocab.Len() != 5 {
		t.Fatalf("plan %+v, vocabulary %v", p, p.Vocab.Words)
	}
	if _, ok := p.Vocab.ID("good"); !ok {
		t.Error("good missing")
	}
	if id, _ := p.Vocab.ID("film"); id < 3 {
		t.Errorf("learned word film has id %d, want after the words with vectors", id)
	}
	if p, _ := PlanVocab(words, train, vecs, 4); p.Learned != 0 {
		t.Errorf("min count 4 learned %d words", p.Learned)
	}
	if _, err := PlanVocab(words, train, vecs, 0); err == nil {
		t.Error("min count 0 accepted")
	}
	cfg := tinyConfig()
	cfg.Vocab, cfg.EmbDim = 5, 1
	m, _ := New(cfg, ReLU, nil)
	if err := InitEmbeddings(m, p, vecs, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
	if !m.LearnRows[4] || m.LearnRows[1] || m.Emb.W[1] != 1 {
		t.Errorf("learn rows %v, embeddings %v", m.LearnRows, m.Emb.W)
	}
}

// TestLoadErrors: a file that is not a model is named as such, without
// the gob decoder's vocabulary; an old file without a task is SST-2.
func TestLoadErrors(t *testing.T) {
	for _, in := range []string{"KRELUNN\x00garbage", "", "\x05\xff\x81\x03\x01"} {
		_, err := Load(strings.NewReader(in))
		if !errors.Is(err, ErrNotModel) || strings.Contains(err.Error(), "gob") {
			t.Errorf("Load(%q) = %v, want ErrNotModel without gob", in, err)
		}
	}
	m, _ := New(tinyConfig(), ReLU, nil)
	v := NewVocab([]string{"a", "b", "c", "d", "e"})
	var buf bytes.Buffer
	if err := (&Saved{Model: m, Vocab: v}).Save(&buf); err != nil {
		t.Fatal(err)
	}
	s, err := Load(&buf)
	if err != nil || s.Task != TaskSST2 || s.CheckTask(TaskSST2) != nil || s.CheckTask("mnist") == nil {
		t.Fatalf("task %q, err %v", s.Task, err)
	}
	// A file written before tasks were recorded.
	old := modelFile{Format: ModelFormat, Cfg: m.Cfg, Vocab: v.Words, Params: map[string][]float64{}}
	for _, p := range m.Params() {
		old.Params[p.Name] = p.W
	}
	buf.Reset()
	if err := gob.NewEncoder(&buf).Encode(&old); err != nil {
		t.Fatal(err)
	}
	if s, err := Load(&buf); err != nil || s.Task != TaskSST2 {
		t.Errorf("old file: task %q, err %v", s.Task, err)
	}
}
