package transformer

import (
	"fmt"
	"math"

	"github.com/krelu/krelu/approx"
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

// Encoder exports the whole encoder of an HE-friendly model (Config.HEFriendly)
// as a henn.Encoder, in henn's column-vector form, for evaluation under
// CKKS from the token rows up. The scales are folded in: 1/√(Dim/Heads)
// into Q (weights and bias), the normalisation's centring and per-feature
// scale into Norm (Dim×Dim, bias Beta), so that
// Encoder().Forward(TokenRows(ids)) equals m's logits. A softmax model, or
// one whose FFN activation is ReLU or of degree > 2, has no such form and
// is an error.
func (m *Model) Encoder() (*henn.Encoder, error) {
	if !m.Cfg.HEFriendly {
		return nil, fmt.Errorf("transformer: the model uses softmax attention and LayerNorm, which have no encrypted form; train one with --he-friendly")
	}
	if m.Act.IsReLU() {
		return nil, fmt.Errorf("transformer: the model's FFN uses ReLU, which has no encrypted form; train it with a polynomial activation (--activation FILE.json)")
	}
	if d := len(m.Act.Poly) - 1; d > 2 {
		return nil, fmt.Errorf("transformer: the model's FFN activation has degree %d, the encrypted encoder takes degree ≤ 2", d)
	}
	d := m.Cfg.Dim
	scale := 1 / math.Sqrt(float64(d/m.Cfg.Heads))
	e := &henn.Encoder{Dim: d, Heads: m.Cfg.Heads, MaxTokens: m.Cfg.MaxLen, QuadShift: m.Cfg.QuadShift,
		Classifier: dense(m.Cls, 1)}
	for _, b := range m.Blocks {
		norm := henn.Dense{W: make([][]float64, d), B: append([]float64(nil), b.LN.Beta.W...)}
		for j := range norm.W {
			g := b.LN.Gamma.W[j]
			norm.W[j] = make([]float64, d)
			for k := range norm.W[j] {
				norm.W[j][k] = -g / float64(d)
			}
			norm.W[j][j] += g
		}
		e.Layers = append(e.Layers, henn.EncoderLayer{
			Q: dense(b.Attn.Q, scale), K: dense(b.Attn.K, 1), V: dense(b.Attn.V, 1), O: dense(b.Attn.O, 1),
			Norm:   norm,
			FFNIn:  dense(b.FFN.In, 1),
			Act:    henn.Poly{Coeffs: append(approx.Poly(nil), m.Act.Poly...)},
			FFNOut: dense(b.FFN.Out, 1),
		})
	}
	if _, err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// dense returns s·l in henn's out×in form.
func dense(l Linear, s float64) henn.Dense {
	w := transposed(l.W)
	for _, row := range w {
		for k := range row {
			row[k] *= s
		}
	}
	b := make([]float64, len(l.B.W))
	for j, v := range l.B.W {
		b[j] = s * v
	}
	return henn.Dense{W: w, B: b}
}

// TokenRows is the client's share of encrypted inference with Encoder: the
// embedding lookup, E[ids]·P + b + pos, one row of Dim features per token.
func (m *Model) TokenRows(ids []int) ([][]float64, error) {
	if err := m.checkIDs(ids); err != nil {
		return nil, err
	}
	_, x := m.embed(ids)
	rows := make([][]float64, len(ids))
	for i := range rows {
		rows[i] = append([]float64(nil), x.RawRowView(i)...)
	}
	return rows, nil
}

// EncoderError exports m with Encoder and returns the largest absolute
// difference between its logits on TokenRows and m's own logits over the
// sentences of ds: the check that the encrypted evaluator is handed the
// model that was trained.
func (m *Model) EncoderError(ds *Dataset) (float64, error) {
	e, err := m.Encoder()
	if err != nil {
		return 0, err
	}
	var worst float64
	for i, ids := range ds.IDs {
		rows, err := m.TokenRows(ids)
		if err != nil {
			return 0, fmt.Errorf("sentence %d: %w", i, err)
		}
		got, err := e.Forward(rows)
		if err != nil {
			return 0, fmt.Errorf("sentence %d: %w", i, err)
		}
		_, want, err := m.Predict(ids)
		if err != nil {
			return 0, fmt.Errorf("sentence %d: %w", i, err)
		}
		for k := range want {
			d := math.Abs(got[k] - want[k])
			if math.IsNaN(d) {
				return 0, fmt.Errorf("transformer: sentence %d: exported encoder logit %d is %v, model %v", i, k, got[k], want[k])
			}
			worst = math.Max(worst, d)
		}
	}
	return worst, nil
}
