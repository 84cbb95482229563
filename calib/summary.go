package calib

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// SummaryQuantiles are the probabilities Summarize reports.
var SummaryQuantiles = []float64{0, 0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999, 1}

// Summary describes a sample of values.
type Summary struct {
	N         int       `json:"n"`
	Mean      float64   `json:"mean"`
	Std       float64   `json:"std"`
	MaxAbs    float64   `json:"max_abs"`
	Probs     []float64 `json:"quantile_probs"`
	Quantiles []float64 `json:"quantiles"`
}

// Summarize returns n, mean, (population) standard deviation, max |x| and
// the SummaryQuantiles (linear interpolation between order statistics).
func Summarize(x []float64) (Summary, error) {
	if len(x) == 0 {
		return Summary{}, errors.New("calib: no values to summarize")
	}
	s := Summary{N: len(x), Probs: SummaryQuantiles}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Summary{}, fmt.Errorf("calib: value %d is %v", i, v)
		}
		s.Mean += v
		s.MaxAbs = math.Max(s.MaxAbs, math.Abs(v))
	}
	s.Mean /= float64(len(x))
	for _, v := range x {
		s.Std += (v - s.Mean) * (v - s.Mean)
	}
	s.Std = math.Sqrt(s.Std / float64(len(x)))
	sorted := slices.Clone(x)
	slices.Sort(sorted)
	for _, p := range s.Probs {
		s.Quantiles = append(s.Quantiles, quantile(sorted, p))
	}
	return s, nil
}

func quantile(sorted []float64, p float64) float64 {
	pos := p * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}

// Print writes s as one line: n, mean, std, max|x| and the quantiles.
func (s Summary) Print(w io.Writer, label string) {
	fmt.Fprintf(w, "%-10s n=%d mean=%.4g std=%.4g max|x|=%.4g", label, s.N, s.Mean, s.Std, s.MaxAbs)
	for i, p := range s.Probs {
		fmt.Fprintf(w, " q%g=%.4g", p, s.Quantiles[i])
	}
	fmt.Fprintln(w)
}
