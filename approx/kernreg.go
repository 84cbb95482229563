package approx

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// This file holds the second reading of "kernel-based" ReLU approximation:
// instead of convolving ReLU with a kernel analytically, smooth the
// calibration pairs (x_i, ReLU(x_i)) with a kernel regression and project
// the smoother onto degree-d polynomials by least squares on the same
// samples.

// NadarayaWatson is the kernel regression estimator of Nadaraya (1964) and
// Watson (1964),
//
//	m(x) = Σ_i K((x−x_i)/h)·y_i / Σ_i K((x−x_i)/h).
type NadarayaWatson struct {
	k     Kernel
	h     float64
	reach float64   // K vanishes (to 1e-22 relative) beyond reach·h
	x, y  []float64 // sorted by x
}

func checkPairs(x, y []float64) error {
	if len(x) == 0 {
		return errors.New("approx: kernel regression needs at least one sample")
	}
	if len(x) != len(y) {
		return fmt.Errorf("approx: kernel regression: %d x values but %d y values", len(x), len(y))
	}
	for i := range x {
		if math.IsNaN(x[i]) || math.IsInf(x[i], 0) {
			return fmt.Errorf("approx: kernel regression: x[%d] is %v", i, x[i])
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return fmt.Errorf("approx: kernel regression: y[%d] is %v", i, y[i])
		}
	}
	return nil
}

// NewNadarayaWatson returns the Nadaraya–Watson smoother of the pairs
// (x[i], y[i]) with kernel k at bandwidth h. The inputs are copied.
func NewNadarayaWatson(k Kernel, h float64, x, y []float64) (*NadarayaWatson, error) {
	if err := kernCheckKernel(k); err != nil {
		return nil, err
	}
	if err := kernCheckBandwidth(h); err != nil {
		return nil, err
	}
	if err := checkPairs(x, y); err != nil {
		return nil, err
	}
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	nw := &NadarayaWatson{k: k, h: h, reach: kernelReach(k), x: make([]float64, len(x)), y: make([]float64, len(x))}
	for i, j := range idx {
		nw.x[i], nw.y[i] = x[j], y[j]
	}
	return nw, nil
}

// Predict returns m(x), summing only the samples within the kernel's reach
// of x (O(log n + w) for w such samples). It is NaN where no sample has
// positive weight, e.g. farther than h from the data for a compact kernel.
func (nw *NadarayaWatson) Predict(x float64) float64 {
	r := nw.reach * nw.h
	i := sort.SearchFloat64s(nw.x, x-r)
	var num, den float64
	for ; i < len(nw.x) && nw.x[i] <= x+r; i++ {
		w := nw.k.PDF((x - nw.x[i]) / nw.h)
		num += w * nw.y[i]
		den += w
	}
	if den == 0 {
		return math.NaN()
	}
	return num / den
}

// nwExactMax is the sample size up to which FitNadarayaWatson evaluates
// the smoother exactly at every sample; above it the smoother is binned.
const (
	nwExactMax = 4000
	nwBins     = 2048
)

// binned returns the smoother evaluated on a grid of g points spanning the
// data by linear binning (Wand & Jones, Kernel Smoothing, 1995, §D.2),
// O(n + g²), interpolated linearly between grid points. The binning error
// is O((Δ/h)²) for grid spacing Δ and a continuous kernel, O(Δ/h) for the
// box kernel, whose weights jump.
func (nw *NadarayaWatson) binned(g int) Target {
	lo, hi := nw.x[0], nw.x[len(nw.x)-1]
	if !(hi > lo) {
		return nw.Predict
	}
	d := (hi - lo) / float64(g-1)
	cnt := make([]float64, g)
	sum := make([]float64, g)
	for i, x := range nw.x {
		p := (x - lo) / d
		j := min(int(p), g-2)
		f := p - float64(j)
		cnt[j] += 1 - f
		cnt[j+1] += f
		sum[j] += (1 - f) * nw.y[i]
		sum[j+1] += f * nw.y[i]
	}
	// Kernel weights depend only on the grid offset.
	span := min(g-1, int(math.Ceil(nw.reach*nw.h/d)))
	w := make([]float64, span+1)
	for o := range w {
		w[o] = nw.k.PDF(float64(o) * d / nw.h)
	}
	m := make([]float64, g)
	for j := range m {
		var num, den float64
		for l := max(0, j-span); l <= min(g-1, j+span); l++ {
			o := j - l
			if o < 0 {
				o = -o
			}
			num += w[o] * sum[l]
			den += w[o] * cnt[l]
		}
		if den > 0 {
			m[j] = num / den
		} else {
			m[j] = math.NaN()
		}
	}
	return func(x float64) float64 {
		p := (x - lo) / d
		if p <= 0 {
			return m[0]
		}
		if p >= float64(g-1) {
			return m[g-1]
		}
		j := int(p)
		f := p - float64(j)
		return (1-f)*m[j] + f*m[j+1]
	}
}

// FitNadarayaWatson smooths the pairs (x_i, ReLU(x_i)) of the calibration
// sample s with a Nadaraya–Watson regression (kernel k, bandwidth h) and
// projects the smoother onto degree deg by least squares on the same
// samples (FitLS on [lo, hi]). Up to 4000 samples the smoother is exact;
// beyond, it is binned on a 2048-point grid, so the cost stays O(n).
func FitNadarayaWatson(k Kernel, h float64, s Sample, deg int, lo, hi float64) (Poly, error) {
	f, err := nadarayaWatsonTarget(k, h, ReLU, &s)
	if err != nil {
		return nil, err
	}
	return FitLS(f, &s, deg, lo, hi, 0)
}

// nadarayaWatsonTarget is the Nadaraya–Watson smoother of the pairs
// (x_i, ref(x_i)) of s, exact up to nwExactMax samples and binned on an
// nwBins grid beyond.
func nadarayaWatsonTarget(k Kernel, h float64, ref Target, s *Sample) (Target, error) {
	y := make([]float64, len(s.X))
	for i, x := range s.X {
		y[i] = ref(x)
	}
	nw, err := NewNadarayaWatson(k, h, s.X, y)
	if err != nil {
		return nil, err
	}
	if len(s.X) > nwExactMax {
		return nw.binned(nwBins), nil
	}
	return nw.Predict, nil
}

// RegKernel is a positive semi-definite kernel k(a, b) on the real line for
// kernel ridge regression, named after its kernlab counterpart
// (Karatzoglou, Smola, Hornik & Zeileis, "kernlab — An S4 Package for Kernel
// Methods in R", J. Stat. Softw. 11(9), 2004).
type RegKernel interface {
	Name() string
	Eval(a, b float64) float64
}

// RBFDot is kernlab's rbfdot, the Gaussian RBF kernel exp(−σ·(a−b)²).
type RBFDot struct{ Sigma float64 }

// PolyDot is kernlab's polydot, (Scale·a·b + Offset)^Degree. With Degree 2
// and Offset > 0 its feature space is exactly the quadratics.
type PolyDot struct {
	Degree        int
	Scale, Offset float64
}

// Name returns "rbfdot(sigma=σ)".
func (k RBFDot) Name() string { return fmt.Sprintf("rbfdot(sigma=%g)", k.Sigma) }

// Eval returns exp(−σ·(a−b)²).
func (k RBFDot) Eval(a, b float64) float64 { d := a - b; return math.Exp(-k.Sigma * d * d) }

// Name returns "polydot(degree=d,scale=s,offset=o)".
func (k PolyDot) Name() string {
	return fmt.Sprintf("polydot(degree=%d,scale=%g,offset=%g)", k.Degree, k.Scale, k.Offset)
}

// Eval returns (Scale·a·b + Offset)^Degree.
func (k PolyDot) Eval(a, b float64) float64 {
	v, r := k.Scale*a*b+k.Offset, 1.0
	for i := 0; i < k.Degree; i++ {
		r *= v
	}
	return r
}

func checkRegKernel(k RegKernel) error {
	switch k := k.(type) {
	case nil:
		return errors.New("approx: nil regression kernel")
	case RBFDot:
		if !(k.Sigma > 0) || math.IsInf(k.Sigma, 0) {
			return fmt.Errorf("approx: rbfdot needs a positive finite sigma, have %v", k.Sigma)
		}
	case PolyDot:
		if k.Degree < 1 || k.Degree > MaxDegree {
			return fmt.Errorf("approx: polydot degree %d out of range [1, %d]", k.Degree, MaxDegree)
		}
		if math.IsNaN(k.Scale) || math.IsInf(k.Scale, 0) || math.IsNaN(k.Offset) || math.IsInf(k.Offset, 0) || k.Offset < 0 {
			return fmt.Errorf("approx: polydot needs finite scale and offset ≥ 0, have scale %v offset %v", k.Scale, k.Offset)
		}
	}
	return nil
}

// KernelRidge is a kernel ridge regression restricted to the span of m
// centres (the subset-of-regressors or Nyström approximation, Williams &
// Seeger 2001), minimising
//
//	(1/n)·Σ_i (y_i − f(x_i))² + λ·‖f‖²_H,   f = Σ_j α_j k(·, c_j).
//
// The centre Gram matrix K_mm = U·Λ·Uᵀ is diagonalised once and only its
// numerically positive part is kept, so rank-deficient kernels such as
// polydot(2) (rank 3) are handled exactly: in the features
// φ(x) = Λ^{-1/2}·Uᵀ·k_m(x) the problem is an ordinary ridge regression
// of size r ≤ m, solved by Cholesky. Time O(n·m·r + m³), memory O(m²).
type KernelRidge struct {
	kern    RegKernel
	centres []float64
	alpha   []float64
	rank    int
}

// NewKernelRidge fits a kernel ridge regression of y on x with m centres
// taken at evenly spaced ranks of the sorted x (deterministic, and
// following the data's distribution) and ridge λ ≥ 0.
func NewKernelRidge(kern RegKernel, x, y []float64, m int, lambda float64) (*KernelRidge, error) {
	if err := checkRegKernel(kern); err != nil {
		return nil, err
	}
	if err := checkPairs(x, y); err != nil {
		return nil, err
	}
	if m < 1 {
		return nil, fmt.Errorf("approx: kernel ridge regression needs at least 1 centre, have %d", m)
	}
	if math.IsNaN(lambda) || math.IsInf(lambda, 0) || lambda < 0 {
		return nil, fmt.Errorf("approx: kernel ridge penalty must be finite and ≥ 0, have %v", lambda)
	}
	sorted := append([]float64(nil), x...)
	sort.Float64s(sorted)
	var centres []float64
	for j := 0; j < m; j++ {
		c := sorted[min(len(sorted)-1, int((float64(j)+0.5)*float64(len(sorted))/float64(m)))]
		if len(centres) == 0 || c != centres[len(centres)-1] {
			centres = append(centres, c)
		}
	}
	mc := len(centres)
	gram := mat.NewSymDense(mc, nil)
	for i := 0; i < mc; i++ {
		for j := i; j < mc; j++ {
			gram.SetSym(i, j, kern.Eval(centres[i], centres[j]))
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(gram, true) {
		return nil, errors.New("approx: kernel ridge: eigendecomposition of the centre Gram matrix failed")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	top := 0.0
	for _, v := range vals {
		top = math.Max(top, v)
	}
	if !(top > 0) {
		return nil, errors.New("approx: kernel ridge: the centre Gram matrix is zero")
	}
	var keep []int
	for i, v := range vals {
		if v > 1e-11*top {
			keep = append(keep, i)
		}
	}
	r := len(keep)
	// proj = Λ_r^{-1/2}·U_rᵀ maps k_m(x) to the features φ(x).
	proj := mat.NewDense(r, mc, nil)
	for a, i := range keep {
		s := 1 / math.Sqrt(vals[i])
		for j := 0; j < mc; j++ {
			proj.Set(a, j, s*vecs.At(j, i))
		}
	}
	ata := mat.NewSymDense(r, nil)
	atb := mat.NewVecDense(r, nil)
	kv := mat.NewVecDense(mc, nil)
	phi := mat.NewVecDense(r, nil)
	for i, xi := range x {
		for j, c := range centres {
			kv.SetVec(j, kern.Eval(xi, c))
		}
		phi.MulVec(proj, kv)
		ata.SymRankOne(ata, 1, phi)
		atb.AddScaledVec(atb, y[i], phi)
	}
	n := float64(len(x))
	for a := 0; a < r; a++ {
		for b := a; b < r; b++ {
			v := ata.At(a, b) / n
			if a == b {
				v += lambda
			}
			ata.SetSym(a, b, v)
		}
	}
	atb.ScaleVec(1/n, atb)
	var chol mat.Cholesky
	if !chol.Factorize(ata) {
		return nil, fmt.Errorf("approx: kernel ridge system (rank %d) is not positive definite; use a ridge λ > 0", r)
	}
	var w mat.VecDense
	if err := chol.SolveVecTo(&w, atb); err != nil {
		return nil, fmt.Errorf("approx: kernel ridge solve: %w", err)
	}
	var alpha mat.VecDense
	alpha.MulVec(proj.T(), &w)
	return &KernelRidge{kern: kern, centres: centres, alpha: alpha.RawVector().Data, rank: r}, nil
}

// Predict returns f(x) = Σ_j α_j k(x, c_j).
func (kr *KernelRidge) Predict(x float64) float64 {
	var s float64
	for j, c := range kr.centres {
		s += kr.alpha[j] * kr.kern.Eval(x, c)
	}
	return s
}

// Rank is the number of kernel features kept (≤ the number of centres).
func (kr *KernelRidge) Rank() int { return kr.rank }

// Centres returns a copy of the centres.
func (kr *KernelRidge) Centres() []float64 { return append([]float64(nil), kr.centres...) }

// FitKernelRidge fits a kernel ridge regression (m centres, ridge λ) to the
// pairs (x_i, ReLU(x_i)) of the calibration values of s inside [lo, hi],
// and projects it onto degree deg by least squares on the same samples.
func FitKernelRidge(kern RegKernel, s Sample, m int, lambda float64, deg int, lo, hi float64) (Poly, error) {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || !(lo < hi) {
		return nil, fmt.Errorf("approx: invalid interval [%v, %v]", lo, hi)
	}
	var x, y []float64
	for i, v := range s.X {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("approx: sample %q: value %d is %v", s.Label, i, v)
		}
		if v >= lo && v <= hi {
			x = append(x, v)
			y = append(y, ReLU(v))
		}
	}
	if len(x) == 0 && len(s.X) > 0 {
		return nil, fmt.Errorf("approx: no calibration value of %q inside [%g, %g]", s.Label, lo, hi)
	}
	kr, err := NewKernelRidge(kern, x, y, m, lambda)
	if err != nil {
		return nil, err
	}
	return FitLS(kr.Predict, &s, deg, lo, hi, 0)
}
