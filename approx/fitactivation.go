package approx

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Fit methods accepted by FitActivation.
const (
	MethodLS        = "ls"        // weighted least squares under the calibration data
	MethodRidge     = "ridge"     // least squares with a ridge penalty on Chebyshev coefficients
	MethodMinimax   = "minimax"   // Remez best uniform approximation on the interval
	MethodChebyshev = "chebyshev" // interpolation at Chebyshev points of the interval
	// MethodKernReg fits the Nadaraya–Watson kernel regression of the
	// calibration pairs (x_i, f(x_i)) by least squares: the second reading
	// of "kernel-based" approximation (see FitNadarayaWatson).
	MethodKernReg = "kernreg"
)

// Methods lists the fit methods FitActivation accepts.
var Methods = []string{MethodLS, MethodRidge, MethodMinimax, MethodChebyshev, MethodKernReg}

// ParseMethod returns the method named s (case-insensitive) or an error
// listing the methods.
func ParseMethod(s string) (string, error) {
	m := strings.ToLower(s)
	if slices.Contains(Methods, m) {
		return m, nil
	}
	return "", fmt.Errorf("approx: unknown method %q (want %s)", s, strings.Join(Methods, ", "))
}

// DefaultRidge is the ridge penalty of MethodRidge when none is given.
const DefaultRidge = 1e-3

// maxBandwidthRatio bounds h/B for an explicit bandwidth (B = max |x| on
// the interval). Far beyond it f_h is a huge constant h·K-term plus x/2
// and the least-squares solve cancels catastrophically: h = 1e20 on
// N(0,1) gave −282·x as the linear term instead of 0.5·x, with no error.
const maxBandwidthRatio = 1e6

// FitOptions configure FitActivation. The zero value of each field means
// its documented default.
type FitOptions struct {
	// Target is "relu" (default), "silu" or "gelu".
	Target string
	// Kernel is a kernel name (see KernelNames) or "none" for a direct fit
	// of the target. Empty means "gaussian".
	Kernel string
	// Bandwidth is the kernel bandwidth h > 0. With AutoBandwidth set it
	// is chosen by cross-validation on the calibration data instead.
	Bandwidth     float64
	AutoBandwidth bool
	// Criterion scores bandwidths for AutoBandwidth: "rmse", "max" or
	// "mix:W" (default DefaultCriterion).
	Criterion string
	// Method is MethodLS (default), MethodRidge, MethodMinimax,
	// MethodChebyshev or MethodKernReg. Minimax and Chebyshev ignore the
	// calibration weights: calibration only fixes the interval. KernReg
	// needs a calibration Sample and an explicit bandwidth.
	Method string
	// Ridge is the penalty for MethodRidge (DefaultRidge if 0).
	Ridge float64
	// Degree is the polynomial degree, 1..MaxDegree (default 2).
	Degree int
	// Interval is "a,b" or a ChooseInterval rule (default "auto").
	Interval string
	// Calibration is the data the fit is weighted by; required.
	Calibration Source
	// Holdout is where Metrics are measured; nil means Calibration.
	Holdout Source
}

// bandwidthSelector chooses h for AutoBandwidth. It is a variable so the
// fit core does not depend on how the kernel code selects bandwidths.
var bandwidthSelector = func(opt FitOptions, k Kernel, f Target, lo, hi float64) (float64, error) {
	return autoBandwidth(opt, k, f, lo, hi)
}

// FitActivation is the one entry point for fitting an HE-friendly
// activation: it resolves the interval on the calibration data, smooths
// the target with the kernel (unless Kernel is "none"), fits a polynomial
// by the chosen method, and measures it against the unsmoothed target on
// the holdout. The returned Activation is valid (Validate passes) and
// carries both power and Chebyshev coefficients.
func FitActivation(opt FitOptions) (*Activation, error) {
	ref, err := opt.normalize()
	if err != nil {
		return nil, err
	}
	holdoutGiven := opt.Holdout != nil
	if !holdoutGiven {
		opt.Holdout = opt.Calibration
	}
	lo, hi, outside, err := ResolveInterval(opt.Interval, opt.Calibration)
	if err != nil {
		return nil, err
	}
	sm, err := smoothTarget(opt, ref, lo, hi)
	if err != nil {
		return nil, err
	}
	cheb, err := fitChebyshev(opt, ref, sm, lo, hi)
	if err != nil {
		return nil, err
	}
	p := ChebyshevToPower(cheb, lo, hi)
	if err := checkPowerForm(p, cheb, lo, hi); err != nil {
		return nil, err
	}
	met, err := EvalMetrics(p, ref, opt.Holdout, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("approx: measuring on holdout: %w", err)
	}
	cal := Calibration{Source: opt.Calibration.Name(), OutsideFrac: outside}
	if s, ok := opt.Calibration.(*Sample); ok {
		cal.N = len(s.X)
	}
	if holdoutGiven {
		cal.Holdout = opt.Holdout.Name()
	}
	a := &Activation{
		Format:       FormatV1,
		Target:       opt.Target,
		Kernel:       opt.Kernel,
		Bandwidth:    sm.h,
		Method:       opt.Method,
		Degree:       opt.Degree,
		Interval:     [2]float64{lo, hi},
		Coefficients: p,
		Chebyshev:    cheb,
		Metrics:      &met,
		Calibration:  cal,
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

// normalize fills in the documented defaults of opt, lower-cases its
// names, validates what needs no data, and returns the target function.
func (opt *FitOptions) normalize() (Target, error) {
	if opt.Target == "" {
		opt.Target = "relu"
	}
	opt.Target = strings.ToLower(opt.Target)
	ref, err := TargetByName(opt.Target)
	if err != nil {
		return nil, err
	}
	if opt.Kernel == "" {
		opt.Kernel = "gaussian"
	}
	opt.Kernel = strings.ToLower(opt.Kernel)
	if opt.Method == "" {
		opt.Method = MethodLS
	}
	if opt.Method, err = ParseMethod(opt.Method); err != nil {
		return nil, err
	}
	if opt.Degree == 0 {
		opt.Degree = 2
	}
	if opt.Degree < 1 || opt.Degree > MaxDegree {
		return nil, fmt.Errorf("approx: degree %d out of range [1, %d]", opt.Degree, MaxDegree)
	}
	if opt.Calibration == nil {
		return nil, errors.New("approx: no calibration source")
	}
	if s, ok := opt.Calibration.(*Sample); ok {
		if err := s.Validate(); err != nil {
			return nil, err
		}
	}
	if opt.Interval == "" {
		opt.Interval = DefaultIntervalRule
	}
	return ref, nil
}

// smoothed is the function a method fits: the target smoothed by kernel k
// at bandwidth h (k nil and h 0 for a direct fit), with the points where
// it stops being smooth.
type smoothed struct {
	f     Target
	k     Kernel
	h     float64
	kinks []float64
}

// smoothTarget resolves the kernel and bandwidth of opt and smooths ref.
func smoothTarget(opt FitOptions, ref Target, lo, hi float64) (smoothed, error) {
	if opt.Kernel == "none" {
		if opt.Bandwidth != 0 || opt.AutoBandwidth {
			return smoothed{}, errors.New("approx: a bandwidth was given with kernel none")
		}
		if opt.Method == MethodKernReg {
			return smoothed{}, errors.New("approx: method kernreg needs a kernel (not none)")
		}
		return smoothed{f: ref}, nil
	}
	k, err := KernelByName(opt.Kernel)
	if err != nil {
		return smoothed{}, err
	}
	h := opt.Bandwidth
	if opt.AutoBandwidth {
		if h, err = bandwidthSelector(opt, k, ref, lo, hi); err != nil {
			return smoothed{}, err
		}
	}
	if math.IsNaN(h) || math.IsInf(h, 0) || h <= 0 {
		return smoothed{}, fmt.Errorf("approx: bandwidth h = %v must be positive and finite (or use auto)", h)
	}
	if B := math.Max(math.Abs(lo), math.Abs(hi)); h > maxBandwidthRatio*B {
		return smoothed{}, fmt.Errorf("approx: bandwidth h = %g is more than %g times the interval half-width %g; f_h is then a constant plus x/2 to working precision (choose a smaller h or auto)", h, maxBandwidthRatio, B)
	}
	sm := smoothed{k: k, h: h}
	if opt.Target == "relu" {
		sm.f, err = NewSmoothedReLU(k, h)
	} else {
		sm.f, err = NewSmooth(k, ref, h)
	}
	if err != nil {
		return smoothed{}, err
	}
	if s := k.Support(); !math.IsInf(s, 0) {
		sm.kinks = []float64{-s * h, s * h}
	}
	return sm, nil
}

// fitChebyshev fits the Chebyshev coefficients on [lo, hi] by opt.Method.
func fitChebyshev(opt FitOptions, ref Target, sm smoothed, lo, hi float64) ([]float64, error) {
	switch opt.Method {
	case MethodLS, MethodRidge:
		ridge := 0.0
		if opt.Method == MethodRidge {
			ridge = opt.Ridge
			if ridge == 0 {
				ridge = DefaultRidge
			}
		} else if opt.Ridge != 0 {
			return nil, errors.New("approx: a ridge penalty needs method ridge")
		}
		r, err := fitLS(sm.f, opt.Calibration, opt.Degree, lo, hi, ridge, sm.kinks)
		if err != nil {
			return nil, err
		}
		return r.cheb, nil
	case MethodMinimax:
		r, err := remezKinks(sm.f, opt.Degree, lo, hi, sm.kinks)
		if err != nil {
			return nil, err
		}
		return r.Chebyshev, nil
	case MethodChebyshev:
		return ChebyshevInterpCoeffs(sm.f, opt.Degree, lo, hi)
	case MethodKernReg:
		// Kernel regression smooths the observed pairs (x_i, f(x_i))
		// rather than f itself, so it needs samples, not a distribution.
		s, ok := opt.Calibration.(*Sample)
		if !ok {
			return nil, fmt.Errorf("approx: method kernreg regresses on calibration samples; %s is a distribution (give a file of values)", opt.Calibration.Name())
		}
		nw, err := nadarayaWatsonTarget(sm.k, sm.h, ref, s)
		if err != nil {
			return nil, err
		}
		r, err := fitLS(nw, opt.Calibration, opt.Degree, lo, hi, 0, nil)
		if err != nil {
			return nil, err
		}
		return r.cheb, nil
	}
	return nil, fmt.Errorf("approx: unknown method %q (want %s)", opt.Method, strings.Join(Methods, ", "))
}

// DefaultCriterion is the bandwidth criterion of AutoBandwidth when
// none is given: 0.9·RMSE + 0.1·max error. Pure RMSE always picks the
// smallest h (the direct fit already minimises the squared error); the
// maximum error is an order of magnitude larger than the RMSE, so an equal
// mix behaves like pure max error and picks wide kernels whose fits the
// minimax quadratic beats on both RMSE and max error (docs/approx.md shows
// both settings).
const DefaultCriterion = "mix:0.9"

// DefaultFolds is the number of cross-validation folds for samples.
const DefaultFolds = 5

// autoBandwidth chooses h for ReLU: by k-fold cross-validation on a
// calibration sample (SelectBandwidth), or exactly on a distribution
// (OptimalBandwidth). Large samples are cross-validated on a strided
// subsample of at most maxCVSample values (see newBandwidthCV).
func autoBandwidth(opt FitOptions, k Kernel, f Target, lo, hi float64) (float64, error) {
	if opt.Target != "relu" {
		return 0, fmt.Errorf("approx: automatic bandwidth is implemented for relu only, not %q; give a bandwidth", opt.Target)
	}
	if opt.Method != MethodLS && opt.Method != MethodRidge {
		return 0, fmt.Errorf("approx: automatic bandwidth selects h for least-squares fits; give a bandwidth for method %s", opt.Method)
	}
	cs := opt.Criterion
	if cs == "" {
		cs = DefaultCriterion
	}
	crit, err := ParseCriterion(cs)
	if err != nil {
		return 0, err
	}
	switch s := opt.Calibration.(type) {
	case *Sample:
		return SelectBandwidth(k, *s, opt.Degree, lo, hi, DefaultFolds, crit)
	case Dist:
		pt, err := OptimalBandwidth(k, s, opt.Degree, lo, hi, crit)
		if err != nil {
			return 0, err
		}
		return pt.H, nil
	}
	return 0, fmt.Errorf("approx: automatic bandwidth: unsupported source %T", opt.Calibration)
}
