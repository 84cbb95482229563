package llama2c

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestActivationAndHook(t *testing.T) {
	m, tok := embeddedTok(t)
	ids, err := tok.Encode("Once upon a time", true, false)
	if err != nil {
		t.Fatal(err)
	}
	run := func(f func(float64) float64, hook FFNHook) []float64 {
		s := m.NewState()
		s.SetActivation(f)
		s.SetFFNHook(hook)
		var out []float64
		for pos, id := range ids {
			logits, err := s.Forward(id, pos)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, logits...)
		}
		return out
	}
	calls := map[int]int{}
	var maxAbs float64
	base := run(nil, func(layer, pos int, pre []float64) {
		if len(pre) != m.HiddenDim {
			t.Fatalf("hook got %d values, want %d", len(pre), m.HiddenDim)
		}
		calls[layer]++
		for _, v := range pre {
			maxAbs = math.Max(maxAbs, math.Abs(v))
		}
	})
	for l := range m.NLayers {
		if calls[l] != len(ids) {
			t.Errorf("layer %d: hook called %d times, want %d", l, calls[l], len(ids))
		}
	}
	if !(maxAbs > 0.1 && maxAbs < 100) {
		t.Errorf("pre-activations max |x| = %v, implausible", maxAbs)
	}
	silu := run(func(x float64) float64 { return x * (1 / (1 + math.Exp(-x))) }, nil)
	relu := run(func(x float64) float64 { return math.Max(x, 0) }, nil)
	var dSilu, dRelu float64
	for i := range base {
		dSilu = math.Max(dSilu, math.Abs(base[i]-silu[i]))
		dRelu = math.Max(dRelu, math.Abs(base[i]-relu[i]))
	}
	if dSilu > 1e-12 {
		t.Errorf("explicit SiLU differs from the default by %g", dSilu)
	}
	if dRelu < 1e-3 {
		t.Errorf("ReLU in place of SiLU changed the logits by only %g", dRelu)
	}
}

func TestForwardErrors(t *testing.T) {
	m, _ := embeddedTok(t)
	s := m.NewState()
	if _, err := s.Forward(512, 0); err == nil {
		t.Error("token 512 accepted")
	}
	if _, err := s.Forward(1, 512); err == nil {
		t.Error("position 512 accepted")
	}
	if _, _, err := Generate(m, nil, GenerateOptions{Temperature: -1}); err == nil {
		t.Error("nil tokenizer / negative temperature accepted")
	}
}

// A huge polynomial activation overflows the residual stream; RMSNorm used
// to turn the infinite stream into zeros, and greedy decoding then emitted
// <unk> (token 0) forever with no error.
func TestForwardDiverged(t *testing.T) {
	m, tok := embeddedTok(t)
	s := m.NewState()
	s.SetActivation(func(x float64) float64 { return 1e300 * (1 + x*x) })
	if _, err := s.Forward(BOS, 0); !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "no longer finite") {
		t.Errorf("Forward: err = %v", err)
	}
	_, _, err := Generate(m, tok, GenerateOptions{Steps: 4, Activation: func(x float64) float64 { return 1e300 * (1 + x*x) }})
	if err == nil {
		t.Error("Generate with a diverging activation succeeded")
	}
}

func TestSampleDeterministic(t *testing.T) {
	m, tok := embeddedTok(t)
	a, _, err := Generate(m, tok, GenerateOptions{Steps: 30, Temperature: 1, Seed: 7, Prompt: "Tom had a dog"})
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := Generate(m, tok, GenerateOptions{Steps: 30, Temperature: 1, Seed: 7, Prompt: "Tom had a dog"})
	if a != b || len(a) < len("Tom had a dog")+5 || a[:13] != "Tom had a dog" {
		t.Errorf("sampling not reproducible or prompt lost: %q vs %q", a, b)
	}
}

func ExampleGenerate() {
	m, tok, err := Embedded()
	if err != nil {
		fmt.Println(err)
		return
	}
	text, _, err := Generate(m, tok, GenerateOptions{Steps: 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(text)
	// Output: Once upon a time, there was a little girl named Lily. She loved to play
}

func TestCompare(t *testing.T) {
	m, tok := embeddedTok(t)
	var seqs [][]int
	for _, s := range []string{"Lily saw a big red ball.", "Tom was sad. He went home."} {
		ids, err := tok.Encode(s, true, false)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, ids)
	}
	same, err := Compare(m, seqs, SiLU)
	if err != nil {
		t.Fatal(err)
	}
	if same.Top1Agreement != 1 || same.KL > 1e-12 || math.Abs(same.Perplexity-same.RefPerplexity) > 1e-9 {
		t.Errorf("SiLU vs itself: %+v", same)
	}
	// TinyStories text is easy for this model: perplexity well below vocab size.
	if !(same.RefPerplexity > 1 && same.RefPerplexity < 50) {
		t.Errorf("reference perplexity %v implausible", same.RefPerplexity)
	}
	relu, err := Compare(m, seqs, func(x float64) float64 { return math.Max(x, 0) })
	if err != nil {
		t.Fatal(err)
	}
	if !(relu.KL > 1e-4) || relu.Top1Agreement > 1 {
		t.Errorf("ReLU vs SiLU: %+v", relu)
	}
	blow, err := Compare(m, seqs, func(x float64) float64 { return math.Inf(1) })
	if err != nil {
		t.Fatal(err)
	}
	if blow.Diverged != blow.Positions || !math.IsInf(blow.Perplexity, 1) {
		t.Errorf("diverging activation: %+v", blow)
	}
}
