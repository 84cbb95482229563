package approx

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// CompareOptions configure Compare. Zero values mean the defaults of
// FitOptions; the kernel method uses Kernel/Bandwidth, the direct control
// the same data with no kernel.
type CompareOptions struct {
	Kernel        string
	Bandwidth     float64
	AutoBandwidth bool
	Criterion     string
	// Degree of the fitted methods (default 2); baselines stay quadratic
	// and references keep their own degrees.
	Degree      int
	Interval    string
	Calibration Source
	Holdout     Source
	// CompositeEps is the sign separation ε of the composite reference
	// relative to B (default 2⁻¹⁰); CompositeDegrees its stages
	// (default DefaultCompositeDegrees). CompositeDegrees of length 0 with
	// NoComposite set skips the row.
	CompositeEps     float64
	CompositeDegrees []int
	NoComposite      bool
}

// Row groups in a Comparison.
const (
	GroupMethod    = "method"    // fitted on the calibration data
	GroupBaseline  = "baseline"  // published or data-free quadratics
	GroupReference = "reference" // higher-degree references (deeper circuits)
)

// CompareRow is one approximation measured on the holdout.
type CompareRow struct {
	Name         string    `json:"name"`
	Group        string    `json:"group"`
	Formula      string    `json:"formula"`
	Source       string    `json:"source"`
	Degree       int       `json:"degree"`
	Depth        int       `json:"depth"`
	Coefficients []float64 `json:"coefficients,omitempty"`
	Metrics      Metrics   `json:"metrics"`
	// Best lists the metric columns on which this row is best among the
	// rows of depth ≤ the fitted methods' depth.
	Best []string `json:"best,omitempty"`
	eval Target
}

// Comparison is the result of Compare: every method and baseline on the
// same interval and holdout, against ReLU.
type Comparison struct {
	Target        string       `json:"target"`
	Calibration   string       `json:"calibration"`
	Holdout       string       `json:"holdout"`
	Interval      [2]float64   `json:"interval"`
	OutsideFrac   float64      `json:"outside_frac"`         // calibration mass outside the interval
	HoldoutOut    float64      `json:"holdout_outside_frac"` // holdout mass outside the interval
	Kernel        string       `json:"kernel"`
	Bandwidth     float64      `json:"bandwidth"`
	Degree        int          `json:"degree"`
	Jackson       float64      `json:"jackson_bound"`   // π·L·B/(2(d+1)) for ReLU at Degree
	MinimaxOpt    float64      `json:"minimax_optimum"` // best uniform error at Degree on the interval
	Rows          []CompareRow `json:"rows"`
	KernelVerdict string       `json:"kernel_vs_direct"`
}

// Eval returns the approximation of row i as a function.
func (c *Comparison) Eval(i int) Target { return c.Rows[i].eval }

func polyFormula(p Poly) string {
	var sb strings.Builder
	var big float64
	for _, v := range p {
		big = math.Max(big, math.Abs(v))
	}
	for i, v := range p {
		// Coefficients at rounding level (odd terms of symmetric fits)
		// are noise, not part of the formula.
		if math.Abs(v) <= 1e-12*big {
			continue
		}
		s := strconv.FormatFloat(math.Abs(v), 'g', 4, 64)
		switch {
		case sb.Len() == 0 && v < 0:
			sb.WriteString("−")
		case sb.Len() > 0 && v < 0:
			sb.WriteString(" − ")
		case sb.Len() > 0:
			sb.WriteString(" + ")
		}
		switch i {
		case 0:
			sb.WriteString(s)
		case 1:
			sb.WriteString(s + "x")
		default:
			sb.WriteString(s + "x^" + strconv.Itoa(i))
		}
	}
	if sb.Len() == 0 {
		return "0"
	}
	return sb.String()
}

// Compare fits the kernel method and the direct control on the
// calibration data and measures them, every baseline and the references
// against ReLU on the holdout, all on one interval chosen from the
// calibration data.
func Compare(opt CompareOptions) (*Comparison, error) {
	if opt.Calibration == nil {
		return nil, errors.New("approx: compare: no calibration source")
	}
	if opt.Holdout == nil {
		opt.Holdout = opt.Calibration
	}
	if opt.Degree == 0 {
		opt.Degree = 2
	}
	if opt.Kernel == "" {
		opt.Kernel = "gaussian"
	}
	if strings.EqualFold(opt.Kernel, "none") {
		return nil, errors.New("approx: compare: the kernel method needs a kernel (the direct fit is always included)")
	}
	kfit, err := FitActivation(FitOptions{
		Kernel: opt.Kernel, Bandwidth: opt.Bandwidth, AutoBandwidth: opt.AutoBandwidth,
		Criterion: opt.Criterion, Degree: opt.Degree, Interval: opt.Interval, Calibration: opt.Calibration, Holdout: opt.Holdout,
	})
	if err != nil {
		return nil, err
	}
	lo, hi := kfit.Interval[0], kfit.Interval[1]
	// Use the exact interval for the direct fit, not a rounded one.
	dfit, err := FitActivation(FitOptions{
		Kernel: "none", Degree: opt.Degree, Interval: strconv.FormatFloat(lo, 'g', -1, 64) + "," + strconv.FormatFloat(hi, 'g', -1, 64),
		Calibration: opt.Calibration, Holdout: opt.Holdout,
	})
	if err != nil {
		return nil, err
	}
	cmp := &Comparison{
		Target:      "relu",
		Calibration: opt.Calibration.Name(),
		Holdout:     opt.Holdout.Name(),
		Interval:    kfit.Interval,
		OutsideFrac: kfit.Calibration.OutsideFrac,
		Kernel:      kfit.Kernel,
		Bandwidth:   kfit.Bandwidth,
		Degree:      opt.Degree,
		Jackson:     JacksonBound(1, opt.Degree, lo, hi),
	}
	addPoly := func(name, group, source string, p Poly) error {
		m, err := EvalMetrics(p, ReLU, opt.Holdout, lo, hi)
		if err != nil {
			return fmt.Errorf("approx: compare: %s: %w", name, err)
		}
		cmp.Rows = append(cmp.Rows, CompareRow{
			Name: name, Group: group, Formula: polyFormula(p), Source: source,
			Degree: p.Degree(), Depth: Depth(p.Degree()), Coefficients: p, Metrics: m, eval: p.Eval,
		})
		return nil
	}
	jobs := compareJobs(kfit, dfit, lo, hi)
	for _, j := range jobs {
		p, err := j.p()
		if err != nil {
			return nil, fmt.Errorf("approx: compare: %s: %w", j.name, err)
		}
		if err := addPoly(j.name, j.group, j.source, p); err != nil {
			return nil, err
		}
	}
	_, mmErr, err := Minimax(ReLU, opt.Degree, lo, hi)
	if err != nil {
		return nil, err
	}
	cmp.MinimaxOpt = mmErr
	if !opt.NoComposite {
		row, err := compositeRow(opt, lo, hi)
		if err != nil {
			return nil, err
		}
		cmp.Rows = append(cmp.Rows, row)
	}
	cmp.HoldoutOut = cmp.Rows[0].Metrics.OutsideFrac
	cmp.markBest()
	cmp.KernelVerdict = verdict(cmp.Rows[0].Metrics, cmp.Rows[1].Metrics)
	return cmp, nil
}

// compareJob is one polynomial row of a comparison and how to get it.
type compareJob struct {
	name, group, source string
	p                   func() (Poly, error)
}

// compareJobs lists the fitted rows, the baselines and the higher-degree
// references of a comparison on [lo, hi], in table order.
func compareJobs(kfit, dfit *Activation, lo, hi float64) []compareJob {
	return []compareJob{
		{fmt.Sprintf("kernel LS (%s, h=%.3g)", kfit.Kernel, kfit.Bandwidth), GroupMethod,
			"LS fit of ReLU∗K_h under the calibration data (arXiv 2605.23641)",
			func() (Poly, error) { return kfit.Poly(), nil }},
		{"direct LS (kernel none)", GroupMethod, "LS fit of ReLU under the calibration data (control)",
			func() (Poly, error) { return dfit.Poly(), nil }},
		{"x² (CryptoNets)", GroupBaseline, "Gilad-Bachrach et al. 2016",
			func() (Poly, error) { return SquareBaseline, nil }},
		{"Faster CryptoNets quadratic", GroupBaseline, "Chou et al. 2018 (power-of-2 coefficients)",
			func() (Poly, error) { return FasterCryptoNetsBaseline, nil }},
		{"HE-friendly N(0,1) quadratic", GroupBaseline, "rounded LS of ReLU under N(0,1)",
			func() (Poly, error) { return HEFriendlyBaseline, nil }},
		{"uniform LS on interval", GroupBaseline, "LS under uniform weight; 3B/32 + x/2 + 15x²/(32B) on [−B,B]",
			func() (Poly, error) { return FitLS(ReLU, Uniform{lo, hi}, 2, lo, hi, 0) }},
		{"minimax deg 2", GroupBaseline, "Remez; B/16 + x/2 + x²/(2B) on [−B,B]",
			func() (Poly, error) { p, _, err := Minimax(ReLU, 2, lo, hi); return p, err }},
		{"Chebyshev interp deg 2", GroupBaseline, "interpolation at Chebyshev points",
			func() (Poly, error) { return ChebyshevInterp(ReLU, 2, lo, hi) }},
		{"minimax deg 4", GroupReference, "Remez", func() (Poly, error) { p, _, err := Minimax(ReLU, 4, lo, hi); return p, err }},
		{"minimax deg 7", GroupReference, "Remez", func() (Poly, error) { p, _, err := Minimax(ReLU, 7, lo, hi); return p, err }},
	}
}

// compositeRow measures the composite minimax sign construction of Lee et
// al. (ReLU = x(1+sign x)/2 to 2^−10 by default), the high-depth reference.
func compositeRow(opt CompareOptions, lo, hi float64) (CompareRow, error) {
	eps := opt.CompositeEps
	if eps == 0 {
		eps = math.Ldexp(1, -10)
	}
	degs := opt.CompositeDegrees
	if len(degs) == 0 {
		degs = DefaultCompositeDegrees
	}
	B := math.Max(math.Abs(lo), math.Abs(hi))
	cs, err := NewCompositeSignReLU(B, eps, degs)
	if err != nil {
		return CompareRow{}, err
	}
	m, err := EvalMetricsFunc(cs.Eval, ReLU, opt.Holdout, lo, hi)
	if err != nil {
		return CompareRow{}, fmt.Errorf("approx: compare: composite sign: %w", err)
	}
	m.Depth = cs.Depth()
	total := 0
	for _, d := range degs {
		total *= d
		if total == 0 {
			total = d
		}
	}
	return CompareRow{
		Name: fmt.Sprintf("composite sign %v", degs), Group: GroupReference,
		Formula: fmt.Sprintf("x(1+s(x/%.3g))/2, ε=2^%d", B, int(math.Round(math.Log2(eps)))),
		Source:  "Lee et al. 2021 (composite minimax sign)",
		Degree:  total + 1, Depth: cs.Depth(), Metrics: m, eval: cs.Eval,
	}, nil
}

// metricCols are the columns on which the best row is marked; smaller is
// better for all.
var metricCols = []struct {
	key string
	get func(m Metrics) float64
}{
	{"rmse", func(m Metrics) float64 { return m.RMSE }},
	{"mae", func(m Metrics) float64 { return m.MAE }},
	{"max_abs", func(m Metrics) float64 { return m.MaxAbs }},
	{"p99_abs", func(m Metrics) float64 { return m.P99Abs }},
	{"rel_l2", func(m Metrics) float64 { return m.RelL2 }},
	{"rmse_neg", func(m Metrics) float64 { return m.RMSENeg }},
	{"rmse_pos", func(m Metrics) float64 { return m.RMSEPos }},
}

// markBest marks, per column, the best row among the methods and
// baselines (the same depth budget); references are deeper circuits and
// would otherwise win every column.
// Rows within tieTol (relative) of the best value are all marked: the
// direct fit and a kernel fit at a tiny bandwidth, or two equal closed
// forms, differ only by rounding.
func (c *Comparison) markBest() {
	const tieTol = 1e-6
	for _, col := range metricCols {
		best := math.Inf(1)
		for _, r := range c.Rows {
			if r.Group != GroupReference {
				best = math.Min(best, col.get(r.Metrics))
			}
		}
		for i, r := range c.Rows {
			if r.Group != GroupReference && col.get(r.Metrics) <= best*(1+tieTol) {
				c.Rows[i].Best = append(c.Rows[i].Best, col.key)
			}
		}
	}
}

// verdict states, per headline metric, whether the kernel fit beats the
// direct fit; differences below 0.1% are called ties.
func verdict(k, d Metrics) string {
	const tie = 1e-3
	cmpOne := func(name string, kv, dv float64) string {
		switch {
		case kv < dv*(1-tie):
			return fmt.Sprintf("%s: kernel wins (%.4g vs %.4g, %s)", name, kv, dv, relChange(kv, dv))
		case kv > dv*(1+tie):
			return fmt.Sprintf("%s: kernel LOSES (%.4g vs %.4g, %s)", name, kv, dv, relChange(kv, dv))
		}
		return fmt.Sprintf("%s: tie (%.4g vs %.4g)", name, kv, dv)
	}
	return strings.Join([]string{
		cmpOne("RMSE", k.RMSE, d.RMSE),
		cmpOne("max|err|", k.MaxAbs, d.MaxAbs),
		cmpOne("p99|err|", k.P99Abs, d.P99Abs),
	}, "; ")
}

// relChange formats kv against dv as a percentage, or as a ratio when the
// percentage would be unreadable: on an interval where ReLU is linear the
// direct fit is exact to rounding and a percentage printed as
// "+39347329164165561450496.0%".
func relChange(kv, dv float64) string {
	switch {
	case dv <= 0:
		return "direct fit exact"
	case kv/dv >= 100:
		return fmt.Sprintf("%.3g× the direct fit", kv/dv)
	}
	return fmt.Sprintf("%+.1f%%", 100*(kv-dv)/dv)
}

func (r *CompareRow) isBest(key string) bool {
	for _, b := range r.Best {
		if b == key {
			return true
		}
	}
	return false
}

// WriteMarkdown renders the comparison as a Markdown table; the best
// value per column among methods and baselines is bold.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Calibration %s, holdout %s, interval [%.4g, %.4g] (outside it: %.3g%% of calibration, %.3g%% of holdout), ReLU target.\n",
		c.Calibration, c.Holdout, c.Interval[0], c.Interval[1], 100*c.OutsideFrac, 100*c.HoldoutOut)
	fmt.Fprintf(&sb, "Degree %d: Jackson bound %.4g, minimax optimum %.4g. Errors are against ReLU on holdout values inside the interval.\n\n",
		c.Degree, c.Jackson, c.MinimaxOpt)
	sb.WriteString("| method | group | polynomial | depth | RMSE | MAE | max\\|err\\| | p99\\|err\\| | rel L2 | RMSE x<0 | RMSE x≥0 |\n")
	sb.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i := range c.Rows {
		r := &c.Rows[i]
		cell := func(key string, v float64) string {
			s := strconv.FormatFloat(v, 'g', 4, 64)
			if r.isBest(key) {
				return "**" + s + "**"
			}
			return s
		}
		formula := r.Formula
		if len(formula) > 60 {
			formula = "degree " + strconv.Itoa(r.Degree)
		}
		m := r.Metrics
		fmt.Fprintf(&sb, "| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Name, r.Group, formula, r.Depth,
			cell("rmse", m.RMSE), cell("mae", m.MAE), cell("max_abs", m.MaxAbs), cell("p99_abs", m.P99Abs),
			cell("rel_l2", m.RelL2), cell("rmse_neg", m.RMSENeg), cell("rmse_pos", m.RMSEPos))
	}
	fmt.Fprintf(&sb, "\nBold: best among methods and baselines (references are deeper circuits). Kernel vs direct fit: %s.\n", c.KernelVerdict)
	_, err := io.WriteString(w, sb.String())
	return err
}

// WriteCSV renders the comparison as CSV with one row per method.
func (c *Comparison) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"name", "group", "formula", "degree", "depth", "rmse", "mae", "max_abs", "p99_abs", "rel_l2",
		"rmse_neg", "rmse_pos", "outside_frac", "best", "interval_lo", "interval_hi", "calibration", "holdout"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }
	for _, r := range c.Rows {
		m := r.Metrics
		cw.Write([]string{r.Name, r.Group, r.Formula, strconv.Itoa(r.Degree), strconv.Itoa(r.Depth),
			f(m.RMSE), f(m.MAE), f(m.MaxAbs), f(m.P99Abs), f(m.RelL2), f(m.RMSENeg), f(m.RMSEPos), f(m.OutsideFrac),
			strings.Join(r.Best, " "), f(c.Interval[0]), f(c.Interval[1]), c.Calibration, c.Holdout})
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON renders the comparison as indented JSON.
func (c *Comparison) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Write renders in format "md", "csv" or "json".
func (c *Comparison) Write(w io.Writer, format string) error {
	switch strings.ToLower(format) {
	case "md", "markdown", "":
		return c.WriteMarkdown(w)
	case "csv":
		return c.WriteCSV(w)
	case "json":
		return c.WriteJSON(w)
	}
	return fmt.Errorf("approx: unknown format %q (want md, csv or json)", format)
}
