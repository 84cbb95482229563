package approx

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Criterion scores a fit by its error against ReLU on held-out data:
// Score = W·RMSE + (1−W)·MaxErr. W = 1 is pure RMSE, W = 0 pure worst case.
type Criterion struct {
	// W is the weight of the RMSE, in [0, 1].
	W float64
}

// Predefined criteria.
var (
	CriterionRMSE = Criterion{W: 1}
	CriterionMax  = Criterion{W: 0}
)

// ParseCriterion parses a cross-validation criterion as written on the
// command line: "rmse", "max", or "mix:W" with W in [0, 1] the weight of
// the RMSE (so "mix:1" is "rmse" and "mix:0" is "max").
func ParseCriterion(s string) (Criterion, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch t {
	case "rmse":
		return CriterionRMSE, nil
	case "max", "maxerr", "max_abs":
		return CriterionMax, nil
	}
	if w, ok := strings.CutPrefix(t, "mix:"); ok {
		v, err := strconv.ParseFloat(w, 64)
		if err != nil || math.IsNaN(v) || v < 0 || v > 1 {
			return Criterion{}, fmt.Errorf("approx: criterion %q: weight must be a number in [0, 1]", s)
		}
		return Criterion{W: v}, nil
	}
	return Criterion{}, fmt.Errorf("approx: unknown criterion %q (valid: rmse, max, mix:W with W in [0,1])", s)
}

// String returns the form accepted by ParseCriterion.
func (c Criterion) String() string {
	switch c.W {
	case 1:
		return "rmse"
	case 0:
		return "max"
	}
	return "mix:" + strconv.FormatFloat(c.W, 'g', -1, 64)
}

// Score combines an RMSE and a maximum error into one number to minimise.
func (c Criterion) Score(rmse, maxErr float64) float64 {
	switch c.W {
	case 1:
		return rmse
	case 0:
		return maxErr
	}
	return c.W*rmse + (1-c.W)*maxErr
}

func (c Criterion) validate() error {
	if math.IsNaN(c.W) || c.W < 0 || c.W > 1 {
		return fmt.Errorf("approx: criterion weight %v outside [0, 1]", c.W)
	}
	return nil
}

// CVResult is the cross-validated error of one bandwidth.
type CVResult struct {
	H float64
	// RMSE is the root of the mean over folds of the held-out mean
	// squared error against ReLU; MaxErr is the largest held-out |error|
	// over all folds. Both count only values inside the interval.
	RMSE, MaxErr float64
	Score        float64
}

// bandwidthCV holds the folds of one cross-validation problem so that many
// bandwidths can be scored without re-splitting the data.
type bandwidthCV struct {
	k       Kernel
	deg     int
	lo, hi  float64
	crit    Criterion
	train   []Sample
	test    []Sample
	results []CVResult
}

func newBandwidthCV(k Kernel, s Sample, deg int, lo, hi float64, folds int, crit Criterion) (*bandwidthCV, error) {
	if err := kernCheckKernel(k); err != nil {
		return nil, err
	}
	if err := crit.validate(); err != nil {
		return nil, err
	}
	if deg < 1 || deg > MaxDegree {
		return nil, fmt.Errorf("approx: degree %d out of range [1, %d]", deg, MaxDegree)
	}
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || !(lo < hi) {
		return nil, fmt.Errorf("approx: invalid interval [%v, %v]", lo, hi)
	}
	if folds < 2 {
		return nil, fmt.Errorf("approx: cross-validation needs at least 2 folds, have %d", folds)
	}
	var in int
	for i, x := range s.X {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("approx: sample %q: value %d is %v", s.Label, i, x)
		}
		if x >= lo && x <= hi {
			in++
		}
	}
	// Each training set must determine a degree-deg fit and each test
	// fold must hold at least one value inside the interval.
	if in < folds*(deg+2) {
		return nil, fmt.Errorf("approx: sample %q has %d values in [%g, %g]; %d-fold cross-validation at degree %d needs at least %d",
			s.Label, in, lo, hi, folds, deg, folds*(deg+2))
	}
	cv := &bandwidthCV{k: k, deg: deg, lo: lo, hi: hi, crit: crit}
	// A three-parameter fit needs far fewer than millions of values to be
	// scored; an even stride keeps the cost of ~40 candidates × folds fits
	// bounded and still follows the data's distribution (strided rather
	// than a prefix, so that data stored in blocks, e.g. layer by layer,
	// are all represented).
	stride := (len(s.X) + maxCVSample - 1) / maxCVSample
	// Folds by position modulo folds: deterministic, and balanced even
	// when the file is sorted.
	for f := 0; f < folds; f++ {
		tr := make([]float64, 0, len(s.X)-len(s.X)/folds)
		te := make([]float64, 0, len(s.X)/folds+1)
		for i := 0; i < len(s.X); i += stride {
			x := s.X[i]
			if x < lo || x > hi {
				continue
			}
			if (i/stride)%folds == f {
				te = append(te, x)
			} else {
				tr = append(tr, x)
			}
		}
		label := fmt.Sprintf("%s fold %d/%d", s.Label, f+1, folds)
		cv.train = append(cv.train, Sample{Label: label + " train", X: tr})
		cv.test = append(cv.test, Sample{Label: label + " test", X: te})
	}
	return cv, nil
}

// eval scores bandwidth h; h = 0 is the direct (unsmoothed) fit.
func (cv *bandwidthCV) eval(h float64) (CVResult, error) {
	target := Target(ReLU)
	if h != 0 {
		var err error
		if target, err = NewSmoothedReLU(cv.k, h); err != nil {
			return CVResult{}, err
		}
	}
	var mse, worst float64
	for f := range cv.train {
		p, err := FitLS(target, &cv.train[f], cv.deg, cv.lo, cv.hi, 0)
		if err != nil {
			return CVResult{}, fmt.Errorf("approx: cross-validation fit at h=%g: %w", h, err)
		}
		m, err := EvalMetrics(p, ReLU, &cv.test[f], cv.lo, cv.hi)
		if err != nil {
			return CVResult{}, fmt.Errorf("approx: cross-validation metrics at h=%g: %w", h, err)
		}
		mse += m.RMSE * m.RMSE
		worst = math.Max(worst, m.MaxAbs)
	}
	r := CVResult{H: h, RMSE: math.Sqrt(mse / float64(len(cv.train))), MaxErr: worst}
	r.Score = cv.crit.Score(r.RMSE, r.MaxErr)
	cv.results = append(cv.results, r)
	return r, nil
}

// Bandwidth search grid, in units of the sample standard deviation divided
// by the kernel standard deviation, so that every kernel is searched over
// the same amount of smoothing.
const (
	bwGridMin   = 1e-3
	bwGridMax   = 4.0
	bwGridSize  = 25
	bwGoldenTol = 1e-3 // relative width of the final bracket in h
)

// maxCVSample caps the values used to cross-validate a bandwidth: the
// choice of one scalar h does not need millions of values, and the
// cross-validation costs dozens of fits.
const maxCVSample = 1 << 17

// SelectBandwidth chooses the kernel bandwidth h by k-fold cross-validation
// on the calibration sample s: for each candidate h, a degree-deg
// least-squares fit to the smoothed ReLU on the training folds is scored by
// crit against ReLU itself on the held-out fold (values outside [lo, hi] are
// ignored). Candidates are 25 log-spaced values from 1e-3 to 4 times
// std(s)/KernelStd(k); the best grid point is refined by golden-section
// search in log h between its neighbours. Samples larger than maxCVSample
// (131,072) values are cross-validated on an even-stride subsample of at
// most that size.
//
// With CriterionRMSE the answer is usually the smallest h: the direct fit
// already minimises the squared error against ReLU, so smoothing can only
// help a held-out RMSE through variance, which is tiny for a 3-parameter
// fit. Smoothing pays off on the worst case (CriterionMax) — the trade-off
// of arXiv 2605.23641 that BandwidthTradeoff tabulates.
func SelectBandwidth(k Kernel, s Sample, deg int, lo, hi float64, folds int, crit Criterion) (h float64, err error) {
	h, _, err = SelectBandwidthCV(k, s, deg, lo, hi, folds, crit)
	return h, err
}

// SelectBandwidthCV is SelectBandwidth that also returns the cross-validated
// error of every bandwidth it tried, in the order tried.
func SelectBandwidthCV(k Kernel, s Sample, deg int, lo, hi float64, folds int, crit Criterion) (float64, []CVResult, error) {
	cv, err := newBandwidthCV(k, s, deg, lo, hi, folds, crit)
	if err != nil {
		return 0, nil, err
	}
	sd, err := sourceScale(&s)
	if err != nil {
		return 0, nil, err
	}
	scale := sd / KernelStd(k)
	grid := LogSpace(bwGridMin*scale, bwGridMax*scale, bwGridSize)
	best, bestScore := 0, math.Inf(1)
	for i, h := range grid {
		r, err := cv.eval(h)
		if err != nil {
			return 0, nil, err
		}
		if r.Score < bestScore {
			best, bestScore = i, r.Score
		}
	}
	a := math.Log(grid[max(best-1, 0)])
	b := math.Log(grid[min(best+1, len(grid)-1)])
	bestH := grid[best]
	score := func(lh float64) (float64, error) {
		r, err := cv.eval(math.Exp(lh))
		if err != nil {
			return 0, err
		}
		if r.Score < bestScore {
			bestH, bestScore = r.H, r.Score
		}
		return r.Score, nil
	}
	if _, err := goldenMin(score, a, b, 0, math.Log1p(bwGoldenTol), 200); err != nil {
		return 0, nil, err
	}
	return bestH, cv.results, nil
}

// CrossValidate returns the k-fold cross-validated error against ReLU of
// the degree-deg least-squares fit to the kernel-smoothed ReLU at bandwidth
// h (h = 0: the direct fit to ReLU), with the folds of SelectBandwidth.
func CrossValidate(k Kernel, s Sample, deg int, lo, hi float64, folds int, h float64, crit Criterion) (CVResult, error) {
	if h != 0 {
		if err := kernCheckBandwidth(h); err != nil {
			return CVResult{}, err
		}
	}
	cv, err := newBandwidthCV(k, s, deg, lo, hi, folds, crit)
	if err != nil {
		return CVResult{}, err
	}
	return cv.eval(h)
}

// LogSpace returns n values from lo to hi (both included) equally spaced
// in log scale; lo and hi must be positive.
func LogSpace(lo, hi float64, n int) []float64 {
	if n <= 0 || !(lo > 0) || !(hi > 0) {
		return nil
	}
	if n == 1 {
		return []float64{lo}
	}
	out := make([]float64, n)
	a, b := math.Log(lo), math.Log(hi)
	for i := range out {
		out[i] = math.Exp(a + (b-a)*float64(i)/float64(n-1))
	}
	out[0], out[n-1] = lo, hi
	return out
}

// kernSampleStd is the population standard deviation by Welford's update.
func kernSampleStd(x []float64) float64 {
	var mean, m2 float64
	for i, v := range x {
		d := v - mean
		mean += d / float64(i+1)
		m2 += d * (v - mean)
	}
	if len(x) == 0 {
		return math.NaN()
	}
	return math.Sqrt(m2 / float64(len(x)))
}

var kernErrNoBandwidths = errors.New("approx: no bandwidths given")
