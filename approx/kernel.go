package approx

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Kernel is a smoothing kernel at unit bandwidth: a symmetric probability
// density K with ∫K = 1. At bandwidth h the kernel is K_h(u) = K(u/h)/h, and
// the kernel-smoothed ReLU of arXiv 2605.23641 is f_h = ReLU * K_h.
//
// Kernels are used at their textbook scale, not normalised to unit
// variance, so equal h does not mean equal smoothing across kernels; see
// KernelStd for the standard deviation of each at h = 1.
type Kernel interface {
	// Name is the lower-case name accepted by KernelByName.
	Name() string
	// PDF returns K(u).
	PDF(u float64) float64
	// Support returns the half-width of the support of K, or +Inf if K
	// is positive on the whole line.
	Support() float64
}

// kernelCDF is implemented by kernels with closed forms for the
// distribution function F(t) = ∫_{-∞}^t K and for its integral
// G(t) = ∫_{-∞}^t F, which is exactly the smoothed ReLU at unit bandwidth:
// (ReLU * K)(t) = ∫ max(t−u, 0) K(u) du = t·F(t) − ∫_{-∞}^t u K(u) du = G(t).
// Hence f_h(x) = h·G(x/h) and f_h'(x) = F(x/h).
type kernelCDF interface {
	CDF(t float64) float64
	IntCDF(t float64) float64
}

// GaussianKernel is the standard normal kernel K(u) = exp(−u²/2)/√(2π)
// (Rosenblatt 1956; Parzen 1962). Its smoothed ReLU is x·Φ(x/h) + h·φ(x/h),
// the form used in arXiv 2605.23641.
type GaussianKernel struct{}

// EpanechnikovKernel is K(u) = 3/4·(1−u²) on [−1, 1], the kernel with the smallest
// asymptotic mean integrated squared error (Epanechnikov 1969).
type EpanechnikovKernel struct{}

// TriangularKernel is K(u) = 1−|u| on [−1, 1], the density of the sum of two
// independent uniforms on [−1/2, 1/2] (Silverman 1986, Table 3.1).
type TriangularKernel struct{}

// UniformKernel is the box kernel K(u) = 1/2 on [−1, 1] (Silverman 1986,
// Table 3.1); ReLU * K_h is then a moving average of ReLU over [x−h, x+h].
type UniformKernel struct{}

// LogisticKernel is the standard logistic density K(u) = e^{−u}/(1+e^{−u})²,
// whose distribution function is the sigmoid; ReLU * K_h is then exactly
// h·softplus(x/h) (Dugas et al. 2001 call softplus a smooth ReLU).
type LogisticKernel struct{}

// Name returns the kernel's name as KernelByName and the CLI's --kernel
// accept it; the five methods below implement [Kernel.Name].
func (GaussianKernel) Name() string     { return "gaussian" }
func (EpanechnikovKernel) Name() string { return "epanechnikov" }
func (TriangularKernel) Name() string   { return "triangular" }
func (UniformKernel) Name() string      { return "uniform" }
func (LogisticKernel) Name() string     { return "logistic" }

// Support returns the half-width of the kernel's support (+Inf for the
// unbounded kernels); quadrature uses ±Support·h as break points. The five
// methods below implement [Kernel.Support].
func (GaussianKernel) Support() float64     { return math.Inf(1) }
func (EpanechnikovKernel) Support() float64 { return 1 }
func (TriangularKernel) Support() float64   { return 1 }
func (UniformKernel) Support() float64      { return 1 }
func (LogisticKernel) Support() float64     { return math.Inf(1) }

const kernInvSqrt2Pi = 0.3989422804014326779399460599343818684758586311649346576659258296706579258993

// PDF returns φ(u).
func (GaussianKernel) PDF(u float64) float64 { return kernInvSqrt2Pi * math.Exp(-u*u/2) }

// CDF returns Φ(t), via erfc so that the lower tail keeps relative accuracy.
func (GaussianKernel) CDF(t float64) float64 { return 0.5 * math.Erfc(-t/math.Sqrt2) }

// IntCDF returns t·Φ(t) + φ(t).
func (g GaussianKernel) IntCDF(t float64) float64 {
	if t > 0 {
		// G(t) = t + G(−t) keeps the cancellation on the small side.
		return t + g.IntCDF(-t)
	}
	return t*g.CDF(t) + g.PDF(t)
}

// PDF returns 3/4·(1−u²) on [−1, 1] and 0 outside.
func (EpanechnikovKernel) PDF(u float64) float64 {
	if math.Abs(u) > 1 {
		return 0
	}
	return 0.75 * (1 - u*u)
}

// CDF returns (2 + 3t − t³)/4 on [−1, 1].
func (EpanechnikovKernel) CDF(t float64) float64 {
	switch {
	case t <= -1:
		return 0
	case t >= 1:
		return 1
	}
	return (2 + 3*t - t*t*t) / 4
}

// IntCDF returns (3 + 8t + 6t² − t⁴)/16 on [−1, 1], 0 below and t above.
func (EpanechnikovKernel) IntCDF(t float64) float64 {
	switch {
	case t <= -1:
		return 0
	case t >= 1:
		return t
	}
	t2 := t * t
	return (3 + 8*t + 6*t2 - t2*t2) / 16
}

// PDF returns 1−|u| on [−1, 1] and 0 outside.
func (TriangularKernel) PDF(u float64) float64 {
	a := math.Abs(u)
	if a > 1 {
		return 0
	}
	return 1 - a
}

// CDF returns (1+t)²/2 on [−1, 0] and 1 − (1−t)²/2 on [0, 1].
func (TriangularKernel) CDF(t float64) float64 {
	switch {
	case t <= -1:
		return 0
	case t >= 1:
		return 1
	case t <= 0:
		return (1 + t) * (1 + t) / 2
	}
	return 1 - (1-t)*(1-t)/2
}

// IntCDF returns (1+t)³/6 on [−1, 0] and t + (1−t)³/6 on [0, 1].
func (TriangularKernel) IntCDF(t float64) float64 {
	switch {
	case t <= -1:
		return 0
	case t >= 1:
		return t
	case t <= 0:
		s := 1 + t
		return s * s * s / 6
	}
	s := 1 - t
	return t + s*s*s/6
}

// PDF returns 1/2 on [−1, 1] and 0 outside.
func (UniformKernel) PDF(u float64) float64 {
	if math.Abs(u) > 1 {
		return 0
	}
	return 0.5
}

// CDF returns (1+t)/2 on [−1, 1].
func (UniformKernel) CDF(t float64) float64 {
	switch {
	case t <= -1:
		return 0
	case t >= 1:
		return 1
	}
	return (1 + t) / 2
}

// IntCDF returns (1+t)²/4 on [−1, 1], 0 below and t above.
func (UniformKernel) IntCDF(t float64) float64 {
	switch {
	case t <= -1:
		return 0
	case t >= 1:
		return t
	}
	return (1 + t) * (1 + t) / 4
}

// PDF returns e^{−|u|}/(1+e^{−|u|})², written in |u| so it never overflows.
func (LogisticKernel) PDF(u float64) float64 {
	e := math.Exp(-math.Abs(u))
	return e / ((1 + e) * (1 + e))
}

// CDF returns the sigmoid 1/(1+e^{−t}).
func (LogisticKernel) CDF(t float64) float64 {
	if t >= 0 {
		return 1 / (1 + math.Exp(-t))
	}
	e := math.Exp(t)
	return e / (1 + e)
}

// IntCDF returns softplus(t) = log(1+e^t) = max(t,0) + log1p(e^{−|t|}).
func (LogisticKernel) IntCDF(t float64) float64 {
	return math.Max(t, 0) + math.Log1p(math.Exp(-math.Abs(t)))
}

// kernelTable lists the built-in kernels by name.
var kernelTable = map[string]Kernel{
	"gaussian":     GaussianKernel{},
	"epanechnikov": EpanechnikovKernel{},
	"triangular":   TriangularKernel{},
	"uniform":      UniformKernel{},
	"logistic":     LogisticKernel{},
}

// kernelAliases are alternative spellings accepted by KernelByName.
var kernelAliases = map[string]string{
	"normal": "gaussian",
	"box":    "uniform",
	"epa":    "epanechnikov",
}

// KernelNames returns the names of the built-in kernels in sorted order.
func KernelNames() []string {
	names := make([]string, 0, len(kernelTable))
	for n := range kernelTable {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// KernelByName returns the built-in kernel called name (case-insensitive;
// "box" and "normal" are accepted as aliases of "uniform" and "gaussian").
func KernelByName(name string) (Kernel, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := kernelAliases[n]; ok {
		n = a
	}
	if k, ok := kernelTable[n]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("approx: unknown kernel %q (valid: %s)", name, strings.Join(KernelNames(), ", "))
}

// KernelStd returns the standard deviation of k at unit bandwidth:
// 1 (GaussianKernel), 1/√5 (EpanechnikovKernel), 1/√6 (triangular), 1/√3 (uniform),
// π/√3 (logistic). Other kernels are integrated numerically.
func KernelStd(k Kernel) float64 {
	switch k.(type) {
	case GaussianKernel:
		return 1
	case EpanechnikovKernel:
		return 1 / math.Sqrt(5)
	case TriangularKernel:
		return 1 / math.Sqrt(6)
	case UniformKernel:
		return 1 / math.Sqrt(3)
	case LogisticKernel:
		return math.Pi / math.Sqrt(3)
	}
	u := kernelReach(k)
	v := kernQuad(func(x float64) float64 { return x * x * k.PDF(x) }, -u, u, []float64{0}, 1e-12)
	return math.Sqrt(v)
}

// kernelReach returns a half-width beyond which k carries no mass that
// matters for a linearly growing integrand: the support for compact kernels,
// otherwise the first power of two R with K(R)·(1+R)² < 1e-22·K(0).
func kernelReach(k Kernel) float64 {
	if s := k.Support(); !math.IsInf(s, 0) && s > 0 {
		return s
	}
	k0 := k.PDF(0)
	r := 1.0
	for r < 1<<20 {
		if k.PDF(r)*(1+r)*(1+r) < 1e-22*k0 {
			return r
		}
		r *= 2
	}
	return r
}
