package calib

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/krelu/krelu/llama2c"
	"github.com/krelu/krelu/transformer"
)

// SST2Sentences returns the sentences of a GLUE SST-2 TSV file, read by
// transformer.ReadSST2File (the one SST-2 reader), with the trailing
// space of GLUE's PTB-style text trimmed so that a tokenizer does not see
// it. Labels are dropped: calibration needs only the text.
func SST2Sentences(path string) ([]string, error) {
	ex, err := transformer.ReadSST2File(path)
	if err != nil {
		return nil, fmt.Errorf("calib: %w", err)
	}
	out := make([]string, len(ex))
	for i, e := range ex {
		out[i] = strings.TrimSpace(e.Sentence)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("calib: %s: no sentences", path)
	}
	return out, nil
}

// ReadLines returns the non-blank lines of a text file, trimmed; each line
// is one unit (a sentence, or a story on one line).
func ReadLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("calib: %w", err)
	}
	var out []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("calib: %s: no non-blank lines", path)
	}
	return out, nil
}

// Split shuffles the units with a generator seeded by seed and returns the
// first part as calibration (train) units and the last round(frac·n) as
// held-out units. Both parts are non-empty when 0 < frac < 1 and n ≥ 2.
func Split[T any](units []T, frac float64, seed uint64) (train, holdout []T, err error) {
	if math.IsNaN(frac) || frac < 0 || frac >= 1 {
		return nil, nil, fmt.Errorf("calib: hold-out fraction %v not in [0, 1)", frac)
	}
	if len(units) == 0 {
		return nil, nil, errors.New("calib: no units to split")
	}
	idx := rand.New(rand.NewPCG(seed, 1)).Perm(len(units))
	nh := int(math.Round(frac * float64(len(units))))
	if frac > 0 {
		nh = min(max(nh, 1), len(units)-1)
	}
	if nh < 0 || (frac > 0 && len(units) < 2) {
		return nil, nil, fmt.Errorf("calib: cannot hold out a fraction %v of %d units", frac, len(units))
	}
	for i, j := range idx {
		if i < len(units)-nh {
			train = append(train, units[j])
		} else {
			holdout = append(holdout, units[j])
		}
	}
	return train, holdout, nil
}

// Stories samples n stories from the model at temperature 1 with seeds
// seed, seed+1, …, each at most steps tokens, newlines folded to spaces:
// TinyStories-like text (the model's own distribution) for when no
// corpus is at hand. The model's original SiLU is used.
func Stories(m *llama2c.Model, tok *llama2c.Tokenizer, n, steps int, seed uint64) ([]string, error) {
	if n <= 0 || steps < 2 {
		return nil, fmt.Errorf("calib: need n ≥ 1 stories of ≥ 2 steps, have n=%d steps=%d", n, steps)
	}
	out := make([]string, 0, n)
	for i := range n {
		s, _, err := llama2c.Generate(m, tok, llama2c.GenerateOptions{Steps: steps, Temperature: 1, Seed: seed + uint64(i)})
		if err != nil {
			return nil, err
		}
		if s = strings.Join(strings.Fields(s), " "); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}
