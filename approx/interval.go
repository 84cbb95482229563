package approx

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// DefaultIntervalRule is the rule "auto" resolves to: the sample's
// max-abs for samples and bounded distributions (the polynomial then
// covers every calibration value, as in the method), and the 99.99%
// quantile of |X| for unbounded distributions, whose max-abs is infinite.
const DefaultIntervalRule = "auto"

// ChooseInterval picks a fit interval from the calibration source:
//
//	"auto"    maxabs for samples and bounded distributions, else q0.9999
//	"maxabs"  [−B, B], B = max |x|
//	"range"   [min x, max x]
//	"qP"      [−B, B], B = the P-quantile of |x| (0 < P < 1), e.g. q0.999
//
// It also returns the fraction of calibration values (or probability
// mass) outside the interval.
func ChooseInterval(src Source, rule string) (lo, hi float64, outsideFrac float64, err error) {
	rule = strings.ToLower(strings.TrimSpace(rule))
	if rule == "" {
		rule = "auto"
	}
	switch s := src.(type) {
	case *Sample:
		if err := s.Validate(); err != nil {
			return 0, 0, 0, err
		}
		lo, hi, err = sampleInterval(s.X, rule)
	case Dist:
		lo, hi, err = distInterval(s, rule)
	case nil:
		return 0, 0, 0, errors.New("approx: nil calibration source")
	default:
		return 0, 0, 0, fmt.Errorf("approx: unsupported source type %T", src)
	}
	if err != nil {
		return 0, 0, 0, err
	}
	if !(lo < hi) {
		return 0, 0, 0, fmt.Errorf("approx: interval rule %q gives a degenerate interval [%v, %v] on %s (all values equal?)", rule, lo, hi, src.Name())
	}
	return lo, hi, OutsideFrac(src, lo, hi), nil
}

// OutsideFrac returns the fraction of src outside [lo,hi].
func OutsideFrac(src Source, lo, hi float64) float64 {
	switch s := src.(type) {
	case *Sample:
		out := 0
		for _, v := range s.X {
			if v < lo || v > hi {
				out++
			}
		}
		if len(s.X) == 0 {
			return 0
		}
		return float64(out) / float64(len(s.X))
	case Dist:
		return math.Max(0, 1-(s.CDF(hi)-s.CDF(lo)))
	}
	return 0
}

func parseQuantileRule(rule string) (float64, error) {
	p, err := strconv.ParseFloat(rule[1:], 64)
	if err != nil || !(p > 0 && p < 1) {
		return 0, fmt.Errorf("approx: interval rule %q: want qP with 0 < P < 1, e.g. q0.999", rule)
	}
	return p, nil
}

func sampleInterval(x []float64, rule string) (float64, float64, error) {
	switch {
	case rule == "auto" || rule == "maxabs":
		var b float64
		for _, v := range x {
			b = math.Max(b, math.Abs(v))
		}
		return -b, b, nil
	case rule == "range":
		return slices.Min(x), slices.Max(x), nil
	case strings.HasPrefix(rule, "q"):
		p, err := parseQuantileRule(rule)
		if err != nil {
			return 0, 0, err
		}
		a := make([]float64, len(x))
		for i, v := range x {
			a[i] = math.Abs(v)
		}
		slices.Sort(a)
		// The smallest B with at least a fraction p of |x| ≤ B.
		k := int(math.Ceil(p*float64(len(a)))) - 1
		k = max(0, min(k, len(a)-1))
		return -a[k], a[k], nil
	}
	return 0, 0, unknownRule(rule)
}

func unknownRule(rule string) error {
	return fmt.Errorf("approx: unknown interval rule %q (want auto, maxabs, range, qP such as q0.999, or a,b)", rule)
}

func distInterval(d Dist, rule string) (float64, float64, error) {
	a, b := d.Quantile(0), d.Quantile(1)
	bounded := !math.IsInf(a, 0) && !math.IsInf(b, 0)
	switch {
	case rule == "auto" && !bounded:
		return distInterval(d, "q0.9999")
	case rule == "auto" || rule == "maxabs":
		if !bounded {
			return 0, 0, fmt.Errorf("approx: interval rule maxabs is infinite for %s; use a quantile rule such as q0.999", d.Name())
		}
		m := math.Max(math.Abs(a), math.Abs(b))
		return -m, m, nil
	case rule == "range":
		if !bounded {
			return 0, 0, fmt.Errorf("approx: interval rule range is infinite for %s; use a quantile rule such as q0.999", d.Name())
		}
		return a, b, nil
	case strings.HasPrefix(rule, "q"):
		p, err := parseQuantileRule(rule)
		if err != nil {
			return 0, 0, err
		}
		// Solve P(|X| ≤ B) = p by bisection between 0 and a bound that
		// certainly holds mass ≥ p.
		hiB := math.Max(math.Abs(d.Quantile((1-p)/4)), math.Abs(d.Quantile(1-(1-p)/4)))
		if bounded {
			hiB = math.Max(math.Abs(a), math.Abs(b))
		}
		loB := 0.0
		for range 200 {
			mid := (loB + hiB) / 2
			if d.CDF(mid)-d.CDF(-mid) < p {
				loB = mid
			} else {
				hiB = mid
			}
			if hiB-loB <= 1e-14*hiB {
				break
			}
		}
		return -hiB, hiB, nil
	}
	return 0, 0, unknownRule(rule)
}

// ResolveInterval interprets an --interval flag: "a,b" literally (for
// any source), otherwise as a ChooseInterval rule on src.
func ResolveInterval(spec string, src Source) (lo, hi, outsideFrac float64, err error) {
	if a, b, ok := strings.Cut(spec, ","); ok {
		lo, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
		hi, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
		if err1 != nil || err2 != nil {
			return 0, 0, 0, fmt.Errorf("approx: interval %q: want two numbers a,b", spec)
		}
		if err := checkInterval(lo, hi); err != nil {
			return 0, 0, 0, err
		}
		if src == nil {
			return lo, hi, 0, nil
		}
		return lo, hi, OutsideFrac(src, lo, hi), nil
	}
	return ChooseInterval(src, spec)
}
