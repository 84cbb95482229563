package approx

import (
	"fmt"
	"math"
)

// TradeoffPoint is one bandwidth on the bias/worst-case curve of a kernel
// fit: the RMSE and the maximum |error| against ReLU of the degree-d
// least-squares fit to ReLU * K_H. H = 0 is the direct fit to ReLU.
type TradeoffPoint struct {
	H, RMSE, MaxErr float64
}

// BandwidthTradeoff fits, for each bandwidth in hs, a degree-deg least-
// squares polynomial to the kernel-smoothed ReLU under src on [lo, hi], and
// measures it against ReLU itself with EvalMetrics (RMSE under src, maximum
// |error| on the interval). An h of 0 stands for the direct fit to ReLU.
//
// This is where the kernel's trade-off shows (arXiv 2605.23641): as h grows
// the fit leaves the least-squares optimum for ReLU, so its RMSE can only
// rise, while its error at the kink and in the tails of [lo, hi] — the
// worst case that Jackson's bound π·L·B/(2(n+1)) controls — first falls.
func BandwidthTradeoff(k Kernel, src Source, deg int, lo, hi float64, hs []float64) ([]TradeoffPoint, error) {
	if err := kernCheckKernel(k); err != nil {
		return nil, err
	}
	if src == nil {
		return nil, fmt.Errorf("approx: nil calibration source")
	}
	if len(hs) == 0 {
		return nil, kernErrNoBandwidths
	}
	pts := make([]TradeoffPoint, 0, len(hs))
	for _, h := range hs {
		target := Target(ReLU)
		if h != 0 {
			var err error
			if target, err = NewSmoothedReLU(k, h); err != nil {
				return nil, err
			}
		}
		p, err := FitLS(target, src, deg, lo, hi, 0)
		if err != nil {
			return nil, fmt.Errorf("approx: tradeoff fit at h=%g: %w", h, err)
		}
		m, err := EvalMetrics(p, ReLU, src, lo, hi)
		if err != nil {
			return nil, fmt.Errorf("approx: tradeoff metrics at h=%g: %w", h, err)
		}
		pts = append(pts, TradeoffPoint{H: h, RMSE: m.RMSE, MaxErr: m.MaxAbs})
	}
	return pts, nil
}

// BestMaxErr returns the point of pts with the smallest maximum error
// (ties broken by RMSE), and false if pts is empty.
func BestMaxErr(pts []TradeoffPoint) (TradeoffPoint, bool) {
	if len(pts) == 0 {
		return TradeoffPoint{}, false
	}
	best := pts[0]
	for _, p := range pts[1:] {
		if p.MaxErr < best.MaxErr || (p.MaxErr == best.MaxErr && p.RMSE < best.RMSE) {
			best = p
		}
	}
	if math.IsNaN(best.MaxErr) {
		return best, false
	}
	return best, true
}

// sourceScale returns a robust spread of src used to scale bandwidth
// grids: the half-width of the central 68.27% of the mass (σ for a
// normal), or the standard deviation of a sample.
func sourceScale(src Source) (float64, error) {
	switch s := src.(type) {
	case Dist:
		const p = 0.841344746068543 // Φ(1)
		v := (s.Quantile(p) - s.Quantile(1-p)) / 2
		if !(v > 0) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("approx: %s has no usable spread (%v)", s.Name(), v)
		}
		return v, nil
	case *Sample:
		v := kernSampleStd(s.X)
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, fmt.Errorf("approx: sample %q: values too large, their spread overflows float64; rescale them", s.Label)
		}
		if !(v > 0) {
			return 0, fmt.Errorf("approx: sample %q has zero spread; no bandwidth can be chosen", s.Label)
		}
		return v, nil
	}
	return 0, fmt.Errorf("approx: cannot scale a bandwidth grid for source %T", src)
}

// OptimalBandwidth returns the bandwidth whose degree-deg least-squares fit
// under src minimises crit against ReLU on [lo, hi], measured on src itself
// (in-sample: for a distribution this is exact; for calibration samples
// prefer the cross-validated SelectBandwidth). The search is the grid of
// SelectBandwidth refined by golden section; the returned point carries the
// RMSE and maximum error at the chosen h.
func OptimalBandwidth(k Kernel, src Source, deg int, lo, hi float64, crit Criterion) (TradeoffPoint, error) {
	if err := kernCheckKernel(k); err != nil {
		return TradeoffPoint{}, err
	}
	if err := crit.validate(); err != nil {
		return TradeoffPoint{}, err
	}
	if src == nil {
		return TradeoffPoint{}, fmt.Errorf("approx: nil calibration source")
	}
	sd, err := sourceScale(src)
	if err != nil {
		return TradeoffPoint{}, err
	}
	scale := sd / KernelStd(k)
	grid := LogSpace(bwGridMin*scale, bwGridMax*scale, bwGridSize)
	pts, err := BandwidthTradeoff(k, src, deg, lo, hi, grid)
	if err != nil {
		return TradeoffPoint{}, err
	}
	best := 0
	for i, p := range pts {
		if crit.Score(p.RMSE, p.MaxErr) < crit.Score(pts[best].RMSE, pts[best].MaxErr) {
			best = i
		}
	}
	bestPt := pts[best]
	score := func(lh float64) (float64, error) {
		q, err := BandwidthTradeoff(k, src, deg, lo, hi, []float64{math.Exp(lh)})
		if err != nil {
			return 0, err
		}
		s := crit.Score(q[0].RMSE, q[0].MaxErr)
		if s < crit.Score(bestPt.RMSE, bestPt.MaxErr) {
			bestPt = q[0]
		}
		return s, nil
	}
	a := math.Log(grid[max(best-1, 0)])
	b := math.Log(grid[min(best+1, len(grid)-1)])
	if _, err := goldenMin(score, a, b, 0, math.Log1p(bwGoldenTol), 200); err != nil {
		return TradeoffPoint{}, err
	}
	return bestPt, nil
}
