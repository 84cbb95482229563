package transformer

import (
	"fmt"

	"github.com/krelu/krelu/henn"
)

// The export lives here, not in henn: henn is the compiler layer and knows
// no model package (nn exports to it the same way, nn.Network.HENN), so
// the dependency runs one way, from the model to the compiler.

// FFNBlock exports the tail of m's last encoder layer — W1 → activation →
// W2 + residual → mean pooling → classifier — in henn's column-vector
// form, for encrypted evaluation (henn.RunFFN). The activation must be a
// polynomial: ReLU has no encrypted form.
func (m *Model) FFNBlock() (henn.FFNBlock, error) {
	if m.Act.IsReLU() {
		return henn.FFNBlock{}, fmt.Errorf("transformer: the model uses ReLU, which has no encrypted form; replace it by a polynomial first")
	}
	b := m.Blocks[len(m.Blocks)-1].FFN
	out := henn.FFNBlock{
		Dim:        m.Cfg.Dim,
		W1:         henn.Dense{W: transposed(b.In.W), B: append([]float64(nil), b.In.B.W...)},
		Act:        henn.Poly{Coeffs: m.Act.Poly},
		W2:         henn.Dense{W: transposed(b.Out.W), B: append([]float64(nil), b.Out.B.W...)},
		Residual:   true,
		Classifier: henn.Dense{W: transposed(m.Cls.W), B: append([]float64(nil), m.Cls.B.W...)},
	}
	if _, _, err := out.Validate(); err != nil {
		return henn.FFNBlock{}, err
	}
	return out, nil
}

// transposed returns the C×R matrix of p (stored R×C, row vectors times p).
func transposed(p *Param) [][]float64 {
	out := make([][]float64, p.C)
	for j := range out {
		out[j] = make([]float64, p.R)
		for i := range out[j] {
			out[j][i] = p.W[i*p.C+j]
		}
	}
	return out
}

// FFNInputs runs the plaintext part of m — embedding, every layer up to
// the last FFN input — over ds: the client's share of encrypted inference.
// It returns the token vectors of each sentence and m's plaintext logits.
func (m *Model) FFNInputs(ds *Dataset) (sentences [][][]float64, logits [][]float64, err error) {
	sentences = make([][][]float64, len(ds.IDs))
	logits = make([][]float64, len(ds.IDs))
	for i, ids := range ds.IDs {
		c, err := m.Forward(ids)
		if err != nil {
			return nil, nil, fmt.Errorf("sentence %d: %w", i, err)
		}
		h := c.FFNInput()
		t, _ := h.Dims()
		sentences[i] = make([][]float64, t)
		for j := range t {
			sentences[i][j] = append([]float64(nil), h.RawRowView(j)...)
		}
		logits[i] = append([]float64(nil), c.Logits...)
	}
	return sentences, logits, nil
}
