package llama2c

import (
	"errors"
	"fmt"
	"math"
)

// Fidelity compares a model whose FFN activation was replaced with the
// original (SiLU) model on the same token sequences. Every position except
// the last of each sequence predicts the next token of that sequence.
type Fidelity struct {
	Sequences int `json:"sequences"`
	Positions int `json:"positions"` // predictions scored
	// Perplexity is exp(mean −log p(next token)) under the replaced model;
	// RefPerplexity the same under the original.
	Perplexity    float64 `json:"perplexity"`
	RefPerplexity float64 `json:"ref_perplexity"`
	// Top1Agreement is the fraction of positions where both models' most
	// likely next token coincide.
	Top1Agreement float64 `json:"top1_agreement"`
	// KL is the mean KL(p_original ‖ p_replaced) of the next-token
	// distributions, in nats; KLMax its largest value at one position.
	KL    float64 `json:"kl"`
	KLMax float64 `json:"kl_max"`
	// Diverged counts positions where the replaced model's logits were not
	// finite (the polynomial blew up); they score as infinite loss and KL.
	Diverged int `json:"diverged"`
}

// Compare runs the original model and the model with act in place of SiLU
// (per layer when len(acts) == NLayers, else one function for all layers)
// over seqs, each a token sequence starting at position 0.
func Compare(m *Model, seqs [][]int, acts ...func(float64) float64) (Fidelity, error) {
	if len(acts) != 1 && len(acts) != m.NLayers {
		return Fidelity{}, fmt.Errorf("llama2c: %d activations for %d layers (want 1 or %d)", len(acts), m.NLayers, m.NLayers)
	}
	ref, sub := m.NewState(), m.NewState()
	for l := range m.NLayers {
		sub.SetLayerActivation(l, acts[min(l, len(acts)-1)])
	}
	var acc fidelityAcc
	pRef := make([]float64, m.VocabSize)
	pSub := make([]float64, m.VocabSize)
	for si, seq := range seqs {
		if len(seq) > m.SeqLen {
			return Fidelity{}, fmt.Errorf("llama2c: sequence %d has %d tokens, more than seq_len %d", si, len(seq), m.SeqLen)
		}
		if len(seq) < 2 {
			continue
		}
		acc.f.Sequences++
		for pos := 0; pos+1 < len(seq); pos++ {
			lr, err := ref.Forward(seq[pos], pos)
			if err != nil {
				return Fidelity{}, fmt.Errorf("sequence %d: %w", si, err)
			}
			logSoftmax(pRef, lr)
			ls, err := sub.Forward(seq[pos], pos)
			if err != nil && !errors.Is(err, ErrDiverged) {
				return Fidelity{}, fmt.Errorf("sequence %d: %w", si, err)
			}
			// A diverged position has NaN logits: counted by add.
			acc.add(pRef, pSub, logSoftmax(pSub, ls), seq[pos+1])
		}
	}
	return acc.result()
}

// logSoftmax sets out = log softmax(logits) and reports whether every
// logit was finite.
func logSoftmax(out, logits []float64) bool {
	max := math.Inf(-1)
	for _, v := range logits {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
		max = math.Max(max, v)
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(v - max)
	}
	lse := max + math.Log(sum)
	for i, v := range logits {
		out[i] = v - lse
	}
	return true
}
