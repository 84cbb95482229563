package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/krelu/krelu/approx"
)

func init() {
	register(command{name: "fit", summary: "fit a polynomial activation (kernel-smoothed ReLU, LS/minimax/Chebyshev)", run: runFit})
}

const sourceHelp = `SOURCE is an analytic distribution — normal, normal:MU,SIGMA, uniform:A,B, laplace:B[,MU],
t:NU[,MU,SIGMA], mix:W@SPEC+W@SPEC… — or a file of values: .npy (float16/32/64 or integers,
flattened) or text with whitespace-separated numbers ('#' comments).
--interval is a,b or a rule: auto (max |x| of samples / bounded distributions, else q0.9999),
maxabs, range, or qP (B = P-quantile of |x|, e.g. q0.999). Values outside the interval are not
fitted; their fraction is reported.
`

// bandwidthFlag is --bandwidth: a positive number or "auto".
type bandwidthFlag struct {
	h    float64
	auto bool
	set  bool
}

func (b *bandwidthFlag) String() string {
	if b.auto {
		return "auto"
	}
	return strconv.FormatFloat(b.h, 'g', -1, 64)
}

func (b *bandwidthFlag) Set(s string) error {
	b.set = true
	if strings.EqualFold(s, "auto") {
		b.auto, b.h = true, 0
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("want a number or auto")
	}
	b.auto, b.h = false, v
	return nil
}

// fitFlags are the flags fit and compare share.
type fitFlags struct {
	data, holdout, kernel, interval, criterion string
	degree                                     int
	bw                                         bandwidthFlag
}

func (f *fitFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "", "calibration SOURCE (required; see below)")
	fs.StringVar(&f.holdout, "holdout", "", "held-out SOURCE for the metrics (default: the calibration data)")
	fs.StringVar(&f.kernel, "kernel", "gaussian", "smoothing kernel: "+strings.Join(approx.KernelNames(), "|")+"|none (direct fit)")
	f.bw.auto = true
	fs.Var(&f.bw, "bandwidth", "kernel bandwidth h > 0, or auto (cross-validation on samples, exact optimum on distributions)")
	fs.StringVar(&f.criterion, "criterion", approx.DefaultCriterion, "bandwidth criterion for auto: rmse, max or mix:W (W = weight of RMSE)")
	fs.IntVar(&f.degree, "degree", 2, "polynomial degree, 1..30")
	fs.StringVar(&f.interval, "interval", "auto", "fit interval a,b or rule auto|maxabs|range|qP")
}

// validate checks the shared flags before any source is read.
func (f *fitFlags) validate() error {
	if err := firstErr(required("data", f.data, "SOURCE"), intRange("degree", f.degree, 1, approx.MaxDegree)); err != nil {
		return err
	}
	if strings.EqualFold(f.kernel, "none") {
		if f.bw.set {
			return fmt.Errorf("%w: --bandwidth must be left out with --kernel none (the direct fit does not smooth)", errUsage)
		}
		return nil
	}
	if !f.bw.auto {
		return positiveFloat("bandwidth", f.bw.h)
	}
	return nil
}

// sources loads the calibration and held-out sources.
func (f *fitFlags) sources() (cal, hold approx.Source, err error) {
	cal, err = approx.ParseSource(f.data)
	if err != nil {
		return nil, nil, err
	}
	if f.holdout != "" {
		hold, err = approx.ParseSource(f.holdout)
		if err != nil {
			return nil, nil, err
		}
	}
	return cal, hold, nil
}

func runFit(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fit", stderr)
	var ff fitFlags
	ff.register(fs)
	target := fs.String("target", "relu", "activation to approximate: "+strings.Join(approx.TargetNames(), "|"))
	method := fs.String("method", "ls", "ls | ridge | minimax | chebyshev | kernreg (Nadaraya–Watson regression of the calibration pairs; needs --bandwidth H)")
	ridge := fs.Float64("ridge", 0, "ridge penalty on Chebyshev coefficients (method ridge; default 1e-3)")
	asJSON := fs.Bool("json", false, "print the activation JSON (krelu.activation/v1) to stdout")
	out := fs.String("o", "", "also write the activation JSON to FILE")
	alias(fs, "out", "o")
	setUsage(fs, stderr, "krelu fit --data SOURCE [--target relu] [--kernel gaussian|…|none] [--bandwidth H|auto] [--method ls|ridge|minimax|chebyshev] [--degree 2] [--interval a,b|auto] [--json] [-o FILE]", sourceHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	m := strings.ToLower(*method)
	if err := firstErr(ff.validate(), nonNegFloat("ridge", *ridge), checkOutputDirs(*out)); err != nil {
		return err
	}
	// Checked before the bandwidth rule below reads the method: an unknown
	// method used to be reported as a missing --bandwidth.
	switch m {
	case approx.MethodLS, approx.MethodRidge, approx.MethodMinimax, approx.MethodChebyshev, approx.MethodKernReg:
	default:
		return fmt.Errorf("%w: unknown --method %q (want %s)", errUsage, *method, strings.Join(approx.Methods, ", "))
	}
	kernelFit := !strings.EqualFold(ff.kernel, "none")
	if kernelFit && ff.bw.auto && !ff.bw.set && m != approx.MethodLS && m != approx.MethodRidge {
		return fmt.Errorf("%w: --method %s needs an explicit --bandwidth H (auto selects h for least squares) or --kernel none", errUsage, *method)
	}
	cal, hold, err := ff.sources()
	if err != nil {
		return err
	}
	opt := approx.FitOptions{
		Target: *target, Kernel: ff.kernel, Method: m, Ridge: *ridge, Degree: ff.degree,
		Interval: ff.interval, Calibration: cal, Holdout: hold, Criterion: ff.criterion,
	}
	if kernelFit {
		opt.AutoBandwidth, opt.Bandwidth = ff.bw.auto, ff.bw.h
	}
	a, err := approx.FitActivation(opt)
	if err != nil {
		return err
	}
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		if err := a.WriteJSON(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if *asJSON {
		return a.WriteJSON(stdout)
	}
	printActivation(stdout, a)
	if *out != "" {
		fmt.Fprintf(stdout, "wrote %s\n", *out)
	}
	return nil
}

func printActivation(w io.Writer, a *approx.Activation) {
	kern := a.Kernel
	if a.Kernel != "none" {
		kern = fmt.Sprintf("%s h=%.4g", a.Kernel, a.Bandwidth)
	}
	fmt.Fprintf(w, "target %s, kernel %s, method %s, degree %d, interval [%.6g, %.6g]\n",
		a.Target, kern, a.Method, a.Degree, a.Interval[0], a.Interval[1])
	n := "analytic"
	if a.Calibration.N > 0 {
		n = fmt.Sprintf("n=%d", a.Calibration.N)
	}
	fmt.Fprintf(w, "calibration %s (%s, outside interval %.4g%%)\n", a.Calibration.Source, n, 100*a.Calibration.OutsideFrac)
	fmt.Fprint(w, "p(x) =")
	for i, c := range a.Coefficients {
		switch i {
		case 0:
			fmt.Fprintf(w, " %.10g", c)
		case 1:
			fmt.Fprintf(w, " %+.10g·x", c)
		default:
			fmt.Fprintf(w, " %+.10g·x^%d", c, i)
		}
	}
	fmt.Fprintln(w)
	if m := a.Metrics; m != nil {
		hold := a.Calibration.Holdout
		if hold == "" {
			hold = a.Calibration.Source
		}
		fmt.Fprintf(w, "vs %s on %s: rmse %.6g  mae %.6g  max %.6g  p99 %.6g  rel_l2 %.4g  rmse(x<0) %.6g  rmse(x≥0) %.6g  outside %.4g%%  depth %d\n",
			a.Target, hold, m.RMSE, m.MAE, m.MaxAbs, m.P99Abs, m.RelL2, m.RMSENeg, m.RMSEPos, 100*m.OutsideFrac, m.Depth)
	}
}
