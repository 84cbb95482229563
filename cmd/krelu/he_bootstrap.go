package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/krelu/krelu/he"
)

// runHEBootstrap is `krelu he --bootstrap`: one bootstrap of a ciphertext
// of random values under the bootstrapping preset of --logn.
func runHEBootstrap(fs *flag.FlagSet, logN, reps int, asJSON bool, stdout io.Writer) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, name := range []string{"activation", "data", "n", "workers", "reference"} {
		if set[name] {
			return fmt.Errorf("%w: --%s does not apply to --bootstrap (it takes --logn, --reps, --json)", errUsage, name)
		}
	}
	if !set["logn"] {
		logN = 16
	}
	preset, err := he.BootstrapPresetForLogN(logN)
	if err != nil {
		return fmt.Errorf("%w: --logn %d: %v", errUsage, logN, err)
	}
	if reps < 1 || reps > 100 {
		return fmt.Errorf("%w: --reps %d out of range [1, 100]", errUsage, reps)
	}
	r, err := he.RunBootstrapReport(he.BootstrapOptions{Preset: preset.Name, Reps: reps})
	if err != nil {
		return err
	}
	if asJSON {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(stdout, "CKKS bootstrapping (Lattigo v6.2) preset %s: LogN %d, %d slots, scale 2^%d\n", r.Preset, r.LogN, r.Slots, r.LogScale)
	fmt.Fprintf(stdout, "log2 QP: residual %.0f, bootstrapping circuit %.0f ≤ %.0f (128-bit)\n", r.ResidualLogQP, r.CircuitLogQP, r.MaxLogQP)
	fmt.Fprintf(stdout, "levels: input %d → %d after the bootstrap (circuit depth %d)\n", r.InputLevel, r.LevelsAfterBootstrap, r.CircuitDepth)
	fmt.Fprintf(stdout, "precision: %.1f bits mean, %.1f min, max |error| %.3g\n", r.BootstrapPrecisionBits, r.MinBootstrapPrecisionBits, r.MaxAbsErr)
	fmt.Fprintf(stdout, "bootstrap: %.2f s median of %d (%.2f–%.2f), key generation %.1f s, evaluator setup %.1f s\n",
		r.BootstrapSeconds, r.Reps, r.BootstrapSecondsMin, r.BootstrapSecondsMax, r.KeygenSeconds, r.EvaluatorSeconds)
	fmt.Fprintf(stdout, "keys: %.2f GB serialized (%d Galois keys), heap %d MB after keygen, %d MB after setup; ciphertext %.1f MB\n",
		float64(r.KeyBytes)/(1<<30), r.GaloisKeys, r.HeapAfterKeysMB, r.HeapAfterSetupMB, float64(r.CiphertextBytes)/(1<<20))
	return nil
}
