package approx

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// kernCheckBandwidth reports whether h is usable as a kernel bandwidth.
func kernCheckBandwidth(h float64) error {
	if math.IsNaN(h) || math.IsInf(h, 0) || h <= 0 {
		return fmt.Errorf("approx: bandwidth h must be positive and finite, have %v", h)
	}
	return nil
}

func kernCheckKernel(k Kernel) error {
	if k == nil {
		return errors.New("approx: nil kernel")
	}
	return nil
}

func kernNaNTarget(float64) float64 { return math.NaN() }

// NewSmoothedReLU returns the kernel-smoothed ReLU f_h = ReLU * K_h,
//
//	f_h(x) = ∫ max(x−u, 0) K_h(u) du = h·G(x/h),  G(t) = ∫_{-∞}^t F(s) ds,
//
// where F is the distribution function of K. For the built-in kernels G has
// a closed form (see the IntCDF methods and docs/kernels.md):
//
//	gaussian      x·Φ(x/h) + h·φ(x/h)
//	logistic      h·log(1 + e^{x/h})            (softplus)
//	uniform       (x+h)²/(4h)                   on |x| ≤ h
//	triangular    (x+h)³/(6h²) on [−h,0],  x + (h−x)³/(6h²) on [0,h]
//	epanechnikov  (3h⁴ + 8h³x + 6h²x² − x⁴)/(16h³)  on |x| ≤ h
//
// with f_h = 0 left of the support and f_h = x right of it. Any other
// Kernel is integrated numerically (see NewSmooth). Smoothing is the step
// of arXiv 2605.23641 that makes a low-degree fit possible: by Jackson's
// theorem the best degree-n error for a Lipschitz-L function on [−B, B] is
// at most π·L·B/(2(n+1)), and f_h, unlike ReLU, has a bounded second
// derivative K_h(0) = K(0)/h, so its Chebyshev coefficients decay faster.
//
// The error is non-nil if k is nil or h is not a positive finite number.
func NewSmoothedReLU(k Kernel, h float64) (Target, error) {
	if err := kernCheckKernel(k); err != nil {
		return nil, err
	}
	if err := kernCheckBandwidth(h); err != nil {
		return nil, err
	}
	if c, ok := k.(kernelCDF); ok {
		return func(x float64) float64 { return h * c.IntCDF(x/h) }, nil
	}
	return NewSmooth(k, ReLU, h)
}

// SmoothedReLU is NewSmoothedReLU for callers that have already validated
// k and h. On invalid input the returned Target yields NaN for every x, so
// a bad bandwidth can never produce a plausible-looking number.
func SmoothedReLU(k Kernel, h float64) Target {
	f, err := NewSmoothedReLU(k, h)
	if err != nil {
		return kernNaNTarget
	}
	return f
}

// NewSmoothedReLUDeriv returns f_h'(x) = F(x/h), the kernel's distribution
// function at x/h (Φ(x/h) for the GaussianKernel, the sigmoid for the logistic).
// Kernels without a closed-form CDF are integrated numerically.
func NewSmoothedReLUDeriv(k Kernel, h float64) (Target, error) {
	if err := kernCheckKernel(k); err != nil {
		return nil, err
	}
	if err := kernCheckBandwidth(h); err != nil {
		return nil, err
	}
	if c, ok := k.(kernelCDF); ok {
		return func(x float64) float64 { return c.CDF(x / h) }, nil
	}
	r := kernelReach(k)
	return func(x float64) float64 {
		t := x / h
		if t <= -r {
			return 0
		}
		if t >= r {
			return 1
		}
		return kernQuad(k.PDF, -r, t, []float64{0}, 1e-13)
	}, nil
}

// SmoothedReLUDeriv is NewSmoothedReLUDeriv returning a NaN-valued Target on
// invalid input.
func SmoothedReLUDeriv(k Kernel, h float64) Target {
	f, err := NewSmoothedReLUDeriv(k, h)
	if err != nil {
		return kernNaNTarget
	}
	return f
}

// NewSmooth returns the convolution f * K_h of any target with any kernel,
//
//	(f * K_h)(x) = ∫ f(x − h·u) K(u) du,
//
// computed by adaptive 15-point Gauss–Kronrod quadrature (Kronrod 1965;
// Piessens et al., QUADPACK, 1983) to an absolute tolerance of about 1e-12
// relative to the scale of f. The integration range is split at u = 0 (the
// kernel's peak, where the triangular and logistic kernels have kinks), at
// the ends of a compact support and at u = x/h, where the argument of f
// crosses 0: the kink of ReLU is therefore never inside a Kronrod panel.
// Unbounded kernels are truncated where K(u)·(1+|u|)² < 1e-22·K(0), which
// is harmless for targets that grow at most linearly, such as ReLU, SiLU and
// GELU.
func NewSmooth(k Kernel, f Target, h float64) (Target, error) {
	if err := kernCheckKernel(k); err != nil {
		return nil, err
	}
	if f == nil {
		return nil, errors.New("approx: nil target")
	}
	if err := kernCheckBandwidth(h); err != nil {
		return nil, err
	}
	r := kernelReach(k)
	return func(x float64) float64 {
		// The integrand in the form gk15 takes, so that each node costs
		// one indirect call, not two.
		g := func(u float64, out []float64) { out[0] = f(x-h*u) * k.PDF(u) }
		return kernQuadInto(g, -r, r, []float64{0, x / h}, 1e-12*(1+math.Abs(x)+h))
	}, nil
}

// Smooth is NewSmooth returning a NaN-valued Target on invalid input.
func Smooth(k Kernel, f Target, h float64) Target {
	g, err := NewSmooth(k, f, h)
	if err != nil {
		return kernNaNTarget
	}
	return g
}

// gk15 integrates the scalar integrand over [a, b] with the rule gk15 and
// returns the Kronrod estimate and |Kronrod − Gauss| as its error estimate.
// Kernel smoothing calls it millions of times per fit, so it keeps its
// scratch on the stack of its caller (see kernQuad).
func (q *kernRule) gk15(a, b float64) (val, errEst float64) {
	r := gk15(q.g, a, b, q.kr[:], q.ga[:], q.buf[:])
	return q.kr[0] * r, math.Abs((q.kr[0] - q.ga[0]) * r)
}

// kernRule adapts a scalar integrand to gk15, with its one-value scratch.
type kernRule struct {
	g           func(x float64, out []float64)
	kr, ga, buf [1]float64
}

type kernPanel struct{ a, b, val, err float64 }

// kernQuad integrates f over [a, b], never placing a panel across one of
// the break points inside (a, b), bisecting the panel with the largest error
// estimate until the total estimate is below tol (or 4000 panels). The
// Gauss–Kronrod difference overestimates the error of the 15-point rule
// by orders of magnitude on smooth panels, so tol is conservative.
func kernQuad(f func(float64) float64, a, b float64, breaks []float64, tol float64) float64 {
	return kernQuadInto(func(x float64, out []float64) { out[0] = f(x) }, a, b, breaks, tol)
}

// kernQuadInto is kernQuad for an integrand that writes its value to out[0].
func kernQuadInto(f func(x float64, out []float64), a, b float64, breaks []float64, tol float64) float64 {
	if !(b > a) {
		return 0
	}
	pts := []float64{a, b}
	for _, p := range breaks {
		if p > a && p < b {
			pts = append(pts, p)
		}
	}
	sort.Float64s(pts)
	q := &kernRule{g: f}
	var panels []kernPanel
	for i := 1; i < len(pts); i++ {
		if pts[i] > pts[i-1] {
			v, e := q.gk15(pts[i-1], pts[i])
			panels = append(panels, kernPanel{pts[i-1], pts[i], v, e})
		}
	}
	for iter := 0; iter < 4000; iter++ {
		var total float64
		worst := 0
		for i, p := range panels {
			total += p.err
			if p.err > panels[worst].err {
				worst = i
			}
		}
		if total <= tol || len(panels) == 0 {
			break
		}
		p := panels[worst]
		m := (p.a + p.b) / 2
		if !(m > p.a && m < p.b) {
			break // panel can no longer be split in float64
		}
		v1, e1 := q.gk15(p.a, m)
		v2, e2 := q.gk15(m, p.b)
		panels[worst] = kernPanel{p.a, m, v1, e1}
		panels = append(panels, kernPanel{m, p.b, v2, e2})
	}
	var s float64
	for _, p := range panels {
		s += p.val
	}
	return s
}
