package approx

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// EvalMetrics measures p against the reference activation ref (normally
// ReLU itself, also for kernel fits: the smoothed target is a means, ReLU
// the goal) on held-out data src restricted to [lo,hi].
//
// Values outside [lo,hi] are excluded from the error statistics and
// counted in OutsideFrac: a polynomial's error grows without bound there,
// and for heavy tails (Student t with ν ≤ 4) the mean square over the
// whole line is infinite, so whole-line numbers would say nothing about
// the interval the fit was made for. N is the total number of held-out
// values (0 for a distribution). For a Dist the moments are integrated
// by adaptive quadrature to relative accuracy 1e-10, MaxAbs is a
// grid-plus-golden-section supremum over the support within [lo,hi], and
// P99Abs is read from 2^15 equal-probability cells.
func EvalMetrics(p Poly, ref Target, src Source, lo, hi float64) (Metrics, error) {
	if len(p) == 0 {
		return Metrics{}, errors.New("approx: empty polynomial")
	}
	m, err := EvalMetricsFunc(p.Eval, ref, src, lo, hi)
	m.Depth = Depth(p.Degree())
	return m, err
}

// EvalMetricsFunc is EvalMetrics for any approximation g (for instance
// a composite polynomial); Depth is left 0 for the caller to fill.
func EvalMetricsFunc(g, ref Target, src Source, lo, hi float64) (Metrics, error) {
	if g == nil || ref == nil {
		return Metrics{}, errors.New("approx: nil function")
	}
	if err := checkInterval(lo, hi); err != nil {
		return Metrics{}, err
	}
	switch s := src.(type) {
	case *Sample:
		return sampleMetrics(g, ref, s, lo, hi)
	case Dist:
		return distMetrics(g, ref, s, lo, hi)
	case nil:
		return Metrics{}, errors.New("approx: nil held-out source")
	}
	return Metrics{}, fmt.Errorf("approx: unsupported source type %T", src)
}

func finish(m *Metrics, se, ae, ff, seNeg, nNeg, sePos, nPos, n float64) {
	m.RMSE = math.Sqrt(se / n)
	m.MAE = ae / n
	if ff > 0 {
		m.RelL2 = math.Sqrt(se / ff)
	}
	if nNeg > 0 {
		m.RMSENeg = math.Sqrt(seNeg / nNeg)
	}
	if nPos > 0 {
		m.RMSEPos = math.Sqrt(sePos / nPos)
	}
}

func sampleMetrics(g, ref Target, s *Sample, lo, hi float64) (Metrics, error) {
	if err := s.Validate(); err != nil {
		return Metrics{}, err
	}
	m := Metrics{N: len(s.X)}
	var se, ae, ff, seNeg, nNeg, sePos, nPos float64
	abs := make([]float64, 0, len(s.X))
	for _, x := range s.X {
		if x < lo || x > hi {
			continue
		}
		f := ref(x)
		e := g(x) - f
		if math.IsNaN(e) || math.IsInf(e, 0) {
			return Metrics{}, fmt.Errorf("approx: approximation error is %v at x=%v", e, x)
		}
		se += e * e
		ae += math.Abs(e)
		ff += f * f
		if x < 0 {
			seNeg += e * e
			nNeg++
		} else {
			sePos += e * e
			nPos++
		}
		abs = append(abs, math.Abs(e))
	}
	if len(abs) == 0 {
		return Metrics{}, fmt.Errorf("approx: no held-out values of %s in [%v, %v]", s.Name(), lo, hi)
	}
	finish(&m, se, ae, ff, seNeg, nNeg, sePos, nPos, float64(len(abs)))
	m.MaxAbs = slices.Max(abs)
	m.P99Abs = kthSmallest(abs, int(math.Ceil(0.99*float64(len(abs))))-1)
	m.OutsideFrac = float64(len(s.X)-len(abs)) / float64(len(s.X))
	return m, nil
}

func distMetrics(g, ref Target, d Dist, lo, hi float64) (Metrics, error) {
	// Restrict to the support so that sup-norms ignore where the density
	// vanishes (uniform sources).
	slo, shi := math.Max(lo, d.Quantile(0)), math.Min(hi, d.Quantile(1))
	if !(slo < shi) {
		return Metrics{}, fmt.Errorf("approx: %s has no mass in [%v, %v]", d.Name(), lo, hi)
	}
	mass := d.CDF(shi) - d.CDF(slo)
	if !(mass > 1e-300) {
		return Metrics{}, fmt.Errorf("approx: %s has no mass in [%v, %v]", d.Name(), lo, hi)
	}
	integrand := func(x float64, out []float64) {
		p := d.PDF(x)
		f := ref(x)
		e := g(x) - f
		out[0] = p * e * e
		out[1] = p * math.Abs(e)
		out[2] = p * f * f
		if x < 0 {
			out[3], out[4], out[5], out[6] = p*e*e, p, 0, 0
		} else {
			out[3], out[4], out[5], out[6] = 0, 0, p*e*e, p
		}
	}
	v, _, err := adaptiveGK(integrand, 7, distBreaks(d, slo, shi, nil), 1e-10, 1e-300, 20000)
	if err != nil {
		// Rounding noise in evaluating a high-degree polynomial can keep
		// the estimate above 1e-10; metrics printed to four digits only
		// need it below 1e-6 relative.
		var qe *quadError
		if !errors.As(err, &qe) || v == nil || qe.est > 1e-6*math.Max(1, math.Abs(v[2])) {
			return Metrics{}, err
		}
	}
	m := Metrics{OutsideFrac: math.Max(0, 1-mass)}
	// Normalise by the mass inside, so the numbers are conditional on the
	// interval like the sample version.
	finish(&m, v[0], v[1], v[2], v[3], v[4], v[5], v[6], mass)
	if v[4] > 0 {
		m.RMSENeg = math.Sqrt(v[3] / v[4])
	}
	if v[6] > 0 {
		m.RMSEPos = math.Sqrt(v[5] / v[6])
	}
	absErr := func(x float64) float64 { return math.Abs(g(x) - ref(x)) }
	m.MaxAbs = supNorm(absErr, slo, shi)
	// p99 on equal-probability cells.
	xs := probGrid(d, slo, shi, mass)
	abs := make([]float64, len(xs))
	for j, x := range xs {
		abs[j] = absErr(x)
	}
	slices.Sort(abs)
	m.P99Abs = abs[int(math.Ceil(0.99*float64(len(abs))))-1]
	for _, x := range []float64{m.RMSE, m.MAE, m.MaxAbs, m.P99Abs, m.RelL2} {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Metrics{}, fmt.Errorf("approx: metrics are not finite on [%v, %v]", lo, hi)
		}
	}
	return m, nil
}

// kthSmallest returns the k-th smallest (0-based) value of a, reordering
// a: Hoare's quickselect with median-of-three pivots, O(len(a)) expected,
// so p99 of 10⁷ held-out errors does not cost a sort.
func kthSmallest(a []float64, k int) float64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// median of three to a[mid]
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		p := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

// probGridCells is the resolution of the p99 estimate for distributions.
const probGridCells = 1 << 15

var probGridCache struct {
	sync.Mutex
	key string
	xs  []float64
}

// probGrid returns the midpoints in probability of probGridCells
// equal-mass cells of d on [lo,hi]. Quantiles can be slow (Student t
// inverts the incomplete beta), and Compare measures a dozen rows on the
// same grid, so the last grid is cached.
func probGrid(d Dist, lo, hi, mass float64) []float64 {
	key := fmt.Sprintf("%s|%v|%v", d.Name(), lo, hi)
	probGridCache.Lock()
	defer probGridCache.Unlock()
	if probGridCache.key == key {
		return probGridCache.xs
	}
	c0 := d.CDF(lo)
	xs := make([]float64, probGridCells)
	for j := range xs {
		x := d.Quantile(c0 + (float64(j)+0.5)/probGridCells*mass)
		xs[j] = math.Max(lo, math.Min(hi, x))
	}
	probGridCache.key, probGridCache.xs = key, xs
	return xs
}

// supNorm returns max h over [a,b] for a continuous, piecewise smooth h:
// a fine scan (including 0, the usual kink) refined by golden section
// around the best few grid points.
func supNorm(h func(float64) float64, a, b float64) float64 {
	grid := remezGrid(a, b, 10, []float64{0})
	vals := make([]float64, len(grid))
	for i, x := range grid {
		vals[i] = h(x)
	}
	best := 0.0
	for i, v := range vals {
		best = math.Max(best, v)
		if i == 0 || i == len(vals)-1 || v < vals[i-1] || v < vals[i+1] {
			continue
		}
		x := goldenMax(h, grid[i-1], grid[i+1])
		best = math.Max(best, h(x))
	}
	return best
}

// JacksonBound returns Jackson's bound π·L·B/(2(n+1)) on the best
// degree-n uniform error of a Lipschitz-L function on [lo,hi], with B the
// half-width (hi−lo)/2 (Jackson 1911; the constant π/2 is from Cheney,
// Introduction to Approximation Theory, ch. 4).
func JacksonBound(lipschitz float64, deg int, lo, hi float64) float64 {
	return math.Pi * lipschitz * (hi - lo) / 2 / (2 * float64(deg+1))
}
