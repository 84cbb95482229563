package approx

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Target is a scalar activation to approximate: ReLU, SiLU, GELU or a
// kernel-smoothed ReLU.
type Target func(float64) float64

// ReLU returns max(x, 0).
func ReLU(x float64) float64 {
	if x > 0 {
		return x
	}
	return 0
}

// SiLU returns x·σ(x) (Elfwing et al. 2018; "swish" with β=1).
func SiLU(x float64) float64 {
	if x < -700 {
		return 0
	}
	return x / (1 + math.Exp(-x))
}

// GELU returns x·Φ(x) = x/2·(1+erf(x/√2)), the exact form of Hendrycks &
// Gimpel 2016, not the tanh approximation.
func GELU(x float64) float64 {
	return 0.5 * x * math.Erfc(-x/math.Sqrt2)
}

// targets maps target names to functions and Lipschitz constants (the
// latter feed the Jackson bound). SiLU's and GELU's constants are the
// maxima of their derivatives, ≈1.0998 at x≈2.3994 and ≈1.1289 at x=√2.
var targets = map[string]struct {
	f Target
	L float64
}{
	"relu": {ReLU, 1},
	"silu": {SiLU, 1.0998393194},
	"gelu": {GELU, 1.1289470815},
}

// TargetNames lists the names TargetByName accepts.
func TargetNames() []string {
	n := make([]string, 0, len(targets))
	for k := range targets {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// TargetByName returns the named activation ("relu", "silu", "gelu").
func TargetByName(name string) (Target, error) {
	t, ok := targets[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("approx: unknown target %q (want one of %s)", name, strings.Join(TargetNames(), ", "))
	}
	return t.f, nil
}

// Lipschitz returns the Lipschitz constant of the named target. Smoothing
// by a probability kernel never increases it.
func Lipschitz(name string) (float64, error) {
	t, ok := targets[strings.ToLower(name)]
	if !ok {
		return 0, fmt.Errorf("approx: unknown target %q", name)
	}
	return t.L, nil
}
