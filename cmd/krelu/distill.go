package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/krelu/krelu/llama2c"
	"io"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/calib"
	"github.com/krelu/krelu/distill"
)

func init() {
	register(command{name: "distill", summary: "replace SiLU by degree-2 polynomials in a llama2.c model and fine-tune it on the original's outputs", run: runDistill})
}

func runDistill(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("distill", stderr)
	modelPath := fs.String("model", "", "llama2.c checkpoint (the teacher); default: the embedded stories260K")
	tokPath := fs.String("tokenizer", "", "llama2.c tokenizer; default: the embedded tok512")
	stories := fs.Int("stories", 200, "stories sampled from the teacher (as krelu calibrate --text stories:N), split into training and held-out")
	frac := fs.Float64("holdout-frac", 0.2, "fraction of stories (and of SST-2 sentences) held out, as in krelu calibrate")
	seed := fs.Uint64("seed", 1, "seed of the story sampler, the split, the batches and the random start")
	sst2 := fs.Bool("sst2", true, "also score on the held-out SST-2 dev sentences (needs scripts/setup.sh data)")
	evalStories := fs.Int("eval-stories", 0, "score on the first N held-out stories only (0 = all); SST-2 is always scored in full")
	starts := fs.String("starts", strings.Join(distill.StartNames, ","), "comma-separated starting points: "+strings.Join(distill.StartNames, ", "))
	steps := fs.String("steps", "0,100,300", "comma-separated training budgets (steps) at which to score, ascending; each run trains to the last")
	batch := fs.Int("batch", 8, "sequences per step")
	maxLen := fs.Int("max-len", 128, "tokens per training sequence (the first N of a story)")
	lr := fs.Float64("lr", 1e-3, "Adam learning rate")
	ce := fs.Float64("ce", 0, "weight of the next-token cross-entropy beside the KL to the teacher")
	clip := fs.Float64("clip", 1, "global gradient-norm clip (0 = none)")
	freeze := fs.Bool("freeze-gate", false, "keep the polynomial coefficients at their starting values")
	workers := fs.Int("workers", min(2, runtime.NumCPU()), "goroutines over the sequences of a batch")
	calibN := fs.Int("calib-values", 50000, "pre-activations kept per layer for the kernel and direct fits")
	sampleSteps := fs.Int("sample-steps", 128, "positions of the greedy samples printed (0 = none)")
	maxTime := fs.Duration("max-time", 0, "stop before the next budget once this much time has passed, every start at the same budget (0 = no limit)")
	asJSON := fs.Bool("json", false, "print the result as JSON instead of Markdown")
	out := fs.String("o", "", "write the best run's checkpoint as PREFIX.bin and its per-layer activations as PREFIX.L{l}.json")
	saveStart := fs.String("save", "best", "which run -o writes: best (lowest final KL to the original on SST-2, else on the stories) or a start name")
	setUsage(fs, stderr, "krelu distill [--stories 200] [--starts kernel,direct,…] [--steps 0,100,300] [--batch 8] [--max-len 128] [--lr 1e-3] [--json] [-o PREFIX]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *stories < 2 || *stories > 100000:
		return fmt.Errorf("%w: --stories %d must be in [2, 100000]", errUsage, *stories)
	case !(*frac > 0 && *frac < 1):
		return fmt.Errorf("%w: --holdout-frac %v must be in (0, 1)", errUsage, *frac)
	case *evalStories < 0:
		return fmt.Errorf("%w: --eval-stories %d must be ≥ 0", errUsage, *evalStories)
	case *batch < 1 || *batch > 1024:
		return fmt.Errorf("%w: --batch %d must be in [1, 1024]", errUsage, *batch)
	case !(*lr > 0) || *lr > 1 || math.IsInf(*lr, 0):
		return fmt.Errorf("%w: --lr %v must be in (0, 1]", errUsage, *lr)
	case !(*ce >= 0) || math.IsInf(*ce, 0):
		return fmt.Errorf("%w: --ce %v must be finite and ≥ 0", errUsage, *ce)
	case !(*clip >= 0) || math.IsInf(*clip, 0):
		return fmt.Errorf("%w: --clip %v must be finite and ≥ 0 (0 = none)", errUsage, *clip)
	case *workers < 1 || *workers > 256:
		return fmt.Errorf("%w: --workers %d must be in [1, 256]", errUsage, *workers)
	case *calibN < 100:
		return fmt.Errorf("%w: --calib-values %d must be ≥ 100", errUsage, *calibN)
	case *maxTime < 0:
		return fmt.Errorf("%w: --max-time %v must be ≥ 0 (0 = no limit)", errUsage, *maxTime)
	case *sampleSteps < 0:
		return fmt.Errorf("%w: --sample-steps %d must be ≥ 0", errUsage, *sampleSteps)
	}
	var startList []string
	for _, s := range strings.Split(*starts, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(distill.StartNames, s) {
			return fmt.Errorf("%w: --starts entry %q (want one of %s)", errUsage, s, strings.Join(distill.StartNames, ", "))
		}
		if slices.Contains(startList, s) {
			return fmt.Errorf("%w: --starts lists %q twice", errUsage, s)
		}
		startList = append(startList, s)
	}
	if *saveStart != "best" && !slices.Contains(startList, *saveStart) {
		return fmt.Errorf("%w: --save %q (want best or one of --starts: %s)", errUsage, *saveStart, strings.Join(startList, ", "))
	}
	var budgets []int
	for _, s := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 || n > 1000000 || (len(budgets) > 0 && n <= budgets[len(budgets)-1]) {
			return fmt.Errorf("%w: --steps entry %q (want strictly ascending integers in [0, 1000000])", errUsage, s)
		}
		budgets = append(budgets, n)
	}
	m, tok, err := loadLlama(*modelPath, *tokPath)
	if err != nil {
		return err
	}
	if *maxLen < 2 || *maxLen >= m.SeqLen {
		return fmt.Errorf("%w: --max-len %d must be in [2, %d] (the model's seq_len − 1)", errUsage, *maxLen, m.SeqLen-1)
	}
	var sstUnits []string
	if *sst2 {
		// Read first: a missing data set fails before the story sampling.
		if sstUnits, err = calibUnits("sst2", m, tok, *seed); err != nil {
			return err
		}
	}
	units, err := sampleStories(m, tok, *stories, *seed, *workers)
	if err != nil {
		return err
	}
	trainU, holdU, err := calib.Split(units, *frac, *seed)
	if err != nil {
		return err
	}
	trainSeqs, err := calib.Tokenize(m, tok, trainU)
	if err != nil {
		return err
	}
	holdSeqs, err := calib.Tokenize(m, tok, holdU)
	if err != nil {
		return err
	}
	if *evalStories > 0 && len(holdSeqs) > *evalStories {
		holdSeqs = holdSeqs[:*evalStories]
	}
	evals := []distill.EvalSet{{Name: fmt.Sprintf("sampled stories (%d held out of %d)", len(holdSeqs), len(units)), Seqs: holdSeqs}}
	if *sst2 {
		_, sstHold, err := calib.Split(sstUnits, *frac, *seed)
		if err != nil {
			return err
		}
		seqs, err := calib.Tokenize(m, tok, sstHold)
		if err != nil {
			return err
		}
		evals = append(evals, distill.EvalSet{Name: fmt.Sprintf("SST-2 dev sentences (%d held out of %d)", len(seqs), len(sstUnits)), Seqs: seqs})
	}
	opt := distill.Options{Teacher: m, Train: trainSeqs, Evals: evals, Starts: startList, Budgets: budgets, Batch: *batch,
		MaxLen: *maxLen, LR: *lr, CE: *ce, Clip: *clip, FreezeGate: *freeze, Seed: *seed, Workers: *workers, CalibValues: *calibN, MaxTime: *maxTime, Log: stderr}
	res, err := distill.Run(opt)
	if err != nil {
		return err
	}
	var samples map[string]string
	if *sampleSteps > 0 {
		if samples, err = res.Sample(m, tok, "", min(*sampleSteps, m.SeqLen)); err != nil {
			return err
		}
	}
	var saved []string
	if *out != "" {
		which := *saveStart
		if which == "best" {
			if which, err = res.Best(evals[len(evals)-1].Name); err != nil {
				return err
			}
		}
		if saved, err = res.Save(which, *out); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "saved %s (start %s); run it with: krelu generate --model %s --activation %s\n", saved[0], which, saved[0], strings.Join(saved[1:], ","))
	}
	if *asJSON {
		b, err := json.MarshalIndent(struct {
			*distill.Result
			Samples map[string]string `json:"samples,omitempty"`
			Saved   []string          `json:"saved,omitempty"`
		}{res, samples, saved}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(stdout, "training text: %d sampled stories (train split of %d, seed %d), first %d tokens each\n\n", len(trainSeqs), len(units), *seed, *maxLen)
	if err := res.WriteMarkdown(stdout, opt); err != nil {
		return err
	}
	if len(samples) > 0 {
		fmt.Fprintf(stdout, "\n#### Greedy samples (%d positions, empty prompt)\n\n", *sampleSteps)
		names := make([]string, 0, len(samples))
		for n := range samples {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(stdout, "- **%s**: %s\n", n, strings.Join(strings.Fields(samples[n]), " "))
		}
	}
	if len(saved) > 0 {
		fmt.Fprintf(stdout, "\nSaved: %s\n", strings.Join(relPaths(saved), ", "))
	}
	return nil
}

func relPaths(p []string) []string {
	out := make([]string, len(p))
	for i, s := range p {
		out[i] = filepath.ToSlash(s)
	}
	return out
}

// sampleStories returns the same stories as calibUnits("stories:N") —
// calib.Stories with seeds seed·1000003 + i — sampled on several
// goroutines in contiguous chunks, which keeps their order.
func sampleStories(m *llama2c.Model, tok *llama2c.Tokenizer, n int, seed uint64, workers int) ([]string, error) {
	chunks := make([][]string, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for k := range workers {
		lo, hi := k*per, min(n, (k+1)*per)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			chunks[k], errs[k] = calib.Stories(m, tok, hi-lo, 256, seed*1000003+uint64(lo))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.Concat(chunks...), nil
}

func init() {
	register(command{name: "llm-he", summary: "run a distilled llama2.c model with every FFN block under CKKS; next-token agreement with plaintext", run: runLLMHE})
}

func runLLMHE(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("llm-he", stderr)
	modelPath := fs.String("model", "", "llama2.c checkpoint of the distilled model (required), e.g. llama2c/model/stories260K-q2.bin")
	tokPath := fs.String("tokenizer", "", "llama2.c tokenizer; default: the embedded tok512")
	actPaths := fs.String("activation", "", "the quadratics: one krelu.activation/v1 file per layer, comma-separated, or one for all layers (required)")
	text := fs.String("text", "sst2", "held-out text: sst2 | FILE.tsv | stories:N (as krelu calibrate)")
	frac := fs.Float64("holdout-frac", 0.2, "fraction of units held out, as in krelu calibrate")
	seed := fs.Uint64("seed", 1, "seed of the split")
	units := fs.Int("units", 60, "score the first N held-out units (all their positions must fit in one ciphertext's slots)")
	logN := fs.Int("logn", 0, "CKKS ring degree log2 (13..16); 0 = 14. A preset whose last level cannot carry 2× the largest plaintext FFN output is refused (N13 holds |y| < 4, N14 |y| < 512)")
	workers := fs.Int("workers", min(2, runtime.NumCPU()), "goroutines over the hidden units")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	setUsage(fs, stderr, "krelu llm-he --model FILE.bin --activation L0.json,…,L4.json [--text sst2] [--units 60] [--logn 0] [--json]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *modelPath == "":
		return fmt.Errorf("%w: --model is required (the distilled checkpoint)", errUsage)
	case *actPaths == "":
		return fmt.Errorf("%w: --activation is required (one quadratic per layer)", errUsage)
	case !(*frac > 0 && *frac < 1):
		return fmt.Errorf("%w: --holdout-frac %v must be in (0, 1)", errUsage, *frac)
	case *units < 1:
		return fmt.Errorf("%w: --units %d must be ≥ 1", errUsage, *units)
	case *logN != 0 && (*logN < 13 || *logN > 16):
		return fmt.Errorf("%w: --logn %d (want 0, 13, 14, 15 or 16)", errUsage, *logN)
	case *workers < 1 || *workers > 256:
		return fmt.Errorf("%w: --workers %d must be in [1, 256]", errUsage, *workers)
	}
	m, tok, err := loadLlama(*modelPath, *tokPath)
	if err != nil {
		return err
	}
	paths := strings.Split(*actPaths, ",")
	if len(paths) != 1 && len(paths) != m.NLayers {
		return fmt.Errorf("%w: --activation lists %d files; want 1 or one per layer (%d)", errUsage, len(paths), m.NLayers)
	}
	student := llama2c.NewWeights(m)
	for l := range m.NLayers {
		a, err := approx.ReadActivationFile(paths[min(l, len(paths)-1)])
		if err != nil {
			return err
		}
		if a.Degree != 2 {
			return fmt.Errorf("%w: --activation %s has degree %d; the encrypted FFN needs quadratics", errUsage, paths[min(l, len(paths)-1)], a.Degree)
		}
		student.Gate[l] = a.Coefficients
	}
	orig, _, err := llama2c.Embedded()
	if err != nil {
		return err
	}
	if orig.Config != m.Config {
		return fmt.Errorf("%w: --model's shape differs from stories260K, the teacher this command compares with", errUsage)
	}
	all, err := calibUnits(*text, m, tok, *seed)
	if err != nil {
		return err
	}
	_, hold, err := calib.Split(all, *frac, *seed)
	if err != nil {
		return err
	}
	if len(hold) > *units {
		hold = hold[:*units]
	}
	seqs, err := calib.Tokenize(m, tok, hold)
	if err != nil {
		return err
	}
	res, err := distill.Encrypted(student, llama2c.NewWeights(orig), seqs, *logN, *workers)
	if hr := (*distill.HeadroomError)(nil); errors.As(err, &hr) {
		return fmt.Errorf("%w: --logn %d: %v; use a larger --logn (0 = 14)", errUsage, hr.LogN, err)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(stdout, "%s: %d held-out units of %s, %d positions packed one per slot in %d-slot ciphertexts (preset %s, 128-bit); every FFN block of all %d layers under CKKS\n\n",
		*modelPath, res.Sequences, *text, res.Tokens, res.Slots, res.Preset, m.NLayers)
	fmt.Fprintln(stdout, "| comparison | perplexity | reference perplexity | top-1 agreement | KL mean | KL max |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|")
	for _, r := range []struct {
		name string
		f    llama2c.Fidelity
	}{{"encrypted FFNs vs the same model in plaintext", res.VsPlain}, {"encrypted FFNs vs the original SiLU model", res.VsTeacher}, {"plaintext distilled model vs the original", res.PlainVsTeacher}} {
		fmt.Fprintf(stdout, "| %s | %.4g | %.4g | %.4f | %.3g | %.3g |\n", r.name, r.f.Perplexity, r.f.RefPerplexity, r.f.Top1Agreement, r.f.KL, r.f.KLMax)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "| layer | max \\|y\\| in plaintext (preset holds < %.4g) | max \\|error\\| of the decrypted FFN output | RMS error | server seconds |\n", res.Bound)
	fmt.Fprintln(stdout, "|---:|---:|---:|---:|---:|")
	for l := range res.MaxErr {
		fmt.Fprintf(stdout, "| %d | %.3g | %.3g | %.3g | %.3g |\n", l, res.MaxAbs[l], res.MaxErr[l], res.RMSErr[l], res.Seconds[l])
	}
	return nil
}
