package henn

import (
	"errors"
	"fmt"
	"math"
)

// Encoder is an HE-friendly transformer encoder classifier in the form a
// CKKS server evaluates it from the token matrix up: every operation is a
// polynomial of the inputs, so nothing but the embedding lookup is left to
// the client.
//
// Per layer, for the n real tokens x_1..x_n of a sentence (rows of Dim
// features) and each head h (features h·Dim/Heads … (h+1)·Dim/Heads−1):
//
//	q_i, k_i, v_i = Q·x_i, K·x_i, V·x_i               (1/√(Dim/Heads) already folded into Q)
//	a_ij = (q_i^h·k_j^h + c)² / (n·c²)                 c = QuadShift
//	o_i  = concat_h Σ_j a_ij·v_j^h
//	z_i  = x_i + O·o_i
//	h_i  = Norm·z_i                                     frozen normalisation, an affine map
//	y_i  = h_i + FFNOut·Act(FFNIn·h_i)
//
// and logits = Classifier·(1/n Σ_i y_i) after the last layer.
//
// The attention weight is MPCFormer's 2Quad, (s + c)² (Li et al., "MPCFormer:
// fast, performant and private Transformer inference with MPC", ICLR 2023),
// with its data-dependent normaliser Σ_j (s_ij + c)² replaced by the value
// that sum takes when every score is 0, n·c²: a division the client can
// precompute, because only the client knows n. The normalisation is
// LayerNorm with its per-token variance frozen (THE-X, Chen et al., ACL
// Findings 2022, and FHE-BERT-tiny's "precomputed LayerNorm" do the same),
// which leaves an affine map.
type Encoder struct {
	// Dim is the width of a token row, Heads the number of attention heads
	// (Dim must be a multiple of Heads).
	Dim, Heads int
	// MaxTokens is the longest sentence the packing holds.
	MaxTokens int
	// QuadShift is c in (s + c)², > 0.
	QuadShift  float64
	Layers     []EncoderLayer
	Classifier Dense // classes × Dim
}

// EncoderLayer holds one encoder layer's weights (Dense.W is out × in).
type EncoderLayer struct {
	Q, K, V, O Dense // Dim × Dim
	Norm       Dense // Dim × Dim
	FFNIn      Dense // hidden × Dim
	Act        Poly  // degree ≤ 2
	FFNOut     Dense // Dim × hidden
}

// Validate checks shapes, finiteness and the activation degree, and
// returns the number of classes.
func (e *Encoder) Validate() (classes int, err error) {
	if e.Dim <= 0 || e.Heads <= 0 || e.Dim%e.Heads != 0 {
		return 0, fmt.Errorf("henn: encoder width %d with %d heads, want a positive multiple of the head count", e.Dim, e.Heads)
	}
	if e.MaxTokens <= 0 {
		return 0, fmt.Errorf("henn: encoder holds %d tokens, want > 0", e.MaxTokens)
	}
	if !(e.QuadShift > 0) || math.IsInf(e.QuadShift, 0) {
		return 0, fmt.Errorf("henn: attention shift c = %v, want a finite value > 0", e.QuadShift)
	}
	if len(e.Layers) == 0 {
		return 0, errors.New("henn: encoder has no layers")
	}
	square := func(name string, d Dense) error {
		out, err := d.OutDim(e.Dim)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if out != e.Dim {
			return fmt.Errorf("henn: %s maps %d features to %d, want %d", name, e.Dim, out, e.Dim)
		}
		return nil
	}
	for l, ly := range e.Layers {
		for _, m := range []struct {
			name string
			d    Dense
		}{{"Q", ly.Q}, {"K", ly.K}, {"V", ly.V}, {"O", ly.O}, {"Norm", ly.Norm}} {
			if err := square(fmt.Sprintf("layer %d %s", l, m.name), m.d); err != nil {
				return 0, err
			}
		}
		hidden, err := ly.FFNIn.OutDim(e.Dim)
		if err != nil {
			return 0, fmt.Errorf("layer %d FFN input: %w", l, err)
		}
		if _, err := ly.Act.OutDim(hidden); err != nil {
			return 0, fmt.Errorf("layer %d activation: %w", l, err)
		}
		if d := len(ly.Act.Coeffs) - 1; d > 2 {
			return 0, fmt.Errorf("henn: layer %d activation has degree %d, want ≤ 2", l, d)
		}
		out, err := ly.FFNOut.OutDim(hidden)
		if err != nil {
			return 0, fmt.Errorf("layer %d FFN output: %w", l, err)
		}
		if out != e.Dim {
			return 0, fmt.Errorf("henn: layer %d FFN output has %d features, want %d", l, out, e.Dim)
		}
	}
	return e.Classifier.OutDim(e.Dim)
}

// Forward is the plaintext reference of the encrypted evaluation: the
// logits for the token rows x (one row of Dim features per real token,
// 1 ≤ len(x) ≤ MaxTokens).
func (e *Encoder) Forward(x [][]float64) ([]float64, error) {
	if _, err := e.Validate(); err != nil {
		return nil, err
	}
	n := len(x)
	if n == 0 {
		return nil, errors.New("henn: empty sentence (no tokens)")
	}
	if n > e.MaxTokens {
		return nil, fmt.Errorf("henn: sentence has %d tokens, the encoder holds at most %d", n, e.MaxTokens)
	}
	for i, row := range x {
		if len(row) != e.Dim {
			return nil, fmt.Errorf("henn: token %d has %d features, want %d", i, len(row), e.Dim)
		}
	}
	dh := e.Dim / e.Heads
	norm := float64(n) * e.QuadShift * e.QuadShift
	cur := x
	for _, ly := range e.Layers {
		q, k, v := make([][]float64, n), make([][]float64, n), make([][]float64, n)
		for i := range n {
			q[i], k[i], v[i] = ly.Q.apply(cur[i]), ly.K.apply(cur[i]), ly.V.apply(cur[i])
		}
		next := make([][]float64, n)
		for i := range n {
			o := make([]float64, e.Dim)
			for h := range e.Heads {
				lo, hi := h*dh, (h+1)*dh
				for j := range n {
					var s float64
					for f := lo; f < hi; f++ {
						s += q[i][f] * k[j][f]
					}
					a := (s + e.QuadShift) * (s + e.QuadShift) / norm
					for f := lo; f < hi; f++ {
						o[f] += a * v[j][f]
					}
				}
			}
			z := ly.O.apply(o)
			for f := range z {
				z[f] += cur[i][f]
			}
			hn := ly.Norm.apply(z)
			u := ly.FFNIn.apply(hn)
			for j := range u {
				u[j] = ly.Act.Coeffs.Eval(u[j])
			}
			y := ly.FFNOut.apply(u)
			for f := range y {
				y[f] += hn[f]
			}
			next[i] = y
		}
		cur = next
	}
	pooled := make([]float64, e.Dim)
	for _, row := range cur {
		for f, v := range row {
			pooled[f] += v / float64(n)
		}
	}
	return e.Classifier.apply(pooled), nil
}
