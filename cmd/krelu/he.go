package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/he"
)

func init() {
	register(command{name: "he", summary: "evaluate a fitted activation on CKKS-encrypted values (Lattigo), one level", run: runHE})
}

// heDefaultValues is how many values a distribution source yields.
const heDefaultValues = 1 << 13

func runHE(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("he", stderr)
	actPath := fs.String("activation", "", "fitted activation JSON (krelu.activation/v1; required)")
	logN := fs.Int("logn", 0, logNHelp)
	data := fs.String("data", "", "SOURCE of values to encrypt (default: the activation's held-out or calibration file, else normal)")
	n := fs.Int("n", heDefaultValues, "number of values drawn when SOURCE is a distribution")
	reps := fs.Int("reps", 3, "timed repetitions (medians reported)")
	workers := fs.Int("workers", runtime.NumCPU(), "goroutines for the parallel throughput measurement")
	reference := fs.Bool("reference", false, "also run the composite minimax sign ReLU reference (17 levels: LogN ≥ 15, slow)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	bootstrap := fs.Bool("bootstrap", false, "instead: bootstrap one ciphertext of random values (--logn 15 or 16, default 16; --reps timed bootstraps)")
	setUsage(fs, stderr, "krelu he --activation FILE.json [--logn 0] [--data SOURCE] [--n 8192] [--reps 3] [--workers N] [--reference] [--json]\n       krelu he --bootstrap [--logn 16] [--reps 3] [--json]", `
SOURCE is an analytic distribution — normal, normal:MU,SIGMA, uniform:A,B, laplace:B[,MU],
t:NU[,MU,SIGMA], mix:W@SPEC+W@SPEC… (--n draws) — or a file of values: .npy or whitespace-separated
text. Values outside the activation's interval are counted and warned about: an encrypted
polynomial cannot clip them.
`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *bootstrap {
		return runHEBootstrap(fs, *logN, *reps, *asJSON, stdout)
	}
	if err := firstErr(required("activation", *actPath, "FILE.json"), checkLogN(*logN),
		intRange("n", *n, 1, 1<<20), intRange("reps", *reps, 1, 100), intRange("workers", *workers, 1, 64)); err != nil {
		return err
	}
	act, err := approx.ReadActivationFile(*actPath)
	if err != nil {
		return err
	}
	spec, values, err := heValues(act, *data, *n)
	if err != nil {
		return err
	}
	r, err := he.RunReport(act, values, he.ReportOptions{LogN: *logN, Reps: *reps, Workers: *workers})
	if err != nil {
		return err
	}
	if r.Warning != "" {
		fmt.Fprintln(stderr, "warning:", r.Warning)
	}
	var ref *he.ReferenceReport
	if *reference {
		if ref, err = he.RunReferenceReport(values, *logN); err != nil {
			return err
		}
	}
	if *asJSON {
		out := struct {
			*he.Report
			Source    string              `json:"source"`
			Reference *he.ReferenceReport `json:"reference,omitempty"`
		}{r, spec, ref}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	printHEReport(stdout, r, spec)
	if ref != nil {
		fmt.Fprintf(stdout, "reference ReLU x·(1+sign(x/B))/2, composite minimax sign %v, B = %.3g, preset %s:\n", ref.Degrees, ref.B, ref.Preset)
		fmt.Fprintf(stdout, "  levels %d, %.0f ms wall %.0f ms CPU for %d values, |error| vs ReLU max %.3g mean %.3g\n",
			ref.LevelsConsumed, 1e3*ref.EvalSeconds, 1e3*ref.EvalCPUSeconds, ref.Values, ref.MaxAbsErrVsReLU, ref.MeanAbsErrVsReLU)
	}
	return nil
}

// heValues resolves the values to encrypt: --data if given, else the
// activation's held-out file, else its calibration file, else N(0,1).
func heValues(act *approx.Activation, data string, n int) (string, []float64, error) {
	spec := data
	if spec == "" {
		for _, s := range []string{act.Calibration.Holdout, act.Calibration.Source} {
			if s == "" {
				continue
			}
			if src, err := approx.ParseSource(s); err == nil {
				if _, isSample := src.(*approx.Sample); isSample {
					spec = s
					break
				}
			}
		}
		if spec == "" {
			spec = "normal"
		}
	}
	src, err := approx.ParseSource(spec)
	if err != nil {
		return "", nil, err
	}
	switch s := src.(type) {
	case *approx.Sample:
		if len(s.X) > 1<<20 {
			return "", nil, fmt.Errorf("%s: %d values exceed the limit of 1048576", spec, len(s.X))
		}
		return s.Name(), s.X, nil
	case approx.Dist:
		return s.Name(), approx.Draw(s, n, 1), nil
	default:
		return "", nil, fmt.Errorf("he: source %q is neither a sample nor a distribution", spec)
	}
}

func printHEReport(w io.Writer, r *he.Report, spec string) {
	fmt.Fprintf(w, "CKKS (Lattigo v6.2) preset %s: LogN %d, log2 QP %.1f ≤ %.0f (128-bit), scale 2^%.0f, %d slots\n",
		r.Preset, r.LogN, r.LogQP, r.MaxLogQP, r.LogScale, r.Slots)
	fmt.Fprintf(w, "activation: degree %d, method %s, p(x) = %v, interval [%g, %g]\n", r.Degree, r.Method, r.Coeffs, r.Interval[0], r.Interval[1])
	fmt.Fprintf(w, "values: %d from %s in %d ciphertext(s), %d outside the interval\n", r.Values, spec, r.Ciphertexts, r.Outside)
	fmt.Fprintf(w, "levels consumed: %d (generic evaluator: %d), encrypted at level %d\n", r.LevelsConsumed, r.GenericLevelsConsumed, r.Level)
	fmt.Fprintf(w, "precision: %.1f bits mean, %.1f min (generic %.1f)\n", r.PrecisionBits, r.MinPrecisionBits, r.GenericPrecisionBits)
	fmt.Fprintf(w, "|error| vs polynomial: max %.3g, mean %.3g\n", r.MaxAbsErrVsPoly, r.MeanAbsErrVsPoly)
	fmt.Fprintf(w, "|error| vs ReLU:       max %.3g, mean %.3g (plaintext polynomial max %.3g)\n", r.MaxAbsErrVsReLU, r.MeanAbsErrVsReLU, r.PlainMaxAbsErrVsReLU)
	fmt.Fprintf(w, "time (median of %d, per ciphertext; wall clock and evaluating thread's CPU):\n", r.Reps)
	fmt.Fprintf(w, "  keygen          %8.2f ms wall\n", 1e3*r.KeygenSeconds)
	fmt.Fprintf(w, "  encrypt         %8.2f ms wall\n", 1e3*r.EncryptSeconds)
	fmt.Fprintf(w, "  activation      %8.2f ms wall %8.2f ms CPU at level %d (%.2f× bare square)\n", 1e3*r.EvalSeconds, 1e3*r.EvalCPUSeconds, r.Level, r.EvalOverSquare)
	fmt.Fprintf(w, "  bare square     %8.2f ms wall %8.2f ms CPU at level %d\n", 1e3*r.BareSquareSeconds, 1e3*r.BareSquareCPUSeconds, r.Level)
	fmt.Fprintf(w, "  generic         %8.2f ms wall %8.2f ms CPU at level %d (%.2f× activation)\n", 1e3*r.GenericEvalSeconds, 1e3*r.GenericEvalCPUSeconds, r.Level, r.GenericOverEval)
	fmt.Fprintf(w, "  activation      %8.2f ms wall %8.2f ms CPU at level %d (its lowest)\n", 1e3*r.EvalLowestSeconds, 1e3*r.EvalLowestCPUSeconds, r.EvalLowestLevel)
	fmt.Fprintf(w, "  decrypt         %8.2f ms wall\n", 1e3*r.DecryptSeconds)
	fmt.Fprintf(w, "throughput: %.0f slots per CPU second (1 goroutine), %.0f slots/s wall (%d goroutines)\n", r.Throughput, r.ParallelThroughput, r.Workers)
}
