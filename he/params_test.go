package he

import (
	"errors"
	"strings"
	"testing"

	"github.com/tuneinsight/lattigo/v6/ring"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

func TestPresetsSecure(t *testing.T) {
	seen := map[int]bool{}
	for _, p := range Presets() {
		params, err := p.Parameters()
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		bound, _ := MaxLogQP(p.LogN())
		if params.LogQP() > bound {
			t.Errorf("%s: log QP %.1f > %.0f", p.Name, params.LogQP(), bound)
		}
		if params.MaxLevel() != p.Levels() || params.MaxSlots() != p.Slots() {
			t.Errorf("%s: levels %d/%d slots %d/%d", p.Name, params.MaxLevel(), p.Levels(), params.MaxSlots(), p.Slots())
		}
		seen[p.LogN()] = true
	}
	for _, n := range []int{13, 14, 15, 16} {
		if !seen[n] {
			t.Errorf("no preset for LogN %d", n)
		}
	}
}

func TestCheckSecurityRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		lit  ckks.ParametersLiteral
		want string
	}{
		{"modulus too large", ckks.ParametersLiteral{LogN: 13, LogQ: chain(60, 40, 3), LogP: []int{60}, LogDefaultScale: 40}, "exceeds the 128-bit bound"},
		{"ring too small", ckks.ParametersLiteral{LogN: 12, LogQ: []int{40, 30, 30}, LogP: []int{30}, LogDefaultScale: 30}, "exceeds"},
		{"sparse secret", ckks.ParametersLiteral{LogN: 13, LogQ: []int{50, 40}, LogP: []int{50}, LogDefaultScale: 40, Xs: ring.Ternary{H: 64}}, "not uniform ternary"},
		{"small noise", ckks.ParametersLiteral{LogN: 13, LogQ: []int{50, 40}, LogP: []int{50}, LogDefaultScale: 40, Xe: ring.DiscreteGaussian{Sigma: 1, Bound: 6}}, "below"},
		{"ring too large", ckks.ParametersLiteral{LogN: 17, LogQ: []int{50, 40}, LogP: []int{50}, LogDefaultScale: 40}, "outside the security standard"},
	} {
		_, err := NewParameters(tc.lit)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want error containing %q", tc.name, err, tc.want)
		}
	}
	// The SEAL benchmark chains are secure.
	for _, lit := range []ckks.ParametersLiteral{sealChain(13, 2), sealChain(14, 4), sealChain(15, 8)} {
		if _, err := NewParameters(lit); err != nil {
			t.Errorf("SEAL chain LogN %d: %v", lit.LogN, err)
		}
	}
}

func TestNewPlan(t *testing.T) {
	for _, tc := range []struct {
		depth, slots, logN int
		want               string
	}{
		{1, 0, 0, "N13-L3"},
		{3, 0, 0, "N13-L3"},
		{4, 0, 0, "N13-L5"},
		{6, 0, 0, "N14-L6"},
		{7, 0, 0, "N14-L9"},
		{1, 5000, 0, "N14-L6"},
		{10, 0, 0, "N15-L17"},
		{20, 0, 0, "N16-L33"},
		{1, 0, 15, "N15-L17"},
	} {
		p, err := NewPlan(tc.depth, tc.slots, tc.logN)
		if err != nil {
			t.Errorf("depth %d slots %d: %v", tc.depth, tc.slots, err)
			continue
		}
		if p.Preset.Name != tc.want || p.Level != tc.depth {
			t.Errorf("depth %d slots %d LogN %d: got %s level %d, want %s level %d", tc.depth, tc.slots, tc.logN, p.Preset.Name, p.Level, tc.want, tc.depth)
		}
	}
	if _, err := NewPlan(40, 0, 0); !errors.Is(err, ErrNoPreset) {
		t.Errorf("depth 40: got %v", err)
	}
	if _, err := NewPlan(10, 0, 13); !errors.Is(err, ErrNoPreset) {
		t.Errorf("depth 10 at LogN 13: got %v", err)
	}
	if _, err := NewPlan(1, 0, 12); err == nil {
		t.Error("LogN 12 accepted")
	}
}
