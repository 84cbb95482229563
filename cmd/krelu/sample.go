package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/npy"
)

func init() {
	register(command{name: "sample", summary: "draw seeded values from an analytic SOURCE into a .npy file", run: runSample})
}

// runSample writes n seeded draws of an analytic distribution as a float64
// .npy file, so that sample-based fits, benchmarks and `krelu he --data`
// can be reproduced on files without any other tool.
func runSample(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sample", stderr)
	setUsage(fs, stderr, "krelu sample --data SOURCE [--n 1000000] [--seed 1] -o FILE.npy", "")
	data := fs.String("data", "", "analytic SOURCE: normal, normal:MU,SIGMA, uniform:A,B, laplace:B, t:NU, mix:…")
	n := fs.Int("n", 1_000_000, "number of values")
	seed := fs.Uint64("seed", 1, "seed of the draws")
	out := fs.String("o", "", "output .npy file (required)")
	alias(fs, "out", "o")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := firstErr(required("data", *data, "SOURCE"), required("o", *out, "FILE.npy"),
		intRange("n", *n, 1, 1<<30), checkOutputDirs(*out)); err != nil {
		return err
	}
	src, err := approx.ParseSource(*data)
	if err != nil {
		return err
	}
	d, ok := src.(approx.Dist)
	if !ok {
		return fmt.Errorf("%w: --data %q is a file, not an analytic distribution", errUsage, *data)
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := npy.Write(w, approx.Draw(d, *n, *seed), nil); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d draws of %s (seed %d) to %s\n", *n, d.Name(), *seed, *out)
	return nil
}
