package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/krelu/krelu/henn"
)

func init() {
	register(command{name: "depth", summary: "depth table: levels, bootstraps and predicted latency of a model per activation (kernel quadratic … composite ReLU)", run: runDepth})
}

func runDepth(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("depth", stderr)
	model := fs.String("model", "", "ONNX or .henn model (required)")
	accuracies := fs.String("accuracies", "", "deep_models.json of scripts/deep_models.py (plaintext accuracy columns)")
	logN := fs.Int("logn", 16, "bootstrapping preset ring degree: 15 or 16")
	costs := fs.String("costs", "", "operation costs JSON from an earlier --json run (default: measure now)")
	reps := fs.Int("reps", 3, "repetitions per measured operation (medians)")
	boot := fs.String("bootstrap", "", "JSON of `krelu he --bootstrap --json` at the same --logn (bootstrap time)")
	asJSON := fs.Bool("json", false, "print the table as one JSON object")
	outPath := fs.String("o", "", "also write the JSON report (with the measured operation costs, reusable by --costs) to FILE")
	setUsage(fs, stderr, "krelu depth --model M.onnx [--accuracies deep_models.json] [--logn 16] [--costs FILE] [--reps 3] [--bootstrap FILE] [--json] [-o FILE]", `
Plans the model once per activation (kernel quadratic, direct LS quadratic, minimax degree 4
and 7, composite minimax ReLU [15,15,27]) with krelu's level planner and prints levels per
activation, bootstraps per inference and the PREDICTED latency (planner × measured CPU cost
of each CKKS operation at each level, plus the measured bootstrap).
`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *model == "" {
		return fmt.Errorf("%w: --model is required", errUsage)
	}
	if *logN != 15 && *logN != 16 {
		return fmt.Errorf("%w: --logn %d: want 15 or 16 (the rings with a bootstrapping preset)", errUsage, *logN)
	}
	if *reps < 1 || *reps > 100 {
		return fmt.Errorf("%w: --reps %d out of range [1, 100]", errUsage, *reps)
	}
	r, err := henn.DepthTable(henn.DepthConfig{Model: *model, Accuracies: *accuracies, LogN: *logN, CostsFile: *costs, Reps: *reps, BootstrapFile: *boot})
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if *outPath != "" {
		if err := os.WriteFile(*outPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if *asJSON {
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	_, err = fmt.Fprint(stdout, r.String())
	return err
}
