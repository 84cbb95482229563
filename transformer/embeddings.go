package transformer

import (
	"fmt"
	"math/rand/v2"
)

// GloVeScale is the standard deviation of the rows drawn for words without
// a pre-trained vector: about the per-coordinate scale of the GloVe 100d
// vectors, so that learned rows start on the same footing.
const GloVeScale = 0.4

// VocabPlan is the vocabulary policy for a model on pre-trained vectors:
// words with a vector keep it (frozen unless Model.TrainEmb); words
// without one get their own learned row when they occur at least MinCount
// times in the training sentences (the wink GloVe package drops "a",
// "'s", "n't", numbers, ...); rarer words are UNK.
type VocabPlan struct {
	Vocab *Vocab
	// WithVector is how many words (after UNK) have a pre-trained vector;
	// they come first. Learned is how many follow them without one.
	WithVector, Learned int
	// Candidates is how many distinct words the plan chose from.
	Candidates int
}

// PlanVocab applies the policy of VocabPlan to words (in order), counting
// occurrences in train. vecs nil means no pre-trained vectors: every word
// is kept and learned from scratch.
func PlanVocab(words []string, train []Example, vecs map[string][]float64, minCount int) (*VocabPlan, error) {
	if minCount < 1 {
		return nil, fmt.Errorf("transformer: minimum count %d, want ≥ 1", minCount)
	}
	if vecs == nil {
		return &VocabPlan{Vocab: NewVocab(words), Learned: len(words), Candidates: len(words)}, nil
	}
	counts := map[string]int{}
	for _, e := range train {
		for _, w := range Tokenize(e.Sentence) {
			counts[w]++
		}
	}
	var kept, learned []string
	for _, w := range words {
		if _, ok := vecs[w]; ok {
			kept = append(kept, w)
		} else if counts[w] >= minCount {
			learned = append(learned, w)
		}
	}
	return &VocabPlan{Vocab: NewVocab(append(kept, learned...)), WithVector: len(kept), Learned: len(learned),
		Candidates: len(words)}, nil
}

// InitEmbeddings sets m's embedding rows as p plans: the pre-trained
// vectors vecs for the first rows, and rows drawn from N(0, GloVeScale²)
// (with rng), marked learnable in m.LearnRows, for the learned words. With
// vecs nil the embeddings keep New's initialisation and are trained
// (random embeddings are useless frozen).
func InitEmbeddings(m *Model, p *VocabPlan, vecs map[string][]float64, rng *rand.Rand) error {
	if p.Vocab.Len() != m.Cfg.Vocab {
		return fmt.Errorf("transformer: vocabulary has %d words, model %d", p.Vocab.Len(), m.Cfg.Vocab)
	}
	if vecs == nil {
		m.TrainEmb = true
		return nil
	}
	if _, err := m.SetEmbeddings(p.Vocab, vecs); err != nil {
		return err
	}
	d := m.Cfg.EmbDim
	m.LearnRows = make([]bool, m.Cfg.Vocab)
	for i := m.Cfg.Vocab - p.Learned; i < m.Cfg.Vocab; i++ {
		m.LearnRows[i] = true
		for j := 0; j < d; j++ {
			m.Emb.W[i*d+j] = GloVeScale * rng.NormFloat64()
		}
	}
	return nil
}
