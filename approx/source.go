package approx

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/krelu/krelu/npy"
)

// Source is calibration or held-out data for a fit: either a Dist, whose
// integrals are computed by quadrature, or a *Sample of values.
type Source interface {
	// Name is a spec that ParseSource maps back to an equal source (for
	// files, the path).
	Name() string
}

// Dist is an analytic distribution of pre-activation values.
type Dist interface {
	Source
	PDF(x float64) float64
	CDF(x float64) float64
	Quantile(p float64) float64
}

// Normal is N(Mu, Sigma²).
type Normal struct{ Mu, Sigma float64 }

func (d Normal) dist() distuv.Normal { return distuv.Normal{Mu: d.Mu, Sigma: d.Sigma} }

// Name implements Source.
func (d Normal) Name() string { return "normal:" + fmtF(d.Mu) + "," + fmtF(d.Sigma) }

// PDF implements Dist.
func (d Normal) PDF(x float64) float64 { return d.dist().Prob(x) }

// CDF implements Dist.
func (d Normal) CDF(x float64) float64 { return d.dist().CDF(x) }

// Quantile implements Dist.
func (d Normal) Quantile(p float64) float64 { return d.dist().Quantile(p) }

// Uniform is the uniform distribution on [A, B].
type Uniform struct{ A, B float64 }

// Name implements Source.
func (d Uniform) Name() string { return "uniform:" + fmtF(d.A) + "," + fmtF(d.B) }

// PDF implements Dist.
func (d Uniform) PDF(x float64) float64 {
	if x < d.A || x > d.B {
		return 0
	}
	return 1 / (d.B - d.A)
}

// CDF implements Dist.
func (d Uniform) CDF(x float64) float64 {
	return math.Max(0, math.Min(1, (x-d.A)/(d.B-d.A)))
}

// Quantile implements Dist.
func (d Uniform) Quantile(p float64) float64 { return d.A + p*(d.B-d.A) }

// Laplace is the Laplace distribution with location Mu and scale B
// (variance 2B²).
type Laplace struct{ Mu, B float64 }

func (d Laplace) dist() distuv.Laplace { return distuv.Laplace{Mu: d.Mu, Scale: d.B} }

// Name implements Source.
func (d Laplace) Name() string {
	if d.Mu == 0 {
		return "laplace:" + fmtF(d.B)
	}
	return "laplace:" + fmtF(d.B) + "," + fmtF(d.Mu)
}

// PDF implements Dist.
func (d Laplace) PDF(x float64) float64 { return d.dist().Prob(x) }

// CDF implements Dist.
func (d Laplace) CDF(x float64) float64 { return d.dist().CDF(x) }

// Quantile implements Dist.
func (d Laplace) Quantile(p float64) float64 { return d.dist().Quantile(p) }

// StudentT is Student's t with Nu degrees of freedom, location Mu and
// scale Sigma. For Nu ≤ 4 the fourth moment is infinite, so the mean
// square error of a quadratic over the whole line is too; metrics are
// therefore taken on the fit interval (see EvalMetrics).
type StudentT struct{ Nu, Mu, Sigma float64 }

func (d StudentT) dist() distuv.StudentsT {
	return distuv.StudentsT{Nu: d.Nu, Mu: d.Mu, Sigma: d.Sigma}
}

// Name implements Source.
func (d StudentT) Name() string {
	if d.Mu == 0 && d.Sigma == 1 {
		return "t:" + fmtF(d.Nu)
	}
	return "t:" + fmtF(d.Nu) + "," + fmtF(d.Mu) + "," + fmtF(d.Sigma)
}

// PDF implements Dist.
func (d StudentT) PDF(x float64) float64 { return d.dist().Prob(x) }

// CDF implements Dist.
func (d StudentT) CDF(x float64) float64 { return d.dist().CDF(x) }

// Quantile implements Dist.
func (d StudentT) Quantile(p float64) float64 {
	if p <= 0 {
		return math.Inf(-1)
	}
	if p >= 1 {
		return math.Inf(1)
	}
	return d.dist().Quantile(p)
}

// Mixture is a finite mixture of distributions. Weights are normalised
// by NewMixture.
type Mixture struct {
	Weights    []float64
	Components []Dist
}

// NewMixture validates and normalises a mixture.
func NewMixture(weights []float64, comps []Dist) (*Mixture, error) {
	if len(comps) == 0 || len(weights) != len(comps) {
		return nil, fmt.Errorf("approx: mixture needs one weight per component, have %d weights for %d components", len(weights), len(comps))
	}
	var s float64
	for _, w := range weights {
		if !(w > 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("approx: mixture weight %v is not positive and finite", w)
		}
		s += w
	}
	m := &Mixture{Weights: make([]float64, len(weights)), Components: comps}
	for i, w := range weights {
		m.Weights[i] = w / s
	}
	return m, nil
}

// Name implements Source.
func (m *Mixture) Name() string {
	parts := make([]string, len(m.Components))
	for i, c := range m.Components {
		parts[i] = fmtF(m.Weights[i]) + "@" + c.Name()
	}
	return "mix:" + strings.Join(parts, "+")
}

// PDF implements Dist.
func (m *Mixture) PDF(x float64) float64 {
	var s float64
	for i, c := range m.Components {
		s += m.Weights[i] * c.PDF(x)
	}
	return s
}

// CDF implements Dist.
func (m *Mixture) CDF(x float64) float64 {
	var s float64
	for i, c := range m.Components {
		s += m.Weights[i] * c.CDF(x)
	}
	return s
}

// Quantile implements Dist by bisection on the CDF.
func (m *Mixture) Quantile(p float64) float64 {
	if p <= 0 || p >= 1 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, c := range m.Components {
			lo = math.Min(lo, c.Quantile(p))
			hi = math.Max(hi, c.Quantile(p))
		}
		if p <= 0 {
			return lo
		}
		return hi
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range m.Components {
		lo = math.Min(lo, c.Quantile(p))
		hi = math.Max(hi, c.Quantile(p))
	}
	// The mixture quantile lies between the components' quantiles.
	for i := 0; i < 200 && hi-lo > 1e-15*math.Max(1, math.Abs(lo)); i++ {
		mid := lo + (hi-lo)/2
		if m.CDF(mid) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + (hi-lo)/2
}

// Sample is a finite set of values, e.g. recorded pre-activations.
type Sample struct {
	Label string
	X     []float64
}

// Name implements Source.
func (s *Sample) Name() string { return s.Label }

// Validate rejects empty samples and non-finite values.
func (s *Sample) Validate() error {
	if s == nil || len(s.X) == 0 {
		return fmt.Errorf("approx: sample %q is empty", labelOf(s))
	}
	for i, v := range s.X {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("approx: sample %q: value %d is %v", s.Label, i, v)
		}
	}
	return nil
}

func labelOf(s *Sample) string {
	if s == nil {
		return ""
	}
	return s.Label
}

// NewSample copies nothing: it wraps x and validates it.
func NewSample(label string, x []float64) (*Sample, error) {
	s := &Sample{Label: label, X: x}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// ParseSource parses a calibration source spec:
//
//	normal                 N(0,1)
//	normal:MU,SIGMA        N(MU, SIGMA²)
//	uniform:A,B            uniform on [A,B]
//	laplace:B[,MU]         Laplace with scale B
//	t:NU[,MU,SIGMA]        Student's t
//	mix:W@SPEC+W@SPEC…     mixture of the above (weights normalised)
//	PATH                   a .npy file (any supported dtype, flattened) or
//	                       a text file of whitespace-separated values
//	                       ('#' starts a comment)
func ParseSource(spec string) (Source, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("approx: empty source spec")
	}
	if d, ok, err := parseDist(spec); ok {
		return d, err
	}
	return LoadSample(spec)
}

// parseDist parses analytic specs; ok is false when spec names no known
// distribution family (and should then be read as a file).
func parseDist(spec string) (d Dist, ok bool, err error) {
	name, args, _ := strings.Cut(spec, ":")
	name = strings.ToLower(name)
	switch name {
	case "normal", "gauss", "gaussian", "uniform", "laplace", "t", "student", "mix", "mixture":
	default:
		return nil, false, nil
	}
	if name == "mix" || name == "mixture" {
		m, err := parseMixture(args)
		return m, true, err
	}
	var nums []float64
	if args != "" {
		for _, f := range strings.Split(args, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, true, fmt.Errorf("approx: source %q: bad number %q", spec, f)
			}
			nums = append(nums, v)
		}
	}
	bad := func(want string) (Dist, bool, error) {
		return nil, true, fmt.Errorf("approx: source %q: want %s", spec, want)
	}
	switch name {
	case "normal", "gauss", "gaussian":
		switch len(nums) {
		case 0:
			return Normal{0, 1}, true, nil
		case 2:
			if nums[1] <= 0 {
				return bad("a positive SIGMA in normal:MU,SIGMA")
			}
			return Normal{nums[0], nums[1]}, true, nil
		}
		return bad("normal or normal:MU,SIGMA")
	case "uniform":
		if len(nums) != 2 || !(nums[0] < nums[1]) {
			return bad("uniform:A,B with A < B")
		}
		return Uniform{nums[0], nums[1]}, true, nil
	case "laplace":
		switch len(nums) {
		case 0:
			return Laplace{0, 1}, true, nil
		case 1, 2:
			if nums[0] <= 0 {
				return bad("a positive scale in laplace:B[,MU]")
			}
			l := Laplace{B: nums[0]}
			if len(nums) == 2 {
				l.Mu = nums[1]
			}
			return l, true, nil
		}
		return bad("laplace:B or laplace:B,MU")
	default: // t
		switch len(nums) {
		case 1:
			if nums[0] <= 0 {
				return bad("positive degrees of freedom in t:NU")
			}
			return StudentT{nums[0], 0, 1}, true, nil
		case 3:
			if nums[0] <= 0 || nums[2] <= 0 {
				return bad("positive NU and SIGMA in t:NU,MU,SIGMA")
			}
			return StudentT{nums[0], nums[1], nums[2]}, true, nil
		}
		return bad("t:NU or t:NU,MU,SIGMA")
	}
}

func parseMixture(args string) (*Mixture, error) {
	if args == "" {
		return nil, errors.New("approx: mix: no components (want mix:W@SPEC+W@SPEC…)")
	}
	var ws []float64
	var cs []Dist
	for _, part := range strings.Split(args, "+") {
		w := 1.0
		spec := part
		if ws, sp, found := strings.Cut(part, "@"); found {
			v, err := strconv.ParseFloat(ws, 64)
			if err != nil {
				return nil, fmt.Errorf("approx: mix: bad weight %q", ws)
			}
			w, spec = v, sp
		}
		d, ok, err := parseDist(spec)
		if !ok {
			return nil, fmt.Errorf("approx: mix: unknown component %q", spec)
		}
		if err != nil {
			return nil, err
		}
		if _, nested := d.(*Mixture); nested {
			return nil, errors.New("approx: mix: nested mixtures are not supported")
		}
		ws = append(ws, w)
		cs = append(cs, d)
	}
	return NewMixture(ws, cs)
}

// LoadSample reads a sample file: .npy (flattened, any supported dtype)
// or text with whitespace-separated values and '#' comments.
func LoadSample(path string) (*Sample, error) {
	var x []float64
	if strings.EqualFold(filepath.Ext(path), ".npy") {
		d, _, err := npy.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("approx: reading samples: %w", err)
		}
		x = d
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("approx: reading samples: %w", err)
		}
		defer f.Close()
		if x, err = readSampleText(f, path); err != nil {
			return nil, err
		}
	}
	return NewSample(path, x)
}

// readSampleText reads whitespace-separated finite numbers, with "#"
// starting a comment, from lines of at most 16 MB; name labels errors.
func readSampleText(r io.Reader, name string) ([]float64, error) {
	var x []float64
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	line := 0
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		for _, field := range strings.Fields(text) {
			v, err := strconv.ParseFloat(field, 64)
			if errors.Is(err, strconv.ErrRange) {
				return nil, fmt.Errorf("approx: %s:%d: %q is outside the float64 range", name, line, field)
			}
			if err != nil {
				return nil, fmt.Errorf("approx: %s:%d: %q is not a number", name, line, field)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("approx: %s:%d: value is %v", name, line, v)
			}
			x = append(x, v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("approx: reading %s: %w", name, err)
	}
	return x, nil
}

func fmtF(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Draw returns n pseudo-random draws from d with a fixed seed, for
// simulated calibration and held-out data (demo, tests). Normal, uniform,
// Laplace, Student t and mixtures are sampled directly; any other Dist by
// inverting its quantile function.
func Draw(d Dist, n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x6b72656c75))
	x := make([]float64, n)
	for i := range x {
		x[i] = drawOne(d, rng)
	}
	return x
}

func drawOne(d Dist, rng *rand.Rand) float64 {
	switch d := d.(type) {
	case Normal:
		return d.Mu + d.Sigma*rng.NormFloat64()
	case Uniform:
		return d.A + (d.B-d.A)*rng.Float64()
	case Laplace:
		e := rng.ExpFloat64()
		if rng.IntN(2) == 0 {
			e = -e
		}
		return d.Mu + d.B*e
	case StudentT:
		// Z / sqrt(V/ν) with V ~ χ²_ν = 2·Gamma(ν/2).
		v := distuv.Gamma{Alpha: d.Nu / 2, Beta: 0.5, Src: rng}.Rand()
		return d.Mu + d.Sigma*rng.NormFloat64()/math.Sqrt(v/d.Nu)
	case *Mixture:
		u := rng.Float64()
		for i, w := range d.Weights {
			if u < w || i == len(d.Weights)-1 {
				return drawOne(d.Components[i], rng)
			}
			u -= w
		}
	}
	for {
		u := rng.Float64()
		if u > 0 {
			return d.Quantile(u)
		}
	}
}
