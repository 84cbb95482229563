package henn

import (
	"errors"
	"fmt"
	"math"

	"github.com/krelu/krelu/approx"
)

// Layer is one step of a [Network]: a [Dense] or a [Poly].
type Layer interface {
	// OutDim returns the width of the layer's output for an input of width in,
	// or an error when the layer cannot take such an input.
	OutDim(in int) (int, error)
	apply(x []float64) []float64
}

// Dense is the affine map x ↦ W·x + B. W is out×in (row i holds the
// weights of output i); B has length out, or is nil for no bias. A
// convolution is passed as a Dense whose W is the (mostly zero) expanded
// matrix: the packed evaluator only pays for diagonals that hold a nonzero.
type Dense struct {
	W [][]float64
	B []float64
}

// OutDim implements [Layer].
func (d Dense) OutDim(in int) (int, error) {
	if len(d.W) == 0 {
		return 0, errors.New("henn: dense layer has no rows")
	}
	for i, row := range d.W {
		if len(row) != in {
			return 0, fmt.Errorf("henn: dense row %d has %d columns, input has %d features", i, len(row), in)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("henn: dense weight [%d][%d] is %v", i, j, v)
			}
		}
	}
	if d.B != nil && len(d.B) != len(d.W) {
		return 0, fmt.Errorf("henn: dense bias has %d entries, want %d (one per row)", len(d.B), len(d.W))
	}
	for i, v := range d.B {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("henn: dense bias %d is %v", i, v)
		}
	}
	return len(d.W), nil
}

func (d Dense) apply(x []float64) []float64 {
	y := make([]float64, len(d.W))
	for i, row := range d.W {
		var s float64
		for j, w := range row {
			s += w * x[j]
		}
		if d.B != nil {
			s += d.B[i]
		}
		y[i] = s
	}
	return y
}

// Poly applies the polynomial Coeffs elementwise. Under encryption a
// degree-2 polynomial costs one level: c2·(x+t)²+e with t = c1/(2c2) added
// to the previous layer's bias and c2, e folded into the next Dense, so only
// the square is computed on ciphertexts. Degree ≤ 1 is folded away (no level);
// degree > 2 is rejected by the encrypted evaluator.
type Poly struct {
	Coeffs approx.Poly
}

// OutDim implements [Layer].
func (p Poly) OutDim(in int) (int, error) {
	if len(p.Coeffs) == 0 {
		return 0, errors.New("henn: activation polynomial has no coefficients")
	}
	for i, c := range p.Coeffs {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return 0, fmt.Errorf("henn: activation coefficient %d is %v", i, c)
		}
	}
	return in, nil
}

func (p Poly) apply(x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = p.Coeffs.Eval(v)
	}
	return y
}

// Network is a feed-forward network on vectors of InputDim features.
type Network struct {
	InputDim int
	Layers   []Layer
}

// Validate checks that the layers chain and returns the output width.
func (n Network) Validate() (int, error) {
	if n.InputDim <= 0 {
		return 0, fmt.Errorf("henn: input dimension %d, want > 0", n.InputDim)
	}
	if len(n.Layers) == 0 {
		return 0, errors.New("henn: network has no layers")
	}
	d := n.InputDim
	for i, l := range n.Layers {
		if l == nil {
			return 0, fmt.Errorf("henn: layer %d is nil", i)
		}
		o, err := l.OutDim(d)
		if err != nil {
			return 0, fmt.Errorf("layer %d: %w", i, err)
		}
		d = o
	}
	return d, nil
}

// Forward is the plaintext reference: the logits of x.
func (n Network) Forward(x []float64) ([]float64, error) {
	if _, err := n.Validate(); err != nil {
		return nil, err
	}
	if len(x) != n.InputDim {
		return nil, fmt.Errorf("henn: input has %d features, network takes %d", len(x), n.InputDim)
	}
	for _, l := range n.Layers {
		x = l.apply(x)
	}
	return x, nil
}

// FFNBlock is the encrypted part of a transformer encoder layer, applied to
// the T×Dim token representations that enter the feed-forward network:
//
//	z_t    = W2·Act(W1·x_t + B1) + B2 (+ x_t when Residual)
//	logits = Classifier·(1/T Σ_t z_t) + Classifier.B
//
// W1 is hidden×Dim, W2 is Dim×hidden, Classifier is classes×Dim. A
// LayerNorm with fixed (calibrated) statistics is a per-feature affine map:
// fold a pre-FFN one into W1/B1 and a post-residual one into Classifier.
// Act must have degree 2.
type FFNBlock struct {
	Dim        int
	W1         Dense
	Act        Poly
	W2         Dense
	Residual   bool
	Classifier Dense
}

// Validate checks the shapes and returns (hidden width, classes).
func (b FFNBlock) Validate() (hidden, classes int, err error) {
	if b.Dim <= 0 {
		return 0, 0, fmt.Errorf("henn: FFN dimension %d, want > 0", b.Dim)
	}
	if hidden, err = b.W1.OutDim(b.Dim); err != nil {
		return 0, 0, fmt.Errorf("W1: %w", err)
	}
	if _, err = b.Act.OutDim(hidden); err != nil {
		return 0, 0, fmt.Errorf("activation: %w", err)
	}
	if deg := b.Act.Coeffs.Degree(); deg != 2 {
		return 0, 0, fmt.Errorf("henn: FFN activation has degree %d, the encrypted block needs degree 2 (one level)", deg)
	}
	o, err := b.W2.OutDim(hidden)
	if err != nil {
		return 0, 0, fmt.Errorf("W2: %w", err)
	}
	if o != b.Dim {
		return 0, 0, fmt.Errorf("henn: W2 outputs %d features, FFN dimension is %d", o, b.Dim)
	}
	if classes, err = b.Classifier.OutDim(b.Dim); err != nil {
		return 0, 0, fmt.Errorf("classifier: %w", err)
	}
	return hidden, classes, nil
}

// Forward is the plaintext reference: the logits of one sentence given as
// T token vectors of Dim features.
func (b FFNBlock) Forward(tokens [][]float64) ([]float64, error) {
	if _, _, err := b.Validate(); err != nil {
		return nil, err
	}
	if err := checkTokens(tokens, b.Dim, math.MaxInt); err != nil {
		return nil, err
	}
	pool := make([]float64, b.Dim)
	for _, x := range tokens {
		z := b.W2.apply(b.Act.apply(b.W1.apply(x)))
		for f := range z {
			if b.Residual {
				z[f] += x[f]
			}
			pool[f] += z[f] / float64(len(tokens))
		}
	}
	return b.Classifier.apply(pool), nil
}

func checkTokens(tokens [][]float64, dim, maxTokens int) error {
	if len(tokens) == 0 {
		return errors.New("henn: sentence has no tokens")
	}
	if len(tokens) > maxTokens {
		return fmt.Errorf("henn: sentence has %d tokens, the packing holds at most %d", len(tokens), maxTokens)
	}
	for t, x := range tokens {
		if len(x) != dim {
			return fmt.Errorf("henn: token %d has %d features, want %d", t, len(x), dim)
		}
		if err := finite(x); err != nil {
			return fmt.Errorf("henn: token %d: %w", t, err)
		}
	}
	return nil
}

func finite(x []float64) error {
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("feature %d is %v", i, v)
		}
	}
	return nil
}
