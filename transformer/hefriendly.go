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
