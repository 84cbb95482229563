package llama2c

import (
	"errors"
	"fmt"
	lg "github.com/krelu/krelu/internal/logits"
	"math"
	"math/rand/v2"
	"strings"
)

// GenerateOptions configure Generate.
type GenerateOptions struct {
	// Steps is the total number of positions, prompt included, as llama2.c's
	// -n; 0 or more than SeqLen means SeqLen.
	Steps int
	// Temperature 0 is greedy (argmax) decoding; > 0 samples from
	// softmax(logits/Temperature) with a generator seeded by Seed.
	Temperature float64
	Seed        uint64
	// Prompt is encoded with BOS; generation continues after it.
	Prompt string
	// Activation replaces SiLU in every layer when non-nil.
	Activation func(float64) float64
	// Activations, when non-empty, gives one activation per layer (nil
	// entries keep SiLU) and overrides Activation.
	Activations []func(float64) float64
}

// Generate runs llama2.c's generation loop and returns the text after BOS
// (prompt included) and the tokens fed or produced, BOS first. Generation
// stops after Steps positions or when the model emits BOS, as in run.c.
func Generate(m *Model, tok *Tokenizer, opt GenerateOptions) (string, []int, error) {
	if m == nil || tok == nil {
		return "", nil, errors.New("llama2c: Generate needs a model and a tokenizer")
	}
	if tok.VocabSize() != m.VocabSize {
		return "", nil, fmt.Errorf("llama2c: tokenizer has %d pieces, model %d", tok.VocabSize(), m.VocabSize)
	}
	if opt.Temperature < 0 || math.IsNaN(opt.Temperature) || math.IsInf(opt.Temperature, 0) {
		return "", nil, fmt.Errorf("llama2c: temperature %v must be finite and ≥ 0", opt.Temperature)
	}
	steps := opt.Steps
	if steps <= 0 || steps > m.SeqLen {
		steps = m.SeqLen
	}
	prompt, err := tok.Encode(opt.Prompt, true, false)
	if err != nil {
		return "", nil, err
	}
	if len(prompt) > steps {
		return "", nil, fmt.Errorf("llama2c: prompt is %d tokens, more than the %d steps", len(prompt), steps)
	}
	if len(opt.Activations) != 0 && len(opt.Activations) != m.NLayers {
		return "", nil, fmt.Errorf("llama2c: %d activations for %d layers", len(opt.Activations), m.NLayers)
	}
	s := m.NewState()
	s.SetActivation(opt.Activation)
	for l, f := range opt.Activations {
		s.SetLayerActivation(l, f)
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x6b72656c75))
	var sb strings.Builder
	toks := []int{prompt[0]}
	token := prompt[0]
	for pos := 0; pos < steps; pos++ {
		logits, err := s.Forward(token, pos)
		if err != nil {
			return "", nil, err
		}
		var next int
		if pos < len(prompt)-1 {
			next = prompt[pos+1]
		} else if next, err = sample(logits, opt.Temperature, rng); err != nil {
			return sb.String(), toks, fmt.Errorf("llama2c: position %d: %w", pos, err)
		}
		if next == BOS {
			break
		}
		piece, err := tok.Decode(token, next)
		if err != nil {
			return "", nil, err
		}
		sb.WriteString(piece)
		toks = append(toks, next)
		token = next
	}
	return sb.String(), toks, nil
}

func sample(logits []float64, temp float64, rng *rand.Rand) (int, error) {
	for _, v := range logits {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, errors.New("non-finite logits (the activation diverged)")
		}
	}
	if temp == 0 {
		return lg.Argmax(logits), nil
	}
	p := make([]float64, len(logits))
	for i, v := range logits {
		p[i] = v / temp
	}
	lg.Softmax(p)
	r := rng.Float64()
	var cdf float64
	for i, v := range p {
		cdf += v
		if r < cdf {
			return i, nil
		}
	}
	return len(p) - 1, nil
}
