package henn

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// NewEncoderLayout rebuilds, from public numbers only, the [EncoderLayout]
// that [CompileEncoder] makes for an encoder of that shape: what a remote
// client needs to encrypt sentences and read logits without the model's
// weights (package serve sends these numbers, never the weights).
func NewEncoderLayout(params ckks.Parameters, dim, heads, maxTokens, classes, layers int) (EncoderLayout, error) {
	if dim <= 0 || heads <= 0 || dim%heads != 0 {
		return EncoderLayout{}, fmt.Errorf("henn: encoder width %d with %d heads, want a positive multiple of the head count", dim, heads)
	}
	if dh := dim / heads; dh&(dh-1) != 0 {
		return EncoderLayout{}, fmt.Errorf("henn: encrypted attention needs a power-of-two head width, have %d features per head", dh)
	}
	if maxTokens <= 0 || layers <= 0 || classes <= 0 {
		return EncoderLayout{}, fmt.Errorf("henn: encoder of %d tokens, %d layers and %d classes, want all > 0", maxTokens, layers, classes)
	}
	B := pow2(2 * dim)
	T := max(2, pow2(maxTokens))
	if classes > B {
		return EncoderLayout{}, fmt.Errorf("henn: %d classes exceed the token block of %d slots", classes, B)
	}
	if B*T > params.MaxSlots() {
		return EncoderLayout{}, fmt.Errorf("henn: a sentence takes %d slots, the parameters have %d", B*T, params.MaxSlots())
	}
	depth := encoderDepth(layers)
	if depth > params.MaxLevel() {
		return EncoderLayout{}, fmt.Errorf("henn: %d encoder layers consume %d levels, the parameters have %d", layers, depth, params.MaxLevel())
	}
	dh := dim / heads
	perm := make([]int, dim)
	for f := range dim {
		perm[f] = (f%dh)*heads + f/dh
	}
	return EncoderLayout{Params: params, Dim: dim, Heads: heads, MaxTokens: maxTokens, Classes: classes,
		Block: B, Tokens: T, Level: depth, ClassStride: B / pow2(classes), permutation: perm, encoderLayerCount: layers}, nil
}

// Size is the memory in bytes of the encoded diagonals this server holds
// (its own copy, see [NewEncoderServer]); the evaluation keys are
// [he.EvaluationKeys.Size].
func (s *EncoderServer) Size() int64 {
	var n int64
	for _, ms := range s.maps {
		for _, g := range ms.giants {
			for _, bt := range g.terms {
				if bt.pt != nil {
					n += int64(bt.pt.BinarySize())
				}
			}
		}
	}
	return n
}
