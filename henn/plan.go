package henn

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/krelu/krelu/he"
	"github.com/tuneinsight/lattigo/v6/ring"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// MinHeadroomBits is the least log2(q0/scale) a preset must leave: values
// at the last level must stay below 2^(bits−1) in magnitude, or decryption
// wraps around silently. 8 bits admits logits up to ±128.
const MinHeadroomBits = 8

// ErrTooDeep is wrapped by the planner's error when no preset has enough
// levels (or slots) for a model.
var ErrTooDeep = errors.New("henn: model too deep for the available parameters")

// ParamsChoice is the planner's outcome.
type ParamsChoice struct {
	Preset string // he preset name the chain comes from
	Params ckks.Parameters
	Depth  int // levels the model consumes = the level inputs are encrypted at
}

// ChooseParams picks the smallest secure ring (from package he's presets,
// on the conjugate-invariant ring so every one of the N slots holds a real
// value) with at least depth levels, slots slots and MinHeadroomBits of
// headroom. logN ≠ 0 restricts the choice to that ring degree.
func ChooseParams(depth, slots, logN int) (ParamsChoice, error) {
	if depth < 0 {
		return ParamsChoice{}, fmt.Errorf("henn: negative depth %d", depth)
	}
	presets := he.Presets()
	sort.SliceStable(presets, func(i, j int) bool {
		if presets[i].LogN() != presets[j].LogN() {
			return presets[i].LogN() < presets[j].LogN()
		}
		return presets[i].Levels() < presets[j].Levels()
	})
	var fits []string
	for _, p := range presets {
		lit := p.Literal
		if lit.LogQ[0]-lit.LogDefaultScale < MinHeadroomBits {
			continue
		}
		if p.Levels() >= depth && 1<<lit.LogN >= slots {
			fits = append(fits, fmt.Sprintf("LogN %d (%s)", lit.LogN, p.Name))
		}
	}
	for _, p := range presets {
		lit := p.Literal
		if logN != 0 && lit.LogN != logN {
			continue
		}
		if lit.LogQ[0]-lit.LogDefaultScale < MinHeadroomBits || p.Levels() < depth || 1<<lit.LogN < slots {
			continue
		}
		lit.RingType = ring.ConjugateInvariant
		lit.LogQ = append([]int(nil), lit.LogQ[:depth+1]...) // unused levels only cost time and security margin
		params, err := he.NewParameters(lit)
		if err != nil {
			return ParamsChoice{}, fmt.Errorf("henn: preset %s: %w", p.Name, err)
		}
		return ParamsChoice{Preset: p.Name, Params: params, Depth: depth}, nil
	}
	where := "any preset"
	if logN != 0 {
		where = fmt.Sprintf("LogN %d", logN)
	}
	hint := "none of the presets fits; reduce the depth (fewer layers or activations)"
	if len(fits) > 0 {
		hint = "fits: " + strings.Join(fits, ", ")
	}
	return ParamsChoice{}, fmt.Errorf("%w: it needs %d levels and %d slots, which %s does not offer (%s)", ErrTooDeep, depth, slots, where, hint)
}
