package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/krelu/krelu/henn"
	"github.com/krelu/krelu/rewrite"
)

func init() {
	register(command{name: "compile", summary: "calibrate an ONNX model, replace its ReLUs by fitted polynomials and write an HE-ready .henn model", run: runCompile})
}

func runCompile(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compile", stderr)
	setUsage(fs, stderr, "krelu compile --model MODEL.onnx --calib SOURCE -o MODEL.henn [flags]   (or: krelu compile MODEL.onnx …)",
		"\nSOURCE is "+rewrite.SourceHelp+".\n")
	calib := fs.String("calib", "", "calibration inputs (required): "+rewrite.SourceHelp)
	calibLimit := fs.Int("calib-limit", 1000, "calibration inputs to use (0: all)")
	hold := fs.String("holdout", "", "held-out inputs for accuracy and agreement with the original (same forms as --calib)")
	holdLimit := fs.Int("holdout-limit", 0, "held-out inputs to use (0: all)")
	act := fs.String("activation", "kernel", "activation fit: "+rewrite.MethodNames)
	degree := fs.Int("degree", 2, "polynomial degree (the encrypted evaluator takes 2)")
	interval := fs.String("interval", "auto", "fit interval of the kernel and direct fits: auto (max |x|), maxabs, range ([min, max]) or qP (P-quantile of |x|, e.g. q0.999)")
	out := fs.String("o", "", "output .henn model (required)")
	logN := fs.Int("logn", 0, "plan for ring degree 2^LOGN (0: smallest secure one that fits)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	modelFlag := fs.String("model", "", "ONNX model to compile (required; may also be the first argument)")
	positional, rest := splitModelArg(args)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	model, err := modelOperand(*modelFlag, positional)
	if err != nil {
		return err
	}
	switch {
	case model == "":
		return fmt.Errorf("%w: --model MODEL.onnx is required (krelu compile --model MODEL.onnx --calib SOURCE -o MODEL.henn)", errUsage)
	case !strings.HasSuffix(model, ".onnx"):
		return fmt.Errorf("%w: model %q: want an .onnx file", errUsage, model)
	case *calib == "":
		return fmt.Errorf("%w: --calib is required (%s)", errUsage, rewrite.SourceHelp)
	case *out == "" || !strings.HasSuffix(*out, ".henn"):
		return fmt.Errorf("%w: -o %q: want an output path ending in .henn", errUsage, *out)
	case *calibLimit < 0 || *holdLimit < 0:
		return fmt.Errorf("%w: --calib-limit and --holdout-limit must be ≥ 0", errUsage)
	case *degree < 1 || *degree > 8:
		return fmt.Errorf("%w: --degree %d: want 1…8 (2 for encrypted evaluation)", errUsage, *degree)
	case *logN != 0 && (*logN < 13 || *logN > 16):
		return fmt.Errorf("%w: --logn %d: want 0 or 13…16", errUsage, *logN)
	}
	if err := checkIntervalRule(*interval); err != nil {
		return fmt.Errorf("%w: --interval %q: %v", errUsage, *interval, err)
	}
	if _, _, err := henn.ParseActivation(*act); err != nil {
		return fmt.Errorf("%w: --activation: %v", errUsage, err)
	}
	if (*act == rewrite.Decision || *act == rewrite.Minimax) && *degree != 2 {
		return fmt.Errorf("%w: --activation %s fits a quadratic: it needs --degree 2, not %d", errUsage, *act, *degree)
	}
	if *act == rewrite.Auto && *degree != 2 {
		return fmt.Errorf("%w: --activation auto tries the quadratic-only minimax and decision fits: it needs --degree 2, not %d", errUsage, *degree)
	}
	rep, err := henn.CompileONNX(henn.CompileConfig{Model: model, Calib: *calib, CalibLimit: *calibLimit, Holdout: *hold,
		HoldoutLimit: *holdLimit, Activation: *act, Degree: *degree, Interval: *interval, Output: *out, LogN: *logN})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	r := rep.Rewrite
	fmt.Fprintf(stdout, "%s: %d activations fitted (%s, degree %d) on %d calibration inputs; %d BatchNorm folded; kernel fit chosen for %d of %d layers\n",
		model, len(r.Layers), r.Method, r.Degree, r.Calibration, r.FoldedBN, r.KernelChosen, len(r.Layers))
	fmt.Fprintf(stdout, "  %-16s %-8s %-22s %9s %10s %10s %6s\n", "layer", "method", "interval", "outside", "rmse", "max err", "levels")
	for _, l := range r.Layers {
		solver := ""
		if l.Solver != "" {
			solver = "  (" + l.Solver + ")"
		}
		fmt.Fprintf(stdout, "  %-16s %-8s [%9.3f, %9.3f] %8.3f%% %10.4g %10.4g %6d%s\n", l.Node, l.Method, l.Interval[0], l.Interval[1], 100*l.OutsideFrac, l.RMSE, l.MaxErr, l.Levels, solver)
	}
	fmt.Fprintf(stdout, "  calibration agreement with the original: %.2f%%\n", 100*r.CalibAgreement)
	if h := rep.Holdout; h != nil {
		fmt.Fprintf(stdout, "  held out (%d inputs): agreement with the original %.2f%%", h.Inputs, 100*h.Agreement)
		if h.Accuracy != nil {
			fmt.Fprintf(stdout, ", accuracy %.2f%% (original %.2f%%)", 100**h.Accuracy, 100**h.OriginalAccuracy)
		}
		fmt.Fprintln(stdout)
	}
	if p := rep.Plan; p != nil {
		fmt.Fprintf(stdout, "  encrypted: %d levels, %s (LogN %d), %d slots per input, %d inputs per ciphertext, %d rotation keys\n",
			p.Levels, p.Preset, p.LogN, p.Block, p.PerCiphertext, p.RotationKeys)
	} else {
		fmt.Fprintf(stdout, "  encrypted: not available: %s\n", rep.EncryptedError)
	}
	fmt.Fprintf(stdout, "wrote %s\n", rep.Output)
	return nil
}

// splitModelArg takes a leading positional MODEL argument (krelu compile
// MODEL.onnx --flags) off args.
func splitModelArg(args []string) (model string, rest []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

// modelOperand reconciles the two spellings of the model: --model, the
// grammar of docs/cli.md, and a leading positional argument, which reads
// naturally for compile and inspect. Naming two different models is an error.
func modelOperand(flagValue, positional string) (string, error) {
	if flagValue != "" && positional != "" && flagValue != positional {
		return "", fmt.Errorf("%w: two models named: --model %q and %q", errUsage, flagValue, positional)
	}
	if flagValue != "" {
		return flagValue, nil
	}
	return positional, nil
}

func checkIntervalRule(r string) error {
	switch r {
	case "auto", "maxabs", "range":
		return nil
	}
	if p, err := strconv.ParseFloat(strings.TrimPrefix(r, "q"), 64); strings.HasPrefix(r, "q") && err == nil && p > 0 && p < 1 {
		return nil
	}
	return fmt.Errorf("want auto, maxabs, range or qP with 0 < P < 1")
}
