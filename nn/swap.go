package nn

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/krelu/krelu/approx"
)

// Fixed published quadratics, with the papers they come from.
var (
	// Square is CryptoNets' x² (Gilad-Bachrach et al. 2016).
	Square = approx.Poly{0, 0, 1}
	// FasterCryptoNets is 0.25 + 0.5x + 0.125x², the power-of-two quadratic of Chou et al. 2018
	// (often misquoted as (x+2)²/8, which is 0.5 + 0.5x + 0.125x²).
	FasterCryptoNets = approx.Poly{0.25, 0.5, 0.125}
)

// A Fitter chooses the polynomial of one activation layer from the
// pre-activation values it sees on the calibration set.
type Fitter func(pre []float64) (approx.Poly, error)

// FixedFitter always returns p.
func FixedFitter(p approx.Poly) Fitter {
	return func([]float64) (approx.Poly, error) { return clonePoly(p), nil }
}

// DirectFitter fits ReLU by ordinary least squares of the given degree on
// the pre-activations (the "direct" fit: no kernel smoothing).
func DirectFitter(degree int) Fitter {
	return func(u []float64) (approx.Poly, error) {
		return LeastSquares(u, func(x float64) float64 { return math.Max(x, 0) }, degree)
	}
}

// MinimaxFitter returns the minimax quadratic for ReLU on [−a, a] with a the
// largest |pre-activation|: a/16 + x/2 + x²/(2a), worst error a/16.
func MinimaxFitter() Fitter {
	return func(u []float64) (approx.Poly, error) {
		var a float64
		for _, v := range u {
			a = math.Max(a, math.Abs(v))
		}
		if !(a > 0) || math.IsInf(a, 0) {
			return nil, fmt.Errorf("nn: minimax fit needs finite nonzero pre-activations, max |u| = %v", a)
		}
		return approx.Poly{a / 16, 0.5, 1 / (2 * a)}, nil
	}
}

// GaussianSmoothedReLU is ReLU convolved with a centred Gaussian of
// standard deviation h: x·Φ(x/h) + h·φ(x/h).
func GaussianSmoothedReLU(x, h float64) float64 {
	z := x / h
	return x*0.5*math.Erfc(-z/math.Sqrt2) + h*math.Exp(-z*z/2)/math.Sqrt(2*math.Pi)
}

// KernelFitter is the krelu method (arXiv 2605.23641) through the approx
// engine: least squares, weighted by the layer's own pre-activations, to
// ReLU smoothed by a Gaussian kernel of bandwidth bw·σ(u), or of the
// bandwidth approx chooses by cross-validation when bw is 0.
func KernelFitter(degree int, bw float64) Fitter {
	return func(u []float64) (approx.Poly, error) {
		a, err := KernelActivation(u, degree, bw)
		if err != nil {
			return nil, err
		}
		return a.Poly(), nil
	}
}

// KernelActivation runs approx.FitActivation on the pre-activations u (see
// KernelFitter) and returns the full versioned activation.
func KernelActivation(u []float64, degree int, bw float64) (*approx.Activation, error) {
	s, err := approx.NewSample("nn pre-activations", u)
	if err != nil {
		return nil, err
	}
	opt := approx.FitOptions{Target: "relu", Kernel: "gaussian", Degree: degree, Calibration: s}
	if bw > 0 {
		_, sd := meanStd(u)
		opt.Bandwidth = bw * sd
	} else {
		opt.AutoBandwidth = true
	}
	return approx.FitActivation(opt)
}

// LeastSquares returns the degree-d polynomial minimising Σ (p(u_i) − f(u_i))².
// It solves in the variable t = u/s, s = max|u|, so the normal equations stay
// well conditioned, and converts back to the power basis in u.
func LeastSquares(u []float64, f func(float64) float64, d int) (approx.Poly, error) {
	if d < 1 || d > 8 {
		return nil, fmt.Errorf("nn: least-squares degree %d outside [1, 8]", d)
	}
	if len(u) <= d {
		return nil, fmt.Errorf("nn: %d calibration values for a degree-%d fit", len(u), d)
	}
	var s float64
	for _, v := range u {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("nn: non-finite pre-activation")
		}
		s = math.Max(s, math.Abs(v))
	}
	if s == 0 {
		return nil, errors.New("nn: all pre-activations are zero")
	}
	g := mat.NewSymDense(d+1, nil)
	rhs := mat.NewVecDense(d+1, nil)
	pw := make([]float64, 2*d+1)
	for _, v := range u {
		t, y := v/s, f(v)
		pw[0] = 1
		for k := 1; k <= 2*d; k++ {
			pw[k] = pw[k-1] * t
		}
		for i := 0; i <= d; i++ {
			rhs.SetVec(i, rhs.AtVec(i)+pw[i]*y)
			for j := i; j <= d; j++ {
				g.SetSym(i, j, g.At(i, j)+pw[i+j])
			}
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(g) {
		return nil, fmt.Errorf("nn: least-squares system singular (fewer than %d distinct pre-activations?)", d+1)
	}
	var c mat.VecDense
	if err := ch.SolveVecTo(&c, rhs); err != nil {
		return nil, fmt.Errorf("nn: least squares: %w", err)
	}
	p := make(approx.Poly, d+1)
	for i := range p {
		p[i] = c.AtVec(i) / math.Pow(s, float64(i))
	}
	return p, nil
}

func meanStd(u []float64) (m, sd float64) {
	for _, v := range u {
		m += v
	}
	m /= float64(len(u))
	for _, v := range u {
		sd += (v - m) * (v - m)
	}
	return m, math.Sqrt(sd / float64(len(u)))
}

// SwapResult records what a swap put in each activation layer.
type SwapResult struct {
	Polys []approx.Poly
	// Margin (decision-aware only) is the smallest logit margin of the
	// ReLU model's decisions under the swapped model on the calibration
	// set, and Kept the fraction of those decisions it keeps.
	Margin, Kept []float64
	// Range is the [min, max] of each layer's calibration pre-activations,
	// N their number, Bandwidth the kernel bandwidth used (0 if none).
	Range     [][2]float64
	N         []int
	Bandwidth []float64
}

func (r *SwapResult) addRange(u []float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range u {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	r.Range = append(r.Range, [2]float64{lo, hi})
	r.N = append(r.N, len(u))
}

// Swap returns a copy of n whose activation layers are replaced one after
// another, first to last, each by fit applied to the pre-activations that
// layer sees on calib in the partially swapped network.
func Swap(n *Network, calib *mat.Dense, fit Fitter) (*Network, *SwapResult, error) {
	return swap(n, calib, fit, 0)
}

// swap is Swap recording bw·σ as each layer's kernel bandwidth.
func swap(n *Network, calib *mat.Dense, fit Fitter, bw float64) (*Network, *SwapResult, error) {
	if err := n.CheckInput(calib); err != nil {
		return nil, nil, err
	}
	m := n.Clone()
	res := &SwapResult{}
	for k, a := range m.Acts() {
		rec, err := m.Record(calib)
		if err != nil {
			return nil, nil, err
		}
		p, err := fit(rec[k])
		if err != nil {
			return nil, nil, fmt.Errorf("activation layer %d: %w", k, err)
		}
		a.Poly = p
		res.Polys = append(res.Polys, p)
		res.addRange(rec[k])
		_, sd := meanStd(rec[k])
		res.Bandwidth = append(res.Bandwidth, bw*sd)
	}
	return m, res, nil
}

// SwapMethods lists the names accepted by SwapByName, with the degree each
// puts in the network.
var SwapMethods = map[string]int{
	"square": 2, "fastercryptonets": 2, "direct": 2, "minimax2": 2,
	"kernel": 2, "deg4": 4, "direct4": 4, "decision-aware": 2,
}

// SwapMethodNames lists the keys of SwapMethods, sorted and comma-separated.
func SwapMethodNames() string {
	names := make([]string, 0, len(SwapMethods))
	for k := range SwapMethods {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// SwapByName swaps n's activations by a named method (see SwapMethods):
// square and fastercryptonets are fixed; direct, direct4 are least squares
// to ReLU, kernel and deg4 least squares to the Gaussian-smoothed ReLU with
// bandwidth bw·σ, minimax2 the minimax quadratic on the observed range, all
// on the layer's own pre-activations over calib; decision-aware is
// DecisionAware.
func SwapByName(n *Network, calib *mat.Dense, method string, bw float64) (*Network, *SwapResult, error) {
	var f Fitter
	switch method {
	case "square":
		f = FixedFitter(Square)
	case "fastercryptonets":
		f = FixedFitter(FasterCryptoNets)
	case "direct":
		f = DirectFitter(2)
	case "direct4":
		f = DirectFitter(4)
	case "minimax2":
		f = MinimaxFitter()
	case "kernel":
		f = KernelFitter(2, bw)
	case "deg4":
		f = KernelFitter(4, bw)
	case "decision-aware":
		return DecisionAware(n, calib, DecisionAwareConfig{})
	default:
		return nil, nil, fmt.Errorf("nn: unknown swap method %q (want a FILE.json or one of %s)", method, SwapMethodNames())
	}
	return swap(n, calib, f, bw)
}

// DecisionAwareConfig tunes DecisionAware. Zero fields take the defaults.
type DecisionAwareConfig struct {
	// Lambda weighs ½‖(α,β,η)‖² against the mean squared hinge; default 1e-4.
	Lambda float64
}

// DecisionAware replaces every activation of the ReLU network n by one
// shared quadratic αu²+βu+η per layer, after Li, Wu & Miao (arXiv
// 2605.22237): the quadratic is chosen so that the swapped network keeps
// the ReLU network's decision on each calibration sample with the largest
// margin, by the soft-margin program of approx.FitDecisionAware. The last
// activation layer, when one dense layer follows it (the paper's head), is
// solved exactly by generalised Newton; earlier layers (the CNN's first
// activation; the paper treats heads only) are swapped first, in order,
// with the same objective evaluated through the rest of the network (later
// activations still ReLU) and minimised by Nelder–Mead. Both start from
// the least-squares quadratic to ReLU.
func DecisionAware(n *Network, calib *mat.Dense, cfg DecisionAwareConfig) (*Network, *SwapResult, error) {
	if cfg.Lambda <= 0 {
		cfg.Lambda = 1e-4
	}
	for _, a := range n.Acts() {
		if a.Poly != nil {
			return nil, nil, errors.New("nn: decision-aware swap needs a ReLU network (its decisions are the target)")
		}
	}
	ref, err := n.Predict(calib)
	if err != nil {
		return nil, nil, err
	}
	m := n.Clone()
	acts := m.Acts()
	res := &SwapResult{}
	for k, a := range acts {
		rec, err := m.Record(calib)
		if err != nil {
			return nil, nil, err
		}
		p0, err := LeastSquares(rec[k], func(x float64) float64 { return math.Max(x, 0) }, 2)
		if err != nil {
			return nil, nil, fmt.Errorf("activation layer %d: %w", k, err)
		}
		res.addRange(rec[k])
		res.Bandwidth = append(res.Bandwidth, 0)
		logits := func(p approx.Poly) ([][]float64, error) {
			a.Poly = p
			l, err := m.Logits(calib)
			if err != nil {
				return nil, err
			}
			rows, _ := l.Dims()
			out := make([][]float64, rows)
			for i := range out {
				out[i] = l.RawRowView(i)
			}
			return out, nil
		}
		head := k == len(acts)-1 && isHead(m, a)
		fit, err := approx.FitDecisionAware(ref, p0, logits, approx.DecisionOptions{Lambda: cfg.Lambda, Affine: head})
		if err != nil {
			return nil, nil, fmt.Errorf("activation layer %d: %w", k, err)
		}
		a.Poly = fit.Poly
		res.Polys = append(res.Polys, clonePoly(fit.Poly))
		res.Margin = append(res.Margin, fit.Margin)
		res.Kept = append(res.Kept, fit.Kept)
	}
	return m, res, nil
}

// isHead reports whether a is followed by exactly one dense layer.
func isHead(n *Network, a *Act) bool {
	for i, l := range n.Layers {
		if l == Layer(a) {
			if i != len(n.Layers)-2 {
				return false
			}
			_, ok := n.Layers[i+1].(*Dense)
			return ok
		}
	}
	return false
}
