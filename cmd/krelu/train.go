package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/mnist"
	"github.com/krelu/krelu/nn"
)

func init() {
	register(command{name: "train", summary: "train an MNIST/Fashion-MNIST classifier (nn)", run: runTrain})
}

// imgActivation parses --activation: relu, a named fixed quadratic, or a
// fitted activation file (krelu.activation/v1 JSON).
func imgActivation(s string) (approx.Poly, string, error) {
	switch s {
	case "relu":
		return nil, "relu", nil
	case "square":
		return nn.Square, s, nil
	case "fastercryptonets":
		return nn.FasterCryptoNets, s, nil
	}
	if !strings.HasSuffix(s, ".json") {
		return nil, "", fmt.Errorf("%w: --activation %q: want relu, square, fastercryptonets or FILE.json", errUsage, s)
	}
	a, err := approx.ReadActivationFile(s)
	if err != nil {
		return nil, "", err
	}
	return a.Poly(), s, nil
}

// imgTask parses a --task value.
func imgTask(s string) (mnist.Task, error) {
	t, err := mnist.ParseTask(s)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errUsage, err)
	}
	return t, nil
}

type trainReport struct {
	Task         string    `json:"task"`
	Arch         string    `json:"arch"`
	Activation   string    `json:"activation"`
	Seed         uint64    `json:"seed"`
	Epochs       int       `json:"epochs_run"`
	TrainImages  int       `json:"train_images"`
	ValImages    int       `json:"val_images"`
	ValAccuracy  float64   `json:"val_accuracy"`
	TestAccuracy float64   `json:"test_accuracy"`
	TestImages   int       `json:"test_images"`
	Seconds      float64   `json:"seconds"`
	ValHistory   []float64 `json:"val_accuracy_by_epoch"`
	Model        string    `json:"model"`
	Schedule     string    `json:"schedule,omitempty"`
	WeightDecay  float64   `json:"weight_decay,omitempty"`
	Augment      string    `json:"augment,omitempty"`
	BatchSize    int       `json:"batch_size"`
	LR           float64   `json:"lr"`
}

// parseAugment parses --augment: "" (none) or shift:K with 1 ≤ K ≤ 4.
func parseAugment(s string) (int, error) {
	if s == "" || s == "none" {
		return 0, nil
	}
	k, ok := strings.CutPrefix(s, "shift:")
	if !ok {
		return 0, fmt.Errorf("%w: --augment %q: want shift:K", errUsage, s)
	}
	v, err := strconv.Atoi(k)
	if err != nil || v < 1 || v > 4 {
		return 0, fmt.Errorf("%w: --augment %q: K must be an integer in [1, 4]", errUsage, s)
	}
	return v, nil
}

// trainFlags are the flags of krelu train.
type trainFlags struct {
	task, arch, act, schedule, augment, out string
	epochs, hidden, batch, patience         int
	limit, val, testLimit                   int
	seed                                    uint64
	lr, decay, wd, clip                     float64
	quiet, asJSON                           bool
}

func (f *trainFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.task, "task", "mnist", "dataset: mnist or fashion")
	fs.StringVar(&f.arch, "arch", "mlp", "architecture: mlp (784-H-10) or cnn (conv 5×5×5/2 → H → 10)")
	fs.StringVar(&f.act, "activation", "relu", "relu, square, fastercryptonets, or a fitted activation FILE.json")
	fs.IntVar(&f.epochs, "epochs", 10, "maximum epochs, 1..1000")
	fs.Uint64Var(&f.seed, "seed", 1, "seed for initialisation and shuffling")
	fs.IntVar(&f.hidden, "hidden", 0, "hidden width 1..4096 (0: 128 for mlp, 100 for cnn)")
	fs.IntVar(&f.batch, "batch", 128, "mini-batch size, 1..60000")
	fs.Float64Var(&f.lr, "lr", 1e-3, "Adam learning rate, > 0")
	fs.Float64Var(&f.decay, "lr-decay", 1, "multiply the learning rate by this after every epoch, in (0, 1]")
	fs.StringVar(&f.schedule, "schedule", "constant", "learning-rate schedule: constant (with --lr-decay) or cosine (lr → 0 over --epochs; use --patience 0)")
	fs.Float64Var(&f.wd, "weight-decay", 0, "decoupled (AdamW) weight decay on weights, not biases: each step scales them by 1 − lr·wd (0: off; e.g. 0.01)")
	fs.StringVar(&f.augment, "augment", "", "training-data augmentation: shift:K = random shifts of up to ±K pixels per image and epoch, seeded by --seed (empty: none)")
	fs.Float64Var(&f.clip, "clip", 0, "clip the gradient to this L2 norm (0: off; try 5 for polynomial activations)")
	fs.IntVar(&f.patience, "patience", 3, "early stopping: epochs without better validation accuracy (0: off)")
	fs.IntVar(&f.limit, "limit", 0, "use only the first N training images (0: all 60,000)")
	fs.IntVar(&f.val, "val", 5000, "hold out the last N training images for validation")
	fs.IntVar(&f.testLimit, "test-limit", 0, "score only the first N test images (0: all 10,000)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	fs.BoolVar(&f.asJSON, "json", false, "print the report as JSON")
	fs.StringVar(&f.out, "o", "", "write the trained model checkpoint here (required)")
	alias(fs, "out", "o")
}

// validate checks every flag, and the flags against each other, before
// any data are read.
func (f *trainFlags) validate(fs *flag.FlagSet) error {
	if err := firstErr(required("o", f.out, "MODEL"), oneOf("task", f.task, string(mnist.MNIST), string(mnist.Fashion)),
		oneOf("arch", f.arch, "mlp", "cnn"), oneOf("schedule", f.schedule, "constant", "cosine"),
		intRange("epochs", f.epochs, 1, 1000), intRangeOrZero("hidden", f.hidden, 1, 4096, "the architecture's default"),
		intRange("batch", f.batch, 1, mnist.TrainImages), positiveFloat("lr", f.lr),
		floatRange("lr-decay", f.decay, 0, 1, true, false), nonNegFloat("weight-decay", f.wd), nonNegFloat("clip", f.clip),
		intRange("patience", f.patience, 0, 1000), intRangeOrZero("limit", f.limit, 2, mnist.TrainImages, "all"),
		intRangeOrZero("test-limit", f.testLimit, 1, mnist.TestImages, "all"), checkOutputDirs(f.out)); err != nil {
		return err
	}
	if isSet(fs, "lr-decay") && f.schedule == "cosine" {
		return fmt.Errorf("%w: --lr-decay must be left out with --schedule cosine (the cosine schedule sets the rate)", errUsage)
	}
	n := mnist.TrainImages
	if f.limit > 0 {
		n = f.limit
	}
	if err := intRange("val", f.val, 1, n-1); err != nil {
		return fmt.Errorf("%w (it must leave training images out of the %d that --limit keeps)", err, n)
	}
	_, err := parseAugment(f.augment)
	return err
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("train", stderr)
	var f trainFlags
	f.register(fs)
	setUsage(fs, stderr, "krelu train -o MODEL [--task mnist|fashion] [--arch mlp|cnn] [--activation relu|square|fastercryptonets|FILE.json] [--epochs 10] [--json]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := f.validate(fs); err != nil {
		return err
	}
	t := mnist.Task(f.task)
	shift, _ := parseAugment(f.augment)
	poly, actName, err := imgActivation(f.act)
	if err != nil {
		return err
	}
	n, err := newImageNet(f.arch, f.hidden, poly, f.seed)
	if err != nil {
		return err
	}
	n.Task, n.InputShape, n.Preprocess = string(t), mnist.InputShape, mnist.Preprocess
	tr, err := mnist.Load(t, "", true)
	if err != nil {
		return err
	}
	te, err := mnist.Load(t, "", false)
	if err != nil {
		return err
	}
	if f.limit > 0 && f.limit < tr.Len() {
		tr = tr.Slice(0, f.limit)
	}
	if f.testLimit > 0 && f.testLimit < te.Len() {
		te = te.Slice(0, f.testLimit)
	}
	fit, hold := tr.Slice(0, tr.Len()-f.val), tr.Slice(tr.Len()-f.val, tr.Len())
	cfg := nn.TrainConfig{Epochs: f.epochs, BatchSize: f.batch, LR: f.lr, Seed: f.seed, Patience: f.patience, ClipNorm: f.clip,
		LRDecay: f.decay, Schedule: f.schedule, WeightDecay: f.wd, Shift: shift}
	if !f.quiet {
		cfg.Progress = stderr
	}
	start := time.Now()
	stats, err := n.Train(fit.X, fit.Y, hold.X, hold.Y, cfg)
	if err != nil {
		return err
	}
	pred, err := n.Predict(te.X)
	if err != nil {
		return err
	}
	rep := trainReport{Task: string(t), Arch: f.arch, Activation: actName, Seed: f.seed, Epochs: len(stats),
		TrainImages: fit.Len(), ValImages: hold.Len(), TestAccuracy: nn.Accuracy(pred, te.Y), TestImages: te.Len(),
		Seconds: time.Since(start).Seconds(), Model: f.out, Schedule: f.schedule, WeightDecay: f.wd, Augment: f.augment,
		BatchSize: f.batch, LR: f.lr}
	for _, s := range stats {
		rep.ValHistory = append(rep.ValHistory, s.ValAcc)
		rep.ValAccuracy = max(rep.ValAccuracy, s.ValAcc)
	}
	if err := n.SaveFile(f.out); err != nil {
		return err
	}
	if f.asJSON {
		return writeJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "%s %s %s seed %d: %d epochs, val accuracy %.2f%%, test accuracy %.2f%% on %d images (%.1fs) → %s\n",
		rep.Task, rep.Arch, rep.Activation, rep.Seed, rep.Epochs, 100*rep.ValAccuracy, 100*rep.TestAccuracy, rep.TestImages, rep.Seconds, f.out)
	return nil
}

// newImageNet builds an untrained MNIST-shaped network; hidden 0 picks
// the architecture's default width.
func newImageNet(arch string, hidden int, poly approx.Poly, seed uint64) (*nn.Network, error) {
	if arch == "cnn" {
		if hidden == 0 {
			hidden = 100
		}
		return nn.NewCNN(hidden, mnist.Classes, poly, seed)
	}
	if hidden == 0 {
		hidden = 128
	}
	return nn.NewMLP([]int{mnist.Pixels, hidden, mnist.Classes}, poly, seed)
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// imgLoadModel reads a checkpoint and the test set of its task. task ""
// means the model's recorded task; a task the model was not trained for
// is an error (nn.ErrTaskMismatch), as is a non-empty arch that does not
// match the checkpoint's architecture.
func imgLoadModel(path, task, arch string, limit int) (*nn.Network, *mnist.Set, mnist.Task, error) {
	if err := required("model", path, "MODEL"); err != nil {
		return nil, nil, "", err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, nil, "", err
	}
	n, err := nn.LoadFile(path)
	if err != nil {
		return nil, nil, "", err
	}
	if arch != "" && arch != n.Arch {
		return nil, nil, "", fmt.Errorf("%s: checkpoint architecture %q (%s) does not match --arch %s", path, n.Arch, n.Describe(), arch)
	}
	explicit := task != ""
	if !explicit {
		task = n.Task
	}
	if task == "" {
		task = string(mnist.MNIST) // only for the message below: CheckTask refuses
	}
	t, err := imgTask(task)
	if err != nil {
		return nil, nil, "", err
	}
	if err := n.CheckTask(string(t), explicit, mnist.InputShape, mnist.Preprocess); err != nil {
		if n.Task == "" {
			return nil, nil, "", fmt.Errorf("%s: %w (--task mnist or --task fashion)", path, err)
		}
		return nil, nil, "", fmt.Errorf("%s: %w", path, err)
	}
	if n.Classes() != mnist.Classes {
		return nil, nil, "", fmt.Errorf("%s: the model gives %d classes; %s has %d", path, n.Classes(), t, mnist.Classes)
	}
	te, err := mnist.Load(t, "", false)
	if err != nil {
		return nil, nil, "", err
	}
	if limit > 0 && limit < te.Len() {
		te = te.Slice(0, limit)
	}
	return n, te, t, nil
}
