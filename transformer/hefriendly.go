package transformer

import (
	"errors"
	"fmt"
	"math"
)

// CalibrateNorm sets the scale of every affine normalisation of an
// HE-friendly model from data, layer by layer: Gamma = 1/σ (all features
// alike), σ² the mean square of the centred normalisation inputs over the
// tokens of the first sentences of ds (at most max sentences, 0: all).
// This is what LayerNorm would divide by on average, so the calibrated
// model starts out at LayerNorm's scale; training then learns Gamma per
// feature. It returns σ of each layer.
func CalibrateNorm(m *Model, ds *Dataset, max int) ([]float64, error) {
	if !m.Cfg.HEFriendly {
		return nil, errors.New("transformer: only the HE-friendly model has an affine normalisation to calibrate")
	}
	if ds == nil || len(ds.IDs) == 0 {
		return nil, errors.New("transformer: empty calibration set")
	}
	n := len(ds.IDs)
	if max > 0 && max < n {
		n = max
	}
	sigmas := make([]float64, len(m.Blocks))
	// Layer l's inputs depend on the scales of the layers before it, so
	// the layers are calibrated in order, each on a fresh forward pass.
	for l, b := range m.Blocks {
		var sum float64
		var count int
		for i := range n {
			c, err := m.Forward(ds.IDs[i])
			if err != nil {
				return nil, fmt.Errorf("calibration sentence %d: %w", i, err)
			}
			// In the affine normalisation xhat is the centred input.
			for _, v := range c.blocks[l].ln.xhat.RawMatrix().Data {
				sum += v * v
			}
			count += len(c.blocks[l].ln.xhat.RawMatrix().Data)
		}
		sigma := math.Sqrt(sum / float64(count))
		if !(sigma > 0) || math.IsInf(sigma, 0) {
			return nil, fmt.Errorf("transformer: layer %d normalisation input has spread %v, cannot calibrate", l, sigma)
		}
		sigmas[l] = sigma
		for j := range b.LN.Gamma.W {
			b.LN.Gamma.W[j] = 1 / sigma
		}
	}
	return sigmas, nil
}

// Ranges are the largest magnitudes the HE-friendly model's
// intermediate values reach on a data set, per layer: what the CKKS
// scales and the polynomial inputs of an encrypted evaluation must hold.
type Ranges struct {
	Input  float64   // token rows (TokenRows)
	Score  []float64 // q·k/√dh + c, before squaring
	Weight []float64 // attention weights a_ij
	Norm   []float64 // normalisation outputs h
	PreAct []float64 // FFN pre-activations
	Output []float64 // layer outputs y
	Logit  float64
}

// ValueRanges runs m over ds and returns the largest magnitudes of its
// intermediate values (HE-friendly models only).
func ValueRanges(m *Model, ds *Dataset) (*Ranges, error) {
	if !m.Cfg.HEFriendly {
		return nil, errors.New("transformer: value ranges are for the HE-friendly model")
	}
	L := len(m.Blocks)
	r := &Ranges{Score: make([]float64, L), Weight: make([]float64, L), Norm: make([]float64, L),
		PreAct: make([]float64, L), Output: make([]float64, L)}
	maxAbs := func(cur float64, xs []float64, shift float64) float64 {
		for _, v := range xs {
			cur = math.Max(cur, math.Abs(v+shift))
		}
		return cur
	}
	for i, ids := range ds.IDs {
		c, err := m.Forward(ids)
		if err != nil {
			return nil, fmt.Errorf("sentence %d: %w", i, err)
		}
		_, x := m.embed(ids)
		r.Input = maxAbs(r.Input, x.RawMatrix().Data, 0)
		for l, bc := range c.blocks {
			for h := range bc.attn.s {
				r.Score[l] = maxAbs(r.Score[l], bc.attn.s[h].RawMatrix().Data, m.Cfg.QuadShift)
				r.Weight[l] = maxAbs(r.Weight[l], bc.attn.a[h].RawMatrix().Data, 0)
			}
			r.Norm[l] = maxAbs(r.Norm[l], bc.h.RawMatrix().Data, 0)
			r.PreAct[l] = maxAbs(r.PreAct[l], bc.ffn.u.RawMatrix().Data, 0)
			var out []float64
			if l+1 < L {
				out = c.blocks[l+1].attn.x.RawMatrix().Data
			} else {
				out = c.last.RawMatrix().Data
			}
			r.Output[l] = maxAbs(r.Output[l], out, 0)
		}
		r.Logit = maxAbs(r.Logit, c.Logits, 0)
	}
	return r, nil
}
