package main

import (
	"flag"
	"fmt"
	lg "github.com/krelu/krelu/internal/logits"
	"io"
	"math"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/krelu/krelu/henn"
	"github.com/krelu/krelu/mnist"
	"github.com/krelu/krelu/nn"
)

func init() {
	register(command{name: "infer", summary: "classify MNIST/Fashion-MNIST test images, optionally encrypted (CKKS)", run: runInfer})
}

type inferReport struct {
	Model        string  `json:"model"`
	Task         string  `json:"task"`
	Arch         string  `json:"arch"`
	Encrypted    bool    `json:"encrypted"`
	Images       int     `json:"images"`
	Accuracy     float64 `json:"accuracy"`
	PlainAcc     float64 `json:"plaintext_accuracy"`
	Agreement    float64 `json:"agreement_with_plaintext"`
	MaxLogitErr  float64 `json:"max_logit_error,omitempty"`
	Latency      float64 `json:"latency_seconds_single"`
	Amortized    float64 `json:"seconds_per_image_amortized"`
	ServerPerImg float64 `json:"server_seconds_per_image,omitempty"`
	Mode         string  `json:"mode,omitempty"`
	LatencyMode  string  `json:"latency_mode,omitempty"`
	Preset       string  `json:"preset,omitempty"`
	LogN         int     `json:"log_n,omitempty"`
	Depth        int     `json:"depth,omitempty"`
	PerCt        int     `json:"images_per_ciphertext,omitempty"`
	CtBytes      int64   `json:"ciphertext_bytes_per_image,omitempty"`
	InBytes      int64   `json:"input_ciphertext_bytes,omitempty"`
	OutBytes     int64   `json:"output_ciphertext_bytes,omitempty"`
	KeyBytes     int64   `json:"evaluation_key_bytes,omitempty"`
	LatKeyBytes  int64   `json:"latency_evaluation_key_bytes,omitempty"`
	SetupSeconds float64 `json:"setup_seconds,omitempty"`
}

// inferFlags are the flags of krelu infer (image tasks).
type inferFlags struct {
	model, task, arch, mode string
	encrypted, asJSON       bool
	limit, logN             int
}

func (f *inferFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "model checkpoint (from krelu train or krelu eval --swap ... -o; required)")
	fs.StringVar(&f.task, "task", "", "dataset, mnist or fashion: must be the model's (default: the model's); sst2 runs krelu sst2 infer")
	fs.StringVar(&f.arch, "arch", "", "refuse a checkpoint of another architecture (mlp or cnn)")
	fs.BoolVar(&f.encrypted, "encrypted", false, "classify under CKKS encryption (activations must be polynomials of degree ≤ 2)")
	fs.IntVar(&f.limit, "limit", 0, "classify only the first N test images (0: all 10,000)")
	fs.StringVar(&f.mode, "mode", "auto", "encrypted layout: packed (several images per ciphertext, rotations), slots (one ciphertext per pixel, one image per slot) or auto (slots for throughput, packed for single-image latency)")
	fs.IntVar(&f.logN, "logn", 0, logNHelp)
	fs.BoolVar(&f.asJSON, "json", false, "print the report as JSON")
}

func (f *inferFlags) validate(fs *flag.FlagSet) error {
	if err := firstErr(required("model", f.model, "MODEL"), oneOf("task", f.task, "", string(mnist.MNIST), string(mnist.Fashion)),
		oneOf("arch", f.arch, "", "mlp", "cnn"), oneOf("mode", f.mode, "packed", "slots", "auto"),
		intRangeOrZero("limit", f.limit, 1, mnist.TestImages, "all"), checkLogN(f.logN)); err != nil {
		return err
	}
	return firstErr(needs(fs, "mode", f.encrypted, "--encrypted"), needs(fs, "logn", f.encrypted, "--encrypted"))
}

var inferModes = map[string]henn.Mode{"packed": henn.Packed, "slots": henn.Slots, "auto": henn.Auto}

func runInfer(args []string, stdout, stderr io.Writer) error {
	if isGraphModel(args) { // --model X.onnx|X.henn: infer_graph.go
		return inferGraph(args, stdout, stderr)
	}
	if rest, ok := sst2InferArgs(args); ok {
		return sst2Infer(rest, stdout, stderr)
	}
	fs := newFlagSet("infer", stderr)
	var f inferFlags
	f.register(fs)
	setUsage(fs, stderr, "krelu infer --model MODEL [--task mnist|fashion|sst2] [--limit N] [--encrypted [--mode auto|packed|slots] [--logn 0]] [--json]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := f.validate(fs); err != nil {
		return err
	}
	n, te, t, err := imgLoadModel(f.model, f.task, f.arch, f.limit)
	if err != nil {
		return err
	}
	var hn henn.Network
	if f.encrypted { // before the plaintext run: a ReLU model fails at once
		if hn, err = n.HENN(); err != nil {
			return err
		}
	}
	t0 := time.Now()
	plainLogits, err := n.Logits(te.X)
	if err != nil {
		return err
	}
	plainSecs := time.Since(t0).Seconds()
	plain := nn.Argmax(plainLogits)
	rep := inferReport{Model: f.model, Task: string(t), Arch: n.Arch, Images: te.Len(),
		PlainAcc: nn.Accuracy(plain, te.Y)}
	if !f.encrypted {
		rep.Accuracy, rep.Agreement = rep.PlainAcc, 1
		rep.Amortized = plainSecs / float64(te.Len())
		t1 := time.Now()
		if _, err := n.Logits(te.X.Slice(0, 1, 0, n.InputDim).(*mat.Dense)); err != nil {
			return err
		}
		rep.Latency = time.Since(t1).Seconds()
		return printInfer(stdout, rep, f.asJSON)
	}
	images := make([][]float64, te.Len())
	for i := range images {
		images[i] = te.X.RawRowView(i)
	}
	logits, st, err := henn.Run(hn, images, henn.Options{Mode: inferModes[f.mode], LogN: f.logN})
	if err != nil {
		return err
	}
	enc := make([]int, len(logits))
	for i, l := range logits {
		enc[i] = lg.Argmax(l)
		for j, v := range l {
			rep.MaxLogitErr = math.Max(rep.MaxLogitErr, math.Abs(v-plainLogits.At(i, j)))
		}
	}
	rep.Encrypted, rep.Mode, rep.LatencyMode = true, f.mode, f.mode
	if f.mode == "auto" {
		rep.Mode, rep.LatencyMode = henn.Slots.String(), henn.Packed.String()+" (replicated)"
	}
	rep.Preset, rep.LogN, rep.Depth, rep.PerCt = st.Preset, st.LogN, st.Depth, st.PerCiphertext
	rep.SetupSeconds = (st.KeyGen + st.Setup).Seconds()
	rep.KeyBytes, rep.LatKeyBytes = st.KeyBytes, st.LatencyKeyBytes
	rep.Accuracy, rep.Agreement = nn.Accuracy(enc, te.Y), nn.Accuracy(enc, plain)
	rep.Amortized, rep.ServerPerImg = st.PerInput.Seconds(), st.Evaluate.Seconds()/float64(len(images))
	rep.Latency, rep.InBytes, rep.OutBytes = st.Latency.Seconds(), st.InputBytes, st.OutputBytes
	rep.CtBytes = rep.InBytes / int64(len(images))
	return printInfer(stdout, rep, f.asJSON)
}

func printInfer(w io.Writer, r inferReport, asJSON bool) error {
	if asJSON {
		return writeJSON(w, r)
	}
	if !r.Encrypted {
		fmt.Fprintf(w, "%s (%s, %s), plaintext: accuracy %.2f%% on %d test images, %.3g s/image, single-image latency %.3g s\n",
			r.Model, r.Arch, r.Task, 100*r.Accuracy, r.Images, r.Amortized, r.Latency)
		return nil
	}
	fmt.Fprintf(w, "%s (%s, %s), encrypted (%s, LogN %d, depth %d, %d images per ciphertext):\n", r.Model, r.Arch, r.Task, r.Preset, r.LogN, r.Depth, r.PerCt)
	fmt.Fprintf(w, "  accuracy %.2f%% (plaintext %.2f%%), agreement with plaintext %.2f%%, max logit error %.3g, on %d test images\n",
		100*r.Accuracy, 100*r.PlainAcc, 100*r.Agreement, r.MaxLogitErr, r.Images)
	fmt.Fprintf(w, "  amortized %.4g s/image (%s; server %.4g s/image), single-image latency %.3g s (%s)\n",
		r.Amortized, r.Mode, r.ServerPerImg, r.Latency, r.LatencyMode)
	keys := fmt.Sprintf("%.1f MB (%s)", float64(r.KeyBytes)/1e6, r.Mode)
	if r.LatencyMode != r.Mode { // one layout (--mode packed|slots) has one key set
		keys += fmt.Sprintf(", %.1f MB (%s)", float64(r.LatKeyBytes)/1e6, r.LatencyMode)
	}
	fmt.Fprintf(w, "  ciphertexts: %.1f KB in per image, %.1f MB out in total; evaluation keys %s; setup %.1f s\n",
		float64(r.CtBytes)/1e3, float64(r.OutBytes)/1e6, keys, r.SetupSeconds)
	return nil
}

// sst2InferArgs recognises `krelu infer --task sst2 ...`, the spelling of
// issue 6, and returns the arguments of `krelu sst2 infer` (without
// --task). ok is false for image tasks.
func sst2InferArgs(args []string) (rest []string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "task" {
			rest = append(rest, a)
			continue
		}
		if !hasVal && i+1 < len(args) {
			i++
			val = args[i]
		}
		if val != "sst2" {
			return nil, false
		}
		ok = true
	}
	return rest, ok
}
