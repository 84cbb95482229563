package henn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/krelu/krelu/he"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
)

// TestGatedFFNTokens: the encrypted gated FFN on token-packed ciphertexts
// matches the plaintext block, and bad inputs are errors.
func TestGatedFFNTokens(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const dim, hidden, tokens = 4, 6, 37
	mat := func(r, c int, s float64) [][]float64 {
		out := make([][]float64, r)
		for i := range out {
			out[i] = make([]float64, c)
			for j := range out[i] {
				out[i][j] = rng.NormFloat64() * s
			}
		}
		return out
	}
	b := &GatedFFN{W1: mat(hidden, dim, 0.5), W3: mat(hidden, dim, 0.5), W2: mat(dim, hidden, 0.5), Gate: []float64{0.03, 0.5, 0.18}}
	b.W1[2] = make([]float64, dim) // an all-zero row
	x := mat(tokens, dim, 1)
	plan, err := he.NewPlan(GatedFFNDepth, tokens, 0)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := he.NewKeyOwner(plan.Params)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := owner.EvaluationKeys()
	if err != nil {
		t.Fatal(err)
	}
	in := make([]*rlwe.Ciphertext, dim)
	for f := range dim {
		col := make([]float64, tokens)
		for tk := range tokens {
			col[tk] = x[tk][f]
		}
		if in[f], err = owner.Encrypt(col, plan.Level); err != nil {
			t.Fatal(err)
		}
	}
	out, err := b.EvalTokens(ek, in, 2)
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for f := range dim {
		got, err := owner.Decrypt(out[f])
		if err != nil {
			t.Fatal(err)
		}
		for tk := range tokens {
			var want float64
			for u := range hidden {
				var h1, h3 float64
				for j := range dim {
					h1 += b.W1[u][j] * x[tk][j]
					h3 += b.W3[u][j] * x[tk][j]
				}
				want += b.W2[f][u] * b.Gate.Eval(h1) * h3
			}
			worst = math.Max(worst, math.Abs(got[tk]-want))
		}
	}
	if worst > 1e-4 {
		t.Errorf("encrypted gated FFN differs from plaintext by %g", worst)
	}
	if _, err := b.EvalTokens(ek, in[:3], 1); err == nil {
		t.Error("a missing input ciphertext was accepted")
	}
	low, err := owner.Encrypt(make([]float64, tokens), 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.EvalTokens(ek, append(in[:3:3], low), 1); err == nil {
		t.Error("an input below the block's depth was accepted")
	}
	bad := *b
	bad.Gate = []float64{0, 1}
	if _, err := bad.EvalTokens(ek, in, 1); err == nil {
		t.Error("a degree-1 gate was accepted")
	}
}
