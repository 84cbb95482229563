package activation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// FormatV1 is the format tag of a fitted activation file.
const FormatV1 = "krelu.activation/v1"

// Metrics are the fidelity measures of an approximation against its target
// (and against ReLU), computed on held-out data.
type Metrics struct {
	N           int     `json:"n"`
	RMSE        float64 `json:"rmse"`
	MAE         float64 `json:"mae"`
	MaxAbs      float64 `json:"max_abs"`
	P99Abs      float64 `json:"p99_abs"`
	RelL2       float64 `json:"rel_l2"`
	RMSENeg     float64 `json:"rmse_neg"`
	RMSEPos     float64 `json:"rmse_pos"`
	OutsideFrac float64 `json:"outside_frac"`
	Depth       int     `json:"depth"`
}

// Calibration describes the data a fit was calibrated on.
type Calibration struct {
	// Source is the calibration source as given on the command line,
	// e.g. "normal:0,1" or a file path.
	Source string `json:"source"`
	// N is the number of calibration values (0 for analytic sources).
	N int `json:"n"`
	// OutsideFrac is the fraction of calibration mass outside Interval.
	OutsideFrac float64 `json:"outside_frac"`
	// Holdout optionally names the held-out values used for Metrics.
	Holdout string `json:"holdout,omitempty"`
}

// Activation is a fitted polynomial activation, the unit that the CLI
// writes and that the network and CKKS layers read.
type Activation struct {
	Format    string     `json:"format"`
	Target    string     `json:"target"`    // "relu", "silu", "gelu"
	Kernel    string     `json:"kernel"`    // "gaussian", …, or "none" for a direct fit
	Bandwidth float64    `json:"bandwidth"` // kernel bandwidth h; 0 when Kernel is "none"
	Method    string     `json:"method"`    // "ls", "ridge", "minimax", "chebyshev", or a baseline name
	Degree    int        `json:"degree"`
	Interval  [2]float64 `json:"interval"`
	// Coefficients are in the power basis, in original units: p(x)=Σ c_i x^i.
	Coefficients []float64 `json:"coefficients"`
	// Chebyshev are the same polynomial in the Chebyshev basis on Interval:
	// p(x)=Σ a_k T_k(t), t=(2x−a−b)/(b−a).
	Chebyshev   []float64   `json:"chebyshev"`
	Metrics     *Metrics    `json:"metrics,omitempty"`
	Calibration Calibration `json:"calibration"`
}

// Poly returns the activation's polynomial in the power basis.
func (a *Activation) Poly() Poly { return Poly(a.Coefficients) }

// Validate checks that a is a well-formed v1 activation.
func (a *Activation) Validate() error {
	if a.Format != FormatV1 {
		return fmt.Errorf("activation: unsupported format %q (want %q)", a.Format, FormatV1)
	}
	if a.Degree < 1 || a.Degree > MaxDegree {
		return fmt.Errorf("activation: degree %d out of range [1, %d]", a.Degree, MaxDegree)
	}
	if len(a.Coefficients) != a.Degree+1 {
		return fmt.Errorf("activation: %d coefficients for degree %d (want %d)", len(a.Coefficients), a.Degree, a.Degree+1)
	}
	if len(a.Chebyshev) != 0 && len(a.Chebyshev) != a.Degree+1 {
		return fmt.Errorf("activation: %d Chebyshev coefficients for degree %d (want %d)", len(a.Chebyshev), a.Degree, a.Degree+1)
	}
	for i, c := range a.Coefficients {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return fmt.Errorf("activation: coefficient %d is %v", i, c)
		}
	}
	for i, c := range a.Chebyshev {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return fmt.Errorf("activation: Chebyshev coefficient %d is %v", i, c)
		}
	}
	lo, hi := a.Interval[0], a.Interval[1]
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || !(lo < hi) {
		return fmt.Errorf("activation: invalid interval [%v, %v]", lo, hi)
	}
	if a.Kernel != "none" && a.Kernel != "" && !(a.Bandwidth > 0) {
		return fmt.Errorf("activation: kernel %q needs a positive bandwidth, have %v", a.Kernel, a.Bandwidth)
	}
	if a.Target == "" {
		return errors.New("activation: missing target")
	}
	return nil
}

// Read decodes and validates an activation from r. Unknown
// fields are rejected so that a typo never passes silently.
func Read(r io.Reader) (*Activation, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var a Activation
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("activation: decoding JSON: %w", err)
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

// ReadFile reads and validates the activation stored at path.
func ReadFile(path string) (*Activation, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("activation: %w", err)
	}
	a, err := Read(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// WriteJSON validates a and writes it as indented JSON.
func (a *Activation) WriteJSON(w io.Writer) error {
	if err := a.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}
