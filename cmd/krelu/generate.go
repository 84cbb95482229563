package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/llama2c"
)

func init() {
	register(command{name: "generate", summary: "generate text with a llama2.c model (stories260K by default)", run: runGenerate})
}

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate", stderr)
	modelPath := fs.String("model", "", "llama2.c checkpoint (legacy format); default: the embedded stories260K")
	tokPath := fs.String("tokenizer", "", "llama2.c tokenizer.bin; default: the embedded tok512")
	steps := fs.Int("steps", 256, "positions to run, prompt included (≤ seq_len)")
	temp := fs.Float64("temperature", 0, "sampling temperature; 0 is greedy decoding")
	seed := fs.Uint64("seed", 0, "random seed for temperature > 0")
	actPath := fs.String("activation", "", "krelu.activation/v1 JSON whose polynomial replaces SiLU in every FFN, or one file per layer, comma-separated (as krelu distill -o writes)")
	prompt := fs.String("prompt", "", "text to continue")
	setUsage(fs, stderr, "krelu generate [--model FILE] [--tokenizer FILE] [--steps 256] [--temperature 0] [--prompt TEXT] [--activation FILE.json]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// --steps ≤ seq_len is checked once the model is read (its header).
	if err := firstErr(intRange("steps", *steps, 1, 1<<20), nonNegFloat("temperature", *temp)); err != nil {
		return err
	}
	m, tok, err := loadLlama(*modelPath, *tokPath)
	if err != nil {
		return err
	}
	if err := intRange("steps", *steps, 1, m.SeqLen); err != nil {
		return fmt.Errorf("%w (the model's seq_len is %d)", err, m.SeqLen)
	}
	var acts []func(float64) float64
	if *actPath != "" {
		paths := strings.Split(*actPath, ",")
		if len(paths) != 1 && len(paths) != m.NLayers {
			return fmt.Errorf("%w: --activation lists %d files; want 1 or one per layer (%d)", errUsage, len(paths), m.NLayers)
		}
		for _, p := range paths {
			a, err := approx.ReadActivationFile(p)
			if err != nil {
				return err
			}
			acts = append(acts, a.Poly().Eval)
			where := fmt.Sprintf("in all %d layers", m.NLayers)
			if len(paths) > 1 {
				where = fmt.Sprintf("in layer %d", len(acts)-1)
			}
			fmt.Fprintf(stderr, "activation: %s degree %d (target %s, kernel %s) %s\n", a.Method, a.Degree, a.Target, a.Kernel, where)
		}
		for len(acts) < m.NLayers {
			acts = append(acts, acts[0])
		}
	}
	text, _, err := llama2c.Generate(m, tok, llama2c.GenerateOptions{
		Steps: *steps, Temperature: *temp, Seed: *seed, Prompt: *prompt, Activations: acts,
	})
	fmt.Fprintln(stdout, text)
	return err
}

// loadLlama reads the model and tokenizer at the given paths; an empty
// path selects the embedded stories260K model or its tok512 tokenizer.
func loadLlama(modelPath, tokPath string) (*llama2c.Model, *llama2c.Tokenizer, error) {
	m, tok, err := llama2c.Embedded()
	if err != nil {
		return nil, nil, err
	}
	if modelPath != "" {
		if m, err = llama2c.ReadFile(modelPath); err != nil {
			return nil, nil, err
		}
		if tokPath == "" && m.VocabSize != tok.VocabSize() {
			return nil, nil, fmt.Errorf("%w: %s has a %d-token vocabulary; give its --tokenizer", errUsage, modelPath, m.VocabSize)
		}
	}
	if tokPath != "" {
		if tok, err = llama2c.ReadTokenizerFile(tokPath, m.VocabSize); err != nil {
			return nil, nil, err
		}
	}
	return m, tok, nil
}
