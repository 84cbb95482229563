package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/he"
	"github.com/krelu/krelu/llama2c"
)

func init() {
	register(command{name: "demo", summary: "fit and compare on the embedded default data, write table and plots", run: runDemo})
}

const demoHelp = `By default the data are the token-embedding values of the embedded stories260K
llama2.c model (512 tokens × 64 dims), split by token: a random quarter of the
tokens is held out. --data SOURCE uses other data instead: a distribution is
simulated (--n calibration and --n held-out draws), a file is split at random.
Writes DIR/demo.md, DIR/demo.csv, DIR/activation.json, DIR/demo_curves.png and
DIR/demo_tradeoff.png and DIR/he.json: the fitted activation
evaluated on the encrypted held-out values (CKKS, Lattigo v6) with levels,
precision and timings, unless --no-he (DIR is created; default ./krelu-demo).
`

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	outDir := fs.String("o", "krelu-demo", "output directory (created if missing)")
	alias(fs, "out", "o")
	data := fs.String("data", "embeddings", "embeddings (stories260K token embeddings) or a SOURCE as in krelu fit")
	n := fs.Int("n", 20000, "draws per split when --data is a distribution")
	frac := fs.Float64("holdout-frac", 0.25, "held-out fraction of tokens / values")
	seed := fs.Uint64("seed", 1, "seed of the split and the simulation")
	kernel := fs.String("kernel", "gaussian", "smoothing kernel of the kernel method")
	logN := fs.Int("logn", 0, logNHelp)
	noHE := fs.Bool("no-he", false, "skip the encrypted step")
	criterion := fs.String("criterion", approx.DefaultCriterion, "bandwidth cross-validation criterion: rmse, max or mix:W")
	setUsage(fs, stderr, "krelu demo [-o DIR] [--data embeddings|SOURCE] [--logn 0] [--no-he]", demoHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := firstErr(floatRange("holdout-frac", *frac, 0, 1, true, true), intRange("n", *n, 10, 1<<24),
		oneOf("kernel", *kernel, approx.KernelNames()...), checkLogN(*logN)); err != nil {
		return err
	}
	if *noHE && isSet(fs, "logn") {
		return fmt.Errorf("%w: --logn %d: must be left out with --no-he (there is no encrypted step)", errUsage, *logN)
	}
	cal, hold, desc, err := demoData(*data, *n, *frac, *seed)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "data: %s\ncalibration n=%d, holdout n=%d; bandwidth by 5-fold cross-validation (criterion %s)\n\n",
		desc, len(cal.X), len(hold.X), *criterion)
	c, err := approx.Compare(approx.CompareOptions{
		Kernel: *kernel, AutoBandwidth: true, Criterion: *criterion, Calibration: cal, Holdout: hold,
	})
	if err != nil {
		return err
	}
	if err := c.WriteMarkdown(stdout); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	return demoOutputs(stdout, *outDir, desc, cal, hold, c, *logN, !*noHE)
}

// demoOutputs writes the demo's files into dir: the table, the fitted
// activation, its encrypted evaluation (when he) and the plots.
func demoOutputs(stdout io.Writer, dir, desc string, cal, hold *approx.Sample, c *approx.Comparison, logN int, withHE bool) error {
	write := func(name string, render func(io.Writer) error) error {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := render(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", p)
		return nil
	}
	if err := write("demo.md", func(w io.Writer) error {
		fmt.Fprintf(w, "# krelu demo\n\nData: %s. Calibration n=%d, holdout n=%d.\n\n", desc, len(cal.X), len(hold.X))
		return c.WriteMarkdown(w)
	}); err != nil {
		return err
	}
	if err := write("demo.csv", c.WriteCSV); err != nil {
		return err
	}
	a, err := approx.FitActivation(approx.FitOptions{
		Kernel: c.Kernel, Bandwidth: c.Bandwidth, Calibration: cal, Holdout: hold,
		Interval: fmt.Sprintf("%v,%v", c.Interval[0], c.Interval[1]),
	})
	if err != nil {
		return err
	}
	if err := write("activation.json", a.WriteJSON); err != nil {
		return err
	}
	if withHE {
		// The encrypted step: the fitted activation on the held-out values
		// under CKKS, with the bare square and Lattigo's generic evaluator
		// measured in the same run (see krelu he).
		r, err := he.RunActivationReport(a, hold.X, logN)
		if err != nil {
			return fmt.Errorf("encrypted step: %w", err)
		}
		fmt.Fprintln(stdout)
		printHEReport(stdout, r, hold.Label)
		if err := write("he.json", func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		}); err != nil {
			return err
		}
	}
	curves := filepath.Join(dir, "demo_curves.png")
	if err := plotComparison(curves, c); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", curves)
	trade := filepath.Join(dir, "demo_tradeoff.png")
	if err := plotTradeoff(trade, cal, 2, c.Interval[0], c.Interval[1], c.Kernel, c.Bandwidth); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", trade)
	return nil
}

// demoData returns calibration and held-out samples and a description.
func demoData(spec string, n int, frac float64, seed uint64) (cal, hold *approx.Sample, desc string, err error) {
	rng := rand.New(rand.NewPCG(seed, 0xdead))
	if strings.EqualFold(spec, "embeddings") {
		m, _, err := llama2c.Embedded()
		if err != nil {
			return nil, nil, "", fmt.Errorf("embedded model: %w", err)
		}
		dim, vocab := m.Dim, m.VocabSize
		if len(m.TokenEmbedding) != dim*vocab || vocab < 2 {
			return nil, nil, "", fmt.Errorf("embedded model: %d embedding values for %d×%d", len(m.TokenEmbedding), vocab, dim)
		}
		perm := rng.Perm(vocab)
		nHold := max(1, int(frac*float64(vocab)))
		var c, h []float64
		for i, tok := range perm {
			row := m.TokenEmbedding[tok*dim : (tok+1)*dim]
			for _, v := range row {
				if i < nHold {
					h = append(h, float64(v))
				} else {
					c = append(c, float64(v))
				}
			}
		}
		cal, err := approx.NewSample("stories260K embeddings (calibration tokens)", c)
		if err != nil {
			return nil, nil, "", err
		}
		hold, err := approx.NewSample("stories260K embeddings (held-out tokens)", h)
		if err != nil {
			return nil, nil, "", err
		}
		return cal, hold, fmt.Sprintf("stories260K token embeddings (%d tokens × %d dims), %d tokens held out", vocab, dim, nHold), nil
	}
	src, err := approx.ParseSource(spec)
	if err != nil {
		return nil, nil, "", err
	}
	switch s := src.(type) {
	case approx.Dist:
		c := approx.Draw(s, n, seed)
		h := approx.Draw(s, n, seed+1)
		cal, _ = approx.NewSample(fmt.Sprintf("%s draws (seed %d)", s.Name(), seed), c)
		hold, _ = approx.NewSample(fmt.Sprintf("%s draws (seed %d)", s.Name(), seed+1), h)
		return cal, hold, fmt.Sprintf("simulated %s, %d + %d draws", s.Name(), n, n), nil
	case *approx.Sample:
		x := append([]float64(nil), s.X...)
		rng.Shuffle(len(x), func(i, j int) { x[i], x[j] = x[j], x[i] })
		nHold := max(1, int(frac*float64(len(x))))
		if nHold >= len(x) {
			return nil, nil, "", fmt.Errorf("%s: too few values (%d) to hold some out", s.Name(), len(x))
		}
		hold, err = approx.NewSample(s.Name()+" (held out)", x[:nHold])
		if err != nil {
			return nil, nil, "", err
		}
		cal, err = approx.NewSample(s.Name()+" (calibration)", x[nHold:])
		if err != nil {
			return nil, nil, "", err
		}
		return cal, hold, fmt.Sprintf("%s, random split", s.Name()), nil
	}
	return nil, nil, "", fmt.Errorf("unsupported source %s", spec)
}
