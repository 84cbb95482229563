package henn

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"

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

// Size is the memory in bytes of the encoded diagonals this server uses:
// its own copy when made by [NewEncoderServer], the shared ones when made
// by [EncoderWeights.NewServer]. The evaluation keys are
// [he.EvaluationKeys.Size].
func (s *EncoderServer) Size() int64 { return s.w.Size() }

// Size is the memory in bytes of the encoded diagonals w holds (at most
// 1 GiB; the rest are encoded at each evaluation).
func (w *EncoderWeights) Size() int64 {
	var n int64
	for _, ms := range w.maps {
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

// EncoderFingerprintFormat tags the byte stream [Encoder.Fingerprint]
// hashes, so that a change of that encoding changes every fingerprint.
const EncoderFingerprintFormat = "krelu.henn.encoder-weights/v1"

// Fingerprint is the SHA-256 of e's shape and weights: the tag
// [EncoderFingerprintFormat], then Dim, Heads, MaxTokens and the layer
// count, QuadShift, every layer's Q, K, V, O, Norm, FFNIn, activation
// coefficients and FFNOut, then the classifier. A list of numbers is its
// length followed by its values; a matrix is its row count, each row as a
// list, then its bias as a list; every integer and float64 (its IEEE-754
// bits) is 8 bytes little endian. Encoders that differ in any weight bit
// or in shape have different fingerprints (up to SHA-256 collisions). A
// model owner publishes it (package serve's model description does) so
// that a client holding only the embedding tables can check they belong
// to the served model; it reveals no weight.
func (e *Encoder) Fingerprint() [32]byte {
	h := sha256.New()
	var b [8]byte
	u := func(v uint64) {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	i := func(v int) { u(uint64(int64(v))) }
	f := func(vs ...float64) {
		i(len(vs))
		for _, v := range vs {
			u(math.Float64bits(v))
		}
	}
	dense := func(d Dense) {
		i(len(d.W))
		for _, row := range d.W {
			f(row...)
		}
		f(d.B...)
	}
	h.Write([]byte(EncoderFingerprintFormat))
	i(e.Dim)
	i(e.Heads)
	i(e.MaxTokens)
	i(len(e.Layers))
	f(e.QuadShift)
	for _, l := range e.Layers {
		for _, d := range []Dense{l.Q, l.K, l.V, l.O, l.Norm, l.FFNIn} {
			dense(d)
		}
		f(l.Act.Coeffs...)
		dense(l.FFNOut)
	}
	dense(e.Classifier)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Fingerprint is [Encoder.Fingerprint] of the encoder m was compiled
// from.
func (m *EncoderModel) Fingerprint() [32]byte { return m.fingerprint }
