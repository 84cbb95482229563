package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/calib"
	"github.com/krelu/krelu/llama2c"
)

func init() {
	register(command{name: "llm-eval", summary: "replace SiLU in a llama2.c model by fitted polynomials; perplexity, top-1 agreement, KL on held-out text", run: runLLMEval})
}

// llmRow is one line of the end-to-end table.
type llmRow struct {
	Name      string  `json:"name"`
	Target    string  `json:"target,omitempty"`
	Kernel    string  `json:"kernel,omitempty"`
	Bandwidth float64 `json:"bandwidth,omitempty"`
	Method    string  `json:"method,omitempty"`
	Degree    int     `json:"degree,omitempty"`
	// RMSESiLU is the RMS difference from SiLU on the held-out calibration
	// values (--calib-holdout, else --calib): how well the replacement
	// imitates what it replaces where the model actually evaluates it.
	RMSESiLU float64 `json:"rmse_vs_silu,omitempty"`
	llama2c.Fidelity
}

func runLLMEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("llm-eval", stderr)
	acts := fs.String("activation", "", "comma-separated krelu.activation/v1 JSON files; each replaces SiLU in every layer")
	text := fs.String("text", "sst2", "held-out text: FILE (one unit per line) | FILE.tsv (SST-2) | sst2 | stories:N")
	frac := fs.Float64("holdout-frac", 0.2, "fraction of units held out; use the same --text, --seed and --holdout-frac as krelu calibrate")
	seed := fs.Uint64("seed", 1, "seed of the split (and of the story sampler)")
	maxUnits := fs.Int("max-units", 0, "use only the first N units of the text before splitting (0 = all)")
	baselines := fs.Bool("baselines", true, "also score exact ReLU and the identity in place of SiLU (non-polynomial references)")
	asJSON := fs.Bool("json", false, "print the rows as one JSON array instead of the table")
	jsonOut := fs.String("o", "", "also write the rows as JSON to this file")
	calibPath := fs.String("calib", "", "calibration values (.npy from krelu calibrate --source ffn) for --fit; a path containing {L} fits each layer on its own file (L = 0..n_layers-1)")
	calibHold := fs.String("calib-holdout", "", "held-out values for the fit metrics and the RMSE-vs-SiLU column (default: --calib); may contain {L}")
	fitSpec := fs.String("fit", "", "fits to run on --calib: comma-separated TARGET:KERNEL[:METHOD], e.g. silu:gaussian,silu:none,relu:gaussian")
	degrees := fs.String("degrees", "2,3,4", "degrees for --fit")
	bandwidth := fs.String("bandwidth", "auto", "kernel bandwidth h for --fit, or auto (cross-validated on --calib)")
	interval := fs.String("interval", "auto", "fit interval for --fit: a,b or auto|maxabs|range|qP")
	saveDir := fs.String("save", "", "write each --fit activation as DIR/TARGET-KERNEL-METHOD-dN.json")
	modelPath := fs.String("model", "", "llama2.c checkpoint; default: embedded stories260K")
	tokPath := fs.String("tokenizer", "", "llama2.c tokenizer; default: embedded tok512")
	setUsage(fs, stderr, "krelu llm-eval [--text FILE|FILE.tsv|sst2|stories:N] [--activation A.json,B.json] [--fit TARGET:KERNEL[:METHOD],… --calib FILE.npy [--degrees 2,3,4]] [--json FILE]", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !(*frac > 0 && *frac < 1) {
		return fmt.Errorf("%w: --holdout-frac %v must be in (0, 1)", errUsage, *frac)
	}
	if *maxUnits < 0 {
		return fmt.Errorf("%w: --max-units must be ≥ 0", errUsage)
	}
	m, tok, err := loadLlama(*modelPath, *tokPath)
	if err != nil {
		return err
	}
	cands, err := llmCandidates(m, *baselines, *acts, llmFitFlags{*calibPath, *calibHold, *fitSpec, *degrees, *bandwidth, *interval, *saveDir}, stderr)
	if err != nil {
		return err
	}
	units, err := calibUnits(*text, m, tok, *seed)
	if err != nil {
		return err
	}
	if *maxUnits > 0 && len(units) > *maxUnits {
		units = units[:*maxUnits]
	}
	_, hold, err := calib.Split(units, *frac, *seed)
	if err != nil {
		return err
	}
	seqs, err := calib.Tokenize(m, tok, hold)
	if err != nil {
		return err
	}
	probes, err := llmProbes(m, *calibHold, *calibPath)
	if err != nil {
		return err
	}
	head := stdout
	if *asJSON { // the table header goes to stderr so stdout stays one JSON document
		head = stderr
	}
	fmt.Fprintf(head, "held-out text: %s, %d of %d units (seed %d); SiLU replaced in all %d layers\n\n", *text, len(hold), len(units), *seed, m.NLayers)
	if !*asJSON {
		fmt.Fprintln(stdout, "| activation | target | kernel | h | degree | RMSE vs SiLU | perplexity | top-1 agreement | KL mean | KL max | diverged |")
		fmt.Fprintln(stdout, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	}
	rows := make([]llmRow, 0, len(cands))
	for _, c := range cands {
		row, err := c.score(m, seqs, probes)
		if err != nil {
			return err
		}
		rows = append(rows, row)
		if !*asJSON {
			printLLMRow(stdout, row, len(probes) > 0)
		}
	}
	if *asJSON {
		if err := writeJSON(stdout, rows); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "\n%d predictions in %d held-out sequences; KL = KL(original ‖ replaced) of the next-token distribution, nats.\n", rows[0].Positions, rows[0].Sequences)
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// llmCand is a candidate: it replaces SiLU by f[0] in every layer, or by
// f[l] in layer l.
type llmCand struct {
	row llmRow
	f   []func(float64) float64
}

func one(f func(float64) float64) []func(float64) float64 { return []func(float64) float64{f} }

// llmFitFlags are the flags of llm-eval's --fit.
type llmFitFlags struct{ calib, hold, spec, degrees, bandwidth, interval, saveDir string }

// llmCandidates lists SiLU itself, the baselines, the --activation files
// and the --fit results, in the order of the table.
func llmCandidates(m *llama2c.Model, baselines bool, acts string, ff llmFitFlags, stderr io.Writer) ([]llmCand, error) {
	cands := []llmCand{{llmRow{Name: "SiLU (original)", Target: "silu"}, one(llama2c.SiLU)}}
	if baselines {
		cands = append(cands,
			llmCand{llmRow{Name: "ReLU (exact; not a polynomial)", Target: "relu"}, one(func(x float64) float64 { return math.Max(x, 0) })},
			llmCand{llmRow{Name: "identity x", Target: "-", Kernel: "-", Degree: 1}, one(func(x float64) float64 { return x })},
		)
	}
	if acts != "" {
		for _, p := range strings.Split(acts, ",") {
			a, err := approx.ReadActivationFile(p)
			if err != nil {
				return nil, err
			}
			name := strings.TrimSuffix(p[strings.LastIndex(p, "/")+1:], ".json")
			cands = append(cands, llmCand{llmRow{Name: name, Target: a.Target, Kernel: a.Kernel, Bandwidth: a.Bandwidth, Method: a.Method, Degree: a.Degree}, one(a.Poly().Eval)})
		}
	}
	if ff.spec == "" {
		return cands, nil
	}
	if !strings.Contains(ff.calib, "{L}") {
		fitted, err := llmFits(ff.calib, ff.hold, ff.spec, ff.degrees, ff.bandwidth, ff.interval, ff.saveDir, "", stderr)
		if err != nil {
			return nil, err
		}
		for _, a := range fitted {
			cands = append(cands, llmCand{llmRow{Name: a.Calibration.Source, Target: a.Target, Kernel: a.Kernel, Bandwidth: a.Bandwidth, Method: a.Method, Degree: a.Degree}, one(a.Poly().Eval)})
		}
		return cands, nil
	}
	var byLayer [][]*approx.Activation
	for l := range m.NLayers {
		fitted, err := llmFits(layerPath(ff.calib, l), layerPath(ff.hold, l), ff.spec, ff.degrees, ff.bandwidth, ff.interval, ff.saveDir, fmt.Sprintf("-L%d", l), stderr)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", l, err)
		}
		byLayer = append(byLayer, fitted)
	}
	for i, a := range byLayer[0] {
		c := llmCand{row: llmRow{Name: strings.TrimSuffix(a.Calibration.Source, "-L0") + " (per layer)", Target: a.Target, Kernel: a.Kernel, Method: a.Method, Degree: a.Degree}}
		for l := range m.NLayers {
			c.f = append(c.f, byLayer[l][i].Poly().Eval)
		}
		cands = append(cands, c)
	}
	return cands, nil
}

// layerPath substitutes layer l for {L} in p.
func layerPath(p string, l int) string { return strings.ReplaceAll(p, "{L}", strconv.Itoa(l)) }

// llmProbes loads the values to measure each replacement against SiLU on
// (--calib-holdout, else --calib): one sample, or one per layer when the
// path contains {L}. None without either flag.
func llmProbes(m *llama2c.Model, paths ...string) ([][]float64, error) {
	var probes [][]float64
	for _, p := range paths {
		if p == "" {
			continue
		}
		n := 1
		if strings.Contains(p, "{L}") {
			n = m.NLayers
		}
		for l := range n {
			smp, err := approx.LoadSample(layerPath(p, l))
			if err != nil {
				return nil, err
			}
			probes = append(probes, smp.X)
		}
		break
	}
	return probes, nil
}

// score runs the model with c in place of SiLU on seqs and measures c
// against SiLU on the probes.
func (c llmCand) score(m *llama2c.Model, seqs [][]int, probes [][]float64) (llmRow, error) {
	fid, err := llama2c.Compare(m, seqs, c.f...)
	if err != nil {
		return llmRow{}, err
	}
	row := c.row
	row.Fidelity = fid
	if len(probes) > 0 {
		var ss float64
		var n int
		for l, probe := range probes {
			f := c.f[min(l, len(c.f)-1)]
			for _, x := range probe {
				d := f(x) - llama2c.SiLU(x)
				ss += d * d
			}
			n += len(probe)
		}
		row.RMSESiLU = math.Sqrt(ss / float64(n))
	}
	return row, nil
}

// printLLMRow prints one Markdown row of the table.
func printLLMRow(w io.Writer, row llmRow, haveProbes bool) {
	deg, h, rmse := "-", "-", "-"
	if row.Degree > 0 {
		deg = fmt.Sprint(row.Degree)
	}
	if row.Bandwidth > 0 {
		h = fmt.Sprintf("%.3g", row.Bandwidth)
	}
	if haveProbes {
		rmse = fmt.Sprintf("%.4g", row.RMSESiLU)
	}
	fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %.4g (ref %.4g) | %.4f | %.4g | %.3g | %d |\n", row.Name, row.Target, row.Kernel, h, deg, rmse,
		row.Perplexity, row.RefPerplexity, row.Top1Agreement, row.KL, row.KLMax, row.Diverged)
}

// llmFits runs approx.FitActivation for every TARGET:KERNEL[:METHOD] of
// spec and every degree on the calibration sample. Each returned
// activation's Calibration.Source is replaced by a short row name.
func llmFits(calPath, holdPath, spec, degrees, bandwidth, interval, saveDir, suffix string, stderr io.Writer) ([]*approx.Activation, error) {
	if calPath == "" {
		return nil, fmt.Errorf("%w: --fit needs --calib FILE.npy", errUsage)
	}
	cal, err := approx.LoadSample(calPath)
	if err != nil {
		return nil, err
	}
	var hold approx.Source = cal
	if holdPath != "" {
		if hold, err = approx.LoadSample(holdPath); err != nil {
			return nil, err
		}
	}
	var degs []int
	for _, d := range strings.Split(degrees, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(d))
		if err != nil || n < 1 || n > approx.MaxDegree {
			return nil, fmt.Errorf("%w: --degrees entry %q (want 1..%d)", errUsage, d, approx.MaxDegree)
		}
		degs = append(degs, n)
	}
	var hs []float64 // 0 means auto
	for _, b := range strings.Split(bandwidth, ",") {
		if b = strings.TrimSpace(b); b == "auto" {
			hs = append(hs, 0)
			continue
		}
		h, err := strconv.ParseFloat(b, 64)
		if err != nil || !(h > 0) || math.IsInf(h, 0) {
			return nil, fmt.Errorf("%w: --bandwidth entry %q (want auto or a positive number)", errUsage, b)
		}
		hs = append(hs, h)
	}
	if saveDir != "" {
		if err := os.MkdirAll(saveDir, 0o755); err != nil {
			return nil, err
		}
	}
	var out []*approx.Activation
	for _, item := range strings.Split(spec, ",") {
		parts := strings.Split(strings.TrimSpace(item), ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("%w: --fit entry %q (want TARGET:KERNEL[:METHOD])", errUsage, item)
		}
		method := approx.MethodLS
		if len(parts) == 3 {
			method = parts[2]
		}
		for _, d := range degs {
			for _, h := range hs {
				if parts[1] == "none" && h != hs[0] {
					continue // a direct fit has no bandwidth: one row per degree
				}
				opt := approx.FitOptions{
					Target: parts[0], Kernel: parts[1], Method: method, Degree: d,
					Bandwidth: h, AutoBandwidth: h == 0 && parts[1] != "none", Interval: interval,
					Calibration: cal, Holdout: hold,
				}
				if parts[1] == "none" {
					opt.Bandwidth = 0
				}
				hName := "auto"
				if parts[1] == "none" {
					hName = "-"
				} else if h > 0 {
					hName = strconv.FormatFloat(h, 'g', -1, 64)
				}
				if opt.AutoBandwidth && parts[0] != "relu" {
					// Cross-validated bandwidths exist for ReLU only; use the h that
					// ReLU's selection picks on the same data and degree.
					r, err := approx.FitActivation(approx.FitOptions{Target: "relu", Kernel: parts[1], Method: method, Degree: d,
						AutoBandwidth: true, Interval: interval, Calibration: cal, Holdout: hold})
					if err != nil {
						return nil, fmt.Errorf("fit relu for the bandwidth of %s degree %d: %w", item, d, err)
					}
					opt.AutoBandwidth, opt.Bandwidth, hName = false, r.Bandwidth, "auto(relu)"
				}
				a, err := approx.FitActivation(opt)
				if err != nil {
					return nil, fmt.Errorf("fit %s degree %d: %w", item, d, err)
				}
				name := fmt.Sprintf("%s-%s-%s-d%d", parts[0], parts[1], method, d)
				if parts[1] != "none" && len(hs) > 1 {
					name += "-h" + hName
				}
				name += suffix
				if saveDir != "" {
					if err := llmSave(filepath.Join(saveDir, name+".json"), a); err != nil {
						return nil, err
					}
				}
				fmt.Fprintf(stderr, "fit %s: h=%s (%.3g), interval [%.3g, %.3g], coefficients %.4g\n", name, hName, a.Bandwidth, a.Interval[0], a.Interval[1], a.Coefficients)
				a.Calibration.Source = name
				out = append(out, a)
			}
		}
	}
	return out, nil
}

func llmSave(path string, a *approx.Activation) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = a.WriteJSON(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
