package henn

import (
	"errors"
	"fmt"
	"math"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/he"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// GatedFFN is the SwiGLU feed-forward block of a Llama-2 model with a
// polynomial gate (Shazeer, "GLU Variants Improve Transformer",
// arXiv:2002.05202, with SiLU replaced by a degree-2 polynomial as in
// arXiv 2605.23641): y = W2·(p(W1·x) ⊙ W3·x). Unlike FFNBlock's square
// activation, the gate product p(W1·x) ⊙ W3·x multiplies two ciphertexts.
type GatedFFN struct {
	W1, W3 [][]float64 // hidden × dim
	W2     [][]float64 // dim × hidden
	Gate   approx.Poly // degree 2
}

// GatedFFNDepth is the number of levels EvalTokens consumes: W1 and W3,
// the gate polynomial, the gate product, W2.
const GatedFFNDepth = 4

// Validate checks the shapes and the gate, returning (dim, hidden).
func (b *GatedFFN) Validate() (dim, hidden int, err error) {
	hidden = len(b.W1)
	if hidden == 0 || len(b.W3) != hidden || len(b.W2) == 0 {
		return 0, 0, fmt.Errorf("henn: gated FFN with %d W1 rows, %d W3 rows, %d W2 rows", len(b.W1), len(b.W3), len(b.W2))
	}
	dim = len(b.W2)
	for u := range hidden {
		if len(b.W1[u]) != dim || len(b.W3[u]) != dim {
			return 0, 0, fmt.Errorf("henn: gated FFN W1/W3 row %d has %d/%d columns, want %d", u, len(b.W1[u]), len(b.W3[u]), dim)
		}
	}
	for f := range dim {
		if len(b.W2[f]) != hidden {
			return 0, 0, fmt.Errorf("henn: gated FFN W2 row %d has %d columns, want %d", f, len(b.W2[f]), hidden)
		}
	}
	if b.Gate.Degree() != 2 {
		return 0, 0, fmt.Errorf("henn: gated FFN gate has degree %d, want 2 (one level)", b.Gate.Degree())
	}
	for _, c := range b.Gate {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return 0, 0, errors.New("henn: gated FFN gate has a non-finite coefficient")
		}
	}
	return dim, hidden, nil
}

// EvalTokens evaluates the block on token-packed ciphertexts: in[f] holds
// feature f of many positions, one per slot, so every weight is a scalar
// and no rotation (no Galois key) is needed — only the relinearisation
// key, for the gate's square and the gate product. in must be at least
// GatedFFNDepth levels up; the outputs (one per feature) are
// GatedFFNDepth levels lower. workers goroutines share the hidden units,
// each with its own evaluator over the server's key material ek (which
// holds no secret key).
func (b *GatedFFN) EvalTokens(ek *he.EvaluationKeys, in []*rlwe.Ciphertext, workers int) ([]*rlwe.Ciphertext, error) {
	dim, hidden, err := b.Validate()
	if err != nil {
		return nil, err
	}
	if len(in) != dim {
		return nil, fmt.Errorf("henn: gated FFN needs %d input ciphertexts, have %d", dim, len(in))
	}
	workers = max(1, workers)
	params := ek.Params
	for f, ct := range in {
		if err := he.CheckCiphertext(params, ct); err != nil {
			return nil, fmt.Errorf("input %d: %w", f, err)
		}
		if err := he.NeedLevel(ct, GatedFFNDepth); err != nil {
			return nil, fmt.Errorf("input %d: %w", f, err)
		}
		if ct.Level() != in[0].Level() || ct.Scale.Cmp(in[0].Scale) != 0 {
			return nil, fmt.Errorf("henn: gated FFN input %d has another level or scale than input 0", f)
		}
	}
	m := make([]*rlwe.Ciphertext, hidden)
	errs := make([]error, workers)
	parallel(workers, workers, func(k int) {
		ev := ek.NewEvaluator()
		for u := k; u < hidden; u += workers {
			if m[u], errs[k] = b.gate(ev, in, u); errs[k] != nil {
				errs[k] = fmt.Errorf("hidden unit %d: %w", u, errs[k])
				return
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := make([]*rlwe.Ciphertext, dim)
	parallel(workers, workers, func(k int) {
		ev := ek.NewEvaluator()
		for f := k; f < dim; f += workers {
			if out[f], errs[k] = linear(ev, m, b.W2[f]); errs[k] != nil {
				errs[k] = fmt.Errorf("W2 row %d: %w", f, errs[k])
				return
			}
		}
	})
	return out, errors.Join(errs...)
}

// gate returns p(W1_u·x) ⊙ (W3_u·x) for hidden unit u.
func (b *GatedFFN) gate(ev *ckks.Evaluator, in []*rlwe.Ciphertext, u int) (*rlwe.Ciphertext, error) {
	h1, err := linear(ev, in, b.W1[u])
	if err != nil {
		return nil, fmt.Errorf("W1: %w", err)
	}
	h3, err := linear(ev, in, b.W3[u])
	if err != nil {
		return nil, fmt.Errorf("W3: %w", err)
	}
	p, _, err := he.EvalQuadratic(ev, h1, b.Gate, he.QuadOptions{})
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	ev.DropLevel(h3, h3.Level()-p.Level())
	g, err := ev.MulRelinNew(p, h3)
	if err != nil {
		return nil, fmt.Errorf("gate product: %w", err)
	}
	if err := ev.Rescale(g, g); err != nil {
		return nil, fmt.Errorf("gate product: %w", err)
	}
	return g, nil
}

// linear returns Σ_j w_j·cts[j] in one level, at the inputs' scale: each
// scalar is encoded at the level's prime, which the rescale removes.
func linear(ev *ckks.Evaluator, cts []*rlwe.Ciphertext, w []float64) (*rlwe.Ciphertext, error) {
	var acc *rlwe.Ciphertext
	for j, ct := range cts {
		if w[j] == 0 {
			continue
		}
		if acc == nil {
			var err error
			if acc, err = ev.MulNew(ct, w[j]); err != nil {
				return nil, err
			}
			continue
		}
		if err := ev.MulThenAdd(ct, w[j], acc); err != nil {
			return nil, err
		}
	}
	if acc == nil {
		// An all-zero row: a zero at the scale a product would have
		// (multiplying by the constant 0 leaves the scale as it was).
		var err error
		if acc, err = ev.MulNew(cts[0], 0.0); err != nil {
			return nil, err
		}
		acc.Scale = cts[0].Scale.Mul(rlwe.NewScale(ev.GetParameters().Q()[cts[0].Level()]))
	}
	if err := ev.Rescale(acc, acc); err != nil {
		return nil, err
	}
	return acc, nil
}
