package main

import (
	"encoding/json"
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

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("train", stderr)
	task := fs.String("task", "mnist", "dataset: mnist or fashion")
	arch := fs.String("arch", "mlp", "architecture: mlp (784-H-10) or cnn (conv 5×5×5/2 → H → 10)")
	act := fs.String("activation", "relu", "relu, square, fastercryptonets, or a fitted activation FILE.json")
	epochs := fs.Int("epochs", 10, "maximum epochs")
	seed := fs.Uint64("seed", 1, "seed for initialisation and shuffling")
	hidden := fs.Int("hidden", 0, "hidden width (default 128 for mlp, 100 for cnn)")
	batch := fs.Int("batch", 128, "mini-batch size")
	lr := fs.Float64("lr", 1e-3, "Adam learning rate")
	decay := fs.Float64("lr-decay", 1, "multiply the learning rate by this after every epoch")
	schedule := fs.String("schedule", "constant", "learning-rate schedule: constant (with --lr-decay) or cosine (lr → 0 over --epochs; use --patience 0)")
	wd := fs.Float64("weight-decay", 0, "decoupled (AdamW) weight decay on weights, not biases: each step scales them by 1 − lr·wd (0: off; e.g. 0.01)")
	augment := fs.String("augment", "", "training-data augmentation: shift:K = random shifts of up to ±K pixels per image and epoch, seeded by --seed (empty: none)")
	clip := fs.Float64("clip", 0, "clip the gradient to this L2 norm (0: off; try 5 for polynomial activations)")
	patience := fs.Int("patience", 3, "early stopping: epochs without better validation accuracy (0: off)")
	limit := fs.Int("limit", 0, "use only the first N training images (0: all 60,000)")
	val := fs.Int("val", 5000, "hold out the last N training images for validation")
	testLimit := fs.Int("test-limit", 0, "score only the first N test images (0: all)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	out := fs.String("o", "", "write the trained model checkpoint here (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: -o MODEL is required", errUsage)
	}
	shift, err := parseAugment(*augment)
	if err != nil {
		return err
	}
	if *schedule != "constant" && *schedule != "cosine" {
		return fmt.Errorf("%w: --schedule %q: want constant or cosine", errUsage, *schedule)
	}
	if *wd < 0 {
		return fmt.Errorf("%w: --weight-decay %v must be ≥ 0", errUsage, *wd)
	}
	t, err := imgTask(*task)
	if err != nil {
		return err
	}
	poly, actName, err := imgActivation(*act)
	if err != nil {
		return err
	}
	var n *nn.Network
	switch *arch {
	case "mlp":
		h := *hidden
		if h == 0 {
			h = 128
		}
		n, err = nn.NewMLP([]int{mnist.Pixels, h, mnist.Classes}, poly, *seed)
	case "cnn":
		h := *hidden
		if h == 0 {
			h = 100
		}
		n, err = nn.NewCNN(h, mnist.Classes, poly, *seed)
	default:
		return fmt.Errorf("%w: --arch %q: want mlp or cnn", errUsage, *arch)
	}
	if err != nil {
		return err
	}
	n.Task = string(t)
	tr, err := mnist.Load(t, "", true)
	if err != nil {
		return err
	}
	te, err := mnist.Load(t, "", false)
	if err != nil {
		return err
	}
	if *limit > 0 && *limit < tr.Len() {
		tr = tr.Slice(0, *limit)
	}
	if *val <= 0 || *val >= tr.Len() {
		return fmt.Errorf("%w: --val %d must be in [1, %d)", errUsage, *val, tr.Len())
	}
	if *testLimit > 0 && *testLimit < te.Len() {
		te = te.Slice(0, *testLimit)
	}
	fit, hold := tr.Slice(0, tr.Len()-*val), tr.Slice(tr.Len()-*val, tr.Len())
	cfg := nn.TrainConfig{Epochs: *epochs, BatchSize: *batch, LR: *lr, Seed: *seed, Patience: *patience, ClipNorm: *clip, LRDecay: *decay,
		Schedule: *schedule, WeightDecay: *wd, Shift: shift}
	if !*quiet {
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
	rep := trainReport{Task: string(t), Arch: *arch, Activation: actName, Seed: *seed, Epochs: len(stats),
		TrainImages: fit.Len(), ValImages: hold.Len(), TestAccuracy: nn.Accuracy(pred, te.Y), TestImages: te.Len(),
		Seconds: time.Since(start).Seconds(), Model: *out, Schedule: *schedule, WeightDecay: *wd, Augment: *augment,
		BatchSize: *batch, LR: *lr}
	for _, s := range stats {
		rep.ValHistory = append(rep.ValHistory, s.ValAcc)
		rep.ValAccuracy = max(rep.ValAccuracy, s.ValAcc)
	}
	if err := n.SaveFile(*out); err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "%s %s %s seed %d: %d epochs, val accuracy %.2f%%, test accuracy %.2f%% on %d images (%.1fs) → %s\n",
		rep.Task, rep.Arch, rep.Activation, rep.Seed, rep.Epochs, 100*rep.ValAccuracy, 100*rep.TestAccuracy, rep.TestImages, rep.Seconds, *out)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// imgLoadModel reads a checkpoint and the test set of its task (or of
// task, when given, which must be a known task). A non-empty arch must
// match the checkpoint's architecture.
func imgLoadModel(path, task, arch string, limit int) (*nn.Network, *mnist.Set, mnist.Task, error) {
	if path == "" {
		return nil, nil, "", fmt.Errorf("%w: --model MODEL is required", errUsage)
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
	if task == "" {
		task = n.Task
	}
	t, err := imgTask(task)
	if err != nil {
		return nil, nil, "", err
	}
	if n.InputDim != mnist.Pixels || n.Classes() != mnist.Classes {
		return nil, nil, "", fmt.Errorf("model %s takes %d inputs and gives %d classes; %s images are 28×28 = %d pixels in %d classes",
			path, n.InputDim, n.Classes(), t, mnist.Pixels, mnist.Classes)
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
