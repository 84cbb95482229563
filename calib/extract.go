package calib

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/krelu/krelu/llama2c"
)

// Reservoir keeps a uniform random sample of at most Cap values from a
// stream (Vitter's algorithm R), deterministic for a given seed. Cap 0
// keeps everything.
type Reservoir struct {
	Cap    int
	Seen   int     // values offered so far
	MaxAbs float64 // largest |value| offered, kept or not
	Values []float64
	rng    *rand.Rand
}

// NewReservoir returns a reservoir of capacity cap (0 = unlimited).
func NewReservoir(cap int, seed uint64) *Reservoir {
	return &Reservoir{Cap: cap, rng: rand.New(rand.NewPCG(seed, 2))}
}

// Add offers v to the sample.
func (r *Reservoir) Add(v float64) {
	r.Seen++
	r.MaxAbs = math.Max(r.MaxAbs, math.Abs(v))
	if r.Cap <= 0 || len(r.Values) < r.Cap {
		r.Values = append(r.Values, v)
		return
	}
	if j := r.rng.IntN(r.Seen); j < r.Cap {
		r.Values[j] = v
	}
}

// Tokenize encodes each unit with BOS, truncated to the model's context.
func Tokenize(m *llama2c.Model, tok *llama2c.Tokenizer, units []string) ([][]int, error) {
	if tok.VocabSize() != m.VocabSize {
		return nil, fmt.Errorf("calib: tokenizer has %d pieces, model %d", tok.VocabSize(), m.VocabSize)
	}
	seqs := make([][]int, 0, len(units))
	for i, u := range units {
		ids, err := tok.Encode(u, true, false)
		if err != nil {
			return nil, fmt.Errorf("calib: unit %d: %w", i, err)
		}
		if len(ids) > m.SeqLen {
			ids = ids[:m.SeqLen]
		}
		seqs = append(seqs, ids)
	}
	return seqs, nil
}

// EmbeddingMatrix returns every coordinate of the token embedding.
func EmbeddingMatrix(m *llama2c.Model) []float64 {
	out := make([]float64, len(m.TokenEmbedding))
	for i, v := range m.TokenEmbedding {
		out[i] = float64(v)
	}
	return out
}

// EmbeddingRows splits the embedding matrix by token id into calibration
// rows (offered to r) and held-out rows (offered to h), so that no token's
// row straddles the two parts.
func EmbeddingRows(m *llama2c.Model, frac float64, seed uint64, r, h *Reservoir) error {
	return MatrixRows(LlamaEmbeddings(m), frac, seed, r, h)
}

// EmbeddingValues offers to r every coordinate of the embedding row of every
// token of seqs (BOS excluded: it is not text), so each row is weighted by
// its token's frequency. It returns the number of tokens.
func EmbeddingValues(m *llama2c.Model, seqs [][]int, r *Reservoir) (int, error) {
	n := 0
	for _, seq := range seqs {
		for _, id := range seq {
			if id == llama2c.BOS {
				continue
			}
			row, err := m.Embedding(id)
			if err != nil {
				return n, err
			}
			for _, v := range row {
				r.Add(float64(v))
			}
			n++
		}
	}
	return n, nil
}

// FFNPreActivations runs the model over seqs (each from position 0, with
// SiLU) and offers the FFN pre-activations of layer l to res[l] (nil
// entries are skipped; len(res) must be NLayers). It returns the number of
// positions read.
func FFNPreActivations(m *llama2c.Model, seqs [][]int, res []*Reservoir) (int, error) {
	if len(res) != m.NLayers {
		return 0, fmt.Errorf("calib: %d reservoirs for %d layers", len(res), m.NLayers)
	}
	s := m.NewState()
	s.SetFFNHook(func(layer, _ int, pre []float64) {
		if r := res[layer]; r != nil {
			for _, v := range pre {
				r.Add(v)
			}
		}
	})
	n := 0
	for i, seq := range seqs {
		for pos, id := range seq {
			if _, err := s.Forward(id, pos); err != nil {
				return n, fmt.Errorf("calib: sequence %d: %w", i, err)
			}
			n++
		}
	}
	return n, nil
}
