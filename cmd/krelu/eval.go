package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/mnist"
	"github.com/krelu/krelu/nn"
)

func init() {
	register(command{name: "eval", summary: "score an image model, optionally swapping its activations post hoc", run: runEval})
}

type evalLayer struct {
	Layer        int       `json:"layer"`
	Coefficients []float64 `json:"coefficients,omitempty"`
	Margin       *float64  `json:"calib_min_margin,omitempty"`
	Kept         *float64  `json:"calib_decisions_kept,omitempty"`
}

type evalReport struct {
	Model             string      `json:"model"`
	Task              string      `json:"task"`
	Arch              string      `json:"arch"`
	Images            int         `json:"images"`
	Accuracy          float64     `json:"accuracy"`
	Swap              string      `json:"swap,omitempty"`
	CalibImages       int         `json:"calib_images,omitempty"`
	SwappedAccuracy   *float64    `json:"swapped_accuracy,omitempty"`
	Agreement         *float64    `json:"agreement,omitempty"`
	Layers            []evalLayer `json:"layers,omitempty"`
	SwappedCheckpoint string      `json:"swapped_model,omitempty"`
	Reference         string      `json:"reference,omitempty"`
	RefAgreement      *float64    `json:"agreement_with_reference,omitempty"`
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", stderr)
	model := fs.String("model", "", "model checkpoint (from krelu train)")
	task := fs.String("task", "", "dataset (default: the model's)")
	arch := fs.String("arch", "", "refuse a checkpoint of another architecture (mlp or cnn)")
	swap := fs.String("swap", "", "replace every activation post hoc: FILE.json, or one of kernel, deg4, direct, direct4, square, fastercryptonets, minimax2, decision-aware")
	calib := fs.Int("calib", 2000, "calibrate the swap on the first N training images")
	bw := fs.Float64("bandwidth", 0.25, "kernel bandwidth as a multiple of the pre-activations' standard deviation (kernel, deg4); 0 = chosen by cross-validation in approx")
	limit := fs.Int("limit", 0, "score only the first N test images (0: all 10,000)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	out := fs.String("o", "", "write the swapped model checkpoint here")
	writeAct := fs.String("write-activation", "", "write the first swapped activation as a krelu.activation/v1 FILE.json (for krelu train --activation)")
	refModel := fs.String("reference", "", "also report agreement with this model (e.g. the ReLU model a polynomial model is compared with)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, ok := nn.SwapMethods[*swap]; *swap != "" && !ok && !strings.HasSuffix(*swap, ".json") {
		return fmt.Errorf("%w: --swap: unknown swap method %q (want a FILE.json or one of %s)", errUsage, *swap, nn.SwapMethodNames())
	}
	n, te, t, err := imgLoadModel(*model, *task, *arch, *limit)
	if err != nil {
		return err
	}
	base, err := n.Predict(te.X)
	if err != nil {
		return err
	}
	rep := evalReport{Model: *model, Task: string(t), Arch: n.Arch, Images: te.Len(), Accuracy: nn.Accuracy(base, te.Y)}
	if *refModel != "" {
		r, _, _, err := imgLoadModel(*refModel, string(t), "", 0)
		if err != nil {
			return err
		}
		rp, err := r.Predict(te.X)
		if err != nil {
			return err
		}
		a := nn.Accuracy(base, rp)
		rep.Reference, rep.RefAgreement = *refModel, &a
	}
	if *swap == "" {
		if *out != "" || *writeAct != "" {
			return fmt.Errorf("%w: -o and --write-activation need --swap", errUsage)
		}
		return printEval(stdout, rep, *asJSON)
	}
	if *calib <= 0 {
		return fmt.Errorf("%w: --calib %d must be positive", errUsage, *calib)
	}
	tr, err := mnist.Load(t, "", true)
	if err != nil {
		return err
	}
	if *calib < tr.Len() {
		tr = tr.Slice(0, *calib)
	}
	var m *nn.Network
	var res *nn.SwapResult
	if strings.HasSuffix(*swap, ".json") {
		a, err := approx.ReadActivationFile(*swap)
		if err != nil {
			return err
		}
		m, res, err = nn.Swap(n, tr.X, nn.FixedFitter(a.Poly()))
		if err != nil {
			return err
		}
	} else {
		if m, res, err = nn.SwapByName(n, tr.X, *swap, *bw); err != nil {
			return err
		}
	}
	sp, err := m.Predict(te.X)
	if err != nil {
		return err
	}
	acc, agr := nn.Accuracy(sp, te.Y), nn.Accuracy(sp, base)
	rep.Swap, rep.CalibImages, rep.SwappedAccuracy, rep.Agreement = *swap, tr.Len(), &acc, &agr
	for i, p := range res.Polys {
		l := evalLayer{Layer: i, Coefficients: p}
		if i < len(res.Margin) {
			l.Margin, l.Kept = &res.Margin[i], &res.Kept[i]
		}
		rep.Layers = append(rep.Layers, l)
	}
	if *writeAct != "" {
		if err := imgWriteActivation(*writeAct, *swap, *bw, res); err != nil {
			return err
		}
	}
	if *out != "" {
		if err := m.SaveFile(*out); err != nil {
			return err
		}
		rep.SwappedCheckpoint = *out
	}
	return printEval(stdout, rep, *asJSON)
}

func printEval(w io.Writer, r evalReport, asJSON bool) error {
	if asJSON {
		return writeJSON(w, r)
	}
	fmt.Fprintf(w, "%s (%s, %s): accuracy %.2f%% on %d test images\n", r.Model, r.Arch, r.Task, 100*r.Accuracy, r.Images)
	if r.RefAgreement != nil {
		fmt.Fprintf(w, "agreement with %s: %.2f%%\n", r.Reference, 100**r.RefAgreement)
	}
	if r.Swap == "" {
		return nil
	}
	fmt.Fprintf(w, "swap %s (calibrated on %d training images): accuracy %.2f%%, agreement with the original %.2f%%\n",
		r.Swap, r.CalibImages, 100**r.SwappedAccuracy, 100**r.Agreement)
	for _, l := range r.Layers {
		fmt.Fprintf(w, "  activation %d: %s\n", l.Layer, polyString(l.Coefficients))
	}
	if r.SwappedCheckpoint != "" {
		fmt.Fprintf(w, "swapped model → %s\n", r.SwappedCheckpoint)
	}
	return nil
}

func polyString(c []float64) string {
	var b strings.Builder
	for i, v := range c {
		if i > 0 {
			b.WriteString(" + ")
		}
		switch i {
		case 0:
			fmt.Fprintf(&b, "%.6g", v)
		case 1:
			fmt.Fprintf(&b, "%.6g·x", v)
		default:
			fmt.Fprintf(&b, "%.6g·x^%d", v, i)
		}
	}
	return b.String()
}

// imgWriteActivation stores the first layer's swapped polynomial in the
// approx engine's versioned JSON, with the calibration range it saw.
func imgWriteActivation(path, method string, bw float64, res *nn.SwapResult) error {
	p := res.Polys[0]
	a := &approx.Activation{Format: approx.FormatV1, Target: "relu", Kernel: "none", Method: method,
		Degree: len(p) - 1, Interval: res.Range[0], Coefficients: p,
		Calibration: approx.Calibration{Source: "nn pre-activations, activation layer 0", N: res.N[0]}}
	if method == "kernel" || method == "deg4" {
		a.Kernel, a.Bandwidth, a.Method = "gaussian", res.Bandwidth[0], "ls"
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := a.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
