package he

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/tuneinsight/lattigo/v6/ring"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// maxLogQP is the HomomorphicEncryption.org bound on log2(QP) for 128-bit
// classical security with a uniform ternary secret, indexed by LogN.
var maxLogQP = map[int]float64{10: 27, 11: 54, 12: 109, 13: 218, 14: 438, 15: 881, 16: 1772}

// MaxLogQP returns the largest log2(QP) that the HomomorphicEncryption.org
// standard allows at 128-bit security for ring degree 2^logN, and false
// when the standard has no entry for logN.
func MaxLogQP(logN int) (float64, bool) {
	b, ok := maxLogQP[logN]
	return b, ok
}

// minSigma is the smallest error standard deviation the standard's tables
// assume (σ = 8/sqrt(2π) ≈ 3.19).
const minSigma = 3.19

// CheckSecurity reports why p does not meet 128-bit security under the
// HomomorphicEncryption.org standard, or nil when it does.
func CheckSecurity(p ckks.Parameters) error {
	bound, ok := MaxLogQP(p.LogN())
	if !ok {
		return fmt.Errorf("he: LogN %d is outside the security standard's table (10…16)", p.LogN())
	}
	// A conjugate-invariant ring of degree N lives inside the cyclotomic
	// ring of degree 2N, but its own lattice dimension is N, so it is held
	// to the bound of LogN.
	if lqp := p.LogQP(); lqp > bound {
		return fmt.Errorf("he: log2(QP) = %.1f exceeds the 128-bit bound %.0f for LogN %d", lqp, bound, p.LogN())
	}
	switch xs := p.Xs().(type) {
	case ring.Ternary:
		if xs.H != 0 || math.Abs(xs.P-2.0/3) > 1e-9 {
			return fmt.Errorf("he: secret distribution %+v is not uniform ternary (sparse secrets fall outside the standard's table)", xs)
		}
	default:
		return fmt.Errorf("he: secret distribution %T is not uniform ternary", xs)
	}
	switch xe := p.Xe().(type) {
	case ring.DiscreteGaussian:
		if xe.Sigma < minSigma {
			return fmt.Errorf("he: error standard deviation %.3g is below %.2f", xe.Sigma, minSigma)
		}
	default:
		return fmt.Errorf("he: error distribution %T is not a discrete Gaussian", xe)
	}
	return nil
}

// NewParameters builds CKKS parameters from lit and rejects them unless
// they meet 128-bit security (see [CheckSecurity]). Unset Xs and Xe take
// Lattigo's defaults (uniform ternary secret, σ = 3.2).
func NewParameters(lit ckks.ParametersLiteral) (ckks.Parameters, error) {
	p, err := ckks.NewParametersFromLiteral(lit)
	if err != nil {
		return ckks.Parameters{}, fmt.Errorf("he: %w", err)
	}
	if err := CheckSecurity(p); err != nil {
		return ckks.Parameters{}, err
	}
	return p, nil
}

// Preset is a named, 128-bit secure parameter set.
type Preset struct {
	Name    string
	Literal ckks.ParametersLiteral
	// Note says what the preset is for.
	Note string
}

// Parameters instantiates the preset.
func (p Preset) Parameters() (ckks.Parameters, error) { return NewParameters(p.Literal) }

// LogN is the preset's ring degree in log2.
func (p Preset) LogN() int { return p.Literal.LogN }

// Levels is the number of rescalings the preset allows (MaxLevel).
func (p Preset) Levels() int { return len(p.Literal.LogQ) - 1 }

// Slots is the number of complex (standard ring) or real
// (conjugate-invariant ring) slots.
func (p Preset) Slots() int {
	if p.Literal.RingType == ring.ConjugateInvariant {
		return 1 << p.Literal.LogN
	}
	return 1 << (p.Literal.LogN - 1)
}

func rep(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func chain(first, mid, n int) []int { return append([]int{first}, rep(mid, n)...) }

// presets are ordered by LogN, then by depth. Within a LogN the shallow
// preset spends the modulus budget on a larger scale (more precision), the
// deep one on more levels.
var presets = []Preset{
	{Name: "N13-L3", Note: "shallow, scale 2^40",
		Literal: ckks.ParametersLiteral{LogN: 13, LogQ: chain(50, 40, 3), LogP: []int{47}, LogDefaultScale: 40}},
	{Name: "N13-L5", Note: "scale 2^30",
		Literal: ckks.ParametersLiteral{LogN: 13, LogQ: chain(33, 30, 5), LogP: []int{35}, LogDefaultScale: 30}},
	{Name: "N14-L6", Note: "shallow, scale 2^45",
		Literal: ckks.ParametersLiteral{LogN: 14, LogQ: chain(55, 45, 6), LogP: []int{55, 55}, LogDefaultScale: 45}},
	{Name: "N14-L9", Note: "scale 2^34",
		Literal: ckks.ParametersLiteral{LogN: 14, LogQ: chain(45, 34, 9), LogP: []int{44, 42}, LogDefaultScale: 34}},
	{Name: "N15-L17", Note: "scale 2^40",
		Literal: ckks.ParametersLiteral{LogN: 15, LogQ: chain(51, 40, 17), LogP: []int{50, 50, 50}, LogDefaultScale: 40}},
	{Name: "N16-L33", Note: "scale 2^45",
		Literal: ckks.ParametersLiteral{LogN: 16, LogQ: chain(56, 45, 33), LogP: rep(55, 4), LogDefaultScale: 45}},
}

// Presets returns krelu's secure parameter presets, ordered by LogN and
// then by number of levels.
func Presets() []Preset {
	out := make([]Preset, len(presets))
	copy(out, presets)
	for i := range out {
		out[i].Literal.LogQ = append([]int(nil), out[i].Literal.LogQ...)
		out[i].Literal.LogP = append([]int(nil), out[i].Literal.LogP...)
	}
	return out
}

// PresetByName returns the preset called name.
func PresetByName(name string) (Preset, error) {
	for _, p := range Presets() {
		if p.Name == name {
			return p, nil
		}
	}
	return Preset{}, fmt.Errorf("he: no preset named %q", name)
}

// MessageBound returns the largest |value| a ciphertext of p at level 0
// and the default scale can carry: q0/(2·scale). Slots below it keep every
// coefficient of the encoded polynomial below q0/2 (a coefficient is an
// average of slot values); beyond it coefficients can wrap around modulo
// q0 and the whole ciphertext decrypts to garbage. log2 of it is the
// preset's headroom in bits above the scale (N13-L5: 33-bit q0 at scale
// 2^30, so |value| < 4; N14-L6: 55-bit q0 at scale 2^45, |value| < 512).
func MessageBound(p ckks.Parameters) float64 {
	return float64(p.Q()[0]) / (2 * p.DefaultScale().Float64())
}

// Plan is the outcome of [NewPlan]: the parameters to use and the level to
// encrypt at.
type Plan struct {
	Preset Preset
	Params ckks.Parameters
	// Depth is the number of levels the circuit consumes.
	Depth int
	// Level is the level to encrypt fresh ciphertexts at: exactly Depth,
	// since key switching cost grows with the level.
	Level int
	// Slots is the number of slots the caller asked for (≤ Params.MaxSlots()).
	Slots int
}

// ErrNoPreset is returned when no preset can hold the requested circuit.
var ErrNoPreset = errors.New("he: no secure preset fits")

// NewPlan picks the smallest secure preset (smallest LogN, then the
// shallowest chain, which has the largest scale) with at least depth levels
// and slots slots. logN > 0 restricts the choice to that ring degree.
func NewPlan(depth, slots, logN int) (*Plan, error) {
	if depth < 0 {
		return nil, fmt.Errorf("he: negative depth %d", depth)
	}
	if slots < 0 {
		return nil, fmt.Errorf("he: negative slot count %d", slots)
	}
	if logN != 0 {
		if _, ok := MaxLogQP(logN); !ok || logN < 13 {
			return nil, fmt.Errorf("he: LogN %d has no preset (have 13, 14, 15, 16)", logN)
		}
	}
	cands := Presets()
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].LogN() != cands[j].LogN() {
			return cands[i].LogN() < cands[j].LogN()
		}
		return cands[i].Levels() < cands[j].Levels()
	})
	for _, pr := range cands {
		if logN != 0 && pr.LogN() != logN {
			continue
		}
		if pr.Levels() < depth || pr.Slots() < slots {
			continue
		}
		params, err := pr.Parameters()
		if err != nil {
			return nil, err
		}
		return &Plan{Preset: pr, Params: params, Depth: depth, Level: depth, Slots: slots}, nil
	}
	if logN != 0 {
		return nil, fmt.Errorf("%w: depth %d, %d slots at LogN %d", ErrNoPreset, depth, slots, logN)
	}
	return nil, fmt.Errorf("%w: depth %d, %d slots (deepest preset has %d levels, widest %d slots; bootstrapping is not supported)",
		ErrNoPreset, depth, slots, presets[len(presets)-1].Levels(), presets[len(presets)-1].Slots())
}
