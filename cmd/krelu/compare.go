package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/figures"
)

func init() {
	register(command{name: "compare", summary: "one table: kernel fit vs direct fit vs every published baseline", run: runCompare})
}

func runCompare(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare", stderr)
	var ff fitFlags
	ff.register(fs)
	format := fs.String("format", "md", "table format: md | csv | json")
	plot := fs.String("plot", "", "write curves and errors against ReLU to FILE.png|.svg (and the bandwidth trade-off to FILE_tradeoff.EXT)")
	tradeoff := fs.String("tradeoff", "", "write the RMSE-vs-max-error curve over bandwidth h (every kernel) to FILE.png|.svg")
	out := fs.String("o", "", "write the table to FILE instead of stdout")
	alias(fs, "out", "o")
	setUsage(fs, stderr, "krelu compare --data SOURCE [--holdout SOURCE] [--kernel gaussian] [--bandwidth H|auto] [--format md|csv|json] [--plot FILE.png|.svg] [--tradeoff FILE.png|.svg] [-o FILE]", sourceHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := firstErr(oneOf("format", *format, "md", "csv", "json"), ff.validate()); err != nil {
		return err
	}
	for _, p := range []string{*plot, *tradeoff} {
		if p != "" && !isPlotExt(p) {
			return fmt.Errorf("%w: plot file %q must end in .png or .svg", errUsage, p)
		}
	}
	if err := checkOutputDirs(*plot, *tradeoff, *out); err != nil {
		return err
	}
	if strings.EqualFold(ff.kernel, "none") {
		return fmt.Errorf("%w: compare needs a kernel for the kernel method; the direct fit (kernel none) is always a row", errUsage)
	}
	cal, hold, err := ff.sources()
	if err != nil {
		return err
	}
	c, err := approx.Compare(approx.CompareOptions{
		Kernel: ff.kernel, Bandwidth: ff.bw.h, AutoBandwidth: ff.bw.auto, Criterion: ff.criterion,
		Degree: ff.degree, Interval: ff.interval, Calibration: cal, Holdout: hold,
	})
	if err != nil {
		return err
	}
	w := stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			return err
		}
		w = f
	}
	if err := c.Write(w, *format); err != nil {
		if f != nil {
			f.Close()
		}
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", *out)
	}
	if *plot != "" {
		if err := plotComparison(*plot, c); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", *plot)
		if *tradeoff == "" {
			ext := filepath.Ext(*plot)
			*tradeoff = strings.TrimSuffix(*plot, ext) + "_tradeoff" + ext
		}
	}
	if *tradeoff != "" {
		if err := plotTradeoff(*tradeoff, cal, ff.degree, c.Interval[0], c.Interval[1], ff.kernel, c.Bandwidth); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", *tradeoff)
	}
	return nil
}

func isPlotExt(p string) bool {
	e := strings.ToLower(filepath.Ext(p))
	return e == ".png" || e == ".svg"
}

// plotComparison draws the fitted methods, the best-known baselines and
// the composite reference against ReLU, with their errors.
func plotComparison(path string, c *approx.Comparison) error {
	var curves []figures.Curve
	for i, r := range c.Rows {
		switch {
		case r.Group == approx.GroupMethod,
			strings.HasPrefix(r.Name, "minimax deg 2"),
			strings.HasPrefix(r.Name, "HE-friendly"),
			strings.HasPrefix(r.Name, "minimax deg 4"):
			curves = append(curves, figures.Curve{Name: r.Name, F: c.Eval(i)})
		}
	}
	return figures.CurvesAndErrors(path, c.Interval[0], c.Interval[1], figures.Curve{Name: "ReLU", F: approx.ReLU}, curves)
}

// tradeoffBandwidths are the h values of the trade-off curve: 0 (the
// direct fit), log-spaced multiples 10^-2.5..10^-0.25 of the interval
// half-width, and the bandwidth in use.
func tradeoffBandwidths(lo, hi, extra float64) []float64 {
	B := (hi - lo) / 2
	hs := []float64{0}
	for i := 0; i < 16; i++ {
		hs = append(hs, B*math.Pow(10, -2.5+2.25*float64(i)/15))
	}
	if extra > 0 {
		hs = append(hs, extra)
	}
	sort.Float64s(hs)
	return hs
}

// plotTradeoff draws the RMSE-vs-max-error curve of every kernel (the
// chosen one first) on the calibration data.
func plotTradeoff(path string, cal approx.Source, deg int, lo, hi float64, kernel string, h float64) error {
	names := []string{kernel}
	for _, n := range approx.KernelNames() {
		if n != kernel {
			names = append(names, n)
		}
	}
	hs := tradeoffBandwidths(lo, hi, h)
	var series []figures.TradeoffSeries
	for _, n := range names {
		k, err := approx.KernelByName(n)
		if err != nil {
			return err
		}
		pts, err := approx.BandwidthTradeoff(k, cal, deg, lo, hi, hs)
		if err != nil {
			return fmt.Errorf("trade-off for kernel %s: %w", n, err)
		}
		series = append(series, figures.TradeoffSeries{Name: n, Points: pts})
	}
	title := fmt.Sprintf("degree-%d LS fits of ReLU*K_h on %s, [%.3g, %.3g]", deg, cal.Name(), lo, hi)
	return figures.TradeoffCurves(path, title, series)
}

// checkOutputDirs fails early when an output file's folder does not exist:
// compare used to print its whole table (tens of seconds of fitting on
// large data) and only then fail to write the plot.
func checkOutputDirs(paths ...string) error {
	for _, p := range paths {
		if p == "" {
			continue
		}
		if st, err := os.Stat(filepath.Dir(p)); err != nil || !st.IsDir() {
			return fmt.Errorf("%s: folder %s does not exist", p, filepath.Dir(p))
		}
	}
	return nil
}
