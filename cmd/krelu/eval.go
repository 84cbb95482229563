package main

import (
	"flag"
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

// evalFlags are the flags of krelu eval.
type evalFlags struct {
	model, task, arch, swap, out, writeAct, ref string
	calib, limit                                int
	bwSD                                        float64
	asJSON                                      bool
}

func (f *evalFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "model checkpoint (from krelu train; required)")
	fs.StringVar(&f.task, "task", "", "dataset, mnist or fashion: must be the model's (default: the model's)")
	fs.StringVar(&f.arch, "arch", "", "refuse a checkpoint of another architecture (mlp or cnn)")
	fs.StringVar(&f.swap, "swap", "", "replace every activation post hoc: FILE.json, or one of "+nn.SwapMethodNames())
	fs.IntVar(&f.calib, "calib", 2000, "calibrate the swap on the first N training images, 1..60000")
	fs.Float64Var(&f.bwSD, "bandwidth-sd", 0.25, "kernel bandwidth as a multiple of the pre-activations' standard deviation (--swap kernel|deg4), in [0, 100]; 0 = chosen by cross-validation")
	alias(fs, "bandwidth", "bandwidth-sd")
	fs.IntVar(&f.limit, "limit", 0, "score only the first N test images (0: all 10,000)")
	fs.BoolVar(&f.asJSON, "json", false, "print the report as JSON")
	fs.StringVar(&f.out, "o", "", "write the swapped model checkpoint here (needs --swap)")
	alias(fs, "out", "o")
	fs.StringVar(&f.writeAct, "write-activation", "", "write the first swapped activation as a krelu.activation/v1 FILE.json (for krelu train --activation; needs --swap)")
	fs.StringVar(&f.ref, "reference", "", "also report agreement with this model (e.g. the ReLU model a polynomial model is compared with)")
}

func (f *evalFlags) validate(fs *flag.FlagSet) error {
	if err := firstErr(required("model", f.model, "MODEL"), oneOf("task", f.task, "", string(mnist.MNIST), string(mnist.Fashion)),
		oneOf("arch", f.arch, "", "mlp", "cnn"), intRange("calib", f.calib, 1, mnist.TrainImages),
		floatRange("bandwidth-sd", f.bwSD, 0, 100, false, false), intRangeOrZero("limit", f.limit, 1, mnist.TestImages, "all"),
		checkOutputDirs(f.out, f.writeAct)); err != nil {
		return err
	}
	if _, ok := nn.SwapMethods[f.swap]; f.swap != "" && !ok && !strings.HasSuffix(f.swap, ".json") {
		return fmt.Errorf("%w: --swap: unknown swap method %q (want a FILE.json or one of %s)", errUsage, f.swap, nn.SwapMethodNames())
	}
	swap := f.swap != ""
	if err := firstErr(needs(fs, "o", swap, "--swap"), needs(fs, "write-activation", swap, "--swap"), needs(fs, "calib", swap, "--swap"),
		needs(fs, "bandwidth-sd", swap, "--swap"), needs(fs, "bandwidth", swap, "--swap")); err != nil {
		return err
	}
	if (isSet(fs, "bandwidth-sd") || isSet(fs, "bandwidth")) && f.swap != "kernel" && f.swap != "deg4" {
		return fmt.Errorf("%w: --bandwidth-sd must come with --swap kernel or deg4 (the other methods have no bandwidth)", errUsage)
	}
	return nil
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", stderr)
	var f evalFlags
	f.register(fs)
	setUsage(fs, stderr, "krelu eval --model MODEL [--task mnist|fashion] [--limit N] [--swap METHOD|FILE.json [--calib 2000] [-o MODEL] [--write-activation FILE.json]] [--reference MODEL] [--json]", "")
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
	base, err := n.Predict(te.X)
	if err != nil {
		return err
	}
	rep := evalReport{Model: f.model, Task: string(t), Arch: n.Arch, Images: te.Len(), Accuracy: nn.Accuracy(base, te.Y)}
	if f.ref != "" {
		r, _, _, err := imgLoadModel(f.ref, string(t), "", 0)
		if err != nil {
			return err
		}
		rp, err := r.Predict(te.X)
		if err != nil {
			return err
		}
		a := nn.Accuracy(base, rp)
		rep.Reference, rep.RefAgreement = f.ref, &a
	}
	if f.swap != "" {
		if err := evalSwap(&f, n, t, te, base, &rep); err != nil {
			return err
		}
	}
	return printEval(stdout, rep, f.asJSON)
}

// evalSwap swaps n's activations as --swap says, scores the result on te
// and fills the swap fields of rep.
func evalSwap(f *evalFlags, n *nn.Network, t mnist.Task, te *mnist.Set, base []int, rep *evalReport) error {
	tr, err := mnist.Load(t, "", true)
	if err != nil {
		return err
	}
	if f.calib < tr.Len() {
		tr = tr.Slice(0, f.calib)
	}
	var m *nn.Network
	var res *nn.SwapResult
	if strings.HasSuffix(f.swap, ".json") {
		a, err := approx.ReadActivationFile(f.swap)
		if err != nil {
			return err
		}
		if m, res, err = nn.Swap(n, tr.X, nn.FixedFitter(a.Poly())); err != nil {
			return err
		}
	} else if m, res, err = nn.SwapByName(n, tr.X, f.swap, f.bwSD); err != nil {
		return err
	}
	sp, err := m.Predict(te.X)
	if err != nil {
		return err
	}
	acc, agr := nn.Accuracy(sp, te.Y), nn.Accuracy(sp, base)
	rep.Swap, rep.CalibImages, rep.SwappedAccuracy, rep.Agreement = f.swap, tr.Len(), &acc, &agr
	for i, p := range res.Polys {
		l := evalLayer{Layer: i, Coefficients: p}
		if i < len(res.Margin) {
			l.Margin, l.Kept = &res.Margin[i], &res.Kept[i]
		}
		rep.Layers = append(rep.Layers, l)
	}
	if f.writeAct != "" {
		if err := imgWriteActivation(f.writeAct, f.swap, f.bwSD, res); err != nil {
			return err
		}
	}
	if f.out != "" {
		if err := m.SaveFile(f.out); err != nil {
			return err
		}
		rep.SwappedCheckpoint = f.out
	}
	return nil
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
