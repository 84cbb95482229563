package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/krelu/krelu/henn"
	"github.com/krelu/krelu/rewrite"
)

// isGraphModel reports whether `krelu infer` was given an .onnx or .henn
// model (the bring-your-own-model path) rather than a krelu checkpoint.
func isGraphModel(args []string) bool {
	for i, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "model" {
			continue
		}
		if !hasVal && i+1 < len(args) {
			val = args[i+1]
		}
		return strings.HasSuffix(val, ".onnx") || strings.HasSuffix(val, ".henn")
	}
	return false
}

// inferGraph is `krelu infer --model MODEL.onnx|MODEL.henn --input X.npy`.
func inferGraph(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("infer", stderr)
	setUsage(fs, stderr, "krelu infer --model MODEL.onnx|MODEL.henn --input X.npy [--labels Y.npy] [--encrypted [--bootstrap] [--calib SOURCE]] [--limit N] [--json]", "")
	model := fs.String("model", "", "model: .onnx (plaintext) or .henn (from krelu compile; plaintext or --encrypted)")
	input := fs.String("input", "", "inputs (required): "+rewrite.SourceHelp)
	labels := fs.String("labels", "", "labels .npy (class indices), for accuracy")
	encrypted := fs.Bool("encrypted", false, "run under CKKS encryption (.henn models)")
	limit := fs.Int("limit", 0, "run only N inputs (0: all)")
	offset := fs.Int("offset", 0, "skip the first N inputs")
	logN := fs.Int("logn", 0, "force the ring degree 2^LOGN (0: smallest secure one that fits)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	bootstrap := fs.Bool("bootstrap", false, "with --encrypted: run under the bootstrapping preset of --logn (0: LogN 15) with the planned bootstraps executed, even when a modulus chain holds the model (needs ≈ 12 GB of RAM at LogN 15)")
	calib := fs.String("calib", "", "with --encrypted, for a model that bootstraps (required then): inputs on which the bootstrapped values are measured and scaled into the bootstrap's precise range: "+rewrite.SourceHelp)
	calibLimit := fs.Int("calib-limit", 1000, "calibration inputs to use (0: all)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *limit < 0:
		return fmt.Errorf("%w: --limit %d: want ≥ 0", errUsage, *limit)
	case *offset < 0:
		return fmt.Errorf("%w: --offset %d: want ≥ 0", errUsage, *offset)
	case *logN != 0 && (*logN < 13 || *logN > 16):
		return fmt.Errorf("%w: --logn %d: want 0 or 13…16", errUsage, *logN)
	case *labels != "" && !strings.HasSuffix(*labels, ".npy"):
		return fmt.Errorf("%w: --labels %q: want an .npy file", errUsage, *labels)
	case *input == "":
		return fmt.Errorf("%w: --input is required (%s)", errUsage, rewrite.SourceHelp)
	case *calibLimit < 0:
		return fmt.Errorf("%w: --calib-limit %d: want ≥ 0", errUsage, *calibLimit)
	case *calib != "" && !*encrypted:
		return fmt.Errorf("%w: --calib needs --encrypted (it calibrates the bootstraps of the encrypted run)", errUsage)
	case *bootstrap && !*encrypted:
		return fmt.Errorf("%w: --bootstrap needs --encrypted", errUsage)
	case *bootstrap && *logN != 0 && *logN != 15 && *logN != 16:
		return fmt.Errorf("%w: --logn %d with --bootstrap: want 0, 15 or 16 (the bootstrapping presets)", errUsage, *logN)
	case *encrypted && !strings.HasSuffix(*model, ".henn"):
		return fmt.Errorf("%w: --encrypted needs a .henn model (make one with krelu compile %s --calib SOURCE -o MODEL.henn)", errUsage, *model)
	}
	rep, err := henn.InferFile(henn.InferConfig{Model: *model, Input: *input, Labels: *labels, Encrypted: *encrypted, Offset: *offset, Limit: *limit, LogN: *logN, Bootstrap: *bootstrap, Calib: *calib, CalibLimit: *calibLimit})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "%s: %d inputs", rep.Model, rep.Inputs)
	if rep.Accuracy != nil {
		fmt.Fprintf(stdout, ", accuracy %.2f%%", 100**rep.Accuracy)
	}
	if rep.Encrypted {
		p := rep.Plan
		fmt.Fprintf(stdout, " encrypted (%s, LogN %d, %d levels, %d inputs per ciphertext)", p.Preset, p.LogN, p.Levels, p.PerCiphertext)
		if rep.PlainAccuracy != nil {
			fmt.Fprintf(stdout, "; plaintext accuracy %.2f%%", 100**rep.PlainAccuracy)
		}
		fmt.Fprintf(stdout, "; agreement with plaintext %.2f%%, max abs error %.3g; latency %.3g s, amortized %.3g s/input\n",
			100**rep.Agreement, *rep.MaxAbsErr, rep.LatencySeconds, rep.AmortizedSeconds)
		if n := len(p.Bootstraps); n > 0 {
			fmt.Fprintf(stdout, "  %d bootstraps per ciphertext; bootstrapping keys %.2f GB\n", n, float64(rep.BootstrapKeyBytes)/1e9)
		}
		fmt.Fprintf(stdout, "  CPU: keys %.1f s, server setup %.1f s, one ciphertext (single input) %.1f s, %.3g s/input amortized; evaluation keys %.2f GB; peak RSS %.2f GB\n",
			rep.KeygenCPUSeconds, rep.SetupCPUSeconds, rep.LatencyCPUSeconds, rep.AmortizedCPUSeconds, float64(rep.EvaluationKeyBytes)/1e9, float64(rep.PeakRSSBytes)/1e9)
		return nil
	}
	fmt.Fprintf(stdout, " (plaintext, %.3g s in total)\n", rep.PlainSeconds)
	return nil
}
