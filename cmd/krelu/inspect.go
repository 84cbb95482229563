package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/krelu/krelu/henn"
)

func init() {
	register(command{name: "inspect", summary: "describe an .onnx or .henn model: ops, shapes, parameters, activations, encrypted level plan", run: runInspect})
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inspect", stderr)
	setUsage(fs, stderr, "krelu inspect --model MODEL.onnx|MODEL.henn [--logn 0] [--json]   (or: krelu inspect MODEL …)", "")
	logN := fs.Int("logn", 0, "plan for ring degree 2^LOGN (0: smallest secure one that fits)")
	asJSON := fs.Bool("json", false, "print the description as JSON")
	bootstrap := fs.Bool("bootstrap", false, "plan the encrypted evaluation under the bootstrapping preset of --logn (0: LogN 15) with executed bootstraps, even when a modulus chain holds the model")
	modelFlag := fs.String("model", "", "model to describe: MODEL.onnx or MODEL.henn (required; may also be the first argument)")
	positional, rest := splitModelArg(args)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	model, err := modelOperand(*modelFlag, positional)
	if err != nil {
		return err
	}
	if model == "" || !(strings.HasSuffix(model, ".onnx") || strings.HasSuffix(model, ".henn")) {
		return fmt.Errorf("%w: --model %q: want MODEL.onnx or MODEL.henn", errUsage, model)
	}
	if *logN != 0 && (*logN < 13 || *logN > 16) {
		return fmt.Errorf("%w: --logn %d: want 0 or 13…16", errUsage, *logN)
	}
	if *bootstrap && *logN != 0 && *logN != 15 && *logN != 16 {
		return fmt.Errorf("%w: --logn %d with --bootstrap: want 0, 15 or 16 (the bootstrapping presets)", errUsage, *logN)
	}
	ins, err := henn.Inspect(model, *logN, *bootstrap)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, ins)
	}
	fmt.Fprintf(stdout, "%s (%s): input %s %v, output %s %v, %d parameters\n", model, ins.Format,
		ins.Input.Name, ins.Input.Shape, ins.Output.Name, ins.Output.Shape, ins.Parameters)
	ops := make([]string, 0, len(ins.Ops))
	for op, n := range ins.Ops {
		ops = append(ops, fmt.Sprintf("%s×%d", op, n))
	}
	sort.Strings(ops)
	fmt.Fprintf(stdout, "  ops: %s\n", strings.Join(ops, ", "))
	if len(ins.Activations) > 0 {
		fmt.Fprintf(stdout, "  activations to replace by polynomials: %s\n", strings.Join(ins.Activations, ", "))
	}
	for _, p := range ins.Polys {
		fmt.Fprintf(stdout, "  polynomial activation %s\n", p)
	}
	p := ins.Plan
	if p == nil {
		fmt.Fprintf(stdout, "  encrypted: not available: %s\n", ins.EncryptedError)
		return nil
	}
	fmt.Fprintf(stdout, "  encrypted plan (degree-2 activations): %d levels, %s (LogN %d), %d slots per input, %d inputs per ciphertext, %d rotation keys\n",
		p.Levels, p.Preset, p.LogN, p.Block, p.PerCiphertext, p.RotationKeys)
	if len(p.Bootstraps) > 0 {
		fmt.Fprintf(stdout, "  bootstrapped execution: inputs encrypted at level %d, %d levels after each bootstrap, %d bootstraps per ciphertext, bootstrapping keys ≈ %.2f GB (estimated from the parameters)\n",
			p.InputLevel, p.LevelsAfterBoot, len(p.Bootstraps), float64(p.BootstrapKeyBytes)/1e9)
	}
	fmt.Fprintf(stdout, "  %-3s %-7s %-5s %9s %9s  %-40s %s\n", "#", "step", "level", "rotations", "products", "covers", "layout")
	for i, s := range p.Steps {
		fmt.Fprintf(stdout, "  %-3d %-7s %-5d %9d %9d  %-40s %s\n", i, s.Kind, s.Level, s.Rotations, s.Products, s.Name, s.Layout)
		for _, b := range p.Bootstraps {
			if b.After == i {
				to := "every reader"
				if b.Before >= 0 {
					to = fmt.Sprintf("step %d", b.Before)
				}
				fmt.Fprintf(stdout, "      ↳ BOOTSTRAP level %d → %d, for %s\n", b.FromLevel, b.ToLevel, to)
			}
		}
	}
	if ins.LevelPlan != nil {
		fmt.Fprintf(stdout, "  graph-level bootstrap plan (LogN 16 bootstrapping preset, package levelplan; a prediction):\n%s", ins.LevelPlan.String())
	}
	return nil
}
