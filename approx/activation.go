package approx

import (
	"io"

	"github.com/krelu/krelu/activation"
)

// The activation file format and its polynomial type belong to package
// activation, which the CKKS layer reads without depending on the fitter.
// approx re-exports them because every fit produces them.
type (
	// Activation is a fitted polynomial activation (krelu.activation/v1).
	Activation = activation.Activation
	// Metrics are the fidelity measures of an approximation.
	Metrics = activation.Metrics
	// Calibration describes the data a fit was calibrated on.
	Calibration = activation.Calibration
	// Poly is a polynomial in the power basis.
	Poly = activation.Poly
)

const (
	// FormatV1 is the format tag of a fitted activation file.
	FormatV1 = activation.FormatV1
	// MaxDegree is the largest polynomial degree krelu accepts.
	MaxDegree = activation.MaxDegree
)

// Depth is [activation.Depth]: the CKKS levels of a degree-d polynomial.
func Depth(d int) int { return activation.Depth(d) }

// GenericDepth is [activation.GenericDepth].
func GenericDepth(d int) int { return activation.GenericDepth(d) }

// ReadActivation is [activation.Read].
func ReadActivation(r io.Reader) (*Activation, error) { return activation.Read(r) }

// ReadActivationFile is [activation.ReadFile].
func ReadActivationFile(path string) (*Activation, error) { return activation.ReadFile(path) }

// ChebyshevToPower is [activation.ChebyshevToPower].
func ChebyshevToPower(a []float64, lo, hi float64) Poly {
	return activation.ChebyshevToPower(a, lo, hi)
}

// PowerToChebyshev is [activation.PowerToChebyshev].
func PowerToChebyshev(p Poly, lo, hi float64) []float64 {
	return activation.PowerToChebyshev(p, lo, hi)
}
